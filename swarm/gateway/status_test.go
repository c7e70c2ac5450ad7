package gateway

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/distswarm/distswarm/manifest/trust"
	"github.com/distswarm/distswarm/swarm"
)

const (
	sampleInfoHash  = "5f3a0c1d2e4b6a7980f1e2d3c4b5a69788796a5b"
	sampleInfoHash2 = "0123456789abcdef0123456789abcdef01234567"
)

// sampleStatus is a node in the middle of things: two collections, peers,
// bytes from every source, a few fetches and one quarantined file.
func sampleStatus() swarm.NodeStatus {
	now := time.Now().Truncate(time.Second)
	return swarm.NodeStatus{
		Store: "/var/cache/distswarm", Started: now.Add(-90 * time.Minute), ListenPort: 6881, Peers: 7,
		Collections: []swarm.CollectionStatus{
			{Name: "gentoo-2026-11", InfoHash: sampleInfoHash, Files: 120, FilesHere: 45, Bytes: 3 << 30,
				BytesHere: 1 << 30, Peers: 5, Seeding: true,
				Counters: swarm.ByteCounters{FromPeers: 700 << 20, FromWebseeds: 200 << 20, FromHTTP: 0, Uploaded: 321 << 20}},
			{Name: "<script>alert(1)</script>", InfoHash: sampleInfoHash2, Files: 3, FilesHere: 0, Bytes: 4096,
				Peers: 2, Counters: swarm.ByteCounters{FromHTTP: 4096}},
		},
		Totals:     swarm.ByteCounters{FromPeers: 700 << 20, FromWebseeds: 200 << 20, FromHTTP: 52 << 20, Uploaded: 321 << 20},
		UploadRate: 1.5 * (1 << 20), DownloadRate: 12.25 * (1 << 20),
		Recent: []swarm.FetchRecord{
			{Time: now.Add(-3 * time.Second), Name: "foo-1.0.tar.gz", Outcome: swarm.OutcomePlaced,
				Source: swarm.SourceSwarm, Bytes: 5 << 20, Took: 1500 * time.Millisecond},
			{Time: now.Add(-time.Minute), Name: "evil-2.tar.gz", Outcome: swarm.OutcomeRejected,
				Source: swarm.SourceSwarm, Bytes: 1 << 20, Took: 2 * time.Second, Reason: "SHA512 mismatch from 127.0.0.1:40000"},
			{Time: now.Add(-2 * time.Minute), Name: "lost-3.zip", Outcome: swarm.OutcomeNotInCollections,
				Reason: "no collection lists it"},
		},
		Quarantine: []swarm.Quarantined{{Name: "evil-2.tar.gz", Size: 1 << 20, ModTime: now.Add(-time.Minute)}},
		Binpkgs: []swarm.BinpkgJudgement{
			{Path: "app-misc/foo/foo-1-1.gpkg.tar", Time: now.Add(-time.Second), Summary: "1 of 2 agree, 1 disagree, 0 missing (threshold 2)",
				Verdict: &trust.Verdict{Threshold: 2, Trusted: 2, Agree: []trust.Vote{{Key: "alice", ID: "SHA256:a"}},
					Disagree: []trust.Vote{{Key: "<b>mallory</b>", ID: "SHA256:m"}}, Missing: []string{}, Summary: "1 of 2 agree, 1 disagree, 0 missing"}},
			{Path: "app-misc/bar/bar-1-1.gpkg.tar", Time: now.Add(-2 * time.Second), Unverified: true, Accepted: true, Summary: swarm.UnverifiedSummary},
		},
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %s %s", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: decode: %v", url, err)
	}
}

func TestAPIStatusDecodesIntoNodeStatus(t *testing.T) {
	b := newFakeBackend(t)
	want := sampleStatus()
	b.setStatus(want)
	b.CountServed(12345)
	want.Totals.Served = 12345
	srv := serve(t, b, Options{})

	var got swarm.NodeStatus
	getJSON(t, srv.URL+"/api/v1/status", &got)
	// Times round-trip through RFC 3339; compare them separately.
	if !got.Started.Equal(want.Started) || !got.Recent[0].Time.Equal(want.Recent[0].Time) {
		t.Errorf("times changed: %v %v", got.Started, got.Recent[0].Time)
	}
	got.Started, want.Started = time.Time{}, time.Time{}
	for i := range got.Recent {
		got.Recent[i].Time, want.Recent[i].Time = time.Time{}, time.Time{}
	}
	got.Quarantine[0].ModTime, want.Quarantine[0].ModTime = time.Time{}, time.Time{}
	for i := range got.Binpkgs {
		got.Binpkgs[i].Time, want.Binpkgs[i].Time = time.Time{}, time.Time{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("/api/v1/status\n got %+v\nwant %+v", got, want)
	}

	var cols []swarm.CollectionStatus
	getJSON(t, srv.URL+"/api/v1/collections", &cols)
	if len(cols) != 2 || cols[0].InfoHash != sampleInfoHash || cols[0].FilesHere != 45 {
		t.Errorf("/api/v1/collections: %+v", cols)
	}
	var recent []swarm.FetchRecord
	getJSON(t, srv.URL+"/api/v1/recent", &recent)
	if len(recent) != 3 || recent[1].Outcome != swarm.OutcomeRejected || recent[1].Reason == "" {
		t.Errorf("/api/v1/recent: %+v", recent)
	}
	if resp, _ := get(t, srv.URL, "/api/v1/nothing"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown endpoint: %s", resp.Status)
	}
}

func TestAPIEmptyListsAreArrays(t *testing.T) {
	srv := serve(t, newFakeBackend(t), Options{})
	for _, ep := range []string{"collections", "recent", "quarantine"} {
		_, body := get(t, srv.URL, "/api/v1/"+ep)
		if strings.TrimSpace(string(body)) != "[]" {
			t.Errorf("/api/v1/%s on an empty node: %q, want []", ep, body)
		}
	}
}

// scrape parses /metrics with Prometheus' own text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// metricValue returns the value of the series of family name whose labels
// include all of labels ("k=v").
func metricValue(t *testing.T, families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f, ok := families[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for _, kv := range labels {
			k, v, _ := strings.Cut(kv, "=")
			match = match && have[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return 0
}

func TestMetricsReadStatusAtScrapeTime(t *testing.T) {
	b := newFakeBackend(t)
	s := sampleStatus()
	b.setStatus(s)
	srv := serve(t, b, Options{})

	fam := scrape(t, srv.URL)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"distswarm_peers", nil, 7},
		{"distswarm_bytes_total", []string{"source=peers"}, 700 << 20},
		{"distswarm_bytes_total", []string{"source=webseeds"}, 200 << 20},
		{"distswarm_bytes_total", []string{"source=http"}, 52 << 20},
		{"distswarm_uploaded_bytes_total", nil, 321 << 20},
		{"distswarm_served_bytes_total", nil, 0},
		{"distswarm_download_rate_bytes", nil, 12.25 * (1 << 20)},
		{"distswarm_collection_files", []string{"infohash=" + sampleInfoHash, "collection=gentoo-2026-11"}, 120},
		{"distswarm_collection_files_here", []string{"infohash=" + sampleInfoHash}, 45},
		{"distswarm_collection_peers", []string{"infohash=" + sampleInfoHash2}, 2},
		{"distswarm_collection_seeding", []string{"infohash=" + sampleInfoHash}, 1},
		{"distswarm_collection_seeding", []string{"infohash=" + sampleInfoHash2}, 0},
		{"distswarm_collection_bytes_total", []string{"infohash=" + sampleInfoHash, "source=webseeds"}, 200 << 20},
		{"distswarm_collection_bytes_total", []string{"infohash=" + sampleInfoHash2, "source=http"}, 4096},
		{"distswarm_quarantine_files", nil, 1},
		{"distswarm_quarantine_bytes", nil, 1 << 20},
		{"distswarm_recent_fetches", []string{"outcome=placed"}, 1},
		{"distswarm_recent_fetches", []string{"outcome=rejected"}, 1},
		{"distswarm_recent_fetches", []string{"outcome=timed-out"}, 0},
	}
	for _, c := range checks {
		if got := metricValue(t, fam, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if fam["distswarm_bytes_total"].GetType() != dto.MetricType_COUNTER || fam["distswarm_peers"].GetType() != dto.MetricType_GAUGE {
		t.Errorf("metric types: bytes_total %v, peers %v", fam["distswarm_bytes_total"].GetType(), fam["distswarm_peers"].GetType())
	}
	if _, ok := fam["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}

	// The next scrape sees the node as it is then: nothing is cached.
	s.Peers = 9
	b.setStatus(s)
	b.CountServed(4242)
	fam = scrape(t, srv.URL)
	if got := metricValue(t, fam, "distswarm_peers"); got != 9 {
		t.Errorf("peers after change: %v", got)
	}
	if got := metricValue(t, fam, "distswarm_served_bytes_total"); got != 4242 {
		t.Errorf("served after CountServed: %v", got)
	}
}

func TestStatusPageShowsTheData(t *testing.T) {
	b := newFakeBackend(t)
	b.setStatus(sampleStatus())
	srv := serve(t, b, Options{})
	resp, body := get(t, srv.URL, "/")
	page := string(body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`data-peers="7"`, `data-from-peers="` + strconv.Itoa(700<<20) + `"`, ">700 MiB<",
		`data-from-webseeds="` + strconv.Itoa(200<<20) + `"`, `data-from-http="` + strconv.Itoa(52<<20) + `"`,
		"12 MiB/s", "1.5 MiB/s",
		`data-collection="gentoo-2026-11"`, `data-infohash="` + sampleInfoHash + `"`,
		`data-files-here="45" data-files="120"`, `data-seeding="true"`, `data-col-peers="5"`,
		`data-fetch="foo-1.0.tar.gz" data-outcome="placed" data-source="swarm"`,
		`data-outcome="rejected"`, "SHA512 mismatch from 127.0.0.1:40000",
		`data-quarantined="evil-2.tar.gz"`, `data-quarantine="1"`,
		`<meta http-equiv="refresh" content="5">`,
		"&lt;script&gt;alert(1)&lt;/script&gt;",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %s", want)
		}
	}
	if strings.Contains(page, "<script>") {
		t.Error("status page contains an unescaped <script>")
	}
}

func TestStatusPageOfAnEmptyNode(t *testing.T) {
	srv := serve(t, newFakeBackend(t), Options{Refresh: -1})
	_, body := get(t, srv.URL, "/")
	page := string(body)
	for _, want := range []string{`data-peers="0"`, "No collections yet", "No fetches yet", "Nothing quarantined"} {
		if !strings.Contains(page, want) {
			t.Errorf("empty status page lacks %q", want)
		}
	}
	if strings.Contains(page, "http-equiv") {
		t.Error("refresh disabled, yet the page refreshes")
	}
}
