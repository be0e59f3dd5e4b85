package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testutil"
)

// TestObservability runs the real binaries: /metrics on the edge and the
// control plane, x-request-id through the edge's relay to the control
// plane, JSON access logs with the request id and edge id, and no
// credential in any log.
func TestObservability(t *testing.T) {
	s := startSystem(t, spendConfig, 1)
	edge, ctl := s.edges[0], s.control

	req := func(method, url, key, id string, body any) (int, http.Header) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = strings.NewReader(string(b))
		}
		r, _ := http.NewRequest(method, url, rd)
		r.Header.Set("Authorization", "Bearer "+key)
		r.Header.Set("Content-Type", "application/json")
		if id != "" {
			r.Header.Set("X-Request-Id", id)
		}
		resp, err := client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}

	if code, h := req("POST", edge.url("/v1/chat/completions"), masterKey, "e2e-chat-1", chat("priced")); code != 200 || h.Get("X-Request-Id") != "e2e-chat-1" {
		t.Fatalf("chat: %d %q", code, h.Get("X-Request-Id"))
	}
	// A management call relayed by the edge: one id in both processes.
	if code, h := req("POST", edge.url("/key/generate"), masterKey, "e2e-relay-1", map[string]any{"key_alias": "obs"}); code != 200 || h.Get("X-Request-Id") != "e2e-relay-1" {
		t.Fatalf("relayed key/generate: %d %q", code, h.Get("X-Request-Id"))
	}
	if code, h := req("GET", edge.url("/v1/models"), "sk-not-a-real-key-0000", "", nil); code != 401 || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(h.Get("X-Request-Id")) {
		t.Fatalf("401: %d %q", code, h.Get("X-Request-Id"))
	}

	scrape := func(p *proc) string {
		t.Helper()
		resp, err := client.Get(p.url("/metrics"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s /metrics: %d", p.name, resp.StatusCode)
		}
		return string(b)
	}
	em := scrape(edge)
	for _, want := range []string{
		`gatehouse_http_requests_total{code="200",route="/v1/chat/completions"} 1`,
		`gatehouse_edge_auth_decisions_total{method="master",outcome="allowed"} 1`,
		`gatehouse_edge_auth_decisions_total{method="key",outcome="invalid_api_key"} 1`,
		`gatehouse_edge_upstream_duration_seconds_count{provider="mock"} 1`,
		`gatehouse_policy_lag_events{edge_id="edge-a"} 0`,
		`gatehouse_policy_stalled{edge_id="edge-a"} 0`,
		`gatehouse_spend_events_recorded_total 1`,
		`process_cpu_seconds_total`,
	} {
		if !strings.Contains(em, want) {
			t.Errorf("edge /metrics lacks %s", want)
		}
	}
	// The control plane sees the edge caught up with the key just written.
	testutil.Eventually(t, 10*time.Second, func() error {
		cm := scrape(ctl)
		for _, want := range []string{
			`gatehouse_control_edge_lag_events{edge_id="edge-a",region="region-edge-a"} 0`,
			`gatehouse_control_edge_live{edge_id="edge-a",region="region-edge-a"} 1`,
			`gatehouse_http_requests_total{code="200",route="/key/generate"} 1`,
			// This version's edge encodes what the fast decoder reads.
			"\ngatehouse_spend_decode_fallbacks_total 0\n",
		} {
			if !strings.Contains(cm, want) {
				return fmt.Errorf("control /metrics lacks %s", want)
			}
		}
		return nil
	})

	// Logs: JSON lines; the access lines carry the ids.
	logLine := func(p *proc, id string) map[string]any {
		t.Helper()
		for _, line := range strings.Split(p.log.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "request" && m["request_id"] == id {
				return m
			}
		}
		t.Fatalf("%s: no access log line for %s:\n%s", p.name, id, p.log.String())
		return nil
	}
	if l := logLine(edge, "e2e-chat-1"); l["edge_id"] != "edge-a" || l["route"] != "/v1/chat/completions" || l["status"] != float64(200) || l["duration_ms"] == nil {
		t.Errorf("edge access line: %v", l)
	}
	logLine(edge, "e2e-relay-1")
	if l := logLine(ctl, "e2e-relay-1"); l["route"] != "/key/generate" || l["component"] != "control" {
		t.Errorf("control access line: %v", l)
	}
	for _, p := range []*proc{edge, ctl} {
		logs := p.log.String()
		if strings.Contains(logs, masterKey) || strings.Contains(logs, "sk-not-a-real-key-0000") {
			t.Errorf("%s log contains a credential", p.name)
		}
	}
}
