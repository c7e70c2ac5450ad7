package integration

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	pp "github.com/anacrolix/torrent/peer_protocol"

	"github.com/distswarm/distswarm/internal/btpeer"
)

// hostileMode is how a HostilePeer answers block requests.
type hostileMode int

const (
	// serveCorrect answers every request with the true bytes.
	serveCorrect hostileMode = iota
	// serveWrong answers every request with the true bytes inverted: every
	// piece it serves fails its hash check.
	serveWrong
	// serveNothing never answers a request (a lying bitfield that stalls).
	serveNothing
	// serveReject answers every request with a BEP 6 reject (a lying
	// bitfield that refuses).
	serveReject
	// rejectFirst rejects the first request of each connection (BEP 6)
	// and answers the rest with the true bytes: an honest seed that once
	// had no room for a request.
	rejectFirst
)

func (m hostileMode) String() string {
	return [...]string{"correct", "wrong", "nothing", "reject", "reject-first"}[m]
}

// metadataPieceSize is the BEP 9 metadata block size.
const metadataPieceSize = 16 << 10

// ourMetadataExtID is the extended message id the hostile peer asks its
// remote to use for ut_metadata messages sent to it.
const ourMetadataExtID pp.ExtensionNumber = 3

// HostilePeer is a minimal BitTorrent peer for fault tests, built on the
// anacrolix wire packages. It accepts connections for one torrent, does
// the BT handshake (plain or MSE) with the extension and fast bits, sends
// a BEP 10 extension handshake offering ut_metadata (BEP 9) for the info
// dict it was given, claims every piece in its bitfield (whatever it has),
// unchokes, and answers block requests according to its mode.
type HostilePeer struct {
	ln        net.Listener
	infoBytes []byte
	ih        metainfo.Hash
	info      metainfo.Info
	blob      []byte // the torrent's content, pads as zeros; nil serves zeros
	mode      hostileMode

	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool

	// Counters, for tests to prove the peer was used.
	Accepted     atomic.Int64 // connections that completed the BT handshake
	MetaServed   atomic.Int64 // ut_metadata blocks sent
	Requests     atomic.Int64 // block requests received
	BlocksServed atomic.Int64 // piece messages sent
	Rejected     atomic.Int64 // reject messages sent
}

// StartHostilePeer listens on host:0 (a 127.0.0.x address of its own, so
// that anacrolix's ban of its IP hits no honest peer) and serves the
// torrent whose bencoded info dict is infoBytes, with content blob, in
// mode. It is closed when the test ends.
func StartHostilePeer(t testing.TB, host string, infoBytes, blob []byte, mode hostileMode) *HostilePeer {
	t.Helper()
	var info metainfo.Info
	if err := bencode.Unmarshal(infoBytes, &info); err != nil {
		t.Fatalf("hostile peer: decode info: %v", err)
	}
	ln, err := net.Listen("tcp4", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("hostile peer: listen on %s: %v", host, err)
	}
	h := &HostilePeer{
		ln:        ln,
		infoBytes: infoBytes,
		ih:        metainfo.HashBytes(infoBytes),
		info:      info,
		blob:      blob,
		mode:      mode,
		conns:     map[net.Conn]struct{}{},
	}
	h.wg.Add(1)
	go h.acceptLoop(t)
	t.Cleanup(h.Close)
	return h
}

// Addr is the peer's HOST:PORT.
func (h *HostilePeer) Addr() string { return h.ln.Addr().String() }

// InfoHash is the v1 infohash of the torrent it serves.
func (h *HostilePeer) InfoHash() metainfo.Hash { return h.ih }

// Magnet is a magnet URI for the torrent it serves (no trackers).
func (h *HostilePeer) Magnet() string {
	return "magnet:?xt=urn:btih:" + h.ih.HexString()
}

// Stats summarises the counters.
func (h *HostilePeer) Stats() string {
	return fmt.Sprintf("mode %s: %d conns, %d metadata blocks, %d requests, %d blocks served, %d rejects",
		h.mode, h.Accepted.Load(), h.MetaServed.Load(), h.Requests.Load(), h.BlocksServed.Load(), h.Rejected.Load())
}

// Close stops accepting, drops every connection and waits for the
// goroutines (bounded by the connections' deadlines).
func (h *HostilePeer) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	h.ln.Close()
	for c := range h.conns {
		c.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

func (h *HostilePeer) acceptLoop(t testing.TB) {
	defer h.wg.Done()
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			c.Close()
			return
		}
		h.conns[c] = struct{}{}
		h.wg.Add(1)
		h.mu.Unlock()
		go func() {
			defer h.wg.Done()
			err := h.serve(c)
			h.mu.Lock()
			delete(h.conns, c)
			h.mu.Unlock()
			c.Close()
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, syscall.ECONNRESET) {
				t.Logf("hostile peer %s: connection from %s: %v", h.Addr(), c.RemoteAddr(), err)
			}
		}()
	}
}

// serve runs one connection. Every connection lives at most two minutes.
func (h *HostilePeer) serve(c net.Conn) error {
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var peerID [20]byte
	copy(peerID[:], "-HOSTILE-0001-xxxxxx")
	ext := pp.NewPeerExtensionBytes(pp.ExtensionBitLtep, pp.ExtensionBitFast)
	br, w, res, err := btpeer.Accept(ctx, c, h.ih, peerID, ext)
	if err != nil {
		return err
	}
	h.Accepted.Add(1)
	fast := res.PeerExtensionBits.SupportsFast()

	var wmu sync.Mutex
	send := func(m pp.Message) error {
		b, err := m.MarshalBinary()
		if err != nil {
			return fmt.Errorf("marshal %v: %w", m.Type, err)
		}
		wmu.Lock()
		defer wmu.Unlock()
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("write %v: %w", m.Type, err)
		}
		return nil
	}

	if res.PeerExtensionBits.SupportsExtended() {
		hs, err := bencode.Marshal(pp.ExtendedHandshakeMessage{
			M:            map[pp.ExtensionName]pp.ExtensionNumber{pp.ExtensionNameMetadata: ourMetadataExtID},
			V:            "hostile 0.1",
			Reqq:         250,
			MetadataSize: len(h.infoBytes),
		})
		if err != nil {
			return fmt.Errorf("extended handshake: %w", err)
		}
		if err := send(pp.Message{Type: pp.Extended, ExtendedID: pp.HandshakeExtendedID, ExtendedPayload: hs}); err != nil {
			return err
		}
	}
	// The lie (or the truth): every piece.
	bf := make([]bool, h.info.NumPieces())
	for i := range bf {
		bf[i] = true
	}
	if err := send(pp.Message{Type: pp.Bitfield, Bitfield: bf}); err != nil {
		return err
	}
	if err := send(pp.Message{Type: pp.Unchoke}); err != nil {
		return err
	}

	var remoteMetaID pp.ExtensionNumber
	rejectedOne := false
	d := pp.Decoder{
		R:         br,
		MaxLength: 1 << 20,
		Pool:      &sync.Pool{New: func() any { b := make([]byte, 1<<17); return &b }},
	}
	for {
		var m pp.Message
		if err := d.Decode(&m); err != nil {
			return err
		}
		if m.Keepalive {
			continue
		}
		switch m.Type {
		case pp.Extended:
			if m.ExtendedID == pp.HandshakeExtendedID {
				var ehs pp.ExtendedHandshakeMessage
				if err := bencode.Unmarshal(m.ExtendedPayload, &ehs); err != nil {
					return fmt.Errorf("remote extended handshake: %w", err)
				}
				remoteMetaID = ehs.M[pp.ExtensionNameMetadata]
				continue
			}
			if m.ExtendedID != ourMetadataExtID || remoteMetaID == 0 {
				continue
			}
			var req pp.ExtendedMetadataRequestMsg
			if err := bencode.Unmarshal(m.ExtendedPayload, &req); err != nil {
				return fmt.Errorf("ut_metadata message: %w", err)
			}
			if req.Type != pp.RequestMetadataExtensionMsgType {
				continue
			}
			if err := send(h.metadataReply(remoteMetaID, req.Piece)); err != nil {
				return err
			}
		case pp.Request:
			h.Requests.Add(1)
			switch h.mode {
			case serveNothing:
				continue
			case serveReject, rejectFirst:
				if h.mode == rejectFirst && rejectedOne {
					break
				}
				rejectedOne = true
				if fast {
					h.Rejected.Add(1)
					if err := send(pp.Message{Type: pp.Reject, Index: m.Index, Begin: m.Begin, Length: m.Length}); err != nil {
						return err
					}
				}
				continue
			}
			block, err := h.block(int(m.Index), int64(m.Begin), int64(m.Length))
			if err != nil {
				return err
			}
			if h.mode == serveWrong {
				for i := range block {
					block[i] ^= 0xff
				}
			}
			h.BlocksServed.Add(1)
			if err := send(pp.Message{Type: pp.Piece, Index: m.Index, Begin: m.Begin, Piece: block}); err != nil {
				return err
			}
		case pp.Piece:
			d.Pool.Put(&m.Piece)
		}
	}
}

// metadataReply answers a ut_metadata request for block i (data or reject).
func (h *HostilePeer) metadataReply(remoteID pp.ExtensionNumber, i int) pp.Message {
	start := i * metadataPieceSize
	if i < 0 || start >= len(h.infoBytes) {
		return pp.Message{Type: pp.Extended, ExtendedID: remoteID, ExtendedPayload: bencode.MustMarshal(pp.ExtendedMetadataRequestMsg{
			Piece: i, Type: pp.RejectMetadataExtensionMsgType,
		})}
	}
	end := min(start+metadataPieceSize, len(h.infoBytes))
	head := bencode.MustMarshal(pp.ExtendedMetadataRequestMsg{
		Piece: i, TotalSize: len(h.infoBytes), Type: pp.DataMetadataExtensionMsgType,
	})
	h.MetaServed.Add(1)
	return pp.Message{Type: pp.Extended, ExtendedID: remoteID, ExtendedPayload: append(head, h.infoBytes[start:end]...)}
}

// block returns a copy of the requested block of the torrent's content.
func (h *HostilePeer) block(piece int, begin, length int64) ([]byte, error) {
	if piece < 0 || piece >= h.info.NumPieces() || begin < 0 || length <= 0 || length > 1<<17 {
		return nil, fmt.Errorf("bad request piece %d begin %d length %d", piece, begin, length)
	}
	off := int64(piece)*h.info.PieceLength + begin
	out := make([]byte, length)
	if off < int64(len(h.blob)) {
		copy(out, h.blob[off:])
	}
	return out, nil
}

// CollectionBlob builds the content of a collection torrent created by
// `distswarm collection create --from src --out tor`: files are read from
// src by base name, the collection Manifest from tor's sidecar when there
// is one, pads and anything missing are zeros.
func CollectionBlob(t testing.TB, tor, src string) (infoBytes, blob []byte) {
	t.Helper()
	mi, err := metainfo.LoadFromFile(tor)
	if err != nil {
		t.Fatalf("load %s: %v", tor, err)
	}
	info, err := mi.UnmarshalInfo()
	if err != nil {
		t.Fatalf("info of %s: %v", tor, err)
	}
	blob = make([]byte, 0, info.TotalLength())
	for i, f := range info.UpvertedFiles() {
		part := make([]byte, f.Length)
		if !strings.Contains(f.Attr, "p") && len(f.Path) > 0 {
			p := filepath.Join(src, f.Path[len(f.Path)-1])
			if i == 0 {
				p = tor + ".Manifest"
			}
			if b, err := os.ReadFile(p); err == nil {
				copy(part, b)
			}
		}
		blob = append(blob, part...)
	}
	return mi.InfoBytes, blob
}

// pieceHashes returns the concatenated SHA-1 piece hashes of blob.
func pieceHashes(blob []byte, pieceLength int64) []byte {
	var out []byte
	for off := int64(0); off < int64(len(blob)); off += pieceLength {
		s := sha1.Sum(blob[off:min(off+pieceLength, int64(len(blob)))])
		out = append(out, s[:]...)
	}
	return out
}
