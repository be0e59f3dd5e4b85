package gateway

import (
	"context"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/auth/jwtauth"
	"github.com/gatehouse/gatehouse/edge/proxy"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/cow"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/obs"
	"github.com/gatehouse/gatehouse/policy"
)

// Auth methods, the method label of gatehouse_edge_auth_decisions_total.
const (
	methodKey    = 0
	methodJWT    = 1
	methodMaster = 2
	methodNone   = 3 // no credential sent
)

var methodNames = [...]string{"key", "jwt", "master", "none"}

// edgeMetrics are the edge's series. What the chat path touches per request
// is resolved up front (the allowed counters, the stream/non-stream
// histograms) or once per label value and kept (per provider), so a
// request costs atomic adds, not label lookups.
type edgeMetrics struct {
	reg  *prometheus.Registry
	http *obs.HTTP

	authAllowed [len(methodNames)]prometheus.Counter
	auth        *prometheus.CounterVec

	upstreamVec *prometheus.HistogramVec
	upstream    cow.Map[string, prometheus.Observer] // by provider
	overhead    prometheus.Observer
	chat        [2]prometheus.Observer // [stream]
	upErrors    *prometheus.CounterVec
}

func newEdgeMetrics(reg *prometheus.Registry) *edgeMetrics {
	if reg == nil {
		reg = obs.NewRegistry()
	}
	m := &edgeMetrics{reg: reg, http: obs.NewHTTP(reg)}
	m.auth = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_edge_auth_decisions_total",
		Help: "Authentication and model-access decisions on model routes, by credential method (key, jwt, master, none) and outcome (allowed, or the error code that denied).",
	}, []string{"method", "outcome"})
	for i, name := range methodNames {
		m.authAllowed[i] = m.auth.WithLabelValues(name, "allowed")
	}
	m.upstreamVec = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gatehouse_edge_upstream_duration_seconds",
		Help:    "Time a chat request waited on its upstream, by provider: connect, send, response head and (not streamed) body; for a stream up to its first bytes. The same window as gatehouse_http_request_duration_seconds.",
		Buckets: obs.LatencyBuckets,
	}, []string{"provider"})
	overhead := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "gatehouse_edge_overhead_seconds",
		Help:    "The gateway's own time in a chat request: handler time minus gatehouse_edge_upstream_duration_seconds (auth, policy, routing, body rewrite, response handling).",
		Buckets: obs.OverheadBuckets,
	})
	m.overhead = overhead
	chat := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gatehouse_edge_chat_duration_seconds",
		Help:    "Chat completions from receipt to the last byte, streams included, by stream (true/false).",
		Buckets: obs.LatencyBuckets,
	}, []string{"stream"})
	m.chat = [2]prometheus.Observer{chat.WithLabelValues("false"), chat.WithLabelValues("true")}
	m.upErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_edge_upstream_errors_total",
		Help: "Chat requests that failed at or after the upstream, by provider and status: the upstream's HTTP status (200 for a stream that broke after starting), \"timeout\", or \"error\" when no response arrived.",
	}, []string{"provider", "status"})
	reg.MustRegister(m.auth, m.upstreamVec, overhead, chat, m.upErrors)
	return m
}

func (m *edgeMetrics) allowed(method int) { m.authAllowed[method].Inc() }

func (m *edgeMetrics) denied(method int, err error) {
	e := apierror.From(err)
	outcome := e.Code
	if outcome == "" {
		outcome = e.Type
	}
	m.auth.WithLabelValues(methodNames[method], outcome).Inc()
}

// failedMethod names the credential of a request that identify refused.
func failedMethod(c *fiber.Ctx, snap *policy.Snapshot) int {
	cred, present := httpx.Credential(c)
	switch {
	case !present:
		return methodNone
	case snap != nil && jwtauth.IsJWT(cred) && snap.JWT() != nil && snap.JWT().Enabled:
		return methodJWT
	}
	return methodKey
}

func methodOf(m auth.Method) int {
	switch m {
	case auth.MethodMasterKey:
		return methodMaster
	case auth.MethodJWT:
		return methodJWT
	}
	return methodKey
}

func (m *edgeMetrics) upstreamFor(provider string) prometheus.Observer {
	if o, ok := m.upstream.Load(provider); ok {
		return o
	}
	return m.upstream.Add(provider, func() prometheus.Observer { return m.upstreamVec.WithLabelValues(provider) })
}

// forwarded records a chat request's split between upstream and gateway,
// once the handler is done with it.
func (m *edgeMetrics) forwarded(provider string, handler, upstream time.Duration) {
	if upstream <= 0 {
		return // refused before any upstream call (a misconfigured deployment)
	}
	m.upstreamFor(provider).Observe(upstream.Seconds())
	m.overhead.Observe(max(handler-upstream, 0).Seconds())
}

// finished records how a chat request ended (after its stream, if any).
func (m *edgeMetrics) finished(provider string, stream bool, total time.Duration, u proxy.Usage) {
	s := 0
	if stream {
		s = 1
	}
	m.chat[s].Observe(total.Seconds())
	if u.Outcome != proxy.OutcomeUpstreamError && u.Outcome != proxy.OutcomeTimeout {
		return
	}
	status := "error"
	switch {
	case u.UpstreamStatus != 0:
		status = strconv.Itoa(u.UpstreamStatus)
	case u.Outcome == proxy.OutcomeTimeout:
		status = "timeout"
	}
	m.upErrors.WithLabelValues(provider, status).Inc()
}

// policyCollector reports how far this edge's policy is behind the stream,
// read at scrape time: the stream's last sequence is one JetStream request
// per scrape, never a cost on requests.
type policyCollector struct {
	live   *policy.Live
	edgeID string
}

var (
	descApplied  = prometheus.NewDesc("gatehouse_policy_applied_seq", "Last policy stream sequence applied to this edge's snapshot.", []string{"edge_id"}, nil)
	descLastSeq  = prometheus.NewDesc("gatehouse_policy_stream_last_seq", "The policy stream's last sequence (absent when the stream cannot be read).", []string{"edge_id"}, nil)
	descLag      = prometheus.NewDesc("gatehouse_policy_lag_events", "Policy stream last sequence minus the applied sequence (absent when the stream cannot be read).", []string{"edge_id"}, nil)
	descReady    = prometheus.NewDesc("gatehouse_policy_ready", "1 when the edge has caught up with the policy stream and serves requests.", []string{"edge_id"}, nil)
	descStalled  = prometheus.NewDesc("gatehouse_policy_stalled", "1 when the policy follower stopped at an event it cannot apply (the edge fails closed until restarted).", []string{"edge_id"}, nil)
	scrapeBudget = 2 * time.Second
)

func (policyCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descApplied, descLastSeq, descLag, descReady, descStalled} {
		ch <- d
	}
}

func (p policyCollector) Collect(ch chan<- prometheus.Metric) {
	applied := p.live.Load().Seq()
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, p.edgeID)
	}
	gauge(descApplied, float64(applied))
	gauge(descReady, b2f(p.live.Ready()))
	gauge(descStalled, b2f(p.live.Stalled() != ""))
	if p.live.JS == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeBudget)
	defer cancel()
	s, err := p.live.JS.Stream(ctx, events.PolicyStream)
	if err != nil {
		return
	}
	info, err := s.Info(ctx)
	if err != nil {
		return
	}
	last := info.State.LastSeq
	gauge(descLastSeq, float64(last))
	gauge(descLag, float64(last-min(applied, last)))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
