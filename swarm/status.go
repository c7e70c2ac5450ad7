package swarm

import (
	"encoding/json"
	"strconv"
	"time"
)

// Outcome is what happened to one requested file.
type Outcome int

// Outcomes of a fetch, one per requested file.
const (
	OutcomePlaced           Outcome = iota // downloaded, verified and placed by this fetch
	OutcomePresent                         // already in the store and verified again
	OutcomeNotInCollections                // no collection lists the file
	OutcomeNoAuthority                     // nothing the user trusts knows its digests
	OutcomeRejected                        // every copy failed verification (quarantined)
	OutcomeUnverified                      // downloaded, but no authority could check it
	OutcomeTimedOut                        // the deadline passed first
	OutcomeInterrupted                     // the caller cancelled
	OutcomeFailed                          // any other error (I/O, HTTP status, …)
	OutcomeUntrusted                       // a binpkg too few trusted keys attest (trust file)
)

var outcomeNames = [...]string{"placed", "present", "not-in-collections", "no-authority",
	"rejected", "unverified", "timed-out", "interrupted", "failed", "untrusted"}

func (o Outcome) String() string {
	if o >= 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// OK reports whether the file is in the store, verified.
func (o Outcome) OK() bool { return o == OutcomePlaced || o == OutcomePresent }

// MarshalText writes the outcome's name (JSON, the control API).
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText reads an outcome's name.
func (o *Outcome) UnmarshalText(b []byte) error {
	for i, n := range outcomeNames {
		if n == string(b) {
			*o = Outcome(i)
			return nil
		}
	}
	*o = OutcomeFailed
	return nil
}

// Source says where a file placed in the store came from.
type Source string

// Sources of a file.
const (
	SourceStore Source = "store" // it was already there
	SourceSwarm Source = "swarm" // peers or webseeds of a collection
	SourceHTTP  Source = "http"  // a plain HTTP download (URI or upstream mirror)
)

// NodeStatus is a snapshot of a node, for the status page, /api/v1 and
// /metrics. Byte counters are totals since the node started.
type NodeStatus struct {
	Store       string             `json:"store"`
	Started     time.Time          `json:"started"`
	ListenPort  int                `json:"listen_port"`
	Peers       int                `json:"peers"` // connected peers over all torrents
	Collections []CollectionStatus `json:"collections"`
	Totals      ByteCounters       `json:"totals"`
	// UploadRate and DownloadRate are bytes per second over the last few
	// seconds.
	UploadRate   float64       `json:"upload_rate"`
	DownloadRate float64       `json:"download_rate"`
	Recent       []FetchRecord `json:"recent"`     // newest first, bounded
	Quarantine   []Quarantined `json:"quarantine"` // bounded
	// Binpkgs is the latest trust judgement of each binary package the
	// node fetched or was asked for, newest first, bounded.
	Binpkgs []BinpkgJudgement `json:"binpkgs"`
	// LAN is LAN discovery's view; nil when it does not run.
	LAN *LANStatus `json:"lan,omitempty"`
	// TrackerURL is the announce URL of the embedded tracker, if one runs.
	TrackerURL string `json:"tracker_url,omitempty"`
}

// ByteCounters splits where bytes came from and went.
type ByteCounters struct {
	FromPeers    int64 `json:"from_peers"`    // piece data from BitTorrent peers
	FromWebseeds int64 `json:"from_webseeds"` // piece data from HTTP webseeds of collections
	FromHTTP     int64 `json:"from_http"`     // plain HTTP downloads (Portage URI, upstream mirrors)
	Uploaded     int64 `json:"uploaded"`      // piece data sent to peers
	Served       int64 `json:"served"`        // bytes the HTTP gateway sent
}

// CollectionStatus describes one torrent the node has added.
type CollectionStatus struct {
	Name      string       `json:"name"`
	InfoHash  string       `json:"infohash"`
	Files     int          `json:"files"`      // distfiles it lists
	FilesHere int          `json:"files_here"` // of which the store holds a verified copy
	Bytes     int64        `json:"bytes"`
	BytesHere int64        `json:"bytes_here"`
	Peers     int          `json:"peers"`
	Seeding   bool         `json:"seeding"`
	Counters  ByteCounters `json:"counters"`
}

// FetchRecord is one finished request for a file.
type FetchRecord struct {
	Time    time.Time     `json:"time"`
	Name    string        `json:"name"`
	Outcome Outcome       `json:"outcome"`
	Source  Source        `json:"source,omitempty"`
	Bytes   int64         `json:"bytes"`
	Took    time.Duration `json:"took_ns"`
	Reason  string        `json:"reason,omitempty"`
}

// Quarantined is a file in STORE/.quarantine.
type Quarantined struct {
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
}

// MarshalJSON writes Took also in seconds, which humans read.
func (r FetchRecord) MarshalJSON() ([]byte, error) {
	type plain FetchRecord
	return json.Marshal(struct {
		plain
		TookSeconds float64 `json:"took_s"`
	}{plain(r), r.Took.Seconds()})
}
