package swarm

import (
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	pp "github.com/anacrolix/torrent/peer_protocol"
)

func TestUploadBalanceTurnsTitForTatOnOnlyWhileUploadingFaster(t *testing.T) {
	cfg := torrent.NewDefaultClientConfig()
	b := &uploadBalance{}
	b.install(cfg)
	t0 := time.Unix(1_000_000, 0)
	steps := []struct {
		after    time.Duration
		up, down int64 // totals
		want     bool
	}{
		{0, 50 << 20, 0, false},                      // first sample: totals only, no decision
		{time.Second, 60 << 20, 5 << 20, true},       // +10 MiB up, +5 down
		{2 * time.Second, 65 << 20, 15 << 20, false}, // +5 up, +10 down
		{3 * time.Second, 70 << 20, 20 << 20, false}, // equal: off
		{4 * time.Second, 80 << 20, 21 << 20, true},
		{5 * time.Second, 80 << 20, 21 << 20, false}, // idle: off
	}
	for i, s := range steps {
		b.observe(t0.Add(s.after), s.up, s.down)
		if cfg.DisableAggressiveUpload != s.want {
			t.Fatalf("step %d (up %d, down %d): DisableAggressiveUpload = %v, want %v",
				i, s.up, s.down, cfg.DisableAggressiveUpload, s.want)
		}
	}
}

func TestUploadBalanceCheckWaitsForClientAndInterval(t *testing.T) {
	cfg := torrent.NewDefaultClientConfig()
	b := &uploadBalance{}
	b.install(cfg)
	now := time.Unix(2_000_000, 0)
	b.check(now) // no client yet: nothing recorded
	if !b.last.IsZero() {
		t.Fatalf("check without a client recorded a sample at %v", b.last)
	}
	b.observe(now, 10<<20, 0)
	b.check(now.Add(uploadBalanceEvery / 2)) // too soon: must return before touching the (nil) client
	if !b.last.Equal(now) || cfg.DisableAggressiveUpload {
		t.Fatalf("check within %v re-decided: last %v, flag %v", uploadBalanceEvery, b.last, cfg.DisableAggressiveUpload)
	}
}

func TestUploadBalanceKeepsTheCallbackItChains(t *testing.T) {
	cfg := torrent.NewDefaultClientConfig()
	var seen int
	cfg.Callbacks.ReadMessage = func(*torrent.PeerConn, *pp.Message) { seen++ }
	(&uploadBalance{}).install(cfg)
	cfg.Callbacks.ReadMessage(nil, &pp.Message{Type: pp.Request})
	if seen != 1 {
		t.Fatalf("chained ReadMessage callback ran %d times, want 1", seen)
	}
}
