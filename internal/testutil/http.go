package testutil

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// NewRequest builds an API request the way tests send them: body as JSON
// (nil: no body; a string or []byte: sent as it is, to test malformed
// input), "Authorization: Bearer <bearer>" when bearer is set,
// Content-Type application/json when there is a body, then headers.
func NewRequest(method, url, bearer string, body any, headers map[string]string) (*http.Request, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return req, nil
}

// Do sends NewRequest's request with c and reads the answer; the
// response's body is already closed. A body cut short is returned as far
// as it came, without an error: tests check what a client saw.
func Do(c *http.Client, method, url, bearer string, body any, headers map[string]string) (*http.Response, []byte, error) {
	req, err := NewRequest(method, url, bearer, body, headers)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw, nil
}

// App is what Serve runs: a *fiber.App (an interface, so that this
// package does not depend on the web framework).
type App interface {
	Listener(ln net.Listener) error
	ShutdownWithTimeout(timeout time.Duration) error
}

// Serve serves app on a loopback port of its own until the test ends
// (shut down within 5 s) and returns its base URL, http://127.0.0.1:port.
func Serve(t testing.TB, app App) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.ShutdownWithTimeout(5 * time.Second) })
	return "http://" + ln.Addr().String()
}
