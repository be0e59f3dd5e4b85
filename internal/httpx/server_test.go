package httpx

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// The errors Fiber raises before any handler runs get the gateway's
// codes, not a generic bad_request.
func TestFrameworkErrorsGetTheirCodes(t *testing.T) {
	for _, c := range []struct {
		in   error
		code string
	}{
		{fiber.ErrRequestTimeout, "request_timeout"},
		{fiber.ErrRequestHeaderFieldsTooLarge, "headers_too_large"},
		{fiber.ErrRequestEntityTooLarge, "request_too_large"},
		{fiber.ErrMethodNotAllowed, "method_not_allowed"},
		{fiber.NewError(404, "Cannot GET /x"), "not_found"},
		{fiber.ErrTeapot, "bad_request"},
	} {
		got := toAPIError(c.in)
		if got.Status != c.in.(*fiber.Error).Code || got.Code != c.code || got.Type == "" {
			t.Errorf("%v: %d %s/%s, want %d %s", c.in, got.Status, got.Type, got.Code, c.in.(*fiber.Error).Code, c.code)
		}
	}
}

// A request whose headers outgrow HeaderBufferSize is refused before any
// handler, in the OpenAI envelope, by a server built from ServerConfig.
func TestServerConfigRefusesOversizedHeaders(t *testing.T) {
	app := fiber.New(ServerConfig("test", 1<<20, ErrorHandler(nil)))
	app.Get("/", func(c *fiber.Ctx) error { return c.SendString("ok") })
	base := testutil.Serve(t, app)
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	big := strings.Repeat("a", HeaderBufferSize)
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body apierror.Body
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 431 || body.Error.Code != "headers_too_large" || !strings.Contains(body.Error.Message, "24576 bytes") {
		t.Fatalf("%d %+v", resp.StatusCode, body)
	}
}
