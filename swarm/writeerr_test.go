package swarm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

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
