// Package btpeer holds the accepting side of a BitTorrent handshake, for the
// minimal peers that tests write on anacrolix's wire packages (integration's
// HostilePeer, swarm's silent seed).
package btpeer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/mse"
	pp "github.com/anacrolix/torrent/peer_protocol"
)

// Accept answers the handshake of an incoming connection for torrent ih,
// plain or behind an obfuscated header (MSE, which anacrolix dials with by
// default), offering peerID and ext. It returns a buffered reader and a
// writer for the messages that follow, and the remote's handshake. A
// handshake for another torrent is an error.
func Accept(ctx context.Context, c net.Conn, ih metainfo.Hash, peerID [20]byte, ext pp.PeerExtensionBits) (*bufio.Reader, io.Writer, pp.HandshakeResult, error) {
	br := bufio.NewReader(c)
	var w io.Writer = c
	first, err := br.Peek(len(pp.Protocol))
	if err != nil {
		return nil, nil, pp.HandshakeResult{}, fmt.Errorf("read handshake: %w", err)
	}
	if string(first) != pp.Protocol {
		rw, _, err := mse.ReceiveHandshake(ctx, struct {
			io.Reader
			io.Writer
		}{br, c}, func(cb func([]byte) bool) { cb(ih[:]) }, mse.DefaultCryptoSelector)
		if err != nil {
			return nil, nil, pp.HandshakeResult{}, fmt.Errorf("MSE handshake: %w", err)
		}
		br, w = bufio.NewReader(rw), rw
	}
	res, err := pp.Handshake(ctx, struct {
		io.Reader
		io.Writer
	}{br, w}, nil, peerID, ext)
	if err != nil {
		return nil, nil, res, fmt.Errorf("BT handshake: %w", err)
	}
	if res.Hash != ih {
		return nil, nil, res, fmt.Errorf("BT handshake for unknown infohash %s", res.Hash.HexString())
	}
	return br, w, res, nil
}
