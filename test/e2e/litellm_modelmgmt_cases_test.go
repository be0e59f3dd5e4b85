package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestLiteLLMModelMgmtE2E runs through an edge the model management cases
// of BerriAI/litellm tests/test_litellm/proxy/management_endpoints/
// test_model_management_endpoints.py whose point is what the proxy then
// serves: LiteLLM's test_update_model_clears_cache_after_db_write guards
// against a written deployment that the router keeps serving stale. The
// unit rows are control/api's litellm_modelmgmt_cases_test.go; rows
// named handler.behaviour check through the edge what that LiteLLM
// handler's write must change in what is served.
func TestLiteLLMModelMgmtE2E(t *testing.T) {
	upstream := func(name string) string {
		return serveMock(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, completionBody("c-"+name, "gpt-4o", "from "+name, 3, 2))
		}))
	}
	first, second := upstream("first"), upstream("second")
	sys := startSystem(t, `
general_settings:
  master_key: os.environ/MASTER_KEY
`, 1)
	e := sys.edges[0]

	// answer is the content of name's chat completion as key, or the
	// status when it is not a 200.
	answer := func(t *testing.T, key, name string) (int, string) {
		t.Helper()
		code, raw := callRaw(t, "POST", e.url("/v1/chat/completions"), key, chat(name))
		var out struct {
			Choices []struct {
				Message struct {
					Content string `json:"content"`
				} `json:"message"`
			} `json:"choices"`
		}
		if code == 200 {
			if err := json.Unmarshal(raw, &out); err != nil || len(out.Choices) == 0 {
				t.Fatalf("not a chat completion: %s", raw)
			}
			return code, out.Choices[0].Message.Content
		}
		return code, string(raw)
	}

	var added struct {
		ModelID string `json:"model_id"`
	}
	if code := call(t, "POST", e.url("/model/new"), masterKey, map[string]any{"model_name": "runtime-model",
		"litellm_params": map[string]any{"model": "openai/gpt-4o", "api_base": "http://" + first + "/v1", "api_key": "sk-up"}}, &added); code != 200 || added.ModelID == "" {
		t.Fatalf("/model/new: %d %+v", code, added)
	}
	key := generateKey(t, e, map[string]any{"models": []string{"runtime-model"}})

	t.Run("add_new_model.serves_through_the_edge", func(t *testing.T) {
		if code, got := answer(t, key, "runtime-model"); code != 200 || got != "from first" {
			t.Fatalf("%d %s", code, got)
		}
	})
	t.Run("test_update_model_clears_cache_after_db_write", func(t *testing.T) {
		code := call(t, "POST", e.url("/model/update"), masterKey, map[string]any{"litellm_params": map[string]any{"api_base": "http://" + second + "/v1"},
			"model_info": map[string]any{"id": added.ModelID}}, nil)
		if code != 200 {
			t.Fatalf("/model/update: %d", code)
		}
		if code, got := answer(t, key, "runtime-model"); code != 200 || got != "from second" {
			t.Fatalf("after /model/update: %d %s", code, got)
		}
	})
	t.Run("patch_model.serves_the_patched_deployment", func(t *testing.T) {
		code := call(t, "PATCH", e.url("/model/"+added.ModelID+"/update"), masterKey, map[string]any{"litellm_params": map[string]any{"api_base": "http://" + first + "/v1"}}, nil)
		if code != 200 {
			t.Fatalf("PATCH /model/{id}/update through the edge: %d", code)
		}
		if code, got := answer(t, key, "runtime-model"); code != 200 || got != "from first" {
			t.Fatalf("after PATCH: %d %s", code, got)
		}
	})
	t.Run("test_can_user_make_model_call_normal_user_fails", func(t *testing.T) {
		var u struct {
			Key string `json:"key"`
		}
		call(t, "POST", e.url("/user/new"), masterKey, map[string]any{"user_id": "dev", "user_role": "internal_user"}, &u)
		code, raw := callRaw(t, "PATCH", e.url("/model/"+added.ModelID+"/update"), u.Key, map[string]any{"litellm_params": map[string]any{"api_base": "http://" + second + "/v1"}})
		if code != 403 || !strings.Contains(string(raw), "permission") {
			t.Fatalf("internal_user PATCH: %d %s", code, raw)
		}
		if code, got := answer(t, key, "runtime-model"); code != 200 || got != "from first" {
			t.Fatalf("a refused PATCH changed what is served: %d %s", code, got)
		}
	})
	// test_access_group_management.py's
	// test_create_access_group_with_model_ids_tags_only_specific_deployments:
	// a group holding a deployment by id lets a key of the group call it,
	// and nothing else, on the edge.
	t.Run("create_model_group.model_ids_reach_the_edge", func(t *testing.T) {
		var other struct {
			ModelID string `json:"model_id"`
		}
		call(t, "POST", e.url("/model/new"), masterKey, map[string]any{"model_name": "other-model",
			"litellm_params": map[string]any{"model": "openai/gpt-4o", "api_base": "http://" + second + "/v1", "api_key": "sk-up"}}, &other)
		if code := call(t, "POST", e.url("/access_group/new"), masterKey, map[string]any{"access_group": "by-id", "model_ids": []string{added.ModelID}}, nil); code != 200 {
			t.Fatalf("/access_group/new: %d", code)
		}
		groupKey := generateKey(t, e, map[string]any{"models": []string{"by-id"}})
		if code, got := answer(t, groupKey, "runtime-model"); code != 200 || got != "from first" {
			t.Fatalf("runtime-model through the group: %d %s", code, got)
		}
		expectChat(t, e, groupKey, "other-model", 403, "key_model_access_denied")
		if code := call(t, "DELETE", e.url("/access_group/by-id/delete"), masterKey, nil, nil); code != 200 {
			t.Fatalf("DELETE /access_group/by-id/delete: %d", code)
		}
		expectChat(t, e, groupKey, "runtime-model", 403, "key_model_access_denied")
	})
	t.Run("delete_model.stops_serving", func(t *testing.T) {
		var out struct {
			Message string `json:"message"`
		}
		if code := call(t, "POST", e.url("/model/delete"), masterKey, map[string]any{"id": added.ModelID}, &out); code != 200 || !strings.Contains(out.Message, "deleted successfully") {
			t.Fatalf("/model/delete: %d %q", code, out.Message)
		}
		if code, got := answer(t, masterKey, "runtime-model"); code == 200 || code >= 500 {
			t.Fatalf("deleted deployment still answers: %d %s", code, got)
		}
	})
}
