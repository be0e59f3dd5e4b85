package baseline

import (
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/internal/httpx"
)

// oneByOneConn hands the server one request per Read, as a client that
// waits for each response does, so the server flushes after every request.
type oneByOneConn struct {
	net.TCPConn
	req  []byte
	left int
}

func (c *oneByOneConn) Read(b []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	c.left--
	return copy(b, c.req), nil
}
func (c *oneByOneConn) Write(b []byte) (int, error) { return len(b), nil }
func (c *oneByOneConn) Close() error                { return nil }
func (c *oneByOneConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
}
func (c *oneByOneConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2} }
func (c *oneByOneConn) SetReadDeadline(time.Time) error  { return nil }
func (c *oneByOneConn) SetWriteDeadline(time.Time) error { return nil }
func (c *oneByOneConn) SetDeadline(time.Time) error      { return nil }

const chatBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello there, gateway"}]}`

var chatReq = []byte("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAuthorization: Bearer sk-0123456789abcdef0123456789abcdef\r\nContent-Type: application/json\r\nContent-Length: " +
	strconv.Itoa(len(chatBody)) + "\r\n\r\n" + chatBody)

var reply = []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}`)

type silent struct{}

func (silent) Printf(string, ...any) {}

func serveN(b *testing.B, s *fasthttp.Server) {
	b.ReportAllocs()
	b.ResetTimer()
	c := &oneByOneConn{req: chatReq, left: b.N}
	if err := s.ServeConn(c); err != nil {
		b.Fatal(err)
	}
}

func plainHandler(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	ctx.SetBody(reply)
}

// BenchmarkFramework is what serving a request costs before any handler
// work, without a network: plain fasthttp as the plain proxy runs it,
// fasthttp with the edge's server settings, and Fiber with the edge's
// config (httpx.ServerConfig, one pass-through middleware, c.Body()), with
// its default config and without streamed request bodies. Every variant
// answers the same fixed JSON to the same chat request, one request per
// read so the server flushes each answer as it does for a real client.
// The difference between the first and the third is Fiber's share of the
// edge's CPU per request; docs/benchmarks.md has the figures.
func BenchmarkFramework(b *testing.B) {
	b.Run("fasthttp", func(b *testing.B) {
		serveN(b, &fasthttp.Server{Handler: plainHandler, NoDefaultServerHeader: true, NoDefaultDate: true})
	})
	b.Run("fasthttp-edge-settings", func(b *testing.B) {
		// Logger: fasthttp logs a warning for every Body() of a streamed
		// request otherwise; Fiber installs the same silent logger.
		serveN(b, &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.Request.Body(); plainHandler(ctx) },
			NoDefaultServerHeader: true, ReadBufferSize: httpx.HeaderBufferSize, StreamRequestBody: true, MaxRequestBodySize: 10 << 20,
			ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute, Logger: silent{}})
	})
	fib := func(cfg fiber.Config) *fasthttp.Server {
		app := fiber.New(cfg)
		app.Use(func(c *fiber.Ctx) error { return c.Next() })
		app.All("/*", func(c *fiber.Ctx) error {
			c.Body()
			plainHandler(c.Context())
			return nil
		})
		return app.Server()
	}
	b.Run("fiber-edge-config", func(b *testing.B) {
		serveN(b, fib(httpx.ServerConfig("b", 10<<20, nil)))
	})
	b.Run("fiber-default", func(b *testing.B) {
		serveN(b, fib(fiber.Config{DisableStartupMessage: true}))
	})
	b.Run("fiber-nostream", func(b *testing.B) {
		cfg := httpx.ServerConfig("b", 10<<20, nil)
		cfg.StreamRequestBody = false
		serveN(b, fib(cfg))
	})
}
