package main

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// needTool skips without the tool, except under CI where it is a failure.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (CI must have it)", name)
		}
		t.Skipf("%s not found", name)
	}
}

// make install into a staging DESTDIR: every file in place with its mode,
// BINDIR in the service files, a man page, a binary that knows its version,
// and an edited config file kept by a second install.
func TestMakeInstallDestdir(t *testing.T) {
	needTool(t, "make")
	dest := t.TempDir()
	runMake := func() {
		t.Helper()
		cmd := exec.Command("make", "-C", "../..", "install", "DESTDIR="+dest, "PREFIX=/usr")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make install: %v\n%s", err, out)
		}
	}
	runMake()
	files := map[string]os.FileMode{
		"usr/bin/distswarm":                             0o755,
		"usr/share/man/man1/distswarm.1":                0o644,
		"etc/init.d/distswarm":                          0o755,
		"etc/conf.d/distswarm":                          0o644,
		"usr/lib/systemd/system/distswarm.service":      0o644,
		"etc/distswarm/distswarm.toml":                  0o644,
		"usr/share/doc/distswarm/distswarm.toml.sample": 0o644,
	}
	for rel, mode := range files {
		fi, err := os.Stat(filepath.Join(dest, rel))
		if err != nil {
			t.Errorf("not installed: %v", err)
			continue
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", rel, fi.Mode().Perm(), mode)
		}
	}
	read := func(rel string) string {
		b, err := os.ReadFile(filepath.Join(dest, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if s := read("usr/lib/systemd/system/distswarm.service"); !strings.Contains(s, "\nExecStart=/usr/bin/distswarm daemon\n") {
		t.Errorf("unit's ExecStart does not name /usr/bin/distswarm:\n%s", s)
	}
	if s := read("etc/init.d/distswarm"); !strings.Contains(s, `command="/usr/bin/distswarm"`) || strings.Contains(s, "@") {
		t.Errorf("init script does not name /usr/bin/distswarm:\n%s", s)
	}
	man := read("usr/share/man/man1/distswarm.1")
	for _, want := range []string{".TH distswarm 1", "fetch", "--swarm-timeout", "/etc/distswarm/distswarm.toml"} {
		if !strings.Contains(man, want) {
			t.Errorf("man page lacks %q", want)
		}
	}

	out, err := exec.Command(filepath.Join(dest, "usr/bin/distswarm"), "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "devel"
	if d, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		want = strings.TrimSpace(string(d))
	}
	if !strings.HasPrefix(string(out), "distswarm "+want+" (go") {
		t.Errorf("installed --version: %q, want distswarm %s (go...)", out, want)
	}

	// An edited config survives the next install.
	cfg := filepath.Join(dest, "etc/distswarm/distswarm.toml")
	write(t, cfg, []byte("store = \"/srv/distswarm\"\n"))
	runMake()
	if s := read("etc/distswarm/distswarm.toml"); s != "store = \"/srv/distswarm\"\n" {
		t.Errorf("make install overwrote the edited config:\n%s", s)
	}
}

// The service scripts parse, and the ebuild installs what make install does.
func TestPackagingScriptsParse(t *testing.T) {
	needTool(t, "bash")
	for _, f := range []string{
		"../../packaging/openrc/distswarm.initd",
		"../../packaging/openrc/distswarm.confd",
		"../../packaging/gentoo/net-p2p/distswarm/distswarm-9999.ebuild",
	} {
		if out, err := exec.Command("bash", "-n", f).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", f, err, out)
		}
	}
	ebuild, err := os.ReadFile("../../packaging/gentoo/net-p2p/distswarm/distswarm-9999.ebuild")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`dobin bin/distswarm`, `doman bin/distswarm.1`, `newinitd "${T}"/distswarm.initd distswarm`,
		`newconfd packaging/openrc/distswarm.confd distswarm`, `systemd_dounit "${T}"/distswarm.service`,
		`doins packaging/distswarm.toml`,
	} {
		if !strings.Contains(string(ebuild), want) {
			t.Errorf("ebuild lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^inherit .*\bgit-r3\b.*\bgo-module\b`).Match(ebuild) {
		t.Error("ebuild does not inherit git-r3 and go-module")
	}
	meta, err := os.Open("../../packaging/gentoo/net-p2p/distswarm/metadata.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	var pkg struct {
		XMLName xml.Name `xml:"pkgmetadata"`
		Remote  string   `xml:"upstream>remote-id"`
	}
	if err := xml.NewDecoder(meta).Decode(&pkg); err != nil || pkg.Remote == "" {
		t.Errorf("metadata.xml: %v, remote-id %q", err, pkg.Remote)
	}
}

// Without the link flag (the binary of TestMain) the version falls back to
// the build info; make install's binary, linked with the flag, is checked
// in TestMakeInstallDestdir.
func TestVersionWithoutLinkFlag(t *testing.T) {
	r := runCLI(t, "", "--version")
	if r.code != 0 || !regexp.MustCompile(`^distswarm \S+ \(go\S+ \S+/\S+\)\n$`).MatchString(r.stdout) {
		t.Fatalf("--version: exit %d, %q", r.code, r.stdout)
	}
}
