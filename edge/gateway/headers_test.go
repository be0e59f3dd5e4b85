package gateway

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	edgebudget "github.com/gatehouse/gatehouse/edge/budget"
	"github.com/gatehouse/gatehouse/edge/ratelimit"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/internal/version"
	"github.com/gatehouse/gatehouse/policy"
)

func TestAppendMillis(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0.000", 1234567 * time.Nanosecond: "1.234", 12*time.Second + 5*time.Microsecond: "12000.005", -time.Second: "0.000"} {
		if got := string(appendMillis(nil, d)); got != want {
			t.Errorf("appendMillis(%v) = %q, want %q", d, got, want)
		}
	}
}

const hdrKey = "sk-virtual-key-hdrs-000001"

// Every LLM route, plain and streamed, names the deployment that answered,
// the gateway's version, the retries and fallbacks, the durations and the
// key's limits; an answer complete before its headers leave names its
// cost, which is the spend event's.
func TestLiteLLMResponseHeaders(t *testing.T) {
	e, spends := spendEdge(t)
	e.g.limiter, _ = ratelimit.New(nil, "edge-hdrs", time.Hour, nil)
	t.Cleanup(e.g.limiter.Close)
	e.g.budgets = edgebudget.New(edgebudget.Options{EdgeID: "edge-hdrs"})
	rpm, tpm, budget := int64(100), int64(100000), 50.0
	// Priced, so that every answer costs something (the mock is free).
	putMockKey(t, e, &events.Key{Token: events.HashKey(hdrKey), Models: []string{"m"}, RPMLimit: &rpm, TPMLimit: &tpm, MaxBudget: &budget},
		&events.Model{ID: "m1", ModelName: "m", LiteLLMParams: events.ModelParams{Model: "mock/m"},
			ModelInfo: events.ModelInfo{InputCostPerToken: 1e-6, OutputCostPerToken: 3e-6}})

	spent := 0.0
	for i, tc := range []struct {
		path, body string
		stream     bool
	}{
		{"/v1/chat/completions", chatBody, false},
		{"/v1/chat/completions", `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`, true},
		{"/v1/completions", `{"model":"m","prompt":"hi"}`, false},
		{"/v1/completions", `{"model":"m","prompt":"hi","stream":true}`, true},
		{"/v1/embeddings", `{"model":"m","input":"hi there"}`, false},
		{"/v1/messages", `{"model":"m","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`, false},
		{"/v1/messages", `{"model":"m","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, true},
		{"/v1/responses", `{"model":"m","input":"hi"}`, false},
		{"/v1/responses", `{"model":"m","input":"hi","stream":true}`, true},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/v1/")+map[bool]string{false: "", true: "/stream"}[tc.stream], func(t *testing.T) {
			code, h, body := doH(t, "POST", e.url+tc.path, bearer(hdrKey), tc.body)
			if code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			ev := nextSpend(t, spends)
			if ev.RequestID != h.Get("x-litellm-call-id") || ev.Cost <= 0 {
				t.Fatalf("spend event %+v for call %s", ev, h.Get("x-litellm-call-id"))
			}
			want := map[string]string{
				"x-litellm-model-id": "m1", "x-litellm-model-group": "m", "x-litellm-version": version.String(),
				"x-litellm-attempted-retries": "0", "x-litellm-attempted-fallbacks": "0",
				"x-litellm-key-rpm-limit": "100", "x-litellm-key-tpm-limit": "100000", "x-litellm-key-max-budget": "50.0",
				"x-ratelimit-api_key-limit-requests": "100", "x-ratelimit-api_key-remaining-requests": strconv.Itoa(100 - i - 1),
				"x-ratelimit-api_key-limit-tokens": "100000",
				"x-litellm-model-api-base":         "", // the mock has none
				"x-litellm-max-retries":            "",
			}
			checkHeaders(t, tc.path, h, want)
			if rt, err := strconv.Atoi(h.Get("x-ratelimit-api_key-remaining-tokens")); err != nil || rt > 100000 || rt <= 0 {
				t.Errorf("remaining tokens %q", h.Get("x-ratelimit-api_key-remaining-tokens"))
			}
			total, err1 := strconv.ParseFloat(h.Get("x-litellm-response-duration-ms"), 64)
			overhead, err2 := strconv.ParseFloat(h.Get("x-litellm-overhead-duration-ms"), 64)
			if err1 != nil || err2 != nil || total <= 0 || overhead < 0 || overhead > total {
				t.Errorf("durations %q %q", h.Get("x-litellm-response-duration-ms"), h.Get("x-litellm-overhead-duration-ms"))
			}
			// The mock's streams are complete before their headers leave,
			// so their cost is known too (an upstream's is not:
			// TestRetryFallbackHeaders).
			cost := h.Get("x-litellm-response-cost")
			if c, err := strconv.ParseFloat(cost, 64); err != nil || c != ev.Cost {
				t.Errorf("x-litellm-response-cost %q, spend event cost %v", cost, ev.Cost)
			}
			spent += ev.Cost
			// The key's spend so far, this answer included, as the
			// edge's budget view holds it.
			if s, err := strconv.ParseFloat(h.Get("x-litellm-key-spend"), 64); err != nil || !near(s, spent) {
				t.Errorf("x-litellm-key-spend %q, want %v", h.Get("x-litellm-key-spend"), spent)
			}
		})
	}
}

func near(a, b float64) bool { return a-b < 1e-12 && b-a < 1e-12 }

// The api_base a client is shown carries no credential from the
// deployment's api_base; the upstream's own rate limits are passed on as
// LiteLLM passes them (prefixed llm_provider-, OpenAI's four also as they
// are), and no other upstream header is.
func TestAPIBaseAndUpstreamRateLimitHeaders(t *testing.T) {
	e, spends := spendEdge(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Ratelimit-Limit-Requests", "5000")
		w.Header().Set("X-Ratelimit-Remaining-Requests", "4999")
		w.Header().Set("X-Ratelimit-Reset-Tokens", "6m0s")
		w.Header().Set("X-Ratelimit-Weird", "a b;c=sk-upstream-secret")
		w.Header().Set("Set-Cookie", "session=upstream-secret")
		w.Header().Set("Openai-Organization", "org-upstream-secret")
		_, _ = w.Write([]byte(`{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`))
	}))
	t.Cleanup(up.Close)
	e.put(t, &events.Model{ID: "az", ModelName: "m", LiteLLMParams: events.ModelParams{Model: "openai/gpt-4o", APIBase: up.URL + "/v1?api-key=query-secret#frag-secret", APIKey: "sk-provider-secret"}})
	testutil.Eventually(t, 10*time.Second, func() error {
		if !e.live.Load().Catalog().Resolve("m").Found() {
			return errors.New("not applied")
		}
		return nil
	})
	code, h, body := doH(t, "POST", e.url+"/v1/chat/completions", bearer("sk-master-test-key"), chatBody)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	nextSpend(t, spends)
	want := map[string]string{
		"x-litellm-model-api-base":                    up.URL + "/v1",
		"x-ratelimit-limit-requests":                  "5000",
		"x-ratelimit-remaining-requests":              "4999",
		"llm_provider-x-ratelimit-limit-requests":     "5000",
		"llm_provider-x-ratelimit-remaining-requests": "4999",
		"llm_provider-x-ratelimit-reset-tokens":       "6m0s",
		"x-ratelimit-reset-tokens":                    "",
		"llm_provider-x-ratelimit-weird":              "",
		"set-cookie":                                  "",
		"llm_provider-set-cookie":                     "",
		"llm_provider-openai-organization":            "",
	}
	checkHeaders(t, "upstream", h, want)
	for k, vs := range h {
		for _, v := range vs {
			if strings.Contains(v, "secret") {
				t.Errorf("header %s leaks %q", k, v)
			}
		}
	}
}

// A refusal after the caller was identified says it cost nothing, with
// the gateway's version and the key's limits, as LiteLLM's error answers.
func TestRefusalHeaders(t *testing.T) {
	e := startEdgeWith(t, true, Options{EdgeID: "edge-hdrs"}, withSpend(t, "edge-hdrs"))
	e.g.limiter, _ = ratelimit.New(nil, "edge-hdrs", time.Hour, nil)
	t.Cleanup(e.g.limiter.Close)
	rpm := int64(1)
	putMockKey(t, e, &events.Key{Token: events.HashKey(hdrKey), Models: []string{"m"}, RPMLimit: &rpm})
	if code, h, body := doH(t, "POST", e.url+"/v1/chat/completions", bearer(hdrKey), chatBody); code != 200 || h.Get("x-ratelimit-api_key-remaining-requests") != "0" {
		t.Fatalf("first: %d remaining %q: %s", code, h.Get("x-ratelimit-api_key-remaining-requests"), body)
	}
	code, h, body := doH(t, "POST", e.url+"/v1/chat/completions", bearer(hdrKey), chatBody)
	if code != 429 {
		t.Fatalf("second: %d %s", code, body)
	}
	checkHeaders(t, "rate limited", h, map[string]string{"x-litellm-response-cost": "0", "x-litellm-version": version.String(), "x-litellm-key-rpm-limit": "1", "x-litellm-model-id": ""})
	// An unknown key is refused before anything is known of it.
	if _, h, _ := doH(t, "POST", e.url+"/v1/chat/completions", bearer("sk-unknown-key-0000000001"), chatBody); h.Get("x-litellm-version") != "" || h.Get("x-litellm-response-cost") != "" {
		t.Errorf("unknown key: version %q cost %q", h.Get("x-litellm-version"), h.Get("x-litellm-response-cost"))
	}
}

// BenchmarkLiteLLMHeaders is what the headers add to a plain answer (a key
// without limits, as BenchmarkChatMock's): the grant's and the answer's
// headers on a response that holds the edge's usual ones ("litellm"),
// against those usual ones alone ("baseline").
func BenchmarkLiteLLMHeaders(b *testing.B) {
	g := &Gateway{}
	d := &policy.Deployment{ID: "m1", PublicAPIBase: "https://api.example.com/v1", Provider: "openai"}
	c := &chatCall{g: g, d: d, key: &events.Key{Token: "t"}, rt: policy.CompileRouting(nil), t0: time.Now(), upstream: time.Millisecond,
		ev: events.SpendEvent{ModelGroup: "m", Cost: 3.1e-05}}
	for _, litellm := range []bool{false, true} {
		b.Run(map[bool]string{false: "baseline", true: "litellm"}[litellm], func(b *testing.B) {
			var resp fasthttp.Response
			b.ReportAllocs()
			for b.Loop() {
				resp.Reset()
				h := &resp.Header
				h.Set("X-Request-Id", "0123456789abcdef0123456789abcdef")
				h.Set(PolicySeqHeader, "12345")
				h.Set("x-litellm-call-id", "0123456789abcdef0123456789abcdef")
				if litellm {
					setGrantHeaders(h, c.key)
					c.setAnswerHeaders(h, 0, 0, !resp.IsBodyStream())
				}
			}
		})
	}
}

// checkHeaders compares headers with want ("": absent).
func checkHeaders(t *testing.T, what string, h http.Header, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
}
