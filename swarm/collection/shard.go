package collection

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/blake2b"

	"github.com/distswarm/distswarm/storage/layout"
)

// ShardHash is the only hash a ShardRule uses: the GLEP 75 filename hash.
const ShardHash = "BLAKE2B"

// DefaultSmallBelow is the size-class boundary of sharded collections:
// files smaller than this go to the small class.
const DefaultSmallBelow int64 = 1 << 20

// DefaultMaxFilesPerTorrent is CreateOptions.MaxFilesPerTorrent's default.
const DefaultMaxFilesPerTorrent = 4096

// maxHexDigits bounds ShardRule.HexDigits (256 buckets).
const maxHexDigits = 2

// ShardRule maps a distfile (name, size) to the key of its shard.
type ShardRule struct {
	// Hash is always "BLAKE2B": BLAKE2B-512 of the file name, as GLEP 75's
	// filename-hash layout computes it.
	Hash string `json:"hash"`
	// HexDigits is how many leading hex digits of the hash select the
	// bucket: 0, 1 or 2 (1, 16 or 256 buckets).
	HexDigits int `json:"hex_digits"`
	// SmallBelow, when positive, splits each bucket in two size classes:
	// files with size < SmallBelow are class "s", the others class "l".
	// Zero means no size classes.
	SmallBelow int64 `json:"small_below,omitempty"`
}

func (r ShardRule) validate() error {
	if r.Hash != ShardHash {
		return fmt.Errorf("shard rule: hash %q is not %q", r.Hash, ShardHash)
	}
	if r.HexDigits < 0 || r.HexDigits > maxHexDigits {
		return fmt.Errorf("shard rule: hex_digits %d not in 0..%d", r.HexDigits, maxHexDigits)
	}
	if r.SmallBelow < 0 {
		return fmt.Errorf("shard rule: negative small_below %d", r.SmallBelow)
	}
	if r.HexDigits == 0 && r.SmallBelow == 0 {
		return errors.New("shard rule: a rule with one shard needs no index")
	}
	return nil
}

// Key returns the shard key of a distfile. size is needed only when the rule
// has size classes; pass a negative size when it is unknown (an error then).
func (r ShardRule) Key(name string, size int64) (string, error) {
	if err := layout.ValidName(name); err != nil {
		return "", err
	}
	var b strings.Builder
	if r.HexDigits > 0 {
		sum := blake2b.Sum512([]byte(name))
		b.WriteString(hex.EncodeToString(sum[:])[:r.HexDigits])
	}
	if r.SmallBelow > 0 {
		switch {
		case size < 0:
			return "", fmt.Errorf("shard of %q: the collection has size classes and the size is unknown", name)
		case size < r.SmallBelow:
			b.WriteByte('s')
		default:
			b.WriteByte('l')
		}
	}
	return b.String(), nil
}

// isLargeClass reports whether the shard key names a class of large files.
func (r ShardRule) isLargeClass(key string) bool {
	return r.SmallBelow > 0 && strings.HasSuffix(key, "l")
}

// validKey reports whether key can be produced by r.
func (r ShardRule) validKey(key string) bool {
	want := r.HexDigits
	if r.SmallBelow > 0 {
		want++
	}
	if len(key) != want {
		return false
	}
	for i := 0; i < r.HexDigits; i++ {
		c := key[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	if r.SmallBelow > 0 {
		c := key[len(key)-1]
		return c == 's' || c == 'l'
	}
	return true
}

// hexDigitsFor returns the number of bucket digits for n files so that no
// bucket exceeds maxFiles in expectation.
func hexDigitsFor(n, maxFiles int) int {
	switch {
	case n <= maxFiles:
		return 0
	case n <= 16*maxFiles:
		return 1
	default:
		return maxHexDigits
	}
}
