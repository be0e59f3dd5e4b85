package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testutil"
)

// keygenCasesConfig stands in for the router of LiteLLM's
// test_key_generate_prisma.py: its model names, served by the mock, with
// the beta-models access group of test_team_access_groups.
const keygenCasesConfig = `
general_settings:
  master_key: os.environ/MASTER_KEY
model_list:
  - model_name: mistral
    litellm_params: {model: mock/mistral}
    model_info: {input_cost_per_token: 0.00003, output_cost_per_token: 0.00006}
  - model_name: gpt-4
    litellm_params: {model: mock/gpt-4}
  - model_name: gpt-4o
    litellm_params: {model: mock/gpt-4o}
    model_info: {access_groups: [beta-models]}
  - model_name: gemini-pro-vision
    litellm_params: {model: mock/gemini-pro-vision}
    model_info: {access_groups: [beta-models]}
  - model_name: text-embedding-ada-002
    litellm_params: {model: mock/text-embedding-ada-002}
    model_info: {mode: embedding}
`

// TestLiteLLMKeygenCases ports the LLM-route half of LiteLLM's
// tests/proxy_unit_tests/test_key_generate_prisma.py: where LiteLLM calls
// user_api_key_auth with a route and a body, each subtest sends that
// request to an edge and asserts what the LiteLLM test asserts. The
// admin-only half and the list of cases not ported are
// control/api/litellm_keygen_cases_test.go; the over-budget texts are in
// litellm_llm_cases_test.go.
func TestLiteLLMKeygenCases(t *testing.T) {
	sys := startSystem(t, keygenCasesConfig, 1)
	e := sys.edges[0]
	ok := func(t *testing.T, path, key string, body any) map[string]any {
		t.Helper()
		code, raw := callRaw(t, "POST", e.url(path), key, body)
		if code != 200 {
			t.Fatalf("POST %s %v: %d %s", path, body, code, raw)
		}
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return out
	}
	chat := func(model string) map[string]any {
		return map[string]any{"model": model, "messages": []map[string]string{{"role": "user", "content": "this is my new test. respond in 50 lines"}}}
	}
	userKey := func(t *testing.T, body map[string]any) string {
		t.Helper()
		return ok(t, "/user/new", masterKey, body)["key"].(string)
	}
	// refusedOnce waits for key's next chat call to be refused (spend
	// reaches the edge asynchronously, as in LiteLLM, whose tests sleep).
	refusedOnce := func(t *testing.T, key, model string, status int, text string) {
		t.Helper()
		testutil.Eventually(t, 10*time.Second, func() error {
			code, raw := callRaw(t, "POST", e.url("/chat/completions"), key, chat(model))
			if code == 200 {
				return fmt.Errorf("still served")
			}
			expectErrorParts(t, "refusal", code, raw, status, "", text)
			return nil
		})
	}
	stream := func(t *testing.T, key, model string) {
		t.Helper()
		body := chat(model)
		body["stream"] = true
		if code, raw := callRaw(t, "POST", e.url("/chat/completions"), key, body); code != 200 {
			t.Fatalf("stream: %d %s", code, raw)
		}
	}

	// test_generate_and_call_with_valid_key: a new internal user's key
	// passes auth on every LLM route gatehouse serves.
	for _, route := range []struct{ method, path string }{
		{"POST", "/openai/deployments/mistral/chat/completions"}, {"POST", "/chat/completions"}, {"POST", "/v1/chat/completions"},
		{"POST", "/completions"}, {"POST", "/v1/completions"}, {"POST", "/openai/deployments/mistral/completions"},
		{"POST", "/v1/embeddings"}, {"POST", "/embeddings"}, {"POST", "/openai/deployments/text-embedding-ada-002/embeddings"},
		{"GET", "/v1/models"}, {"GET", "/models"},
	} {
		t.Run("test_generate_and_call_with_valid_key["+route.path+"]", func(t *testing.T) {
			key := userKey(t, map[string]any{"user_role": "internal_user"})
			var body any
			switch {
			case strings.HasSuffix(route.path, "chat/completions"):
				body = chat("mistral")
			case strings.HasSuffix(route.path, "completions"):
				body = map[string]any{"model": "mistral", "prompt": "hi"}
			case strings.HasSuffix(route.path, "embeddings"):
				body = map[string]any{"model": "text-embedding-ada-002", "input": "hi"}
			}
			if code, raw := callRaw(t, route.method, e.url(route.path), key, body); code != 200 {
				t.Fatalf("%s %s: %d %s", route.method, route.path, code, raw)
			}
		})
	}
	for _, p := range []string{"/engines/{model}/chat/completions", "/engines/{model}/completions", "/v1/images/generations", "/images/generations",
		"/v1/audio/transcriptions", "/audio/transcriptions", "/v1/moderations", "/moderations", "/v1/threads/thread_49EIN5QF32s4mH20M7GFKdlZ"} {
		t.Run("test_generate_and_call_with_valid_key["+p+"]", func(t *testing.T) {
			t.Skip("a route gatehouse does not serve (README, Endpoints)")
		})
	}

	t.Run("test_call_with_invalid_key", func(t *testing.T) {
		code, raw := callRaw(t, "POST", e.url("/chat/completions"), "sk-126666", chat("mistral"))
		expectErrorParts(t, "unknown key", code, raw, 401, "", "Authentication Error, Invalid proxy server token passed")
	})

	t.Run("test_call_with_invalid_model", func(t *testing.T) {
		key := userKey(t, map[string]any{"models": []string{"mistral"}})
		code, raw := callRaw(t, "POST", e.url("/chat/completions"), key, chat("gemini-pro-vision"))
		expectErrorParts(t, "model outside the key's", code, raw, 403, "model")
		if !strings.Contains(string(raw), `"key_model_access_denied"`) {
			t.Errorf("type: %s", raw)
		}
	})

	t.Run("test_call_with_valid_model", func(t *testing.T) {
		ok(t, "/chat/completions", userKey(t, map[string]any{"models": []string{"mistral"}}), chat("mistral"))
	})

	t.Run("test_call_with_valid_model_using_all_models", func(t *testing.T) {
		team := ok(t, "/team/new", masterKey, map[string]any{"team_alias": "testing-team", "models": []string{"all-proxy-models"}})["team_id"]
		key := generateKey(t, e, map[string]any{"models": []string{"all-team-models"}, "team_id": team})
		ok(t, "/chat/completions", key, chat("mistral"))
	})

	t.Run("test_call_with_user_over_budget_stream", func(t *testing.T) {
		key := userKey(t, map[string]any{"max_budget": 0.00001})
		stream(t, key, "mistral")
		refusedOnce(t, key, "mistral", 400, "ExceededBudget:")
	})

	t.Run("test_call_with_key_over_budget_stream", func(t *testing.T) {
		key := generateKey(t, e, map[string]any{"max_budget": 0.00001})
		stream(t, key, "mistral")
		refusedOnce(t, key, "mistral", 400, "Budget has been exceeded")
	})

	t.Run("test_call_with_key_never_over_budget", func(t *testing.T) {
		key := generateKey(t, e, map[string]any{"max_budget": nil})
		for range 3 {
			ok(t, "/chat/completions", key, chat("mistral"))
		}
	})

	t.Run("test_generate_and_call_with_valid_key_never_expires", func(t *testing.T) {
		ok(t, "/chat/completions", userKey(t, map[string]any{"duration": nil}), chat("mistral"))
	})

	t.Run("test_generate_and_call_with_expired_key", func(t *testing.T) {
		key := userKey(t, map[string]any{"duration": "0s"})
		code, raw := callRaw(t, "POST", e.url("/chat/completions"), key, chat("mistral"))
		// Different on purpose: 401, not LiteLLM's 400 (README, Model access).
		expectErrorParts(t, "expired key", code, raw, 401, "", "Authentication Error")
		if !strings.Contains(string(raw), `"expired_key"`) {
			t.Errorf("type: %s", raw)
		}
	})

	t.Run("test_delete_key_auth", func(t *testing.T) {
		key := userKey(t, map[string]any{})
		if out := ok(t, "/key/delete", masterKey, map[string]any{"keys": []string{key}}); fmt.Sprint(out["deleted_keys"]) != fmt.Sprint([]any{key}) {
			t.Fatalf("/key/delete: %v", out)
		}
		code, raw := callRaw(t, "POST", e.url("/chat/completions"), key, chat("mistral"))
		expectErrorParts(t, "deleted key", code, raw, 401, "", "Authentication Error")
	})

	t.Run("test_user_api_key_auth", func(t *testing.T) {
		code, raw := callRaw(t, "POST", e.url("/chat/completions"), "", chat("mistral"))
		expectErrorParts(t, "no key", code, raw, 401, "", "Authentication Error, No api key passed in.")
		for _, h := range []string{"my_token", ""} {
			code, raw = callRawHeader(t, "POST", e.url("/chat/completions"), "", chat("mistral"), map[string]string{"Authorization": h})
			if h == "" {
				// An empty header is no credential at all.
				expectErrorParts(t, "empty key", code, raw, 401, "", "Authentication Error")
				continue
			}
			expectErrorParts(t, h, code, raw, 401, "", "Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix.")
		}
	})

	t.Run("test_key_with_no_permissions", func(t *testing.T) {
		t.Skip("LiteLLM's test asserts nothing about the call (its except clause only prints), and LiteLLM's model access docs call with a max_budget 0 key and expect an answer, which gatehouse gives (TestSeedModelAccessWalkthroughs): a budget of 0 refuses once something is spent")
		// generate_key_helper_fn with key_max_budget 0: over budget at once.
		key := generateKey(t, e, map[string]any{"duration": "1h", "max_budget": 0, "models": []string{}, "user_id": "ishaan"})
		if code, raw := callRaw(t, "POST", e.url("/chat/completions"), key, chat("mistral")); code == 200 {
			t.Fatalf("a key of max_budget 0 was served: %s", raw)
		}
	})

	t.Run("test_team_access_groups", func(t *testing.T) {
		team := ok(t, "/team/new", masterKey, map[string]any{"team_alias": "testing-team", "models": []string{"beta-models"}})["team_id"]
		key := generateKey(t, e, map[string]any{"team_id": team})
		for _, m := range []string{"gpt-4o", "gemini-pro-vision"} {
			ok(t, "/chat/completions", key, chat(m))
		}
		for _, m := range []string{"gpt-4", "gpt-4o-mini", "gemini-experimental"} {
			code, raw := callRaw(t, "POST", e.url("/chat/completions"), key, chat(m))
			expectErrorParts(t, m, code, raw, 403, "model")
			if !strings.Contains(string(raw), `"team_model_access_denied"`) {
				t.Errorf("%s: type: %s", m, raw)
			}
		}
	})

	t.Run("test_custom_api_key_header_name", func(t *testing.T) {
		t.Skip("general_settings.litellm_key_header_name is not read: credentials come from Authorization, api-key, x-api-key or x-goog-api-key")
	})
}
