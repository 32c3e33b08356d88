package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics is everything /metrics exposes. Label values are bounded:
// partner and profile names come from the configuration, codes from the
// fixed code list.
type metrics struct {
	reg           *prometheus.Registry
	verifications *prometheus.CounterVec   // partner, profile, code ("ok" when accepted)
	verifyLatency *prometheus.HistogramVec // partner, profile
	gates         *prometheus.CounterVec   // gate: rate_limited, overloaded, too_large, partner_unknown, …
	replayHits    *prometheus.CounterVec   // partner
	evidenceLat   prometheus.Histogram
	upstream      *prometheus.CounterVec // route, outcome (status class or error)
	egress        *prometheus.CounterVec // partner, outcome
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nonrep_verifications_total", Help: "Signed requests verified, by partner, profile and result code (ok when accepted).",
		}, []string{"partner", "profile", "code"}),
		verifyLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "nonrep_verify_duration_seconds", Help: "Time from request start to verdict (gates, parse, crypto, replay, evidence).",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"partner", "profile"}),
		gates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nonrep_gate_rejections_total", Help: "Requests turned away by a cheap gate before any crypto, by gate code.",
		}, []string{"code"}),
		replayHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nonrep_replay_hits_total", Help: "Replayed requests refused, by partner.",
		}, []string{"partner"}),
		evidenceLat: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "nonrep_evidence_append_duration_seconds", Help: "Time for an evidence record to become durable.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		upstream: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nonrep_upstream_responses_total", Help: "Forwarded requests by route and outcome (2xx, 4xx, 5xx, error).",
		}, []string{"route", "outcome"}),
		egress: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "nonrep_egress_requests_total", Help: "Requests signed and sent for apps, by partner and outcome.",
		}, []string{"partner", "outcome"}),
	}
	m.reg.MustRegister(m.verifications, m.verifyLatency, m.gates, m.replayHits, m.evidenceLat, m.upstream, m.egress,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func statusClass(code int) string {
	switch {
	case code >= 500:
		return "5xx"
	case code >= 400:
		return "4xx"
	case code >= 300:
		return "3xx"
	}
	return "2xx"
}
