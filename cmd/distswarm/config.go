package main

// The config file: TOML whose keys are flag names, read with urfave/cli's
// altsrc. For every flag of every command the value comes from, in order:
// the command line, the environment (DISTSWARM_<FLAG>, e.g.
// DISTSWARM_SWARM_TIMEOUT), the config file, the flag's default.
//
//	store = "/var/cache/distswarm"          # every command with --store
//	upstream = ["https://distfiles.gentoo.org"]
//	[daemon]                                # only for `distswarm daemon`
//	listen = ":6881"
//
// Top-level keys apply to every command that has the flag; a table named
// after a command ([daemon], [fetch], [collection.create]) applies to that
// command only and wins over the top-level keys. Unknown keys are warned
// about, naming them; a syntax error or a value of the wrong type is a
// usage error with file:line.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/urfave/cli/v2"
	"github.com/urfave/cli/v2/altsrc"
)

const (
	// defaultConfigPath is read when it exists and no --config is given.
	defaultConfigPath = "/etc/distswarm/distswarm.toml"
	configFlagName    = "config"
	envPrefix         = "DISTSWARM_"
)

func configFlag() cli.Flag {
	return &cli.StringFlag{
		Name:        configFlagName,
		Usage:       "TOML config file; keys are flag names (see the distswarm(1) FILES section)",
		EnvVars:     []string{envPrefix + "CONFIG"},
		DefaultText: defaultConfigPath + ", when it exists",
	}
}

// cliOnly reports flags that only the command line sets: -v counts its
// occurrences, and the file has log-level for the same purpose.
func cliOnly(name string) bool { return name == verboseFlagName }

// envVarFor is the environment variable of a flag: DISTSWARM_SWARM_TIMEOUT
// for --swarm-timeout.
func envVarFor(name string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// installConfig makes every flag of every command that runs something
// settable from the environment and the config file, and reads the file
// before the command runs. defaultPath is read when it exists and no
// --config is given.
func installConfig(commands []*cli.Command, defaultPath string) {
	walkLeaves(commands, nil, func(path []string, cmd *cli.Command) {
		for i, f := range cmd.Flags {
			if w := configurable(f); w != nil {
				cmd.Flags[i] = w
			}
		}
		before := cmd.Before
		cmd.Before = func(c *cli.Context) error {
			if err := applyConfigFile(c, defaultPath, path, cmd.Flags); err != nil {
				return err
			}
			if err := checkLogLevel(c); err != nil {
				return err
			}
			if before != nil {
				return before(c)
			}
			return nil
		}
	})
}

// configurable returns f as its altsrc equivalent, with its environment
// variable added when it has none, or nil when f stays command-line only.
func configurable(f cli.Flag) altsrc.FlagInputSourceExtension {
	if cliOnly(f.Names()[0]) {
		return nil
	}
	addEnv := func(vars *[]string, name string) {
		if len(*vars) == 0 {
			*vars = []string{envVarFor(name)}
		}
	}
	switch f := f.(type) {
	case *cli.StringFlag:
		addEnv(&f.EnvVars, f.Name)
		return altsrc.NewStringFlag(f)
	case *cli.StringSliceFlag:
		addEnv(&f.EnvVars, f.Name)
		return altsrc.NewStringSliceFlag(f)
	case *cli.BoolFlag:
		addEnv(&f.EnvVars, f.Name)
		return altsrc.NewBoolFlag(f)
	case *cli.DurationFlag:
		addEnv(&f.EnvVars, f.Name)
		return altsrc.NewDurationFlag(f)
	case *cli.IntFlag:
		addEnv(&f.EnvVars, f.Name)
		return altsrc.NewIntFlag(f)
	case *cli.Int64Flag:
		addEnv(&f.EnvVars, f.Name)
		return altsrc.NewInt64Flag(f)
	case *cli.UintFlag:
		addEnv(&f.EnvVars, f.Name)
		return altsrc.NewUintFlag(f)
	case *cli.Uint64Flag:
		addEnv(&f.EnvVars, f.Name)
		return altsrc.NewUint64Flag(f)
	case *cli.Float64Flag:
		addEnv(&f.EnvVars, f.Name)
		return altsrc.NewFloat64Flag(f)
	case *cli.PathFlag:
		addEnv(&f.EnvVars, f.Name)
		return altsrc.NewPathFlag(f)
	case *cli.GenericFlag:
		addEnv(&f.EnvVars, f.Name)
		return altsrc.NewGenericFlag(f)
	case *cli.IntSliceFlag:
		addEnv(&f.EnvVars, f.Name)
		return altsrc.NewIntSliceFlag(f)
	case *cli.Int64SliceFlag:
		addEnv(&f.EnvVars, f.Name)
		return altsrc.NewInt64SliceFlag(f)
	case *cli.Float64SliceFlag:
		addEnv(&f.EnvVars, f.Name)
		return altsrc.NewFloat64SliceFlag(f)
	}
	return nil
}

// configFile is a parsed config file.
type configFile struct {
	path   string
	lines  []string       // the text, to point at keys
	values map[string]any // as decoded: tables are map[string]any
}

// loadConfigFile reads the file --config (or DISTSWARM_CONFIG) names, or
// defaultPath when that exists; it returns nil when there is none.
func loadConfigFile(c *cli.Context, defaultPath string) (*configFile, error) {
	path := c.String(configFlagName)
	if path == "" {
		path = defaultPath
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErr("config: %v", err)
	}
	values := map[string]any{}
	if _, err := toml.Decode(string(data), &values); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, usageErr("%s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, usageErr("%s: %v", path, err)
	}
	return &configFile{path: path, lines: strings.Split(string(data), "\n"), values: values}, nil
}

// applyConfigFile sets the flags of the command at path that neither the
// command line nor the environment set, from the config file's values for
// that command, after warning about the file's unknown keys.
func applyConfigFile(c *cli.Context, defaultPath string, path []string, flags []cli.Flag) error {
	cfg, err := loadConfigFile(c, defaultPath)
	if err != nil || cfg == nil {
		return err
	}
	if unknown := cfg.unknownKeys(c.App.Commands); len(unknown) > 0 {
		fmt.Fprintf(c.App.ErrWriter, "distswarm: warning: %s: unknown keys ignored: %s\n", cfg.path, strings.Join(unknown, ", "))
	}
	src := altsrc.NewMapInputSource(cfg.path, cfg.valuesFor(path))
	for _, f := range flags {
		ext, ok := f.(altsrc.FlagInputSourceExtension)
		if !ok {
			continue
		}
		if err := ext.ApplyInputSourceValue(c, src); err != nil {
			name := f.Names()[0]
			return usageErr("%s: %s: %v", cfg.where(path, name), name, err)
		}
	}
	return nil
}

// valuesFor merges the top-level keys with those of the tables along the
// command's path ([collection] then [collection.create]): the deeper wins.
// Integers become int, as altsrc's own TOML loader makes them.
func (cfg *configFile) valuesFor(path []string) map[any]any {
	out := map[any]any{}
	table := cfg.values
	for depth := 0; ; depth++ {
		for k, v := range table {
			if _, isTable := v.(map[string]any); !isTable {
				out[k] = normalize(v)
			}
		}
		if depth == len(path) {
			return out
		}
		next, ok := table[path[depth]].(map[string]any)
		if !ok {
			return out
		}
		table = next
	}
}

func normalize(v any) any {
	switch v := v.(type) {
	case int64:
		return int(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}

// unknownKeys lists the file's keys that no command takes, in file order,
// each with its line: e.g. "stor (line 3)", "[fetch] bogus (line 9)".
func (cfg *configFile) unknownKeys(commands []*cli.Command) []string {
	var found []unknownKey
	cfg.walkUnknown(cfg.values, nil, commands, allConfigKeys(commands), &found)
	slices.SortFunc(found, func(a, b unknownKey) int { return a.line - b.line })
	out := make([]string, len(found))
	for i, u := range found {
		out[i] = u.text
	}
	return out
}

type unknownKey struct {
	text string
	line int
}

// walkUnknown checks the keys of table, the table of the command at path
// (the top level when path is empty): known holds the keys valid there and
// commands the subcommands that may have tables.
func (cfg *configFile) walkUnknown(table map[string]any, path []string, commands []*cli.Command, known map[string]bool, out *[]unknownKey) {
	for k, v := range table {
		sub, isTable := v.(map[string]any)
		if !isTable {
			if !known[k] {
				*out = append(*out, cfg.describe(path, k, cfg.line(path, k)))
			}
			continue
		}
		subPath := append(slices.Clone(path), k)
		cmd := findCommand(commands, k)
		if cmd == nil {
			*out = append(*out, cfg.describe(nil, "["+strings.Join(subPath, ".")+"]", cfg.headerLine(subPath)))
			continue
		}
		cfg.walkUnknown(sub, subPath, cmd.Subcommands, allConfigKeys([]*cli.Command{cmd}), out)
	}
}

func (cfg *configFile) describe(path []string, key string, line int) unknownKey {
	s := key
	if len(path) > 0 {
		s = "[" + strings.Join(path, ".") + "] " + key
	}
	if line > 0 {
		s += fmt.Sprintf(" (line %d)", line)
	}
	return unknownKey{text: s, line: line}
}

func findCommand(commands []*cli.Command, name string) *cli.Command {
	for _, c := range commands {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// allConfigKeys are the names of the configurable flags of the commands
// and of all their subcommands.
func allConfigKeys(commands []*cli.Command) map[string]bool {
	keys := map[string]bool{}
	walkLeaves(commands, nil, func(_ []string, cmd *cli.Command) {
		for _, f := range cmd.Flags {
			if _, ok := f.(altsrc.FlagInputSourceExtension); ok {
				for _, n := range f.Names() {
					keys[n] = true
				}
			}
		}
	})
	return keys
}

// where is "FILE:LINE" of the key that set a flag of the command at path:
// in the deepest table of the path that has it, else at the top level.
func (cfg *configFile) where(path []string, key string) string {
	for depth := len(path); depth >= 0; depth-- {
		if line := cfg.line(path[:depth], key); line > 0 {
			return fmt.Sprintf("%s:%d", cfg.path, line)
		}
	}
	return cfg.path
}

// line finds the line (from 1) that sets key in the table at path, or 0.
// It reads the text the way people write config files (one key = value per
// line, [a.b] headers); exotic spellings only lose the line number.
func (cfg *configFile) line(path []string, key string) int {
	current := ""
	want := strings.Join(path, ".")
	for i, raw := range cfg.lines {
		l := strings.TrimSpace(raw)
		if h, ok := tableHeader(l); ok {
			current = h
			continue
		}
		if current == want {
			k, _, found := strings.Cut(l, "=")
			if found && strings.Trim(strings.TrimSpace(k), `"'`) == key {
				return i + 1
			}
		}
	}
	return 0
}

// headerLine finds the line of the [a.b] header of the table at path, or 0.
func (cfg *configFile) headerLine(path []string) int {
	want := strings.Join(path, ".")
	for i, raw := range cfg.lines {
		if h, ok := tableHeader(strings.TrimSpace(raw)); ok && h == want {
			return i + 1
		}
	}
	return 0
}

// tableHeader returns "a.b" for a line "[a.b]" (comments allowed after it).
func tableHeader(line string) (string, bool) {
	if !strings.HasPrefix(line, "[") {
		return "", false
	}
	line = strings.TrimSpace(strings.SplitN(line, "#", 2)[0])
	return strings.TrimSpace(strings.Trim(line, "[]")), true
}
