package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"
)

// runIn runs the app in-process, as main does, with defaultConfig as the
// config file read when no --config is given.
func runIn(t *testing.T, defaultConfig string, args ...string) result {
	t.Helper()
	var o, e bytes.Buffer
	code := runApp(buildApp(&o, &e, defaultConfig), append([]string{"distswarm"}, args...), &e)
	return result{code, o.String(), e.String()}
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "distswarm.toml")
	write(t, p, []byte(text))
	return p
}

// The same flag (layout path --spec) from each source in turn: the file
// gives 1b/, the environment 1/, the command line the flat name.
func TestConfigPrecedenceFlagOverEnvOverFile(t *testing.T) {
	const name = "foo-1.tar.gz" // BLAKE2B starts 1b
	noFile := filepath.Join(t.TempDir(), "absent.toml")
	if r := runIn(t, noFile, "layout", "path", name); r.code != exitUsage {
		t.Fatalf("no spec anywhere: exit %d, want 2 (%s)", r.code, r.stderr)
	}
	cfg := writeConfig(t, "spec = \"filename-hash BLAKE2B 8\"\n")
	check := func(what, want string, args ...string) {
		t.Helper()
		r := runIn(t, noFile, args...)
		if r.code != 0 || r.stdout != want+"\n" {
			t.Fatalf("%s: exit %d, stdout %q, want %q; stderr %s", what, r.code, r.stdout, want, r.stderr)
		}
	}
	check("file via --config", "1b/"+name, "--config", cfg, "layout", "path", name)
	t.Setenv("DISTSWARM_SPEC", "filename-hash BLAKE2B 4")
	check("env over file", "1/"+name, "--config", cfg, "layout", "path", name)
	check("flag over env", name, "--config", cfg, "layout", "path", "--spec", "flat", name)
	os.Unsetenv("DISTSWARM_SPEC")
	check("flag over file", name, "--config", cfg, "layout", "path", "--spec", "flat", name)
}

// The default file is read when it exists; DISTSWARM_CONFIG replaces it.
func TestConfigDefaultFileAndEnvVar(t *testing.T) {
	const name = "foo-1.tar.gz"
	def := writeConfig(t, "spec = \"filename-hash BLAKE2B 8\"\n")
	if r := runIn(t, def, "layout", "path", name); r.code != 0 || r.stdout != "1b/"+name+"\n" {
		t.Fatalf("default file: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
	other := writeConfig(t, "spec = \"flat\"\n")
	t.Setenv("DISTSWARM_CONFIG", other)
	if r := runIn(t, def, "layout", "path", name); r.code != 0 || r.stdout != name+"\n" {
		t.Fatalf("DISTSWARM_CONFIG: exit %d, %q %s", r.code, r.stdout, r.stderr)
	}
}

// A table named after a command applies to it only, over top-level keys;
// lists fill repeatable flags; booleans work, and the environment still
// wins over the file for them.
func TestConfigCommandTablesListsAndBools(t *testing.T) {
	from := t.TempDir()
	write(t, filepath.Join(from, "a-1.tar.gz"), []byte("aaaa"))
	cfg := writeConfig(t, `
tracker = ["http://top.invalid/announce"]
[collection.create]
tracker = ["http://one.invalid/announce", "http://two.invalid/announce"]
name = "mirror"
`)
	out := filepath.Join(t.TempDir(), "c.torrent")
	r := runIn(t, "", "--config", cfg, "collection", "create", "--from", from, "--out", out)
	if r.code != 0 {
		t.Fatalf("collection create: exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"one.invalid", "two.invalid", "dn=mirror"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("magnet lacks %q (from [collection.create]): %s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "top.invalid") {
		t.Errorf("the top-level tracker was used although [collection.create] sets it: %s", r.stdout)
	}

	// layout migrate: dry-run = true in the file moves nothing; the
	// environment's false wins and moves the file.
	distdir := t.TempDir()
	write(t, filepath.Join(distdir, "foo-1.tar.gz"), []byte("x"))
	dry := writeConfig(t, "[layout.migrate]\ndry-run = true\nspec = \"filename-hash BLAKE2B 8\"\n")
	if r := runIn(t, "", "--config", dry, "layout", "migrate", "--distdir", distdir); r.code != 0 {
		t.Fatalf("migrate --dry-run from file: exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(distdir, "foo-1.tar.gz")); err != nil {
		t.Fatalf("dry-run = true in the file, yet the file moved: %v", err)
	}
	t.Setenv("DISTSWARM_DRY_RUN", "false")
	if r := runIn(t, "", "--config", dry, "layout", "migrate", "--distdir", distdir); r.code != 0 {
		t.Fatalf("migrate: exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(distdir, "1b", "foo-1.tar.gz")); err != nil {
		t.Fatalf("DISTSWARM_DRY_RUN=false should win over the file: %v", err)
	}
}

func TestConfigErrorsAreUsageErrorsWithFileAndLine(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.toml")
	cases := []struct {
		name, text string
		args       []string
		want       string
	}{
		{"explicit missing file", "", []string{"--config", missing}, missing},
		{"syntax error", "spec = \"flat\"\nstore = \n", nil, ":2: "},
		{"wrong type", "[layout.path]\n\nlayout-conf = 8\n", nil, ":3: layout-conf: "},
		{"bad duration", "timeout = \"soon\"\n", nil, ":1: timeout: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if args == nil {
				p := writeConfig(t, tc.text)
				args = []string{"--config", p}
				tc.want = p + tc.want
			}
			cmd := []string{"layout", "path", "--spec", "flat", "x"}
			if tc.name == "bad duration" {
				cmd = []string{"fetch", "--torrent", "x.torrent", "y"}
			}
			r := runIn(t, "", append(args, cmd...)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 naming %q", r.code, r.stderr, tc.want)
			}
		})
	}
	// DISTSWARM_CONFIG naming a missing file is an error too; a missing
	// default file is not.
	t.Setenv("DISTSWARM_CONFIG", missing)
	if r := runIn(t, "", "layout", "path", "--spec", "flat", "x"); r.code != exitUsage || !strings.Contains(r.stderr, missing) {
		t.Fatalf("DISTSWARM_CONFIG missing: exit %d, %s", r.code, r.stderr)
	}
	os.Unsetenv("DISTSWARM_CONFIG")
	if r := runIn(t, missing, "layout", "path", "--spec", "flat", "x"); r.code != 0 || r.stderr != "" {
		t.Fatalf("absent default file: exit %d, %s", r.code, r.stderr)
	}
}

func TestConfigUnknownKeysWarnedByName(t *testing.T) {
	cfg := writeConfig(t, `store = "/tmp/x"
stroe = "/tmp/typo"
[layout.path]
spec = "flat"
sepc = "flat"
[nosuchcommand]
store = "/tmp/y"
`)
	r := runIn(t, "", "--config", cfg, "layout", "path", "x")
	if r.code != 0 || r.stdout != "x\n" {
		t.Fatalf("exit %d, stdout %q: %s", r.code, r.stdout, r.stderr)
	}
	want := "unknown keys ignored: stroe (line 2), [layout.path] sepc (line 5), [nosuchcommand] (line 6)\n"
	if !strings.Contains(r.stderr, want) {
		t.Fatalf("stderr %q, want it to contain %q", r.stderr, want)
	}
}

// Every flag of every command is read from the environment and the file,
// except -v (counted on the command line; the file has log-level): a flag
// type config.go does not convert would silently be command-line only.
func TestConfigCoversEveryFlag(t *testing.T) {
	app := buildApp(&bytes.Buffer{}, &bytes.Buffer{}, "")
	walkLeaves(app.Commands, nil, func(path []string, cmd *cli.Command) {
		if cmd.Hidden {
			return
		}
		for _, f := range cmd.Flags {
			name := f.Names()[0]
			_, ok := f.(altsrc.FlagInputSourceExtension)
			if ok == cliOnly(name) {
				t.Errorf("%s --%s: configurable %v", strings.Join(path, " "), name, ok)
			}
			if df, isDoc := f.(cli.DocGenerationFlag); ok && (!isDoc || len(df.GetEnvVars()) == 0) {
				t.Errorf("%s --%s: no environment variable", strings.Join(path, " "), name)
			}
		}
	})
}
