package baseline

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/loadtest/mockupstream"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// proxies are the two ways to serve the proxy; every behaviour test runs
// against both.
var proxies = []struct {
	name string
	new  func(upstream string) *Proxy
}{{"fasthttp", New}, {"fiber", NewFiber}}

// eachProxy runs f as a subtest against each of proxies.
func eachProxy(t *testing.T, f func(t *testing.T, newProxy func(string) *Proxy)) {
	for _, p := range proxies {
		t.Run(p.name, func(t *testing.T) { f(t, p.new) })
	}
}

// setup starts a mock upstream and the proxy newProxy makes in front of it
// and returns (direct URL, proxied URL).
func setup(t *testing.T, newProxy func(string) *Proxy, o mockupstream.Options) (string, string) {
	t.Helper()
	upLn := listen(t)
	up := mockupstream.New(o)
	go up.Serve(upLn) //nolint:errcheck
	t.Cleanup(up.Close)

	pxLn := listen(t)
	px := newProxy(upLn.Addr().String())
	go px.Serve(pxLn) //nolint:errcheck
	t.Cleanup(px.Close)
	return "http://" + upLn.Addr().String(), "http://" + pxLn.Addr().String()
}

func fetch(t *testing.T, url, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return resp, b
}

func TestNonStreamIdentical(t *testing.T) { eachProxy(t, testNonStreamIdentical) }

func testNonStreamIdentical(t *testing.T, newProxy func(string) *Proxy) {
	direct, proxied := setup(t, newProxy, mockupstream.Options{})
	_, want := fetch(t, direct, `{"model":"m"}`)
	for i := 0; i < 3; i++ { // reuse of pooled upstream connections
		resp, got := fetch(t, proxied, `{"model":"m"}`)
		if !bytes.Equal(got, want) {
			t.Fatalf("proxied body differs:\n got %s\nwant %s", got, want)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("content-type %q", ct)
		}
	}
}

func frames(b []byte) []string {
	var out []string
	for _, f := range strings.Split(string(b), "\n\n") {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

func TestStreamIdentical(t *testing.T) { eachProxy(t, testStreamIdentical) }

func testStreamIdentical(t *testing.T, newProxy func(string) *Proxy) {
	const chunks = 6
	direct, proxied := setup(t, newProxy, mockupstream.Options{Chunks: chunks, ChunkInterval: mockupstream.DefaultChunkInterval / 10})
	for _, body := range []string{
		`{"stream":true}`,
		`{"stream":true,"stream_options":{"include_usage":true}}`,
	} {
		_, wantB := fetch(t, direct, body)
		resp, gotB := fetch(t, proxied, body)
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("content-type %q", ct)
		}
		want, got := frames(wantB), frames(gotB)
		if len(want) < chunks+2 || want[len(want)-1] != "data: [DONE]" {
			t.Fatalf("unexpected direct stream: %q", want)
		}
		if len(got) != len(want) {
			t.Fatalf("got %d frames, want %d:\n%q", len(got), len(want), got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("frame %d differs:\n got %s\nwant %s", i, got[i], want[i])
			}
		}
	}
}

func TestUpstreamDown(t *testing.T) {
	dead := listen(t)
	addr := dead.Addr().String()
	dead.Close()
	pxLn := listen(t)
	px := New(addr)
	go px.Serve(pxLn) //nolint:errcheck
	t.Cleanup(px.Close)
	resp, err := http.Post("http://"+pxLn.Addr().String()+"/v1/chat/completions", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
}

// TestStreamIncremental checks the proxy forwards frames as they arrive rather
// than buffering the whole stream: after the first frame is received, at least
// the remaining chunk intervals must still elapse before [DONE].
func TestStreamIncremental(t *testing.T) { eachProxy(t, testStreamIncremental) }

func testStreamIncremental(t *testing.T, newProxy func(string) *Proxy) {
	const interval = 30 * time.Millisecond
	_, proxied := setup(t, newProxy, mockupstream.Options{Chunks: 4, ChunkInterval: interval})
	resp, err := http.Post(proxied+"/v1/chat/completions", "application/json", strings.NewReader(`{"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el < 2*interval {
		t.Fatalf("rest of stream arrived %v after first frame; proxy appears to buffer", el)
	}
	if !bytes.HasSuffix(rest, []byte("data: [DONE]\n\n")) {
		t.Fatalf("stream did not end with [DONE]: %q", rest)
	}
}
