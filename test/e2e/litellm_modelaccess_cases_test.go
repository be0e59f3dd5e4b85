package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testutil"
)

// TestLiteLLMModelAccessCases runs through an edge the model-access cases
// of BerriAI/litellm tests/test_litellm/proxy/auth/ that need a real
// request: fallbacks across models a key may or may not call
// (test_fallback_model_access.py, test_router_override_fallback_auth.py,
// get_fallback_model_group's "*" entry), nested access groups
// (test_nested_access_groups.py) and the access groups /v1/models adds
// (test_model_checks.py). The unit rows are policy's
// litellm_modelaccess_cases_test.go.
func TestLiteLLMModelAccessCases(t *testing.T) {
	down := serveMock(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":{"message":"upstream is down","type":"server_error"}}`, http.StatusInternalServerError)
	}))
	sys := startSystem(t, fmt.Sprintf(`
general_settings:
  master_key: os.environ/MASTER_KEY
model_list:
  - model_name: open-model
    litellm_params: {model: mock/open}
    model_info: {access_groups: [open-group]}
  - model_name: secret-model
    litellm_params: {model: mock/secret}
    model_info: {access_groups: [secret-group]}
  - model_name: down-model
    litellm_params: {model: openai/down, api_base: "http://%[1]s/v1", api_key: upstream-key}
    model_info: {access_groups: [open-group]}
  - model_name: down-generic
    litellm_params: {model: openai/down, api_base: "http://%[1]s/v1", api_key: upstream-key}
    model_info: {access_groups: [open-group]}
router_settings:
  num_retries: 0
  fallbacks: [{"down-model": ["secret-model"]}, {"*": ["open-model"]}]
`, down), 1)
	e, ctl := sys.edges[0], sys.control

	// chatFB posts a chat completion with fallbacks and answers the status
	// and the model group that answered.
	chatFB := func(t *testing.T, key, model string, fallbacks any) (int, string, string) {
		t.Helper()
		body := chat(model)
		if fallbacks != nil {
			body["fallbacks"] = fallbacks
		}
		resp, raw, err := testutil.Do(client, "POST", e.url("/v1/chat/completions"), key, body, nil)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("x-litellm-model-group"), string(raw)
	}
	openKey := generateKey(t, e, map[string]any{"models": []string{"open-group"}})

	t.Run("test_is_model_authorized_for_token_follows_the_key_access_groups", func(t *testing.T) {
		expectChat(t, e, openKey, "open-model", 200, "")
		expectChat(t, e, openKey, "secret-model", 403, "key_model_access_denied")
	})
	// router_settings fallbacks are the operator's and are not checked
	// against the caller, LiteLLM's default (enforce_fallback_model_access
	// off).
	t.Run("test_check_allows_every_fallback_while_not_enforced", func(t *testing.T) {
		if code, group, raw := chatFB(t, openKey, "down-model", nil); code != 200 || group != "secret-model" {
			t.Fatalf("down-model: %d from %q: %s", code, group, raw)
		}
	})
	t.Run("test_wildcard_and_specific_fallbacks", func(t *testing.T) {
		if code, group, raw := chatFB(t, openKey, "down-generic", nil); code != 200 || group != "open-model" {
			t.Fatalf("down-generic: %d from %q: %s", code, group, raw)
		}
	})
	// A request's own fallbacks: every name must pass the key's check.
	for _, c := range []struct {
		name      string
		fallbacks any
		code      int
		group     string
	}{
		{"test_router_override_fallbacks_validated_against_key_allowlist", []any{map[string]any{"down-model": []string{"secret-model"}}}, 403, ""},
		{"test_top_level_fallback_fields_validated[fallbacks] (allowed)", []any{map[string]any{"down-model": []string{"open-model"}}}, 200, "open-model"},
		{"test_fallback_model_names_router_config_shape (another group's list)", []any{map[string]any{"down-model": []string{"open-model"}}, map[string]any{"gpt-4o": []string{"secret-model"}}}, 403, ""},
		{"test_nested_deployment_fallback_inner_model_validated", []any{map[string]any{"down-model": []any{map[string]any{"model": "open-model", "fallbacks": []any{map[string]any{"open-model": []string{"secret-model"}}}}}}}, 403, ""},
		{"test_fallback_model_names_client_side_shape", []any{map[string]any{"model": "open-model"}}, 200, "open-model"},
		{"test_fallback_model_names_simple_string_shape", []string{"secret-model"}, 403, ""},
		// A router-config list without this group's entry replaces the
		// router's fallbacks with none: down-model's failure is the answer.
		{"test_router_override_without_fallbacks_does_not_break_auth", []any{map[string]any{"other": []string{"open-model"}}}, 502, ""},
		{"test_model_less_fallback_dict_is_skipped_never_passed_as_none (400 here)", []any{map[string]any{"down-model": []any{map[string]any{"api_base": "http://attacker"}}}}, 400, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, group, raw := chatFB(t, openKey, "down-model", c.fallbacks)
			if code != c.code || (c.group != "" && group != c.group) {
				t.Fatalf("%d from %q, want %d from %q: %s", code, group, c.code, c.group, raw)
			}
		})
	}

	// Nested access groups: project-x holds open-group.
	for _, g := range []map[string]any{
		{"access_group_id": "image", "models": []string{"open-group"}},
		{"access_group_id": "project-x", "models": []string{"image"}},
	} {
		if code := call(t, "POST", ctl.url("/access_group/new"), masterKey, g, nil); code != 200 {
			t.Fatalf("/access_group/new %v: %d", g, code)
		}
	}
	nestedKey := generateKey(t, e, map[string]any{"models": []string{"project-x"}})
	t.Run("test_resolve_single_level_nested_group", func(t *testing.T) {
		testutil.Eventually(t, 10*time.Second, func() error {
			if code := postChat(e, nestedKey, "open-model"); code != 200 {
				return fmt.Errorf("open-model: %d", code)
			}
			return nil
		})
		expectChat(t, e, nestedKey, "secret-model", 403, "key_model_access_denied")
	})
	groupsOf := func(t *testing.T, key, query string) []string {
		t.Helper()
		var out struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if code := call(t, "GET", e.url("/v1/models?"+query), key, nil, &out); code != 200 {
			t.Fatalf("/v1/models?%s: %d", query, code)
		}
		var ids []string
		for _, d := range out.Data {
			ids = append(ids, d.ID)
		}
		slices.Sort(ids)
		return ids
	}
	t.Run("test_include_model_access_groups_keeps_parent_name", func(t *testing.T) {
		got := groupsOf(t, nestedKey, "include_model_access_groups=True")
		for _, want := range []string{"open-model", "project-x"} {
			if !slices.Contains(got, want) {
				t.Errorf("listed %v, want %s in it", got, want)
			}
		}
		if slices.Contains(got, "secret-model") || slices.Contains(got, "secret-group") {
			t.Errorf("listed %v: secret-model's group is not held", got)
		}
	})
	t.Run("test_get_key_models_all_proxy_models_includes_access_groups", func(t *testing.T) {
		allKey := generateKey(t, e, map[string]any{"models": []string{"all-proxy-models"}})
		got := groupsOf(t, allKey, "include_model_access_groups=True")
		for _, want := range []string{"open-group", "secret-group", "open-model", "secret-model"} {
			if !slices.Contains(got, want) {
				t.Errorf("listed %v, want %s in it", got, want)
			}
		}
		if slices.Contains(got, "all-proxy-models") {
			t.Errorf("listed %v: the sentinel is never listed", got)
		}
	})
	t.Run("test_get_key_models_passes_include_model_access_groups", func(t *testing.T) {
		got := groupsOf(t, openKey, "include_model_access_groups=True")
		if !slices.Contains(got, "open-group") || !slices.Contains(got, "open-model") {
			t.Errorf("listed %v", got)
		}
	})
}
