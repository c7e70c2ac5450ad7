package manifest

import (
	"errors"
	"fmt"
	"strings"
)

// ParseDigestsArg parses Portage's ${DIGESTS} FETCHCOMMAND variable,
// "blake2b:<hex> sha512:<hex>", into Digests keyed by upper-cased GLEP 74
// names ({"BLAKE2B": ..., "SHA512": ...}). Values are lower-cased. Empty
// input, a field without ':', an empty name, a non-hex value, a wrong
// length for a supported hash or a repeated name is an error. Unknown
// names (e.g. "streebog256") are kept; callers verify with the supported
// subset.
func ParseDigestsArg(s string) (Digests, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, errors.New("parse digests: empty")
	}
	d := make(Digests, len(fields))
	for _, f := range fields {
		name, val, ok := strings.Cut(f, ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("parse digests: %s: want name:hex", quoteShort(f))
		}
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
				return nil, fmt.Errorf("parse digests: invalid hash name %s", quoteShort(name))
			}
		}
		name = strings.ToUpper(name)
		if _, dup := d[name]; dup {
			return nil, fmt.Errorf("parse digests: %s given twice", name)
		}
		v, err := normalizeHex(name, val)
		if err != nil {
			return nil, fmt.Errorf("parse digests: %w", err)
		}
		d[name] = v
	}
	return d, nil
}
