package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// samplePath is the sample config installed by make install.
const samplePath = "../../packaging/distswarm.toml"

// The installed sample documents every key of every command (in its table
// or at the top level), and uncommented it is a valid config for every
// command: no unknown key, every default of the right type.
func TestSampleConfigDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	sample := string(data)
	var stderr bytes.Buffer
	app := buildApp(&bytes.Buffer{}, &stderr, "")
	cfg := &configFile{lines: strings.Split(uncomment(sample), "\n")}
	walkLeaves(app.Commands, nil, func(path []string, cmd *cli.Command) {
		if cmd.Hidden {
			return
		}
		for _, f := range cmd.Flags {
			if _, ok := defaultTOML(f); !ok {
				continue
			}
			name := f.Names()[0]
			if cfg.line(path, name) == 0 && cfg.line(nil, name) == 0 {
				t.Errorf("%s: [%s] %s is not documented; regenerate it: make sample-config",
					samplePath, strings.Join(path, "."), name)
			}
		}
	})

	uncommented := filepath.Join(t.TempDir(), "all.toml")
	write(t, uncommented, []byte(uncomment(sample)))
	root := flag.NewFlagSet("distswarm", flag.ContinueOnError)
	if err := configFlag().Apply(root); err != nil {
		t.Fatal(err)
	}
	if err := root.Parse([]string{"--config", uncommented}); err != nil {
		t.Fatal(err)
	}
	rootCtx := cli.NewContext(app, root, nil)
	walkLeaves(app.Commands, nil, func(path []string, cmd *cli.Command) {
		set := flag.NewFlagSet(cmd.Name, flag.ContinueOnError)
		for _, f := range cmd.Flags {
			if err := f.Apply(set); err != nil {
				t.Fatal(err)
			}
		}
		c := cli.NewContext(app, set, rootCtx)
		c.Command = cmd
		if err := applyConfigFile(c, "", path, cmd.Flags); err != nil {
			t.Errorf("%s with every key of the sample: %v", strings.Join(path, " "), err)
		}
	})
	if strings.Contains(stderr.String(), "unknown") {
		t.Errorf("the sample has keys no command takes: %s", stderr.String())
	}
}

var commentedKey = regexp.MustCompile(`(?m)^#([a-z][a-z0-9-]* = )`)

func uncomment(s string) string { return commentedKey.ReplaceAllString(s, "$1") }
