package binpkg

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const makeConfSample = "testdata/make.conf.sample"

// TestReadMakeConf reads a real-looking make.conf: expansions of earlier
// variables, an unset one, continuation lines, multi-line quoted values,
// single quotes, export, escapes and comments.
func TestReadMakeConf(t *testing.T) {
	m, err := ReadMakeConf(makeConfSample)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"CFLAGS":       "-march=x86-64-v3 -O2 -pipe",
		"CXXFLAGS":     "-march=x86-64-v3 -O2 -pipe -fno-plt",
		"FFLAGS":       "-march=x86-64-v3 -O2 -pipe",
		"LDFLAGS":      " -Wl,-O1 -Wl,--as-needed",
		"MAKEOPTS":     "-j4",
		"CHOST":        "x86_64-pc-linux-gnu",
		"USE":          "X alsa -gnome   ssl -systemd \t-kde \twayland",
		"VIDEO_CARDS":  "amdgpu radeonsi",
		"LC_MESSAGES":  "C.utf8",
		"FEATURES":     " getbinpkg binpkg-request-signature",
		"FETCHCOMMAND": `/usr/bin/distswarm fetch --portage "${URI}" "${DISTDIR}/${FILE}"`,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	if got := strings.Join(m.Fields("USE"), " "); got != "X alsa -gnome ssl -systemd -kde wayland" {
		t.Errorf("USE words %q", got)
	}
}

// TestReadMakeConfDirectory reads /etc/portage/make.conf as a directory:
// files in name order, later ones seeing earlier variables, and a source
// statement relative to the sourcing file.
func TestReadMakeConfDirectory(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "10-base"), "CFLAGS=\"-O2\"\nsource extra.inc\n")
	write(t, filepath.Join(dir, "20-more"), "CXXFLAGS=\"${CFLAGS} -g\" USE=\"${EXTRA}\"\n")
	write(t, filepath.Join(dir, "extra.inc"), "EXTRA=ssl\n")
	write(t, filepath.Join(dir, "20-more~"), "CFLAGS=backup-file\n")
	m, err := ReadMakeConf(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m["CXXFLAGS"] != "-O2 -g" || m["USE"] != "ssl" || m["CFLAGS"] != "-O2" {
		t.Fatalf("got %v", m)
	}
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMakeConfErrors checks that malformed files fail with file:line.
func TestMakeConfErrors(t *testing.T) {
	cases := []struct{ name, text, want string }{
		// The quote opened on line 1 closes at USE=", the one after a opens on line 2.
		{"unterminated double", "CFLAGS=\"-O2\nUSE=\"a\"\n# x\n", "make.conf:2: unterminated double quote"},
		{"unterminated double late", "A=1\n\nB=\"x\n", "make.conf:3: unterminated double quote"},
		{"unterminated single", "A=1\nB='x\n", "make.conf:2: unterminated single quote"},
		{"no assignment", "A=1\nUSE\n", `make.conf:2: expected VAR=value, found "USE"`},
		{"bad name", "1A=1\n", "make.conf:1: expected VAR=value"},
		{"bad substitution", "A=\"${B:-x}\"\n", "make.conf:1: bad substitution"},
		{"export alone", "export\n", "make.conf:1: export without an assignment"},
		{"source alone", "source\n", "make.conf:1: source without a file"},
		{"source missing", "source /nonexistent/distswarm.conf\n", "make.conf:1: source: make.conf:"},
	}
	for _, c := range cases {
		_, err := ParseMakeConf("make.conf", c.text)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// TestMakeConfLimits checks the size, value and nesting bounds.
func TestMakeConfLimits(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	write(t, big, "A=\""+strings.Repeat("x", maxMakeConfSize)+"\"\n")
	if _, err := ReadMakeConf(big); !errors.Is(err, ErrLimit) {
		t.Fatalf("big file: %v", err)
	}
	// Doubling a value each line passes the value bound quickly.
	grow := "A=xxxxxxxxxxxxxxxx\n" + strings.Repeat("A=\"$A$A\"\n", 20)
	if _, err := ParseMakeConf("grow", grow); !errors.Is(err, ErrLimit) {
		t.Fatalf("growing value: %v", err)
	}
	loop := filepath.Join(dir, "loop")
	write(t, loop, "A=1\nsource loop\n")
	if _, err := ReadMakeConf(loop); !errors.Is(err, ErrLimit) {
		t.Fatalf("source loop: %v", err)
	}
}

// TestMakeConfLikePortage parses Portage's own make.globals and the sample
// make.conf with Portage's getconfig (as it reads make.conf: sourcing
// allowed, expansion on) and with ReadMakeConf: every variable must agree.
func TestMakeConfLikePortage(t *testing.T) {
	tree := portageTree(t)
	for _, f := range []string{filepath.Join(tree, "cnf", "make.globals"), makeConfSample} {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		out := runPortagePython(t, tree, `
import json, sys
from portage.util import getconfig
print(json.dumps(getconfig(sys.argv[1], tolerant=False, allow_sourcing=True, expand={})))
`, abs)
		var theirs map[string]string
		if err := json.Unmarshal(out, &theirs); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		ours, err := ReadMakeConf(abs)
		if err != nil {
			t.Fatal(err)
		}
		if len(theirs) < 5 || len(ours) != len(theirs) {
			t.Errorf("%s: %d variables, Portage %d", f, len(ours), len(theirs))
		}
		for k, v := range theirs {
			if ours[k] != v {
				t.Errorf("%s: %s = %q, Portage %q", filepath.Base(f), k, ours[k], v)
			}
		}
	}
}
