package lsd

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
)

// helperEnv, when set, makes the test binary run one Service instead of
// the tests (see runHelper): the netns tests start it with `ip netns exec`.
const helperEnv = "DISTSWARM_LSD_HELPER"

// helperConfig is what a helper process runs, as JSON in helperEnv.
type helperConfig struct {
	Port       int      `json:"port"`
	Infohashes []string `json:"infohashes"`
	Interfaces []string `json:"interfaces"`
	NoIPv6     bool     `json:"no_ipv6"`
	Seconds    int      `json:"seconds"`
	// Accept listens on TCP Port and reports each connection ("accepted"):
	// proof that a peer that heard the announce dialled it.
	Accept bool `json:"accept"`
	// BurstMS and IntervalS replace the defaults when set.
	BurstMS   []int `json:"burst_ms"`
	IntervalS int   `json:"interval_s"`
	RefreshMS int   `json:"refresh_ms"`
}

func (hc helperConfig) config(onPeer func(Peer)) Config {
	c := Config{Port: hc.Port, Interfaces: hc.Interfaces, NoIPv6: hc.NoIPv6, OnPeer: onPeer,
		Interval: time.Duration(hc.IntervalS) * time.Second, InterfaceRefresh: time.Duration(hc.RefreshMS) * time.Millisecond}
	for _, ms := range hc.BurstMS {
		c.Burst = append(c.Burst, time.Duration(ms)*time.Millisecond)
	}
	return c
}

// helperEvent is one line a helper prints.
type helperEvent struct {
	Event      string   `json:"event"` // started, peer, error
	Interfaces []string `json:"interfaces,omitempty"`
	Cookie     string   `json:"cookie,omitempty"`
	Infohash   string   `json:"infohash,omitempty"`
	Addr       string   `json:"addr,omitempty"`
	Interface  string   `json:"interface,omitempty"`
	ElapsedMS  int64    `json:"elapsed_ms,omitempty"`
	Error      string   `json:"error,omitempty"`
	Stats      *Stats   `json:"stats,omitempty"`
}

func TestMain(m *testing.M) {
	if cfg := os.Getenv(helperEnv); cfg != "" {
		os.Exit(runHelper(cfg))
	}
	os.Exit(m.Run())
}

// runHelper runs one Service for the seconds asked, printing a JSON line
// per event on standard output.
func runHelper(raw string) int {
	var hc helperConfig
	out := json.NewEncoder(os.Stdout)
	var outMu sync.Mutex
	emit := func(ev helperEvent) {
		outMu.Lock()
		defer outMu.Unlock()
		_ = out.Encode(ev)
	}
	if err := json.Unmarshal([]byte(raw), &hc); err != nil {
		emit(helperEvent{Event: "error", Error: err.Error()})
		return 2
	}
	start := time.Now()
	svc, err := New(hc.config(func(p Peer) {
		emit(helperEvent{Event: "peer", Infohash: p.Infohash.HexString(), Addr: p.Addr.String(),
			Interface: p.Interface, ElapsedMS: time.Since(start).Milliseconds()})
	}))
	if err != nil {
		emit(helperEvent{Event: "error", Error: err.Error()})
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(hc.Seconds)*time.Second)
	defer cancel()
	if err := svc.Start(ctx); err != nil {
		emit(helperEvent{Event: "error", Error: err.Error()})
		return 1
	}
	var ihs []metainfo.Hash
	for _, h := range hc.Infohashes {
		var ih metainfo.Hash
		if err := ih.FromHexString(h); err != nil {
			emit(helperEvent{Event: "error", Error: err.Error()})
			return 2
		}
		ihs = append(ihs, ih)
	}
	svc.SetInfohashes(ihs)
	if hc.Accept {
		if err := acceptAndReport(ctx, hc.Port, emit); err != nil {
			emit(helperEvent{Event: "error", Error: err.Error()})
			return 1
		}
	}
	emit(helperEvent{Event: "started", Interfaces: svc.Interfaces(), Cookie: svc.Cookie()})
	<-svc.Done()
	st := svc.Stats()
	emit(helperEvent{Event: "stopped", Stats: &st})
	return 0
}

// acceptAndReport accepts TCP connections on port until ctx ends,
// reporting and closing each.
func acceptAndReport(ctx context.Context, port int, emit func(helperEvent)) error {
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			emit(helperEvent{Event: "accepted", Addr: c.RemoteAddr().String()})
			c.Close()
		}
	}()
	return nil
}

func hostOf(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

// proc is a process started by a test whose stdout lines are collected.
type proc struct {
	name  string
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	added chan struct{}
	done  chan struct{}
}

// startProc starts argv (bounded by the caller's timeouts, killed by PID
// at cleanup) and collects its output lines.
func startProc(t *testing.T, name string, env []string, argv ...string) *proc {
	t.Helper()
	p := &proc{name: name, added: make(chan struct{}, 1), done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = append(os.Environ(), env...)
	// a child that leaves a grandchild holding stderr must not hang Wait
	p.cmd.WaitDelay = 5 * time.Second
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	p.cmd.Stderr = &stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go p.collect(stdout)
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s output:\n%s\n%s stderr:\n%s", name, strings.Join(p.snapshot(), "\n"), name, stderr.String())
		}
	})
	return p
}

func (p *proc) collect(r io.Reader) {
	defer close(p.done)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, sc.Text())
		p.mu.Unlock()
		select {
		case p.added <- struct{}{}:
		default:
		}
	}
	_ = p.cmd.Wait()
}

func (p *proc) snapshot() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// waitFor waits up to d for a line matching ok and returns it decoded.
func waitFor[T any](t *testing.T, p *proc, d time.Duration, what string, ok func(T) bool) T {
	t.Helper()
	deadline := time.After(d)
	for {
		for _, l := range p.snapshot() {
			var v T
			if json.Unmarshal([]byte(l), &v) == nil && ok(v) {
				return v
			}
		}
		select {
		case <-p.added:
		case <-p.done:
			// the last lines are in; one more look, then give up
			for _, l := range p.snapshot() {
				var v T
				if json.Unmarshal([]byte(l), &v) == nil && ok(v) {
					return v
				}
			}
			t.Fatalf("%s exited without %s", p.name, what)
		case <-deadline:
			t.Fatalf("%s: no %s within %s", p.name, what, d)
		}
	}
}

// startHelper runs a helper Service in namespace ns.
func startHelper(t *testing.T, ns, name string, hc helperConfig) *proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(hc)
	if err != nil {
		t.Fatal(err)
	}
	return startProc(t, name, []string{helperEnv + "=" + string(raw)}, "ip", "netns", "exec", ns, exe)
}

func waitStarted(t *testing.T, p *proc) helperEvent {
	t.Helper()
	ev := waitFor(t, p, 20*time.Second, "start", func(e helperEvent) bool { return e.Event == "started" || e.Event == "error" })
	if ev.Event == "error" {
		t.Fatalf("%s: %s", p.name, ev.Error)
	}
	return ev
}

// peerEvents are the peer lines of p so far.
func peerEvents(p *proc) []helperEvent {
	var out []helperEvent
	for _, l := range p.snapshot() {
		var e helperEvent
		if json.Unmarshal([]byte(l), &e) == nil && e.Event == "peer" {
			out = append(out, e)
		}
	}
	return out
}

func hexOf(ih metainfo.Hash) string { return ih.HexString() }
