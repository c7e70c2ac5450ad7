package control

import (
	"github.com/distswarm/distswarm/manifest"
	"github.com/distswarm/distswarm/manifest/binpkg"
	"github.com/distswarm/distswarm/swarm"
)

// Paths of the API.
const (
	pathPing    = "/v1/ping"
	pathFetch   = "/v1/fetch"
	pathObtain  = "/v1/obtain"
	pathSeed    = "/v1/seed"
	pathAdd     = "/v1/collections"
	pathStatus  = "/v1/status"
	pathBinpkgs = "/v1/binpkgs/fetch"
	maxBodySize = 256 << 20 // a 100,000-file sharded collection is well below
)

// Torrent is one collection torrent as bencoded metainfo, with its
// collection Manifest when the client has it.
type Torrent struct {
	MetaInfo []byte `json:"metainfo"`
	Manifest []byte `json:"manifest,omitempty"`
}

// Entry is one file the client's authority knows.
type Entry struct {
	Name    string           `json:"name"`
	Size    int64            `json:"size"`
	Digests manifest.Digests `json:"digests"`
}

// FetchRequest is `distswarm fetch` handed to the node.
type FetchRequest struct {
	Torrents        []Torrent `json:"torrents"`
	Entries         []Entry   `json:"entries"`
	TrustCollection bool      `json:"trust_collection"`
	Names           []string  `json:"names"`
	All             bool      `json:"all"`
}

// FileResult is one file's outcome.
type FileResult struct {
	Name    string        `json:"name"`
	Outcome swarm.Outcome `json:"outcome"`
	Path    string        `json:"path,omitempty"`
	Error   string        `json:"error,omitempty"`
}

// FetchResponse carries one result per requested file.
type FetchResponse struct {
	Results []FileResult `json:"results"`
}

// ObtainRequest is Portage mode handed to the node.
type ObtainRequest struct {
	Name         string   `json:"name"`
	Entry        Entry    `json:"entry"`
	URIs         []string `json:"uris"`
	SwarmTimeout string   `json:"swarm_timeout,omitempty"` // time.Duration text
	ResumeFrom   string   `json:"resume_from,omitempty"`
}

// ObtainResponse says where the verified file is in the store.
type ObtainResponse struct {
	Path   string       `json:"path"`
	Source swarm.Source `json:"source"`
}

// SeedRequest adds collections to seed, from the store and From.
type SeedRequest struct {
	Torrents []Torrent `json:"torrents"`
	From     string    `json:"from,omitempty"`
}

// SeedResponse reports what the node seeds now.
type SeedResponse struct {
	Torrents int `json:"torrents"`
	Port     int `json:"port"`
}

// BinpkgFetchRequest is `distswarm binpkg fetch` handed to the node.
type BinpkgFetchRequest struct {
	Torrents        []Torrent `json:"torrents"`
	Wants           []string  `json:"wants"`
	TrustCollection bool      `json:"trust_collection"`
	// Match selects builds (swarm.BinpkgRequest.Match).
	Match binpkg.BuildWant `json:"match"`
}

// BinpkgResult is one wanted package's outcome.
type BinpkgResult struct {
	Want    string            `json:"want"`
	Name    string            `json:"name"` // its PKGDIR path, when found
	Package map[string]string `json:"package,omitempty"`
	Outcome swarm.Outcome     `json:"outcome"`
	Path    string            `json:"path,omitempty"`
	Error   string            `json:"error,omitempty"`
	// Candidates are set when no build matched (swarm.NoMatchError).
	Candidates []swarm.BinpkgCandidate `json:"candidates,omitempty"`
}

// BinpkgFetchResponse carries one result per wanted package.
type BinpkgFetchResponse struct {
	Results []BinpkgResult `json:"results"`
}

// errorBody is every error response.
type errorBody struct {
	Error string `json:"error"`
}
