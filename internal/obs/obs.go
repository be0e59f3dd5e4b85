// Package obs is what the edge and the control plane share for operators:
// the slog setup (JSON or text), request ids (x-request-id), the HTTP
// middleware that counts, times and access-logs every request, and the
// Prometheus registry and /metrics handler.
//
// Metric names start with gatehouse_. Each server (an edge, a control
// replica) has its own registry, so several of them in one process (make
// run, tests) do not share series.
package obs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewLogger builds the process logger. format is "json" (the default, for
// log shippers) or "text" (for a terminal); level is a slog level name
// ("debug", "info", "warn", "error").
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var l slog.Level
	if level == "" {
		level = "info"
	}
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	o := &slog.HandlerOptions{Level: l}
	switch strings.ToLower(format) {
	case "", "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	}
	return nil, fmt.Errorf("log format %q: want json or text", format)
}

// NewRegistry returns a registry with the Go runtime and process
// collectors, for one server.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves reg in the Prometheus text format (or OpenMetrics when
// the scraper asks for it).
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true})
}

// FiberHandler is Handler as a Fiber route, for /metrics on the server's
// own listener.
func FiberHandler(reg *prometheus.Registry) fiber.Handler {
	return adaptor.HTTPHandler(Handler(reg))
}

// ServeMetrics serves /metrics (and nothing else) on its own listener
// until ctx ends, for operators who keep metrics off the public port.
// ready, if not nil, receives the bound address.
func ServeMetrics(ctx context.Context, addr string, reg *prometheus.Registry, log *slog.Logger, ready chan<- string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", Handler(reg))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if log != nil {
		log.Info("metrics serving", "addr", ln.Addr().String())
	}
	if ready != nil {
		ready <- ln.Addr().String()
	}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Serve starts app on ln (nil: a new listener on addr; component names
// the server in the listen error) and, when metricsAddr is set, reg's
// /metrics on its own listener until stop is called. Either server's
// failure arrives on errs; the caller selects on it beside its own
// channels, so Serve owns no shutdown policy. stop must be called (defer
// it) even after a failure.
func Serve(ctx context.Context, app *fiber.App, ln net.Listener, component, addr, metricsAddr string, reg *prometheus.Registry, log *slog.Logger) (bound net.Listener, errs <-chan error, stop func(), err error) {
	if ln == nil {
		if ln, err = net.Listen("tcp", addr); err != nil {
			return nil, nil, nil, fmt.Errorf("%s: listen %s: %w", component, addr, err)
		}
	}
	serveErr := make(chan error, 2)
	go func() { serveErr <- app.Listener(ln) }()
	stop = func() {}
	if metricsAddr != "" {
		var mctx context.Context
		mctx, stop = context.WithCancel(ctx)
		go func() {
			if err := ServeMetrics(mctx, metricsAddr, reg, log, nil); err != nil {
				serveErr <- err
			}
		}()
	}
	return ln, serveErr, stop, nil
}
