// Package baseline is the "plain fasthttp reverse proxy" floor (B1) the gateway
// is benchmarked against: every request is forwarded verbatim to a single
// upstream, with no auth and no JSON parsing. SSE responses are streamed
// through chunk by chunk; other responses are copied whole. NewFiber serves
// the same proxy through Fiber as the edge configures it, to tell the
// framework's cost from the gateway's own work.
package baseline

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/internal/httpx"
)

var eventStream = []byte("text/event-stream")

// Proxy forwards all requests to one upstream host:port.
type Proxy struct {
	client *fasthttp.HostClient
	srv    *fasthttp.Server
	app    *fiber.App // NewFiber's; nil for the plain proxy
}

// New returns a Proxy forwarding to upstream ("host:port").
func New(upstream string) *Proxy {
	p := newProxy(upstream)
	p.srv = &fasthttp.Server{Handler: p.handle, NoDefaultServerHeader: true, NoDefaultDate: true}
	return p
}

// newProxy is a Proxy with its upstream client and no server yet.
func newProxy(upstream string) *Proxy {
	return &Proxy{client: &fasthttp.HostClient{Addr: upstream, StreamResponseBody: true, MaxConns: 1 << 16}}
}

// NewFiber returns the same proxy served through Fiber with the edge's
// server settings (httpx.ServerConfig) and one pass-through middleware,
// as the edge's handlers sit behind middleware: the framework's share of
// the edge's cost is what it adds to New's.
func NewFiber(upstream string) *Proxy {
	p := newProxy(upstream)
	p.app = fiber.New(httpx.ServerConfig("baseline", 10<<20, nil))
	p.app.Use(func(c *fiber.Ctx) error { return c.Next() })
	p.app.All("/*", func(c *fiber.Ctx) error {
		c.Body() // reads a streamed request body whole, as the edge's handlers do
		p.handle(c.Context())
		return nil
	})
	return p
}

// Serve serves requests on ln until Close is called.
func (p *Proxy) Serve(ln net.Listener) error {
	if p.app != nil {
		return p.app.Listener(ln)
	}
	return p.srv.Serve(ln)
}

// Close stops the proxy, waiting up to 2s for in-flight requests.
func (p *Proxy) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if p.app != nil {
		_ = p.app.ShutdownWithContext(ctx)
	} else {
		_ = p.srv.ShutdownWithContext(ctx)
	}
	p.client.CloseIdleConnections()
}

func (p *Proxy) handle(ctx *fasthttp.RequestCtx) {
	req := fasthttp.AcquireRequest()
	ctx.Request.CopyTo(req)
	resp := fasthttp.AcquireResponse()
	err := p.client.Do(req, resp)
	fasthttp.ReleaseRequest(req)
	if err != nil {
		fasthttp.ReleaseResponse(resp)
		ctx.Error("upstream error: "+err.Error(), fasthttp.StatusBadGateway)
		return
	}
	resp.Header.CopyTo(&ctx.Response.Header)
	body := resp.BodyStream()
	if body == nil || !bytes.HasPrefix(resp.Header.ContentType(), eventStream) {
		ctx.Response.SetBody(resp.Body()) // Body drains and closes any stream
		fasthttp.ReleaseResponse(resp)
		return
	}
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer fasthttp.ReleaseResponse(resp)
		defer resp.CloseBodyStream() //nolint:errcheck
		buf := make([]byte, 4096)
		for {
			n, rerr := body.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil || w.Flush() != nil {
					return
				}
			}
			if rerr != nil {
				return
			}
		}
	})
}
