package binpkg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// XPAK framing (man 5 xpak): [tar]XPAKPACK<index_len><data_len>[index][data]XPAKSTOP<infosize>STOP,
// integers big-endian uint32; index entries are <name_len><name><offset><len>
// with offsets relative to the data block.
const (
	xpakHead    = "XPAKPACK"
	xpakTail    = "XPAKSTOP"
	xpakStop    = "STOP"
	trailerSize = 16 // XPAKSTOP + infosize + STOP
	// minXPAK is the smallest blob: XPAKPACK, two lengths, XPAKSTOP.
	minXPAK = 8 + 4 + 4 + 8
)

// ErrNotXPAK is wrapped when a file has no XPAK trailer.
var ErrNotXPAK = errors.New("no XPAK trailer")

// XPAKFile is what ReadXPAK finds in a .xpak/.tbz2 package.
type XPAKFile struct {
	Metadata Metadata
	Keys     []string // keys in index order
	// TarSize is the length of the compressed tar before the XPAK blob.
	TarSize int64
}

// ReadXPAK reads the XPAK trailer of a package of the given size, as
// Portage's tbz2.scan does: the last 16 bytes must be XPAKSTOP, infosize,
// STOP, and infosize bytes before them must start with XPAKPACK. The blob
// is bounded by MaxMetadataSize.
func ReadXPAK(r io.ReaderAt, size int64) (*XPAKFile, error) {
	// The trailer's XPAKSTOP is the blob's last 8 bytes: the smallest
	// package is an empty blob plus infosize and STOP (and no tar at all).
	if size < minXPAK+8 {
		return nil, fmt.Errorf("read xpak: %d bytes is too short: %w", size, ErrNotXPAK)
	}
	var tr [trailerSize]byte
	if _, err := r.ReadAt(tr[:], size-trailerSize); err != nil {
		return nil, fmt.Errorf("read xpak trailer: %w", err)
	}
	if string(tr[:8]) != xpakTail || string(tr[12:]) != xpakStop {
		return nil, fmt.Errorf("read xpak: %w", ErrNotXPAK)
	}
	infosize := int64(binary.BigEndian.Uint32(tr[8:12]))
	if infosize > MaxMetadataSize+1<<20 {
		return nil, fmt.Errorf("read xpak: blob of %d bytes: %w", infosize, ErrLimit)
	}
	if infosize < minXPAK || infosize+8 > size {
		return nil, fmt.Errorf("read xpak: blob size %d does not fit a %d-byte file", infosize, size)
	}
	blob := make([]byte, infosize)
	if _, err := r.ReadAt(blob, size-8-infosize); err != nil {
		return nil, fmt.Errorf("read xpak blob: %w", err)
	}
	x, err := ParseXPAK(blob)
	if err != nil {
		return nil, err
	}
	x.TarSize = size - 8 - infosize
	return x, nil
}

// ParseXPAK parses one XPAKPACK…XPAKSTOP blob. Every index entry must lie
// inside the data block and keys must be unique and valid file names.
func ParseXPAK(blob []byte) (*XPAKFile, error) {
	if len(blob) < minXPAK || string(blob[:8]) != xpakHead || string(blob[len(blob)-8:]) != xpakTail {
		return nil, fmt.Errorf("parse xpak: not XPAKPACK…XPAKSTOP")
	}
	indexLen := int64(binary.BigEndian.Uint32(blob[8:12]))
	dataLen := int64(binary.BigEndian.Uint32(blob[12:16]))
	if 16+indexLen+dataLen+8 != int64(len(blob)) {
		return nil, fmt.Errorf("parse xpak: index %d + data %d bytes do not fill the %d-byte blob", indexLen, dataLen, len(blob))
	}
	index := blob[16 : 16+indexLen]
	data := blob[16+indexLen : 16+indexLen+dataLen]
	x := &XPAKFile{Metadata: Metadata{}}
	for len(index) > 0 {
		key, val, rest, err := xpakIndexEntry(index, data)
		if err != nil {
			return nil, fmt.Errorf("parse xpak: index entry %d: %w", len(x.Keys)+1, err)
		}
		if _, dup := x.Metadata[key]; dup {
			return nil, fmt.Errorf("parse xpak: key %q twice", key)
		}
		if len(x.Keys) >= MaxMetadataKeys {
			return nil, fmt.Errorf("parse xpak: more than %d keys: %w", MaxMetadataKeys, ErrLimit)
		}
		x.Keys = append(x.Keys, key)
		x.Metadata[key] = val
		index = rest
	}
	return x, nil
}

func xpakIndexEntry(index, data []byte) (key string, val, rest []byte, err error) {
	if len(index) < 4 {
		return "", nil, nil, errors.New("truncated name length")
	}
	n := int64(binary.BigEndian.Uint32(index))
	if n > int64(len(index))-12 {
		return "", nil, nil, fmt.Errorf("name of %d bytes overruns the index", n)
	}
	key = string(index[4 : 4+n])
	if err := checkMetadataKey(key); err != nil {
		return "", nil, nil, err
	}
	off := int64(binary.BigEndian.Uint32(index[4+n:]))
	length := int64(binary.BigEndian.Uint32(index[8+n:]))
	if off+length > int64(len(data)) {
		return "", nil, nil, fmt.Errorf("%s: data %d+%d outside the %d-byte data block", key, off, length, len(data))
	}
	return key, bytes.Clone(data[off : off+length]), index[12+n:], nil
}

// EncodeXPAK builds an XPAKPACK…XPAKSTOP blob from keys in the given order
// (Portage writes them sorted), as Portage's xpak_mem does.
func EncodeXPAK(m Metadata, keys []string) ([]byte, error) {
	var index, data bytes.Buffer
	for _, k := range keys {
		v, ok := m[k]
		if !ok {
			return nil, fmt.Errorf("encode xpak: no value for %q", k)
		}
		if err := checkMetadataKey(k); err != nil {
			return nil, fmt.Errorf("encode xpak: %w", err)
		}
		index.Write(be32(len(k)))
		index.WriteString(k)
		index.Write(be32(data.Len()))
		index.Write(be32(len(v)))
		data.Write(v)
	}
	if int64(index.Len())+int64(data.Len()) > MaxMetadataSize {
		return nil, fmt.Errorf("encode xpak: %w", ErrLimit)
	}
	var b bytes.Buffer
	b.WriteString(xpakHead)
	b.Write(be32(index.Len()))
	b.Write(be32(data.Len()))
	b.Write(index.Bytes())
	b.Write(data.Bytes())
	b.WriteString(xpakTail)
	return b.Bytes(), nil
}

// XPAKTrailer is what follows the blob in a package: infosize and STOP.
func XPAKTrailer(blob []byte) []byte {
	return append(be32(len(blob)), xpakStop...)
}

func be32(n int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }
