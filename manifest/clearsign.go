package manifest

import (
	"errors"
	"strings"
)

// OpenPGP cleartext-signature framework (RFC 4880 §7) as used by signed
// Manifests. The structure is checked; the signature itself is NOT verified
// (see Manifest.Signed).
const (
	pgpBeginSigned = "-----BEGIN PGP SIGNED MESSAGE-----"
	pgpBeginSig    = "-----BEGIN PGP SIGNATURE-----"
	pgpEndSig      = "-----END PGP SIGNATURE-----"
)

type clearsignState int

const (
	csPlain     clearsignState = iota // no wrapper seen (yet)
	csHeaders                         // armour headers, until the blank line
	csSigned                          // signed text
	csSignature                       // signature block
	csAfter                           // after END PGP SIGNATURE
)

// clearsign is a line filter separating Manifest content from the wrapper.
type clearsign struct {
	state clearsignState
}

// line consumes one raw line (trailing whitespace already trimmed). It
// returns the content to parse as a Manifest line and whether there is any.
// haveEntries tells whether entries were already read (unsigned data before
// the wrapper is an error, like gemato's ManifestUnsignedData).
func (c *clearsign) line(l string, haveEntries bool) (string, bool, error) {
	switch c.state {
	case csPlain:
		if l == pgpBeginSigned {
			if haveEntries {
				return "", false, errors.New("unsigned data before " + pgpBeginSigned)
			}
			c.state = csHeaders
			return "", false, nil
		}
		if strings.HasPrefix(l, "-----") {
			return "", false, errors.New("unexpected OpenPGP armour line " + quoteShort(l))
		}
		return l, true, nil
	case csHeaders:
		if l == "" {
			c.state = csSigned
			return "", false, nil
		}
		if k, _, ok := strings.Cut(l, ": "); !ok || k == "" || strings.ContainsAny(k, " \t") {
			return "", false, errors.New("malformed OpenPGP armour header " + quoteShort(l))
		}
		return "", false, nil
	case csSigned:
		if l == pgpBeginSig {
			c.state = csSignature
			return "", false, nil
		}
		if rest, ok := strings.CutPrefix(l, "- "); ok {
			return rest, true, nil
		}
		if l == "-" { // "- " with its trailing space trimmed
			return "", true, nil
		}
		if strings.HasPrefix(l, "-") {
			return "", false, errors.New("line starting with '-' not dash-escaped in signed text")
		}
		return l, true, nil
	case csSignature:
		if l == pgpEndSig {
			c.state = csAfter
		} else if strings.HasPrefix(l, "-----") {
			return "", false, errors.New("unexpected OpenPGP armour line " + quoteShort(l) + " in signature")
		}
		return "", false, nil
	default: // csAfter
		if l != "" {
			return "", false, errors.New("unsigned data after " + pgpEndSig)
		}
		return "", false, nil
	}
}

// finish reports a truncated wrapper at end of input.
func (c *clearsign) finish() error {
	switch c.state {
	case csHeaders:
		return errors.New("truncated OpenPGP wrapper: end of input in armour headers")
	case csSigned:
		return errors.New("truncated OpenPGP wrapper: no signature block")
	case csSignature:
		return errors.New("truncated OpenPGP wrapper: no " + pgpEndSig)
	}
	return nil
}

// signed reports whether a wrapper was seen.
func (c *clearsign) signed() bool { return c.state != csPlain }

func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + s + `"`
}
