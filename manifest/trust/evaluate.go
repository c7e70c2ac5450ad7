package trust

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/distswarm/distswarm/manifest/attest"
)

// Subject is the package being judged: its path, build key and the bytes
// a node would use (size and digests of the candidate file).
type Subject struct {
	Path     string `json:"path"`
	BuildKey string `json:"build_key"`
	Size     int64  `json:"size"`
	BLAKE2B  string `json:"blake2b"`
	SHA512   string `json:"sha512"`
}

func (s Subject) statement() attest.Statement {
	return attest.Statement{Path: s.Path, BuildKey: s.BuildKey, Size: s.Size, BLAKE2B: s.BLAKE2B, SHA512: s.SHA512}
}

// Vote is what one key attested.
type Vote struct {
	Key     string      `json:"key"` // name in the trust file
	ID      string      `json:"id"`
	Kind    attest.Kind `json:"kind"`
	Time    time.Time   `json:"time"`
	Size    int64       `json:"size"`
	BLAKE2B string      `json:"blake2b"`
	SHA512  string      `json:"sha512"`
	// Contradicts: the key signed different bytes for the same package
	// and build key more than once.
	Contradicts bool `json:"contradicts,omitempty"`
}

// BadSignature is an attestation that was ignored.
type BadSignature struct {
	Origin string `json:"origin"`
	Signer string `json:"signer,omitempty"` // as claimed
	Error  string `json:"error"`
}

// Verdict is the judgement on one package. Agree + Disagree + Missing
// always equals Trusted (M).
type Verdict struct {
	Subject   Subject `json:"subject"`
	Threshold int     `json:"threshold"`
	// Trusted is M: the trust file's keys active now.
	Trusted  int      `json:"trusted"`
	Agree    []Vote   `json:"agree"`
	Disagree []Vote   `json:"disagree"`
	Missing  []string `json:"missing"`
	// OtherBuild: trusted keys that attested this path for another build
	// key only (they are counted as missing).
	OtherBuild []Vote `json:"other_build,omitempty"`
	// Inactive: attestations by revoked or expired trusted keys (counted
	// nowhere).
	Inactive []Vote `json:"inactive,omitempty"`
	// Untrusted is the number of distinct keys, not in the trust file,
	// that attested this path; they count for nothing.
	Untrusted     int            `json:"untrusted"`
	BadSignatures []BadSignature `json:"bad_signatures,omitempty"`
	// Accepted: at least Threshold trusted keys attest the subject's bytes.
	Accepted bool   `json:"accepted"`
	Summary  string `json:"summary"`
}

// Counts returns agree, disagree and missing.
func (v Verdict) Counts() (agree, disagree, missing int) {
	return len(v.Agree), len(v.Disagree), len(v.Missing)
}

// String is the one-line report: "2 of 3 agree, 1 disagree, 0 missing".
func (v Verdict) String() string {
	a, d, m := v.Counts()
	return fmt.Sprintf("%d of %d agree, %d disagree, %d missing", a, v.Trusted, d, m)
}

// Evaluate judges subject against policy given every attestation known
// for its path (attestations for other paths are ignored) and the bad
// signatures found for it. now decides which keys are expired.
func Evaluate(p *Policy, subject Subject, atts []attest.Attestation, bad []BadSignature, now time.Time) Verdict {
	want := subject.statement()
	v := Verdict{Subject: subject, Threshold: p.Threshold, Agree: []Vote{}, Disagree: []Vote{}, Missing: []string{}, BadSignatures: bad}
	byKey := map[string][]attest.Attestation{}
	untrusted := map[string]bool{}
	for _, a := range atts {
		if a.Path != subject.Path {
			continue
		}
		k, ok := p.byID(a.Signer)
		switch {
		case !ok:
			untrusted[a.Signer] = true
		case !k.Active(now):
			v.Inactive = append(v.Inactive, vote(k, a))
		default:
			byKey[k.ID] = append(byKey[k.ID], a)
		}
	}
	v.Untrusted = len(untrusted)
	for _, k := range p.Keys {
		if !k.Active(now) {
			continue
		}
		v.Trusted++
		v.place(k, byKey[k.ID], want)
	}
	v.Accepted = len(v.Agree) >= v.Threshold
	v.Summary = v.String()
	return v
}

// place counts one active trusted key.
func (v *Verdict) place(k TrustedKey, atts []attest.Attestation, want attest.Statement) {
	var same, differ, other []attest.Attestation
	for _, a := range atts {
		switch {
		case !a.SameBuild(want):
			other = append(other, a)
		case a.SameBytes(want):
			same = append(same, a)
		default:
			differ = append(differ, a)
		}
	}
	switch {
	case len(differ) > 0:
		d := vote(k, differ[0])
		d.Contradicts = len(same) > 0 || !allSameBytes(differ)
		v.Disagree = append(v.Disagree, d)
	case len(same) > 0:
		v.Agree = append(v.Agree, vote(k, same[0]))
	default:
		v.Missing = append(v.Missing, k.Name)
		for _, a := range other {
			v.OtherBuild = append(v.OtherBuild, vote(k, a))
		}
	}
}

func allSameBytes(atts []attest.Attestation) bool {
	for _, a := range atts[1:] {
		if !a.SameBytes(atts[0].Statement) {
			return false
		}
	}
	return true
}

func vote(k TrustedKey, a attest.Attestation) Vote {
	return Vote{Key: k.Name, ID: k.ID, Kind: a.Kind, Time: a.Time, Size: a.Size, BLAKE2B: a.BLAKE2B, SHA512: a.SHA512}
}

// Pool gathers attestation files (from every collection a node knows)
// and indexes the good ones by package path. It is not safe for
// concurrent use: guard it, or build a new pool and swap it in.
type Pool struct {
	byPath map[string][]attest.Attestation
	bad    map[string][]BadSignature
	// Unattributed are files that are not attestations at all.
	Unattributed []BadSignature
}

// NewPool returns an empty pool.
func NewPool() *Pool {
	return &Pool{byPath: map[string][]attest.Attestation{}, bad: map[string][]BadSignature{}}
}

// Add parses and verifies one attestation file; origin says where it came
// from (a collection and path) for reports. A bad signature is kept for
// the package it claims to be about; a file that does not parse is kept
// in Unattributed. Add returns the parse error, if any.
func (p *Pool) Add(origin string, data []byte) error {
	a, err := attest.Parse(data)
	switch {
	case err == nil:
		p.byPath[a.Path] = append(p.byPath[a.Path], a)
	case errors.Is(err, attest.ErrBadSignature):
		p.bad[a.Path] = append(p.bad[a.Path], BadSignature{Origin: origin, Signer: a.Signer, Error: err.Error()})
	default:
		p.Unattributed = append(p.Unattributed, BadSignature{Origin: origin, Error: err.Error()})
	}
	if err != nil {
		return fmt.Errorf("%s: %w", origin, err)
	}
	return nil
}

// Paths lists the package paths with at least one good attestation.
func (p *Pool) Paths() []string {
	out := make([]string, 0, len(p.byPath))
	for path := range p.byPath {
		out = append(out, path)
	}
	sort.Strings(out)
	return out
}

// Evaluate judges subject with everything the pool holds for its path.
func (p *Pool) Evaluate(policy *Policy, subject Subject, now time.Time) Verdict {
	return Evaluate(policy, subject, p.byPath[subject.Path], p.bad[subject.Path], now)
}
