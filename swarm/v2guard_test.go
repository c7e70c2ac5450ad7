package swarm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	pp "github.com/anacrolix/torrent/peer_protocol"

	"github.com/distswarm/distswarm/swarm/collection"
)

// A peer that sends BEP 52 hash messages on a v1 torrent: anacrolix v1.61
// panicked on them (Torrent.getFileByPiecesRoot unwraps pieces roots v1
// files do not have), which killed the process, here the test binary. With
// the guard the seeder ignores them and keeps serving.
func TestV2HashMessagesFromPeerIgnored(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := t.TempDir()
	files := corpus(t, src, []int{300000, 5000})
	coll, err := collection.Create(ctx, collection.CreateOptions{From: src})
	if err != nil {
		t.Fatal(err)
	}
	port := startSeeder(t, ctx, coll, src)
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	ih := coll.Torrents[0].HashInfoBytes()
	var hs bytes.Buffer
	hs.WriteString("\x13BitTorrent protocol")
	hs.Write(make([]byte, 8))
	hs.Write(ih[:])
	hs.WriteString("-XX0001-hostilepeer0")
	if _, err := conn.Write(hs.Bytes()); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, 68)
	if _, err := io.ReadFull(conn, reply); err != nil {
		t.Fatalf("seeder's handshake: %v", err)
	}
	for _, m := range []pp.Message{
		{Type: pp.Hashes, PiecesRoot: [32]byte{1}, Index: 0, Length: 2, Hashes: [][32]byte{{2}, {3}}},
		{Type: pp.Hashes, PiecesRoot: [32]byte{1}, Length: 2, ProofLayers: 1, Hashes: [][32]byte{{2}, {3}, {4}}},
		{Type: pp.HashRequest, PiecesRoot: [32]byte{5}, Length: 2},
		{Type: pp.HashReject, PiecesRoot: [32]byte{6}, Length: 2},
	} {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(b); err != nil {
			t.Fatalf("send %v: %v", m.Type, err)
		}
	}
	time.Sleep(time.Second) // the seeder has read them by now

	// The seeder still serves: a fetch from it succeeds.
	store, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res, err := Fetch(ctx, FetchOptions{Store: store, Collections: []*collection.Collection{coll}, TrustCollection: true,
		All: true, Peers: []string{addr}, Client: loopback()})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if got, err := os.ReadFile(r.Path); err != nil || !bytes.Equal(got, files[r.Name]) {
			t.Errorf("%s: %v %v", r.Name, r.Outcome, r.Err)
		}
	}
}
