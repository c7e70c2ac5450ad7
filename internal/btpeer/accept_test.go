package btpeer

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/mse"
	pp "github.com/anacrolix/torrent/peer_protocol"
)

// dial handshakes for ih as the dialling side over a loopback connection to
// a listener that runs Accept for want; with obfuscate it wraps the stream in
// MSE first. It returns the message the accepting side read after the
// handshake ("ping" sent by the dialler) and Accept's error.
func dial(t *testing.T, ih, want metainfo.Hash, obfuscate bool) (got string, acceptErr error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		err error
		got string
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		br, _, _, err := Accept(ctx, c, want, [20]byte{'a'}, pp.NewPeerExtensionBytes(pp.ExtensionBitFast))
		if err != nil {
			done <- result{err: err}
			return
		}
		b := make([]byte, 4)
		_, err = io.ReadFull(br, b)
		done <- result{err: err, got: string(b)}
	}()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var rw io.ReadWriter = c
	if obfuscate {
		if rw, _, err = mse.InitiateHandshakeContext(ctx, c, ih[:], nil, mse.AllSupportedCrypto); err != nil {
			t.Fatalf("MSE initiate: %v", err)
		}
	}
	if _, err := pp.Handshake(ctx, rw, &ih, [20]byte{'b'}, pp.NewPeerExtensionBytes(pp.ExtensionBitFast)); err == nil {
		rw.Write([]byte("ping"))
	}
	r := <-done
	return r.got, r.err
}

func TestAccept(t *testing.T) {
	ih := metainfo.HashBytes([]byte("one"))
	other := metainfo.HashBytes([]byte("two"))
	for _, obfuscate := range []bool{false, true} {
		if got, err := dial(t, ih, ih, obfuscate); err != nil || got != "ping" {
			t.Errorf("obfuscated %v: Accept gave %v and read %q, want the stream after the handshake (\"ping\")", obfuscate, err, got)
		}
	}
	if _, err := dial(t, other, ih, false); err == nil || !strings.Contains(err.Error(), "unknown infohash") {
		t.Errorf("a handshake for another torrent: %v, want an unknown-infohash error", err)
	}
}
