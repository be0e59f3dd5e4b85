package api

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/control/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

func strs(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, s := range l {
		out = append(out, fmt.Sprint(s))
	}
	return out
}

func permissionsAre(want ...string) func(t *testing.T, out map[string]any) {
	return func(t *testing.T, out map[string]any) {
		t.Helper()
		if got := strs(out["team_member_permissions"]); !slices.Equal(got, want) {
			t.Errorf("team_member_permissions %q, want %q: %v", got, want, out)
		}
	}
}

// TestTeamMemberPermissions: LiteLLM's team_member_permissions, with its
// statuses, types and texts: who may read and replace a team's list, what
// names it may hold, and that the list decides what a plain member may do
// with the team's keys. Cases run in order on one control plane.
func TestTeamMemberPermissions(t *testing.T) {
	f := newSelfKeysFixture(t, Options{})
	f.keys[""] = testMaster
	const denied = "Call not allowed. User not proxy admin OR team admin. route=/team/member_add, team_id=%s"
	teamPerm := func(route, perms, team string) string {
		return "Team member does not have permissions for endpoint: " + route + ". You only have access to the following endpoints: " + perms + " for team " + team + ". To create keys for this team, please ask your proxy admin to check the team member permission settings and update the settings to allow team member users to create keys."
	}
	const allowed = "/key/generate, /key/update, /key/delete, /key/info, /key/regenerate, /key/service-account/generate, /key/{key_id}/regenerate, /key/list, /key/block, /key/unblock, /key/bulk_update, /team/key/bulk_update, /team/daily/activity, /team/daily/activity/aggregated, /spend/logs, /spend/logs/v2, /key/{key_id}/reset_spend, /key/aliases, /key/access_group_assignment, /key/health, /auto_router/manage"
	update := func(team string, perms ...string) func(map[string]string) map[string]any {
		return body(map[string]any{"team_id": team, "team_member_permissions": perms})
	}
	for _, tc := range []selfKeysCase{
		// permissions_list: a proxy admin or the team's admin.
		{name: "list: master key, defaults", method: "GET", path: "/team/permissions_list?team_id=t-dev", code: 200, check: func(t *testing.T, out map[string]any) {
			permissionsAre("/key/info", "/key/health")(t, out)
			if got := strs(out["all_available_permissions"]); len(got) != 19 || got[0] != "/key/generate" || out["team_id"] != "t-dev" {
				t.Errorf("all_available_permissions %q, team_id %v", got, out["team_id"])
			}
		}},
		{name: "list: an admin user's key", caller: "boss", method: "GET", path: "/team/permissions_list?team_id=t-other", code: 200, check: permissionsAre("/key/info", "/key/health")},
		{name: "list: the team's admin", caller: "dev2", method: "GET", path: "/team/permissions_list?team_id=t-dev", code: 200, check: permissionsAre("/key/info", "/key/health")},
		{name: "list: a plain member", caller: "dev", method: "GET", path: "/team/permissions_list?team_id=t-dev", code: 403, typ: "permission_denied",
			msg: sprintf(denied, "t-dev")},
		{name: "list: a caller that leads no team", caller: "ro", method: "GET", path: "/team/permissions_list?team_id=t-dev", code: 403, typ: "permission_denied",
			msg: sprintf(denied, "t-dev")},
		{name: "list: a missing team", caller: "dev", method: "GET", path: "/team/permissions_list?team_id=t-none", code: 404, typ: "not_found_error",
			msg: "Team not found for team_id=t-none"},
		{name: "list: no team_id", method: "GET", path: "/team/permissions_list", code: 400, typ: "invalid_request_error",
			msg: "team_id is required"},

		// Before the update, a plain member has the defaults only.
		{name: "generate before: a plain member", caller: "dev", method: "POST", path: "/key/generate", body: body(map[string]any{"team_id": "t-dev"}), code: 401, typ: "team_member_permission_error",
			msg: teamPerm("/key/generate", "['/key/info', '/key/health']", "t-dev")},

		// permissions_update: the same callers; names checked.
		{name: "update: a plain member", caller: "dev", method: "POST", path: "/team/permissions_update", body: update("t-dev", "/key/generate"), code: 403, typ: "permission_denied",
			msg: sprintf(denied, "t-dev")},
		{name: "update: a viewer", caller: "ro", method: "POST", path: "/team/permissions_update", body: update("t-dev", "/key/generate"), code: 403, typ: "permission_denied",
			msg: sprintf(denied, "t-dev")},
		{name: "update: another team's admin", caller: "dev", method: "POST", path: "/team/permissions_update", body: update("t-other", "/key/generate"), code: 403, typ: "permission_denied",
			msg: sprintf(denied, "t-other")},
		{name: "update: an unknown permission", caller: "dev2", method: "POST", path: "/team/permissions_update", body: update("t-dev", "/key/generate", "/team/new"), code: 400, typ: "invalid_request_error",
			msg: `team_member_permissions: "/team/new" is not a team member permission; allowed: ` + allowed},
		{name: "update: no list", caller: "dev2", method: "POST", path: "/team/permissions_update", body: body(map[string]any{"team_id": "t-dev"}), code: 400, typ: "invalid_request_error",
			msg: "team_member_permissions is required"},
		{name: "update: the team's admin", caller: "dev2", method: "POST", path: "/team/permissions_update", body: update("t-dev", "/key/generate", "/key/update", "/key/info"), code: 200,
			check: permissionsAre("/key/generate", "/key/update", "/key/info")},
		{name: "list after the update", caller: "dev2", method: "GET", path: "/team/permissions_list?team_id=t-dev", code: 200, check: permissionsAre("/key/generate", "/key/update", "/key/info")},

		// After it, the plain member generates and updates the team's keys.
		{name: "generate after: a plain member", caller: "dev", method: "POST", path: "/key/generate", body: body(map[string]any{"team_id": "t-dev"}), code: 200, check: func(t *testing.T, out map[string]any) {
			if out["team_id"] != "t-dev" || out["user_id"] != "dev" {
				t.Errorf("generated %v", out)
			}
		}},
		{name: "update after: its own team key", caller: "dev", method: "POST", path: "/key/update", body: withKey("dev-team", map[string]any{"max_budget": 5}), code: 200},
		{name: "update after: an admin user's team key", caller: "dev", method: "POST", path: "/key/update", body: withKey("boss-in-team", map[string]any{"max_budget": 5}), code: 403, typ: "auth_error",
			msg: "User can only create keys for themselves. Got user_id=boss, Your ID=dev"},
		// LiteLLM 2026's /key/delete checks ownership only
		// (can_modify_verification_token): its own team key needs no grant.
		{name: "delete after: its own team key, not granted", caller: "dev", method: "POST", path: "/key/delete", body: deleting("dev-team"), code: 200},
		{name: "regenerate after: not granted", caller: "dev", method: "POST", path: "/key/regenerate", body: withKey("dev-team-2", nil), code: 401, typ: "team_member_permission_error",
			msg: teamPerm("/key/regenerate", "['/key/generate', '/key/update', '/key/info']", "t-dev")},

		// Granting delete does not let a plain member delete a teammate's
		// team key: only the key's owner and the team's admin may.
		{name: "update: grant delete", method: "POST", path: "/team/permissions_update", body: update("t-dev", "/key/delete"), code: 200, check: permissionsAre("/key/delete")},
		{name: "delete: a teammate's team key", caller: "dev2-member", method: "POST", path: "/key/delete", body: deleting("dev-team-2"), code: 403, typ: "internal_server_error",
			msg: "You are not authorized to delete this key"},
		{name: "generate: no longer granted", caller: "dev", method: "POST", path: "/key/generate", body: body(map[string]any{"team_id": "t-dev"}), code: 401, typ: "team_member_permission_error",
			msg: teamPerm("/key/generate", "['/key/delete']", "t-dev")},

		// /team/new and /team/update take the list too, and /team/info shows it.
		{name: "team/new: an unknown permission", method: "POST", path: "/team/new", body: body(map[string]any{"team_id": "t-new", "team_member_permissions": []string{"/key/generate", "generate"}}), code: 400, typ: "invalid_request_error",
			msg: `team_member_permissions: "generate" is not a team member permission; allowed: ` + allowed},
		{name: "team/new: with permissions", method: "POST", path: "/team/new", body: body(map[string]any{"team_id": "t-new", "team_member_permissions": []string{"/key/generate", "/key/regenerate"}}), code: 200,
			check: permissionsAre("/key/generate", "/key/regenerate")},
		{name: "team/update: permissions", method: "POST", path: "/team/update", body: body(map[string]any{"team_id": "t-new", "team_member_permissions": []string{"/key/update"}}), code: 200,
			check: permissionsAre("/key/update")},
		{name: "team/update: other fields keep them", method: "POST", path: "/team/update", body: body(map[string]any{"team_id": "t-new", "team_alias": "new"}), code: 200,
			check: permissionsAre("/key/update")},
		{name: "team/update: an unknown permission", method: "POST", path: "/team/update", body: body(map[string]any{"team_id": "t-new", "team_member_permissions": []string{"/key/*"}}), code: 400, typ: "invalid_request_error",
			msg: `team_member_permissions: "/key/*" is not a team member permission; allowed: ` + allowed},
		{name: "team/info shows them", method: "GET", path: "/team/info?team_id=t-new", code: 200, check: func(t *testing.T, out map[string]any) {
			info, _ := out["team_info"].(map[string]any)
			permissionsAre("/key/update")(t, info)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.caller == "dev2-member" {
				// dev2 as a plain member: demote it in t-dev first.
				f.master(t, "/team/member_update", map[string]any{"team_id": "t-dev", "user_id": "dev2", "role": "user"})
				tc.caller = "dev2"
			}
			tc.run(t, f)
		})
	}
}

// TestTeamMemberPermissionsReplay: the list is part of the team's
// full-state event, so a control plane that replays the stream reads it.
func TestTeamMemberPermissionsReplay(t *testing.T) {
	_, js := testutil.NewJetStream(t)
	first := New(storetest.New(t, js), Options{MasterKey: testMaster})
	if code, out := do(t, first, "POST", "/team/new", testMaster, map[string]any{"team_id": "t1"}); code != 200 {
		t.Fatalf("/team/new: %d %v", code, out)
	}
	if code, out := do(t, first, "POST", "/team/permissions_update", testMaster, map[string]any{"team_id": "t1", "team_member_permissions": []string{"/key/generate", "/key/delete"}}); code != 200 {
		t.Fatalf("/team/permissions_update: %d %v", code, out)
	}
	second := New(storetest.New(t, js), Options{MasterKey: testMaster})
	testutil.Eventually(t, 10*time.Second, func() error {
		code, out := do(t, second, "GET", "/team/permissions_list?team_id=t1", testMaster, nil)
		if got := strs(out["team_member_permissions"]); code != 200 || !slices.Equal(got, []string{"/key/generate", "/key/delete"}) {
			return fmt.Errorf("replayed: %d %v", code, out)
		}
		return nil
	})
}
