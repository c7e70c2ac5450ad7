package swarm

import (
	"github.com/distswarm/distswarm/manifest/trust"

	"context"
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// GatewaySource is what the HTTP gateway serves from: the node's store,
// filled on a miss from the swarm (within SwarmTimeout) and then from the
// upstream GLEP 75 mirrors, always verified against the node's authority
// first. A file the authority does not know is never served.
type GatewaySource struct {
	Node         *Node
	Upstreams    []string // mirror base URLs, e.g. https://distfiles.gentoo.org
	SwarmTimeout time.Duration
	// Trust, when set, is the trust file the binhost applies: it lists and
	// serves only the packages it accepts. Without it the binhost serves
	// what the collections' own unsigned digest indexes vouch for, and
	// says UNVERIFIED in its log and status.
	Trust *trust.Policy
}

// DistfilesDir is STORE/distfiles.
func (g GatewaySource) DistfilesDir() string { return g.Node.store.DistfilesDir() }

// DistfileRelPath is name's path under DistfilesDir per the store's
// layout.conf.
func (g GatewaySource) DistfileRelPath(name string) string { return g.Node.store.conf.Path(name, nil) }

// Distfile returns the verified file's path in the store, obtaining it
// first when missing.
func (g GatewaySource) Distfile(ctx context.Context, name string) (string, error) {
	auth := g.Node.Authority()
	if _, ok := auth.Lookup(name); !ok {
		return "", fmt.Errorf("%s: no Manifest the daemon trusts lists it: %w", name, fs.ErrNotExist)
	}
	var uris []string
	for _, u := range g.Upstreams {
		base := strings.TrimRight(u, "/") + "/distfiles/"
		uris = append(uris, base+g.DistfileRelPath(name))
		if flat := base + name; flat != uris[len(uris)-1] {
			uris = append(uris, flat)
		}
	}
	res, err := g.Node.Obtain(ctx, ObtainRequest{Name: name, Authority: auth, URIs: uris, SwarmTimeout: g.SwarmTimeout})
	if err != nil {
		return "", err
	}
	return res.Path, nil
}

// Status is the node's snapshot.
func (g GatewaySource) Status() NodeStatus { return g.Node.Status() }

// CountServed counts bytes the gateway sent.
func (g GatewaySource) CountServed(n int64) { g.Node.CountServed(n) }

// TrustKnownManifests adds the DIST entries of every collection Manifest
// the store holds to the node's authority (the daemon trusts the
// collections its store was given). It returns how many it added.
func (n *Node) TrustKnownManifests() (int, error) {
	known, err := n.store.Known()
	if err != nil {
		return 0, err
	}
	added := 0
	for _, mi := range known {
		ih := mi.HashInfoBytes()
		p := n.store.collectionManifestPath(ih.HexString())
		n.trustedMu.Lock()
		done := n.trusted[ih]
		n.trustedMu.Unlock()
		if done {
			continue
		}
		if err := n.Authority().trustCollectionManifest(p, ih); err != nil {
			if !isNotExist(err) {
				n.log.Warn("collection Manifest not trusted", "infohash", ih.HexString(), "err", err)
			}
			continue
		}
		n.trustedMu.Lock()
		n.trusted[ih] = true
		n.trustedMu.Unlock()
		added++
	}
	return added, nil
}
