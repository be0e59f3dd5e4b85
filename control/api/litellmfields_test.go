package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/control/store/storetest"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

func TestScreenLiteLLM(t *testing.T) {
	declared := map[string]bool{"models": true, "tags": true}
	for _, tc := range []struct {
		name, body, want string // want "": body unchanged
		warnings         int
		refused          string // the param of the refusal
	}{
		{name: "nothing listed", body: `{"models":["a"],"modles":1}`},
		{name: "declared field is not screened", body: `{"tags":["x"]}`},
		{name: "not an object", body: `[1]`},
		{name: "not JSON", body: `{"spend":`},
		{name: "defaults dropped", body: `{"spend": 0, "models":["a"], "config":{}, "guardrails":null, "auto_rotate":false, "rpm_limit_type":"best_effort_throughput", "object_permission":{ }, "prompts":[ ]}`,
			want: `{"models":["a"]}`},
		{name: "only dropped fields", body: `{"spend":0.0,"config":{}}`, want: `{}`},
		{name: "last member dropped", body: `{"models":[],"budget_id":""}`, want: `{"models":[]}`},
		{name: "warned and dropped", body: `{"soft_budget":5,"models":["a"],"send_invite_email":true}`, want: `{"models":["a"]}`, warnings: 2},
		{name: "enforcement refused", body: `{"models":["a"],"model_rpm_limit":{"gpt-4o":5}}`, refused: "model_rpm_limit"},
		{name: "non-default limit type refused", body: `{"tpm_limit_type":"guaranteed_throughput"}`, refused: "tpm_limit_type"},
		{name: "spend refused", body: `{"spend":3}`, refused: "spend"},
		{name: "escaped name", body: `{"sp\u0065nd":0,"models":[]}`, want: `{"models":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, warnings, err := screenLiteLLM([]byte(tc.body), declared)
			if tc.refused != "" {
				e, ok := err.(*apierror.Error)
				if !ok || e.Status != 400 || e.Param != tc.refused || !strings.Contains(e.Message, "not supported by gatehouse: ") {
					t.Fatalf("want a 400 naming %s, got %v", tc.refused, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == "" {
				want = tc.body
			}
			if !sameJSON(t, out, want) {
				t.Errorf("body %s, want %s", out, want)
			}
			if len(warnings) != tc.warnings {
				t.Errorf("warnings %q, want %d", warnings, tc.warnings)
			}
		})
	}
}

func sameJSON(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		// A body returned unchanged need not be JSON.
		return string(got) == want
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(g, w)
}

// Every field litellmFields screens is missing from some body: a field
// every body declares would never reach the screen, and its entry would
// be dead.
func TestLiteLLMFieldsNotDeclared(t *testing.T) {
	bodies := []any{keyRequest{}, teamRequest{}, userRequest{}, customerRequest{}, orgRequest{}, memberUpdateRequest{}}
	for name := range litellmFields {
		missing := false
		for _, b := range bodies {
			missing = missing || !declaredFields(reflect.TypeOf(b))[name]
		}
		if !missing {
			t.Errorf("every body declares %s, which litellmFields screens", name)
		}
	}
}

// A LiteLLM client sending its defaults is served; what gatehouse cannot
// keep is refused by name; what it only ignores is accepted with a warning.
func TestLiteLLMFieldsOverHTTP(t *testing.T) {
	_, js := testutil.NewJetStream(t)
	app := New(storetest.New(t, js), Options{MasterKey: testMaster})
	// /key/generate as LiteLLM's GenerateKeyRequest serializes its defaults.
	code, out := do(t, app, "POST", "/key/generate", testMaster, map[string]any{
		"models": []string{}, "spend": 0, "metadata": map[string]any{}, "allowed_cache_controls": []string{}, "config": map[string]any{},
		"permissions": map[string]any{}, "model_max_budget": map[string]any{}, "aliases": map[string]any{}, "guardrails": nil,
		"object_permission": nil, "tags": nil, "key_type": "default", "auto_rotate": false, "send_invite_email": nil,
		"rpm_limit_type": nil, "enforced_params": nil, "budget_id": nil, "soft_budget": nil, "allowed_routes": []string{},
	})
	if code != 200 || out["key"] == nil || out["warnings"] != nil {
		t.Fatalf("defaults: %d %v", code, out)
	}
	code, out = do(t, app, "POST", "/key/generate", testMaster, map[string]any{"model_tpm_limit": map[string]int{"gpt-4o": 10}})
	if code != 400 || errParam(out) != "model_tpm_limit" || !strings.Contains(errMessage(out), "per-model rate limits are not supported") {
		t.Fatalf("model_tpm_limit: %d %v", code, out)
	}
	// LiteLLM's budget check reads a temporary increase from the key's
	// metadata, so there it is refused like the field, not stored unkept.
	code, out = do(t, app, "POST", "/key/generate", testMaster, map[string]any{"metadata": map[string]any{"temp_budget_increase": 10, "temp_budget_expiry": "2027-01-01"}})
	if code != 400 || errParam(out) != "metadata" || !strings.Contains(errMessage(out), "metadata.temp_budget_increase is not supported by gatehouse: temporary budget increases") {
		t.Fatalf("metadata.temp_budget_increase: %d %v", code, out)
	}
	code, out = do(t, app, "POST", "/key/generate", testMaster, map[string]any{"tags": []string{"team-a"}, "soft_budget": 5, "key_type": "read_only"})
	if code != 200 || !reflect.DeepEqual(out["allowed_routes"], []any{"info_routes"}) {
		t.Fatalf("key_type read_only: %d %v", code, out)
	}
	if w, _ := out["warnings"].([]any); len(w) != 2 || !strings.HasPrefix(w[1].(string), "tags: accepted but not used: ") {
		t.Errorf("warnings: %v", out["warnings"])
	}
	key := out["key"].(string)
	if code, out = do(t, app, "POST", "/key/update", testMaster, map[string]any{"key": key, "key_type": "llm_api"}); code != 400 || errParam(out) != "key_type" {
		t.Errorf("key_type on /key/update: %d %v", code, out)
	}
	if code, out = do(t, app, "POST", "/key/generate", testMaster, map[string]any{"key_type": "superuser"}); code != 400 || errParam(out) != "key_type" {
		t.Errorf("unknown key_type: %d %v", code, out)
	}
	if code, out = do(t, app, "POST", "/key/generate", testMaster, map[string]any{"modles": []string{"a"}}); code != 400 || errMessage(out) != `unknown field "modles"` {
		t.Errorf("a field LiteLLM does not have either: %d %v", code, out)
	}
	// /team/new as LiteLLM's NewTeamRequest serializes its defaults.
	code, out = do(t, app, "POST", "/team/new", testMaster, map[string]any{
		"team_alias": "a", "admins": []string{}, "members": []string{}, "members_with_roles": []any{}, "metadata": nil,
		"budget_limits": nil, "models": []string{}, "blocked": false, "router_settings": nil, "tags": nil,
		"team_member_budget": nil, "secret_manager_settings": nil, "enforced_file_expires_after": nil,
	})
	if code != 200 || out["team_id"] == nil {
		t.Fatalf("team defaults: %d %v", code, out)
	}
	if code, out = do(t, app, "POST", "/team/new", testMaster, map[string]any{"team_member_rpm_limit": -5}); code != 400 || errParam(out) != "team_member_rpm_limit" {
		t.Errorf("negative team_member_rpm_limit: %d %v", code, out)
	}
	// LiteLLM's team model_aliases is kept (policy routes the alias).
	code, out = do(t, app, "POST", "/team/new", testMaster, map[string]any{"team_id": "t-alias", "model_aliases": map[string]string{"fast": "gpt-4o"}})
	if code != 200 || !reflect.DeepEqual(out["model_aliases"], map[string]any{"fast": "gpt-4o"}) {
		t.Errorf("model_aliases: %d %v", code, out)
	}
	if code, out = do(t, app, "POST", "/team/update", testMaster, map[string]any{"team_id": "t-alias", "model_aliases": map[string]string{"fast": ""}}); code != 400 || errParam(out) != "model_aliases" {
		t.Errorf("empty alias target: %d %v", code, out)
	}
	// access_group_ids must name access groups.
	if code, out = do(t, app, "POST", "/access_group/new", testMaster, map[string]any{"access_group_id": "g1", "models": []string{"gpt-4o"}}); code != 200 {
		t.Fatalf("/access_group/new: %d %v", code, out)
	}
	if code, out = do(t, app, "POST", "/key/generate", testMaster, map[string]any{"models": []string{"x"}, "access_group_ids": []string{"g1"}}); code != 200 ||
		!reflect.DeepEqual(out["access_group_ids"], []any{"g1"}) {
		t.Errorf("access_group_ids: %d %v", code, out)
	}
	if code, out = do(t, app, "POST", "/team/new", testMaster, map[string]any{"access_group_ids": []string{"g1", "g2"}}); code != 400 ||
		errParam(out) != "access_group_ids" || !strings.Contains(errMessage(out), `entry 1: "g2" is no access group`) {
		t.Errorf("unknown access group: %d %v", code, out)
	}
	// The screen's warnings and a handler's own share one list.
	_, raw := send(t, app, "POST", "/model/new", testMaster, map[string]any{"model_name": "w", "tags": []string{"x"},
		"litellm_params": map[string]any{"model": "openai/gpt-4o", "api_key": "os.environ/GATEHOUSE_TEST_UNSET_VAR"}})
	var model struct {
		Warnings []string `json:"warnings"`
	}
	if strings.Count(string(raw), `"warnings"`) != 1 || json.Unmarshal(raw, &model) != nil || len(model.Warnings) != 2 {
		t.Errorf("/model/new warnings: %s", raw)
	}
	// /user/update upserts, as LiteLLM's does.
	if code, out = do(t, app, "POST", "/user/update", testMaster, map[string]any{"user_id": "litellm-proxy-budget", "spend": 0, "max_budget": 10}); code != 200 || out["user_id"] != "litellm-proxy-budget" {
		t.Errorf("/user/update of an unknown user: %d %v", code, out)
	}
	if code, out = do(t, app, "GET", "/user/info?user_id=litellm-proxy-budget", testMaster, nil); code != 200 {
		t.Errorf("the user /user/update made: %d %v", code, out)
	}
	// A field one body declares is screened where another does not.
	if code, out = do(t, app, "POST", "/user/new", testMaster, map[string]any{"user_id": "u0", "max_parallel_requests": 5}); code != 400 ||
		errParam(out) != "max_parallel_requests" || !strings.Contains(errMessage(out), "parallel request limits are set on keys") {
		t.Errorf("max_parallel_requests on /user/new: %d %v", code, out)
	}
	if code, out = do(t, app, "POST", "/user/new", testMaster, map[string]any{"user_id": "u1", "spend": 0, "send_invite_email": true, "sso_user_id": "s-1"}); code != 200 {
		t.Fatalf("/user/new: %d %v", code, out)
	} else if w, _ := out["warnings"].([]any); len(w) != 2 {
		t.Errorf("/user/new warnings: %v", out["warnings"])
	}
}

func errParam(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	p, _ := e["param"].(string)
	return p
}
