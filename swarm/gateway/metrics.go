package gateway

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/distswarm/distswarm/swarm"
)

// newMetricsHandler serves /metrics from a private registry: the node's
// collector plus the Go runtime and process collectors.
func newMetricsHandler(b Backend, log *slog.Logger) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newNodeCollector(b),
		newLANCollector(b),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{log},
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// slogPrinter adapts a slog.Logger to promhttp's Logger.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.log.Warn("metrics", "err", v) }

// Label names.
const (
	labelSource   = "source"
	labelOutcome  = "outcome"
	labelName     = "collection"
	labelInfoHash = "infohash"
)

// Values of the source label of byte counters.
const (
	sourcePeers    = "peers"
	sourceWebseeds = "webseeds"
	sourceHTTP     = "http"
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("distswarm_"+name, help, labels, nil)
}

// nodeCollector turns Backend.Status() into metrics at scrape time; it keeps
// no counters of its own, so the figures are exactly the status page's.
type nodeCollector struct {
	backend Backend

	started, peers, uploadRate, downloadRate *prometheus.Desc
	received, uploaded, served               *prometheus.Desc
	quarantineFiles, quarantineBytes         *prometheus.Desc
	recentFetches                            *prometheus.Desc

	colFiles, colFilesHere, colBytes, colBytesHere *prometheus.Desc
	colPeers, colSeeding, colReceived, colUploaded *prometheus.Desc
}

func newNodeCollector(b Backend) *nodeCollector {
	col := []string{labelName, labelInfoHash}
	return &nodeCollector{
		backend:         b,
		started:         desc("start_time_seconds", "When the node started, Unix time."),
		peers:           desc("peers", "Connected BitTorrent peers over all collections."),
		uploadRate:      desc("upload_rate_bytes", "Upload rate to peers over the last few seconds, bytes per second."),
		downloadRate:    desc("download_rate_bytes", "Download rate over the last few seconds, bytes per second."),
		received:        desc("bytes_total", "Distfile bytes received, by source (peers, webseeds, http).", labelSource),
		uploaded:        desc("uploaded_bytes_total", "Piece data sent to BitTorrent peers."),
		served:          desc("served_bytes_total", "Bytes the HTTP gateway sent."),
		quarantineFiles: desc("quarantine_files", "Files in the store's quarantine (bounded list)."),
		quarantineBytes: desc("quarantine_bytes", "Bytes in the store's quarantine (bounded list)."),
		recentFetches: desc("recent_fetches",
			"Fetches in the node's bounded list of recent fetches, by outcome.", labelOutcome),
		colFiles:     desc("collection_files", "Distfiles a collection lists.", col...),
		colFilesHere: desc("collection_files_here", "Distfiles of a collection the store holds verified.", col...),
		colBytes:     desc("collection_bytes", "Bytes of the distfiles a collection lists.", col...),
		colBytesHere: desc("collection_bytes_here", "Bytes of a collection the store holds verified.", col...),
		colPeers:     desc("collection_peers", "Connected peers of a collection.", col...),
		colSeeding:   desc("collection_seeding", "1 when the node seeds the collection.", col...),
		colReceived: desc("collection_bytes_total", "Distfile bytes received for a collection, by source.",
			append(col, labelSource)...),
		colUploaded: desc("collection_uploaded_bytes_total", "Piece data of a collection sent to peers.", col...),
	}
}

// Describe implements prometheus.Collector.
func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.started, c.peers, c.uploadRate, c.downloadRate, c.received, c.uploaded, c.served,
		c.quarantineFiles, c.quarantineBytes, c.recentFetches,
		c.colFiles, c.colFilesHere, c.colBytes, c.colBytesHere, c.colPeers, c.colSeeding,
		c.colReceived, c.colUploaded,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector with one Status() per scrape.
func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.backend.Status()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	if !s.Started.IsZero() {
		gauge(c.started, float64(s.Started.UnixNano())/1e9)
	}
	gauge(c.peers, float64(s.Peers))
	gauge(c.uploadRate, s.UploadRate)
	gauge(c.downloadRate, s.DownloadRate)
	c.collectSources(s.Totals, func(v int64, src string) { counter(c.received, v, src) })
	counter(c.uploaded, s.Totals.Uploaded)
	counter(c.served, s.Totals.Served)
	c.collectQuarantine(s.Quarantine, gauge)
	for outcome, n := range outcomeCounts(s.Recent) {
		gauge(c.recentFetches, float64(n), outcome)
	}
	for _, col := range s.Collections {
		c.collectCollection(col, gauge, counter)
	}
}

func (c *nodeCollector) collectSources(b swarm.ByteCounters, emit func(v int64, source string)) {
	emit(b.FromPeers, sourcePeers)
	emit(b.FromWebseeds, sourceWebseeds)
	emit(b.FromHTTP, sourceHTTP)
}

func (c *nodeCollector) collectQuarantine(q []swarm.Quarantined, gauge func(*prometheus.Desc, float64, ...string)) {
	var size int64
	for _, f := range q {
		size += f.Size
	}
	gauge(c.quarantineFiles, float64(len(q)))
	gauge(c.quarantineBytes, float64(size))
}

func (c *nodeCollector) collectCollection(col swarm.CollectionStatus,
	gauge func(*prometheus.Desc, float64, ...string), counter func(*prometheus.Desc, int64, ...string)) {
	l := []string{col.Name, col.InfoHash}
	gauge(c.colFiles, float64(col.Files), l...)
	gauge(c.colFilesHere, float64(col.FilesHere), l...)
	gauge(c.colBytes, float64(col.Bytes), l...)
	gauge(c.colBytesHere, float64(col.BytesHere), l...)
	gauge(c.colPeers, float64(col.Peers), l...)
	gauge(c.colSeeding, boolFloat(col.Seeding), l...)
	c.collectSources(col.Counters, func(v int64, src string) { counter(c.colReceived, v, col.Name, col.InfoHash, src) })
	counter(c.colUploaded, col.Counters.Uploaded, l...)
}

// outcomeCounts counts records by outcome; every outcome appears, so a
// series does not vanish when the recent list no longer holds one.
func outcomeCounts(recent []swarm.FetchRecord) map[string]int {
	counts := map[string]int{}
	for o := swarm.OutcomePlaced; o <= swarm.OutcomeFailed; o++ {
		counts[o.String()] = 0
	}
	for _, r := range recent {
		counts[r.Outcome.String()]++
	}
	return counts
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
