package swarm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/distswarm/distswarm/swarm/collection"
)

// A node fetching onto a full disk ends the request with ENOSPC and the path (OutcomeFailed)
// instead of hanging until the deadline; once space is freed, the next request on the same
// node resumes the download and places the file. Needs root (a tmpfs store).
func TestNodeFetchFullDiskFailsThenResumes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	src := t.TempDir()
	files := corpus(t, src, []int{4 << 20})
	coll, err := collection.Create(ctx, collection.CreateOptions{From: src})
	if err != nil {
		t.Fatal(err)
	}
	port := startSeeder(t, ctx, coll, src)

	mnt := mountTmpfs(t, "1m")
	store, err := OpenStore(mnt)
	if err != nil {
		t.Fatal(err)
	}
	n, err := OpenNode(ctx, NodeOptions{Store: store, Client: loopback(), Peers: []string{fmt.Sprintf("127.0.0.1:%d", port)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() }) // before the unmount
	var name string
	for k := range files {
		name = k
	}
	req := FetchRequest{Collections: []*collection.Collection{coll}, TrustCollection: true, Names: []string{name}}

	// The deadline is far: a write error that went unnoticed would show as OutcomeTimedOut.
	fctx, fcancel := context.WithTimeout(ctx, 90*time.Second)
	res, err := n.Fetch(fctx, req)
	fcancel()
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Outcome != OutcomeFailed || !errors.Is(res[0].Err, syscall.ENOSPC) || !strings.Contains(res[0].Err.Error(), mnt) {
		t.Fatalf("fetch onto a full disk: %+v, want OutcomeFailed with ENOSPC naming a path under %s", res, mnt)
	}

	if out, err := exec.Command("mount", "-o", "remount,size=16m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("grow the tmpfs: %v %s", err, out)
	}
	fctx, fcancel = context.WithTimeout(ctx, 90*time.Second)
	res, err = n.Fetch(fctx, req)
	fcancel()
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || !res[0].Outcome.OK() {
		t.Fatalf("fetch after space was freed: %+v", res)
	}
	if got, err := os.ReadFile(res[0].Path); err != nil || string(got) != string(files[name]) {
		t.Fatalf("placed file differs (%v)", err)
	}
}
