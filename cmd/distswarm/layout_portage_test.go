package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLayoutMigratePortageDistdir: migrating the DISTDIR that Portage's
// make.conf (under PORTAGE_CONFIGROOT) names is refused with advice, unless
// --hardlink keeps the flat names or --nest-portage-distdir insists; a dry
// run only warns; another directory gets no warning.
func TestLayoutMigratePortageDistdir(t *testing.T) {
	root := t.TempDir()
	distdir := filepath.Join(t.TempDir(), "distfiles")
	write(t, filepath.Join(distdir, "foo-1.tar.gz"), []byte("foo"))
	write(t, filepath.Join(root, "etc", "portage", "make.conf"),
		[]byte("# comment\nDISTDIR=\"/somewhere/else\"\nexport DISTDIR=\""+distdir+"\"\n"))
	t.Setenv("PORTAGE_CONFIGROOT", root)
	noConfig := filepath.Join(t.TempDir(), "absent.toml")
	flat, nested := filepath.Join(distdir, "foo-1.tar.gz"), filepath.Join(distdir, "1b", "foo-1.tar.gz")

	r := runIn(t, noConfig, "layout", "migrate", "--distdir", distdir)
	if r.code != exitUsage || !strings.Contains(r.stderr, "Portage's DISTDIR") || !strings.Contains(r.stderr, "--hardlink") {
		t.Fatalf("migrate of Portage's DISTDIR: exit %d, stderr %q; want exit 2 with advice", r.code, r.stderr)
	}
	if _, err := os.Stat(flat); err != nil {
		t.Fatalf("refused migrate moved the file: %v", err)
	}
	r = runIn(t, noConfig, "layout", "migrate", "--distdir", distdir, "--dry-run")
	if r.code != 0 || !strings.Contains(r.stderr, "warning: ") || !strings.Contains(r.stderr, "set in "+filepath.Join(root, "etc", "portage", "make.conf")) {
		t.Fatalf("dry run: exit %d, stderr %q; want a warning naming make.conf", r.code, r.stderr)
	}
	if r := runIn(t, noConfig, "layout", "migrate", "--distdir", distdir, "--hardlink"); r.code != 0 {
		t.Fatalf("--hardlink: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, p := range []string{flat, nested} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("after --hardlink: %v", err)
		}
	}

	other := filepath.Join(t.TempDir(), "mirror")
	write(t, filepath.Join(other, "foo-1.tar.gz"), []byte("foo"))
	if r := runIn(t, noConfig, "layout", "migrate", "--distdir", other, "--dry-run"); r.code != 0 || strings.Contains(r.stderr, "warning") {
		t.Errorf("another directory: exit %d, stderr %q; want no warning", r.code, r.stderr)
	}
	if r := runIn(t, noConfig, "layout", "migrate", "--distdir", distdir, "--nest-portage-distdir"); r.code != 0 {
		t.Fatalf("--nest-portage-distdir: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(flat); !os.IsNotExist(err) {
		t.Errorf("--nest-portage-distdir kept the flat name: %v", err)
	}
}
