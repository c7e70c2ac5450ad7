package lsd

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/anacrolix/torrent/metainfo"
)

const (
	// Port is the UDP port of BEP 14.
	Port = 6771
	// MaxDatagram is the largest announce accepted (bytes): one Ethernet
	// MTU, like libtorrent's receive buffer.
	MaxDatagram = 1500
	// maxSendDatagram is the largest announce sent, leaving room for
	// tunnel headers.
	maxSendDatagram = 1400
	// MaxInfohashesPerDatagram bounds the infohashes taken from one
	// received announce; the rest are ignored.
	MaxInfohashesPerDatagram = 16

	// requestLine opens every announce.
	requestLine = "BT-SEARCH * HTTP/1.1"
	// hostV4 and hostV6 are the Host header values of each family.
	hostV4 = "239.192.152.143:6771"
	hostV6 = "[ff15::efc0:988f]:6771"
)

// Announce is one BEP 14 message.
type Announce struct {
	// Port is the announcer's BitTorrent listen port.
	Port int
	// Infohashes are the v1 infohashes announced.
	Infohashes []metainfo.Hash
	// Cookie identifies the announcer (empty if it sent none).
	Cookie string
}

// Errors of Parse.
var (
	ErrNotAnnounce = errors.New("not a BT-SEARCH announce")
	ErrTooLarge    = errors.New("announce too large")
)

// ParseAnnounce parses a received datagram. It accepts what libtorrent,
// qBittorrent, Transmission and aria2 send: CRLF or bare LF line ends,
// header names in any case, hex in any case, one or several Infohash
// headers. Infohashes that are not 40 hex digits (or are all zero) are
// skipped; an announce with none left, or without a valid Port, is an
// error.
func ParseAnnounce(b []byte) (Announce, error) {
	var a Announce
	if len(b) > MaxDatagram {
		return a, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(b))
	}
	lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	if !strings.EqualFold(strings.TrimSpace(lines[0]), requestLine) {
		return a, ErrNotAnnounce
	}
	for _, line := range lines[1:] {
		if line == "" {
			break // end of headers
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return a, fmt.Errorf("%w: header line without a colon", ErrNotAnnounce)
		}
		a.addHeader(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if a.Port == 0 {
		return a, fmt.Errorf("%w: no valid Port header", ErrNotAnnounce)
	}
	if len(a.Infohashes) == 0 {
		return a, fmt.Errorf("%w: no valid Infohash header", ErrNotAnnounce)
	}
	return a, nil
}

// addHeader takes one header into a; unknown headers and bad values are
// ignored, as libtorrent does.
func (a *Announce) addHeader(name, value string) {
	switch {
	case strings.EqualFold(name, "port"):
		if p, err := strconv.Atoi(value); err == nil && p > 0 && p <= 65535 {
			a.Port = p
		}
	case strings.EqualFold(name, "cookie"):
		a.Cookie = value
	case strings.EqualFold(name, "infohash"):
		if len(a.Infohashes) >= MaxInfohashesPerDatagram {
			return
		}
		if ih, ok := parseInfohash(value); ok {
			a.Infohashes = append(a.Infohashes, ih)
		}
	}
}

func parseInfohash(s string) (metainfo.Hash, bool) {
	var ih metainfo.Hash
	if len(s) != 2*len(ih) {
		return ih, false
	}
	if _, err := hex.Decode(ih[:], []byte(s)); err != nil || ih == (metainfo.Hash{}) {
		return ih, false
	}
	return ih, true
}

// MarshalAnnounces renders announces of port and cookie for ihs, as many
// infohashes to a datagram as fit in 1400 bytes, at most
// MaxInfohashesPerDatagram (BEP 14 allows several),
// with the Host header of the family (v6 true for IPv6).
func MarshalAnnounces(v6 bool, port int, cookie string, ihs []metainfo.Hash) [][]byte {
	host := hostV4
	if v6 {
		host = hostV6
	}
	head := fmt.Sprintf("%s\r\nHost: %s\r\nPort: %d\r\n", requestLine, host, port)
	tail := "cookie: " + cookie + "\r\n\r\n\r\n"
	const ihLine = len("Infohash: \r\n") + 40
	var out [][]byte
	var buf bytes.Buffer
	inBuf := 0
	for i, ih := range ihs {
		if inBuf == 0 {
			buf.WriteString(head)
		}
		buf.WriteString("Infohash: " + ih.HexString() + "\r\n")
		inBuf++
		last := i == len(ihs)-1
		full := inBuf == MaxInfohashesPerDatagram || buf.Len()+ihLine+len(tail) > maxSendDatagram
		if last || full {
			buf.WriteString(tail)
			out = append(out, bytes.Clone(buf.Bytes()))
			buf.Reset()
			inBuf = 0
		}
	}
	return out
}
