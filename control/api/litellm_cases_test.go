package api

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/control/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// The prefixes of the skip reasons the ported LiteLLM cases share.
const (
	internals = "LiteLLM internals (no HTTP behaviour): "
	elsewhere = "covered elsewhere: "
)

// lcase drives one control plane the way LiteLLM's black-box tests drive
// its proxy: every call sends the JSON those tests send.
type lcase struct {
	t   *testing.T
	app *fiber.App
}

// lcaseRow is one ported LiteLLM test: skip says why it is not ported;
// run gets a control plane of its own, with opts and the test master key.
type lcaseRow struct {
	name string
	skip string
	opts Options
	run  func(c *lcase)
}

// runLCases runs each row as a subtest.
func runLCases(t *testing.T, rows []lcaseRow) {
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			opts := tc.opts
			opts.MasterKey = testMaster
			_, js := testutil.NewJetStream(t)
			tc.run(&lcase{t: t, app: New(storetest.New(t, js), opts)})
		})
	}
}

// call answers the status and the decoded body (an object, or a list
// under "list").
func (c *lcase) call(method, path, cred string, body any) (int, map[string]any) {
	c.t.Helper()
	code, raw := send(c.t, c.app, method, path, cred, body)
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		c.t.Fatalf("%s %s: %d %s", method, path, code, raw)
	}
	out, ok := v.(map[string]any)
	if !ok {
		out = map[string]any{"list": v}
	}
	return code, out
}

// ok is a call LiteLLM's test requires to answer 200.
func (c *lcase) ok(method, path, cred string, body any) map[string]any {
	c.t.Helper()
	code, out := c.call(method, path, cred, body)
	if code != 200 {
		c.t.Fatalf("%s %s %v: %d %v", method, path, body, code, out)
	}
	return out
}

func (c *lcase) master(path string, body any) map[string]any {
	c.t.Helper()
	return c.ok("POST", path, testMaster, body)
}

// status is a call LiteLLM's test requires to answer code.
func (c *lcase) status(code int, method, path, cred string, body any) map[string]any {
	c.t.Helper()
	got, out := c.call(method, path, cred, body)
	if got != code {
		c.t.Fatalf("%s %s %v: %d %v, want %d", method, path, body, got, out, code)
	}
	if code >= 400 && (errMessage(out) == "" || errType(out) == "") {
		c.t.Errorf("refusal outside the OpenAI envelope: %v", out)
	}
	return out
}

// generateKey sends test_keys.py's generate_key body.
func (c *lcase) generateKey(cred string, extra map[string]any) map[string]any {
	c.t.Helper()
	body := map[string]any{
		"models":                []string{"azure-models", "gpt-4", "dall-e-3"},
		"aliases":               map[string]string{"mistral-7b": "gpt-3.5-turbo"},
		"duration":              nil,
		"max_budget":            nil,
		"budget_duration":       nil,
		"max_parallel_requests": nil,
		"user_id":               nil,
		"team_id":               nil,
		"metadata":              nil,
	}
	for k, v := range extra {
		body[k] = v
	}
	return c.ok("POST", "/key/generate", cred, body)
}

// newUser sends test_users.py's new_user body.
func (c *lcase) newUser(extra map[string]any) map[string]any {
	c.t.Helper()
	body := map[string]any{
		"models":          []string{"azure-models"},
		"aliases":         map[string]string{"mistral-7b": "gpt-3.5-turbo"},
		"duration":        nil,
		"max_budget":      nil,
		"budget_duration": nil,
	}
	for k, v := range extra {
		body[k] = v
	}
	return c.master("/user/new", body)
}

// addModels adds mock deployments, standing in for the proxy config of
// LiteLLM's test runs.
func addModels(c *lcase, names ...string) {
	c.t.Helper()
	for _, m := range names {
		c.master("/model/new", map[string]any{"model_name": m, "litellm_params": map[string]any{"model": "openai/" + m, "mock_response": "hi"}})
	}
}

func memberIDs(v any) []string {
	var ids []string
	list, _ := v.([]any)
	for _, m := range list {
		mm, _ := m.(map[string]any)
		id, _ := mm["user_id"].(string)
		ids = append(ids, id)
	}
	return ids
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestLiteLLMCases ports the HTTP interactions of LiteLLM's black-box
// proxy tests (tests/test_keys.py, test_team.py, test_team_members.py,
// test_users.py, test_organizations.py, test_end_users.py) that reach the
// admin API: each row is named after the LiteLLM test it comes from and
// asserts the statuses and fields that test asserts. Calls to the LLM
// routes are the edge's and are left out.
func TestLiteLLMCases(t *testing.T) {
	for _, tc := range []struct {
		name string
		skip string // the deliberate difference that makes the case moot
		run  func(c *lcase)
	}{
		// tests/test_keys.py
		{name: "test_keys/test_key_gen", run: func(c *lcase) {
			for i := 0; i < 10; i++ {
				c.generateKey(testMaster, nil)
			}
		}},
		{name: "test_keys/test_simple_key_gen", run: func(c *lcase) {
			out := c.generateKey(testMaster, nil)
			if out["token"] == nil || out["token"] == out["key"] || out["token_id"] == nil || out["created_at"] == nil || out["updated_at"] == nil {
				c.t.Errorf("key fields: %v", out)
			}
		}},
		{name: "test_keys/test_key_gen_bad_key", run: func(c *lcase) {
			key := c.generateKey(testMaster, map[string]any{"user_id": "user-1234"})["key"].(string)
			body := map[string]any{"models": []string{"azure-models", "gpt-4", "dall-e-3"}, "aliases": map[string]string{"mistral-7b": "gpt-3.5-turbo"}, "user_id": "user-1234"}
			if code, out := c.call("POST", "/key/generate", key, body); code == 200 {
				c.t.Errorf("a key of no known user generated a key: %v", out)
			}
		}},
		{name: "test_keys/test_key_update[metadata0]", run: func(c *lcase) {
			gen := c.generateKey(testMaster, map[string]any{"metadata": map[string]any{"test": "test"}})
			if md, _ := gen["metadata"].(map[string]any); md["test"] != "test" {
				c.t.Errorf("generate metadata: %v", gen["metadata"])
			}
			up := c.master("/key/update", map[string]any{"key": gen["key"], "metadata": map[string]any{"test": "new"}})
			if !reflect.DeepEqual(up["metadata"], map[string]any{"test": "new"}) {
				c.t.Errorf("update metadata: %v", up["metadata"])
			}
		}},
		{name: "test_keys/test_key_update[metadata1]", run: func(c *lcase) {
			gen := c.generateKey(testMaster, map[string]any{"metadata": map[string]any{"test": "test"}})
			up := c.master("/key/update", map[string]any{"key": gen["key"], "metadata": map[string]any{}})
			if !reflect.DeepEqual(up["metadata"], map[string]any{}) {
				c.t.Errorf("update metadata: %v", up["metadata"])
			}
		}},
		{name: "test_keys/update_key models and duration", run: func(c *lcase) {
			gen := c.generateKey(testMaster, nil)
			c.master("/key/update", map[string]any{"key": gen["key"], "models": []string{"gpt-4"}, "duration": "120s"})
		}},
		{name: "test_keys/test_key_delete", run: func(c *lcase) {
			gen := c.generateKey(testMaster, nil)
			c.master("/key/delete", map[string]any{"keys": []any{gen["key"]}})
		}},
		{name: "test_keys/test_key_info", run: func(c *lcase) {
			key := c.generateKey(testMaster, nil)["key"].(string)
			c.ok("GET", "/key/info?key="+key, testMaster, nil)
			c.ok("GET", "/key/info?key="+key, key, nil)
			c.ok("GET", "/key/info", key, nil)
			c.status(404, "GET", "/key/info?key=sk-5d7a7bd3-6c43-4b3c-9d35-5c43b7cbd1f4", key, nil)
		}},
		{name: "test_keys/test_model_info", run: func(c *lcase) {
			for _, m := range []string{"gpt-4", "gpt-3.5-turbo", "azure-models"} {
				c.master("/model/new", map[string]any{"model_name": m, "litellm_params": map[string]any{"model": "openai/" + m, "mock_response": "hi"}})
			}
			key := c.generateKey(testMaster, nil)["key"].(string)
			admin, _ := c.ok("GET", "/model/info", testMaster, nil)["data"].([]any)
			user, _ := c.ok("GET", "/model/info", key, nil)["data"].([]any)
			if len(admin) <= len(user) || len(user) == 0 {
				c.t.Errorf("admin sees %d models, the key %d", len(admin), len(user))
			}
		}},
		{name: "test_keys/test_key_delete_ui", run: func(c *lcase) {
			key := c.generateKey(testMaster, map[string]any{"user_id": "ishaan-smart"})["key"]
			// test_keys.py's generate_team names team litellm-dashboard,
			// which LiteLLM 2026's /team/new refuses as reserved
			// (test_new_team_rejects_reserved_ui_session_team_id); the
			// admin's delete does not need it.
			c.status(400, "POST", "/team/new", testMaster, map[string]any{"team_id": "litellm-dashboard", "models": nil})
			admin := c.master("/user/new", map[string]any{"user_role": "proxy_admin"})
			c.ok("POST", "/key/delete", admin["key"].(string), map[string]any{"keys": []any{key}})
		}},
		{name: "test_keys/test_key_user_not_in_db", run: func(c *lcase) {
			c.generateKey(testMaster, map[string]any{"user_id": "5f0c1e8e-5e55-4f7e-9e59-9f2b8a1c0d11"})
		}},
		{name: "test_keys/test_key_model_list[/model/info-key-gpt-3.5-turbo]", run: func(c *lcase) {
			for _, m := range []string{"gpt-4", "gpt-3.5-turbo"} {
				c.master("/model/new", map[string]any{"model_name": m, "litellm_params": map[string]any{"model": "openai/" + m, "mock_response": "hi"}})
			}
			c.master("/team/new", map[string]any{"team_id": "litellm_dashboard_1", "models": nil})
			key := c.generateKey(testMaster, map[string]any{"team_id": "litellm_dashboard_1", "models": []string{"gpt-3.5-turbo"}})["key"].(string)
			if data, _ := c.ok("GET", "/model/info", key, nil)["data"].([]any); len(data) != 1 {
				c.t.Errorf("/model/info for a key of one model: %v", data)
			}
		}},
		{name: "test_keys/test_key_model_list[/model/info-team-gpt-3.5-turbo]", run: func(c *lcase) {
			for _, m := range []string{"gpt-4", "gpt-3.5-turbo"} {
				c.master("/model/new", map[string]any{"model_name": m, "litellm_params": map[string]any{"model": "openai/" + m, "mock_response": "hi"}})
			}
			c.master("/team/new", map[string]any{"team_id": "litellm_dashboard_2", "models": []string{"gpt-3.5-turbo"}})
			key := c.generateKey(testMaster, map[string]any{"team_id": "litellm_dashboard_2", "models": []string{}})["key"].(string)
			if data, _ := c.ok("GET", "/model/info", key, nil)["data"].([]any); len(data) != 1 {
				c.t.Errorf("/model/info for a team of one model: %v", data)
			}
		}},
		{name: "test_keys/test_key_model_list[/model/info-team-all-team-models]", run: func(c *lcase) {
			for _, m := range []string{"gpt-4", "gpt-3.5-turbo"} {
				c.master("/model/new", map[string]any{"model_name": m, "litellm_params": map[string]any{"model": "openai/" + m, "mock_response": "hi"}})
			}
			c.master("/team/new", map[string]any{"team_id": "litellm_dashboard_3", "models": []string{}})
			key := c.generateKey(testMaster, map[string]any{"team_id": "litellm_dashboard_3", "models": []string{}})["key"].(string)
			if data, _ := c.ok("GET", "/model/info", key, nil)["data"].([]any); len(data) == 0 {
				c.t.Errorf("/model/info for a team of every model: empty")
			}
		}},

		// tests/test_models.py
		{name: "test_models/test_get_models", run: func(c *lcase) {
			addModels(c, "gpt-4", "gpt-3.5-turbo")
			key := c.master("/key/generate", map[string]any{"models": []string{"gpt-4"}, "duration": nil})["key"].(string)
			data, _ := c.ok("GET", "/model/info", key, nil)["data"].([]any)
			for _, m := range data {
				if n := m.(map[string]any)["model_name"]; n != "gpt-4" {
					c.t.Errorf("model %v", n)
				}
			}
		}},
		{name: "test_models/test_get_specific_model", run: func(c *lcase) {
			addModels(c, "gpt-4", "gpt-3.5-turbo")
			key := c.master("/key/generate", map[string]any{"models": []string{"gpt-4"}, "duration": nil})["key"].(string)
			data, _ := c.ok("GET", "/model/info", key, nil)["data"].([]any)
			if len(data) != 1 {
				c.t.Fatalf("data %v", data)
			}
			id := data[0].(map[string]any)["model_info"].(map[string]any)["id"].(string)
			one, _ := c.ok("GET", "/model/info?litellm_model_id="+id, key, nil)["data"].([]any)
			if len(one) != 1 || !reflect.DeepEqual(one[0], data[0]) {
				c.t.Errorf("by id %v, listed %v", one, data[0])
			}
		}},
		{name: "test_models/test_add_and_delete_models", run: func(c *lcase) {
			out := c.master("/model/new", map[string]any{"model_name": "m-add-del", "litellm_params": map[string]any{"model": "openai/gpt-4.1-nano", "api_key": "os.environ/OPENAI_API_KEY"}, "model_info": map[string]any{"id": "12345_add_del"}})
			if out["model_id"] != "12345_add_del" {
				c.t.Errorf("model_id: %v", out)
			}
			c.master("/model/delete", map[string]any{"id": "12345_add_del"})
		}},
		{name: "test_models/test_get_personal_models_for_user", run: func(c *lcase) {
			addModels(c, "gpt-4", "gpt-3.5-turbo")
			key := c.master("/user/new", map[string]any{"models": []string{"gpt-3.5-turbo"}, "aliases": map[string]string{"mistral-7b": "gpt-3.5-turbo"}, "duration": nil, "max_budget": nil, "budget_duration": nil})["key"].(string)
			data, _ := c.ok("GET", "/model_group/info", key, nil)["data"].([]any)
			if len(data) != 1 || data[0].(map[string]any)["model_group"] != "gpt-3.5-turbo" {
				c.t.Errorf("model groups %v", data)
			}
		}},

		// tests/test_team.py
		{name: "test_team/test_team_new", run: func(c *lcase) {
			for i := 0; i < 10; i++ {
				c.master("/team/new", map[string]any{"team_alias": "my-new-team", "members_with_roles": []map[string]any{{"role": "user", "user_id": "3d0b3c2e-uuid"}}})
			}
		}},
		{name: "test_team/test_team_info", run: func(c *lcase) {
			team := c.master("/team/new", map[string]any{"team_alias": "my-new-team"})["team_id"].(string)
			c.ok("GET", "/team/info?team_id="+team, testMaster, nil)
			key := c.generateKey(testMaster, map[string]any{"team_id": team})["key"].(string)
			c.ok("GET", "/team/info?team_id="+team, key, nil)
			other := c.generateKey(testMaster, nil)["key"].(string)
			if code, out := c.call("GET", "/team/info?team_id="+team, other, nil); code == 200 {
				c.t.Errorf("a key outside the team read it: %v", out)
			}
		}},
		{name: "test_team/test_team_update_sc_2", run: func(c *lcase) {
			c.newUser(map[string]any{"user_id": "admin-sc2"})
			team := c.master("/team/new", map[string]any{"team_alias": "my-new-team", "members_with_roles": []map[string]any{{"role": "admin", "user_id": "admin-sc2"}}})
			c.master("/team/member_add", map[string]any{"team_id": team["team_id"], "member": map[string]any{"role": "user", "user_email": "krrish_sc2@berri.ai"}})
			up := c.master("/team/update", map[string]any{"team_id": team["team_id"], "team_alias": "my-new-team"})
			data, _ := up["data"].(map[string]any)
			if data["team_alias"] != "my-new-team" {
				c.t.Fatalf("update data: %v", up)
			}
			for k, v := range data {
				switch k {
				case "members_with_roles", "created_at", "updated_at", "model_spend", "model_max_budget", "model_id", "litellm_organization_table", "litellm_model_table":
					continue
				}
				if !reflect.DeepEqual(v, team[k]) {
					c.t.Errorf("%s: update %v, new %v", k, v, team[k])
				}
			}
		}},
		{name: "test_team/test_team_delete", run: func(c *lcase) {
			c.newUser(map[string]any{"user_id": "admin-del"})
			c.newUser(map[string]any{"user_id": "user-del"})
			team := c.master("/team/new", map[string]any{"team_alias": "my-new-team", "members_with_roles": []map[string]any{{"role": "admin", "user_id": "admin-del"}, {"role": "user", "user_id": "user-del"}}})
			c.generateKey(testMaster, map[string]any{"team_id": team["team_id"]})
			c.master("/team/delete", map[string]any{"team_ids": []any{team["team_id"]}})
		}},
		{name: "test_team/test_member_delete", run: func(c *lcase) {
			c.newUser(map[string]any{"user_id": "admin-md"})
			c.newUser(map[string]any{"user_id": "user-md"})
			team := c.master("/team/new", map[string]any{"team_alias": "my-new-team", "members_with_roles": []map[string]any{{"role": "admin", "user_id": "admin-md"}, {"role": "user", "user_id": "user-md"}}})
			if !contains(memberIDs(team["members_with_roles"]), "user-md") {
				c.t.Fatalf("members: %v", team["members_with_roles"])
			}
			up := c.master("/team/member_delete", map[string]any{"team_id": team["team_id"], "user_id": "user-md"})
			if contains(memberIDs(up["members_with_roles"]), "user-md") {
				c.t.Errorf("member still there: %v", up)
			}
		}},
		{name: "test_team/test_team_alias", run: func(c *lcase) {
			c.newUser(map[string]any{"user_id": "admin-al"})
			team := c.master("/team/new", map[string]any{"team_alias": "my-new-team", "members_with_roles": []map[string]any{{"role": "admin", "user_id": "admin-al"}}, "model_aliases": map[string]string{"cheap-model": "gpt-3.5-turbo"}})
			c.generateKey(testMaster, map[string]any{"team_id": team["team_id"], "models": []string{"gpt-3.5-turbo"}})
		}},

		// tests/test_team_members.py
		{name: "test_team_members/test_team_creation", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test_team_1", "team_alias": "Test Team 1", "models": []string{"o3-mini"}})
			info := c.ok("GET", "/team/info?team_id=test_team_1", testMaster, nil)
			ti, _ := info["team_info"].(map[string]any)
			if info["team_id"] != "test_team_1" || ti["team_alias"] != "Test Team 1" || !reflect.DeepEqual(ti["models"], []any{"o3-mini"}) {
				c.t.Errorf("team info: %v", info)
			}
		}},
		{name: "test_team_members/test_add_single_member", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test_team_2", "team_alias": "Test Team 2", "models": []string{"o3-mini"}})
			before := c.ok("GET", "/team/info?team_id=test_team_2", testMaster, nil)["team_info"].(map[string]any)
			c.master("/team/member_add", map[string]any{"team_id": "test_team_2", "member": []map[string]any{{"role": "user", "user_id": "pytest_user_1@mycompany.com"}}})
			after := c.ok("GET", "/team/info?team_id=test_team_2", testMaster, nil)["team_info"].(map[string]any)
			ids := memberIDs(after["members_with_roles"])
			if !contains(ids, "pytest_user_1@mycompany.com") || len(ids) != len(memberIDs(before["members_with_roles"]))+1 {
				c.t.Errorf("members %v", ids)
			}
		}},
		{name: "test_team_members/test_team_info_structure", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test_team_3", "team_alias": "Test Team 3", "models": []string{"o3-mini"}})
			c.master("/team/member_add", map[string]any{"team_id": "test_team_3", "member": []map[string]any{{"role": "user", "user_id": "pytest_user_3"}}})
			info := c.ok("GET", "/team/info?team_id=test_team_3", testMaster, nil)
			ti, _ := info["team_info"].(map[string]any)
			if info["team_id"] == nil || ti == nil || ti["members_with_roles"] == nil || ti["models"] == nil {
				c.t.Fatalf("team info: %v", info)
			}
			m := ti["members_with_roles"].([]any)[0].(map[string]any)
			if m["user_id"] == nil || m["role"] == nil {
				c.t.Errorf("member: %v", m)
			}
		}},
		{name: "test_team_members/test_error_handling", run: func(c *lcase) {
			if code, _ := c.call("GET", "/team/info?team_id=invalid-team-id", testMaster, nil); code < 400 {
				c.t.Errorf("unknown team: %d", code)
			}
		}},
		{name: "test_team_members/test_duplicate_user_addition", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test_team_4", "models": []string{"o3-mini"}})
			add := map[string]any{"team_id": "test_team_4", "member": []map[string]any{{"role": "user", "user_id": "pytest_user_4@mycompany.com"}}}
			c.master("/team/member_add", add)
			if code, _ := c.call("POST", "/team/member_add", testMaster, add); code < 400 {
				c.t.Errorf("second add: %d", code)
			}
			ti := c.ok("GET", "/team/info?team_id=test_team_4", testMaster, nil)["team_info"].(map[string]any)
			if ids := memberIDs(ti["members_with_roles"]); len(ids) != 1 {
				c.t.Errorf("members %v", ids)
			}
		}},
		{name: "test_team_members/test_member_deletion", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test_team_5", "models": []string{"o3-mini"}})
			c.master("/team/member_add", map[string]any{"team_id": "test_team_5", "member": []map[string]any{{"role": "user", "user_id": "pytest_user_5"}}})
			c.master("/team/member_delete", map[string]any{"team_id": "test_team_5", "user_id": "pytest_user_5"})
			for i := 0; i < 4; i++ {
				if code, _ := c.call("POST", "/team/member_delete", testMaster, map[string]any{"team_id": "test_team_5", "user_id": "pytest_user_5"}); code < 400 {
					c.t.Errorf("deleting again: %d", code)
				}
			}
		}},
		{name: "test_team_members/test_delete_nonexistent_member", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test_team_6", "models": []string{"o3-mini"}})
			c.status(400, "POST", "/team/member_delete", testMaster, map[string]any{"team_id": "test_team_6", "user_id": "nonexistent_1"})
		}},

		// tests/test_users.py
		{name: "test_users/test_user_new", run: func(c *lcase) {
			for i := 0; i < 10; i++ {
				c.newUser(nil)
			}
		}},
		{name: "test_users/test_user_info", run: func(c *lcase) {
			key := c.newUser(map[string]any{"user_id": "krrish_1@berri.ai"})["key"].(string)
			for _, cred := range []string{testMaster, key} {
				ui, _ := c.ok("GET", "/user/info?user_id=krrish_1@berri.ai", cred, nil)["user_info"].(map[string]any)
				if len(ui) == 0 {
					c.t.Errorf("user_info empty")
				}
			}
			random := c.newUser(nil)["key"].(string)
			c.status(403, "GET", "/user/info?user_id=krrish_1@berri.ai", random, nil)
		}},
		{name: "test_users/test_key_update_user_isolation", run: func(c *lcase) {
			u1 := c.newUser(map[string]any{"max_budget": 100, "budget_duration": "30d", "models": []string{"anthropic.claude-3-5-sonnet-20240620-v1:0"}})
			u2 := c.newUser(map[string]any{"max_budget": 100, "budget_duration": "30d", "models": []string{"anthropic.claude-3-5-sonnet-20240620-v1:0"}})
			extra := c.ok("POST", "/key/generate", u1["key"].(string), map[string]any{"user_id": u1["user_id"], "duration": "7d", "key_alias": "test_key_iso_1", "models": []string{"anthropic.claude-3-5-sonnet-20240620-v1:0"}})
			c.status(403, "POST", "/key/update", u1["key"].(string), map[string]any{"key": extra["key"], "user_id": u2["user_id"], "metadata": map[string]any{"purpose": "testing_user_isolation", "environment": "test"}})
		}},
		{name: "test_users/test_key_delete_user_isolation", run: func(c *lcase) {
			u1 := c.newUser(map[string]any{"max_budget": 100, "budget_duration": "30d", "models": []string{"anthropic.claude-3-5-sonnet-20240620-v1:0"}})
			u2 := c.newUser(map[string]any{"max_budget": 100, "budget_duration": "30d", "models": []string{"anthropic.claude-3-5-sonnet-20240620-v1:0"}})
			extra := c.ok("POST", "/key/generate", u1["key"].(string), map[string]any{"user_id": u1["user_id"], "duration": "7d", "key_alias": "test_key_iso_2", "models": []string{"anthropic.claude-3-5-sonnet-20240620-v1:0"}})
			c.status(403, "POST", "/key/delete", u2["key"].(string), map[string]any{"keys": []any{extra["key"]}})
		}},

		// tests/test_organizations.py
		{name: "test_organizations/test_organization_new", run: func(c *lcase) {
			for i := 0; i < 19; i++ {
				c.master("/organization/new", map[string]any{"organization_alias": "Organization: 1", "models": []string{"azure-models"}, "max_budget": nil})
			}
		}},
		{name: "test_organizations/test_organization_list", run: func(c *lcase) {
			c.master("/organization/new", map[string]any{"organization_alias": "Organization: 2", "models": []string{"azure-models"}, "max_budget": nil})
			list, _ := c.ok("GET", "/organization/list", testMaster, nil)["list"].([]any)
			if len(list) == 0 {
				c.t.Fatal("no organizations")
			}
			for _, o := range list {
				if om, _ := o.(map[string]any); om["litellm_budget_table"] == nil {
					c.t.Errorf("no litellm_budget_table: %v", o)
				}
			}
		}},
		{name: "test_organizations/test_organization_delete", run: func(c *lcase) {
			c.master("/organization/new", map[string]any{"organization_alias": "Organization: 3", "models": []string{"azure-models"}, "max_budget": nil})
			list, _ := c.ok("GET", "/organization/list", testMaster, nil)["list"].([]any)
			id := list[0].(map[string]any)["organization_id"]
			c.ok("DELETE", "/organization/delete", testMaster, map[string]any{"organization_ids": []any{id}})
			c.ok("GET", "/organization/list", testMaster, nil)
		}},
		{name: "test_organizations/test_organization_member_flow", run: func(c *lcase) {
			org := c.master("/organization/new", map[string]any{"organization_alias": "Organization: 4", "models": []string{"azure-models"}, "max_budget": nil})["organization_id"]
			c.ok("GET", "/organization/list", testMaster, nil)
			user := c.master("/user/new", map[string]any{"models": []string{"azure-models"}, "aliases": map[string]string{"mistral-7b": "gpt-3.5-turbo"}, "duration": nil, "max_budget": nil, "budget_duration": nil, "user_email": "test_user_4@example.com"})["user_id"]
			c.master("/organization/member_add", map[string]any{"organization_id": org, "member": map[string]any{"user_id": user, "role": "internal_user"}})
			list, _ := c.ok("GET", "/organization/list", testMaster, nil)["list"].([]any)
			var userID any
			for _, o := range list {
				if om := o.(map[string]any); om["organization_id"] == org {
					userID = om["members"].([]any)[0].(map[string]any)["user_id"]
				}
			}
			if userID != user {
				c.t.Fatalf("member %v, want %v", userID, user)
			}
			c.ok("PATCH", "/organization/member_update", testMaster, map[string]any{"organization_id": org, "user_id": userID, "role": "org_admin"})
			c.ok("GET", "/organization/list", testMaster, nil)
			c.ok("DELETE", "/organization/member_delete", testMaster, map[string]any{"organization_id": org, "user_id": userID})
			c.ok("GET", "/organization/list", testMaster, nil)
		}},

		// tests/test_end_users.py
		{name: "test_end_users/test_end_user_new", run: func(c *lcase) {
			for i := 0; i < 10; i++ {
				c.master("/end_user/new", map[string]any{"user_id": sprintf("eu-%d", i), "allowed_model_region": nil, "default_model": nil})
			}
		}},
		{name: "test_end_users/test_aaaend_user_specific_region", run: func(c *lcase) {
			out := c.master("/end_user/new", map[string]any{"user_id": "eu-region", "allowed_model_region": "eu", "default_model": nil})
			if out["user_id"] != "eu-region" {
				c.t.Errorf("end user: %v", out)
			}
		}},
		{name: "test_end_users/test_enduser_tpm_limits_non_master_key", skip: "budget_id is refused: there are no /budget/* objects (README, Model access)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			_, js := testutil.NewJetStream(t)
			tc.run(&lcase{t: t, app: New(storetest.New(t, js), Options{MasterKey: testMaster})})
		})
	}
}
