package gateway

import (
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/control/api"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/obs"
)

// relay forwards management routes to the control plane unchanged; the
// control plane authenticates them.
type relay struct {
	client *fasthttp.HostClient
	scheme string
}

// relayedHeaders are the control plane's response headers a client of the
// edge needs: the body's type, how far a write propagated, and the 401
// challenge.
var relayedHeaders = []string{fasthttp.HeaderContentType, "X-Gatehouse-Event-Seq", "X-Gatehouse-Propagation", fasthttp.HeaderWWWAuthenticate, fasthttp.HeaderRetryAfter}

func newRelay(controlURL string) *relay {
	u, err := url.Parse(controlURL)
	if err != nil || u.Host == "" {
		u = &url.URL{Scheme: "http", Host: controlURL}
	}
	return &relay{
		scheme: u.Scheme,
		client: &fasthttp.HostClient{
			Addr:                u.Host,
			IsTLS:               u.Scheme == "https",
			ReadTimeout:         30 * time.Second,
			WriteTimeout:        30 * time.Second,
			MaxIdleConnDuration: 30 * time.Second,
		},
	}
}

// relayManagementRoutes registers a relay for every route of the control
// plane's admin API (api.Routes, read from its own Fiber app) that the edge
// does not serve itself (health, metrics), so a route added to the control
// plane is served on the edge port too, without a list to keep in step.
func (g *Gateway) relayManagementRoutes(app *fiber.App) {
	own := map[api.Route]bool{}
	for _, r := range app.GetRoutes(true) {
		own[api.Route{Method: r.Method, Path: r.Path}] = true
	}
	for _, r := range api.Routes() {
		if !own[r] {
			app.Add(r.Method, r.Path, g.relayToControl)
		}
	}
}

func (g *Gateway) relayToControl(c *fiber.Ctx) error {
	if g.relay == nil {
		return apierror.NotFound.With("management routes are not served by this edge (no control plane configured)")
	}
	// The edge is the hop the client reached: allowed_ips is judged here
	// against its address, which the control plane then sees in
	// X-Forwarded-For.
	snap := g.live.Load()
	if err := g.checkProxyIP(c, snap); err != nil {
		return err
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	c.Request().CopyTo(req)
	// One id across edge and control logs: the client's, or the edge's.
	req.Header.SetBytesV(obs.RequestIDHeader, obs.EnsureRequestID(c))
	req.URI().SetScheme(g.relay.scheme)
	req.URI().SetHost(g.relay.client.Addr)
	req.Header.Set("X-Forwarded-For", g.clientIP(c, snap))
	req.Header.Set("X-Gatehouse-Edge", g.edgeID)
	if err := g.relay.client.DoTimeout(req, resp, 30*time.Second); err != nil {
		return apierror.Unavailable.Wrap(err, "control plane unreachable from this edge")
	}
	c.Status(resp.StatusCode())
	// fasthttp normalises header names ("Www-Authenticate"), so the relayed
	// ones are read by name rather than matched while visiting.
	for _, h := range relayedHeaders {
		if v := resp.Header.Peek(h); len(v) > 0 {
			c.Set(h, string(v))
		}
	}
	return c.Send(resp.Body())
}
