package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/policy"
)

// waitLimit bounds every wait in these tests; reaching it is a failure,
// not a timing assumption.
const waitLimit = 10 * time.Second

const (
	testKey   = "upstream-key-0123456789"  // not sk- shaped: scrubbed as d.APIKey
	otherKey  = "sk-proj-AbCdEfGh12345678" // scrubbed by shape
	clientKey = "sk-client-key-should-not-travel"
)

// edge is a fiber app on a real listener whose handler calls the
// forwarder the way the gateway's edge does.
type edge struct {
	url  string
	done chan result
}

// result is one call of the forwarder's done callback.
type result struct {
	u   Usage
	err error
}

func startEdge(t *testing.T, f *Forwarder, d *policy.Deployment) *edge {
	t.Helper()
	e := &edge{done: make(chan result, 64)}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Post("/v1/chat/completions", func(c *fiber.Ctx) error {
		var probe struct {
			Stream bool `json:"stream"`
		}
		_ = json.Unmarshal(c.Body(), &probe)
		err := f.ChatCompletionDone(c.Context(), d, d.UpstreamModel, c.Body(), probe.Stream, func(u Usage, err error) { e.done <- result{u, err} })
		if err == nil {
			return nil
		}
		ae := apierror.From(err)
		for k, v := range ae.Header {
			c.Set(k, v)
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Status(ae.Status).Send(ae.JSON())
	})
	e.url = testutil.Serve(t, app) + "/v1/chat/completions"
	return e
}

// waitDone returns the error the forwarder reported for the request.
func (e *edge) waitDone(t *testing.T) error {
	t.Helper()
	return e.waitResult(t).err
}

// waitResult returns the usage and error the forwarder reported.
func (e *edge) waitResult(t *testing.T) result {
	t.Helper()
	return testutil.Receive(t, e.done, waitLimit, "forwarder never reported the end of the request")
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	testutil.Receive(t, ch, waitLimit, "timed out waiting for "+what)
}

func post(t *testing.T, url, body string, hdr map[string]string) *http.Response {
	t.Helper()
	// The whole exchange is bounded, so a proxy that withholds the
	// response (e.g. buffers a stream) fails the test instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkHeaders checks values in h; "" wants the header absent.
func checkHeaders(t *testing.T, h http.Header, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if got := h.Get(k); got != w {
			t.Errorf("header %s = %q, want %q", k, got, w)
		}
	}
}

func decodeError(t *testing.T, body string) apierror.BodyError {
	t.Helper()
	var env apierror.Body
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatalf("not an error envelope: %q", body)
	}
	return env.Error
}

// readEvent returns the data lines of the next SSE event, joined by "\n".
func readEvent(br *bufio.Reader) (string, error) {
	var data []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return strings.Join(data, "\n"), err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if data == nil {
				continue
			}
			return strings.Join(data, "\n"), nil
		}
		if v, ok := strings.CutPrefix(line, "data:"); ok {
			data = append(data, strings.TrimPrefix(v, " "))
		}
	}
}

// startUpstream runs h as a real upstream. stop is closed when the test
// ends, before Close waits for handlers, so a handler waiting on the proxy
// cannot hang a failing test.
func startUpstream(t *testing.T, h func(w http.ResponseWriter, r *http.Request, stop <-chan struct{})) *httptest.Server {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(w, r, stop) }))
	t.Cleanup(func() {
		close(stop)
		srv.Close()
	})
	return srv
}

func openAIDeployment(base string) *policy.Deployment {
	return &policy.Deployment{
		ID: "dep-1", ModelName: "my-group", Provider: "openai", UpstreamModel: "gpt-upstream",
		APIBase: base, APIKey: testKey, Organization: "org-123",
		ExtraHeaders: map[string]string{"X-Extra": "yes"},
	}
}

type seenRequest struct {
	path   string
	header http.Header
	body   []byte
}

func TestForwardNonStream(t *testing.T) {
	const upstreamBody = "{\"id\":\"chatcmpl-1\",  \"object\":\"chat.completion\",\"choices\":[{\"message\":{\"content\":\"h\\u00e9\"}}]}\n"
	seen := make(chan seenRequest, 1)
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		b, _ := io.ReadAll(r.Body)
		seen <- seenRequest{path: r.URL.Path, header: r.Header.Clone(), body: b}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req-abc")
		w.Header().Set("Openai-Processing-Ms", "42")
		w.Header().Set("Set-Cookie", "__cf_bm=secret")
		w.Header().Set("Openai-Organization", "org-123")
		_, _ = io.WriteString(w, upstreamBody)
	})
	d := openAIDeployment(up.URL + "/v1")
	e := startEdge(t, New(Options{}), d)

	clientBody := `{"model":"my-group","messages":[{"role":"user","content":"hi","model":"nested"}],"temperature":0.5}`
	resp := post(t, e.url, clientBody, map[string]string{
		"Authorization": "Bearer " + clientKey, "X-Client-Only": "1", "Cookie": "a=b",
	})
	got := readAll(t, resp.Body)

	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
	if got != upstreamBody {
		t.Fatalf("body not passed verbatim:\n got  %q\n want %q", got, upstreamBody)
	}
	if v := resp.Header.Get("X-Upstream-Request-Id"); v != "req-abc" {
		t.Errorf("X-Upstream-Request-Id = %q", v)
	}
	if v := resp.Header.Get("Openai-Processing-Ms"); v != "42" {
		t.Errorf("Openai-Processing-Ms = %q", v)
	}
	for _, h := range []string{"Set-Cookie", "Openai-Organization", "X-Request-Id"} {
		if v := resp.Header.Get(h); v != "" {
			t.Errorf("upstream header %s leaked: %q", h, v)
		}
	}
	if err := e.waitDone(t); err != nil {
		t.Errorf("done(%v), want nil", err)
	}

	r := <-seen
	want := `{"model":"gpt-upstream","messages":[{"role":"user","content":"hi","model":"nested"}],"temperature":0.5}`
	checks := []struct{ name, got, want string }{
		{"path", r.path, "/v1/chat/completions"},
		{"body", string(r.body), want},
		{"Authorization", r.header.Get("Authorization"), "Bearer " + testKey},
		{"OpenAI-Organization", r.header.Get("Openai-Organization"), "org-123"},
		{"X-Extra", r.header.Get("X-Extra"), "yes"},
		{"Content-Type", r.header.Get("Content-Type"), "application/json"},
		{"Accept", r.header.Get("Accept"), "application/json"},
		{"X-Client-Only", r.header.Get("X-Client-Only"), ""},
		{"Cookie", r.header.Get("Cookie"), ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("upstream %s = %q, want %q", c.name, c.got, c.want)
		}
	}
}

// sseUpstream writes SSE frames with explicit flushes, like OpenAI.
func sseHeaders(w http.ResponseWriter) *http.ResponseController {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("X-Request-Id", "req-stream")
	w.WriteHeader(200)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	return rc
}

func sendFrame(w http.ResponseWriter, rc *http.ResponseController, data string) error {
	if _, err := fmt.Fprintf(w, "data: %s\n\n", data); err != nil {
		return err
	}
	return rc.Flush()
}

func TestStreamChunkByChunk(t *testing.T) {
	release := make(chan struct{})
	var accept string
	var acceptMu sync.Mutex
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		acceptMu.Lock()
		accept = r.Header.Get("Accept")
		acceptMu.Unlock()
		rc := sseHeaders(w)
		_ = sendFrame(w, rc, `{"choices":[{"delta":{"content":"one"}}]}`)
		// The second chunk only exists once the client saw the first: a
		// proxy that buffers would deadlock here and fail the test.
		select {
		case <-release:
		case <-r.Context().Done():
		case <-stop:
			return
		}
		_ = sendFrame(w, rc, `{"choices":[{"delta":{"content":"two"}}]}`)
		_ = sendFrame(w, rc, `[DONE]`)
	})

	d := openAIDeployment(up.URL + "/v1")
	e := startEdge(t, New(Options{}), d)
	resp := post(t, e.url, `{"model":"my-group","stream":true,"messages":[]}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, readAll(t, resp.Body))
	}
	checkHeaders(t, resp.Header, map[string]string{
		"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache",
		"X-Accel-Buffering": "no", "X-Upstream-Request-Id": "req-stream",
	})

	type ev struct {
		data string
		err  error
	}
	events := make(chan ev)
	go func() {
		br := bufio.NewReader(resp.Body)
		for {
			data, err := readEvent(br)
			events <- ev{data, err}
			if err != nil {
				return
			}
		}
	}()
	next := func() ev {
		select {
		case e := <-events:
			return e
		case <-time.After(waitLimit):
			t.Fatal("no event: the proxy is buffering the stream")
			return ev{}
		}
	}

	first := next()
	if first.err != nil || !strings.Contains(first.data, `"one"`) {
		t.Fatalf("first event = %+v", first)
	}
	close(release)
	var rest []string
	for {
		e := next()
		if e.err == io.EOF {
			break
		}
		if e.err != nil {
			t.Fatal(e.err)
		}
		rest = append(rest, e.data)
	}
	if len(rest) != 2 || !strings.Contains(rest[0], `"two"`) || rest[1] != "[DONE]" {
		t.Fatalf("events after release = %q", rest)
	}
	if err := e.waitDone(t); err != nil {
		t.Errorf("done(%v), want nil", err)
	}
	acceptMu.Lock()
	defer acceptMu.Unlock()
	if accept != "text/event-stream" {
		t.Errorf("upstream Accept = %q", accept)
	}
}

// stream_timeout bounds the wait for the first byte and each silence after
// it (as httpx's read timeout does for LiteLLM), not the stream's length:
// a stream that runs several times longer, with chunks coming in time, is
// not cut by it.
func TestStreamOutlivesFirstByteTimeout(t *testing.T) {
	const ttfb = 300 * time.Millisecond
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		rc := sseHeaders(w)
		for i := 1; i <= 4; i++ {
			_ = sendFrame(w, rc, fmt.Sprintf(`{"n":%d}`, i))
			// Outliving the timeout in total is the point of this test.
			select {
			case <-time.After(ttfb / 2):
			case <-r.Context().Done():
				return
			case <-stop:
				return
			}
		}
		_ = sendFrame(w, rc, `[DONE]`)
	})
	d := openAIDeployment(up.URL)
	d.StreamTimeout = ttfb
	e := startEdge(t, New(Options{}), d)
	resp := post(t, e.url, `{"model":"my-group","stream":true}`, nil)
	got := readAll(t, resp.Body)
	want := "data: {\"n\":1}\n\ndata: {\"n\":2}\n\ndata: {\"n\":3}\n\ndata: {\"n\":4}\n\ndata: [DONE]\n\n"
	if got != want {
		t.Fatalf("stream = %q, want %q", got, want)
	}
	if err := e.waitDone(t); err != nil {
		t.Errorf("done(%v), want nil", err)
	}
}

// A stream whose upstream goes silent after the first chunk is cut after
// stream_timeout with an error event, not after the edge-wide default.
func TestStreamSilenceCutByStreamTimeout(t *testing.T) {
	const limit = 200 * time.Millisecond
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		rc := sseHeaders(w)
		_ = sendFrame(w, rc, `{"n":1}`)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	d := openAIDeployment(up.URL)
	d.StreamTimeout = limit
	e := startEdge(t, New(Options{StreamKeepAlive: -1}), d)
	t0 := time.Now()
	resp := post(t, e.url, `{"model":"my-group","stream":true}`, nil)
	got := readAll(t, resp.Body)
	if took := time.Since(t0); took > 10*limit {
		t.Fatalf("silent stream cut after %s, stream_timeout %s", took, limit)
	}
	if !strings.HasPrefix(got, "data: {\"n\":1}\n\n") || !strings.Contains(got, `"code":"upstream_timeout"`) {
		t.Fatalf("stream = %q", got)
	}
}

// While the upstream is silent mid-stream, keep-alive comments reach the
// client, and a client that left is noticed by them: the upstream request
// is aborted without waiting for its next chunk.
func TestKeepAliveFindsClientGoneDuringSilence(t *testing.T) {
	aborted := make(chan struct{})
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		rc := sseHeaders(w)
		_ = sendFrame(w, rc, `{"n":1}`)
		select {
		case <-r.Context().Done():
			close(aborted)
		case <-stop:
		}
	})
	d := openAIDeployment(up.URL)
	e := startEdge(t, New(Options{StreamKeepAlive: 50 * time.Millisecond}), d)
	resp := post(t, e.url, `{"model":"my-group","stream":true}`, nil)
	br := bufio.NewReader(resp.Body)
	var seen []string
	for len(seen) < 4 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, line)
	}
	if seen[0] != "data: {\"n\":1}\n" || seen[2] != ": keep-alive\n" {
		t.Fatalf("want the chunk then a keep-alive comment, got %q", seen)
	}
	resp.Body.Close()
	select {
	case <-aborted:
	case <-time.After(5 * time.Second):
		t.Fatal("upstream still running 5s after the client left during silence")
	}
	if err := e.waitDone(t); !errors.Is(err, ErrClientGone) {
		t.Errorf("done(%v), want ErrClientGone", err)
	}
}

func TestClientDisconnectAbortsUpstream(t *testing.T) {
	aborted := make(chan struct{})
	var once sync.Once
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		rc := sseHeaders(w)
		tick := time.NewTicker(5 * time.Millisecond) // an upstream generating tokens
		defer tick.Stop()
		for i := 0; ; i++ {
			if err := sendFrame(w, rc, fmt.Sprintf(`{"i":%d}`, i)); err != nil {
				once.Do(func() { close(aborted) })
				return
			}
			select {
			case <-r.Context().Done():
			case <-stop:
				once.Do(func() { close(aborted) })
				return
			case <-tick.C:
			}
		}
	})
	e := startEdge(t, New(Options{}), openAIDeployment(up.URL))

	resp := post(t, e.url, `{"model":"my-group","stream":true}`, nil)
	br := bufio.NewReader(resp.Body)
	if data, err := readEvent(br); err != nil || data != `{"i":0}` {
		t.Fatalf("first event %q, %v", data, err)
	}
	resp.Body.Close() // closes the connection: the client is gone

	waitFor(t, aborted, "the upstream request to be aborted")
	if err := e.waitDone(t); !errors.Is(err, ErrClientGone) {
		t.Fatalf("done(%v), want ErrClientGone", err)
	}
}

func TestStreamIdleTimeoutEndsWithErrorEvent(t *testing.T) {
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		rc := sseHeaders(w)
		_ = sendFrame(w, rc, `{"n":1}`)
		_, _ = io.WriteString(w, `data: {"partial`) // never completed
		_ = rc.Flush()
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	e := startEdge(t, New(Options{StreamIdleTimeout: 100 * time.Millisecond}), openAIDeployment(up.URL))
	resp := post(t, e.url, `{"model":"my-group","stream":true}`, nil)
	br := bufio.NewReader(resp.Body)
	events := readEvents(t, br)
	if len(events) != 2 || events[0] != `{"n":1}` {
		t.Fatalf("events = %q", events)
	}
	if be := decodeError(t, events[1]); be.Code != "upstream_timeout" || be.Type != "upstream_error" {
		t.Fatalf("error event = %+v", be)
	}
	if err := e.waitDone(t); err == nil || !isTimeout(err) {
		t.Fatalf("done(%v), want a timeout", err)
	}
}

func TestUpstreamErrors(t *testing.T) {
	secrets := []string{testKey, otherKey, "sk-abcdefgh12345678"}
	msgWithSecrets := "bad request for key " + testKey + " and " + otherKey
	tests := []struct {
		name       string
		status     int
		body       string
		ctype      string
		retryAfter string
		stream     bool

		wantStatus int
		wantType   string
		wantCode   string
		wantMsg    string // substring
	}{
		{
			name: "400 keeps status and type, message scrubbed", status: 400,
			body:       `{"error":{"message":"` + msgWithSecrets + `","type":"invalid_request_error","code":"bad_param","param":"messages"}}`,
			wantStatus: 400, wantType: "invalid_request_error", wantCode: "bad_param", wantMsg: "bad request for key [REDACTED] and [REDACTED]",
		},
		{
			name: "404 model not found", status: 404,
			body:       `{"error":{"message":"The model gpt-x does not exist","type":"invalid_request_error","code":"model_not_found"}}`,
			wantStatus: 404, wantType: "invalid_request_error", wantCode: "model_not_found", wantMsg: "gpt-x does not exist",
		},
		{
			name: "422 without type gets invalid_request_error", status: 422,
			body:       `{"object":"error","message":"field required sk-abcdefgh12345678","code":422}`,
			wantStatus: 422, wantType: "invalid_request_error", wantCode: "422", wantMsg: "field required [REDACTED]",
		},
		{
			name: "429 rate limit with retry-after", status: 429, retryAfter: "7",
			body:       `{"error":{"message":"Rate limit reached for ` + otherKey + `"}}`,
			wantStatus: 429, wantType: "rate_limit_error", wantCode: "rate_limit_exceeded", wantMsg: "Rate limit reached for [REDACTED]",
		},
		{
			name: "401 becomes 502 upstream auth error", status: 401,
			body:       `{"error":{"message":"Incorrect API key provided: ` + testKey + `","type":"invalid_request_error","code":"invalid_api_key"}}`,
			wantStatus: 502, wantType: "upstream_error", wantCode: "upstream_auth_error",
			wantMsg: "upstream provider rejected the gateway's credentials for model my-group",
		},
		{
			name: "403 becomes 502 upstream auth error", status: 403, body: `forbidden ` + testKey, ctype: "text/plain",
			wantStatus: 502, wantType: "upstream_error", wantCode: "upstream_auth_error", wantMsg: "credentials for model my-group",
		},
		{
			name: "500 json becomes 502 with scrubbed message", status: 500,
			body:       `{"error":{"message":"internal failure near ` + otherKey + `","type":"server_error"}}`,
			wantStatus: 502, wantType: "upstream_error", wantCode: "upstream_error", wantMsg: "internal failure near [REDACTED]",
		},
		{
			name: "503 non-json becomes generic 502", status: 503, ctype: "text/html",
			body:       "<html>down " + testKey + " " + otherKey + "</html>",
			wantStatus: 502, wantType: "upstream_error", wantCode: "upstream_error", wantMsg: "upstream provider returned HTTP 503 for model my-group",
		},
		{
			name: "streaming request, 429 json", status: 429, stream: true,
			body:       `{"error":{"message":"slow down ` + testKey + `","type":"requests","code":"rate_limit_exceeded"}}`,
			wantStatus: 429, wantType: "requests", wantCode: "rate_limit_exceeded", wantMsg: "slow down [REDACTED]",
		},
		{
			name: "streaming request, 401", status: 401, stream: true,
			body:       `{"error":{"message":"bad key ` + testKey + `"}}`,
			wantStatus: 502, wantType: "upstream_error", wantCode: "upstream_auth_error", wantMsg: "model my-group",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := startUpstream(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
				ct := tt.ctype
				if ct == "" {
					ct = "application/json"
				}
				w.Header().Set("Content-Type", ct)
				w.Header().Set("X-Leak", testKey)
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			e := startEdge(t, New(Options{}), openAIDeployment(up.URL))
			resp := post(t, e.url, fmt.Sprintf(`{"model":"my-group","stream":%v}`, tt.stream), nil)
			body := readAll(t, resp.Body)

			var raw bytes.Buffer
			_ = resp.Header.Write(&raw)
			raw.WriteString(body)
			for _, s := range secrets {
				if strings.Contains(raw.String(), s) {
					t.Fatalf("response leaks %q:\n%s", s, raw.String())
				}
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			be := decodeError(t, body)
			if be.Type != tt.wantType || be.Code != tt.wantCode || !strings.Contains(be.Message, tt.wantMsg) {
				t.Fatalf("error = %+v, want type %q code %q message containing %q", be, tt.wantType, tt.wantCode, tt.wantMsg)
			}
			if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			var ae *apierror.Error
			if err := e.waitDone(t); !errors.As(err, &ae) || ae.Status != tt.wantStatus {
				t.Fatalf("done(%v), want the rendered *apierror.Error", err)
			}
			if strings.Contains(ae.Error(), testKey) {
				t.Errorf("logged cause leaks the key: %v", ae)
			}
		})
	}
}

func TestTransportErrors(t *testing.T) {
	hanging := startUpstream(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	headersOnly := startUpstream(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		sseHeaders(w)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})

	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "http://" + refused.Addr().String()
	refused.Close()

	// Accepts, then resets the connection without answering.
	resetter, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer resetter.Close()
	go func() {
		for {
			c, err := resetter.Accept()
			if err != nil {
				return
			}
			go func() {
				_, _ = c.Read(make([]byte, 4096))
				_ = c.(*net.TCPConn).SetLinger(0)
				c.Close()
			}()
		}
	}()

	tests := []struct {
		name       string
		base       string
		timeout    time.Duration
		streamTO   time.Duration
		stream     bool
		wantStatus int
		wantCode   string
	}{
		{"non-stream timeout", hanging.URL, 100 * time.Millisecond, 0, false, 504, "upstream_timeout"},
		{"stream waits for first byte", headersOnly.URL, 0, 100 * time.Millisecond, true, 504, "upstream_timeout"},
		{"stream uses timeout without stream_timeout", hanging.URL, 100 * time.Millisecond, 0, true, 504, "upstream_timeout"},
		{"connection refused", refusedURL, 0, 0, false, 502, "upstream_error"},
		{"connection reset before response", "http://" + resetter.Addr().String(), 0, 0, true, 502, "upstream_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openAIDeployment(tt.base + "/v1")
			d.Timeout, d.StreamTimeout = tt.timeout, tt.streamTO
			e := startEdge(t, New(Options{}), d)
			resp := post(t, e.url, fmt.Sprintf(`{"model":"my-group","stream":%v}`, tt.stream), nil)
			body := readAll(t, resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			be := decodeError(t, body)
			if be.Code != tt.wantCode || !strings.Contains(be.Message, "my-group") {
				t.Fatalf("error = %+v", be)
			}
			if strings.Contains(body, testKey) || strings.Contains(body, "127.0.0.1") {
				t.Fatalf("error leaks key or address: %s", body)
			}
			_ = e.waitDone(t)
		})
	}
}

func TestDeploymentErrors(t *testing.T) {
	tests := []struct {
		name       string
		d          *policy.Deployment
		wantStatus int
		wantMsg    string
	}{
		{
			name: "misconfigured deployment",
			d: &policy.Deployment{ModelName: "my-group", Provider: "openai", APIKey: "sk-secretvalue123456",
				Err: errors.New("api_key: sk-secretvalue123456 rejected")},
			wantStatus: 500, wantMsg: "deployment my-group is misconfigured",
		},
		{
			name: "unset os.environ reference names the variable",
			d: &policy.Deployment{ModelName: "my-group", Provider: "openai",
				Err: fmt.Errorf("deployment x: api_key: %w", &policy.MissingEnvError{Field: "litellm_params.api_key", Name: "OPENAI_API_KEY"})},
			wantStatus: 500, wantMsg: "deployment my-group is misconfigured: litellm_params.api_key references os.environ/OPENAI_API_KEY, which is not set on this edge",
		},
		{
			name:       "unsupported provider",
			d:          &policy.Deployment{ModelName: "my-group", Provider: "sagemaker", UpstreamModel: "my-endpoint"},
			wantStatus: 400, wantMsg: "provider sagemaker is not supported yet",
		},
		{
			name:       "bedrock without a region",
			d:          &policy.Deployment{ModelName: "my-group", Provider: "bedrock", UpstreamModel: "anthropic.claude-v2"},
			wantStatus: 500, wantMsg: "bedrock needs aws_region_name",
		},
		{
			name:       "vertex without usable credentials",
			d:          &policy.Deployment{ModelName: "my-group", Provider: "vertex_ai", UpstreamModel: "gemini-2.5-flash"},
			wantStatus: 500, wantMsg: "its Google credentials cannot be used",
		},
		{
			name:       "self-hosted provider without api_base",
			d:          &policy.Deployment{ModelName: "my-group", Provider: "hosted_vllm", UpstreamModel: "m", APIKey: "sk-secretvalue123456"},
			wantStatus: 500, wantMsg: "needs an api_base",
		},
		{
			name: "api_base without scheme is not echoed",
			d: &policy.Deployment{ModelName: "my-group", Provider: "openai", UpstreamModel: "m",
				APIBase: "user:sk-secretvalue123456@host/v1"},
			wantStatus: 500, wantMsg: "api_base must be an http(s) URL",
		},
	}
	// No AWS region or Google credentials from this machine's environment.
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "none.json"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startEdge(t, New(Options{}), tt.d)
			resp := post(t, e.url, `{"model":"my-group"}`, nil)
			body := readAll(t, resp.Body)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(decodeError(t, body).Message, tt.wantMsg) {
				t.Fatalf("got %d %s", resp.StatusCode, body)
			}
			if strings.Contains(body, "sk-secretvalue123456") {
				t.Fatalf("leaks the secret: %s", body)
			}
			_ = e.waitDone(t)
		})
	}
}

// Events split across writes, CRLF framing and an event larger than the
// copy buffer all arrive byte for byte.
func TestStreamFramingPassThrough(t *testing.T) {
	big := `{"content":"` + strings.Repeat("x", 40<<10) + `"}`
	parts := []string{
		"data: {\"a\":", "1}\n", "\n",
		": keep-alive comment\n\n",
		"data: {\"b\":2}\r\n\r\n",
		"data: " + big[:10], big[10:] + "\n\n",
		"data: [DONE]\n\n",
	}
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		rc := sseHeaders(w)
		for _, p := range parts {
			if _, err := io.WriteString(w, p); err != nil {
				return
			}
			_ = rc.Flush()
		}
	})
	e := startEdge(t, New(Options{}), openAIDeployment(up.URL))
	resp := post(t, e.url, `{"model":"my-group","stream":true}`, nil)
	if got, want := readAll(t, resp.Body), strings.Join(parts, ""); got != want {
		t.Fatalf("stream changed: got %d bytes, want %d", len(got), len(want))
	}
	if err := e.waitDone(t); err != nil {
		t.Fatalf("done(%v)", err)
	}
}

// A 200 JSON answer to a streaming request (servers that ignore "stream")
// is passed through as is, and a missing Content-Type defaults to JSON.
func TestStreamRequestAnsweredWithJSON(t *testing.T) {
	const body = `{"id":"x","choices":[]}`
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		w.Header()["Content-Type"] = nil // suppress sniffing
		_, _ = io.WriteString(w, body)
	})
	e := startEdge(t, New(Options{}), openAIDeployment(up.URL))
	resp := post(t, e.url, `{"model":"my-group","stream":true}`, nil)
	if got := readAll(t, resp.Body); got != body || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("got %q (%s)", got, resp.Header.Get("Content-Type"))
	}
	_ = e.waitDone(t)
}

// An upstream that echoes the gateway's key anywhere the client would see
// it (a header copied through, a stream event, a success body) has it
// redacted: the security suite found all three passed on verbatim.
func TestUpstreamEchoedKeyIsRedacted(t *testing.T) {
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		b, _ := io.ReadAll(r.Body)
		switch {
		case strings.Contains(string(b), "retry-after"):
			w.Header().Set("Retry-After", testKey)
			w.WriteHeader(429)
			_, _ = io.WriteString(w, `{"error":{"message":"slow down","type":"rate_limit_error"}}`)
		case strings.Contains(string(b), `"stream":true`):
			rc := sseHeaders(w)
			_ = sendFrame(w, rc, `{"choices":[{"delta":{"content":"Hi"}}],"usage":null}`)
			_ = sendFrame(w, rc, `{"error":{"message":"failure for key `+testKey+`"},"usage":null}`)
		default:
			w.Header().Set("X-Request-Id", testKey)
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"choices":[{"message":{"content":"your key is `+testKey+`"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`)
		}
	})
	e := startEdge(t, New(Options{}), openAIDeployment(up.URL))
	for _, body := range []string{
		`{"model":"my-group","messages":[{"role":"user","content":"retry-after"}]}`,
		`{"model":"my-group","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"my-group","messages":[{"role":"user","content":"hi"}]}`,
	} {
		resp := post(t, e.url, body, nil)
		got := readAll(t, resp.Body)
		var hdr strings.Builder
		_ = resp.Header.Write(&hdr)
		if strings.Contains(got, testKey) || strings.Contains(hdr.String(), testKey) {
			t.Errorf("%s: key passed on:\n%s\n%s", body, hdr.String(), got)
		}
		if !strings.Contains(got, redacted) && resp.StatusCode == 200 {
			t.Errorf("%s: nothing redacted: %s", body, got)
		}
		if strings.Contains(body, `"stream":true`) && strings.Contains(got, `"usage":null`) {
			t.Errorf("stream: the injected usage:null was not cut along with the redaction: %s", got)
		}
		e.waitResult(t)
	}
	for in, want := range map[string]string{"12": "12", " 7 ": "7", "Wed, 21 Oct 2015 07:28:00 GMT": "Wed, 21 Oct 2015 07:28:00 GMT", testKey: "", "-1": "", "1.5": ""} {
		if got := safeRetryAfter(in); got != want {
			t.Errorf("safeRetryAfter(%q) = %q, want %q", in, got, want)
		}
	}
}

// The logged cause of an upstream error holds the body cut at 512 bytes;
// a key that straddles the cut must not survive in part.
func TestLoggedUpstreamBodyHasNoPartialKey(t *testing.T) {
	key := "0123456789abcdef0123456789abcdef0123456789abcdef" // no sk- prefix: only the exact key is known
	d := &policy.Deployment{ModelName: "m", APIKey: key}
	body := `{"error":{"message":"` + strings.Repeat("x", 470) + key + `"}}`
	e := mapUpstreamError(d, 503, []byte(body), "")
	if s := e.Error(); strings.Contains(s, key[:16]) {
		t.Fatalf("partial key in the logged cause: %s", s)
	}
}

// readEvents reads SSE data payloads until the stream ends.
func readEvents(t *testing.T, br *bufio.Reader) []string {
	t.Helper()
	var events []string
	for {
		data, err := readEvent(br)
		if err == io.EOF {
			return events
		}
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, data)
	}
}

// TestAnswerOutlivesRecycledBuffer: answers are read into recycled
// buffers, so a response still waiting to be written must hold a copy,
// not the buffer the next request reads its answer into.
func TestAnswerOutlivesRecycledBuffer(t *testing.T) {
	var n atomic.Int64
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"chatcmpl-%d","object":"chat.completion","choices":[]}`, n.Add(1))
	})
	d := openAIDeployment(up.URL + "/v1")
	f := New(Options{})
	var ctxs [8]fasthttp.RequestCtx
	for i := range ctxs {
		err := f.ChatCompletionDone(&ctxs[i], d, d.UpstreamModel, []byte(`{"model":"m","messages":[]}`), false, func(Usage, error) {})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range ctxs {
		want := fmt.Sprintf(`{"id":"chatcmpl-%d","object":"chat.completion","choices":[]}`, i+1)
		if got := string(ctxs[i].Response.Body()); got != want {
			t.Errorf("answer %d = %s, want %s", i, got, want)
		}
	}
}

// TestIdleUpstreamConnectionReusedMostRecentFirst: after a burst opened
// several upstream connections, one request at a time goes out on the
// connection used last, not round the whole pool (fasthttp's default),
// so a quiet period keeps one socket hot and lets the rest age out.
func TestIdleUpstreamConnectionReusedMostRecentFirst(t *testing.T) {
	const burst = 6
	var arrived atomic.Int32
	release := make(chan struct{})
	var mu sync.Mutex
	var addrs []string
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		addrs = append(addrs, r.RemoteAddr)
		mu.Unlock()
		if arrived.Add(1) == burst {
			close(release)
		}
		select { // the burst's requests are all in flight at once
		case <-release:
		case <-stop:
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"x","object":"chat.completion","choices":[]}`)
	})
	e := startEdge(t, New(Options{}), openAIDeployment(up.URL+"/v1"))
	body := `{"model":"my-group","messages":[{"role":"user","content":"hi"}]}`

	var wg sync.WaitGroup
	for range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(e.url, "application/json", strings.NewReader(body))
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	for range 10 {
		if resp := post(t, e.url, body, nil); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	if n := len(distinct(addrs[:burst])); n != burst {
		t.Fatalf("the burst used %d upstream connections, want %d: %v", n, burst, addrs[:burst])
	}
	if got := distinct(addrs[burst:]); len(got) != 1 {
		t.Errorf("one request at a time used %d upstream connections, want 1 (the last used): %v", len(got), addrs[burst:])
	}
}

func distinct(s []string) map[string]bool {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return m
}

// BenchmarkCopyRateLimitHeaders is the scan of an upstream answer's
// headers for its rate limits: OpenAI's usual set, with and without them.
func BenchmarkCopyRateLimitHeaders(b *testing.B) {
	for _, limits := range []bool{false, true} {
		b.Run(fmt.Sprintf("limits=%v", limits), func(b *testing.B) {
			var up, out fasthttp.ResponseHeader
			up.SetContentType("application/json")
			for _, kv := range [][2]string{{"Date", "Sat, 05 Dec 2026 10:00:00 GMT"}, {"Openai-Organization", "org-x"}, {"Openai-Processing-Ms", "250"},
				{"Openai-Version", "2020-10-01"}, {"X-Request-Id", "req_0123456789abcdef"}, {"Cf-Ray", "8f0a-AMS"}, {"Strict-Transport-Security", "max-age=31536000"}} {
				up.Set(kv[0], kv[1])
			}
			if limits {
				for _, kv := range [][2]string{{"X-Ratelimit-Limit-Requests", "5000"}, {"X-Ratelimit-Remaining-Requests", "4999"},
					{"X-Ratelimit-Limit-Tokens", "800000"}, {"X-Ratelimit-Remaining-Tokens", "799990"}, {"X-Ratelimit-Reset-Requests", "12ms"}, {"X-Ratelimit-Reset-Tokens", "1ms"}} {
					up.Set(kv[0], kv[1])
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				out.Reset()
				copyRateLimitHeaders(&out, &up)
			}
		})
	}
}
