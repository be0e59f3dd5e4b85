package obs

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/cow"
)

// LatencyBuckets (seconds) span a health check (sub-millisecond) to a long
// completion (minutes).
var LatencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// OverheadBuckets (seconds) resolve the gateway's own share of a request,
// which should stay well under a millisecond.
var OverheadBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25}

// routeOther labels requests that no route handled: unknown paths, and
// requests refused by a middleware before routing (oversized bodies, the
// admin API's authentication).
const routeOther = "other"

// HTTP counts and times requests by route. Label children are resolved
// once per route and status code and kept, so a request costs a map read
// and two atomic updates, not a label-hash lookup.
type HTTP struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	routes cow.Map[string, *routeStats]
}

type routeStats struct {
	route    string
	duration prometheus.Observer
	codes    [600]atomic.Pointer[counter] // by status code, 0..599
	h        *HTTP
}

type counter struct{ prometheus.Counter }

// NewHTTP registers gatehouse_http_requests_total{route,code} and
// gatehouse_http_request_duration_seconds{route} with reg.
func NewHTTP(reg prometheus.Registerer) *HTTP {
	h := &HTTP{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_http_request_duration_seconds",
			Help:    "Time from receiving a request until its response head is ready, by route pattern. For a stream that is up to the first upstream bytes; the whole stream is in gatehouse_edge_chat_duration_seconds.",
			Buckets: LatencyBuckets,
		}, []string{"route"}),
	}
	reg.MustRegister(h.requests, h.duration)
	return h
}

// route returns the stats of a route pattern, creating them on first use.
func (h *HTTP) route(pattern string) *routeStats {
	if rs, ok := h.routes.Load(pattern); ok {
		return rs
	}
	return h.routes.Add(pattern, func() *routeStats {
		return &routeStats{route: pattern, duration: h.duration.WithLabelValues(pattern), h: h}
	})
}

func (rs *routeStats) observe(status int, d time.Duration) {
	rs.duration.Observe(d.Seconds())
	if status < 0 || status >= len(rs.codes) {
		status = 0
	}
	c := rs.codes[status].Load()
	if c == nil {
		c = &counter{rs.h.requests.WithLabelValues(rs.route, strconv.Itoa(status))}
		rs.codes[status].Store(c) // a racing store holds the same child
	}
	c.Inc()
}

// routes are the patterns of an app's handler routes (middleware
// excluded), read once from the app at its first request, when every route
// is registered. Only these become label values, which bounds the
// series.
type routes struct {
	once  sync.Once
	known map[string]bool
}

// pattern is the pattern of the route that handled c, or routeOther. After
// a request no route handled, c.Route() is the last middleware that ran,
// hence the check against the app's handler routes.
func (r *routes) pattern(c *fiber.Ctx) string {
	r.once.Do(func() {
		r.known = map[string]bool{}
		for _, rt := range c.App().GetRoutes(true) {
			r.known[rt.Path] = true
		}
	})
	if rt := c.Route(); rt != nil && r.known[rt.Path] {
		return rt.Path
	}
	return routeOther
}

// MiddlewareOptions configure Middleware.
type MiddlewareOptions struct {
	// Log receives the access log and is the base logger.
	Log *slog.Logger
	// AccessLog logs one line per request at Info level. It can also be
	// silenced with a log level above info.
	AccessLog bool
	// HTTP counts and times requests; nil disables metrics.
	HTTP *HTTP
	// ErrorHandler renders a handler's error (the app's ErrorHandler): it
	// is called here, so the status is known when counting and logging.
	ErrorHandler fiber.ErrorHandler
}

// Middleware must be the first handler of an app. It gives every response
// an x-request-id (the client's, when valid, or a generated one, unless
// the handler set one), renders errors, counts and times the request, and
// writes the access log line: request id, method, route, path (with
// anything key- or token-shaped redacted), status, duration. It never logs
// headers or bodies, so credentials never reach the log.
func Middleware(o MiddlewareOptions) fiber.Handler {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	rt := &routes{}
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		if err != nil {
			// The id first, so the error handler can log it.
			EnsureRequestID(c)
			if herr := o.ErrorHandler(c, err); herr != nil {
				return herr
			}
		}
		id := EnsureRequestID(c)
		d := time.Since(start)
		status := c.Response().StatusCode()
		route := ""
		if o.HTTP != nil {
			route = rt.pattern(c)
			o.HTTP.route(route).observe(status, d)
		}
		if o.AccessLog && log.Enabled(context.Background(), slog.LevelInfo) {
			if route == "" {
				route = rt.pattern(c)
			}
			log.LogAttrs(context.Background(), slog.LevelInfo, "request",
				slog.String("request_id", string(id)),
				slog.String("method", c.Method()),
				slog.String("route", route),
				slog.String("path", RedactPath(c.Path())),
				slog.Int("status", status),
				slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			)
		}
		return nil
	}
}

// RedactPath replaces path segments that look like credentials (virtual
// keys "sk-...", JWTs "eyJ...") with "[REDACTED]": LiteLLM-style routes
// such as /key/{key}/regenerate carry a plaintext key in the path.
func RedactPath(p string) string {
	if !strings.Contains(p, "sk-") && !strings.Contains(p, "eyJ") {
		return p
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "sk-") || strings.HasPrefix(s, "eyJ") {
			segs[i] = "[REDACTED]"
		}
	}
	return strings.Join(segs, "/")
}
