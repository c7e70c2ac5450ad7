package swarm

import (
	"context"
	"errors"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/anacrolix/torrent"

	"github.com/distswarm/distswarm/storage"
)

// Bounds of what a node keeps for its status page.
const (
	recentFetches  = 100
	quarantineShow = 100
	rateWindow     = 5 * time.Second
)

// nodeStats are the counters a node keeps beyond the torrent client's.
type nodeStats struct {
	mu       sync.Mutex
	recent   []FetchRecord // newest last, at most recentFetches
	fromHTTP int64
	served   int64
	samples  []rateSample
}

type rateSample struct {
	at       time.Time
	up, down int64
}

func newNodeStats() *nodeStats { return &nodeStats{} }

func (s *nodeStats) record(r FetchRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recent = append(s.recent, r)
	if len(s.recent) > recentFetches {
		s.recent = append(s.recent[:0], s.recent[len(s.recent)-recentFetches:]...)
	}
}

// recordFetch records the files a request did not find in the store
// (Present files are not news).
func (s *nodeStats) recordFetch(res []FileResult, src Source, took time.Duration) {
	now := time.Now()
	for _, r := range res {
		if r.Outcome == OutcomePresent {
			continue
		}
		rec := FetchRecord{Time: now, Name: r.Name, Outcome: r.Outcome, Took: took}
		if r.Outcome.OK() {
			rec.Source = src
			rec.Bytes = r.PlacedSize()
		} else if r.Err != nil {
			rec.Reason = r.Err.Error()
		}
		s.record(rec)
	}
}

// recordObtain records one Obtain that did more than find the file.
func (s *nodeStats) recordObtain(name string, res ObtainResult, err error, took time.Duration) {
	rec := FetchRecord{Time: time.Now(), Name: name, Outcome: OutcomePlaced, Source: res.Source, Took: took}
	if err != nil {
		rec.Outcome, rec.Source, rec.Reason = OutcomeFailed, "", err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			rec.Outcome = OutcomeTimedOut
		}
	} else if st, serr := os.Stat(res.Path); serr == nil {
		rec.Bytes = st.Size()
	}
	s.record(rec)
}

func (s *nodeStats) addHTTP(n int64) {
	s.mu.Lock()
	s.fromHTTP += n
	s.mu.Unlock()
}

func (s *nodeStats) addServed(n int64) {
	s.mu.Lock()
	s.served += n
	s.mu.Unlock()
}

// rates returns bytes per second up and down over the last rateWindow,
// given the current totals.
func (s *nodeStats) rates(now time.Time, up, down int64) (float64, float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples = append(s.samples, rateSample{now, up, down})
	for len(s.samples) > 2 && now.Sub(s.samples[1].at) >= rateWindow {
		s.samples = s.samples[1:]
	}
	first := s.samples[0]
	dt := now.Sub(first.at).Seconds()
	if dt <= 0 {
		return 0, 0
	}
	return float64(up-first.up) / dt, float64(down-first.down) / dt
}

// CountServed adds n bytes to what the HTTP gateway served.
func (n *Node) CountServed(b int64) { n.stats.addServed(b) }

// Status is a snapshot of the node.
func (n *Node) Status() NodeStatus {
	st := NodeStatus{Store: n.store.Root, Started: n.started, ListenPort: n.Port()}
	for _, nt := range n.reg.all() {
		cs := n.collectionStatus(nt)
		st.Collections = append(st.Collections, cs)
		st.Peers += cs.Peers
		st.Totals.addSwarm(cs.Counters)
	}
	sort.Slice(st.Collections, func(i, j int) bool {
		a, b := st.Collections[i], st.Collections[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.InfoHash < b.InfoHash
	})
	n.stats.mu.Lock()
	st.Totals.FromHTTP, st.Totals.Served = n.stats.fromHTTP, n.stats.served
	for i := len(n.stats.recent) - 1; i >= 0; i-- {
		st.Recent = append(st.Recent, n.stats.recent[i])
	}
	n.stats.mu.Unlock()
	down := st.Totals.FromPeers + st.Totals.FromWebseeds + st.Totals.FromHTTP
	st.UploadRate, st.DownloadRate = n.stats.rates(time.Now(), st.Totals.Uploaded, down)
	st.Quarantine = listQuarantine(n.store.QuarantineDir())
	st.Binpkgs = n.judged.list()
	st.LAN = n.lanStatus()
	st.TrackerURL = n.embeddedTrackerURL()
	return st
}

// reportReceived calls report, if set, with the piece data the node's
// torrents received from peers and from webseeds, and what it fetched over
// plain HTTP.
func (n *Node) reportReceived(report func(ByteCounters)) {
	if report == nil {
		return
	}
	var c ByteCounters
	for _, nt := range n.reg.all() {
		c.addSwarm(torrentCounters(nt.t))
	}
	n.stats.mu.Lock()
	c.FromHTTP = n.stats.fromHTTP
	n.stats.mu.Unlock()
	report(c)
}

// addSwarm adds a torrent's counters (peers, webseeds, uploaded) to b; the
// HTTP counters are the node's, not a torrent's.
func (b *ByteCounters) addSwarm(t ByteCounters) {
	b.FromPeers += t.FromPeers
	b.FromWebseeds += t.FromWebseeds
	b.Uploaded += t.Uploaded
}

// torrentCounters splits what t received between peers and webseeds.
func torrentCounters(t *torrent.Torrent) ByteCounters {
	stats := t.Stats()
	var web int64
	for _, ws := range t.WebseedPeerConns() {
		ps := ws.Stats()
		web += ps.BytesReadData.Int64()
	}
	return ByteCounters{
		FromWebseeds: web,
		FromPeers:    max(stats.BytesReadData.Int64()-web, 0),
		Uploaded:     stats.BytesWrittenData.Int64(),
	}
}

func (n *Node) collectionStatus(nt *nodeTorrent) CollectionStatus {
	cs := CollectionStatus{Name: nt.info.BestName(), InfoHash: nt.ih.HexString(), Files: len(nt.files), Seeding: nt.isSeeding()}
	files := nt.t.Files()
	for _, idx := range nt.files {
		if idx >= len(files) {
			continue
		}
		l := files[idx].Length()
		cs.Bytes += l
		if n.st.State(nt.ih, idx).Phase == storage.PhaseFinal {
			cs.FilesHere++
			cs.BytesHere += l
		}
	}
	cs.Peers = nt.t.Stats().ActivePeers
	cs.Counters = torrentCounters(nt.t)
	return cs
}

func listQuarantine(dir string) []Quarantined {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []Quarantined
	for _, e := range ents {
		if len(out) >= quarantineShow {
			break
		}
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() {
			continue
		}
		out = append(out, Quarantined{Name: e.Name(), Size: info.Size(), ModTime: info.ModTime()})
	}
	return out
}
