package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/policy"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func deps(ws ...float64) []*policy.Deployment {
	var out []*policy.Deployment
	for i, w := range ws {
		out = append(out, &policy.Deployment{ID: fmt.Sprintf("d%d", i), ModelName: "g", Provider: "openai", Weight: w})
	}
	return out
}

func intp(i int) *int           { return &i }
func floatp(f float64) *float64 { return &f }

func TestShuffleHonoursWeights(t *testing.T) {
	b := newLoadBalancer(time.Now)
	ds := deps(9, 1)
	counts := map[string]int{}
	const n = 20000
	for range n {
		d, _, err := b.pick(ds, policy.CompileRouting(nil), nil)
		if err != nil {
			t.Fatal(err)
		}
		counts[d.ID]++
	}
	// 90% expected; 5 sigma of a binomial(20000, 0.9) is ~2%.
	if share := float64(counts["d0"]) / n; math.Abs(share-0.9) > 0.02 {
		t.Errorf("weight 9:1 gave d0 a share of %.3f", share)
	}
	// rpm weighs when no weight is set, as in LiteLLM.
	ds = deps(0, 0)
	ds[0].RPM, ds[1].RPM = 1, 3
	counts = map[string]int{}
	for range n {
		d, _, _ := b.pick(ds, policy.CompileRouting(nil), nil)
		counts[d.ID]++
	}
	if share := float64(counts["d1"]) / n; math.Abs(share-0.75) > 0.02 {
		t.Errorf("rpm 1:3 gave d1 a share of %.3f", share)
	}
}

func TestLeastBusyPicksFewestInFlight(t *testing.T) {
	b := newLoadBalancer(time.Now)
	rs := policy.CompileRouting(&events.RoutingSettings{RoutingStrategy: events.RoutingLeastBusy})
	ds := deps(0, 0, 0)
	b.state("d0").inflight.Store(3)
	b.state("d1").inflight.Store(1)
	b.state("d2").inflight.Store(2)
	for range 50 {
		if d, _, _ := b.pick(ds, rs, nil); d.ID != "d1" {
			t.Fatalf("picked %s with %d in flight", d.ID, b.state(d.ID).inflight.Load())
		}
	}
	// Having tried d1, the next least busy.
	if d, _, _ := b.pick(ds, rs, []*policy.Deployment{ds[1]}); d.ID != "d2" {
		t.Errorf("after d1 failed: %s", d.ID)
	}
}

func TestCooldownAfterAllowedFails(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	b := newLoadBalancer(clk.now)
	rs := policy.CompileRouting(&events.RoutingSettings{AllowedFails: intp(2), CooldownTime: floatp(30)})
	ds := deps(1, 0) // d0 takes all traffic while healthy
	_, s0, _ := b.pick(ds, rs, nil)
	for i := range 2 {
		b.failed(s0, rs)
		if d, _, _ := b.pick(ds, rs, nil); d.ID != "d0" {
			t.Fatalf("cooled down after %d failures; allowed_fails is 2", i+1)
		}
	}
	b.failed(s0, rs) // the third within a minute: more than allowed
	if d, _, _ := b.pick(ds, rs, nil); d.ID != "d1" {
		t.Fatalf("d0 not cooled down: picked %s", d.ID)
	}
	// With every untried deployment cooling: LiteLLM's 429.
	_, s1, _ := b.pick(ds, rs, nil)
	for range 3 {
		b.failed(s1, rs)
	}
	_, _, err := b.pick(ds, rs, nil)
	var ae *apierror.Error
	if !errors.As(err, &ae) || ae.Status != 429 || ae.Header["Retry-After"] != "30" {
		t.Fatalf("all cooling: %v", err)
	}
	clk.add(31 * time.Second)
	if d, _, err := b.pick(ds, rs, nil); err != nil || d.ID != "d0" {
		t.Fatalf("after the cooldown: %v %v", d, err)
	}
	// Failures spread over more than a minute do not add up.
	clk.add(time.Hour)
	b.failed(s0, rs)
	b.failed(s0, rs)
	clk.add(61 * time.Second)
	b.failed(s0, rs)
	if d, _, _ := b.pick(ds, rs, nil); d.ID != "d0" {
		t.Error("failures from different minutes cooled d0 down")
	}
	// A group of one has nothing to balance: no state, no cooldown.
	if d, s, err := b.pick(ds[:1], rs, nil); d != ds[0] || s != nil || err != nil {
		t.Errorf("group of one: %v %v %v", d, s, err)
	}
}

// upstreamCounter is an OpenAI-compatible upstream answering with status
// (and a completion when 200), counting its calls.
type upstreamCounter struct {
	srv  *httptest.Server
	hits atomic.Int64
}

func newUpstream(t *testing.T, status int) *upstreamCounter {
	u := &upstreamCounter{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		var req struct {
			Stream bool `json:"stream"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		if status != 200 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"error":{"message":"upstream is unwell","type":"server_error"}}`))
			return
		}
		if req.Stream {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"}}]}\n\n" +
				"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\ndata: [DONE]\n\n"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`))
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// spendEdge is an edge with a spend publisher, to check which deployment
// the spend event names.
func spendEdge(t *testing.T) (*edgeUnderTest, jetstream.Consumer) {
	t.Helper()
	var cons jetstream.Consumer
	e := startEdgeWith(t, true, Options{MasterKey: "sk-master-test-key"}, func(g *Gateway, js jetstream.JetStream) {
		withSpend(t, "edge-lb")(g, js)
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		var err error
		if cons, err = js.OrderedConsumer(ctx, events.SpendStream, jetstream.OrderedConsumerConfig{}); err != nil {
			t.Fatal(err)
		}
	})
	return e, cons
}

// pendingSpend holds the rest of a batch nextSpend read (events of
// requests close together share a message).
var pendingSpend = map[jetstream.Consumer][]events.SpendEvent{}

func nextSpend(t *testing.T, cons jetstream.Consumer) events.SpendEvent {
	t.Helper()
	if evs := pendingSpend[cons]; len(evs) > 0 {
		pendingSpend[cons] = evs[1:]
		return evs[0]
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatalf("no spend event: %v", err)
	}
	_, evs, err := events.DecodeSpend(msg.Data())
	if err != nil {
		t.Fatal(err)
	}
	pendingSpend[cons] = evs[1:]
	return evs[0]
}

func TestFallbackAndCooldown(t *testing.T) {
	e, spends := spendEdge(t)
	bad, good, limited := newUpstream(t, 500), newUpstream(t, 200), newUpstream(t, 429)
	// bad takes every request while healthy (weight), so the test knows
	// where the first one goes.
	e.put(t, &events.Model{ID: "bad", ModelName: "m", LiteLLMParams: events.ModelParams{Model: "openai/gpt-4o", APIBase: bad.srv.URL, Weight: 1}})
	e.put(t, &events.Model{ID: "good", ModelName: "m", LiteLLMParams: events.ModelParams{Model: "openai/gpt-4o", APIBase: good.srv.URL}})
	e.put(t, &events.Model{ID: "lim", ModelName: "limited", LiteLLMParams: events.ModelParams{Model: "openai/gpt-4o", APIBase: limited.srv.URL}})
	e.put(t, &events.Model{ID: "lim2", ModelName: "limited2", LiteLLMParams: events.ModelParams{Model: "openai/gpt-4o", APIBase: limited.srv.URL}})
	e.put(t, &events.RoutingSettings{ID: events.RoutingSettingsID, AllowedFails: intp(0), CooldownTime: floatp(600),
		Fallbacks: []map[string][]string{{"limited": {"m"}}, {"limited2": {"good"}}}})
	testutil.Eventually(t, 10*time.Second, func() error {
		if e.live.Load().RoutingSettings() == nil || len(e.live.Load().Catalog().Resolve("m").Deployments) != 2 {
			return errors.New("not applied")
		}
		return nil
	})

	// The first request (a stream) fails on bad before anything reached
	// the client and is retried on good; the client sees one success and
	// the spend names the deployment that answered.
	code, h, body := doH(t, "POST", e.url+"/v1/chat/completions", bearer("sk-master-test-key"), `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if code != 200 || !strings.Contains(body, `"content":"ok"`) || !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Fatalf("first request: %d %s", code, body)
	}
	// LiteLLM's headers name it, and count the retry within the group;
	// an upstream's stream has no cost yet when its headers leave.
	checkHeaders(t, "retried stream", h, map[string]string{"x-litellm-model-id": "good", "x-litellm-model-group": "m",
		"x-litellm-model-api-base": good.srv.URL, "x-litellm-attempted-retries": "1", "x-litellm-attempted-fallbacks": "0",
		"x-litellm-max-retries": strconv.Itoa(e.live.Load().Routing().Retries), "x-litellm-response-cost": ""})
	if bad.hits.Load() != 1 || good.hits.Load() != 1 {
		t.Fatalf("hits bad=%d good=%d, want 1 and 1", bad.hits.Load(), good.hits.Load())
	}
	if ev := nextSpend(t, spends); ev.Deployment != "good" || ev.Status != 200 || ev.TotalTokens != 4 || ev.ModelGroup != "m" {
		t.Errorf("spend event %+v, want deployment good", ev)
	}

	// bad failed more than allowed_fails (0): cooled down, so neither
	// plain nor streaming requests reach it.
	for i := range 6 {
		b := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
		if i%2 == 1 {
			b = `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`
		}
		if code, body := do(t, "POST", e.url+"/v1/chat/completions", bearer("sk-master-test-key"), b); code != 200 {
			t.Fatalf("request %d: %d %s", i, code, body)
		}
		if ev := nextSpend(t, spends); ev.Deployment != "good" {
			t.Errorf("request %d: spend names %s", i, ev.Deployment)
		}
	}
	if bad.hits.Load() != 1 {
		t.Errorf("cooled-down deployment got %d requests", bad.hits.Load()-1)
	}

	// A group whose only deployment is rate limited falls back to m.
	code, h, body = doH(t, "POST", e.url+"/v1/chat/completions", bearer("sk-master-test-key"), `{"model":"limited","messages":[{"role":"user","content":"hi"}]}`)
	if code != 200 || limited.hits.Load() != 1 {
		t.Fatalf("fallback: %d %s (limited hits %d)", code, body, limited.hits.Load())
	}
	ev := nextSpend(t, spends)
	if ev.Deployment != "good" || ev.ModelGroup != "m" {
		t.Errorf("fallback spend event %+v, want deployment good in group m", ev)
	}
	checkHeaders(t, "fallback", h, map[string]string{"x-litellm-model-id": "good", "x-litellm-model-group": "m",
		"x-litellm-attempted-retries": "0", "x-litellm-attempted-fallbacks": "1", "x-litellm-response-cost": policy.PyFloat(ev.Cost)})
	// A fallback may name a deployment by its model_info.id.
	code, body = do(t, "POST", e.url+"/v1/chat/completions", bearer("sk-master-test-key"), `{"model":"limited2","messages":[{"role":"user","content":"hi"}]}`)
	if code != 200 || limited.hits.Load() != 2 {
		t.Fatalf("fallback to a deployment id: %d %s (limited hits %d)", code, body, limited.hits.Load())
	}
	if ev := nextSpend(t, spends); ev.Deployment != "good" || ev.ModelGroup != "m" {
		t.Errorf("deployment-id fallback spend event %+v, want deployment good in group m", ev)
	}

	// The client's own mistakes (an upstream 400) are not retried
	// elsewhere and do not cool the deployment down.
	rejecting, other := newUpstream(t, 400), newUpstream(t, 200)
	e.put(t, &events.Model{ID: "rej", ModelName: "m2", LiteLLMParams: events.ModelParams{Model: "openai/gpt-4o", APIBase: rejecting.srv.URL, Weight: 1}})
	e.put(t, &events.Model{ID: "other", ModelName: "m2", LiteLLMParams: events.ModelParams{Model: "openai/gpt-4o", APIBase: other.srv.URL}})
	testutil.Eventually(t, 10*time.Second, func() error {
		if len(e.live.Load().Catalog().Resolve("m2").Deployments) != 2 {
			return errors.New("not applied")
		}
		return nil
	})
	for range 2 {
		code, h, _ = doH(t, "POST", e.url+"/v1/chat/completions", bearer("sk-master-test-key"), `{"model":"m2","messages":[{"role":"user","content":"hi"}]}`)
		if code != 400 {
			t.Fatalf("upstream 400: client got %d", code)
		}
		// A failure names the deployment tried and costs nothing.
		checkHeaders(t, "failure", h, map[string]string{"x-litellm-model-id": "rej", "x-litellm-response-cost": "0",
			"x-litellm-model-group": "", "x-litellm-attempted-retries": ""})
		if ev := nextSpend(t, spends); ev.Deployment != "rej" || ev.Status != 400 {
			t.Errorf("spend of a rejected request %+v", ev)
		}
	}
	if rejecting.hits.Load() != 2 || other.hits.Load() != 0 {
		t.Errorf("hits rejecting=%d other=%d, want 2 and 0", rejecting.hits.Load(), other.hits.Load())
	}
}
