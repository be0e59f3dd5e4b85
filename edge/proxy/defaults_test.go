package proxy

import (
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
)

func TestApplyDefaults(t *testing.T) {
	temp, max := 0.2, int64(64)
	withDefaults := compiled(t, events.ModelParams{Model: "openai/gpt-4o", Temperature: &temp, MaxTokens: &max, Stop: []string{"END"}})
	none := compiled(t, events.ModelParams{Model: "openai/gpt-4o"})
	topK := int64(40)
	extra := compiled(t, events.ModelParams{Model: "openai/gpt-4o", Temperature: &temp, TopK: &topK,
		Thinking:  map[string]any{"type": "enabled", "budget_tokens": 1024},
		ExtraBody: map[string]any{"temperature": 0.9, "response_format": map[string]any{"type": "json_object"}}})
	for _, tc := range []struct {
		name string
		d    *policy.Deployment
		body string
		want string
	}{
		{"no defaults: body as is", none, `{"model":"m", "messages":[]}`, `{"model":"m", "messages":[]}`},
		{"defaults added", withDefaults, `{"model":"m"}`, `{"max_tokens":64,"model":"m","stop":["END"],"temperature":0.2}`},
		{"client wins", withDefaults, `{"model":"m","temperature":1,"max_tokens":5,"stop":"x"}`, `{"model":"m","temperature":1,"max_tokens":5,"stop":"x"}`},
		{"null is unset", withDefaults, `{"model":"m","temperature":null,"max_tokens":5,"stop":"x"}`, `{"max_tokens":5,"model":"m","stop":"x","temperature":0.2}`},
		// top_k, thinking and extra_body (LiteLLM's litellm_params) are
		// defaults too; a parameter with its own field wins over
		// extra_body's.
		{"top_k, thinking, extra_body", extra, `{"model":"m"}`,
			`{"model":"m","response_format":{"type":"json_object"},"temperature":0.2,"thinking":{"budget_tokens":1024,"type":"enabled"},"top_k":40}`},
		{"client wins over extra_body", extra, `{"model":"m","response_format":{"type":"text"},"top_k":1}`,
			`{"model":"m","response_format":{"type":"text"},"temperature":0.2,"thinking":{"budget_tokens":1024,"type":"enabled"},"top_k":1}`},
		{"request tags are not forwarded", none, `{"model":"m","tags":["a"]}`, `{"model":"m"}`},
		{"only top-level tags", none, `{"model":"m","metadata":{"tags":["a"]},"messages":[{"role":"user","content":"\"tags\""}]}`, `{"model":"m","metadata":{"tags":["a"]},"messages":[{"role":"user","content":"\"tags\""}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(ApplyDefaults(tc.d, []byte(tc.body))); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestApplyDefaultsDoesNotAllocateWithoutDefaults(t *testing.T) {
	d := compiled(t, events.ModelParams{Model: "openai/gpt-4o"})
	body := []byte(`{"model":"m","messages":[]}`)
	if n := testing.AllocsPerRun(100, func() { _ = ApplyDefaults(d, body) }); n != 0 {
		t.Fatalf("%v allocations per request", n)
	}
}

func TestRequestTags(t *testing.T) {
	for body, want := range map[string]string{
		`{"tags":["a","b"]}`:                       "a,b",
		`{"metadata":{"tags":["c"]}}`:              "c",
		`{"tags":["a"],"metadata":{"tags":["c"]}}`: "a",
		`{}`:                  "",
		`{"tags":"notalist"}`: "",
	} {
		got := RequestTags([]byte(body))
		s := ""
		for i, g := range got {
			if i > 0 {
				s += ","
			}
			s += g
		}
		if s != want {
			t.Errorf("%s: %q, want %q", body, s, want)
		}
	}
}

// compiled builds a deployment the way an edge does, from a snapshot.
func compiled(t *testing.T, p events.ModelParams) *policy.Deployment {
	t.Helper()
	s, err := policy.SnapshotOf(nil, &events.Model{ID: "d1", ModelName: "m", LiteLLMParams: p})
	if err != nil {
		t.Fatal(err)
	}
	r := s.Catalog().Resolve("m")
	if len(r.Deployments) != 1 {
		t.Fatal("deployment not built")
	}
	return r.Deployments[0]
}

// TestHostedDefaultsMatchPolicy: config validation requires api_base
// exactly for the OpenAI-compatible providers this package has no
// default endpoint for.
func TestHostedDefaultsMatchPolicy(t *testing.T) {
	want := map[string]bool{}
	for _, p := range policy.HostedDefaults() {
		want[p] = true
	}
	for p := range defaultAPIBase {
		if !want[p] {
			t.Errorf("edge/proxy has a default api_base for %s, policy.NeedsAPIBase does not know it", p)
		}
		delete(want, p)
	}
	for p := range want {
		t.Errorf("policy says %s has a default api_base, edge/proxy has none", p)
	}
}

// TestServableMatchesPolicy: config validation accepts exactly the
// providers this package can call. policy.CanServe is a list of its own
// (policy cannot import edge/proxy), so a provider registered here or
// named there without the other would either be refused by the config or
// accepted and then fail on every request.
func TestServableMatchesPolicy(t *testing.T) {
	for p := range providers {
		if !policy.CanServe(p) {
			t.Errorf("edge/proxy serves %s, policy.CanServe refuses it", p)
		}
	}
	for _, p := range []string{"openai", "azure", "anthropic", "bedrock", "gemini", "vertex_ai", "mock", "groq", "hosted_vllm",
		"huggingface", "ollama", "cohere", "sagemaker", "replicate", "azure_ai"} {
		if policy.IsKnownProvider(p) && policy.CanServe(p) != (providerFor(p) != nil) {
			t.Errorf("%s: policy.CanServe = %v, edge/proxy provider = %v", p, policy.CanServe(p), providerFor(p) != nil)
		}
	}
}
