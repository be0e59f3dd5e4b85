package e2e

// Fault tests: real processes, a fault injected while traffic flows, and
// the books checked afterwards (requests sent, accepted, failed by status;
// spend rows against accepted requests, by request id; goroutines back to
// their baseline). docs/reliability-faults.md quotes their output.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testutil"
)

const faultUpstreamKey = "sk-fault-upstream-secret-0123456789"

// faultConfig points one deployment per upstream behaviour at a
// faultUpstream; "mock" is the built-in provider (no upstream at all).
func faultConfig(upstream string) string {
	var b strings.Builder
	b.WriteString(`
general_settings:
  master_key: os.environ/MASTER_KEY
model_list:
  - model_name: mock
    litellm_params: {model: mock/fast}
    model_info: {input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}
`)
	for _, m := range []struct{ name, extra string }{
		{"ok", ""},
		{"slow", ", timeout: 1"},
		{"hang-stream", ", stream_timeout: 1"},
		{"drip", ""},
		{"reset", ""},
		{"reset-stream", ""},
	} {
		fmt.Fprintf(&b, "  - model_name: %s\n    litellm_params: {model: openai/%s, api_base: \"http://%s/v1\", api_key: os.environ/FAULT_UPSTREAM_KEY%s}\n",
			m.name, m.name, upstream, m.extra)
		b.WriteString("    model_info: {input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}\n")
	}
	return b.String()
}

func baselines(t *testing.T, ps ...*proc) map[*proc]int {
	t.Helper()
	m := map[*proc]int{}
	for _, p := range ps {
		// The sink has no API port to wait on: wait for its debug port.
		testutil.Eventually(t, 10*time.Second, func() error {
			n, err := goroutineCount(p)
			m[p] = n
			return err
		})
	}
	return m
}

// noLeak waits for every process to return to its goroutine baseline once
// the client has dropped its idle connections.
func noLeak(t *testing.T, base map[*proc]int) {
	t.Helper()
	loadClient.CloseIdleConnections()
	client.CloseIdleConnections()
	for p, n := range base {
		got := waitGoroutines(t, p, n, 10)
		t.Logf("%s goroutines: baseline %d, after %d", p.name, n, got)
	}
}

func waitSent(t *testing.T, b *books, n int) {
	t.Helper()
	testutil.Eventually(t, 60*time.Second, func() error {
		if s, _, _, _, _ := b.snapshot(); s < n {
			return fmt.Errorf("%d of %d requests sent", s, n)
		}
		return nil
	})
}

func readiness(p *proc) (int, string) {
	resp, err := http.Get(p.url("/health/readiness"))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var e envelope
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Error.Code
}

// TestFaultNATSKilled: NATS is SIGKILLed while traffic flows through two
// edges. The edges keep authorizing from their snapshot (readiness stays
// up), spend is spilled to disk and resent, and exactly the accepted
// requests land in ClickHouse. An edge (re)started while NATS is down has
// no snapshot and refuses (503) until NATS is back.
func TestFaultNATSKilled(t *testing.T) {
	up := startFaultUpstream(t)
	fs := startFaultSystem(t, faultConfig(up.addr), 2, "FAULT_UPSTREAM_KEY="+faultUpstreamKey)
	key := generateKey(t, fs.control, map[string]any{})
	base := baselines(t, fs.edges...)

	b := newBooks()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { steady(b, fs.edges, key, []string{"ok", "mock"}, 50, stop); close(done) }()
	waitSent(t, b, 100)

	fs.nats.kill()
	down := time.Now()
	s0, _, _, _, _ := b.snapshot()
	waitSent(t, b, s0+250) // ~5 s of traffic with NATS down
	for _, e := range fs.edges {
		if code, _ := readiness(e); code != 200 {
			t.Fatalf("%s readiness %d with NATS down: edges must keep serving from their snapshot", e.name, code)
		}
	}
	// Writes need the stream: the control plane refuses them.
	code, raw := callRaw(t, "POST", fs.control.url("/key/generate"), masterKey, map[string]any{})
	if code < 500 {
		t.Fatalf("/key/generate with NATS down: %d %s", code, raw)
	}
	t.Logf("control plane write with NATS down: %d %s", code, strings.TrimSpace(string(raw)))
	fs.nats.restart(t)
	t.Logf("NATS down for %s", time.Since(down).Round(time.Millisecond))
	s1, _, _, _, _ := b.snapshot()
	waitSent(t, b, s1+100)
	close(stop)
	<-done
	if b.failures() != 0 {
		t.Fatalf("requests failed while NATS was down: %s", b)
	}
	rows := fs.checkSpend(t, b, 90*time.Second)
	t.Logf("NATS killed: %s; spend rows %d", b, rows)

	// An edge that restarts during a NATS outage has nothing to authorize
	// with: it must fail closed, not serve an empty policy.
	fs.nats.kill()
	edge := fs.edges[1]
	edge.stop()
	edge.launch()
	testutil.Eventually(t, 20*time.Second, func() error {
		if code, c := readiness(edge); code != 503 || c != "policy_not_ready" {
			return fmt.Errorf("readiness %d %q", code, c)
		}
		return nil
	})
	expectChat(t, edge, key, "mock", 503, "service_unavailable")
	expectChat(t, fs.edges[0], key, "mock", 200, "") // the other edge still serves
	fs.nats.restart(t)
	testutil.Eventually(t, 30*time.Second, func() error {
		if code, c := readiness(edge); code != 200 {
			return fmt.Errorf("readiness %d %q", code, c)
		}
		return nil
	})
	expectChat(t, edge, key, "mock", 200, "")
	delete(base, edge) // a new process: its own baseline
	noLeak(t, base)
}

// TestFaultClickHouseDown: ClickHouse stops while traffic flows. Requests
// are unaffected (spend goes through JetStream); the sink retries, and once
// ClickHouse is back every accepted request has exactly one row.
func TestFaultClickHouseDown(t *testing.T) {
	up := startFaultUpstream(t)
	fs := startFaultSystem(t, faultConfig(up.addr), 2, "FAULT_UPSTREAM_KEY="+faultUpstreamKey)
	key := generateKey(t, fs.control, map[string]any{})
	base := baselines(t, fs.edges[0], fs.edges[1], fs.sink)

	b := newBooks()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { steady(b, fs.edges, key, []string{"ok", "mock"}, 50, stop); close(done) }()
	waitSent(t, b, 100)
	fs.ch.Stop()
	s0, _, _, _, _ := b.snapshot()
	waitSent(t, b, s0+250)
	// Spend reads need ClickHouse: the admin API says so in the envelope.
	code, raw := callRaw(t, "GET", fs.control.url("/spend/logs?limit=1"), masterKey, nil)
	var e envelope
	if code < 500 || json.Unmarshal(raw, &e) != nil || e.Error.Message == "" {
		t.Fatalf("/spend/logs with ClickHouse down: %d %s", code, raw)
	}
	t.Logf("/spend/logs with ClickHouse down: %d %s", code, strings.TrimSpace(string(raw)))
	fs.ch.Restart(t)
	s1, _, _, _, _ := b.snapshot()
	waitSent(t, b, s1+100)
	close(stop)
	<-done
	if b.failures() != 0 {
		t.Fatalf("requests failed while ClickHouse was down: %s", b)
	}
	rows := fs.checkSpend(t, b, 90*time.Second)
	t.Logf("ClickHouse down: %s; spend rows %d", b, rows)
	noLeak(t, base)
}

var _ = sync.Mutex{}
