package gateway

import (
	"bytes"
	_ "embed"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/distswarm/distswarm/swarm"
)

//go:embed status.html
var statusTemplate string

// statusPage renders "/" from Backend.Status() with html/template.
type statusPage struct {
	backend Backend
	tmpl    *template.Template
	refresh time.Duration
	log     *slog.Logger
}

func newStatusPage(b Backend, o Options) *statusPage {
	t := template.Must(template.New("status").Funcs(pageFuncs).Parse(statusTemplate))
	return &statusPage{backend: b, tmpl: t, refresh: o.Refresh, log: o.Logger}
}

// pageData is what the template sees.
type pageData struct {
	swarm.NodeStatus
	Now            time.Time
	RefreshSeconds int // 0: no meta refresh
	// Received is the sum of the three sources; SwarmPercent is the share
	// of it that came from peers and webseeds (0-100).
	Received     int64
	SwarmPercent float64
}

func (p *statusPage) data() pageData {
	s := normalized(p.backend.Status())
	d := pageData{NodeStatus: s, Now: time.Now()}
	if p.refresh > 0 {
		d.RefreshSeconds = max(1, int(p.refresh.Round(time.Second)/time.Second))
	}
	t := s.Totals
	d.Received = t.FromPeers + t.FromWebseeds + t.FromHTTP
	if d.Received > 0 {
		d.SwarmPercent = 100 * float64(t.FromPeers+t.FromWebseeds) / float64(d.Received)
	}
	return d
}

func (p *statusPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := p.tmpl.Execute(&buf, p.data()); err != nil {
		p.log.Error("render status page", "err", err)
		http.Error(w, "render status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentTypeHTML)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(buf.Bytes())
}

var pageFuncs = template.FuncMap{
	"bytes": func(n int64) string {
		if n < 0 {
			n = 0
		}
		return humanize.IBytes(uint64(n))
	},
	"rate": func(r float64) string {
		if r < 0 {
			r = 0
		}
		return humanize.IBytes(uint64(r)) + "/s"
	},
	"ago": func(t, now time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return humanize.RelTime(t, now, "ago", "from now")
	},
	"took": func(d time.Duration) string {
		if d >= time.Second {
			return d.Round(100 * time.Millisecond).String()
		}
		return d.Round(time.Millisecond).String()
	},
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12] + "…"
		}
		return s
	},
	"percent": func(part, whole int64) float64 {
		if whole <= 0 {
			return 0
		}
		return 100 * float64(part) / float64(whole)
	},
	"outcomeClass": func(o swarm.Outcome) string {
		switch {
		case o.OK():
			return "ok"
		case o == swarm.OutcomeRejected || o == swarm.OutcomeFailed:
			return "bad"
		}
		return "warn"
	},
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"trim":    strings.TrimSpace,
	"add3":    func(a, b, c int64) int64 { return a + b + c },
	"int64":   func(i int) int64 { return int64(i) },
}
