package collection

import (
	"bytes"
	"errors"
	"fmt"
)

// Bounds of the bencode pre-scan (ScanBencode). anacrolix's decoder
// recurses once per nesting level with no limit of its own: 4 MB of nested
// lists overflowed the goroutine stack ("fatal error: stack overflow", which
// no recover catches). Every .torrent and info dict distswarm reads from a
// file or a peer is scanned iteratively, with these bounds, before the
// decoder sees it.
const (
	// MaxBencodeDepth bounds the nesting of lists and dicts. A v1 info
	// dict nests 4 deep inside its .torrent (info, files, file, path); a
	// v2 file tree adds one level per path component.
	MaxBencodeDepth = 64
	// MaxBencodeValues bounds the values (integers, strings, lists and
	// dicts, dict keys included) of one document: ~16 per file entry of a
	// hybrid torrent at MaxFileEntries, so every well-formed torrent
	// distswarm accepts fits.
	MaxBencodeValues = 1 << 22
)

// BencodeLimits are the bounds ScanBencode enforces; zero fields take the
// package defaults.
type BencodeLimits struct {
	MaxDepth  int
	MaxValues int
}

// ErrBencodeLimit is wrapped by the errors of ScanBencode for input that is
// well-formed so far but exceeds a bound.
var ErrBencodeLimit = errors.New("bencode over limit")

// ScanBencode checks that data is exactly one well-formed bencode value
// within the default bounds, without recursion and without allocating per
// value. It is cheap (one pass, a few ns a byte) and is meant to run before
// any recursive decoder.
func ScanBencode(data []byte) error {
	return ScanBencodeLimits(data, BencodeLimits{})
}

// ScanBencodeLimits is ScanBencode with explicit bounds.
func ScanBencodeLimits(data []byte, lim BencodeLimits) error {
	s := newBenScanner(data, lim)
	for {
		tok, err := s.next()
		if err != nil {
			return err
		}
		if tok.kind == tokEOF {
			return nil
		}
	}
}

// Token kinds of benScanner.
const (
	tokEOF = iota
	tokInt
	tokString
	tokList
	tokDict
	tokEnd
)

// benToken is one token: a scalar (with its bytes: the digits of an
// integer, the content of a string), the start of a list or dict, or the
// end of one. depth is the nesting of the token (0 for the top value; an
// end token has its container's depth).
type benToken struct {
	kind  int
	value []byte
	depth int
	key   bool // a string that is a dict key
}

// benScanner tokenizes one bencode value iteratively, validating the
// syntax (integers, string lengths, dict keys are strings) and the bounds.
type benScanner struct {
	data []byte
	pos  int
	lim  BencodeLimits
	// stack holds, per open container, whether it is a dict and whether
	// the next item of the dict is a key.
	stack  []benFrame
	values int
	done   bool
}

type benFrame struct {
	dict, wantKey bool
}

func newBenScanner(data []byte, lim BencodeLimits) *benScanner {
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = MaxBencodeDepth
	}
	if lim.MaxValues <= 0 {
		lim.MaxValues = MaxBencodeValues
	}
	return &benScanner{data: data, lim: lim, stack: make([]benFrame, 0, 8)}
}

func (s *benScanner) errorf(format string, args ...any) error {
	return fmt.Errorf("bencode at offset %d: %s", s.pos, fmt.Sprintf(format, args...))
}

// next returns the next token; after the top value has ended it checks
// that no data trails and returns tokEOF.
func (s *benScanner) next() (benToken, error) {
	if s.done {
		if s.pos != len(s.data) {
			return benToken{}, s.errorf("%d bytes of trailing data", len(s.data)-s.pos)
		}
		return benToken{kind: tokEOF}, nil
	}
	if s.pos >= len(s.data) {
		return benToken{}, s.errorf("unexpected end of data")
	}
	c := s.data[s.pos]
	if c == 'e' {
		return s.end()
	}
	if err := s.checkKey(c); err != nil {
		return benToken{}, err
	}
	s.values++
	if s.values > s.lim.MaxValues {
		return benToken{}, fmt.Errorf("%w: more than %d values", ErrBencodeLimit, s.lim.MaxValues)
	}
	depth := len(s.stack)
	switch {
	case c == 'l' || c == 'd':
		if depth+1 > s.lim.MaxDepth {
			return benToken{}, fmt.Errorf("%w: nested deeper than %d at offset %d", ErrBencodeLimit, s.lim.MaxDepth, s.pos)
		}
		s.pos++
		s.stack = append(s.stack, benFrame{dict: c == 'd', wantKey: c == 'd'})
		if c == 'd' {
			return benToken{kind: tokDict, depth: depth}, nil
		}
		return benToken{kind: tokList, depth: depth}, nil
	case c == 'i':
		v, err := s.integer()
		if err != nil {
			return benToken{}, err
		}
		s.valueDone()
		return benToken{kind: tokInt, value: v, depth: depth}, nil
	case c >= '0' && c <= '9':
		v, err := s.str()
		if err != nil {
			return benToken{}, err
		}
		key := depth > 0 && s.stack[depth-1].wantKey
		s.valueDone()
		return benToken{kind: tokString, value: v, depth: depth, key: key}, nil
	default:
		return benToken{}, s.errorf("unexpected byte %q", c)
	}
}

// checkKey refuses a non-string where a dict expects a key.
func (s *benScanner) checkKey(c byte) error {
	if n := len(s.stack); n > 0 && s.stack[n-1].wantKey && (c < '0' || c > '9') {
		return s.errorf("dict key is not a string (%q)", c)
	}
	return nil
}

// end closes the innermost container.
func (s *benScanner) end() (benToken, error) {
	n := len(s.stack)
	if n == 0 {
		return benToken{}, s.errorf("unexpected 'e'")
	}
	if f := s.stack[n-1]; f.dict && !f.wantKey {
		return benToken{}, s.errorf("dict key without a value")
	}
	s.pos++
	s.stack = s.stack[:n-1]
	s.valueDone()
	return benToken{kind: tokEnd, depth: n - 1}, nil
}

// valueDone flips a dict between key and value, and marks the end of the
// top value.
func (s *benScanner) valueDone() {
	n := len(s.stack)
	if n == 0 {
		s.done = true
		return
	}
	if s.stack[n-1].dict {
		s.stack[n-1].wantKey = !s.stack[n-1].wantKey
	}
}

// integer reads "i<digits>e" (no leading zeros, no "-0").
func (s *benScanner) integer() ([]byte, error) {
	end := bytes.IndexByte(s.data[s.pos:], 'e')
	if end < 0 {
		return nil, s.errorf("unterminated integer")
	}
	v := s.data[s.pos+1 : s.pos+end]
	digits := bytes.TrimPrefix(v, []byte("-"))
	if len(digits) == 0 || len(digits) > 19 || !allDigits(digits) ||
		(digits[0] == '0' && (len(digits) > 1 || len(v) > 1)) {
		return nil, s.errorf("bad integer %q", trunc(string(v)))
	}
	s.pos += end + 1
	return v, nil
}

// str reads "<length>:<bytes>".
func (s *benScanner) str() ([]byte, error) {
	colon := bytes.IndexByte(s.data[s.pos:], ':')
	if colon < 0 || colon > 18 {
		return nil, s.errorf("bad string length")
	}
	lenDigits := s.data[s.pos : s.pos+colon]
	if !allDigits(lenDigits) || (lenDigits[0] == '0' && len(lenDigits) > 1) {
		return nil, s.errorf("bad string length %q", lenDigits)
	}
	var n int
	for _, d := range lenDigits {
		n = n*10 + int(d-'0')
	}
	start := s.pos + colon + 1
	if n > len(s.data)-start {
		return nil, s.errorf("string of %d bytes overruns the data", n)
	}
	s.pos = start + n
	return s.data[start:s.pos], nil
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// Bounds of an info dict's file list, checked by ParseInfo before the
// decoder allocates anything per file.
const (
	// MaxFileEntries bounds the file entries of one torrent, pad files
	// included (Create adds up to one per file): 131,072 distfiles per
	// torrent. Create shards far below it (DefaultMaxFilesPerTorrent).
	MaxFileEntries = 1 << 18
	// MaxPathBytes bounds the bytes of all the strings inside the file
	// entries (path components, their UTF-8 variants, attributes).
	MaxPathBytes = 32 << 20
)

// infoShape is what checkInfoShape counts in an info dict.
type infoShape struct {
	files     int   // entries of the v1 "files" list
	treeFiles int   // files of the v2 "file tree"
	pathBytes int64 // string bytes inside either
}

// checkInfoShape scans a bencoded info dict (ScanBencode's checks) and
// bounds its file entries and their string bytes, failing as soon as a
// bound is passed.
func checkInfoShape(infoBytes []byte) (infoShape, error) {
	return checkShape(infoBytes, 0)
}

// checkTorrentShape is checkInfoShape for a whole .torrent: the info dict
// is the value of its top-level key "info".
func checkTorrentShape(data []byte) (infoShape, error) {
	return checkShape(data, 1)
}

// checkShape walks data with ScanBencode's checks and counts the file
// entries of the info dict found at depth infoDepth (0: data is the info
// dict; 1: the value of data's key "info").
func checkShape(data []byte, infoDepth int) (infoShape, error) {
	var sh infoShape
	s := newBenScanner(data, BencodeLimits{})
	keys := make([]string, infoDepth+2) // the last key seen at each depth up to the info's keys
	inInfo := infoDepth == 0
	inFiles := false // walking the value of "files" or "file tree"
	for {
		tok, err := s.next()
		if err != nil {
			return sh, err
		}
		if tok.kind == tokEOF {
			return sh, nil
		}
		if tok.depth == 0 && tok.kind != tokDict && tok.kind != tokEnd {
			return sh, errors.New("not a dict")
		}
		if tok.key && tok.depth < len(keys) {
			keys[tok.depth] = string(tok.value)
			continue
		}
		rel := tok.depth - infoDepth // depth relative to the info dict
		switch {
		case infoDepth == 1 && tok.depth == 1 && keys[1] == "info":
			inInfo = tok.kind == tokDict // entering it, or leaving it
		case !inInfo:
		case rel == 1 && (keys[tok.depth] == "files" || keys[tok.depth] == "file tree"):
			inFiles = tok.kind == tokList || tok.kind == tokDict
		case inFiles:
			if err := sh.count(keys[infoDepth+1], rel, tok); err != nil {
				return sh, err
			}
		}
	}
}

// count adds one token inside "files" or "file tree" to the shape; rel is
// its depth relative to the info dict.
func (sh *infoShape) count(topKey string, rel int, tok benToken) error {
	switch {
	case topKey == "files" && rel == 2 && tok.kind == tokDict:
		sh.files++
	case topKey == "file tree" && tok.key && len(tok.value) == 0:
		sh.treeFiles++ // a file's entry is keyed "" below its name
	case tok.kind == tokString:
		sh.pathBytes += int64(len(tok.value))
	}
	if n := max(sh.files, sh.treeFiles); n > MaxFileEntries {
		return fmt.Errorf("%w: more than %d file entries", ErrBencodeLimit, MaxFileEntries)
	}
	if sh.pathBytes > MaxPathBytes {
		return fmt.Errorf("%w: more than %d bytes of file paths", ErrBencodeLimit, MaxPathBytes)
	}
	return nil
}
