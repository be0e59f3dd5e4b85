package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/edge/spend"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/childproc"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// lockedBuffer collects log output written from request goroutines.
type lockedBuffer struct{ childproc.LockedBuffer }

// lines is the buffer's JSON log lines.
func (l *lockedBuffer) lines() []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// obsUpstream is an OpenAI-compatible upstream that records the
// x-request-id of every call; /fail answers 500.
type obsUpstream struct {
	*httptest.Server
	mu  sync.Mutex
	ids []string
}

func startObsUpstream(t *testing.T) *obsUpstream {
	u := &obsUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.ids = append(u.ids, r.Header.Get("X-Request-Id"))
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/fail") {
			w.WriteHeader(500)
			_, _ = io.WriteString(w, `{"error":{"message":"boom"}}`)
			return
		}
		_, _ = io.WriteString(w, `{"id":"c1","object":"chat.completion","model":"up","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *obsUpstream) last() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.ids) == 0 {
		return ""
	}
	return u.ids[len(u.ids)-1]
}

func doH(t *testing.T, method, url string, hdr map[string]string, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

const obsKey = "sk-virtual-key-obs-000001"

// TestRequestIDsMetricsAndAccessLog drives an edge with a real upstream and
// spend publisher and checks the three things operators rely on: the
// x-request-id contract (echoed, generated, forwarded upstream, in the
// spend event next to the edge's own id), the metrics, and the access log
// (with no credential in it).
func TestRequestIDsMetricsAndAccessLog(t *testing.T) {
	up := startObsUpstream(t)
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil)).With("edge_id", "edge-obs")
	e := startEdgeWith(t, true, Options{MasterKey: "sk-master-test-key", EdgeID: "edge-obs", AccessLog: true, Log: log}, withSpend(t, "edge-obs"))
	e.put(t, &events.Model{ID: "ok1", ModelName: "ok", LiteLLMParams: events.ModelParams{Model: "openai/up", APIBase: up.URL + "/v1"}})
	e.put(t, &events.Model{ID: "bad1", ModelName: "bad", LiteLLMParams: events.ModelParams{Model: "openai/up", APIBase: up.URL + "/fail"}})
	e.put(t, &events.Key{Token: events.HashKey(obsKey), Models: []string{"ok", "bad"}})
	testutil.Eventually(t, 10*time.Second, func() error {
		if e.live.Load().NumKeys() != 1 || !e.live.Ready() {
			return fmt.Errorf("not applied")
		}
		return nil
	})
	chat := func(model string) string {
		return `{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`
	}

	// A valid client id is echoed and forwarded.
	code, h, body := doH(t, "POST", e.url+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + obsKey, "X-Request-Id": "client-req:42"}, chat("ok"))
	if code != 200 || h.Get("X-Request-Id") != "client-req:42" || up.last() != "client-req:42" {
		t.Fatalf("valid id: %d %q upstream %q %s", code, h.Get("X-Request-Id"), up.last(), body)
	}
	// The same client id again: still two requests.
	if code, _, _ := doH(t, "POST", e.url+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + obsKey, "X-Request-Id": "client-req:42"}, chat("ok")); code != 200 {
		t.Fatal(code)
	}
	// Invalid ids (spaces, too long) are replaced by a generated one, which
	// is what the upstream sees too.
	for _, bad := range []string{"has spaces", strings.Repeat("a", 129), `quote"d`} {
		code, h, _ := doH(t, "POST", e.url+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + obsKey, "X-Request-Id": bad}, chat("ok"))
		if id := h.Get("X-Request-Id"); code != 200 || !generatedID.MatchString(id) || up.last() != id {
			t.Fatalf("invalid id %q: %d, got %q, upstream %q", bad, code, id, up.last())
		}
	}
	// Errors carry an id too: the client's, or a generated one.
	if code, h, _ := doH(t, "POST", e.url+"/v1/chat/completions", map[string]string{"Authorization": "Bearer sk-wrong-key-0000000000", "X-Request-Id": "denied-1"}, chat("ok")); code != 401 || h.Get("X-Request-Id") != "denied-1" {
		t.Fatalf("401: %d %q", code, h.Get("X-Request-Id"))
	}
	if code, h, _ := doH(t, "GET", e.url+"/no/such/route", nil, ""); code != 404 || !generatedID.MatchString(h.Get("X-Request-Id")) {
		t.Fatalf("404: %d %q", code, h.Get("X-Request-Id"))
	}
	if code, h, _ := doH(t, "POST", e.url+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + obsKey}, chat("bad")); code != 502 || !generatedID.MatchString(h.Get("X-Request-Id")) {
		t.Fatalf("upstream 500: %d %q", code, h.Get("X-Request-Id"))
	}
	if code, _, _ := doH(t, "POST", e.url+"/v1/chat/completions", map[string]string{"Authorization": "Bearer " + obsKey}, chat("nope")); code != 403 {
		t.Fatalf("model outside the key: %d", code)
	}
	if code, _, _ := doH(t, "GET", e.url+"/v1/models", nil, ""); code != 401 {
		t.Fatalf("no credential: %d", code)
	}
	if code, _, _ := doH(t, "POST", e.url+"/v1/chat/completions", bearer("sk-master-test-key"), chat("ok")); code != 200 {
		t.Fatalf("master: %d", code)
	}

	// Spend: the edge's unique id is the identity, the client's rides
	// along. The 401 and the 403 are denial rows (the 404 route and the
	// /v1/models call are not model requests).
	spendEvents := readSpend(t, e.js, 9)
	clientIDs, ids, denied := map[string]int{}, map[string]bool{}, map[string]string{}
	for _, ev := range spendEvents {
		clientIDs[ev.ClientRequestID]++
		if ev.Outcome == events.OutcomeDenied {
			denied[ev.DenyReason] = ev.DenyRule
		}
		if ev.PolicySeq == 0 {
			t.Errorf("spend event %s has no policy_seq", ev.RequestID)
		}
		if !generatedID.MatchString(ev.RequestID) || ids[ev.RequestID] {
			t.Errorf("spend request_id %q not a fresh generated id", ev.RequestID)
		}
		ids[ev.RequestID] = true
	}
	if clientIDs["client-req:42"] != 2 || clientIDs["denied-1"] != 1 || clientIDs[""] != 6 {
		t.Errorf("client ids in spend: %v", clientIDs)
	}
	if len(denied) != 2 || denied[events.DenyInvalidCredential] != "key:"+events.HashKey("sk-wrong-key-0000000000")+":unknown" ||
		denied[events.DenyModelNotAllowed] != "key:"+events.HashKey(obsKey)+":models" {
		t.Errorf("denials = %v", denied)
	}

	// Metrics, as served.
	code, _, text := doH(t, "GET", e.url+"/metrics", nil, "")
	if code != 200 {
		t.Fatalf("/metrics %d", code)
	}
	for _, want := range []string{
		`gatehouse_http_requests_total{code="200",route="/v1/chat/completions"} 6`,
		`gatehouse_http_requests_total{code="401",route="/v1/chat/completions"} 1`,
		`gatehouse_http_requests_total{code="502",route="/v1/chat/completions"} 1`,
		`gatehouse_http_requests_total{code="404",route="other"} 1`,
		`gatehouse_edge_auth_decisions_total{method="key",outcome="allowed"} 6`,
		`gatehouse_edge_auth_decisions_total{method="master",outcome="allowed"} 1`,
		`gatehouse_edge_auth_decisions_total{method="key",outcome="invalid_api_key"} 1`,
		`gatehouse_edge_auth_decisions_total{method="key",outcome="key_model_access_denied"} 1`,
		`gatehouse_edge_auth_decisions_total{method="none",outcome="`,
		`gatehouse_edge_upstream_errors_total{provider="openai",status="500"} 1`,
		`gatehouse_edge_upstream_duration_seconds_count{provider="openai"} 7`,
		`gatehouse_edge_overhead_seconds_count 7`,
		`gatehouse_edge_chat_duration_seconds_count{stream="false"} 7`,
		`gatehouse_policy_lag_events{edge_id="edge-obs"} 0`,
		`gatehouse_policy_ready{edge_id="edge-obs"} 1`,
		`gatehouse_policy_stalled{edge_id="edge-obs"} 0`,
		`gatehouse_spend_events_recorded_total 9`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
			defer t.Log(text)
		}
	}
	if v, _, _ := testutil.Metric(t, e.g.Registry(), "gatehouse_policy_applied_seq"); v != float64(e.live.Load().Seq()) || v == 0 {
		t.Errorf("applied seq metric %v, snapshot %d", v, e.live.Load().Seq())
	}
	// The overhead is the handler's time minus the upstream's: below it.
	_, over, _ := testutil.Metric(t, e.g.Registry(), "gatehouse_edge_overhead_seconds")
	_, upSum, _ := testutil.Metric(t, e.g.Registry(), "gatehouse_edge_upstream_duration_seconds", "provider", "openai")
	_, total, _ := testutil.Metric(t, e.g.Registry(), "gatehouse_http_request_duration_seconds", "route", "/v1/chat/completions")
	if over <= 0 || upSum <= 0 || over+upSum > total {
		t.Errorf("overhead %v + upstream %v > request time %v", over, upSum, total)
	}

	// Access log: one line per request with id, route, status, duration
	// and the edge; never a credential.
	var found bool
	for _, l := range logs.lines() {
		if l["msg"] == "request" && l["request_id"] == "client-req:42" {
			found = l["route"] == "/v1/chat/completions" && l["status"] == float64(200) && l["edge_id"] == "edge-obs" && l["duration_ms"] != nil
		}
	}
	if !found {
		t.Errorf("no access log line for client-req:42:\n%s", logs)
	}
	for _, secret := range []string{obsKey, "sk-master-test-key", "sk-wrong-key-0000000000"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log contains a credential %s", secret)
		}
	}
}

// withSpend gives the edge under test a spend publisher on the spend
// stream (read back with readSpend).
func withSpend(t *testing.T, edgeID string) func(g *Gateway, js jetstream.JetStream) {
	return func(g *Gateway, js jetstream.JetStream) {
		testutil.EnsureStream(t, js, events.EnsureSpendStream)
		pub, err := spend.New(spend.Options{JS: js, EdgeID: edgeID, SpillDir: t.TempDir(), Registerer: g.Registry()})
		if err != nil {
			t.Fatal(err)
		}
		g.spend = pub
		t.Cleanup(func() { _ = pub.Close(context.Background()) })
	}
}

func readSpend(t *testing.T, js jetstream.JetStream, n int) []events.SpendEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []events.SpendEvent
	testutil.Eventually(t, 20*time.Second, func() error {
		var err error
		if out, err = testutil.ReadSpend(ctx, js); err != nil {
			return err
		}
		if len(out) != n {
			return fmt.Errorf("%d spend events, want %d", len(out), n)
		}
		return nil
	})
	return out
}

// A path with a key in it (LiteLLM's /key/{key}/regenerate) is logged
// redacted.
func TestAccessLogRedactsKeysInPaths(t *testing.T) {
	logs := &lockedBuffer{}
	e := startEdgeWith(t, true, Options{MasterKey: "sk-master-test-key", AccessLog: true, Log: slog.New(slog.NewJSONHandler(logs, nil))}, nil)
	_, _, _ = doH(t, "POST", e.url+"/key/sk-plaintext-key-123456/regenerate", bearer("sk-master-test-key"), "{}")
	if strings.Contains(logs.String(), "sk-plaintext-key-123456") || !strings.Contains(logs.String(), `/key/[REDACTED]/regenerate`) {
		t.Fatalf("log:\n%s", logs)
	}
}

// With MetricsAddr the main listener has no /metrics.
func TestMetricsAddrMovesMetrics(t *testing.T) {
	e := startEdgeWith(t, true, Options{MetricsAddr: "127.0.0.1:0"}, nil)
	if code, _, _ := doH(t, "GET", e.url+"/metrics", nil, ""); code != 404 {
		t.Fatalf("/metrics on the main listener with MetricsAddr: %d", code)
	}
}
