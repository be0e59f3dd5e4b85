package httpx

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
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
