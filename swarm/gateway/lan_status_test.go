package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/distswarm/distswarm/swarm"
)

// lanSample is a node that heard two peers on the LAN and learned one
// collection (with a hostile name).
func lanSample() swarm.NodeStatus {
	s := sampleStatus()
	now := time.Now()
	s.LAN = &swarm.LANStatus{
		Interfaces: []string{"eth0"},
		Peers: []swarm.LANPeer{
			{Addr: "10.0.0.5:6881", Infohashes: []string{sampleInfoHash}, LastHeard: now},
			{Addr: "10.0.0.6:6881", Infohashes: []string{sampleInfoHash, sampleInfoHash2}, LastHeard: now.Add(-time.Minute)},
		},
		Infohashes:    []swarm.LANInfohash{{InfoHash: sampleInfoHash, Peers: 2, Own: true}, {InfoHash: sampleInfoHash2, Peers: 1, Learned: true}},
		Learned:       []swarm.LearnedCollection{{InfoHash: sampleInfoHash2, Name: "<b>lan</b>", Files: 3, Bytes: 4096, From: "10.0.0.6:6881", Manifest: true}},
		LearnFailures: 4, Sent: 11, Received: 22, Dropped: 3, Own: 1,
	}
	s.TrackerURL = "http://10.0.0.1:6969/announce"
	return s
}

// TestStatusPageShowsLAN: the status page lists the LAN peers, the
// learned collections (names escaped) and the embedded tracker's URL;
// /metrics has the LAN series.
func TestStatusPageShowsLAN(t *testing.T) {
	b := newFakeBackend(t)
	b.setStatus(lanSample())
	srv := serve(t, b, Options{})
	_, body := get(t, srv.URL, "/")
	page := string(body)
	for _, want := range []string{
		`data-lan-peers="2"`, `data-lan-infohashes="2"`, `data-lan-learned="1"`, `<code>eth0</code>`,
		`data-lan-peer="10.0.0.6:6881"`, `data-learned="&lt;b&gt;lan&lt;/b&gt;" data-infohash="` + sampleInfoHash2 + `"`,
		`data-tracker="http://10.0.0.1:6969/announce"`, "4 could not be",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %s", want)
		}
	}
	if strings.Contains(page, "<b>lan</b>") {
		t.Error("a learned collection's name is not escaped")
	}
	fam := scrape(t, srv.URL)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"distswarm_lan_peers", nil, 2},
		{"distswarm_lan_infohashes", nil, 2},
		{"distswarm_lan_learned_collections", nil, 1},
		{"distswarm_lan_learn_failures_total", nil, 4},
		{"distswarm_lan_datagrams_total", []string{"direction=received"}, 22},
		{"distswarm_lan_datagrams_total", []string{"direction=dropped"}, 3},
	} {
		if got := metricValue(t, fam, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// TestStatusPageWithoutLAN: a node without LAN discovery says so and has
// no LAN series.
func TestStatusPageWithoutLAN(t *testing.T) {
	b := newFakeBackend(t)
	b.setStatus(sampleStatus())
	srv := serve(t, b, Options{})
	_, body := get(t, srv.URL, "/")
	if !strings.Contains(string(body), "LAN discovery is off") {
		t.Error("status page without LAN discovery does not say it is off")
	}
	if _, ok := scrape(t, srv.URL)["distswarm_lan_peers"]; ok {
		t.Error("LAN series without LAN discovery")
	}
}
