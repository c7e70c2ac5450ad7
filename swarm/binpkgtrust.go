package swarm

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/distswarm/distswarm/manifest"
	"github.com/distswarm/distswarm/manifest/attest"
	"github.com/distswarm/distswarm/manifest/binpkg"
	"github.com/distswarm/distswarm/manifest/trust"
	"github.com/distswarm/distswarm/swarm/collection"
)

// Trust for binary packages. With a trust file (BinpkgRequest.Trust,
// GatewaySource.Trust) a package is used only when at least k distinct
// trusted keys attest the bytes its collection's Packages.digests states,
// for the build key of its Packages entry (binpkg.BuildKey). Attestations
// come from the attestations/ tree of every binpkg torrent the node
// gathers (bounded in count and size), verified as they are pooled.
// Without a trust file the collection's own, unsigned Packages.digests is
// the authority (--trust-collection): every judgement, log line and
// output then says UNVERIFIED.

// ErrUntrusted marks a binary package the trust file does not accept.
var ErrUntrusted = errors.New("not accepted by the trust file")

// UnverifiedSummary is the judgement of a package trusted on its
// collection's own digest index.
const UnverifiedSummary = "UNVERIFIED: only the collection's own unsigned Packages.digests vouches for it (--trust-collection)"

// BinpkgJudgement is the trust judgement of one binary package.
type BinpkgJudgement struct {
	Path string    `json:"path"`
	Time time.Time `json:"time"`
	// Unverified: no trust file, the collection's own digest index was
	// the authority.
	Unverified bool `json:"unverified"`
	Accepted   bool `json:"accepted"`
	// Summary reads "k of M agree, j disagree, r missing (threshold k)",
	// or UnverifiedSummary.
	Summary string         `json:"summary"`
	Verdict *trust.Verdict `json:"verdict,omitempty"`
}

func unverifiedJudgement(path string, now time.Time) BinpkgJudgement {
	return BinpkgJudgement{Path: path, Time: now, Unverified: true, Accepted: true, Summary: UnverifiedSummary}
}

// binpkgJudge judges packages against a trust file with the attestations
// of a set of binpkg sources.
type binpkgJudge struct {
	policy *trust.Policy
	pool   *trust.Pool
	now    time.Time
}

// newBinpkgJudge pools the attestations of srcs; files that do not parse
// or verify are ignored, with one log line for all of them (a bad
// signature is also reported in the verdict of the package it claims).
func newBinpkgJudge(policy *trust.Policy, srcs []binpkgSource, log *slog.Logger) *binpkgJudge {
	return &binpkgJudge{policy: policy, pool: poolOf(srcs, log), now: time.Now()}
}

// poolOf verifies and pools the attestations of srcs.
func poolOf(srcs []binpkgSource, log *slog.Logger) *trust.Pool {
	pool := trust.NewPool()
	ignored := 0
	var first error
	for _, s := range srcs {
		for _, a := range s.attestations {
			if err := pool.Add("collection "+s.ih.HexString()+" "+a.Path, a.Data); err != nil {
				ignored++
				first = cmp.Or(first, err)
			}
		}
	}
	if ignored > 0 {
		log.Warn("ignored attestations that do not parse or verify", "count", ignored, "first", first)
	}
	return pool
}

// poolCache keeps the attestation pool of the last set of sources the
// binhost judged with: every Packages and package request judges with the
// same sources, and pooling checks every attestation's signature (about
// 140 µs each). A pool is read-only once built. The sources' attestations
// are fixed once their index is cached (binpkgSourceCache), so the key is
// each source's infohash and attestation count.
type poolCache struct {
	mu   sync.Mutex
	key  string
	pool *trust.Pool
}

func (c *poolCache) get(srcs []binpkgSource, log *slog.Logger) *trust.Pool {
	var key strings.Builder
	for _, s := range srcs {
		fmt.Fprintf(&key, "%s:%d,", s.ih.HexString(), len(s.attestations))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pool == nil || c.key != key.String() {
		c.key, c.pool = key.String(), poolOf(srcs, log)
	}
	return c.pool
}

// subjectIn is the package pkg of source s as trust judges it: the bytes
// s's digest index states and the build key of pkg under s's header.
func subjectIn(pkg binpkg.Package, s binpkgSource) (trust.Subject, error) {
	bp, err := pkg.Path()
	if err != nil {
		return trust.Subject{}, err
	}
	de, ok := s.digests.Lookup(bp)
	if !ok {
		return trust.Subject{}, fmt.Errorf("%s: not in Packages.digests of collection %s", bp, s.ih.HexString())
	}
	key, err := binpkg.BuildKey(s.packages.Header, pkg)
	if err != nil {
		return trust.Subject{}, err
	}
	return trust.Subject{Path: bp.String(), BuildKey: key, Size: de.Size,
		BLAKE2B: de.Digests[manifest.BLAKE2B], SHA512: de.Digests[manifest.SHA512]}, nil
}

// sourceOf finds the source whose Packages holds exactly pkg.
func sourceOf(pkg binpkg.Package, srcs []binpkgSource) (binpkgSource, bool) {
	for _, s := range srcs {
		for _, p := range s.packages.Packages {
			if p[binpkg.KeyPath] == pkg[binpkg.KeyPath] && maps.Equal(p, pkg) {
				return s, true
			}
		}
	}
	return binpkgSource{}, false
}

// acceptor is j's verdict as a predicate for pickPackage; nil without a
// trust file.
func (j *binpkgJudge) acceptor() func(binpkg.Package, binpkgSource) bool {
	if j == nil {
		return nil
	}
	return func(pkg binpkg.Package, s binpkgSource) bool { return j.judge(pkg, s).Accepted }
}

// judge evaluates pkg of source s.
func (j *binpkgJudge) judge(pkg binpkg.Package, s binpkgSource) BinpkgJudgement {
	out := BinpkgJudgement{Path: pkg[binpkg.KeyPath], Time: j.now}
	subj, err := subjectIn(pkg, s)
	if err != nil {
		out.Summary = "not judged: " + err.Error()
		return out
	}
	v := j.pool.Evaluate(j.policy, subj, j.now)
	out.Accepted, out.Verdict = v.Accepted, &v
	out.Summary = fmt.Sprintf("%s (threshold %d)", v, v.Threshold)
	return out
}

// noteJudgement records a judgement for the status page and logs it: a
// disagreement loudly, naming the keys; an unverified package as such.
func (n *Node) noteJudgement(j BinpkgJudgement) {
	n.judged.note(j)
	switch {
	case j.Unverified:
		n.log.Info("binpkg UNVERIFIED", "path", j.Path, "trust", j.Summary)
	case j.Verdict != nil && len(j.Verdict.Disagree) > 0:
		n.log.Warn("binpkg: trusted keys DISAGREE", "path", j.Path, "keys", DisagreeingKeys(j.Verdict), "trust", j.Summary)
	case !j.Accepted:
		n.log.Info("binpkg not accepted", "path", j.Path, "trust", j.Summary)
	}
}

// DisagreeingKeys names the keys of a verdict that attest other bytes:
// "name (SHA256:…)", comma-separated.
func DisagreeingKeys(v *trust.Verdict) string {
	var names []string
	for _, d := range v.Disagree {
		names = append(names, d.Key+" ("+d.ID+")")
	}
	return strings.Join(names, ", ")
}

// judgeBinpkgs applies the request's trust file (judge, nil for none) to
// the resolved wants (out, names as resolveWants returns them): every
// result gets its judgement, those not accepted fail with OutcomeUntrusted
// and leave names. Without a trust file every package is marked unverified.
func (n *Node) judgeBinpkgs(judge *binpkgJudge, srcs []binpkgSource, out []BinpkgResult, names []string) []string {
	now := time.Now()
	if judge == nil {
		for i := range out {
			if out[i].Err == nil {
				j := unverifiedJudgement(out[i].Name, now)
				out[i].Judgement = &j
				n.noteJudgement(j)
			}
		}
		return names
	}
	var keep []string
	for i := range out {
		if out[i].Err != nil {
			continue
		}
		j := BinpkgJudgement{Path: out[i].Name, Time: now, Summary: "not judged: no collection holds its entry"}
		if s, ok := sourceOf(out[i].Package, srcs); ok {
			j = judge.judge(out[i].Package, s)
		}
		out[i].Judgement = &j
		n.noteJudgement(j)
		if !j.Accepted {
			out[i].Outcome, out[i].Err = OutcomeUntrusted, fmt.Errorf("%s: %s: %w", out[i].Name, j.Summary, ErrUntrusted)
			continue
		}
		keep = append(keep, out[i].Name)
	}
	return slices.DeleteFunc(names, func(name string) bool { return !slices.Contains(keep, name) })
}

// attestationIndices lists the attestation files of a binpkg torrent a
// node gathers: at most collection.MaxAttestationsPerTorrent of at most
// attest.MaxFileSize bytes each, at safe paths. It returns how many it
// skipped.
func attestationIndices(info *metainfo.Info) (idx []int, skipped int) {
	for i, f := range info.UpvertedFiles() {
		if strings.Contains(f.Attr, "p") {
			continue
		}
		p := strings.Join(f.Path, "/")
		if !attest.IsAttestationPath(p) {
			continue
		}
		if f.Length > attest.MaxFileSize || attest.CheckPath(p) != nil || len(idx) >= collection.MaxAttestationsPerTorrent {
			skipped++
			continue
		}
		idx = append(idx, i)
	}
	return idx, skipped
}

// readAttestations reads the gathered attestation files of torrent ih
// from the store.
func (s *Store) readAttestations(ih metainfo.Hash, info *metainfo.Info, idx []int) ([]collection.AttestationFile, error) {
	files := info.UpvertedFiles()
	out := make([]collection.AttestationFile, 0, len(idx))
	for _, i := range idx {
		rel := strings.Join(files[i].Path, "/")
		p, ok := s.BinpkgAttestationPath(ih.HexString(), rel)
		if !ok {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("collection %s: attestation: %w", ih.HexString(), err)
		}
		out = append(out, collection.AttestationFile{Path: rel, Data: data})
	}
	return out, nil
}

// maxJudgements bounds the judgements a node keeps for its status.
const maxJudgements = 512

// judgementLog keeps the latest judgement of each package path.
type judgementLog struct {
	mu     sync.Mutex
	byPath map[string]BinpkgJudgement
}

func (l *judgementLog) note(j BinpkgJudgement) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byPath == nil {
		l.byPath = map[string]BinpkgJudgement{}
	}
	if _, ok := l.byPath[j.Path]; !ok && len(l.byPath) >= maxJudgements {
		oldest := ""
		for p, o := range l.byPath {
			if oldest == "" || o.Time.Before(l.byPath[oldest].Time) {
				oldest = p
			}
		}
		delete(l.byPath, oldest)
	}
	l.byPath[j.Path] = j
}

// list returns the judgements newest first (ties by path).
func (l *judgementLog) list() []BinpkgJudgement {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Collect(maps.Values(l.byPath))
	slices.SortFunc(out, func(a, b BinpkgJudgement) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Path, b.Path)
	})
	return out
}

// gatherAttestations asks the swarm for the attestation files of a
// binpkg torrent (attestationIndices) and returns their indices.
func (n *Node) gatherAttestations(nt *nodeTorrent, info *metainfo.Info) []int {
	idx, skipped := attestationIndices(info)
	if skipped > 0 {
		n.log.Warn("binpkg collection: attestation files ignored (too many, too large or bad paths)",
			"infohash", nt.ih.HexString(), "ignored", skipped, "gathered", len(idx))
	}
	for _, i := range idx {
		nt.t.Files()[i].Download()
	}
	return idx
}

// gatewayJudge is the binhost's judge: nil without a trust file.
type gatewayJudge struct{ *binpkgJudge }

func (g GatewaySource) judgeFor(srcs []binpkgSource) gatewayJudge {
	if g.Trust == nil {
		return gatewayJudge{}
	}
	pool := g.Node.gatewayPools.get(srcs, g.Node.log)
	return gatewayJudge{&binpkgJudge{policy: g.Trust, pool: pool, now: time.Now()}}
}

// listable returns the packages of s the binhost index lists: those the
// trust file accepts, or all of them, unverified, without one.
func (j gatewayJudge) listable(n *Node, s binpkgSource, pkgs []binpkg.Package) []binpkg.Package {
	if j.binpkgJudge == nil {
		return pkgs
	}
	var out []binpkg.Package
	for _, p := range pkgs {
		jd := j.judge(p, s)
		n.judged.note(jd)
		if jd.Verdict != nil && len(jd.Verdict.Disagree) > 0 {
			n.log.Warn("binhost: trusted keys DISAGREE", "path", jd.Path, "keys", DisagreeingKeys(jd.Verdict), "trust", jd.Summary)
		}
		if jd.Accepted {
			out = append(out, p)
		}
	}
	return out
}

// servable judges the package the binhost was asked for: an error
// wrapping ErrUntrusted when the trust file does not accept it.
func (j gatewayJudge) servable(n *Node, pkg binpkg.Package, s binpkgSource) error {
	if j.binpkgJudge == nil {
		n.noteJudgement(unverifiedJudgement(pkg[binpkg.KeyPath], time.Now()))
		return nil
	}
	jd := j.judge(pkg, s)
	n.noteJudgement(jd)
	if !jd.Accepted {
		return fmt.Errorf("%s: %s: %w", jd.Path, jd.Summary, ErrUntrusted)
	}
	return nil
}
