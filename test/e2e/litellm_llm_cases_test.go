package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/chtest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// llmCasesConfig stands in for the proxy config LiteLLM's black-box tests
// run against (proxy_server_config.yaml): its model names, served by the
// mock provider with prices, a wildcard, and a model whose upstream is
// down.
func llmCasesConfig(down string) string {
	return fmt.Sprintf(`
general_settings:
  master_key: os.environ/MASTER_KEY
model_list:
  - model_name: gpt-4
    litellm_params: {model: mock/gpt-4}
    model_info: {input_cost_per_token: 0.00003, output_cost_per_token: 0.00006}
  - model_name: gpt-3.5-turbo
    litellm_params: {model: mock/gpt-3.5-turbo}
    model_info: {input_cost_per_token: 0.0000015, output_cost_per_token: 0.000002}
  - model_name: gpt-instruct
    litellm_params: {model: mock/gpt-instruct}
  - model_name: fake-openai-endpoint
    litellm_params: {model: mock/fake-openai-endpoint}
  - model_name: good-model
    litellm_params: {model: mock/good-model}
  - model_name: text-embedding-ada-002
    litellm_params: {model: mock/text-embedding-ada-002}
    model_info: {mode: embedding}
  - model_name: mistral-embed
    litellm_params: {model: mock/mistral-embed}
    model_info: {mode: embedding}
  - model_name: anthropic/*
    litellm_params: {model: anthropic/*, mock_response: "hello from claude"}
  - model_name: bad-model
    litellm_params: {model: openai/bad-model, api_base: "http://%s/v1", api_key: upstream-key}
router_settings:
  num_retries: 0
`, down)
}

// lreq is LiteLLM's test body for /chat/completions.
func lreq(model string) map[string]any {
	return map[string]any{"model": model, "messages": []map[string]string{
		{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Hello!"}}}
}

// TestLiteLLMLLMCases ports the LLM-route parts of LiteLLM's black-box
// proxy tests (tests/test_keys.py, test_team.py, test_users.py,
// test_end_users.py, test_openai_endpoints.py, test_models.py,
// test_fallbacks.py, and the over-budget texts of
// proxy_unit_tests/test_key_generate_prisma.py): each subtest is named after the LiteLLM test, makes
// its calls through an edge and asserts what it asserts. Models and prices
// are the mock's (llmCasesConfig); the admin-only parts are
// control/api/litellm_cases_test.go.
func TestLiteLLMLLMCases(t *testing.T) {
	down := serveMock(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":{"message":"upstream is down","type":"server_error"}}`, http.StatusInternalServerError)
	}))
	sys := startSystem(t, llmCasesConfig(down), 1)
	e, ctl := sys.edges[0], sys.control

	post := func(t *testing.T, path, key string, body any) (int, map[string]any, []byte) {
		t.Helper()
		code, raw := callRaw(t, "POST", e.url(path), key, body)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return code, out, raw
	}
	ok := func(t *testing.T, path, key string, body any) map[string]any {
		t.Helper()
		code, out, raw := post(t, path, key, body)
		if code != 200 {
			t.Fatalf("POST %s %v: %d %s", path, body, code, raw)
		}
		return out
	}
	// genKey sends test_keys.py's generate_key body with extra's fields.
	genKey := func(t *testing.T, extra map[string]any) string {
		t.Helper()
		body := map[string]any{"models": []string{"azure-models", "gpt-4", "dall-e-3"}, "aliases": map[string]string{"mistral-7b": "gpt-3.5-turbo"},
			"duration": nil, "max_budget": nil, "budget_duration": nil, "max_parallel_requests": nil, "user_id": nil, "team_id": nil, "metadata": nil}
		for k, v := range extra {
			body[k] = v
		}
		return generateKey(t, e, body)
	}
	// chatOK is LiteLLM's chat_completion helper: anything but 200 fails.
	chatOK := func(t *testing.T, key, model string) map[string]any {
		t.Helper()
		return ok(t, "/chat/completions", key, lreq(model))
	}
	// newUser sends test_users.py's new_user body; it answers the user's key.
	newUser := func(t *testing.T, userID string, models []string, extra map[string]any) string {
		t.Helper()
		body := map[string]any{"models": models, "aliases": map[string]string{"mistral-7b": "gpt-3.5-turbo"}, "duration": nil, "max_budget": nil, "budget_duration": nil}
		if userID != "" {
			body["user_id"] = userID
		}
		for k, v := range extra {
			body[k] = v
		}
		out := ok(t, "/user/new", masterKey, body)
		k, _ := out["key"].(string)
		if !strings.HasPrefix(k, "sk-") {
			t.Fatalf("/user/new answered no key: %v", out)
		}
		return k
	}
	// overBudget polls until key's next call is refused for its budget,
	// with LiteLLM's text; the spend of the call before reaches the edge
	// asynchronously, as in LiteLLM (whose tests sleep for it).
	overBudget := func(t *testing.T, key, model, text string) {
		t.Helper()
		testutil.Eventually(t, 10*time.Second, func() error {
			code, raw := callRaw(t, "POST", e.url("/chat/completions"), key, lreq(model))
			if code == 200 {
				return fmt.Errorf("still served")
			}
			expectErrorParts(t, "call over budget", code, raw, 400, "", text)
			return nil
		})
	}

	// tests/test_keys.py
	t.Run("test_keys/test_key_update", func(t *testing.T) {
		key := genKey(t, map[string]any{"metadata": map[string]any{"test": "test"}})
		ok(t, "/key/update", masterKey, map[string]any{"key": key, "models": []string{"gpt-4"}, "duration": "120s"})
		// update_proxy_budget (/user/update of litellm-proxy-budget) is left
		// out: that user is LiteLLM's proxy-wide max_budget, which
		// gatehouse refuses (README, LiteLLM config).
		chatOK(t, key, "gpt-4")
	})

	t.Run("test_keys/test_key_info_spend_values", func(t *testing.T) {
		key := genKey(t, nil)
		out := chatOK(t, key, "gpt-4")
		u, _ := out["usage"].(map[string]any)
		prompt, _ := u["prompt_tokens"].(float64)
		completion, _ := u["completion_tokens"].(float64)
		want := prompt*0.00003 + completion*0.00006
		if want == 0 {
			t.Fatalf("no usage: %v", out)
		}
		testutil.Eventually(t, 10*time.Second, func() error {
			// As the key itself, as LiteLLM's test asks.
			var info struct {
				Info struct {
					Spend float64 `json:"spend"`
				} `json:"info"`
			}
			if code := call(t, "GET", e.url("/key/info?key="+key), key, nil, &info); code != 200 {
				return fmt.Errorf("/key/info: %d", code)
			}
			if math.Round(info.Info.Spend*1e8) != math.Round(want*1e8) {
				return fmt.Errorf("key spend %v, want %v", info.Info.Spend, want)
			}
			return nil
		})
	})

	t.Run("test_keys/test_aaaaakey_info_spend_values_streaming", func(t *testing.T) {
		key := genKey(t, nil)
		body := lreq("gpt-4")
		body["stream"] = true
		body["stream_options"] = map[string]any{"include_usage": true}
		code, raw := callRaw(t, "POST", e.url("/chat/completions"), key, body)
		if code != 200 {
			t.Fatalf("stream: %d %s", code, raw)
		}
		var want float64
		for _, line := range strings.Split(string(raw), "\n") {
			var c struct {
				Usage *struct {
					Prompt     float64 `json:"prompt_tokens"`
					Completion float64 `json:"completion_tokens"`
				} `json:"usage"`
			}
			if d, isData := strings.CutPrefix(line, "data: "); isData && json.Unmarshal([]byte(d), &c) == nil && c.Usage != nil {
				want = c.Usage.Prompt*0.00003 + c.Usage.Completion*0.00006
			}
		}
		if want == 0 {
			t.Fatalf("stream carried no usage: %s", raw)
		}
		testutil.Eventually(t, 10*time.Second, func() error {
			if got := keySpend(t, ctl, key); math.Round(got*1e8) != math.Round(want*1e8) {
				return fmt.Errorf("key spend %v, want %v", got, want)
			}
			return nil
		})
	})

	t.Run("test_keys/test_key_crossing_budget", func(t *testing.T) {
		key := genKey(t, map[string]any{"max_budget": 0.0000001})
		chatOK(t, key, "gpt-4")
		overBudget(t, key, "gpt-4", "Budget has been exceeded!")
	})

	t.Run("test_keys/test_key_rate_limit", func(t *testing.T) {
		key := genKey(t, map[string]any{"max_parallel_requests": 0})
		if code, _, raw := post(t, "/chat/completions", key, lreq("gpt-4")); code != 429 || !strings.Contains(string(raw), "Max parallel request limit reached") {
			t.Fatalf("max_parallel_requests 0: %d %s", code, raw)
		}
		key = genKey(t, map[string]any{"max_parallel_requests": 1})
		chatOK(t, key, "gpt-4")
	})

	for _, level := range []string{"key", "team"} {
		for _, access := range []string{"all-team-models", "gpt-3.5-turbo"} {
			t.Run(fmt.Sprintf("test_keys/test_key_model_list[/v1/models-%s-%s]", level, access), func(t *testing.T) {
				models := []string{}
				if access != "all-team-models" {
					models = []string{access}
				}
				team := map[string]any{"team_id": fmt.Sprintf("litellm_dashboard_%s_%s", level, access), "models": nil}
				keyModels := []string{}
				if level == "team" {
					team["models"] = models
				} else {
					keyModels = models
				}
				ok(t, "/team/new", masterKey, team)
				key := genKey(t, map[string]any{"team_id": team["team_id"], "models": keyModels})
				ids := modelIDs(t, e, key)
				if len(ids) == 0 {
					t.Fatalf("no models listed")
				}
				if access == "gpt-3.5-turbo" && (len(ids) != 1 || ids[0] != access) {
					t.Fatalf("/v1/models: %v, want [%s]", ids, access)
				}
			})
		}
	}

	t.Run("test_keys/test_key_user_not_in_db", func(t *testing.T) {
		key := genKey(t, map[string]any{"user_id": "user-never-created-2f1c"})
		chatOK(t, key, "gpt-4")
	})

	t.Run("test_keys/test_key_over_budget", func(t *testing.T) {
		key := genKey(t, map[string]any{"max_budget": 0.0000001})
		chatOK(t, key, "gpt-4")
		if code, raw := callRaw(t, "GET", e.url("/key/info?key="+key), key, nil); code != 200 {
			t.Fatalf("/key/info of a key over budget: %d %s", code, raw)
		}
		overBudget(t, key, "gpt-4", "Budget has been exceeded!")
	})

	// tests/proxy_unit_tests/test_key_generate_prisma.py: LiteLLM's texts
	// per object ("ExceededBudget:" for users and end users, "Budget has
	// been exceeded! ... Current cost: X, Max budget: Y" for the others),
	// which clients parse.
	t.Run("test_key_generate_prisma/test_call_with_user_over_budget", func(t *testing.T) {
		ok(t, "/user/new", masterKey, map[string]any{"user_id": "user-over-budget-7a1", "max_budget": 0.0000001})
		key := genKey(t, map[string]any{"user_id": "user-over-budget-7a1"})
		chatOK(t, key, "gpt-4")
		overBudget(t, key, "gpt-4", "ExceededBudget: User=user-over-budget-7a1 over budget. Spend=")
	})
	t.Run("test_key_generate_prisma/test_call_with_end_user_over_budget", func(t *testing.T) {
		ok(t, "/end_user/new", masterKey, map[string]any{"user_id": "end-user-over-budget-7a1", "max_budget": 0.0000001})
		key := genKey(t, nil)
		body := lreq("gpt-4")
		body["user"] = "end-user-over-budget-7a1"
		if code, _, raw := post(t, "/chat/completions", key, body); code != 200 {
			t.Fatalf("first call: %d %s", code, raw)
		}
		testutil.Eventually(t, 10*time.Second, func() error {
			code, raw := callRaw(t, "POST", e.url("/chat/completions"), key, body)
			if code == 200 {
				return fmt.Errorf("still served")
			}
			expectErrorParts(t, "end user over budget", code, raw, 400, "", "ExceededBudget: End User=end-user-over-budget-7a1 over budget")
			return nil
		})
	})
	t.Run("test_key_generate_prisma/test_call_with_key_over_budget", func(t *testing.T) {
		key := genKey(t, map[string]any{"max_budget": 0.0000001})
		chatOK(t, key, "gpt-4")
		overBudget(t, key, "gpt-4", "Budget has been exceeded! Current cost: ")
	})

	// tests/test_team.py
	t.Run("test_team/test_team_delete", func(t *testing.T) {
		admin, user := "team-delete-admin", "team-delete-user"
		newUser(t, admin, []string{"azure-models"}, nil)
		newUser(t, user, []string{"azure-models"}, nil)
		team := ok(t, "/team/new", masterKey, map[string]any{"team_alias": "my-new-team", "members_with_roles": []map[string]string{
			{"role": "admin", "user_id": admin}, {"role": "user", "user_id": user}}})
		key := generateKey(t, e, map[string]any{"models": []string{"azure-models", "gpt-4", "dall-e-3"}, "duration": nil, "max_budget": nil,
			"budget_duration": nil, "team_id": team["team_id"]})
		chatOK(t, key, "gpt-4")
		ok(t, "/team/delete", masterKey, map[string]any{"team_ids": []any{team["team_id"]}})
	})

	t.Run("test_team/test_team_alias", func(t *testing.T) {
		admin, user := "team-alias-admin", "team-alias-user"
		newUser(t, admin, []string{"azure-models"}, nil)
		newUser(t, user, []string{"azure-models"}, nil)
		team := ok(t, "/team/new", masterKey, map[string]any{"team_alias": "my-new-team", "members_with_roles": []map[string]string{
			{"role": "admin", "user_id": admin}, {"role": "user", "user_id": user}}, "model_aliases": map[string]string{"cheap-model": "gpt-3.5-turbo"}})
		key := generateKey(t, e, map[string]any{"models": []string{"gpt-3.5-turbo"}, "duration": nil, "max_budget": nil,
			"budget_duration": nil, "team_id": team["team_id"]})
		out := chatOK(t, key, "cheap-model")
		if out["model"] != "gpt-3.5-turbo" {
			t.Errorf("cheap-model answered by %v, want the alias's target gpt-3.5-turbo", out["model"])
		}
	})

	// tests/test_users.py
	t.Run("test_users/test_user_model_access", func(t *testing.T) {
		user := "krrish_model_access@berri.ai"
		newUser(t, user, []string{"good-model", "anthropic/*"}, nil)
		key := genKey(t, map[string]any{"user_id": user, "models": []string{}})
		chatOK(t, key, "anthropic/claude-3-5-haiku-20241022")
		chatOK(t, key, "good-model")
		// LiteLLM's test expects openai.AuthenticationError (its older
		// 401); the refusal is user_model_access_denied either way.
		for _, m := range []string{"bedrock/anthropic.claude-3-sonnet-20240229-v1:0", "groq/claude-3-5-haiku-20241022"} {
			code, raw := callRaw(t, "POST", e.url("/chat/completions"), key, lreq(m))
			expectErrorParts(t, m, code, raw, 403, "", "not allowed to access model")
		}
	})

	// tests/test_end_users.py
	t.Run("test_end_users/test_enduser_tpm_limits_non_master_key", func(t *testing.T) {
		// LiteLLM links a /budget/new row with tpm_limit 2 (budget_id is
		// refused here); the limit is set on the end user itself.
		ok(t, "/end_user/new", masterKey, map[string]any{"user_id": "tpm-end-user-1", "allowed_model_region": nil, "default_model": nil, "tpm_limit": 2})
		key := genKey(t, map[string]any{"models": []string{}})
		passed := 0
		for range 10 {
			body := map[string]any{"model": "fake-openai-endpoint", "messages": []map[string]string{{"role": "user", "content": "Hey!"}}, "user": "tpm-end-user-1"}
			if code, _, _ := post(t, "/chat/completions", key, body); code == 200 {
				passed++
			}
		}
		if passed >= 5 {
			t.Fatalf("%d of 10 requests passed for an end user with tpm_limit 2, want fewer than 5", passed)
		}
	})

	t.Run("test_end_users/test_enduser_tpm_limits_with_master_key", func(t *testing.T) {
		ok(t, "/end_user/new", masterKey, map[string]any{"user_id": "tpm-end-user-2", "allowed_model_region": nil, "default_model": nil, "tpm_limit": 2})
		passed := 0
		for range 10 {
			body := map[string]any{"model": "fake-openai-endpoint", "messages": []map[string]string{{"role": "user", "content": "Hey!"}}, "user": "tpm-end-user-2"}
			if code, _, _ := post(t, "/chat/completions", masterKey, body); code == 200 {
				passed++
			}
		}
		if passed >= 5 {
			t.Fatalf("%d of 10 requests passed for an end user with tpm_limit 2, want fewer than 5", passed)
		}
	})

	// tests/test_openai_endpoints.py
	t.Run("test_openai_endpoints/test_chat_completion", func(t *testing.T) {
		key := generateKey(t, e, map[string]any{"models": []string{"gpt-3.5-turbo"}, "duration": nil})
		// AsyncAzureOpenAI with azure_deployment="random-model": the path
		// names the model.
		code, raw := callRaw(t, "POST", e.url("/openai/deployments/random-model/chat/completions?api-version=2024-02-15-preview"), key,
			map[string]any{"model": "gpt-4", "messages": []map[string]string{{"role": "user", "content": "Hello!"}}})
		expectErrorParts(t, "azure deployment the key may not call", code, raw, 403, "", "key not allowed to access model.")
	})

	t.Run("test_openai_endpoints/test_completion_streaming_usage_metrics", func(t *testing.T) {
		code, raw := callRaw(t, "POST", e.url("/completions"), masterKey, map[string]any{"model": "gpt-instruct", "prompt": "hey", "stream": true,
			"stream_options": map[string]any{"include_usage": true}, "max_tokens": 4, "temperature": 0.00000001})
		if code != 200 {
			t.Fatalf("%d %s", code, raw)
		}
		var last string
		for _, line := range strings.Split(string(raw), "\n") {
			if d, isData := strings.CutPrefix(line, "data: "); isData && d != "[DONE]" {
				last = d
			}
		}
		var u struct {
			Usage *struct {
				Prompt     int `json:"prompt_tokens"`
				Completion int `json:"completion_tokens"`
				Total      int `json:"total_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(last), &u); err != nil || u.Usage == nil || u.Usage.Prompt <= 0 || u.Usage.Completion <= 0 || u.Usage.Total <= 0 {
			t.Fatalf("last chunk %q lacks usage (%v)", last, err)
		}
	})

	t.Run("test_openai_endpoints/test_completion", func(t *testing.T) {
		key := generateKey(t, e, map[string]any{"models": []string{"gpt-4", "text-embedding-ada-002", "dall-e-2", "fake-openai-endpoint-2", "mistral-embed"}, "duration": nil})
		ok(t, "/completions", key, map[string]any{"model": "gpt-4", "prompt": "Hello!"})
		out := ok(t, "/user/new", masterKey, map[string]any{"models": []string{"gpt-4", "text-embedding-ada-002", "dall-e-2"}, "duration": nil})
		ok(t, "/completions", out["key"].(string), map[string]any{"model": "gpt-4", "prompt": "Say this is a test", "max_tokens": 7, "temperature": 0})
	})

	t.Run("test_openai_endpoints/test_embeddings", func(t *testing.T) {
		key := generateKey(t, e, map[string]any{"models": []string{"gpt-4", "text-embedding-ada-002", "dall-e-2", "fake-openai-endpoint-2", "mistral-embed"}, "duration": nil})
		ok(t, "/embeddings", key, map[string]any{"model": "text-embedding-ada-002", "input": []string{"hello world"}})
		out := ok(t, "/user/new", masterKey, map[string]any{"models": []string{"gpt-4", "text-embedding-ada-002", "dall-e-2"}, "duration": nil})
		ok(t, "/embeddings", out["key"].(string), map[string]any{"model": "text-embedding-ada-002", "input": []string{"hello world"}})
		ok(t, "/embeddings", key, map[string]any{"model": "mistral-embed", "input": []string{"hello world"}})
	})

	t.Run("test_openai_endpoints/test_openai_wildcard_chat_completion", func(t *testing.T) {
		key := generateKey(t, e, map[string]any{"models": []string{"*"}, "duration": nil})
		// Not on the config by this name: the anthropic/* wildcard serves
		// it (LiteLLM's config has a */* deployment).
		chatOK(t, key, "anthropic/claude-3-5-haiku-20241022")
	})

	t.Run("test_openai_endpoints/test_proxy_all_models", func(t *testing.T) {
		chatOK(t, masterKey, "anthropic/claude-sonnet-4-5-20250929")
	})

	// tests/test_models.py
	t.Run("test_models/test_get_models_multiple_tests", func(t *testing.T) {
		key := generateKey(t, e, map[string]any{"models": []string{}, "duration": nil})
		if ids := modelIDs(t, e, key); len(ids) == 0 {
			t.Fatal("/models lists nothing")
		}
		// The only_model_access_groups=True half is not ported: /v1/models
		// does not take that parameter yet and lists every model.
	})

	t.Run("test_models/test_add_and_delete_models", func(t *testing.T) {
		key := generateKey(t, e, map[string]any{"models": []string{}, "duration": nil})
		name, id := "added-model-7d1e", "12345_added-model-7d1e"
		out := ok(t, "/model/new", masterKey, map[string]any{"model_name": name, "litellm_params": map[string]any{"model": "mock/gpt-4.1-nano"},
			"model_info": map[string]any{"id": id}})
		if out["model_id"] != id {
			t.Errorf("/model/new model_id %v, want %s", out["model_id"], id)
		}
		testutil.Eventually(t, 10*time.Second, func() error {
			if code, _, raw := post(t, "/chat/completions", key, lreq(name)); code != 200 {
				return fmt.Errorf("new model: %d %s", code, raw)
			}
			return nil
		})
		ok(t, "/model/delete", masterKey, map[string]any{"id": id})
		testutil.Eventually(t, 10*time.Second, func() error {
			if code, _, _ := post(t, "/chat/completions", key, lreq(name)); code == 200 {
				return fmt.Errorf("deleted model still served")
			}
			return nil
		})
	})

	// tests/test_fallbacks.py
	for _, hasAccess := range []bool{true, false} {
		for _, custom := range []bool{false, true} {
			name := "test_fallbacks/test_chat_completion_client_fallbacks"
			if custom {
				name += "_with_custom_message"
			}
			t.Run(fmt.Sprintf("%s[%v]", name, hasAccess), func(t *testing.T) {
				models := []string{"gpt-3.5-turbo"}
				if hasAccess {
					models = append(models, "gpt-instruct")
				}
				key := generateKey(t, e, map[string]any{"models": models})
				var fallback any = "gpt-instruct"
				if custom {
					fallback = map[string]any{"model": "gpt-instruct", "messages": []map[string]string{{"role": "assistant", "content": "This is a custom message"}}}
				}
				body := map[string]any{"model": "gpt-3.5-turbo", "messages": []map[string]string{{"role": "user", "content": "Who was Alexander?"}},
					"mock_testing_fallbacks": true, "fallbacks": []any{fallback}}
				code, _, raw := post(t, "/chat/completions", key, body)
				if hasAccess != (code == 200) {
					t.Fatalf("has_access=%v: %d %s", hasAccess, code, raw)
				}
			})
		}
	}

	t.Run("test_fallbacks/test_chat_completion_bad_and_good_model", func(t *testing.T) {
		const n = 20
		for range 3 {
			var wg sync.WaitGroup
			for range n {
				wg.Add(1)
				go func() { defer wg.Done(); postChat(e, masterKey, "bad-model") }()
			}
			good := make([]int, n)
			var gwg sync.WaitGroup
			for i := range n {
				gwg.Add(1)
				go func() { defer gwg.Done(); good[i] = postChat(e, masterKey, "good-model") }()
			}
			gwg.Wait()
			wg.Wait()
			for i, code := range good {
				if code != 200 {
					t.Fatalf("good-model request %d: %d while bad-model is down", i, code)
				}
			}
		}
	})
}

// TestLiteLLMSpendLogCases ports tests/test_spend_logs.py: a call's row in
// /spend/logs?request_id=, with the org and team of its key. LiteLLM looks
// the row up by the answer's id, which gatehouse keeps too (response_id,
// TestSpendExactlyOnce finds rows by it); the built-in mock's ids repeat
// for a repeated prompt, so these cases name the row by its
// x-litellm-call-id, gatehouse's row id.
func TestLiteLLMSpendLogCases(t *testing.T) {
	ch := chtest.Start(t)
	ns := testutil.RunJetStream(t)
	ctl, edges := startLedger(t, ns.ClientURL(), ch, llmCasesConfig("127.0.0.1:1"), "litellm_llm_cases")
	e := edges[0]
	// chatID calls gpt-3.5-turbo with key and answers the call's id.
	chatID := func(t *testing.T, key string) string {
		t.Helper()
		body := lreq("gpt-3.5-turbo")
		body["messages"] = []map[string]string{{"role": "user", "content": "Hello! " + t.Name()}}
		resp, raw, err := testutil.Do(client, "POST", e.url("/chat/completions"), key, body, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("chat: %v %s", err, raw)
		}
		return resp.Header.Get("x-litellm-call-id")
	}
	logsOf := func(t *testing.T, id string) []map[string]any {
		t.Helper()
		var rows []map[string]any
		testutil.Eventually(t, 30*time.Second, func() error {
			rows = nil
			if code := call(t, "GET", ctl.url("/spend/logs?request_id="+id), masterKey, nil, &rows); code != 200 {
				return fmt.Errorf("/spend/logs: %d", code)
			}
			if len(rows) == 0 {
				return fmt.Errorf("no row for %s yet", id)
			}
			return nil
		})
		return rows
	}

	t.Run("test_spend_logs/test_spend_logs", func(t *testing.T) {
		key := generateKey(t, e, map[string]any{"models": []string{}, "duration": nil})
		chatID(t, generateKey(t, e, map[string]any{})) // another call, newer rows must not answer for this one
		id := chatID(t, key)
		chatID(t, generateKey(t, e, map[string]any{}))
		if rows := logsOf(t, id); len(rows) != 1 || rows[0]["request_id"] != id {
			t.Fatalf("/spend/logs?request_id=%s: %v", id, rows)
		}
	})

	t.Run("test_spend_logs/test_spend_logs_with_org_id", func(t *testing.T) {
		var org map[string]any
		if code := call(t, "POST", e.url("/organization/new"), masterKey, map[string]any{"organization_alias": "test-org-spend-logs"}, &org); code != 200 {
			t.Fatalf("/organization/new: %d %v", code, org)
		}
		var team map[string]any
		if code := call(t, "POST", e.url("/team/new"), masterKey, map[string]any{"organization_id": org["organization_id"]}, &team); code != 200 {
			t.Fatalf("/team/new: %d %v", code, team)
		}
		key := generateKey(t, e, map[string]any{"models": []string{}, "duration": nil, "team_id": team["team_id"]})
		id := chatID(t, key)
		chatID(t, generateKey(t, e, map[string]any{}))
		row := logsOf(t, id)[0]
		md, _ := row["metadata"].(map[string]any)
		if md["user_api_key_org_id"] != org["organization_id"] || md["user_api_key_team_id"] != team["team_id"] || row["team_id"] != team["team_id"] {
			t.Fatalf("row %v, want org %v and team %v", row, org["organization_id"], team["team_id"])
		}
	})
}
