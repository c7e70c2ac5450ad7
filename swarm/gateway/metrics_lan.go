package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
)

// labelDirection says which datagrams a LAN discovery counter counts.
const labelDirection = "direction"

// lanCollector turns the LAN part of Backend.Status() into metrics; it
// emits nothing when LAN discovery does not run.
type lanCollector struct {
	backend                                 Backend
	peers, infohashes, learned, learnFailed *prometheus.Desc
	datagrams                               *prometheus.Desc
}

func newLANCollector(b Backend) *lanCollector {
	return &lanCollector{
		backend:     b,
		peers:       desc("lan_peers", "Peers heard by LAN discovery (BEP 14) within the last half announce interval."),
		infohashes:  desc("lan_infohashes", "Collections (infohashes) announced on the LAN, as heard."),
		learned:     desc("lan_learned_collections", "Collections learned from the LAN (info and Manifest, no data)."),
		learnFailed: desc("lan_learn_failures_total", "Infohashes heard on the LAN that could not be learned."),
		datagrams:   desc("lan_datagrams_total", "LAN discovery datagrams, by direction (sent, received, dropped, own).", labelDirection),
	}
}

// Describe implements prometheus.Collector.
func (c *lanCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.peers, c.infohashes, c.learned, c.learnFailed, c.datagrams} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *lanCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.backend.Status().LAN
	if l == nil {
		return
	}
	gauge := func(d *prometheus.Desc, v int) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	gauge(c.peers, len(l.Peers))
	gauge(c.infohashes, len(l.Infohashes))
	gauge(c.learned, len(l.Learned))
	ch <- prometheus.MustNewConstMetric(c.learnFailed, prometheus.CounterValue, float64(l.LearnFailures))
	for dir, v := range map[string]int64{"sent": l.Sent, "received": l.Received, "dropped": l.Dropped, "own": l.Own} {
		ch <- prometheus.MustNewConstMetric(c.datagrams, prometheus.CounterValue, float64(v), dir)
	}
}
