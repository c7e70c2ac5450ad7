// Package trust decides whether a binary package may be used: a trust
// file (Policy) names the keys a user trusts and a threshold k, and
// Evaluate counts, for one package, how many of those M keys attest the
// package's exact bytes for its build configuration.
//
// The counts always add up to M: a trusted key agrees, disagrees, or is
// missing. A key that said nothing about the package is missing, never
// agreement (Trustix computes its confidence over the keys that answered,
// so one answering key gives 100 %). Keys not in the trust file count for
// nothing, however many sign. Bad signatures are reported and ignored.
package trust

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/BurntSushi/toml"
	"golang.org/x/crypto/ssh"

	"github.com/distswarm/distswarm/manifest/attest"
)

// MaxPolicySize bounds a trust file.
const MaxPolicySize = 1 << 20

// TrustedKey is one key of the trust file.
type TrustedKey struct {
	Name string
	// ID is attest.KeyID(Key).
	ID  string
	Key ssh.PublicKey
	// Revoked keys are listed so that their attestations are reported,
	// but they count for nothing.
	Revoked bool
	// Expires, when set, ends the key's trust at that instant.
	Expires time.Time
}

// Active reports whether the key counts at time now.
func (k TrustedKey) Active(now time.Time) bool {
	return !k.Revoked && (k.Expires.IsZero() || now.Before(k.Expires))
}

// Policy is a parsed trust file.
type Policy struct {
	// Threshold is k: how many trusted keys must attest the same bytes.
	Threshold int
	Keys      []TrustedKey
}

// file is the TOML form of a trust file.
type file struct {
	Threshold int       `toml:"threshold"`
	Keys      []fileKey `toml:"key"`
}

type fileKey struct {
	Name      string    `toml:"name"`
	PublicKey string    `toml:"public-key"`
	Revoked   bool      `toml:"revoked"`
	Expires   time.Time `toml:"expires"`
}

// Load reads the trust file at path.
func Load(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("trust file: %w", err)
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse reads a trust file (TOML, see docs/attestations.md). Unknown keys,
// duplicate names or keys, and a threshold outside 1..(number of
// non-revoked keys) are errors.
func Parse(r io.Reader, name string) (*Policy, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxPolicySize+1))
	if err != nil {
		return nil, fmt.Errorf("read trust file %s: %w", name, err)
	}
	if len(data) > MaxPolicySize {
		return nil, fmt.Errorf("trust file %s: larger than %d bytes", name, MaxPolicySize)
	}
	var f file
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		return nil, fmt.Errorf("trust file %s: %w", name, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("trust file %s: unknown key %q", name, und[0].String())
	}
	keys := make([]TrustedKey, 0, len(f.Keys))
	for i, fk := range f.Keys {
		pub, _, err := attest.ParsePublicKey([]byte(fk.PublicKey))
		if err != nil {
			return nil, fmt.Errorf("trust file %s: key %d (%q): %w", name, i+1, fk.Name, err)
		}
		keys = append(keys, TrustedKey{Name: fk.Name, ID: attest.KeyID(pub), Key: pub, Revoked: fk.Revoked, Expires: fk.Expires})
	}
	p, err := New(f.Threshold, keys)
	if err != nil {
		return nil, fmt.Errorf("trust file %s: %w", name, err)
	}
	return p, nil
}

// New checks and returns a policy.
func New(threshold int, keys []TrustedKey) (*Policy, error) {
	names, ids := map[string]bool{}, map[string]string{}
	for _, k := range keys {
		if err := attest.CheckKeyName(k.Name); err != nil {
			return nil, err
		}
		if k.Key == nil || attest.KeyID(k.Key) != k.ID {
			return nil, fmt.Errorf("key %q: ID does not match the key", k.Name)
		}
		if names[k.Name] {
			return nil, fmt.Errorf("key name %q listed twice", k.Name)
		}
		if other, dup := ids[k.ID]; dup {
			return nil, fmt.Errorf("key %s listed twice (%q and %q)", k.ID, other, k.Name)
		}
		names[k.Name], ids[k.ID] = true, k.Name
	}
	p := &Policy{Keys: keys}
	if err := p.SetThreshold(threshold); err != nil {
		return nil, err
	}
	return p, nil
}

// ErrThreshold is a threshold no set of trusted keys can meet.
var ErrThreshold = errors.New("bad threshold")

// SetThreshold changes k (e.g. from --threshold): 1 to the number of
// keys that are not revoked.
func (p *Policy) SetThreshold(k int) error {
	usable := 0
	for _, key := range p.Keys {
		if !key.Revoked {
			usable++
		}
	}
	if k < 1 || k > usable {
		return fmt.Errorf("%w: %d, want 1 to %d (the keys not revoked)", ErrThreshold, k, usable)
	}
	p.Threshold = k
	return nil
}

// byID finds a key of the trust file.
func (p *Policy) byID(id string) (TrustedKey, bool) {
	for _, k := range p.Keys {
		if k.ID == id {
			return k, true
		}
	}
	return TrustedKey{}, false
}
