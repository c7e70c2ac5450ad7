package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/distswarm/distswarm/swarm"
)

// apiHandler serves /api/v1/: the node status as JSON, whole or in slices.
type apiHandler struct {
	backend Backend
}

// normalized returns the status with empty lists instead of nil ones, so
// clients always see JSON arrays.
func normalized(s swarm.NodeStatus) swarm.NodeStatus {
	if s.Collections == nil {
		s.Collections = []swarm.CollectionStatus{}
	}
	if s.Recent == nil {
		s.Recent = []swarm.FetchRecord{}
	}
	if s.Quarantine == nil {
		s.Quarantine = []swarm.Quarantined{}
	}
	if s.Binpkgs == nil {
		s.Binpkgs = []swarm.BinpkgJudgement{}
	}
	return s
}

func (a *apiHandler) serve(w http.ResponseWriter, r *http.Request, endpoint string) {
	var v any
	switch endpoint {
	case "status":
		v = normalized(a.backend.Status())
	case "collections":
		v = normalized(a.backend.Status()).Collections
	case "recent":
		v = normalized(a.backend.Status()).Recent
	case "quarantine":
		v = normalized(a.backend.Status()).Quarantine
	case "binpkgs":
		v = normalized(a.backend.Status()).Binpkgs
	default:
		http.NotFound(w, r)
		return
	}
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, "encode status: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	w.Header().Set("Cache-Control", "no-store")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(append(body, '\n'))
}
