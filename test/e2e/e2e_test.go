package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

const upstreamKey = "sk-upstream-provider-secret-abcdef123456"

// upstream is a mock OpenAI server (we have no internet); it records what
// the gateway sent it.
type upstream struct {
	addr string
	mu   sync.Mutex
	seen []seenRequest
}

type seenRequest struct {
	Auth  string
	Model string
}

func startUpstream(t *testing.T) *upstream {
	u := &upstream{}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model  string `json:"model"`
			Stream bool   `json:"stream"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		u.mu.Lock()
		u.seen = append(u.seen, seenRequest{r.Header.Get("Authorization"), req.Model})
		u.mu.Unlock()
		if req.Model == "fail-with-key-echo" {
			w.WriteHeader(500)
			fmt.Fprintf(w, `{"error":{"message":"internal error for key %s","type":"server_error"}}`, upstreamKey)
			return
		}
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, completionBody("chatcmpl-up", req.Model, "upstream says hi", 3, 3))
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		for _, word := range []string{"upstream ", "streams ", "hi"} {
			fmt.Fprint(w, textChunk("chatcmpl-up", req.Model, word))
			fl.Flush()
		}
		fmt.Fprint(w, stopChunk("chatcmpl-up", req.Model))
		fmt.Fprint(w, "data: [DONE]\n\n")
		fl.Flush()
	})
	u.addr = serveMock(t, mux)
	return u
}

func (u *upstream) last() seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		return seenRequest{}
	}
	return u.seen[len(u.seen)-1]
}

// seedConfig holds the deployments of LiteLLM's model-access docs, with
// mock models where the docs name real providers, and the wildcard ones
// pointed at the mock upstream.
func seedConfig(upstreamAddr string) string {
	return fmt.Sprintf(`
general_settings:
  master_key: os.environ/MASTER_KEY
model_list:
  - model_name: gpt-4
    litellm_params:
      model: mock/gpt-4
    model_info:
      access_groups: ["beta-models"]
  - model_name: fireworks-llama-v3-70b-instruct
    litellm_params:
      model: mock/llama-v3-70b-instruct
    model_info:
      access_groups: ["beta-models"]
  - model_name: gpt-4o
    litellm_params:
      model: mock/gpt-4o
  - model_name: gpt-3.5-turbo
    litellm_params:
      model: mock/gpt-3.5-turbo
  - model_name: azure-gpt-3.5
    litellm_params:
      model: mock/azure-gpt-3.5
  - model_name: BEDROCK_GROUP
    litellm_params:
      model: mock/bedrock
  - model_name: openai/*
    litellm_params:
      model: openai/*
      api_base: http://%[1]s/v1
      api_key: os.environ/UPSTREAM_KEY
    model_info:
      access_groups: ["default-models"]
  - model_name: openai/o1-*
    litellm_params:
      model: openai/o1-*
      api_base: http://%[1]s/v1
      api_key: os.environ/UPSTREAM_KEY
    model_info:
      access_groups: ["restricted-models"]
`, upstreamAddr)
}

// TestSeedModelAccessWalkthroughs runs LiteLLM's "Control Model Access"
// walkthroughs verbatim against the edge port (management calls included).
func TestSeedModelAccessWalkthroughs(t *testing.T) {
	up := startUpstream(t)
	sys := startSystem(t, seedConfig(up.addr), 1, "UPSTREAM_KEY="+upstreamKey)
	edge := sys.edges[0]

	t.Run("restrict models by virtual key", func(t *testing.T) {
		key := generateKey(t, edge, map[string]any{"models": []string{"gpt-3.5-turbo", "gpt-4"}})
		expectChat(t, edge, key, "gpt-4", 200, "")
		expectChat(t, edge, key, "gpt-4o", 403, "key_model_access_denied")
	})

	t.Run("restrict models by team", func(t *testing.T) {
		var team struct {
			TeamID string `json:"team_id"`
		}
		if code := call(t, "POST", edge.url("/team/new"), masterKey, map[string]any{"team_alias": "litellm-dev", "models": []string{"azure-gpt-3.5"}}, &team); code != 200 || team.TeamID == "" {
			t.Fatalf("/team/new: %d", code)
		}
		key := generateKey(t, edge, map[string]any{"team_id": team.TeamID})
		expectChat(t, edge, key, "BEDROCK_GROUP", 403, "team_model_access_denied")
		expectChat(t, edge, key, "azure-gpt-3.5", 200, "")
		// A key of the team cannot be given a model the team lacks.
		code, raw := callRaw(t, "POST", edge.url("/key/generate"), masterKey, map[string]any{"team_id": team.TeamID, "models": []string{"gpt-4o"}})
		if code != 403 || !strings.Contains(string(raw), "team_model_access_denied") {
			t.Fatalf("key with model outside team: %d %s", code, raw)
		}
	})

	t.Run("model access groups", func(t *testing.T) {
		key := generateKey(t, edge, map[string]any{"models": []string{"beta-models"}, "max_budget": 0})
		expectChat(t, edge, key, "gpt-4", 200, "")
		expectChat(t, edge, key, "fireworks-llama-v3-70b-instruct", 200, "")
		expectChat(t, edge, key, "gpt-4o", 403, "key_model_access_denied")
		if ids := modelIDs(t, edge, key); strings.Join(ids, ",") != "fireworks-llama-v3-70b-instruct,gpt-4" {
			t.Fatalf("/v1/models lists %v; want the beta-models members, expanded", ids)
		}

		var team struct {
			TeamID string `json:"team_id"`
		}
		call(t, "POST", edge.url("/team/new"), masterKey, map[string]any{"models": []string{"beta-models"}}, &team)
		tkey := generateKey(t, edge, map[string]any{"team_id": team.TeamID})
		expectChat(t, edge, tkey, "gpt-4", 200, "")
		expectChat(t, edge, tkey, "gpt-4o", 403, "team_model_access_denied")
	})

	t.Run("wildcard access, all except o1", func(t *testing.T) {
		key := generateKey(t, edge, map[string]any{"models": []string{"default-models"}})
		expectChat(t, edge, key, "openai/gpt-4", 200, "")
		if got := up.last(); got.Model != "gpt-4" || got.Auth != "Bearer "+upstreamKey {
			t.Fatalf("upstream saw %+v; want model gpt-4 and the provider key from the edge's env", got)
		}
		expectChat(t, edge, key, "openai/o1-mini", 403, "key_model_access_denied")
		// Bare names reach the wildcard by provider inference.
		expectChat(t, edge, key, "gpt-4-turbo", 200, "")
		rkey := generateKey(t, edge, map[string]any{"models": []string{"restricted-models"}})
		expectChat(t, edge, rkey, "openai/o1-mini", 200, "")
		expectChat(t, edge, rkey, "openai/gpt-4", 403, "key_model_access_denied")
	})

	t.Run("upstream errors never leak the provider key", func(t *testing.T) {
		key := generateKey(t, edge, map[string]any{})
		code, raw := callRaw(t, "POST", edge.url("/v1/chat/completions"), key, chat("openai/fail-with-key-echo"))
		if code != 502 || bytes.Contains(raw, []byte(upstreamKey)) {
			t.Fatalf("upstream failure: %d %s", code, raw)
		}
	})
}

// TestPropagationAcrossEdges: when a write returns, every edge already
// enforces it. LiteLLM users wait for a per-pod cache TTL here.
func TestPropagationAcrossEdges(t *testing.T) {
	sys := startSystem(t, seedConfig("127.0.0.1:1"), 2)
	a, b := sys.edges[0], sys.edges[1]
	var team struct {
		TeamID string `json:"team_id"`
	}
	call(t, "POST", a.url("/team/new"), masterKey, map[string]any{"models": []string{"gpt-4"}}, &team)
	for i := range 20 {
		// Created through edge a, usable at edge b at once.
		key := generateKey(t, a, map[string]any{"team_id": team.TeamID})
		expectChat(t, b, key, "gpt-4", 200, "")
		// Deleted through edge b, refused at edge a on the next request.
		if code := call(t, "POST", b.url("/key/delete"), masterKey, map[string]any{"keys": []string{key}}, nil); code != 200 {
			t.Fatalf("round %d: /key/delete: %d", i, code)
		}
		expectChat(t, a, key, "gpt-4", 401, "auth_error")
		expectChat(t, b, key, "gpt-4", 401, "auth_error")
	}
	key := generateKey(t, a, map[string]any{"team_id": team.TeamID})
	for i := range 10 {
		if code := call(t, "POST", sys.control.url("/team/block"), masterKey, map[string]any{"team_id": team.TeamID}, nil); code != 200 {
			t.Fatalf("/team/block: %d", code)
		}
		expectChat(t, a, key, "gpt-4", 401, "auth_error")
		expectChat(t, b, key, "gpt-4", 401, "auth_error")
		if code := call(t, "POST", sys.control.url("/team/unblock"), masterKey, map[string]any{"team_id": team.TeamID}, nil); code != 200 {
			t.Fatalf("/team/unblock: %d", code)
		}
		expectChat(t, a, key, "gpt-4", 200, "")
		expectChat(t, b, key, "gpt-4", 200, "")
		_ = i
	}
	// Key block and regenerate propagate the same way.
	call(t, "POST", a.url("/key/block"), masterKey, map[string]any{"key": key}, nil)
	expectChat(t, b, key, "gpt-4", 401, "auth_error")
	call(t, "POST", a.url("/key/unblock"), masterKey, map[string]any{"key": key}, nil)
	expectChat(t, b, key, "gpt-4", 200, "")
	var regen struct {
		Key string `json:"key"`
	}
	if code := call(t, "POST", b.url("/key/regenerate"), masterKey, map[string]any{"key": key}, &regen); code != 200 {
		t.Fatalf("/key/regenerate: %d", code)
	}
	expectChat(t, a, key, "gpt-4", 401, "auth_error")
	expectChat(t, a, regen.Key, "gpt-4", 200, "")
}

// TestOpenAIClient: the official client, pointed at the edge, gets a
// completion and a streamed completion (from a mock model and through a
// real HTTP upstream).
func TestOpenAIClient(t *testing.T) {
	up := startUpstream(t)
	sys := startSystem(t, seedConfig(up.addr), 1, "UPSTREAM_KEY="+upstreamKey)
	edge := sys.edges[0]
	c, ctx := sdkClient(t, edge, 30*time.Second)
	for _, tc := range []struct{ model, want string }{
		{"gpt-4o", "This is a mock response from gpt-4o. You said: Say hi"},
		{"openai/gpt-4", "upstream says hi"},
	} {
		params := openai.ChatCompletionNewParams{Model: tc.model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hi")}}
		resp, err := c.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatalf("%s: %v", tc.model, err)
		}
		if len(resp.Choices) != 1 || resp.Choices[0].Message.Content != tc.want {
			t.Fatalf("%s: got %+v", tc.model, resp.Choices)
		}
		acc, chunks := sdkStream(t, ctx, c, params)
		want := tc.want
		if tc.model == "openai/gpt-4" {
			want = "upstream streams hi"
		}
		if chunks < 3 || len(acc.Choices) != 1 || acc.Choices[0].Message.Content != want {
			t.Fatalf("%s stream: %d chunks, %+v", tc.model, chunks, acc.Choices)
		}
	}
	// A denial reaches the client as an OpenAI API error with our type.
	rkey := generateKey(t, edge, map[string]any{"models": []string{"gpt-4"}})
	rc := openai.NewClient(option.WithBaseURL(edge.url("/v1/")), option.WithAPIKey(rkey), option.WithMaxRetries(0))
	_, err := rc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
	var apiErr *openai.Error
	if !errorsAs(err, &apiErr) || apiErr.StatusCode != 403 || apiErr.Type != "key_model_access_denied" {
		t.Fatalf("denial through the client: %v", err)
	}
}

// TestRestartsLoseNothing: a control restart and an edge restart replay the
// stream to the same state, and the control plane's config sync publishes
// nothing for an unchanged config.
func TestRestartsLoseNothing(t *testing.T) {
	sys := startSystem(t, seedConfig("127.0.0.1:1"), 1)
	edge := sys.edges[0]
	var team struct {
		TeamID string `json:"team_id"`
	}
	call(t, "POST", edge.url("/team/new"), masterKey, map[string]any{"team_alias": "t", "models": []string{"gpt-4", "beta-models"}}, &team)
	keys := []string{
		generateKey(t, edge, map[string]any{"team_id": team.TeamID, "key_alias": "k1"}),
		generateKey(t, edge, map[string]any{"models": []string{"gpt-4o"}, "duration": "30d"}),
	}
	call(t, "POST", edge.url("/user/new"), masterKey, map[string]any{"user_id": "u1", "user_email": "u1@example.com", "teams": []string{team.TeamID}}, nil)
	call(t, "POST", edge.url("/model/new"), masterKey, map[string]any{"model_name": "added-at-runtime", "litellm_params": map[string]any{"model": "mock/added"}}, nil)
	call(t, "POST", edge.url("/key/block"), masterKey, map[string]any{"key": keys[1]}, nil)

	states := func() (string, string) {
		var c, e json.RawMessage
		call(t, "GET", sys.control.url("/gatehouse/state"), masterKey, nil, &c)
		call(t, "GET", edge.url("/gatehouse/edge/state"), masterKey, nil, &e)
		return string(c), string(e)
	}
	c0, e0 := states()
	if c0 != e0 {
		t.Fatalf("edge state differs from control state before restart:\ncontrol %s\nedge    %s", c0, e0)
	}
	sys.control.restart()
	edge.restart()
	c1, e1 := states()
	if c1 != c0 || e1 != c0 {
		t.Fatalf("state changed across restarts (config sync must be idempotent):\nbefore %s\ncontrol %s\nedge    %s", c0, c1, e1)
	}
	expectChat(t, edge, keys[0], "gpt-4", 200, "")
	expectChat(t, edge, keys[1], "gpt-4o", 401, "auth_error")
	expectChat(t, edge, masterKey, "added-at-runtime", 200, "")
}

// TestBadInput: every malformed request gets an OpenAI envelope with the
// right status, and a refused write changes nothing.
func TestBadInput(t *testing.T) {
	sys := startSystem(t, seedConfig("127.0.0.1:1"), 1)
	edge := sys.edges[0]
	key := generateKey(t, edge, map[string]any{})
	big := `{"model":"gpt-4","messages":[{"role":"user","content":"` + strings.Repeat("x", 2<<20) + `"}]}`
	cases := []struct {
		name, method, path, key string
		body                    any
		status                  int
		errType                 string
	}{
		{"malformed JSON", "POST", "/v1/chat/completions", key, `{"model":`, 400, "invalid_request_error"},
		{"not an object", "POST", "/v1/chat/completions", key, `[1,2]`, 400, "invalid_request_error"},
		{"model missing", "POST", "/v1/chat/completions", key, `{"messages":[{"role":"user","content":"x"}]}`, 400, "invalid_request_error"},
		{"model not a string", "POST", "/v1/chat/completions", key, `{"model":5,"messages":[]}`, 400, "invalid_request_error"},
		{"messages missing", "POST", "/v1/chat/completions", key, `{"model":"gpt-4"}`, 400, "invalid_request_error"},
		{"unknown model", "POST", "/v1/chat/completions", key, chat("no-such-model"), 400, "invalid_request_error"},
		{"oversized body", "POST", "/v1/chat/completions", key, big, 413, "invalid_request_error"},
		{"no credentials", "POST", "/v1/chat/completions", "", chat("gpt-4"), 401, "auth_error"},
		{"unknown key", "POST", "/v1/chat/completions", "sk-not-a-real-key-000000", chat("gpt-4"), 401, "auth_error"},
		{"jwt without jwt auth", "POST", "/v1/chat/completions", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", chat("gpt-4"), 401, "auth_error"},
		{"unknown route", "GET", "/v1/nothing-here", key, nil, 404, "not_found_error"},
		{"admin route with virtual key", "POST", "/team/new", key, map[string]any{}, 401, "auth_error"},
		{"admin route without key", "POST", "/key/generate", "", map[string]any{}, 401, "auth_error"},
		{"admin malformed JSON", "POST", "/key/generate", masterKey, `{"models": [`, 400, "invalid_request_error"},
		{"admin unknown field", "POST", "/key/generate", masterKey, `{"modles": ["gpt-4"]}`, 400, "invalid_request_error"},
		{"admin wrong type", "POST", "/key/generate", masterKey, `{"models": "gpt-4"}`, 400, "invalid_request_error"},
		{"admin bad duration", "POST", "/key/generate", masterKey, `{"duration": "forever"}`, 400, "invalid_request_error"},
		{"key for missing team", "POST", "/key/generate", masterKey, `{"team_id": "no-such-team"}`, 404, "not_found_error"},
		{"delete missing key", "POST", "/key/delete", masterKey, `{"keys": ["sk-does-not-exist-000000"]}`, 404, "not_found_error"},
		{"block missing team", "POST", "/team/block", masterKey, `{"team_id": "nope"}`, 404, "not_found_error"},
		{"model without provider", "POST", "/model/new", masterKey, `{"model_name":"x","litellm_params":{"model":"no-provider"}}`, 400, "invalid_request_error"},
	}
	var before json.RawMessage
	call(t, "GET", sys.control.url("/gatehouse/state"), masterKey, nil, &before)
	for _, c := range cases {
		code, raw := callRaw(t, c.method, edge.url(c.path), c.key, c.body)
		var e envelope
		if err := json.Unmarshal(raw, &e); err != nil || e.Error.Message == "" {
			t.Errorf("%s: not an OpenAI error envelope (%d): %.200s", c.name, code, raw)
			continue
		}
		if code != c.status || e.Error.Type != c.errType {
			t.Errorf("%s: %d %s, want %d %s: %.300s", c.name, code, e.Error.Type, c.status, c.errType, raw)
		}
		// The message says what is wrong, once (not "invalid JSON: invalid JSON").
		if i := strings.Index(e.Error.Message, ": "); i > 0 && strings.HasPrefix(e.Error.Message[i+2:], e.Error.Message[:i]) {
			t.Errorf("%s: message repeats itself: %q", c.name, e.Error.Message)
		}
	}
	var after json.RawMessage
	call(t, "GET", sys.control.url("/gatehouse/state"), masterKey, nil, &after)
	if string(before) != string(after) {
		t.Fatalf("refused requests changed state:\nbefore %s\nafter  %s", before, after)
	}
	// 401s carry a Bearer challenge (LiteLLM #41135).
	if code, auth := challenge(t, edge.url("/v1/models")); code != 401 || !strings.HasPrefix(auth, "Bearer") {
		t.Fatalf("401 without challenge: %d %q", code, auth)
	}
}

// TestBrokenConfigRefusesToStart: a config error stops the control plane
// with a message naming the field, before anything is published.
func TestBrokenConfigRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte("model_list:\n  - model_name: x\n    litellm_params:\n      model: mock/x\n      api_bse: http://typo\n"), 0o600)
	cmd := exec.Command(binary, "control", "-nats", "nats://127.0.0.1:1", "-listen", "127.0.0.1:0", "-config", bad)
	cmd.Env = append(os.Environ(), "MASTER_KEY="+masterKey)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "api_bse") || !strings.Contains(string(out), "litellm_params") {
		t.Fatalf("want a start-up error naming model_list[0].litellm_params.api_bse; got %v: %s", err, out)
	}
}

// TestRateLimitAcrossEdges: a key's rpm_limit counts requests at every edge.
func TestRateLimitAcrossEdges(t *testing.T) {
	sys := startSystem(t, seedConfig("127.0.0.1:1"), 2)
	a, b := sys.edges[0], sys.edges[1]
	key := generateKey(t, a, map[string]any{"rpm_limit": 5})
	for range 5 {
		expectChat(t, a, key, "gpt-4", 200, "")
	}
	expectChat(t, a, key, "gpt-4", 429, "rate_limit_error")
	// Edge b learns of a's five within one gossip interval (100 ms); until
	// then it may admit a few (the documented error bound).
	admittedAtB := 0
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, _ := callRaw(t, "POST", b.url("/v1/chat/completions"), key, chat("gpt-4"))
		if code == 429 {
			break
		}
		if code != 200 || time.Now().After(deadline) {
			t.Fatalf("edge b: %d", code)
		}
		admittedAtB++
		time.Sleep(20 * time.Millisecond) // pacing the probe, not waiting for a result
	}
	if admittedAtB > 5 {
		t.Fatalf("edge b admitted %d past the global limit", admittedAtB)
	}
}
