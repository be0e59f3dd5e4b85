package api

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/control/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// selfKeysFixture is a control plane with internal users, a viewer, an
// admin user and teams, and keys for each.
type selfKeysFixture struct {
	app  *fiber.App
	keys map[string]string // name -> plaintext
}

func newSelfKeysFixture(t *testing.T, o Options) *selfKeysFixture {
	t.Helper()
	_, js := testutil.NewJetStream(t)
	o.MasterKey = testMaster
	f := &selfKeysFixture{app: New(storetest.New(t, js), o), keys: map[string]string{}}
	for _, u := range []map[string]any{
		{"user_id": "boss", "user_role": "proxy_admin"},
		{"user_id": "dev", "user_role": "internal_user"},
		{"user_id": "dev2", "user_role": "internal_user"},
		{"user_id": "ro", "user_role": "internal_user_viewer"},
	} {
		f.master(t, "/user/new", u)
	}
	for _, team := range []map[string]any{
		// dev is a plain member of t-dev, whose admin is dev2; dev leads t-lead.
		{"team_id": "t-dev", "members_with_roles": []map[string]any{{"user_id": "dev", "role": "user"}, {"user_id": "dev2", "role": "admin"}, {"user_id": "boss", "role": "user"}}},
		{"team_id": "t-lead", "members_with_roles": []map[string]any{{"user_id": "dev", "role": "admin"}}},
		{"team_id": "t-other"},
	} {
		f.master(t, "/team/new", team)
	}
	for name, body := range map[string]map[string]any{
		"dev":          {"user_id": "dev"},
		"dev-spare":    {"user_id": "dev"},
		"dev-blocked":  {"user_id": "dev"},
		"dev-team":     {"user_id": "dev", "team_id": "t-dev"},
		"dev-team-2":   {"user_id": "dev", "team_id": "t-dev"},
		"dev2":         {"user_id": "dev2"},
		"dev2-spare":   {"user_id": "dev2"},
		"boss":         {"user_id": "boss"},
		"boss-in-team": {"user_id": "boss", "team_id": "t-dev"},
		"nobody":       {},
		"ro":           {"user_id": "ro"},
	} {
		f.keys[name] = f.master(t, "/key/generate", body)["key"].(string)
	}
	f.master(t, "/key/block", map[string]any{"key": f.keys["dev-blocked"]})
	return f
}

func (f *selfKeysFixture) master(t *testing.T, path string, body map[string]any) map[string]any {
	t.Helper()
	code, out := do(t, f.app, "POST", path, testMaster, body)
	if code != 200 {
		t.Fatalf("%s %v: %d %v", path, body, code, out)
	}
	return out
}

var sprintf = fmt.Sprintf

// replaceKey puts a key's plaintext where a message names it (%KEY%).
func replaceKey(msg, key string) string { return strings.ReplaceAll(msg, "%KEY%", key) }

func errType(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["type"].(string)
	return s
}

type selfKeysCase struct {
	name   string
	caller string // a key's name in the fixture ("" for the master key)
	method string // "" is POST
	path   string
	body   func(keys map[string]string) map[string]any
	code   int
	typ    string // the error's type, for a refusal
	msg    string // the error's message, for a refusal
	check  func(t *testing.T, out map[string]any)
}

func (tc selfKeysCase) run(t *testing.T, f *selfKeysFixture) {
	t.Helper()
	var body map[string]any
	if tc.body != nil {
		body = tc.body(f.keys)
	}
	method := tc.method
	if method == "" {
		method = "POST"
	}
	code, out := do(t, f.app, method, tc.path, f.keys[tc.caller], body)
	if code != tc.code {
		t.Fatalf("%d %v, want %d", code, out, tc.code)
	}
	if tc.code != 200 && (errType(out) != tc.typ || errMessage(out) != tc.msg) {
		t.Errorf("refusal %q %q,\nwant      %q %q", errType(out), errMessage(out), tc.typ, tc.msg)
	}
	if tc.check != nil {
		tc.check(t, out)
	}
}

func body(m map[string]any) func(map[string]string) map[string]any {
	return func(map[string]string) map[string]any { return m }
}

func withKey(name string, m map[string]any) func(map[string]string) map[string]any {
	return func(keys map[string]string) map[string]any {
		out := map[string]any{"key": keys[name]}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
}

func deleting(names ...string) func(map[string]string) map[string]any {
	return func(keys map[string]string) map[string]any {
		var list []string
		for _, n := range names {
			list = append(list, keys[n])
		}
		return map[string]any{"keys": list}
	}
}

func userIs(want string) func(t *testing.T, out map[string]any) {
	return func(t *testing.T, out map[string]any) {
		if out["user_id"] != want {
			t.Errorf("user_id %v, want %s: %v", out["user_id"], want, out)
		}
	}
}

// TestSelfServiceKeys: an internal_user manages its own keys as LiteLLM's
// internal_user_routes and key_management_endpoints.py let it, with their
// statuses, types and texts; every other key, and every widening of its
// power, is refused. Cases run in order on one control plane.
func TestSelfServiceKeys(t *testing.T) {
	f := newSelfKeysFixture(t, Options{})
	const notAdminMsg = "Only proxy admin can be used to generate, delete, update info for new keys/users/teams. Route=%s. Your role=%s. Your user_id=%s"
	teamPerm := func(route, team string) string {
		return "Team member does not have permissions for endpoint: " + route + ". You only have access to the following endpoints: ['/key/info', '/key/health'] for team " + team + ". To create keys for this team, please ask your proxy admin to check the team member permission settings and update the settings to allow team member users to create keys."
	}
	for _, tc := range []selfKeysCase{
		// /key/generate: its own keys only (_is_allowed_to_make_key_request).
		{name: "generate: own user by default", caller: "dev", path: "/key/generate", body: body(map[string]any{"key_alias": "mine"}), code: 200, check: userIs("dev")},
		{name: "generate: own user named", caller: "dev", path: "/key/generate", body: body(map[string]any{"user_id": "dev", "max_budget": 1}), code: 200, check: userIs("dev")},
		{name: "generate: another user", caller: "dev", path: "/key/generate", body: body(map[string]any{"user_id": "dev2"}), code: 403, typ: "internal_server_error",
			msg: "User can only create keys for themselves. Got user_id=dev2, Your ID=dev"},
		{name: "generate: an admin's user", caller: "dev", path: "/key/generate", body: body(map[string]any{"user_id": "boss"}), code: 403, typ: "internal_server_error",
			msg: "User can only create keys for themselves. Got user_id=boss, Your ID=dev"},
		// Team keys (_team_key_generation_check): a team admin only, by default.
		{name: "generate: team it leads", caller: "dev", path: "/key/generate", body: body(map[string]any{"team_id": "t-lead"}), code: 200, check: userIs("dev")},
		{name: "generate: team it is a plain member of", caller: "dev", path: "/key/generate", body: body(map[string]any{"team_id": "t-dev"}), code: 401, typ: "team_member_permission_error",
			msg: teamPerm("/key/generate", "t-dev")},
		{name: "generate: team it is not in", caller: "dev", path: "/key/generate", body: body(map[string]any{"team_id": "t-other"}), code: 400, typ: "internal_server_error",
			msg: "User=dev not assigned to team=t-other"},
		{name: "generate: team key for a user outside the team", caller: "dev", path: "/key/generate", body: body(map[string]any{"team_id": "t-lead", "user_id": "dev2"}), code: 400, typ: "internal_server_error",
			msg: "User=dev2 not assigned to team=t-lead"},
		{name: "generate: aliases", caller: "dev", path: "/key/generate", body: body(map[string]any{"aliases": map[string]string{"cheap": "dear"}}), code: 403, typ: "internal_server_error",
			msg: "Only proxy admin can set aliases on a key. Route=/key/generate. Your role=internal_user. Your user_id=dev"},
		{name: "generate: viewer", caller: "ro", path: "/key/generate", body: body(map[string]any{}), code: 401, typ: "auth_error",
			msg: sprintf(notAdminMsg, "/key/generate", "internal_user_viewer", "ro")},
		{name: "generate: key of no user", caller: "nobody", path: "/key/generate", body: body(map[string]any{}), code: 401, typ: "auth_error",
			msg: sprintf(notAdminMsg, "/key/generate", "None", "None")},

		// /key/update (_validate_update_key_data).
		{name: "update: own key", caller: "dev", path: "/key/update", body: withKey("dev-spare", map[string]any{"max_budget": 5, "models": []string{"m"}}), code: 200, check: userIs("dev")},
		{name: "update: another user's key", caller: "dev", path: "/key/update", body: withKey("dev2", map[string]any{"max_budget": 5}), code: 403, typ: "auth_error",
			msg: "User can only create keys for themselves. Got user_id=dev2, Your ID=dev"},
		{name: "update: an admin's key", caller: "dev", path: "/key/update", body: withKey("boss", map[string]any{"max_budget": 5}), code: 403, typ: "auth_error",
			msg: "User can only create keys for themselves. Got user_id=boss, Your ID=dev"},
		{name: "update: a key of no user", caller: "dev", path: "/key/update", body: withKey("nobody", map[string]any{"max_budget": 5}), code: 403, typ: "auth_error",
			msg: "User can only create keys for themselves. Got user_id=None, Your ID=dev"},
		{name: "update: own key to another user", caller: "dev", path: "/key/update", body: func(k map[string]string) map[string]any {
			return map[string]any{"key": k["dev-spare"], "user_id": "dev2"}
		}, code: 403, typ: "auth_error", msg: "User=dev2 is not allowed to update key=" + "%KEY%" + " to belong to user=dev"},
		{name: "update: own team key as a plain member", caller: "dev", path: "/key/update", body: withKey("dev-team", map[string]any{"max_budget": 5}), code: 401, typ: "team_member_permission_error",
			msg: teamPerm("/key/update", "t-dev")},
		{name: "update: own key into a team it does not lead", caller: "dev", path: "/key/update", body: withKey("dev-spare", map[string]any{"team_id": "t-dev"}), code: 403, typ: "auth_error",
			msg: "User=dev is not a Proxy Admin or Team Admin for team=t-dev. Please ask your Proxy Admin to allow this action under 'Member Permissions' for this team."},
		{name: "update: own key into the team it leads", caller: "dev", path: "/key/update", body: withKey("dev-spare", map[string]any{"team_id": "t-lead"}), code: 200},
		{name: "update: unblocking its own blocked key", caller: "dev", path: "/key/update", body: withKey("dev-blocked", map[string]any{"blocked": false}), code: 403, typ: "auth_error",
			msg: "Only proxy admin can unblock a key. Route=/key/update. Your role=internal_user. Your user_id=dev"},
		{name: "update: viewer", caller: "ro", path: "/key/update", body: withKey("ro", map[string]any{"max_budget": 5}), code: 401, typ: "auth_error",
			msg: sprintf(notAdminMsg, "/key/update", "internal_user_viewer", "ro")},

		// /key/block: the admins of the key's team or org only (LiteLLM
		// 2026's require_key_access), not the key's owner.
		{name: "block: own team key as a plain member", caller: "dev", path: "/key/block", body: withKey("dev-team-2", nil), code: 403, typ: "auth_error",
			msg: "Only proxy admins, team admins, or org admins can call /key/block. user_role=internal_user, user_id=dev"},

		// /key/regenerate (can_modify_verification_token).
		{name: "regenerate: another user's key", caller: "dev", path: "/key/regenerate", body: withKey("dev2", nil), code: 403, typ: "internal_server_error",
			msg: "You are not authorized to regenerate this key"},
		{name: "regenerate: own team key as a plain member", caller: "dev", path: "/key/regenerate", body: withKey("dev-team", nil), code: 401, typ: "team_member_permission_error",
			msg: teamPerm("/key/regenerate", "t-dev")},
		{name: "regenerate: own key moved to another user", caller: "dev", path: "/key/regenerate", body: withKey("dev-spare", map[string]any{"user_id": "dev2"}), code: 403, typ: "auth_error",
			msg: "User=dev2 is not allowed to update key=%KEY% to belong to user=dev"},
		{name: "regenerate: own key", caller: "dev", path: "/key/regenerate", body: withKey("dev-spare", nil), code: 200, check: userIs("dev")},
		{name: "regenerate: a team admin, a member's team key", caller: "dev2", path: "/key/regenerate", body: withKey("dev-team-2", nil), code: 200, check: userIs("dev")},
		{name: "regenerate: a team admin, an admin's team key", caller: "dev2", path: "/key/regenerate", body: withKey("boss-in-team", nil), code: 403, typ: "internal_server_error",
			msg: "You are not authorized to regenerate this key"},

		// /key/delete (delete_verification_tokens): all or nothing.
		{name: "delete: own and another's", caller: "dev", path: "/key/delete", body: deleting("dev2-spare", "dev2"), code: 403, typ: "internal_server_error",
			msg: "You are not authorized to delete this key"},
		{name: "delete: an admin's team key as its team's admin", caller: "dev2", path: "/key/delete", body: deleting("boss-in-team"), code: 403, typ: "internal_server_error",
			msg: "You are not authorized to delete this key"},
		{name: "delete: a member's team key as its team's admin", caller: "dev2", path: "/key/delete", body: deleting("dev-team"), code: 200},
		{name: "delete: its own", caller: "dev2", path: "/key/delete", body: deleting("dev2-spare"), code: 200},
		{name: "delete: viewer", caller: "ro", path: "/key/delete", body: deleting("ro"), code: 401, typ: "auth_error",
			msg: sprintf(notAdminMsg, "/key/delete", "internal_user_viewer", "ro")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.msg = replaceKey(tc.msg, f.keys["dev-spare"])
			tc.run(t, f)
		})
	}

	// A refused delete deleted nothing; a key an internal user generated
	// authenticates as its user.
	if code, out := do(t, f.app, "GET", "/key/info", f.keys["dev2"], nil); code != 200 {
		t.Errorf("dev2's key after the refused delete: %d %v", code, out)
	}
	code, out := do(t, f.app, "POST", "/key/generate", f.keys["dev"], map[string]any{})
	if code != 200 {
		t.Fatalf("/key/generate: %d %v", code, out)
	}
	code, out = do(t, f.app, "GET", "/key/info", out["key"].(string), nil)
	if info, _ := out["info"].(map[string]any); code != 200 || info["user_id"] != "dev" {
		t.Errorf("the generated key's /key/info: %d %v", code, out)
	}
	// Admins are not bound by any of it.
	if code, out := do(t, f.app, "POST", "/key/generate", f.keys["boss"], map[string]any{"user_id": "dev2", "team_id": "t-other"}); code != 200 {
		t.Errorf("admin user's key generating for another user: %d %v", code, out)
	}
}

// TestKeyGenerationSettings: LiteLLM's key_generation_settings bind an
// internal user's personal and team keys.
func TestKeyGenerationSettings(t *testing.T) {
	for _, tc := range []struct {
		settings KeyGenerationSettings
		selfKeysCase
	}{
		{KeyGenerationSettings{Personal: &KeyGenerationRule{AllowedRoles: []string{"proxy_admin"}}},
			selfKeysCase{name: "personal keys for admins only", caller: "dev", path: "/key/generate", body: body(map[string]any{}), code: 400, typ: "internal_server_error",
				msg: "Personal key creation has been restricted by admin. Allowed roles=['proxy_admin']. Your role=internal_user"}},
		{KeyGenerationSettings{Personal: &KeyGenerationRule{AllowedRoles: []string{"internal_user"}, RequiredParams: []string{"key_alias"}}},
			selfKeysCase{name: "personal key without a required param", caller: "dev", path: "/key/generate", body: body(map[string]any{"max_budget": 1}), code: 400, typ: "internal_server_error",
				msg: "Required param key_alias not in data"}},
		{KeyGenerationSettings{Personal: &KeyGenerationRule{RequiredParams: []string{"key_alias"}}},
			selfKeysCase{name: "personal key with the required param", caller: "dev", path: "/key/generate", body: body(map[string]any{"key_alias": "a"}), code: 200, check: userIs("dev")}},
		{KeyGenerationSettings{Team: &KeyGenerationRule{AllowedRoles: []string{"user"}}},
			selfKeysCase{name: "team admins not among the allowed roles", caller: "dev", path: "/key/generate", body: body(map[string]any{"team_id": "t-lead"}), code: 400, typ: "internal_server_error",
				msg: "Team member role admin not in allowed_team_member_roles=['user']"}},
		{KeyGenerationSettings{Team: &KeyGenerationRule{RequiredParams: []string{"models"}}},
			selfKeysCase{name: "team key without a required param", caller: "dev", path: "/key/generate", body: body(map[string]any{"team_id": "t-lead"}), code: 400, typ: "internal_server_error",
				msg: "Required param models not in data"}},
		{KeyGenerationSettings{Team: &KeyGenerationRule{}},
			selfKeysCase{name: "team key of a missing team", caller: "dev", path: "/key/generate", body: body(map[string]any{"team_id": "t-none"}), code: 400, typ: "internal_server_error",
				msg: "Unable to find team object in database. Team ID: t-none"}},
		{KeyGenerationSettings{Personal: &KeyGenerationRule{AllowedRoles: []string{}}},
			selfKeysCase{name: "the master key is not bound", caller: "", path: "/key/generate", body: body(map[string]any{}), code: 200}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.settings
			f := newSelfKeysFixture(t, Options{KeyGeneration: &s})
			f.keys[""] = testMaster
			tc.run(t, f)
		})
	}
}
