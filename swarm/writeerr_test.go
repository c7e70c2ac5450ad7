package swarm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/distswarm/distswarm/storage"
	"github.com/distswarm/distswarm/swarm/collection"
)

// A download onto a full filesystem reports its first write error (ENOSPC, with the path)
// through watchWriteErrors, instead of anacrolix's default: a log line and a torrent that
// silently stops downloading. Needs root (a 512 KiB tmpfs for the leecher's store).
func TestWatchWriteErrorsReportsENOSPC(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := t.TempDir()
	corpus(t, src, []int{4 << 20})
	coll, err := collection.Create(ctx, collection.CreateOptions{From: src})
	if err != nil {
		t.Fatal(err)
	}
	port := startSeeder(t, ctx, coll, src)

	mnt := mountTmpfs(t, "512k")
	tor := attachedLeecher(t, mnt, coll.Torrents[0]) // closed before the unmount
	reported := make(chan error, 4)
	watchWriteErrors(tor, func(err error) { reported <- err })
	tor.AddPeers(peerInfosMust(t, fmt.Sprintf("127.0.0.1:%d", port)))
	tor.DownloadAll()

	select {
	case err := <-reported:
		if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), mnt) {
			t.Fatalf("reported %v, want ENOSPC naming a path under %s", err, mnt)
		}
	case <-ctx.Done():
		t.Fatalf("no write error reported; %d of %d bytes", tor.BytesCompleted(), tor.Length())
	}
	select {
	case err := <-reported:
		t.Fatalf("a second report: %v", err)
	default:
	}
}

// A write error reported after a resume for a write that began before it
// (the library reports on a goroutine of its own, so such a report can come
// late) does not stop the resumed torrent; one that began after does.
func TestWriteGuardIgnoresWritesFromBeforeResume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tor, _ := startedTorrent(t, ctx, []int{100 << 10})
	var reports []error
	report := func(err error) { reports = append(reports, err) }
	var g writeGuard
	full := func(began time.Time) error {
		return &storage.WriteError{Began: began, Err: fmt.Errorf("write staging x: %w", syscall.ENOSPC)}
	}

	before := time.Now()
	g.failed(tor, full(before), report)
	g.failed(tor, full(before), report) // a second block of the same burst
	if len(reports) != 1 || !g.stopped {
		t.Fatalf("first failure: %d reports, stopped %v; want 1, true", len(reports), g.stopped)
	}
	g.resume(tor)
	g.failed(tor, full(before), report) // late report of a write from before the resume
	if len(reports) != 1 || g.stopped {
		t.Fatalf("stale failure after resume: %d reports, stopped %v; want 1, false", len(reports), g.stopped)
	}
	g.failed(tor, full(time.Now()), report)
	if len(reports) != 2 || !g.stopped || !errors.Is(reports[1], syscall.ENOSPC) {
		t.Fatalf("new failure after resume: %d reports (%v), stopped %v; want 2 with ENOSPC, true", len(reports), reports, g.stopped)
	}
}
