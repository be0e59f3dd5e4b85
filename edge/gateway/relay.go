package gateway

import (
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/obs"
)

// relay forwards management routes to the control plane unchanged; the
// control plane authenticates them.
type relay struct {
	client *fasthttp.HostClient
	scheme string
}

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

func (g *Gateway) relayToControl(c *fiber.Ctx) error {
	if g.relay == nil {
		return apierror.NotFound.With("management routes are not served by this edge (no control plane configured)")
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
	req.Header.Set("X-Forwarded-For", c.IP())
	req.Header.Set("X-Gatehouse-Edge", g.edgeID)
	if err := g.relay.client.DoTimeout(req, resp, 30*time.Second); err != nil {
		return apierror.Unavailable.Wrap(err, "control plane unreachable from this edge")
	}
	c.Status(resp.StatusCode())
	resp.Header.VisitAll(func(k, v []byte) {
		switch string(k) {
		case fasthttp.HeaderContentType, "X-Gatehouse-Event-Seq", "X-Gatehouse-Propagation", fasthttp.HeaderWWWAuthenticate:
			c.Set(string(k), string(v))
		}
	})
	return c.Send(resp.Body())
}
