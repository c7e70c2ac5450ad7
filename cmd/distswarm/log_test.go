package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/urfave/cli/v2"
)

// lockedBuffer is written by the BitTorrent library's goroutines while
// the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// libraryDebugMessage is a debug record anacrolix/torrent writes when a
// client connects to itself; its connection logs are debug records too.
const libraryDebugMessage = "local and remote peer ids are the same"

// logProbe is a command that logs at each level itself, then runs a real
// anacrolix client with logger(c) until the library has logged
// libraryDebugMessage (seen through an unfiltered reference handler),
// keeping its files in dataDir.
func logProbe(dataDir string) *cli.Command {
	return &cli.Command{
		Name: "logprobe",
		Action: func(c *cli.Context) error {
			log := logger(c)
			log.Debug("own-debug")
			log.Info("own-info")
			log.Warn("own-warn")
			var ref lockedBuffer
			both := slog.New(slog.NewMultiHandler(slog.NewTextHandler(&ref, &slog.HandlerOptions{Level: slog.LevelDebug}), log.Handler()))
			return selfConnect(c.Context, both, &ref, dataDir)
		},
	}
}

// selfConnect starts an anacrolix client on loopback logging to sl, makes
// it dial itself, and waits (bounded) until ref shows libraryDebugMessage.
func selfConnect(ctx context.Context, sl *slog.Logger, ref *lockedBuffer, dataDir string) error {
	cfg := torrent.NewDefaultClientConfig()
	cfg.SetListenAddr("127.0.0.1:0")
	cfg.DataDir = dataDir // its piece database too, never the working directory
	cfg.DisableIPv6 = true
	cfg.DisableUTP = true
	cfg.NoDHT = true
	cfg.NoDefaultPortForwarding = true
	cfg.DisableWebtorrent = true
	cfg.Slogger = sl // Logger left zero: the library routes it to Slogger
	cl, err := torrent.NewClient(cfg)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	defer cl.Close()
	tt, err := cl.AddMagnet("magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567")
	if err != nil {
		return fmt.Errorf("add magnet: %w", err)
	}
	tt.AddPeers([]torrent.PeerInfo{{Addr: cl.ListenAddrs()[0]}})
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for !strings.Contains(ref.String(), libraryDebugMessage) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("the library never logged %q: %s", libraryDebugMessage, ref.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

func TestLogLevelsSeparateDistswarmFromLibrary(t *testing.T) {
	cases := []struct {
		name, env, file string
		args            []string
		want            map[string]bool // substring of stderr -> present?
	}{
		{name: "default: distswarm warnings only",
			want: map[string]bool{"own-warn": true, "own-info": false, "own-debug": false, "lib=": false}},
		{name: "-v: distswarm decisions, library quiet", args: []string{"-v"},
			want: map[string]bool{"own-warn": true, "own-info": true, "own-debug": true, "lib=": false}},
		{name: "-vv: and library debug", args: []string{"-vv"},
			want: map[string]bool{"own-debug": true, libraryDebugMessage: true, "lib=github.com/anacrolix/torrent": true}},
		{name: "--log-level info", args: []string{"--log-level", "info"},
			want: map[string]bool{"own-info": true, "own-debug": false, "lib=": false}},
		{name: "--log-level error", args: []string{"--log-level", "error"},
			want: map[string]bool{"own-warn": false, "lib=": false}},
		{name: "-v louder than --log-level error", args: []string{"--log-level", "error", "-v"},
			want: map[string]bool{"own-debug": true, "lib=": false}},
		{name: "DISTSWARM_LOG_LEVEL=trace", env: "trace",
			want: map[string]bool{"own-debug": true, "lib=github.com/anacrolix/torrent": true}},
		{name: "log-level in the config file", file: "log-level = \"debug\"\n",
			want: map[string]bool{"own-debug": true, "lib=": false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("DISTSWARM_LOG_LEVEL", tc.env)
			}
			args := []string{"distswarm"}
			if tc.file != "" {
				args = append(args, "--config", writeConfig(t, tc.file))
			}
			var stdout bytes.Buffer
			var stderr lockedBuffer
			app := buildApp(&stdout, &stderr, "")
			probe := []*cli.Command{logProbe(t.TempDir())}
			installLogFlags(probe)
			installConfig(probe, "")
			app.Commands = append(app.Commands, probe...)
			if code := runApp(app, append(append(args, "logprobe"), tc.args...), &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			out := stderr.String()
			for s, present := range tc.want {
				if strings.Contains(out, s) != present {
					t.Errorf("%q in stderr: %v, want %v\n%s", s, !present, present, out)
				}
			}
		})
	}
}

func TestLogLevelUnknownIsUsageError(t *testing.T) {
	r := runIn(t, "", "layout", "path", "--log-level", "loud", "--spec", "flat", "x")
	if r.code != exitUsage || !strings.Contains(r.stderr, `"loud"`) {
		t.Fatalf("exit %d, %s; want 2 naming the level", r.code, r.stderr)
	}
}
