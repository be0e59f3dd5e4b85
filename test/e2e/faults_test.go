package e2e

// Fault tests: real processes, a fault injected while traffic flows, and
// the books checked afterwards (requests sent, accepted, failed by status;
// spend rows against accepted requests, by request id; goroutines back to
// their baseline). docs/reliability.md quotes their output.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oidctest"
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
		{"hang-quiet", ", stream_timeout: 120"},
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

// startLoad sends steady traffic with key across fs's edges (50 requests/s
// of the ok and mock models) and returns once 100 requests went out, so
// that a fault lands on traffic in flight. end lets the load run for 100
// more requests, stops it, and fails the test if any request failed
// (failed says when) or if the spend rows do not match the accepted
// requests; it returns the row count.
func (fs *faultSystem) startLoad(t *testing.T, key string) (b *books, end func(failed string) int) {
	t.Helper()
	b = newBooks()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { steady(b, fs.edges, key, []string{"ok", "mock"}, 50, stop); close(done) }()
	waitSent(t, b, 100)
	return b, func(failed string) int {
		t.Helper()
		s1, _, _, _, _ := b.snapshot()
		waitSent(t, b, s1+100)
		close(stop)
		<-done
		if b.failures() != 0 {
			t.Fatalf("%s: %s", failed, b)
		}
		return fs.checkSpend(t, b, 90*time.Second)
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
	// A short failover window: an admin write with NATS down retries that
	// long (it rides out a cluster leader election) before its 503.
	fs := startFaultSystem(t, faultConfig(up.addr), 2, "FAULT_UPSTREAM_KEY="+faultUpstreamKey, "FAILOVER_WINDOW=3s")
	key := generateKey(t, fs.control, map[string]any{})
	base := baselines(t, fs.edges...)

	b, endLoad := fs.startLoad(t, key)

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
	rows := endLoad("requests failed while NATS was down")
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

	b, endLoad := fs.startLoad(t, key)
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
	rows := endLoad("requests failed while ClickHouse was down")
	t.Logf("ClickHouse down: %s; spend rows %d", b, rows)
	noLeak(t, base)
}

// streamChat posts a streaming request with the given client and returns
// status, the call id and the body as received.
func streamChat(t *testing.T, c *http.Client, edge *proc, key, model string, stream bool) (int, string, string, error) {
	t.Helper()
	body := fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"x"}],"stream":%v}`, model, stream)
	req, _ := http.NewRequest("POST", edge.url("/v1/chat/completions"), strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("x-litellm-call-id"), string(raw), err
}

// TestFaultUpstream: an upstream that is slow, hangs mid-stream, resets the
// connection, or keeps generating after the client left. Each case ends
// with a clear OpenAI-shaped error (or a prompt cancel upstream), a spend
// row per forwarded request, no upstream handler left running and the
// edge's goroutines back at their baseline.
func TestFaultUpstream(t *testing.T) {
	up := startFaultUpstream(t)
	fs := startFaultSystem(t, faultConfig(up.addr), 1, "FAULT_UPSTREAM_KEY="+faultUpstreamKey)
	edge := fs.edges[0]
	key := generateKey(t, fs.control, map[string]any{})
	base := baselines(t, edge)
	b := newBooks()
	book := func(id string) {
		if id == "" {
			t.Fatal("forwarded request without x-litellm-call-id")
		}
		b.mu.Lock()
		b.accepted[id] = true
		b.mu.Unlock()
	}
	noSecrets := func(body string) {
		t.Helper()
		for _, s := range []string{faultUpstreamKey, up.addr, "127.0.0.1"} {
			if strings.Contains(body, s) {
				t.Fatalf("client saw %q: %s", s, body)
			}
		}
	}
	expectEnvelope := func(body string, status int, code string) {
		t.Helper()
		var e envelope
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Code != code || e.Error.Message == "" {
			t.Fatalf("want %d %s envelope, got %s", status, code, body)
		}
		noSecrets(body)
	}
	// lastEvent is the final data event of a broken stream: an error object.
	lastEvent := func(body string) string {
		var last string
		for _, l := range strings.Split(body, "\n") {
			if d, ok := strings.CutPrefix(l, "data: "); ok {
				last = d
			}
		}
		return last
	}

	t.Run("slow: deployment timeout", func(t *testing.T) {
		for _, stream := range []bool{false, true} {
			t0 := time.Now()
			code, id, body, err := streamChat(t, client, edge, key, "slow", stream)
			took := time.Since(t0)
			if err != nil || code != 504 {
				t.Fatalf("stream=%v: %d %v %s", stream, code, err, body)
			}
			expectEnvelope(body, 504, "upstream_timeout")
			book(id)
			// timeout: 1 on the deployment; the upstream would answer at 5 s.
			if took < 900*time.Millisecond || took > 3*time.Second {
				t.Fatalf("stream=%v: timed out after %s, deployment timeout is 1s", stream, took)
			}
			t.Logf("stream=%v: %d after %s: %s", stream, code, took.Round(time.Millisecond), body)
		}
		// The edge closed the connection: the upstream saw the caller go.
		testutil.Eventually(t, 5*time.Second, func() error {
			if n := len(up.cancelsFor("slow")); n != 2 {
				return fmt.Errorf("upstream saw %d of 2 cancels", n)
			}
			return nil
		})
	})

	t.Run("hang mid-stream: stream_timeout", func(t *testing.T) {
		t0 := time.Now()
		code, id, body, err := streamChat(t, client, edge, key, "hang-stream", true)
		took := time.Since(t0)
		if err != nil || code != 200 {
			t.Fatalf("%d %v %s", code, err, body)
		}
		book(id)
		if !strings.Contains(body, `"first "`) {
			t.Fatalf("first chunks not passed on: %s", body)
		}
		expectEnvelope(lastEvent(body), 504, "upstream_timeout")
		if strings.Contains(body, "[DONE]") {
			t.Fatal("a cut stream must not end with [DONE]")
		}
		// stream_timeout: 1 bounds the silence, not the edge default (600 s).
		if took > 4*time.Second {
			t.Fatalf("hung stream cut after %s; stream_timeout is 1s", took)
		}
		testutil.Eventually(t, 5*time.Second, func() error {
			if n := len(up.cancelsFor("hang-stream")); n != 1 {
				return fmt.Errorf("upstream saw %d cancels", n)
			}
			return nil
		})
		t.Logf("hung stream ended after %s with %s", took.Round(time.Millisecond), lastEvent(body))
	})

	t.Run("connection reset", func(t *testing.T) {
		for _, stream := range []bool{false, true} {
			code, id, body, err := streamChat(t, client, edge, key, "reset", stream)
			if err != nil || code != 502 {
				t.Fatalf("stream=%v: %d %v %s", stream, code, err, body)
			}
			expectEnvelope(body, 502, "upstream_error")
			book(id)
			t.Logf("stream=%v: %d %s", stream, code, body)
		}
	})

	t.Run("connection reset mid-stream", func(t *testing.T) {
		code, id, body, err := streamChat(t, client, edge, key, "reset-stream", true)
		if err != nil || code != 200 {
			t.Fatalf("%d %v %s", code, err, body)
		}
		book(id)
		if !strings.Contains(body, `"partial "`) || strings.Contains(body, "[DONE]") {
			t.Fatalf("want the partial answer and no [DONE]: %s", body)
		}
		expectEnvelope(lastEvent(body), 502, "upstream_error")
		t.Logf("reset mid-stream ends with %s", lastEvent(body))
	})

	// startStream opens a stream of model and reads at least atLeast of its
	// first size bytes; the caller closes the body to leave mid-stream.
	startStream := func(t *testing.T, model string, size, atLeast int) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", edge.url("/v1/chat/completions"),
			strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"x"}],"stream":true}`))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", resp, err)
		}
		book(resp.Header.Get("x-litellm-call-id"))
		if _, err := io.ReadAtLeast(resp.Body, make([]byte, size), atLeast); err != nil {
			t.Fatal(err)
		}
		return resp
	}

	t.Run("client cancels mid-stream", func(t *testing.T) {
		for i := range 5 {
			resp := startStream(t, "drip", 512, 300) // a few chunks
			cancelled := time.Now()
			resp.Body.Close() // the client goes away mid-stream
			testutil.Eventually(t, 5*time.Second, func() error {
				if n := len(up.cancelsFor("drip")); n != i+1 {
					return fmt.Errorf("upstream saw %d of %d cancels", n, i+1)
				}
				return nil
			})
			c := up.cancelsFor("drip")[i]
			lag := c.At.Sub(cancelled)
			t.Logf("client cancel reached the upstream after %s (%d chunks sent)", lag.Round(time.Millisecond), c.Chunks)
			if lag > 2*time.Second {
				t.Fatalf("cancel took %s to reach the upstream", lag)
			}
		}
	})

	t.Run("client cancels while the upstream is silent", func(t *testing.T) {
		resp := startStream(t, "hang-quiet", 256, 200)
		cancelled := time.Now()
		resp.Body.Close()
		// No chunk will come for 120 s: only the edge's keep-alive probe
		// can notice the client left.
		testutil.Eventually(t, 10*time.Second, func() error {
			if n := len(up.cancelsFor("hang-quiet")); n != 1 {
				return fmt.Errorf("upstream saw %d cancels", n)
			}
			return nil
		})
		t.Logf("client cancel during upstream silence reached the upstream after %s",
			up.cancelsFor("hang-quiet")[0].At.Sub(cancelled).Round(time.Millisecond))
	})

	testutil.Eventually(t, 10*time.Second, func() error {
		if n := up.active.Load(); n != 0 {
			return fmt.Errorf("%d upstream requests still running", n)
		}
		return nil
	})
	rows := fs.checkSpend(t, b, 60*time.Second)
	t.Logf("upstream faults: %d forwarded, %d spend rows", len(b.accepted), rows)
	noLeak(t, base)
}

// TestFaultOIDCProviderDown: the identity provider's process stops. Keys
// already fetched keep verifying tokens until public_key_ttl +
// public_key_stale_ttl after the fetch; a token signed with a key the edge
// never saw (unknown kid) is refused at once with 503
// auth_provider_unavailable, and so is every JWT once the stale window
// closes. Virtual keys do not depend on the provider. When it is back,
// JWTs verify again without an edge restart.
func TestFaultOIDCProviderDown(t *testing.T) {
	idp := oidctest.Start(t, oidctest.Client{ID: "svc", Secret: "s1"})
	sys := startSystem(t, jwtConfig, 1)
	edge := sys.edges[0]
	call(t, "POST", sys.control.url("/team/new"), masterKey, map[string]any{"team_id": "svc", "models": []string{"gpt-4o"}}, nil)
	vkey := generateKey(t, sys.control, map[string]any{})
	const ttl, stale = 2 * time.Second, 4 * time.Second
	setJWT(t, &system{control: sys.control}, map[string]any{"public_key_urls": jwks(idp),
		"litellm_jwtauth": map[string]any{"team_id_jwt_field": "client_id",
			"public_key_ttl": ttl.Seconds(), "public_key_stale_ttl": stale.Seconds()}})

	old := idp.Token(t, "svc")
	fetched := time.Now()
	expectChat(t, edge, old, "gpt-4o", 200, "") // keys fetched now
	idp.Rotate(t)
	unseen := idp.Token(t, "svc") // signed with a kid the edge has not fetched
	idp.Stop()
	down := time.Now()

	expectChat(t, edge, old, "gpt-4o", 200, "")
	expectChat(t, edge, unseen, "gpt-4o", 503, "auth_provider_unavailable")
	expectChat(t, edge, vkey, "gpt-4o", 200, "")
	// Past public_key_ttl the last good keys are served stale.
	waitUntil(fetched.Add(ttl + 500*time.Millisecond))
	expectChat(t, edge, old, "gpt-4o", 200, "")
	// Past ttl + stale_ttl they are not: fail closed.
	var refusedAt time.Time
	testutil.Eventually(t, 20*time.Second, func() error {
		code, raw := callRaw(t, "POST", edge.url("/v1/chat/completions"), old, chat("gpt-4o"))
		if code == 200 {
			return fmt.Errorf("still accepted %s after the fetch", time.Since(fetched).Round(time.Millisecond))
		}
		if code != 503 || !strings.Contains(string(raw), "auth_provider_unavailable") {
			t.Fatalf("after the stale window: %d %s", code, raw)
		}
		refusedAt = time.Now()
		return nil
	})
	after := refusedAt.Sub(fetched)
	if after < ttl+stale-time.Second {
		t.Fatalf("refused %s after the fetch, before ttl+stale_ttl (%s)", after, ttl+stale)
	}
	t.Logf("provider down at +%s; cached keys served until +%s after the fetch (ttl %s + stale %s)",
		down.Sub(fetched).Round(time.Millisecond), after.Round(time.Millisecond), ttl, stale)
	expectChat(t, edge, vkey, "gpt-4o", 200, "")

	idp.Restart(t)
	back := time.Now()
	testutil.Eventually(t, 20*time.Second, func() error {
		for _, tok := range []string{old, unseen} {
			if code, raw := callRaw(t, "POST", edge.url("/v1/chat/completions"), tok, chat("gpt-4o")); code != 200 {
				return fmt.Errorf("after the provider came back: %d %s", code, raw)
			}
		}
		return nil
	})
	t.Logf("JWTs verify again %s after the provider was serving again", time.Since(back).Round(time.Millisecond))
}

// waitUntil lets wall time pass to a deadline: a TTL has to really expire;
// there is nothing to poll.
func waitUntil(deadline time.Time) {
	if d := time.Until(deadline); d > 0 {
		<-time.After(d)
	}
}

// TestFaultEdgeRestartUnderLoad: an edge is restarted while traffic flows
// and the policy stream is long enough that catching up takes a while.
// Until it has caught up the edge answers 503 policy_not_ready (readiness
// included) and authorizes nothing from a partial snapshot: a key deleted
// at the end of the stream is never accepted, a key created at the end is
// never refused as unknown. The load balancer's view (refused connections
// and 503s resent to the other edge) loses no request, and every accepted
// request has its spend row, those the stopping edge served included.
func TestFaultEdgeRestartUnderLoad(t *testing.T) {
	up := startFaultUpstream(t)
	fs := startFaultSystem(t, faultConfig(up.addr), 2, "FAULT_UPSTREAM_KEY="+faultUpstreamKey)
	revoked := generateKey(t, fs.control, map[string]any{})
	// A long stream: many keys, written concurrently.
	const bulk = 3000
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < bulk; i += 16 {
				if code, raw := callRaw(t, "POST", fs.control.url("/key/generate"), masterKey, map[string]any{"key_alias": fmt.Sprintf("bulk-%d", i)}); code != 200 {
					t.Errorf("bulk key %d: %d %s", i, code, raw)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d keys written in %s", bulk, time.Since(t0).Round(time.Millisecond))
	if code := call(t, "POST", fs.control.url("/key/delete"), masterKey, map[string]any{"keys": []string{revoked}}, nil); code != 200 {
		t.Fatalf("/key/delete: %d", code)
	}
	last := generateKey(t, fs.control, map[string]any{})
	loadKey := generateKey(t, fs.control, map[string]any{})
	base := baselines(t, fs.edges[0])

	b, endLoad := fs.startLoad(t, loadKey)

	edge := fs.edges[1]
	edge.stop()
	launched := time.Now()
	edge.launch()

	// Probe the restarting edge as hard as a few clients can until it is
	// ready, then a little longer.
	var (
		mu      sync.Mutex
		seen    = map[string]int{}
		readyAt time.Time
		bad     []string
	)
	note := func(k string) { mu.Lock(); seen[k]++; mu.Unlock() }
	stopProbes := testutil.Flood(4, func(w, i int) {
		k, want, name := revoked, 401, "deleted key"
		if (i+w)%2 == 1 {
			k, want, name = last, 200, "newest key"
		}
		req, _ := http.NewRequest("POST", edge.url("/v1/chat/completions"), strings.NewReader(`{"model":"mock","messages":[{"role":"user","content":"x"}]}`))
		req.Header.Set("Authorization", "Bearer "+k)
		resp, err := loadClient.Do(req)
		if err != nil {
			note("connection refused/closed")
			return
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if id := resp.Header.Get("x-litellm-call-id"); id != "" {
			b.mu.Lock()
			b.accepted[id] = true // its spend row is expected too
			b.mu.Unlock()
		}
		switch {
		case resp.StatusCode == 503 && strings.Contains(string(raw), "policy_not_ready"):
			note("503 policy_not_ready")
		case resp.StatusCode == want:
			note(fmt.Sprintf("%s: %d", name, want))
		default:
			mu.Lock()
			bad = append(bad, fmt.Sprintf("%s: %d %s", name, resp.StatusCode, raw))
			mu.Unlock()
		}
	})
	defer stopProbes()
	notReady := 0
	testutil.Eventually(t, 60*time.Second, func() error {
		code, c := readiness(edge)
		switch {
		case code == 200:
			readyAt = time.Now()
			return nil
		case code == 503 && c == "policy_not_ready":
			notReady++
		}
		return fmt.Errorf("readiness %d %s", code, c)
	})
	waitUntil(readyAt.Add(300 * time.Millisecond))
	stopProbes()
	if len(bad) > 0 {
		t.Fatalf("requests authorized from a partial snapshot: %d, e.g. %v", len(bad), bad[:min(len(bad), 5)])
	}
	if seen["deleted key: 401"] == 0 || seen["newest key: 200"] == 0 {
		t.Fatalf("the edge never answered correctly after catching up: %v", seen)
	}
	t.Logf("restarted edge ready %s after launch; readiness 503 seen %d times; probes %v",
		readyAt.Sub(launched).Round(time.Millisecond), notReady, seen)

	rows := endLoad("requests lost across the edge restart")
	t.Logf("edge restart under load: %s (probes included); spend rows %d", b, rows)
	noLeak(t, base)
}
