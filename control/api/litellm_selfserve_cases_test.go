package api

import (
	"reflect"
	"strings"
	"testing"
)

// selfServe are the options of general_settings.allow_user_team_creation.
var selfServe = Options{AllowUserTeamCreation: true}

// onlyAdmin is LiteLLM's refusal of a management route to a non-admin.
const onlyAdmin = "Only proxy admin can be used to generate, delete, update info for new keys/users/teams"

// internalUser makes an internal_user with the extra fields and answers
// its key.
func internalUser(c *lcase, id string, extra map[string]any) string {
	c.t.Helper()
	body := map[string]any{"user_id": id, "user_role": "internal_user"}
	for k, v := range extra {
		body[k] = v
	}
	return c.master("/user/new", body)["key"].(string)
}

// membersOf are a team answer's members_with_roles as user_id → role.
func membersOf(team map[string]any) map[string]any {
	out := map[string]any{}
	ms, _ := team["members_with_roles"].([]any)
	for _, m := range ms {
		mm := m.(map[string]any)
		out[mm["user_id"].(string)] = mm["role"]
	}
	return out
}

// TestLiteLLMSelfServeCases ports LiteLLM 2026's
// tests/test_litellm/proxy/auth/test_user_team_self_serve.py: the gate
// general_settings.allow_user_team_creation opens in its route check
// (RouteChecks.non_proxy_admin_allowed_routes_check) for an internal_user
// POSTing /team/new. LiteLLM calls the route check with a mocked request;
// each row sends the request over HTTP with a key of a user of that role
// and asserts the route check's outcome (refused with "Only proxy admin",
// or admitted and the team created). The rows named "team_endpoints/..."
// port the rules of new_team LiteLLM applies to such a caller
// (team_endpoints.py, and its tests in test_team_endpoints.py, where they
// are named after the LiteLLM test).
func TestLiteLLMSelfServeCases(t *testing.T) {
	runLCases(t, []lcaseRow{
		{name: "test_internal_user_team_new_blocked_when_flag_absent", run: func(c *lcase) {
			key := internalUser(c, "user-internal-1", nil)
			refusedWith(c, 401, "POST", "/team/new", key, map[string]any{"team_alias": "mine"}, onlyAdmin)
		}},
		{name: "test_internal_user_team_new_blocked_when_flag_false", opts: Options{AllowUserTeamCreation: false}, run: func(c *lcase) {
			key := internalUser(c, "user-internal-1", nil)
			refusedWith(c, 401, "POST", "/team/new", key, map[string]any{"team_alias": "mine"}, onlyAdmin)
		}},
		{name: "test_internal_user_team_new_allowed_when_flag_true", opts: selfServe, run: func(c *lcase) {
			key := internalUser(c, "user-internal-1", nil)
			team := c.ok("POST", "/team/new", key, map[string]any{"team_id": "mine", "team_alias": "mine"})
			// new_team makes the creator the team's admin.
			if !reflect.DeepEqual(membersOf(team), map[string]any{"user-internal-1": "admin"}) {
				c.t.Errorf("members %v, want the creator as admin", team["members_with_roles"])
			}
			if got := teamInfoOf(c, "mine"); got["team_alias"] != "mine" {
				c.t.Errorf("/team/info: %v", got)
			}
		}},
		{name: "test_flag_does_not_leak_to_other_admin_routes", opts: selfServe, run: func(c *lcase) {
			key := internalUser(c, "user-internal-1", nil)
			c.master("/team/new", map[string]any{"team_id": "t1"})
			for path, body := range map[string]map[string]any{
				"/team/delete":      {"team_ids": []string{"t1"}},
				"/team/update":      {"team_id": "t1", "team_alias": "x"},
				"/team/block":       {"team_id": "t1"},
				"/user/new":         {"user_id": "other"},
				"/user/delete":      {"user_ids": []string{"user-internal-1"}},
				"/user/bulk_update": {"users": []map[string]any{{"user_id": "user-internal-1", "max_budget": 1}}},
			} {
				refusedWith(c, 401, "POST", path, key, body, onlyAdmin)
			}
			c.ok("GET", "/team/info?team_id=t1", testMaster, nil) // nothing changed
		}},
		{name: "test_view_only_admin_team_new_still_blocked_when_flag_true", opts: selfServe, run: func(c *lcase) {
			key := userKey(c, "viewer", "proxy_admin_viewer")
			// LiteLLM 2026's refusal of any write by a view-only admin.
			refusedWith(c, 403, "POST", "/team/new", key, map[string]any{"team_alias": "mine"}, "user not allowed to access this route, role= proxy_admin_viewer")
		}},
		{name: "test_internal_user_view_only_team_new_still_blocked_when_flag_true", opts: selfServe, run: func(c *lcase) {
			key := userKey(c, "iv", "internal_user_viewer")
			refusedWith(c, 401, "POST", "/team/new", key, map[string]any{"team_alias": "mine"}, onlyAdmin)
		}},
		{name: "test_helper_returns_false_when_general_settings_is_not_a_dict", skip: internals + "a Python helper reading an untyped general_settings; gatehouse's config is typed, and the flag's absence is test_internal_user_team_new_blocked_when_flag_absent"},
		{name: "test_helper_returns_true_when_flag_is_truthy", skip: "ported in test_internal_user_team_new_allowed_when_flag_true (the helper's only effect)"},
		{name: "test_helper_returns_false_when_flag_missing", skip: "ported in test_internal_user_team_new_blocked_when_flag_absent"},
		{name: "test_internal_user_team_new_with_organization_id_still_blocked_when_flag_true", opts: selfServe, run: func(c *lcase) {
			c.master("/organization/new", map[string]any{"organization_id": "org-abc-123", "organization_alias": "abc"})
			key := internalUser(c, "user-internal-1", nil)
			refusedWith(c, 401, "POST", "/team/new", key, map[string]any{"team_alias": "x", "organization_id": "org-abc-123"}, onlyAdmin)
			if teams, _ := c.ok("GET", "/v2/team/list", testMaster, nil)["teams"].([]any); len(teams) != 0 {
				c.t.Errorf("a team was created: %v", teams)
			}
		}},
		{name: "test_internal_user_team_new_without_organization_id_still_allowed_when_flag_true", opts: selfServe, run: func(c *lcase) {
			key := internalUser(c, "user-internal-1", nil)
			c.ok("POST", "/team/new", key, map[string]any{"team_alias": "my-self-served-team"})
		}},
		{name: "test_internal_user_team_new_with_explicit_none_organization_id_still_allowed", opts: selfServe, run: func(c *lcase) {
			key := internalUser(c, "user-internal-1", nil)
			c.ok("POST", "/team/new", key, map[string]any{"team_alias": "x", "organization_id": nil})
		}},

		// new_team's limits on a caller that is not a proxy admin.
		{name: "team_endpoints/test_new_team_max_budget_exceeds_user_max_budget", opts: selfServe, run: func(c *lcase) {
			key := internalUser(c, "non-admin-user-123", map[string]any{"max_budget": 100.0})
			out := c.status(400, "POST", "/team/new", key, map[string]any{"team_alias": "high-budget-team", "max_budget": 200.0})
			if msg := errMessage(out); !strings.Contains(msg, "max budget higher than user max") || !strings.Contains(msg, "100.0") ||
				!strings.Contains(msg, "internal_user") || errParam(out) != "max_budget" {
				c.t.Errorf("refusal %v", out)
			}
		}},
		{name: "team_endpoints/test_new_team_max_budget_within_user_limit", opts: selfServe, run: func(c *lcase) {
			key := internalUser(c, "non-admin-user-456", map[string]any{"max_budget": 100.0})
			out := c.ok("POST", "/team/new", key, map[string]any{"team_id": "team-within-budget-789", "team_alias": "within-budget-team", "max_budget": 50.0})
			if out["team_id"] != "team-within-budget-789" || out["max_budget"] != 50.0 {
				c.t.Errorf("team %v", out)
			}
		}},
		{name: "team_endpoints/test_new_team_standalone_validates_against_user_models", opts: selfServe, run: func(c *lcase) {
			key := internalUser(c, "non-admin-user-789", map[string]any{"models": []string{"no-default-models"}})
			out := c.status(400, "POST", "/team/new", key, map[string]any{"team_alias": "standalone-team", "models": []string{"gpt-4"}})
			if msg := errMessage(out); !strings.Contains(msg, "Model not in allowed user models") || !strings.Contains(msg, "no-default-models") || errParam(out) != "models" {
				c.t.Errorf("refusal %v", out)
			}
		}},
		{name: "team_endpoints/test_new_team_standalone_validates_against_user_budget", opts: selfServe, run: func(c *lcase) {
			key := internalUser(c, "non-admin-user-budget-789", map[string]any{"max_budget": 3.0})
			refusedWith(c, 400, "POST", "/team/new", key, map[string]any{"team_alias": "standalone-budget-team", "max_budget": 50.0}, "max budget higher than user max. User max budget=3.0")
		}},
		{name: "team_endpoints/source: tpm and rpm limits above the calling key's", opts: selfServe, run: func(c *lcase) {
			c.master("/user/new", map[string]any{"user_id": "u1", "user_role": "internal_user", "auto_create_key": false})
			k := c.master("/key/generate", map[string]any{"user_id": "u1", "tpm_limit": 100, "rpm_limit": 10})["key"].(string)
			refusedWith(c, 400, "POST", "/team/new", k, map[string]any{"tpm_limit": 200}, "tpm limit higher than user max. User tpm limit=100. User role=internal_user")
			refusedWith(c, 400, "POST", "/team/new", k, map[string]any{"rpm_limit": 20}, "rpm limit higher than user max. User rpm limit=10. User role=internal_user")
			c.ok("POST", "/team/new", k, map[string]any{"tpm_limit": 100, "rpm_limit": 10})
		}},
		{name: "team_endpoints/gatehouse: a restricted creator lists the team's models and budget, and gives it no access groups", opts: selfServe, run: func(c *lcase) {
			// Stricter than LiteLLM on purpose (README, deliberate
			// differences): a team without models may call every model,
			// and access groups grant models of their own.
			key := internalUser(c, "u1", map[string]any{"models": []string{"gpt-4"}})
			refusedWith(c, 400, "POST", "/team/new", key, map[string]any{"team_alias": "all"}, "Model not in allowed user models")
			c.master("/access_group/new", map[string]any{"access_group_id": "ag", "models": []string{"claude-3"}})
			refusedWith(c, 400, "POST", "/team/new", key, map[string]any{"models": []string{"gpt-4"}, "access_group_ids": []string{"ag"}}, "access_group_ids")
			budgeted := internalUser(c, "u2", map[string]any{"max_budget": 10.0})
			refusedWith(c, 400, "POST", "/team/new", budgeted, map[string]any{"team_alias": "unbounded"}, "max_budget is required")
			team := c.ok("POST", "/team/new", key, map[string]any{"models": []string{"gpt-4"}, "members_with_roles": []map[string]any{{"user_id": "u1", "role": "user"}}})
			// Listed already: kept as sent, not added twice.
			if !reflect.DeepEqual(membersOf(team), map[string]any{"u1": "user"}) {
				c.t.Errorf("members %v", team["members_with_roles"])
			}
		}},

		// /key/bulk_update, tests/test_litellm/proxy/management_endpoints/
		// test_key_management_endpoints.py (the rows of that file's port
		// that say it is not served are ported here).
		{name: "key_management_endpoints/test_bulk_update_keys_success", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "team-1"})
			k1 := c.master("/key/generate", map[string]any{})["key"].(string)
			k2 := c.master("/key/generate", map[string]any{})["key"].(string)
			out := c.master("/key/bulk_update", map[string]any{"keys": []map[string]any{
				{"key": k1, "max_budget": 100.0, "team_id": "team-1"}, {"key": k2, "max_budget": 200.0}}})
			done, _ := out["successful_updates"].([]any)
			if out["total_requested"] != 2.0 || len(done) != 2 || !reflect.DeepEqual(out["failed_updates"], []any{}) {
				c.t.Fatalf("answer %v", out)
			}
			if info := done[0].(map[string]any)["key_info"].(map[string]any); info["max_budget"] != 100.0 || info["team_id"] != "team-1" {
				c.t.Errorf("key_info %v", info)
			}
			if info := keyInfo(c, k2); info["max_budget"] != 200.0 {
				c.t.Errorf("/key/info %v", info)
			}
		}},
		{name: "key_management_endpoints/test_bulk_update_keys_partial_failures", run: func(c *lcase) {
			// LiteLLM applies the keys it finds and lists the others in
			// failed_updates; gatehouse checks every key first and refuses
			// the request naming the one it cannot update (README,
			// deliberate differences): nothing is half-applied.
			k1 := c.master("/key/generate", map[string]any{"max_budget": 1.0})["key"].(string)
			out := c.status(404, "POST", "/key/bulk_update", testMaster, map[string]any{"keys": []map[string]any{
				{"key": k1, "max_budget": 100.0}, {"key": "sk-does-not-exist", "max_budget": 5.0}}})
			if errParam(out) != "keys[1].key" {
				c.t.Errorf("refusal %v, want it to name keys[1].key", out)
			}
			if info := keyInfo(c, k1); info["max_budget"] != 1.0 {
				c.t.Errorf("k1 was updated: %v", info)
			}
		}},
		{name: "key_management_endpoints/test_get_and_validate_existing_key", run: func(c *lcase) {
			refusedWith(c, 404, "POST", "/key/bulk_update", testMaster, map[string]any{"keys": []map[string]any{{"key": "sk-nope", "max_budget": 1.0}}}, "key not found")
		}},
		{name: "key_management_endpoints/test_process_single_key_update", run: func(c *lcase) {
			k := c.master("/key/generate", map[string]any{})["key"].(string)
			c.master("/key/bulk_update", map[string]any{"keys": []map[string]any{{"key": k, "max_budget": 9.0, "tags": []string{"a"}}}})
			if info := keyInfo(c, k); info["max_budget"] != 9.0 {
				c.t.Errorf("/key/info %v", info)
			}
			// An item takes LiteLLM's item fields only; budget_id is
			// refused as /key/update refuses it.
			refusedWith(c, 400, "POST", "/key/bulk_update", testMaster, map[string]any{"keys": []map[string]any{{"key": k, "models": []string{"x"}}}}, "keys[0].models")
			refusedWith(c, 400, "POST", "/key/bulk_update", testMaster, map[string]any{"keys": []map[string]any{{"key": k, "budget_id": "b"}}}, "keys[0].budget_id")
			refusedWith(c, 400, "POST", "/key/bulk_update", testMaster, map[string]any{"keys": []any{}}, "keys")
			refusedWith(c, 401, "POST", "/key/bulk_update", internalUser(c, "u1", nil), map[string]any{"keys": []map[string]any{{"key": k, "max_budget": 1.0}}}, onlyAdmin)
		}},
	})
}
