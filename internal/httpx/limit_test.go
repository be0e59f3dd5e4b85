package httpx

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

func gzipped(b []byte) []byte {
	var out bytes.Buffer
	return compress(&out, gzip.NewWriter(&out), b)
}

func zlibbed(b []byte) []byte {
	var out bytes.Buffer
	return compress(&out, zlib.NewWriter(&out), b)
}

// compress writes b through w, a compressor writing to out, and returns
// out once w is closed.
func compress(out *bytes.Buffer, w io.WriteCloser, b []byte) []byte {
	_, _ = w.Write(b)
	_ = w.Close()
	return out.Bytes()
}

// A compressed body is held to the body limit once decompressed, and the
// handler reads it decoded exactly once.
func TestLimitBodyContentEncoding(t *testing.T) {
	const limit = 1000
	app := fiber.New(fiber.Config{BodyLimit: limit, StreamRequestBody: true, ErrorHandler: ErrorHandler(nil)})
	app.Use(LimitBody(limit))
	app.Post("/", func(c *fiber.Ctx) error {
		return c.SendString(strconv.Itoa(len(c.Body())) + ":" + string(c.Body()[:min(5, len(c.Body()))]))
	})
	small := []byte(`{"a":"` + strings.Repeat("x", 500) + `"}`)
	bomb := gzipped(bytes.Repeat([]byte("a"), 10<<20))
	cases := []struct {
		name   string
		enc    []string
		body   []byte
		status int
		want   string
	}{
		{"plain", nil, small, 200, "508:{\"a\":"},
		{"identity", []string{"identity"}, small, 200, "508:{\"a\":"},
		{"gzip", []string{"gzip"}, gzipped(small), 200, "508:{\"a\":"},
		{"GZIP upper case", []string{"GZIP"}, gzipped(small), 200, "508:{\"a\":"},
		{"x-gzip", []string{"x-gzip"}, gzipped(small), 200, "508:{\"a\":"},
		{"deflate", []string{"deflate"}, zlibbed(small), 200, "508:{\"a\":"},
		{"two layers", []string{"deflate, gzip"}, gzipped(zlibbed(small)), 200, "508:{\"a\":"},
		{"gzip bomb", []string{"gzip"}, bomb, 413, ""},
		{"bomb behind an identity header", []string{"identity", "gzip"}, bomb, 413, ""},
		{"bomb in the second layer", []string{"gzip, gzip"}, gzipped(bomb), 413, ""},
		{"too many layers", []string{"gzip,gzip,gzip,gzip"}, small, 415, ""},
		{"br", []string{"br"}, small, 415, ""},
		{"not gzip", []string{"gzip"}, small, 400, ""},
		{"truncated gzip", []string{"gzip"}, gzipped(small)[:40], 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/", bytes.NewReader(tc.body))
			for _, e := range tc.enc {
				req.Header.Add("Content-Encoding", e)
			}
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, got)
			}
			if tc.status == http.StatusOK && string(got) != tc.want {
				t.Fatalf("handler read %q, want %q", got, tc.want)
			}
			if tc.status != http.StatusOK && !bytes.Contains(got, []byte(`"error":{`)) {
				t.Fatalf("not an error envelope: %s", got)
			}
		})
	}
}

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
