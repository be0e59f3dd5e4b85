package api

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// keyMgmtUsers adds the users and teams the key management cases share:
// internal users dev and dev2, a proxy_admin user boss; team t-dev
// (dev a plain member, dev2 its admin), team t-perm (dev and dev2 plain
// members its team_member_permissions allow /key/update, /key/delete and
// /key/regenerate), team t-other (nobody). It answers each user's
// plaintext key.
func keyMgmtUsers(c *lcase) map[string]string {
	c.t.Helper()
	keys := map[string]string{}
	for _, u := range []map[string]any{
		{"user_id": "dev", "user_role": "internal_user"},
		{"user_id": "dev2", "user_role": "internal_user"},
		{"user_id": "boss", "user_role": "proxy_admin"},
	} {
		keys[u["user_id"].(string)] = c.master("/user/new", u)["key"].(string)
	}
	c.master("/team/new", map[string]any{"team_id": "t-dev", "members_with_roles": []map[string]any{{"user_id": "dev", "role": "user"}, {"user_id": "dev2", "role": "admin"}}})
	c.master("/team/new", map[string]any{"team_id": "t-perm", "members_with_roles": []map[string]any{{"user_id": "dev", "role": "user"}, {"user_id": "dev2", "role": "user"}},
		"team_member_permissions": []string{"/key/update", "/key/delete", "/key/regenerate"}})
	c.master("/team/new", map[string]any{"team_id": "t-other"})
	return keys
}

// keyInfo is /key/info's "info" for key, read with the master key.
func keyInfo(c *lcase, key string) map[string]any {
	c.t.Helper()
	info, _ := c.ok("GET", "/key/info?key="+key, testMaster, nil)["info"].(map[string]any)
	return info
}

// untilTime is how far from now an RFC 3339 time in v is.
func untilTime(c *lcase, v any) time.Duration {
	c.t.Helper()
	s, _ := v.(string)
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		c.t.Fatalf("not a time: %v", v)
	}
	return time.Until(at)
}

// refusedWith asserts a refusal with code whose message holds want.
func refusedWith(c *lcase, code int, method, path, cred string, body map[string]any, want string) {
	c.t.Helper()
	if out := c.status(code, method, path, cred, body); !strings.Contains(errMessage(out), want) {
		c.t.Errorf("%s %s: message %q, want it to hold %q", method, path, errMessage(out), want)
	}
}

// refusedNaming asserts the master key's POST to path is a 400 naming field.
func refusedNaming(c *lcase, path, field string, body map[string]any) {
	c.t.Helper()
	refusedWith(c, 400, "POST", path, testMaster, body, field)
}

// TestLiteLLMKeyMgmtCases ports LiteLLM 2026's unit tests of the key
// endpoints, tests/test_litellm/proxy/management_endpoints/
// test_key_management_endpoints.py (and test_key_gen_duplicate.py,
// test_key_list_filter_conditions.py): LiteLLM calls its handlers with a
// caller (UserAPIKeyAuth) and mocked prisma; each row sends the same
// request to the same route over HTTP, as the master key or as a key of
// a user of that role, and asserts what the LiteLLM test asserts about
// the answer. Rows with skip say why the case is not ported; the tests of
// LiteLLM's internals (prisma where clauses, helper return values with
// no HTTP effect) are listed as skipped with the reason.
func TestLiteLLMKeyMgmtCases(t *testing.T) {
	const (
		noObjPerm = "object_permission is refused (README, Model access: gatehouse has no MCP servers, agents or vector stores), so no key carries one"
		resetNot  = "/key/{key}/reset_spend: spend is never zeroed, the ledger is append-only (README, Different on purpose); test_key_reset_spend_not_supported"
	)
	objectPermission := map[string]any{"vector_stores": []string{"my-vector"}, "mcp_servers": []string{"server_1"}}
	runLCases(t, []lcaseRow{
		{name: "test_list_keys", skip: internals + "the where clause leaving out LiteLLM's UI session keys (team litellm-dashboard); gatehouse has no UI session keys"},
		{name: "test_list_keys_include_created_by_keys", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			// A key dev made, since moved to dev2 by an admin.
			made := c.ok("POST", "/key/generate", keys["dev"], map[string]any{"key_alias": "made-by-dev"})
			c.master("/key/update", map[string]any{"key": made["key"], "user_id": "dev2"})
			has := func(q string) bool {
				list, _ := c.ok("GET", "/key/list?"+q, keys["dev"], nil)["keys"].([]any)
				for _, k := range list {
					if k == made["token"] {
						return true
					}
				}
				return false
			}
			if !has("include_created_by_keys=true") || has("include_created_by_keys=false") {
				c.t.Errorf("include_created_by_keys does not decide whether dev sees the key it created")
			}
		}},
		{name: "test_key_token_handling", run: func(c *lcase) {
			out := c.master("/key/generate", map[string]any{})
			if out["key"] == out["token"] || out["token"] != out["token_id"] || out["token"] != events.HashKey(out["key"].(string)) {
				c.t.Errorf("key %v token %v token_id %v", out["key"], out["token"], out["token_id"])
			}
		}},
		{name: "test_budget_reset_and_expires_at_first_of_month", run: func(c *lcase) {
			out := c.master("/key/generate", map[string]any{"budget_duration": "1mo", "duration": "1mo"})
			if d := untilTime(c, out["expires"]); d < 28*24*time.Hour-time.Second || d > 32*24*time.Hour {
				c.t.Errorf("expires in %v, want about a month", d)
			}
			if !firstOfNextMonth(out["budget_reset_at"]) {
				c.t.Errorf("budget_reset_at %v, want the 1st of next month at midnight", out["budget_reset_at"])
			}
		}},
		{name: "test_key_expiration_exact_duration_hours", run: func(c *lcase) {
			out := c.master("/key/generate", map[string]any{"duration": "12h"})
			if d := untilTime(c, out["expires"]); d < 11*time.Hour+59*time.Minute || d > 12*time.Hour+time.Minute {
				c.t.Errorf("expires in %v, want 12h", d)
			}
		}},
		{name: "test_key_generation_with_object_permission", run: func(c *lcase) {
			// Different on purpose (README, Model access): refused, naming it.
			refusedNaming(c, "/key/generate", "object_permission", map[string]any{"object_permission": objectPermission})
		}},
		{name: "test_generate_key_helper_fn_with_access_group_ids", run: func(c *lcase) {
			for _, g := range []string{"ag-1", "ag-2"} {
				c.master("/access_group/new", map[string]any{"access_group_id": g, "models": []string{"gpt-4o"}})
			}
			key := c.master("/key/generate", map[string]any{"user_id": "test-user", "access_group_ids": []string{"ag-1", "ag-2"}})["key"].(string)
			if got := keyInfo(c, key)["access_group_ids"]; !reflect.DeepEqual(got, []any{"ag-1", "ag-2"}) {
				c.t.Errorf("access_group_ids %v", got)
			}
		}},
		{name: "test_key_generation_with_mcp_tool_permissions", run: func(c *lcase) {
			refusedNaming(c, "/key/generate", "object_permission", map[string]any{"object_permission": map[string]any{
				"mcp_servers": []string{"server_1"}, "mcp_tool_permissions": map[string]any{"server_1": []string{"tool1"}}}})
		}},
		{name: "test_key_update_object_permissions_existing_permission", run: func(c *lcase) {
			key := c.master("/key/generate", map[string]any{"user_id": "user123"})["key"]
			refusedNaming(c, "/key/update", "object_permission", map[string]any{"key": key, "object_permission": objectPermission})
		}},
		{name: "test_key_update_object_permissions_no_existing_permission", skip: noObjPerm + "; the update is refused as in test_key_update_object_permissions_existing_permission"},
		{name: "test_key_update_object_permissions_missing_permission_record", skip: noObjPerm},
		{name: "test_key_info_returns_object_permission", skip: noObjPerm},
		{name: "test_get_new_token_with_valid_key", run: func(c *lcase) {
			key := c.master("/key/generate", map[string]any{})["key"]
			out := c.master("/key/regenerate", map[string]any{"key": key, "new_key": "sk-test123456789"})
			if out["key"] != "sk-test123456789" {
				c.t.Errorf("new key %v", out["key"])
			}
		}},
		{name: "test_key_generate custom key format (key_management_endpoints.py)", run: func(c *lcase) {
			out := c.status(400, "POST", "/key/generate", testMaster, map[string]any{"key": "abcd-not-a-virtual-key-wxyz"})
			if want := "Invalid key format. LiteLLM Virtual Key must start with 'sk-'. Received: abcd****wxyz"; errMessage(out) != want {
				c.t.Errorf("message %q, want %q", errMessage(out), want)
			}
			// LiteLLM sets no minimum length.
			if out := c.master("/key/generate", map[string]any{"key": "sk-short"}); out["key"] != "sk-short" {
				c.t.Errorf("/key/generate: %v", out)
			}
		}},
		{name: "test_get_new_token_with_invalid_key", run: func(c *lcase) {
			key := c.master("/key/generate", map[string]any{})["key"]
			refusedWith(c, 400, "POST", "/key/regenerate", testMaster, map[string]any{"key": key, "new_key": "invalid-key-123"}, "New key must start with 'sk-'")
		}},
		{name: "test_generate_service_account_requires_team_id", run: func(c *lcase) {
			refusedWith(c, 400, "POST", "/key/generate", testMaster, map[string]any{"metadata": map[string]any{"service_account_id": "sa"}}, "team_id is required for service account keys")
		}},
		{name: "test_generate_service_account_works_with_team_id", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "IJ"})
			c.master("/key/generate", map[string]any{"metadata": map[string]any{"service_account_id": "sa"}, "team_id": "IJ"})
		}},
		{name: "test_update_service_account_requires_team_id", run: func(c *lcase) {
			key := c.master("/key/generate", map[string]any{})["key"]
			refusedWith(c, 400, "POST", "/key/update", testMaster, map[string]any{"key": key, "metadata": map[string]any{"service_account_id": "sa"}}, "team_id is required for service account keys")
			if md := keyInfo(c, key.(string))["metadata"]; !reflect.DeepEqual(md, map[string]any{}) {
				c.t.Errorf("refused update half-applied: metadata %v", md)
			}
		}},
		{name: "test_update_service_account_works_with_team_id", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "IJ"})
			key := c.master("/key/generate", map[string]any{})["key"]
			c.master("/key/update", map[string]any{"key": key, "metadata": map[string]any{"service_account_id": "sa"}, "team_id": "IJ"})
		}},
		{name: "test_prepare_key_update_data_duration_never_expires", run: func(c *lcase) {
			key := c.master("/key/generate", map[string]any{"duration": "1h"})["key"].(string)
			// "-1", and null (LiteLLM 2026's spelling of it).
			for _, never := range []any{"-1", nil} {
				c.master("/key/update", map[string]any{"key": key, "duration": "1h"})
				c.master("/key/update", map[string]any{"key": key, "duration": never})
				if info := keyInfo(c, key); info["expires"] != nil {
					c.t.Errorf("duration %v: expires %v, want null (never)", never, info["expires"])
				}
			}
			c.master("/key/update", map[string]any{"key": key, "duration": "1h"})
			c.master("/key/update", map[string]any{"key": key, "max_budget": 1})
			if info := keyInfo(c, key); info["expires"] == nil {
				c.t.Error("an update without duration cleared the expiry")
			}
		}},
		{name: "test_validate_team_id_used_in_service_account_request_requires_team_id", run: func(c *lcase) {
			refusedWith(c, 400, "POST", "/key/service-account/generate", testMaster, map[string]any{}, "team_id is required for service account keys")
		}},
		{name: "test_validate_team_id_used_in_service_account_request_requires_prisma_client", skip: internals + "a missing database client"},
		{name: "test_validate_team_id_used_in_service_account_request_checks_team_exists", run: func(c *lcase) {
			refusedWith(c, 400, "POST", "/key/service-account/generate", testMaster, map[string]any{"team_id": "non-existent-team-id"}, "team_id does not exist in the database")
		}},
		{name: "test_validate_team_id_used_in_service_account_request_success", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "existing-team-id"})
			// LiteLLM's service account key belongs to the team, never to a user.
			out := c.master("/key/service-account/generate", map[string]any{"team_id": "existing-team-id", "user_id": "ignored"})
			if out["team_id"] != "existing-team-id" || out["user_id"] != nil {
				c.t.Errorf("service account key: %v", out)
			}
		}},
		{name: "test_generate_service_account_key_endpoint_validation", run: func(c *lcase) {
			c.status(400, "POST", "/key/service-account/generate", testMaster, map[string]any{"team_id": nil})
			c.status(400, "POST", "/key/service-account/generate", testMaster, map[string]any{"team_id": "non-existent-team"})
		}},
		{name: "test_unblock_key_supports_both_sk_and_hashed_tokens", run: func(c *lcase) {
			out := c.master("/key/generate", map[string]any{})
			for _, given := range []any{out["key"], out["token"]} {
				c.master("/key/block", map[string]any{"key": given})
				if res := c.master("/key/unblock", map[string]any{"key": given}); res["blocked"] != false {
					c.t.Errorf("unblock %v: %v", given, res)
				}
			}
		}},
		{name: "test_unblock_key_invalid_key_format", run: func(c *lcase) {
			c.status(400, "POST", "/key/unblock", testMaster, map[string]any{"key": "invalid-key-format"})
		}},
		{name: "test_validate_key_team_change_with_member_permissions", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			// dev is a plain member of t-perm, whose team_member_permissions
			// allow /key/update: it may move its own key into t-perm.
			key := c.ok("POST", "/key/generate", keys["dev"], map[string]any{})["key"]
			if out := c.ok("POST", "/key/update", keys["dev"], map[string]any{"key": key, "team_id": "t-perm"}); out["team_id"] != "t-perm" {
				c.t.Errorf("/key/update: %v", out)
			}
			// Not into t-dev, which leaves its plain members the defaults.
			key2 := c.ok("POST", "/key/generate", keys["dev"], map[string]any{})["key"]
			refusedWith(c, 403, "POST", "/key/update", keys["dev"], map[string]any{"key": key2, "team_id": "t-dev"}, "is not a Proxy Admin or Team Admin for team=t-dev")
		}},
		{name: "test_key_rotation_fields_helper", skip: internals + "a dict update inside the test itself"},
		{name: "test_update_key_fn_auto_rotate_enable", run: func(c *lcase) {
			// Different on purpose (README, Model access): scheduled
			// rotation is not supported, so asking for it is refused.
			key := c.master("/key/generate", map[string]any{"key_alias": "test-key"})["key"]
			refusedNaming(c, "/key/update", "auto_rotate", map[string]any{"key": key, "auto_rotate": true, "rotation_interval": "30d"})
		}},
		{name: "test_update_key_fn_auto_rotate_disable", run: func(c *lcase) {
			key := c.master("/key/generate", map[string]any{})["key"]
			c.master("/key/update", map[string]any{"key": key, "auto_rotate": false})
		}},
		{name: "test_check_team_key_limits_no_existing_keys", run: func(c *lcase) {
			// Different on purpose (README, Model access): guaranteed
			// throughput is refused; best effort (LiteLLM's default) is
			// what every limit is.
			c.master("/team/new", map[string]any{"team_id": "test-team-123", "tpm_limit": 10000, "rpm_limit": 1000})
			refusedNaming(c, "/key/generate", "limit_type", map[string]any{"team_id": "test-team-123", "tpm_limit": 5000, "rpm_limit": 500,
				"tpm_limit_type": "guaranteed_throughput", "rpm_limit_type": "guaranteed_throughput"})
			c.master("/key/generate", map[string]any{"team_id": "test-team-123", "tpm_limit": 5000, "rpm_limit": 500,
				"tpm_limit_type": "best_effort_throughput", "rpm_limit_type": "best_effort_throughput"})
		}},
		{name: "test_check_team_key_limits_with_existing_keys_within_bounds", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-456", "tpm_limit": 10000, "rpm_limit": 1000})
			for _, l := range [][2]any{{3000, 200}, {2000, 300}, {nil, nil}, {4000, 400}} {
				c.master("/key/generate", map[string]any{"team_id": "test-team-456", "tpm_limit": l[0], "rpm_limit": l[1]})
			}
		}},
		{name: "test_check_team_key_limits_tpm_overallocation", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-789", "tpm_limit": 10000, "rpm_limit": 1000})
			refusedNaming(c, "/key/generate", "tpm_limit_type", map[string]any{"team_id": "test-team-789", "tpm_limit": 2000, "tpm_limit_type": "guaranteed_throughput"})
		}},
		{name: "test_check_team_key_limits_rpm_overallocation", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-101", "tpm_limit": 10000, "rpm_limit": 1000})
			refusedNaming(c, "/key/generate", "rpm_limit_type", map[string]any{"team_id": "test-team-101", "rpm_limit": 200, "rpm_limit_type": "guaranteed_throughput"})
		}},
		{name: "test_check_team_key_limits_no_team_limits", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-202"})
			c.master("/key/generate", map[string]any{"team_id": "test-team-202", "tpm_limit": 5000, "rpm_limit": 500})
			c.master("/key/generate", map[string]any{"team_id": "test-team-202", "tpm_limit": 10000, "rpm_limit": 2000})
		}},
		{name: "test_check_team_key_limits_no_key_limits", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-303", "tpm_limit": 10000, "rpm_limit": 1000})
			c.master("/key/generate", map[string]any{"team_id": "test-team-303", "tpm_limit": 8000, "rpm_limit": 800})
			c.master("/key/generate", map[string]any{"team_id": "test-team-303", "tpm_limit": nil, "rpm_limit": nil})
		}},
		{name: "test_check_team_key_limits_mixed_scenarios", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-404", "tpm_limit": 10000})
			for _, l := range [][2]any{{3000, nil}, {nil, 400}, {2000, 300}, {4000, nil}} {
				c.master("/key/generate", map[string]any{"team_id": "test-team-404", "tpm_limit": l[0], "rpm_limit": l[1]})
			}
		}},
		{name: "test_check_team_key_limits_exact_boundary", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-505", "tpm_limit": 10000, "rpm_limit": 1000})
			c.master("/key/generate", map[string]any{"team_id": "test-team-505", "tpm_limit": 7000, "rpm_limit": 700})
			c.master("/key/generate", map[string]any{"team_id": "test-team-505", "tpm_limit": 3000, "rpm_limit": 300})
		}},
		{name: "test_check_team_key_model_specific_limits_no_limits", run: func(c *lcase) {
			c.master("/key/generate", map[string]any{"model_rpm_limit": nil, "model_tpm_limit": nil})
		}},
		{name: "test_check_team_key_model_specific_limits_rpm_overallocation", run: func(c *lcase) {
			// Different on purpose (README, Model access): per-model limits
			// are refused, naming the field.
			refusedNaming(c, "/key/generate", "model_rpm_limit", map[string]any{"model_rpm_limit": map[string]any{"gpt-4": 300}})
		}},
		{name: "test_check_team_key_model_specific_limits_team_model_rpm_overallocation", run: func(c *lcase) {
			refusedNaming(c, "/team/new", "model_rpm_limit", map[string]any{"metadata": map[string]any{"model_rpm_limit": map[string]any{"gpt-4": 700}}})
		}},
		{name: "test_check_team_key_model_specific_limits_team_model_tpm_overallocation", run: func(c *lcase) {
			refusedNaming(c, "/key/generate", "model_tpm_limit", map[string]any{"model_tpm_limit": map[string]any{"gpt-4": 2000}})
		}},
		{name: "test_generate_key_with_object_permission", run: func(c *lcase) {
			refusedNaming(c, "/key/generate", "object_permission", map[string]any{"models": []string{"gpt-4"}, "object_permission": objectPermission})
		}},
		{name: "test_check_org_key_limits_no_existing_keys", run: func(c *lcase) {
			// Guaranteed throughput is refused (see
			// test_check_team_key_limits_no_existing_keys), for an
			// organization's keys too.
			c.master("/organization/new", map[string]any{"organization_id": "test-org-123", "organization_alias": "test-org", "tpm_limit": 20000, "rpm_limit": 2000})
			refusedNaming(c, "/key/generate", "limit_type", map[string]any{"organization_id": "test-org-123", "tpm_limit": 10000, "rpm_limit": 1000,
				"tpm_limit_type": "guaranteed_throughput", "rpm_limit_type": "guaranteed_throughput"})
		}},
		{name: "test_check_org_key_limits_with_existing_keys_within_bounds", skip: "guaranteed throughput is refused (test_check_org_key_limits_no_existing_keys)"},
		{name: "test_check_org_key_limits_tpm_overallocation", skip: "guaranteed throughput is refused (test_check_org_key_limits_no_existing_keys)"},
		{name: "test_check_org_key_limits_rpm_overallocation", skip: "guaranteed throughput is refused (test_check_org_key_limits_no_existing_keys)"},
		{name: "test_check_org_key_limits_no_org_limits", skip: "guaranteed throughput is refused (test_check_org_key_limits_no_existing_keys)"},
		{name: "test_check_org_key_model_specific_limits_no_limits", skip: "per-model limits are refused (test_check_team_key_model_specific_limits_*)"},
		{name: "test_check_org_key_model_specific_limits_rpm_overallocation", skip: "per-model limits are refused (test_check_team_key_model_specific_limits_*)"},
		{name: "test_check_org_key_model_specific_limits_org_model_rpm_overallocation", skip: "per-model limits are refused (test_check_team_key_model_specific_limits_*)"},
		{name: "test_check_org_key_model_specific_limits_org_model_tpm_overallocation", skip: "per-model limits are refused (test_check_team_key_model_specific_limits_*)"},
		{name: "test_transform_verification_tokens_to_deleted_records", skip: internals + "the deleted-keys table rows (a deleted key's last state is in the audit stream: gatewayctl state --at)"},
		{name: "test_transform_verification_tokens_to_deleted_records_empty_list", skip: internals + "the deleted-keys table rows"},
		{name: "test_save_deleted_verification_token_records", skip: internals + "the deleted-keys table rows"},
		{name: "test_save_deleted_verification_token_records_empty_list", skip: internals + "the deleted-keys table rows"},
		{name: "test_persist_deleted_verification_tokens", skip: internals + "the deleted-keys table rows"},
		{name: "test_delete_verification_tokens_persists_deleted_keys", skip: internals + "the deleted-keys table rows; the answer is test_delete_key_fn_persists_deleted_keys"},
		{name: "test_delete_key_fn_persists_deleted_keys", run: func(c *lcase) {
			key := c.master("/key/generate", map[string]any{"user_id": "user-123", "key_alias": "test-key-1"})["key"]
			if out := c.master("/key/delete", map[string]any{"keys": []any{key}}); !reflect.DeepEqual(out["deleted_keys"], []any{key}) {
				c.t.Errorf("/key/delete: %v", out)
			}
		}},
		{name: "test_can_delete_verification_token_proxy_admin_team_key", run: func(c *lcase) {
			// dev2 is t-dev's admin: it deletes dev's key of t-dev.
			keys := keyMgmtUsers(c)
			key := c.master("/key/generate", map[string]any{"user_id": "dev", "team_id": "t-dev"})["key"]
			c.ok("POST", "/key/delete", keys["dev2"], map[string]any{"keys": []any{key}})
		}},
		{name: "test_can_delete_verification_token_team_admin_different_team", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			key := c.master("/key/generate", map[string]any{"user_id": "dev", "team_id": "t-perm"})["key"]
			refusedWith(c, 403, "POST", "/key/delete", keys["dev2"], map[string]any{"keys": []any{key}}, "You are not authorized to delete this key")
		}},
		{name: "test_can_delete_verification_token_key_owner_team_key", run: func(c *lcase) {
			// dev, a plain member of t-dev, deletes its own key of t-dev.
			keys := keyMgmtUsers(c)
			key := c.master("/key/generate", map[string]any{"user_id": "dev", "team_id": "t-dev"})["key"]
			c.ok("POST", "/key/delete", keys["dev"], map[string]any{"keys": []any{key}})
		}},
		{name: "test_can_delete_verification_token_key_owner_personal_key", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			key := c.master("/key/generate", map[string]any{"user_id": "dev"})["key"]
			c.ok("POST", "/key/delete", keys["dev"], map[string]any{"keys": []any{key}})
		}},
		{name: "test_can_delete_verification_token_other_user_team_key", run: func(c *lcase) {
			// dev2's key of t-perm: dev, a plain member there, is neither
			// its owner nor the team's admin, even though t-perm's
			// team_member_permissions list /key/delete.
			keys := keyMgmtUsers(c)
			key := c.master("/key/generate", map[string]any{"user_id": "dev2", "team_id": "t-perm"})["key"]
			refusedWith(c, 403, "POST", "/key/delete", keys["dev"], map[string]any{"keys": []any{key}}, "You are not authorized to delete this key")
		}},
		{name: "test_can_delete_verification_token_other_user_personal_key", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			c.status(403, "POST", "/key/delete", keys["dev"], map[string]any{"keys": []any{keys["dev2"]}})
		}},
		{name: "test_can_delete_verification_token_team_key_no_team_found", skip: "a team's deletion deletes its keys in gatehouse, so no key names a team that does not exist"},
		{name: "test_can_delete_verification_token_personal_key_no_user_id", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			key := c.master("/key/generate", map[string]any{})["key"]
			c.status(403, "POST", "/key/delete", keys["dev"], map[string]any{"keys": []any{key}})
		}},
		{name: "test_can_modify_verification_token_proxy_admin_team_key", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			key := c.master("/key/generate", map[string]any{"user_id": "dev", "team_id": "t-dev"})["key"]
			c.ok("POST", "/key/regenerate", keys["boss"], map[string]any{"key": key})
		}},
		{name: "test_can_modify_verification_token_proxy_admin_personal_key", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			c.ok("POST", "/key/regenerate", keys["boss"], map[string]any{"key": keys["dev"]})
		}},
		{name: "test_can_modify_verification_token_team_admin_own_team", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			key := c.master("/key/generate", map[string]any{"user_id": "dev", "team_id": "t-dev"})["key"]
			c.ok("POST", "/key/regenerate", keys["dev2"], map[string]any{"key": key})
		}},
		{name: "test_can_modify_verification_token_team_admin_different_team", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			key := c.master("/key/generate", map[string]any{"user_id": "dev", "team_id": "t-perm"})["key"]
			c.status(403, "POST", "/key/regenerate", keys["dev2"], map[string]any{"key": key})
		}},
		{name: "test_can_modify_verification_token_key_owner_team_key", run: func(c *lcase) {
			// LiteLLM's /key/regenerate checks the team member permission
			// first (can_team_member_execute_key_management_endpoint): the
			// owner is a plain member of t-perm, which grants the route.
			keys := keyMgmtUsers(c)
			key := c.master("/key/generate", map[string]any{"user_id": "dev", "team_id": "t-perm"})["key"]
			c.ok("POST", "/key/regenerate", keys["dev"], map[string]any{"key": key})
		}},
		{name: "test_can_modify_verification_token_key_owner_personal_key", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			key := c.master("/key/generate", map[string]any{"user_id": "dev"})["key"]
			c.ok("POST", "/key/regenerate", keys["dev"], map[string]any{"key": key})
		}},
		{name: "test_can_modify_verification_token_other_user_team_key", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			key := c.master("/key/generate", map[string]any{"user_id": "dev2", "team_id": "t-perm"})["key"]
			refusedWith(c, 403, "POST", "/key/regenerate", keys["dev"], map[string]any{"key": key}, "You are not authorized to regenerate this key")
		}},
		{name: "test_can_modify_verification_token_other_user_personal_key", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			refusedWith(c, 403, "POST", "/key/regenerate", keys["dev"], map[string]any{"key": keys["dev2"]}, "You are not authorized to regenerate this key")
		}},
		{name: "test_can_modify_verification_token_team_key_no_team_found", skip: "a team's deletion deletes its keys in gatehouse, so no key names a team that does not exist"},
		{name: "test_can_modify_verification_token_personal_key_no_user_id", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			key := c.master("/key/generate", map[string]any{})["key"]
			c.status(403, "POST", "/key/regenerate", keys["dev"], map[string]any{"key": key})
		}},
		{name: "test_list_keys_with_expand_user", skip: "not implemented: /key/list?expand=user is a 400 naming expand (a list route's unknown query parameter, README Model access)"},
		{name: "test_list_keys_with_status_deleted", skip: "not implemented: gatehouse keeps no deleted-keys table (a deleted key's last state is in the audit stream: gatewayctl state --at); /key/list?status= is a 400 naming status"},
		{name: "test_list_keys_with_invalid_status", run: func(c *lcase) {
			refusedWith(c, 400, "GET", "/key/list?status=invalid_status", testMaster, nil, "status")
		}},
		{name: "test_list_keys_non_admin_user_id_auto_set", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			c.master("/key/generate", map[string]any{"user_id": "dev2"})
			list, _ := c.ok("GET", "/key/list?return_full_object=true", keys["dev"], nil)["keys"].([]any)
			if len(list) == 0 {
				c.t.Fatal("dev lists no key")
			}
			for _, k := range list {
				if k.(map[string]any)["user_id"] != "dev" {
					c.t.Errorf("dev lists %v", k)
				}
			}
		}},
		{name: "test_generate_key_negative_max_budget", run: func(c *lcase) {
			// LiteLLM's model accepts it; its handler refuses it
			// (test_validate_max_budget).
			refusedWith(c, 400, "POST", "/key/generate", testMaster, map[string]any{"max_budget": -7.0}, "max_budget cannot be negative")
		}},
		{name: "test_generate_key_negative_soft_budget", run: func(c *lcase) {
			refusedWith(c, 400, "POST", "/key/generate", testMaster, map[string]any{"soft_budget": -10.0}, "soft_budget cannot be negative")
		}},
		{name: "test_generate_key_positive_budgets_accepted", run: func(c *lcase) {
			out := c.master("/key/generate", map[string]any{"max_budget": 100.0, "soft_budget": 50.0})
			if out["max_budget"] != 100.0 {
				c.t.Errorf("max_budget %v", out["max_budget"])
			}
		}},
		{name: "test_update_key_negative_max_budget", run: func(c *lcase) {
			key := c.master("/key/generate", map[string]any{})["key"]
			refusedWith(c, 400, "POST", "/key/update", testMaster, map[string]any{"key": key, "max_budget": -5.0}, "max_budget cannot be negative")
		}},
		{name: "test_generate_key_with_router_settings", run: func(c *lcase) {
			// Different on purpose: router settings are per model group.
			refusedNaming(c, "/key/generate", "router_settings", map[string]any{"models": []string{"gpt-4"}, "router_settings": map[string]any{"num_retries": 3}})
		}},
		{name: "test_update_key_with_router_settings", run: func(c *lcase) {
			key := c.master("/key/generate", map[string]any{})["key"]
			refusedNaming(c, "/key/update", "router_settings", map[string]any{"key": key, "router_settings": map[string]any{"num_retries": 2}})
		}},
		{name: "test_validate_max_budget", run: func(c *lcase) {
			for _, b := range []any{100.0, 0.0, nil} {
				c.master("/key/generate", map[string]any{"max_budget": b})
			}
			c.status(400, "POST", "/key/generate", testMaster, map[string]any{"max_budget": -10.0})
		}},
		{name: "test_get_and_validate_existing_key", skip: "ported in TestLiteLLMSelfServeCases (/key/bulk_update)"},
		{name: "test_process_single_key_update", skip: "ported in TestLiteLLMSelfServeCases (/key/bulk_update)"},
		{name: "test_bulk_update_keys_success", skip: "ported in TestLiteLLMSelfServeCases (/key/bulk_update)"},
		{name: "test_bulk_update_keys_partial_failures", skip: "ported in TestLiteLLMSelfServeCases (/key/bulk_update)"},
		{name: "test_validate_reset_spend_value_invalid", skip: resetNot},
		{name: "test_validate_reset_spend_value_valid", skip: resetNot},
		{name: "test_validate_reset_spend_value_no_budget_table", skip: resetNot},
		{name: "test_validate_reset_spend_value_none_spend", skip: resetNot},
		{name: "test_reset_key_spend_success", skip: resetNot},
		{name: "test_reset_key_spend_success_team_admin", skip: resetNot},
		{name: "test_reset_key_spend_key_not_found", skip: resetNot},
		{name: "test_reset_key_spend_db_not_connected", skip: internals + "a missing database client"},
		{name: "test_reset_key_spend_validation_error", skip: resetNot},
		{name: "test_reset_key_spend_authorization_failure", skip: resetNot},
		{name: "test_reset_key_spend_hashed_key", skip: resetNot},
		{name: "test_validate_key_list_check_proxy_admin", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			c.ok("GET", "/key/list?user_id=dev&team_id=t-dev", keys["boss"], nil)
		}},
		{name: "test_validate_key_list_check_team_admin_success", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			c.ok("GET", "/key/list?team_id=t-dev", keys["dev"], nil)
		}},
		{name: "test_validate_key_list_check_team_admin_fail", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			refusedWith(c, 403, "GET", "/key/list?team_id=t-other", keys["dev"], nil, "not authorized to check this team's keys")
		}},
		{name: "test_validate_key_list_check_key_hash_authorized", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			list, _ := c.ok("GET", "/key/list?key_hash="+events.HashKey(keys["dev"]), keys["dev"], nil)["keys"].([]any)
			if len(list) != 1 {
				c.t.Errorf("keys %v", list)
			}
		}},
		{name: "test_validate_key_list_check_key_hash_unauthorized", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			out := c.status(403, "GET", "/key/list?key_hash="+events.HashKey(keys["dev2"]), keys["dev"], nil)
			if !strings.Contains(errMessage(out), "not allowed to access this key's info") {
				c.t.Errorf("message %q", errMessage(out))
			}
		}},
		{name: "test_validate_key_list_check_key_hash_not_found", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			out := c.status(403, "GET", "/key/list?key_hash="+events.HashKey("sk-not-a-key-of-anyone-here"), keys["dev"], nil)
			if !strings.Contains(errMessage(out), "Key Hash not found") {
				c.t.Errorf("message %q", errMessage(out))
			}
		}},
		{name: "test_validate_key_list_check another user's keys", run: func(c *lcase) {
			// validate_key_list_check's user_id branch.
			keys := keyMgmtUsers(c)
			refusedWith(c, 403, "GET", "/key/list?user_id=dev2", keys["dev"], nil, "not authorized to check another user's keys")
		}},
		{name: "test_default_key_generate_params_duration", opts: Options{KeyDefaults: &KeyParams{Duration: "180d"}}, run: func(c *lcase) {
			out := c.master("/key/generate", map[string]any{})
			if d := daysAhead(out["expires"]); d != 180 {
				c.t.Errorf("expires %v: %d days ahead, want 180", out["expires"], d)
			}
		}},
		{name: "test_key_gen_duplicate/test_generate_key_with_duplicate_raises_error", run: func(c *lcase) {
			c.master("/key/generate", map[string]any{"key": "sk-existing-key-0123456789"})
			refusedWith(c, 400, "POST", "/key/generate", testMaster, map[string]any{"key": "sk-existing-key-0123456789", "key_alias": "duplicate test"}, "Key already exists")
		}},
		{name: "test_key_list_filter_conditions/test_explicit_user_id_narrows_across_team_visibility", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			c.master("/key/generate", map[string]any{"user_id": "dev", "team_id": "t-dev"})
			list, _ := c.ok("GET", "/key/list?include_team_keys=true&user_id=dev2&return_full_object=true", keys["dev2"], nil)["keys"].([]any)
			for _, k := range list {
				if k.(map[string]any)["user_id"] != "dev2" {
					c.t.Errorf("user_id=dev2 lists %v", k)
				}
			}
		}},
		{name: "test_key_list_filter_conditions/test_explicit_key_alias_narrows_across_team_visibility", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			c.master("/key/generate", map[string]any{"user_id": "dev", "team_id": "t-dev", "key_alias": "my-alias"})
			c.master("/key/generate", map[string]any{"user_id": "dev", "team_id": "t-dev", "key_alias": "other-alias"})
			list, _ := c.ok("GET", "/key/list?include_team_keys=true&key_alias=my-alias&return_full_object=true", keys["dev2"], nil)["keys"].([]any)
			if len(list) != 1 || list[0].(map[string]any)["key_alias"] != "my-alias" {
				c.t.Errorf("key_alias=my-alias lists %v", list)
			}
		}},
		{name: "test_key_list_filter_conditions/test_implicit_self_scope_does_not_filter_team_keys", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			tok := c.master("/key/generate", map[string]any{"user_id": "dev", "team_id": "t-dev"})["token"]
			list, _ := c.ok("GET", "/key/list?include_team_keys=true", keys["dev2"], nil)["keys"].([]any)
			found := false
			for _, k := range list {
				found = found || k == tok
			}
			if !found {
				c.t.Errorf("t-dev's admin does not see dev's key of t-dev: %v", list)
			}
		}},
		{name: "test_key_list_filter_conditions/test_substring_matching_uses_contains_for_global_filters", skip: "not implemented: LiteLLM's UI substring matching of /key/list filters has no query parameter of its own in key_management_endpoints.py's list_keys"},
	})
}
