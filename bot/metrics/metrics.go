// Package metrics exports scobot's Prometheus metrics. It is the only package that
// speaks client_golang; the bot core sees it as a bot.Observer.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scobot/scobot/bot"
)

// Metrics holds the collectors. Its methods are safe for concurrent use.
type Metrics struct {
	reg       *prometheus.Registry
	queries   *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	kbInfo    *prometheus.GaugeVec
	kbEntries prometheus.Gauge
	reloads   *prometheus.CounterVec

	mu        sync.Mutex
	kbVersion string
}

var _ bot.Observer = (*Metrics)(nil)

// New registers the metrics. queueDepth and dropped read the query log's queue depth
// and the count of records it could not queue; either may be nil.
func New(queueDepth, dropped func() float64) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scobot_queries_total", Help: "Questions answered, by platform and outcome (answered or declined).",
		}, []string{"platform", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scobot_answer_seconds",
			Help:    "Time to match a question to an answer.",
			Buckets: []float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2},
		}, []string{"platform"}),
		kbInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scobot_kb_info", Help: "The live knowledge base version (value 1).",
		}, []string{"version"}),
		kbEntries: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "scobot_kb_entries", Help: "Answer entries in the live knowledge base.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scobot_kb_reloads_total", Help: "Knowledge base reloads, by result (ok or error).",
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.queries, m.latency, m.kbInfo, m.kbEntries, m.reloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if queueDepth != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "scobot_log_queue_depth", Help: "Query log records waiting for the writer.",
		}, queueDepth))
	}
	if dropped != nil {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "scobot_log_dropped_total", Help: "Query log records that could not be queued or written.",
		}, dropped))
	}
	for _, o := range []string{"answered", "declined"} {
		for _, p := range []bot.Platform{bot.PlatformWeb, bot.PlatformTelegram, bot.PlatformSlack} {
			m.queries.WithLabelValues(string(p), o) // show zeroes before the first question
		}
	}
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("error")
	return m
}

// ObserveQuery counts a question and its matching time.
func (m *Metrics) ObserveQuery(p bot.Platform, outcome string, latency time.Duration) {
	m.queries.WithLabelValues(string(p), outcome).Inc()
	m.latency.WithLabelValues(string(p)).Observe(latency.Seconds())
}

// SetKB records the live knowledge base.
func (m *Metrics) SetKB(version string, entries int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kbVersion != "" {
		m.kbInfo.DeleteLabelValues(m.kbVersion)
	}
	m.kbVersion = version
	m.kbInfo.WithLabelValues(version).Set(1)
	m.kbEntries.Set(float64(entries))
}

// ObserveReload counts a reload.
func (m *Metrics) ObserveReload(ok bool) {
	if ok {
		m.reloads.WithLabelValues("ok").Inc()
	} else {
		m.reloads.WithLabelValues("error").Inc()
	}
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
