package main

// Logging: every command gets -v/--verbose (counted) and --log-level, and
// logs through one slog handler on standard error that tells distswarm's own
// records from the BitTorrent library's by the code that logged them:
//
//	default (warn)   distswarm's warnings and errors; nothing from the library
//	-v (debug)       distswarm's decisions too (info, debug); library errors
//	-vv (trace)      and the library's debug output
//
// --log-level error|warn|info|debug|trace sets the same ladder (from the
// command line, DISTSWARM_LOG_LEVEL or the config file); with both, the
// louder wins.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime"
	"strings"

	"github.com/urfave/cli/v2"
)

// logLevel is a rung of the verbosity ladder.
type logLevel int

const (
	levelError logLevel = iota
	levelWarn
	levelInfo
	levelDebug
	levelTrace // distswarm debug + library debug
)

const (
	verboseFlagName  = "verbose"
	logLevelFlagName = "log-level"
	// levelOff is above every slog level: nothing passes.
	levelOff = slog.Level(math.MaxInt32)
)

func (l logLevel) String() string {
	return [...]string{"error", "warn", "info", "debug", "trace"}[l]
}

func parseLogLevel(s string) (logLevel, error) {
	for l := levelError; l <= levelTrace; l++ {
		if strings.EqualFold(s, l.String()) || (l == levelWarn && strings.EqualFold(s, "warning")) {
			return l, nil
		}
	}
	return levelWarn, fmt.Errorf("--%s %q: want error, warn, info, debug or trace", logLevelFlagName, s)
}

// own is the minimum level of distswarm's records at this rung.
func (l logLevel) own() slog.Level {
	return [...]slog.Level{slog.LevelError, slog.LevelWarn, slog.LevelInfo, slog.LevelDebug, slog.LevelDebug}[l]
}

// library is the minimum level of the BitTorrent library's records.
func (l logLevel) library() slog.Level {
	return [...]slog.Level{levelOff, levelOff, slog.LevelError, slog.LevelError, slog.LevelDebug}[l]
}

// logFlags are the logging flags every command has.
func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{
			Name: verboseFlagName, Aliases: []string{"v"}, Count: new(int),
			Usage: "-v: also log distswarm's decisions (= --log-level debug); -vv: and the BitTorrent library's debug output (trace)",
		},
		&cli.StringFlag{
			Name: logLevelFlagName, Value: levelWarn.String(),
			Usage: "error, warn, info, debug (distswarm's own messages), or trace (also the BitTorrent library's debug output)",
		},
	}
}

// installLogFlags gives every command that runs something the logging
// flags, replacing a -v/--verbose the command defines itself, so that
// logger works the same everywhere, including commands added later.
func installLogFlags(commands []*cli.Command) {
	walkLeaves(commands, nil, func(_ []string, cmd *cli.Command) {
		kept := cmd.Flags[:0:0]
		for _, f := range cmd.Flags {
			if name := f.Names()[0]; name != verboseFlagName && name != logLevelFlagName {
				kept = append(kept, f)
			}
		}
		cmd.Flags = append(kept, logFlags()...)
	})
}

// walkLeaves calls fn for every command with an Action, depth first, with
// the names of the commands above it.
func walkLeaves(commands []*cli.Command, parents []string, fn func(path []string, cmd *cli.Command)) {
	for _, cmd := range commands {
		path := append(append([]string(nil), parents...), cmd.Name)
		if cmd.Action != nil {
			fn(path, cmd)
		}
		walkLeaves(cmd.Subcommands, path, fn)
	}
}

// verbosity is the rung asked for: --log-level, raised by each -v.
func verbosity(c *cli.Context) (logLevel, error) {
	level := levelWarn
	if s := c.String(logLevelFlagName); s != "" {
		l, err := parseLogLevel(s)
		if err != nil {
			return levelWarn, err
		}
		level = l
	}
	switch n := c.Count(verboseFlagName); {
	case n >= 2:
		level = max(level, levelTrace)
	case n == 1:
		level = max(level, levelDebug)
	}
	return level, nil
}

// checkLogLevel rejects a --log-level that names no level (a usage error
// before the command starts, rather than a silent default).
func checkLogLevel(c *cli.Context) error {
	if _, err := verbosity(c); err != nil {
		return usageErr("%v", err)
	}
	return nil
}

// logger returns the slog logger of a command: standard error, filtered by
// verbosity for distswarm's records and the library's separately. Giving it
// to the BitTorrent client is correct too (the library's records are told
// apart by their origin); libraryLogger is cheaper there.
func logger(c *cli.Context) *slog.Logger {
	level, _ := verbosity(c) // checked before the command ran
	return slog.New(newLevelHandler(c.App.ErrWriter, level.own(), level.library()))
}

// libraryLogger is the logger to hand to the BitTorrent library: it drops
// the library's records below the library's level before they are built.
func libraryLogger(c *cli.Context) *slog.Logger {
	level, _ := verbosity(c)
	lib := level.library()
	return slog.New(newLevelHandler(c.App.ErrWriter, lib, lib))
}

// levelHandler writes records of distswarm's own code at or above own, and
// records of any other code (the BitTorrent library) at or above lib,
// tagged lib=<package>.
type levelHandler struct {
	own, lib slog.Level
	next     slog.Handler
}

func newLevelHandler(w io.Writer, own, lib slog.Level) *levelHandler {
	return &levelHandler{own: own, lib: lib, next: slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})}
}

func (h *levelHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= min(h.own, h.lib)
}

func (h *levelHandler) Handle(ctx context.Context, r slog.Record) error {
	pkg, own := origin(r.PC)
	if own {
		if r.Level < h.own {
			return nil
		}
		return h.next.Handle(ctx, r)
	}
	if r.Level < h.lib {
		return nil
	}
	r = r.Clone()
	r.AddAttrs(slog.String("lib", pkg))
	return h.next.Handle(ctx, r)
}

func (h *levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &levelHandler{own: h.own, lib: h.lib, next: h.next.WithAttrs(attrs)}
}

func (h *levelHandler) WithGroup(name string) slog.Handler {
	return &levelHandler{own: h.own, lib: h.lib, next: h.next.WithGroup(name)}
}

// ownModule prefixes the functions of distswarm's own packages.
const ownModule = "github.com/distswarm/distswarm/"

// origin names the package of the code at pc and says whether it is
// distswarm's. A record without a pc was not made by slog's Logger methods,
// which distswarm always uses: it counts as the library's.
func origin(pc uintptr) (pkg string, own bool) {
	if pc == 0 {
		return "unknown", false
	}
	frame, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	fn := frame.Function
	if strings.HasPrefix(fn, ownModule) || strings.HasPrefix(fn, "main.") {
		return "distswarm", true
	}
	return packageOf(fn), false
}

// packageOf returns the import path of a function name such as
// github.com/anacrolix/torrent.(*Client).Close.
func packageOf(fn string) string {
	slash := strings.LastIndexByte(fn, '/')
	if dot := strings.IndexByte(fn[slash+1:], '.'); dot >= 0 {
		return fn[:slash+1+dot]
	}
	return fn
}
