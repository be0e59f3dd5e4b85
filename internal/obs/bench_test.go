package obs

import (
	"io"
	"log/slog"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// BenchmarkMiddleware is the per-request cost of Middleware on a route
// that does nothing: none (the bare app), metrics only (request id kept
// from the client, counted and timed), metrics and access log (JSON to a
// discarded writer).
func BenchmarkMiddleware(b *testing.B) {
	for _, c := range []struct {
		name             string
		middleware, alog bool
		clientID         string
	}{
		{"none", false, false, "bench-id-1"},
		{"metrics", true, false, "bench-id-1"},
		{"metrics+generated_id", true, false, ""},
		{"metrics+access_log", true, true, "bench-id-1"},
	} {
		b.Run(c.name, func(b *testing.B) {
			log := slog.New(slog.NewJSONHandler(io.Discard, nil))
			eh := func(c *fiber.Ctx, err error) error { return c.SendStatus(500) }
			app := fiber.New(fiber.Config{DisableStartupMessage: true, ErrorHandler: eh})
			if c.middleware {
				app.Use(Middleware(MiddlewareOptions{Log: log, AccessLog: c.alog, HTTP: NewHTTP(prometheus.NewRegistry()), ErrorHandler: eh}))
			}
			app.Get("/v1/models", func(c *fiber.Ctx) error { return c.SendString("ok") })
			h := app.Handler()
			var rc fasthttp.RequestCtx
			b.ReportAllocs()
			for b.Loop() {
				rc.Request.Reset()
				rc.Response.Reset()
				rc.Request.Header.SetMethod("GET")
				rc.Request.SetRequestURI("/v1/models")
				if c.clientID != "" {
					rc.Request.Header.Set(RequestIDHeader, c.clientID)
				}
				h(&rc)
				if rc.Response.StatusCode() != 200 {
					b.Fatal(rc.Response.StatusCode())
				}
			}
		})
	}
}
