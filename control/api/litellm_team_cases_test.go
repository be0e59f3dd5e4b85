package api

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/control/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// teamInfoOf is /team/info's team_info for id, read with the master key.
func teamInfoOf(c *lcase, id string) map[string]any {
	c.t.Helper()
	info, _ := c.ok("GET", "/team/info?team_id="+id, testMaster, nil)["team_info"].(map[string]any)
	return info
}

// memberBudgetTable is team_info's team_member_budget_table of id.
func memberBudgetTable(c *lcase, id string) map[string]any {
	c.t.Helper()
	tbl, _ := teamInfoOf(c, id)["team_member_budget_table"].(map[string]any)
	return tbl
}

// TestLiteLLMTeamCases ports LiteLLM 2026's unit tests of the team
// endpoints, tests/test_litellm/proxy/management_endpoints/
// test_team_endpoints.py: LiteLLM calls its handlers with a caller
// (UserAPIKeyAuth) and mocked prisma; each row sends the same request to
// the same route over HTTP, as the master key or as a key of a user of
// that role, and asserts what the LiteLLM test asserts about the answer.
// Rows with skip say why the case is not ported.
func TestLiteLLMTeamCases(t *testing.T) {
	const (
		internals  = "LiteLLM internals (no HTTP behaviour): "
		elsewhere  = "covered elsewhere: "
		adminOnly  = "/team/update is admin only in gatehouse (README, deliberate differences); LiteLLM lets a team's admin update it: "
		orgTeams   = "an org admin creating a team in its organization is not implemented: /team/new with organization_id is admin only (README, deliberate differences): "
		selfServed = "ported in TestLiteLLMSelfServeCases (team_endpoints/<this name>): an internal_user creating a team under allow_user_team_creation"
		noAvail    = "gatehouse has no self-service joining: /team/available is always empty (README, Admin API), so no team is joinable by a non-admin"
		noSoft     = "soft_budget is accepted with a warning and not kept (README, Model access), so no team has an existing soft_budget to compare with"
		notServed  = "not implemented: "
		deleted    = "gatehouse keeps no deleted-teams table (a deleted team's last state is in the audit stream: gatewayctl state --at)"
	)
	objectPermission := map[string]any{"vector_stores": []string{"my-vector"}}
	for _, tc := range []struct {
		name string
		skip string
		opts Options
		run  func(c *lcase)
	}{
		{name: "test_validate_team_org_change_same_org_id", skip: elsewhere + "organizations (validate_team_org_change's org limits)"},
		{name: "test_validate_team_org_change_members_in_org", skip: elsewhere + "organizations"},
		{name: "test_validate_team_org_change_member_not_in_org", skip: elsewhere + "organizations"},
		{name: "test_get_team_permissions_list_success", run: func(c *lcase) {
			perms := []string{"/key/generate", "/key/update"}
			c.master("/team/new", map[string]any{"team_id": "test-team-123", "team_alias": "Test Team", "team_member_permissions": perms})
			out := c.ok("GET", "/team/permissions_list?team_id=test-team-123", testMaster, nil)
			if out["team_id"] != "test-team-123" || !reflect.DeepEqual(out["team_member_permissions"], []any{"/key/generate", "/key/update"}) {
				c.t.Errorf("permissions_list: %v", out)
			}
			if all, _ := out["all_available_permissions"].([]any); len(all) == 0 {
				c.t.Errorf("all_available_permissions: %v", out["all_available_permissions"])
			}
		}},
		{name: "test_update_team_permissions_success", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-456", "team_alias": "Existing Team", "team_member_permissions": []string{"/key/info"}})
			out := c.master("/team/permissions_update", map[string]any{"team_id": "test-team-456", "team_member_permissions": []string{"/key/generate", "/key/update"}})
			if out["team_id"] != "test-team-456" || out["team_alias"] != "Existing Team" || !reflect.DeepEqual(out["team_member_permissions"], []any{"/key/generate", "/key/update"}) {
				c.t.Errorf("permissions_update answers %v", out)
			}
		}},
		{name: "test_new_team_with_object_permission", run: func(c *lcase) {
			// Different on purpose (README, Model access): refused, naming it.
			refusedNaming(c, "/team/new", "object_permission", map[string]any{"team_alias": "my-team", "object_permission": objectPermission})
		}},
		{name: "test_new_team_with_mcp_tool_permissions", run: func(c *lcase) {
			refusedNaming(c, "/team/new", "object_permission", map[string]any{"team_alias": "mcp-team", "object_permission": map[string]any{
				"mcp_servers": []string{"server_a"}, "mcp_tool_permissions": map[string]any{"server_a": []string{"read_wiki_structure"}}}})
		}},
		{name: "test_should_auto_add_team_creator", run: func(c *lcase) {
			// LiteLLM's parametrized rows: (role, user_id,
			// disable_auto_add_proxy_admin_to_teams) → creator added. The
			// org_admin row is not ported (gatehouse has no org-admin team
			// creation); the master key is a proxy admin without a user_id.
			for _, r := range []struct {
				role    string
				disable bool
				added   bool
			}{{"proxy_admin", true, false}, {"proxy_admin", false, true}, {"internal_user", true, true}} {
				_, js := testutil.NewJetStream(c.t)
				sub := &lcase{t: c.t, app: New(storetest.New(c.t, js), Options{MasterKey: testMaster, AllowUserTeamCreation: true, DisableAutoAddProxyAdminToTeams: r.disable})}
				key := userKey(sub, "creator", r.role)
				team := sub.ok("POST", "/team/new", key, map[string]any{})
				if got := membersOf(team)["creator"] == "admin"; got != r.added {
					c.t.Errorf("%+v: members %v", r, team["members_with_roles"])
				}
				if team = sub.master("/team/new", map[string]any{}); len(membersOf(team)) != 0 {
					c.t.Errorf("master key's team: members %v, want none", team["members_with_roles"])
				}
			}
		}},
		{name: "test_new_team_disable_auto_add_proxy_admin_flag", opts: Options{DisableAutoAddProxyAdminToTeams: true}, run: func(c *lcase) {
			key := userKey(c, "admin-1", "proxy_admin")
			team := c.ok("POST", "/team/new", key, map[string]any{"team_alias": "t", "members_with_roles": []map[string]any{{"user_id": "listed", "role": "user"}}})
			if !reflect.DeepEqual(membersOf(team), map[string]any{"listed": "user"}) {
				c.t.Errorf("members %v: the listed member only", team["members_with_roles"])
			}
		}},
		{name: "test_team_update_object_permissions_existing_permission", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test_team_id"})
			refusedNaming(c, "/team/update", "object_permission", map[string]any{"team_id": "test_team_id", "team_alias": "updated_team",
				"object_permission": map[string]any{"vector_stores": []string{"new_store_1"}}})
			if info := teamInfoOf(c, "test_team_id"); info["team_alias"] != nil && info["team_alias"] != "" {
				c.t.Errorf("a refused update changed team_alias: %v", info["team_alias"])
			}
		}},
		{name: "test_team_update_object_permissions_no_existing_permission", skip: "object_permission is refused (test_team_update_object_permissions_existing_permission)"},
		{name: "test_team_update_object_permissions_missing_permission_record", skip: "object_permission is refused (test_team_update_object_permissions_existing_permission)"},
		{name: "test_team_member_add_duplication_check_raises_proxy_exception", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-123", "members_with_roles": []map[string]any{{"user_id": "existing-user-id", "role": "user"}, {"user_id": "another-user-id", "role": "admin"}}})
			out := c.status(400, "POST", "/team/member_add", testMaster, map[string]any{"team_id": "test-team-123", "member": map[string]any{"user_id": "existing-user-id", "role": "user"}})
			if errType(out) != "team_member_already_in_team" || !strings.Contains(errMessage(out), "existing-user-id") || !strings.Contains(errMessage(out), "already in team") {
				c.t.Errorf("duplicate member_add: %v", out)
			}
			if e, _ := out["error"].(map[string]any); e["param"] != "member" || e["code"] != "400" {
				c.t.Errorf("param %v code %v, want member and 400", e["param"], e["code"])
			}
		}},
		{name: "test_team_member_add_duplication_check_allows_new_member", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-123", "members_with_roles": []map[string]any{{"user_id": "existing-user-id", "role": "user"}}})
			c.master("/team/member_add", map[string]any{"team_id": "test-team-123", "member": map[string]any{"user_id": "new-user-id", "role": "user"}})
		}},
		{name: "test_add_team_member_budget_table_success", skip: internals + "the budget row lookup; /team/info's team_member_budget_table is test_create_team_member_budget_table_with_duration"},
		{name: "test_add_team_member_budget_table_exception_handling", skip: internals + "a failing budget lookup"},
		{name: "test_add_team_member_budget_table_budget_not_found", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-789", "team_alias": "Test Team 3"})
			if info := teamInfoOf(c, "test-team-789"); info["team_member_budget_table"] != nil {
				c.t.Errorf("a team without member defaults has team_member_budget_table %v", info["team_member_budget_table"])
			}
		}},
		{name: "test_add_new_models_to_team", skip: notServed + "/team/model/add and /team/model/delete are not served; set models with /team/update"},
		{name: "test_validate_team_member_add_permissions_admin", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-123"})
			c.master("/team/member_add", map[string]any{"team_id": "test-team-123", "member": map[string]any{"user_id": "any-user", "role": "admin"}})
		}},
		{name: "test_validate_team_member_add_permissions_non_admin", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			c.master("/team/new", map[string]any{"team_id": "test-team-123"})
			// LiteLLM: 403 "not proxy admin OR team admin"; /team/member_add
			// is admin only here (README, Admin API), LiteLLM's 401.
			refusedWith(c, 401, "POST", "/team/member_add", keys["dev"], map[string]any{"team_id": "test-team-123", "member": map[string]any{"user_id": "regular-user", "role": "user"}}, "Only proxy admin")
		}},
		{name: "test_available_team_self_join_with_caller_user_id_allowed", skip: noAvail},
		{name: "test_available_team_self_join_blocks_admin_role", skip: noAvail},
		{name: "test_available_team_self_join_blocks_other_user_id", skip: noAvail},
		{name: "test_available_team_self_join_blocks_when_caller_has_no_user_id", skip: noAvail},
		{name: "test_available_team_self_join_blocks_email_only_member", skip: noAvail},
		{name: "test_available_team_self_join_blocks_admin_role_in_member_list", skip: noAvail},
		{name: "test_available_team_self_join_blocks_member_budget_controls", skip: noAvail},
		{name: "test_available_team_self_join_allows_no_budget_controls", skip: noAvail},
		{name: "test_update_team_member_permissions_blocks_non_admin_via_available_team", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			c.master("/team/new", map[string]any{"team_id": "public-team", "team_alias": "Public Team"})
			out := c.status(403, "POST", "/team/permissions_update", keys["dev"], map[string]any{"team_id": "public-team", "team_member_permissions": []string{"/key/generate"}})
			if !strings.Contains(errMessage(out), "not proxy admin") {
				c.t.Errorf("message %q", errMessage(out))
			}
		}},
		{name: "test_process_team_members_single_member", skip: internals + "add_new_member's arguments"},
		{name: "test_process_team_members_multiple_members", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-123"})
			out := c.master("/team/member_add", map[string]any{"team_id": "test-team-123", "max_budget_in_team": 100.0,
				"member": []map[string]any{{"user_id": "user1", "user_email": "user1@example.com", "role": "user"}, {"user_id": "user2", "user_email": "user2@example.com", "role": "admin"}}})
			if ids := memberIDs(out["members_with_roles"]); !contains(ids, "user1") || !contains(ids, "user2") {
				c.t.Errorf("members %v", ids)
			}
		}},
		{name: "test_update_team_members_list_single_member", skip: internals + "the in-memory member list (test_process_team_members_multiple_members)"},
		{name: "test_update_team_members_list_duplicate_prevention", skip: internals + "the in-memory member list (test_team_member_add_duplication_check_raises_proxy_exception)"},
		{name: "test_add_team_members_reconciles_against_freshly_locked_row", run: func(c *lcase) {
			// gatehouse's writes are read-modify-write with the stream's
			// expected sequence: no member_add overwrites another's.
			c.master("/team/new", map[string]any{"team_id": "test-team-lock", "members_with_roles": []map[string]any{{"user_id": "zed", "role": "user"}}})
			c.master("/team/member_add", map[string]any{"team_id": "test-team-lock", "member": map[string]any{"user_id": "alice", "role": "user"}})
			out := c.master("/team/member_add", map[string]any{"team_id": "test-team-lock", "member": map[string]any{"user_id": "bob", "role": "user"}})
			if ids := memberIDs(out["members_with_roles"]); !reflect.DeepEqual(ids, []string{"zed", "alice", "bob"}) {
				c.t.Errorf("members %v", ids)
			}
		}},
		{name: "test_add_new_models_to_team_with_existing_models", skip: notServed + "/team/model/add is not served"},
		{name: "test_team_model_add_delete_refresh_team_cache", skip: notServed + "/team/model/add and /team/model/delete are not served (every change reaches every edge before the answer, README Architecture)"},
		{name: "test_update_team_team_member_budget_not_passed_to_db", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test_team_id", "team_alias": "test_team"})
			c.master("/team/update", map[string]any{"team_id": "test_team_id", "team_member_budget": 100.0, "team_alias": "updated_alias"})
			// LiteLLM keeps the defaults in a budget row, not the team's
			// row; gatehouse's team object also carries them at its top
			// level (team_member_budget, ...: the event's fields), which
			// LiteLLM's answers do not (not changed: the event's shape).
			if info := teamInfoOf(c, "test_team_id"); info["team_alias"] != "updated_alias" {
				c.t.Errorf("team_info %v", info)
			}
			if tbl := memberBudgetTable(c, "test_team_id"); tbl["max_budget"] != 100.0 {
				c.t.Errorf("team_member_budget_table %v", tbl)
			}
		}},
		{name: "test_clean_team_member_fields", skip: internals + "a dict helper"},
		{name: "test_clean_team_member_fields_with_missing_fields", skip: internals + "a dict helper"},
		{name: "test_create_team_member_budget_table", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test_team_id", "team_alias": "Test Team", "budget_duration": "1mo",
				"team_member_budget": 100.0, "team_member_budget_duration": "30d", "team_member_rpm_limit": 50, "team_member_tpm_limit": 1000})
			info := teamInfoOf(c, "test_team_id")
			tbl, _ := info["team_member_budget_table"].(map[string]any)
			md, _ := info["metadata"].(map[string]any)
			if tbl["max_budget"] != 100.0 || tbl["rpm_limit"] != 50.0 || tbl["tpm_limit"] != 1000.0 || tbl["budget_duration"] != "30d" {
				c.t.Errorf("team_member_budget_table %v", tbl)
			}
			if id, _ := md["team_member_budget_id"].(string); !strings.Contains(id, "team-") || id != tbl["budget_id"] {
				c.t.Errorf("metadata.team_member_budget_id %v, table %v", md["team_member_budget_id"], tbl["budget_id"])
			}
		}},
		{name: "test_create_team_member_budget_table_without_team_alias", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test_team_id", "team_member_budget": 100.0})
			if id, _ := memberBudgetTable(c, "test_team_id")["budget_id"].(string); !strings.HasPrefix(id, "team-budget-") {
				c.t.Errorf("budget_id %q", id)
			}
		}},
		{name: "test_upsert_team_member_budget_table_existing_budget", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test_team_id", "team_member_budget": 100.0})
			before := memberBudgetTable(c, "test_team_id")["budget_id"]
			c.master("/team/update", map[string]any{"team_id": "test_team_id", "team_member_budget": 200.0, "team_member_budget_duration": "60d", "team_member_rpm_limit": 100})
			tbl := memberBudgetTable(c, "test_team_id")
			if tbl["budget_id"] != before || tbl["max_budget"] != 200.0 || tbl["budget_duration"] != "60d" || tbl["rpm_limit"] != 100.0 {
				c.t.Errorf("table %v (budget_id was %v)", tbl, before)
			}
		}},
		{name: "test_upsert_team_member_budget_table_no_existing_budget", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test_team_id", "team_alias": "Test Team"})
			c.master("/team/update", map[string]any{"team_id": "test_team_id", "team_member_budget": 150.0, "team_member_budget_duration": "45d"})
			if tbl := memberBudgetTable(c, "test_team_id"); tbl["budget_id"] == nil || tbl["max_budget"] != 150.0 || tbl["budget_duration"] != "45d" {
				c.t.Errorf("table %v", tbl)
			}
		}},
		{name: "test_update_team_with_team_member_budget_duration", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test_team_id", "team_alias": "test_team", "team_member_budget": 10.0})
			c.master("/team/update", map[string]any{"team_id": "test_team_id", "team_alias": "updated_alias", "team_member_budget": 100.0, "team_member_budget_duration": "30d"})
			if tbl := memberBudgetTable(c, "test_team_id"); tbl["max_budget"] != 100.0 || tbl["budget_duration"] != "30d" {
				c.t.Errorf("table %v", tbl)
			}
		}},
		{name: "test_backfill_team_member_budget_entries_creates_missing_memberships", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "team-abc", "members_with_roles": []map[string]any{{"user_id": "user-A", "role": "user"}, {"user_id": "user-B", "role": "user"}}})
			c.master("/team/member_update", map[string]any{"team_id": "team-abc", "user_id": "user-A", "max_budget_in_team": 5.0})
			c.master("/team/update", map[string]any{"team_id": "team-abc", "team_member_budget": 20.0})
			ms, _ := c.ok("GET", "/team/info?team_id=team-abc", testMaster, nil)["team_memberships"].([]any)
			if ids := memberIDs(ms); len(ids) != 2 || !contains(ids, "user-A") || !contains(ids, "user-B") {
				c.t.Errorf("team_memberships %v", ms)
			}
		}},
		{name: "test_backfill_team_member_budget_entries_no_op_when_all_exist", skip: internals + "create_many not called (the membership rows are test_backfill_team_member_budget_entries_creates_missing_memberships)"},
		{name: "test_backfill_team_member_budget_entries_populates_null_budget_id_on_existing_rows", skip: internals + "the NULL budget_id where clause (test_backfill_team_member_budget_entries_creates_missing_memberships)"},
		{name: "test_backfill_team_member_budget_entries_empty_members", skip: internals + "no queries for no members"},
		{name: "test_bulk_team_member_add_success", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-123", "team_alias": "Test Team"})
			emails := []string{"user1@example.com", "user2@example.com"}
			out := c.master("/team/bulk_member_add", map[string]any{"team_id": "test-team-123", "max_budget_in_team": 100.0,
				"members": []map[string]any{{"user_email": emails[0], "role": "user"}, {"user_email": emails[1], "role": "admin"}}})
			results, _ := out["results"].([]any)
			if out["team_id"] != "test-team-123" || out["total_requested"] != 2.0 || out["successful_additions"] != 2.0 || out["failed_additions"] != 0.0 || len(results) != 2 {
				c.t.Fatalf("answer %v", out)
			}
			for i, r := range results {
				if r := r.(map[string]any); r["success"] != true || r["error"] != nil || r["user_email"] != emails[i] {
					c.t.Errorf("result %d: %v", i, r)
				}
			}
			members, _ := teamInfoOf(c, "test-team-123")["members_with_roles"].([]any)
			if len(members) != 2 || members[0].(map[string]any)["max_budget_in_team"] != 100.0 || members[1].(map[string]any)["role"] != "admin" {
				c.t.Errorf("members %v", members)
			}
		}},
		{name: "test_bulk_team_member_add_no_members_error", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-123"})
			refusedWith(c, 400, "POST", "/team/bulk_member_add", testMaster, map[string]any{"team_id": "test-team-123", "members": []any{}}, "At least one member is required")
		}},
		{name: "test_bulk_team_member_add_batch_size_limit", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-123"})
			var many []map[string]any
			for i := range 501 {
				many = append(many, map[string]any{"user_email": "user" + strconv.Itoa(i) + "@example.com", "role": "user"})
			}
			refusedWith(c, 400, "POST", "/team/bulk_member_add", testMaster, map[string]any{"team_id": "test-team-123", "members": many}, "Maximum 500 members can be added at once")
			if ms, _ := teamInfoOf(c, "test-team-123")["members_with_roles"].([]any); len(ms) != 0 {
				c.t.Errorf("members added: %d", len(ms))
			}
		}},
		{name: "test_bulk_team_member_add_all_users_flag", run: func(c *lcase) {
			for _, id := range []string{"user-1", "user-2", "user-3"} {
				c.master("/user/new", map[string]any{"user_id": id, "auto_create_key": false})
			}
			// user-3 is a member already: all_users adds the others.
			c.master("/team/new", map[string]any{"team_id": "test-team-123", "members_with_roles": []map[string]any{{"user_id": "user-3", "role": "admin"}}})
			out := c.master("/team/bulk_member_add", map[string]any{"team_id": "test-team-123", "all_users": true, "max_budget_in_team": 50.0})
			if out["total_requested"] != 2.0 || out["successful_additions"] != 2.0 {
				c.t.Errorf("answer %v", out)
			}
			members, _ := teamInfoOf(c, "test-team-123")["members_with_roles"].([]any)
			if len(members) != 3 {
				c.t.Errorf("members %v", members)
			}
		}},
		{name: "test_bulk_team_member_add_failure_scenario", run: func(c *lcase) {
			// LiteLLM's test fails team_member_add with a mocked exception;
			// here the team refuses the change (a member it has already):
			// every member is answered as failed and none is added.
			c.master("/team/new", map[string]any{"team_id": "test-team-123", "members_with_roles": []map[string]any{{"user_email": "user2@example.com", "role": "user"}}})
			out := c.master("/team/bulk_member_add", map[string]any{"team_id": "test-team-123",
				"members": []map[string]any{{"user_email": "user1@example.com", "role": "user"}, {"user_email": "user2@example.com", "role": "admin"}}})
			results, _ := out["results"].([]any)
			if out["total_requested"] != 2.0 || out["successful_additions"] != 0.0 || out["failed_additions"] != 2.0 || out["updated_team"] != nil || len(results) != 2 {
				c.t.Fatalf("answer %v", out)
			}
			for _, r := range results {
				if r := r.(map[string]any); r["success"] != false || !strings.Contains(fmt.Sprint(r["error"]), "already in team") {
					c.t.Errorf("result %v", r)
				}
			}
			if ms, _ := teamInfoOf(c, "test-team-123")["members_with_roles"].([]any); len(ms) != 1 {
				c.t.Errorf("members %v: user1 was added", ms)
			}
		}},
		{name: "test_bulk_team_member_add_no_db_connection", skip: internals + "a missing database client"},
		{name: "test_list_team_v2_security_check_non_admin_user", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			refusedWith(c, 401, "GET", "/v2/team/list", keys["dev"], nil, "Only admin users can query all teams/other teams. Your user role=internal_user")
		}},
		{name: "test_list_team_v2_security_check_non_admin_user_other_user", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			refusedWith(c, 401, "GET", "/v2/team/list?user_id=dev2", keys["dev"], nil, "Only admin users can query all teams/other teams")
		}},
		{name: "test_list_team_v2_security_check_non_admin_user_own_teams", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			c.master("/team/new", map[string]any{"team_id": "team_2", "members_with_roles": []map[string]any{{"user_id": "dev", "role": "user"}}})
			c.master("/team/new", map[string]any{"team_id": "team_3"})
			// dev is in t-dev, t-perm (keyMgmtUsers) and team_2.
			out := c.ok("GET", "/v2/team/list?user_id=dev&page=1&page_size=10", keys["dev"], nil)
			if out["total"] != 3.0 || out["teams"] == nil {
				c.t.Errorf("/v2/team/list: %v", out)
			}
		}},
		{name: "test_list_team_v2_security_check_admin_user", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "team_1", "team_alias": "Team 1"})
			c.master("/team/new", map[string]any{"team_id": "team_2", "team_alias": "Team 2"})
			if out := c.ok("GET", "/v2/team/list?page=1&page_size=10", testMaster, nil); out["total"] != 2.0 || out["teams"] == nil {
				c.t.Errorf("/v2/team/list: %v", out)
			}
		}},
		{name: "test_list_team_v2_with_status_deleted", skip: deleted + "; ?status= is a 400 naming status (test_list_team_v2_with_invalid_status)"},
		{name: "test_list_team_v2_org_admin_sees_org_teams", skip: elsewhere + "organizations (an org admin's team listing)"},
		{name: "test_list_team_v2_org_admin_own_user_id_sees_all_org_teams", skip: elsewhere + "organizations"},
		{name: "test_list_team_v2_org_admin_cannot_view_other_orgs", skip: elsewhere + "organizations"},
		{name: "test_list_team_v2_org_admin_with_user_id_returns_user_teams", skip: elsewhere + "organizations"},
		{name: "test_list_team_v2_with_invalid_status", run: func(c *lcase) {
			// LiteLLM: 400 "Invalid status value ..."; gatehouse keeps no
			// deleted teams, and a list route's query parameter it does not
			// take is a 400 naming it (README, Model access).
			refusedWith(c, 400, "GET", "/v2/team/list?page=1&page_size=10&status=invalid_status", testMaster, nil, "status")
		}},
		{name: "test_list_team_v2_search_builds_or_clause", skip: notServed + "?search= on /v2/team/list (a 400 naming search); filter with team_id or team_alias"},
		{name: "test_list_team_v2_search_composes_with_user_id_filter", skip: notServed + "?search= on /v2/team/list"},
		{name: "test_list_team_v2_populates_keys_count", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "team-a"})
			c.master("/team/new", map[string]any{"team_id": "team-b"})
			for range 3 {
				c.master("/key/generate", map[string]any{"team_id": "team-a"})
			}
			teams, _ := c.ok("GET", "/v2/team/list?sort_by=team_id&sort_order=asc", testMaster, nil)["teams"].([]any)
			counts := map[any]any{}
			for _, t := range teams {
				counts[t.(map[string]any)["team_id"]] = t.(map[string]any)["keys_count"]
			}
			if !reflect.DeepEqual(counts, map[any]any{"team-a": 3.0, "team-b": 0.0}) {
				c.t.Errorf("keys_count %v", counts)
			}
		}},
		{name: "test_list_team_v2_keys_count_skipped_for_empty_page", run: func(c *lcase) {
			if out := c.ok("GET", "/v2/team/list?page=1&page_size=10", testMaster, nil); out["total"] != 0.0 || !reflect.DeepEqual(out["teams"], []any{}) {
				c.t.Errorf("/v2/team/list: %v", out)
			}
		}},
		{name: "test_list_team_v2_keys_count_skipped_for_deleted_status", skip: deleted},
		{name: "test_team_member_delete_cleans_membership", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "team-del-123", "members_with_roles": []map[string]any{{"user_id": "user@example.com", "role": "user"}}})
			c.master("/team/member_delete", map[string]any{"team_id": "team-del-123", "user_id": "user@example.com"})
			c.master("/team/member_add", map[string]any{"team_id": "team-del-123", "member": map[string]any{"user_id": "user@example.com", "role": "user"}})
		}},
		{name: "test_team_member_delete_cleans_verification_tokens", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "team-del-tokens-123", "members_with_roles": []map[string]any{{"user_id": "user-tokens@example.com", "role": "user"}}})
			key := c.master("/key/generate", map[string]any{"team_id": "team-del-tokens-123", "user_id": "user-tokens@example.com"})["key"].(string)
			c.master("/team/member_delete", map[string]any{"team_id": "team-del-tokens-123", "user_id": "user-tokens@example.com"})
			c.status(404, "GET", "/key/info?key="+key, testMaster, nil)
		}},
		{name: "test_new_team_max_budget_exceeds_user_max_budget", skip: selfServed},
		{name: "test_new_team_max_budget_within_user_limit", skip: selfServed},
		{name: "test_new_team_org_scoped_budget_bypasses_user_limit", skip: orgTeams + "its budget bounded by the organization's"},
		{name: "test_new_team_org_scoped_models_bypasses_user_limit", skip: orgTeams + "its models bounded by the organization's"},
		{name: "test_new_team_standalone_validates_against_user_models", skip: selfServed},
		{name: "test_new_team_standalone_validates_against_user_budget", skip: selfServed},
		{name: "test_new_team_org_scoped_budget_exceeds_org_limit", skip: elsewhere + "organizations (a team's limits within its organization's)"},
		{name: "test_new_team_org_scoped_models_not_in_org_models", skip: elsewhere + "organizations"},
		{name: "test_update_team_standalone_budget_raise_blocked_for_team_admin", skip: adminOnly + "a team admin may not raise the budget"},
		{name: "test_update_team_standalone_budget_raise_allowed_for_proxy_admin", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "standalone-team-123", "max_budget": 30.0})
			out := c.master("/team/update", map[string]any{"team_id": "standalone-team-123", "max_budget": 100.0})
			if d, _ := out["data"].(map[string]any); d["max_budget"] != 100.0 {
				c.t.Errorf("data %v", out["data"])
			}
		}},
		{name: "test_update_team_standalone_budget_removal_blocked_for_team_admin", skip: adminOnly + "a team admin may not remove the budget"},
		{name: "test_update_team_standalone_uncapped_team_admin_sets_finite_allowed", skip: adminOnly + "a team admin's update"},
		{name: "test_update_team_standalone_unchanged_budget_allowed", skip: adminOnly + "a team admin's update"},
		{name: "test_update_team_standalone_lower_budget_allowed", skip: adminOnly + "a team admin's update"},
		{name: "test_update_team_org_scoped_budget_exceeds_org_limit", skip: elsewhere + "organizations"},
		{name: "test_update_team_standalone_models_not_gated_by_user_limit", skip: adminOnly + "a team admin's update"},
		{name: "test_update_team_org_scoped_budget_bypasses_user_limit", skip: elsewhere + "organizations"},
		{name: "test_update_team_org_scoped_models_bypasses_user_limit", skip: elsewhere + "organizations"},
		{name: "test_update_team_org_scoped_models_not_in_org_models", skip: elsewhere + "organizations"},
		{name: "test_update_team_org_scoped_models_with_all_proxy_models", skip: elsewhere + "organizations"},
		{name: "test_update_team_tpm_limit_not_gated_by_user_limit", skip: adminOnly + "a team admin's update"},
		{name: "test_update_team_rpm_limit_not_gated_by_user_limit", skip: adminOnly + "a team admin's update"},
		{name: "test_new_team_org_scoped_tpm_exceeds_org_limit", skip: elsewhere + "organizations"},
		{name: "test_new_team_org_scoped_rpm_exceeds_org_limit", skip: elsewhere + "organizations"},
		{name: "test_new_team_org_scoped_tpm_rpm_bypasses_user_limit", skip: elsewhere + "organizations"},
		{name: "test_update_team_org_scoped_tpm_exceeds_org_limit", skip: elsewhere + "organizations"},
		{name: "test_update_team_org_scoped_rpm_exceeds_org_limit", skip: elsewhere + "organizations"},
		{name: "test_update_team_org_scoped_tpm_rpm_bypasses_user_limit", skip: elsewhere + "organizations"},
		{name: "test_update_team_guardrails_with_org_id", run: func(c *lcase) {
			// Different on purpose (README, Model access): guardrails are refused.
			c.master("/team/new", map[string]any{"team_id": "team-guardrails-123"})
			refusedNaming(c, "/team/update", "guardrails", map[string]any{"team_id": "team-guardrails-123", "guardrails": []string{"aporia-pre-call", "aporia-post-call"}})
		}},
		{name: "test_transform_teams_to_deleted_records", skip: internals + deleted},
		{name: "test_transform_teams_to_deleted_records_empty_list", skip: internals + deleted},
		{name: "test_save_deleted_team_records", skip: internals + deleted},
		{name: "test_save_deleted_team_records_empty_list", skip: internals + deleted},
		{name: "test_persist_deleted_team_records", skip: internals + deleted},
		{name: "test_delete_team_persists_deleted_teams", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "team-1", "team_alias": "test-team-1"})
			c.master("/team/delete", map[string]any{"team_ids": []string{"team-1"}})
			c.status(404, "GET", "/team/info?team_id=team-1", testMaster, nil)
		}},
		{name: "test_team_member_delete_persists_deleted_keys", skip: internals + "the deleted-keys table (the keys' deletion is test_team_member_delete_cleans_verification_tokens)"},
		{name: "test_new_team_negative_max_budget", run: func(c *lcase) {
			// LiteLLM's model accepts it and its API refuses it.
			refusedNaming(c, "/team/new", "max_budget", map[string]any{"team_alias": "test-team", "max_budget": -7.0})
		}},
		{name: "test_new_team_negative_team_member_budget", run: func(c *lcase) {
			refusedNaming(c, "/team/new", "team_member_budget", map[string]any{"team_alias": "test-team", "team_member_budget": -10.0})
		}},
		{name: "test_update_team_negative_max_budget", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-id"})
			refusedNaming(c, "/team/update", "max_budget", map[string]any{"team_id": "test-team-id", "max_budget": -5.0})
		}},
		{name: "test_update_team_negative_team_member_budget", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-id"})
			refusedNaming(c, "/team/update", "team_member_budget", map[string]any{"team_id": "test-team-id", "team_member_budget": -15.0})
		}},
		{name: "test_new_team_soft_budget_validation[soft_only]", run: func(c *lcase) {
			// soft_budget is accepted with a warning and not kept (README, Model access).
			out := c.master("/team/new", map[string]any{"team_alias": "test-soft-budget-team", "soft_budget": 50.0})
			if !strings.Contains(strings.Join(warningsOf(out), " "), "soft_budget") {
				c.t.Errorf("warnings %v", out["warnings"])
			}
		}},
		{name: "test_new_team_soft_budget_validation[soft_below_max]", run: func(c *lcase) {
			if out := c.master("/team/new", map[string]any{"team_alias": "test-soft-budget-team", "soft_budget": 50.0, "max_budget": 100.0}); out["max_budget"] != 100.0 {
				c.t.Errorf("max_budget %v", out["max_budget"])
			}
		}},
		{name: "test_new_team_soft_budget_validation[soft_above_max]", run: func(c *lcase) {
			refusedWith(c, 400, "POST", "/team/new", testMaster, map[string]any{"team_id": "t-soft", "soft_budget": 100.0, "max_budget": 50.0},
				"soft_budget (100.0) must be strictly lower than max_budget (50.0)")
			c.status(404, "GET", "/team/info?team_id=t-soft", testMaster, nil)
		}},
		{name: "test_new_team_soft_budget_validation[soft_equal_max]", run: func(c *lcase) {
			refusedWith(c, 400, "POST", "/team/new", testMaster, map[string]any{"soft_budget": 100.0, "max_budget": 100.0},
				"soft_budget (100.0) must be strictly lower than max_budget (100.0)")
		}},
		{name: "test_update_team_soft_budget_validation[soft_only]", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-123"})
			c.master("/team/update", map[string]any{"team_id": "test-team-123", "soft_budget": 50.0})
		}},
		{name: "test_update_team_soft_budget_validation[soft_below_max]", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-123"})
			c.master("/team/update", map[string]any{"team_id": "test-team-123", "soft_budget": 50.0, "max_budget": 100.0})
		}},
		{name: "test_update_team_soft_budget_validation[soft_above_max]", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-123"})
			refusedWith(c, 400, "POST", "/team/update", testMaster, map[string]any{"team_id": "test-team-123", "soft_budget": 100.0, "max_budget": 50.0},
				"soft_budget (100.0) must be strictly lower than max_budget (50.0)")
			if info := teamInfoOf(c, "test-team-123"); info["max_budget"] != nil {
				c.t.Errorf("a refused update set max_budget %v", info["max_budget"])
			}
		}},
		{name: "test_update_team_soft_budget_validation[existing_soft_max_above]", skip: noSoft},
		{name: "test_update_team_soft_budget_validation[existing_soft_max_equal]", skip: noSoft},
		{name: "test_update_team_soft_budget_validation[both_ok]", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-123", "max_budget": 100.0})
			c.master("/team/update", map[string]any{"team_id": "test-team-123", "soft_budget": 40.0, "max_budget": 80.0})
		}},
		{name: "test_update_team_soft_budget_validation[both_bad]", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team-123", "max_budget": 100.0})
			refusedWith(c, 400, "POST", "/team/update", testMaster, map[string]any{"team_id": "test-team-123", "soft_budget": 80.0, "max_budget": 40.0},
				"soft_budget (80.0) must be strictly lower than max_budget (40.0)")
		}},
		{name: "test_new_team_positive_budgets_accepted", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "t-pos", "team_alias": "test-team", "max_budget": 100.0, "team_member_budget": 50.0})
			if info := teamInfoOf(c, "t-pos"); info["max_budget"] != 100.0 || memberBudgetTable(c, "t-pos")["max_budget"] != 50.0 {
				c.t.Errorf("team_info %v", info)
			}
		}},
		{name: "test_new_team_with_router_settings", run: func(c *lcase) {
			// Different on purpose (litellmfields.go): router settings are
			// per model group, so a team's are refused, naming them.
			refusedNaming(c, "/team/new", "router_settings", map[string]any{"team_alias": "my-team-router", "router_settings": map[string]any{"num_retries": 3}})
		}},
		{name: "test_get_team_daily_activity_non_admin_filters_by_user_api_keys", skip: elsewhere + "spend routes (/team/daily/activity)"},
		{name: "test_get_team_daily_activity_team_admin_sees_all_spend", skip: elsewhere + "spend routes (/team/daily/activity)"},
		{name: "test_get_team_daily_activity_member_with_permission_sees_all_spend", skip: elsewhere + "spend routes (/team/daily/activity)"},
		{name: "test_get_team_daily_activity_member_without_permission_filters_by_keys", skip: elsewhere + "spend routes (/team/daily/activity)"},
		{name: "test_update_team_with_router_settings", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "team-router-update-789"})
			refusedNaming(c, "/team/update", "router_settings", map[string]any{"team_id": "team-router-update-789", "router_settings": map[string]any{"num_retries": 2}})
		}},
		{name: "test_validate_and_populate_member_user_info_both_provided_match", run: func(c *lcase) {
			c.master("/user/new", map[string]any{"user_id": "user-123", "user_email": "test@example.com"})
			c.master("/team/new", map[string]any{"team_id": "t-m"})
			out := c.master("/team/member_add", map[string]any{"team_id": "t-m", "member": map[string]any{"user_id": "user-123", "user_email": "test@example.com", "role": "user"}})
			if ids := memberIDs(out["members_with_roles"]); !reflect.DeepEqual(ids, []string{"user-123"}) {
				c.t.Errorf("members %v", ids)
			}
		}},
		{name: "test_validate_and_populate_member_user_info_only_email_provided", skip: "not ported: LiteLLM fills a member named by user_email only with the user_id of the user that has the email; gatehouse keeps the member by email (members are matched by user_id or user_email)"},
		{name: "test_validate_and_populate_member_user_info_only_user_id_not_found", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "t-m"})
			c.master("/team/member_add", map[string]any{"team_id": "t-m", "member": map[string]any{"user_id": "nonexistent-user", "role": "user"}})
			c.ok("GET", "/user/info?user_id=nonexistent-user", testMaster, nil)
		}},
		{name: "test_list_available_teams_returns_empty_list_when_none_configured", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			if out := c.ok("GET", "/team/available", keys["dev"], nil); !reflect.DeepEqual(out["list"], []any{}) {
				c.t.Errorf("/team/available: %v", out)
			}
		}},
		{name: "test_list_team_v1_batches_key_queries", skip: "not ported: LiteLLM's /team/list answers each team with its keys; gatehouse's answers the teams (their keys are on /team/info and /key/list?team_id=) (a known difference, not fixed yet)"},
		{name: "test_new_team_request_accepts_team_member_budget_duration", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "t-d", "team_member_budget": 20.0, "team_member_budget_duration": "30d"})
			if tbl := memberBudgetTable(c, "t-d"); tbl["max_budget"] != 20.0 || tbl["budget_duration"] != "30d" {
				c.t.Errorf("table %v", tbl)
			}
		}},
		{name: "test_create_team_member_budget_table_with_duration", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "t-d", "team_alias": "test-team", "team_member_budget": 20.0, "team_member_budget_duration": "30d"})
			info := teamInfoOf(c, "t-d")
			md, _ := info["metadata"].(map[string]any)
			if tbl := memberBudgetTable(c, "t-d"); tbl["budget_duration"] != "30d" || md["team_member_budget_id"] != tbl["budget_id"] {
				c.t.Errorf("table %v metadata %v", tbl, md)
			}
		}},
		{name: "TestBatchResolveAccessGroupResources", skip: internals + "access group resolution (six cases); a team's access_group_ids are policy/access.go's table test"},
		{name: "test_verify_team_access_denies_unauthorized_user", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			// LiteLLM: 403; /team/update is admin only here (README, Admin
			// API), LiteLLM's 401 for other callers.
			refusedWith(c, 401, "POST", "/team/update", keys["dev"], map[string]any{"team_id": "t-dev", "team_alias": "updated-alias"}, "Only proxy admin")
		}},
		{name: "test_update_team_rejects_unauthorized_caller", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			c.master("/team/new", map[string]any{"team_id": "team-123", "members_with_roles": []map[string]any{{"user_id": "other_admin_user", "role": "admin"}}})
			refusedWith(c, 401, "POST", "/team/update", keys["dev"], map[string]any{"team_id": "team-123", "team_alias": "updated-alias"}, "Only proxy admin")
			if info := teamInfoOf(c, "team-123"); info["team_alias"] == "updated-alias" {
				c.t.Errorf("a refused update changed the team")
			}
		}},
		{name: "test_team_member_me_returns_caller_membership", skip: notServed + "/team/{team_id}/members/me is not served (a known difference, not fixed yet)"},
		{name: "test_team_member_me_matches_email_only_member", skip: notServed + "/team/{team_id}/members/me"},
		{name: "test_team_member_me_returns_404_for_non_member", skip: notServed + "/team/{team_id}/members/me"},
		{name: "test_team_member_me_returns_404_for_proxy_admin_not_in_team", skip: notServed + "/team/{team_id}/members/me"},
		{name: "test_team_member_me_returns_defaults_when_no_membership_row", skip: notServed + "/team/{team_id}/members/me"},
		{name: "test_team_member_me_rejects_team_key_without_user_id", skip: notServed + "/team/{team_id}/members/me"},
		{name: "test_team_member_me_returns_404_for_unknown_team", skip: notServed + "/team/{team_id}/members/me"},
		{name: "test_new_team_encrypts_callback_vars", skip: "not ported: team logging callbacks (metadata.logging) are not run by gatehouse, so there are no callback secrets to encrypt"},
		{name: "test_check_passthrough_routes_caller_permission_team", run: func(c *lcase) {
			// Different on purpose: there are no pass-through endpoints, so
			// allowed_passthrough_routes is refused for every caller.
			refusedNaming(c, "/team/new", "allowed_passthrough_routes", map[string]any{"allowed_passthrough_routes": []string{"/foo/*"}})
		}},
		{name: "test_new_team_blocks_non_admin_passthrough_routes", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			c.status(401, "POST", "/team/new", keys["dev"], map[string]any{"team_alias": "t", "allowed_passthrough_routes": []string{"/admin/*"}})
		}},
		{name: "test_update_team_blocks_non_admin_passthrough_routes", run: func(c *lcase) {
			keys := keyMgmtUsers(c)
			c.status(401, "POST", "/team/update", keys["dev2"], map[string]any{"team_id": "t-dev", "allowed_passthrough_routes": []string{"/admin/*"}})
		}},
		{name: "test_set_budget_reset_at_clears_when_budget_duration_null", skip: internals + "_set_budget_reset_at's dict"},
		{name: "test_set_budget_reset_at_noop_when_budget_duration_not_sent", skip: internals + "_set_budget_reset_at's dict"},
		{name: "test_set_budget_reset_at_sets_value_when_budget_duration_provided", skip: internals + "_set_budget_reset_at's dict"},
		{name: "test_clear_team_member_budget_duration_calls_update_budget", skip: internals + "update_budget's arguments"},
		{name: "test_clear_team_member_budget_clears_max_budget", skip: internals + "update_budget's arguments"},
		{name: "test_clear_team_member_rpm_tpm_limits", skip: internals + "update_budget's arguments"},
		{name: "test_clear_all_team_member_fields_at_once", skip: internals + "update_budget's arguments"},
		{name: "test_team_member_budget_duration_not_sent_does_not_update", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "test-team", "team_member_budget": 10.0, "team_member_budget_duration": "7d"})
			c.master("/team/update", map[string]any{"team_id": "test-team", "max_budget": 200})
			if tbl := memberBudgetTable(c, "test-team"); tbl["budget_duration"] != "7d" || tbl["max_budget"] != 10.0 {
				c.t.Errorf("table %v", tbl)
			}
		}},
		{name: "test_clear_team_member_budget_fields_no_budget_row_skips_update", skip: internals + "update_budget not called"},
		{name: "test_team_info_forwards_key_limit_to_get_data", skip: "not ported: /team/info?key_limit= is a 400 naming key_limit (an unknown query parameter); /team/info lists all the team's keys (a known difference, not fixed yet)"},
		{name: "test_team_info_returns_model_aliases", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "team-1", "model_aliases": map[string]string{"gpt-4o": "gpt-4o-team-1"}})
			if got := teamInfoOf(c, "team-1")["model_aliases"]; !reflect.DeepEqual(got, map[string]any{"gpt-4o": "gpt-4o-team-1"}) {
				c.t.Errorf("model_aliases %v", got)
			}
		}},
		{name: "test_update_model_table_clears_aliases_with_empty_map", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "team-1", "model_aliases": map[string]string{"a": "gpt-4o"}})
			c.master("/team/update", map[string]any{"team_id": "team-1", "model_aliases": nil})
			if got := teamInfoOf(c, "team-1")["model_aliases"]; !reflect.DeepEqual(got, map[string]any{"a": "gpt-4o"}) {
				c.t.Errorf("model_aliases null changed them: %v", got)
			}
			c.master("/team/update", map[string]any{"team_id": "team-1", "model_aliases": map[string]string{}})
			if got := teamInfoOf(c, "team-1")["model_aliases"]; got != nil && !reflect.DeepEqual(got, map[string]any{}) {
				c.t.Errorf("model_aliases {} kept %v", got)
			}
		}},
		{name: "TestEmitTeamMembersMetric", skip: internals + "a Prometheus callback (three cases)"},
		{name: "test_new_team_rejects_reserved_ui_session_team_id", run: func(c *lcase) {
			out := c.status(400, "POST", "/team/new", testMaster, map[string]any{"team_alias": "dashboard-clone", "team_id": "litellm-dashboard"})
			if !strings.Contains(errMessage(out), "reserved") {
				c.t.Errorf("message %q", errMessage(out))
			}
			c.status(404, "GET", "/team/info?team_id=litellm-dashboard", testMaster, nil)
		}},
		{name: "test_post_vs_patch_metadata_write_mapping", skip: notServed + "PATCH /team/{team_id} (RFC 7386 metadata merge) is not served; POST /team/update replaces metadata as LiteLLM's POST does (a known difference, not fixed yet)"},
		{name: "test_post_vs_patch_metadata_write_mapping[POST]", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "team-merge-patch-test", "metadata": map[string]any{"cost_center": "1234", "foo": "bar"}})
			c.master("/team/update", map[string]any{"team_id": "team-merge-patch-test", "tpm_limit": 5})
			if md := teamInfoOf(c, "team-merge-patch-test")["metadata"]; !reflect.DeepEqual(md, map[string]any{"cost_center": "1234", "foo": "bar"}) {
				c.t.Errorf("an update without metadata changed it: %v", md)
			}
			c.master("/team/update", map[string]any{"team_id": "team-merge-patch-test", "metadata": map[string]any{"foo": "baz"}})
			if md := teamInfoOf(c, "team-merge-patch-test")["metadata"]; !reflect.DeepEqual(md, map[string]any{"foo": "baz"}) {
				c.t.Errorf("POST metadata is not replaced wholesale: %v", md)
			}
		}},
		{name: "test_patch_preserves_required_metadata_key_that_post_would_wipe", skip: notServed + "PATCH /team/{team_id}"},
		{name: "test_top_level_fields_identical_post_and_patch", skip: notServed + "PATCH /team/{team_id}"},
		{name: "test_patch_strips_system_managed_metadata_key_like_post", run: func(c *lcase) {
			c.master("/team/new", map[string]any{"team_id": "team-merge-patch-test", "team_member_budget": 10.0, "metadata": map[string]any{"cost_center": "1234"}})
			id := memberBudgetTable(c, "team-merge-patch-test")["budget_id"]
			c.master("/team/update", map[string]any{"team_id": "team-merge-patch-test", "metadata": map[string]any{"team_member_budget_id": "HACKED", "cost_center": "9999"}})
			md, _ := teamInfoOf(c, "team-merge-patch-test")["metadata"].(map[string]any)
			if md["team_member_budget_id"] != id || md["cost_center"] != "9999" {
				c.t.Errorf("metadata %v (budget id %v)", md, id)
			}
		}},
		{name: "test_patch_rejects_a_malformed_body_with_422", skip: notServed + "PATCH /team/{team_id}"},
		{name: "test_patch_rejects_team_id_mismatch_between_path_and_body", skip: notServed + "PATCH /team/{team_id}"},
		{name: "test_patch_accepts_matching_team_id_in_body", skip: notServed + "PATCH /team/{team_id}"},
		{name: "test_patch_team_not_found_returns_404", skip: notServed + "PATCH /team/{team_id}"},
		{name: "test_patch_enforces_team_access_via_delegation", skip: notServed + "PATCH /team/{team_id}"},
		{name: "test_patch_returns_full_team_object_not_wrapper", skip: notServed + "PATCH /team/{team_id}"},
		{name: "test_update_validator_sees_replacement_on_post_and_merged_on_patch", skip: notServed + "custom_team_metadata_validate (LiteLLM Enterprise) and PATCH /team/{team_id}"},
		{name: "test_patch_null_delete_removes_key_from_validated_metadata", skip: notServed + "custom_team_metadata_validate"},
		{name: "test_update_without_metadata_skips_validator", skip: notServed + "custom_team_metadata_validate"},
		{name: "test_update_validator_rejection_blocks_db_write", skip: notServed + "custom_team_metadata_validate"},
		{name: "test_new_team_validator_runs_without_metadata_and_rejection_blocks_create", skip: notServed + "custom_team_metadata_validate"},
		{name: "test_new_team_validator_accept_proceeds_to_create", skip: notServed + "custom_team_metadata_validate"},
		{name: "test_new_team_rejection_precedes_model_alias_write", skip: notServed + "custom_team_metadata_validate"},
		{name: "test_update_existing_metadata_excludes_system_managed_keys", skip: notServed + "custom_team_metadata_validate"},
		{name: "test_patch_writes_only_the_keys_the_caller_sent", skip: notServed + "PATCH /team/{team_id}"},
		{name: "test_patch_preserves_explicit_null_as_a_clear", skip: notServed + "PATCH /team/{team_id}"},
		{name: "test_patch_body_reshaping_adds_no_keys_the_caller_did_not_send", skip: notServed + "PATCH /team/{team_id}"},
		{name: "test_patch_ignores_unknown_body_keys", skip: notServed + "PATCH /team/{team_id}"},
		{name: "test_patch_team_request_makes_team_id_optional", skip: notServed + "PATCH /team/{team_id}"},
		{name: "test_patch_team_route_publishes_its_request_body_schema", skip: internals + "FastAPI's OpenAPI schema"},
		{name: "test_get_all_team_memberships_validates_rows", skip: internals + "row validation (team_memberships are test_backfill_team_member_budget_entries_creates_missing_memberships)"},
		{name: "test_list_available_teams_filters_joined_and_validates_rows", skip: noAvail},
		{name: "test_get_team_metadata_schema_returns_configured_fields", skip: notServed + "/team/metadata_schema (LiteLLM's team metadata schema setting) is not served"},
		{name: "test_get_team_metadata_schema_empty_when_unconfigured", skip: notServed + "/team/metadata_schema"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			_, js := testutil.NewJetStream(t)
			opts := tc.opts
			opts.MasterKey = testMaster
			tc.run(&lcase{t: t, app: New(storetest.New(t, js), opts)})
		})
	}
}

// warningsOf is an answer's "warnings" list.
func warningsOf(out map[string]any) []string {
	var ws []string
	list, _ := out["warnings"].([]any)
	for _, w := range list {
		s, _ := w.(string)
		ws = append(ws, s)
	}
	return ws
}
