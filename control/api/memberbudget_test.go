package api

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/control/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// TestTeamMemberBudgetRoutes: /team/member_add takes max_budget_in_team,
// /team/member_update changes a member's role and budget by user_id or
// user_email with LiteLLM's answers and refusals, and /team/info lists the
// memberships with a budget (LiteLLM's team_memberships).
func TestTeamMemberBudgetRoutes(t *testing.T) {
	_, js := testutil.NewJetStream(t)
	st := storetest.New(t, js)
	app := New(st, Options{MasterKey: testMaster})
	if code, out := do(t, app, "POST", "/team/new", testMaster, map[string]any{"team_id": "ml"}); code != 200 {
		t.Fatalf("/team/new: %d %v", code, out)
	}
	if code, out := do(t, app, "POST", "/user/new", testMaster, map[string]any{"user_id": "dev"}); code != 200 {
		t.Fatalf("/user/new: %d %v", code, out)
	}
	devKey := func() string {
		_, out := do(t, app, "POST", "/key/generate", testMaster, map[string]any{"user_id": "dev"})
		return out["key"].(string)
	}()

	for _, tc := range []struct {
		name    string
		path    string
		cred    string
		body    map[string]any
		code    int
		message string // the refusal's message, or "" for a success
		param   string
	}{
		{"add with a budget", "/team/member_add", testMaster, map[string]any{"team_id": "ml", "member": map[string]any{"user_id": "alice", "role": "user"}, "max_budget_in_team": 5}, 200, "", ""},
		{"add a list without a budget", "/team/member_add", testMaster, map[string]any{"team_id": "ml", "member": []map[string]any{{"user_id": "bob"}, {"user_email": "carol@example.com"}}}, 200, "", ""},
		{"negative budget", "/team/member_add", testMaster, map[string]any{"team_id": "ml", "member": map[string]any{"user_id": "x"}, "max_budget_in_team": -1}, 400, "max_budget_in_team: must be >= 0, got -1", "max_budget_in_team"},
		{"members_with_roles carries no budget", "/team/update", testMaster, map[string]any{"team_id": "ml", "members_with_roles": []map[string]any{{"user_id": "alice", "role": "user", "max_budget_in_team": 1}}}, 400, "", ""},
		{"update: no team id", "/team/member_update", testMaster, map[string]any{"user_id": "alice"}, 400, "No team id passed in", "team_id"},
		{"update: no user", "/team/member_update", testMaster, map[string]any{"team_id": "ml"}, 400, "Either user_id or user_email needs to be passed in", "user_id"},
		{"update: unknown team", "/team/member_update", testMaster, map[string]any{"team_id": "nope", "user_id": "alice"}, 400, "Team id=nope does not exist in db", "team_id"},
		{"update: not a member", "/team/member_update", testMaster, map[string]any{"team_id": "ml", "user_id": "zed", "max_budget_in_team": 2},
			400, "User id doesn't exist in team table. Data=user_id='zed' user_email=None team_id='ml' max_budget_in_team=2.0 role=None tpm_limit=None rpm_limit=None", "user_id"},
		{"update: bad role", "/team/member_update", testMaster, map[string]any{"team_id": "ml", "user_id": "alice", "role": "owner"}, 400, `role: role must be "admin" or "user", got "owner"`, "role"},
		{"update: unknown field", "/team/member_update", testMaster, map[string]any{"team_id": "ml", "user_id": "alice", "max_budget": 3}, 400, "", ""},
		{"update: not an admin", "/team/member_update", devKey, map[string]any{"team_id": "ml", "user_id": "alice", "max_budget_in_team": 100}, 401, "", ""},
		{"update budget by user_id", "/team/member_update", testMaster, map[string]any{"team_id": "ml", "user_id": "bob", "max_budget_in_team": 2.5}, 200, "", ""},
		{"update role by user_email", "/team/member_update", testMaster, map[string]any{"team_id": "ml", "user_email": "CAROL@example.com", "role": "admin"}, 200, "", ""},
		{"keep members' budgets on /team/update", "/team/update", testMaster, map[string]any{"team_id": "ml", "members_with_roles": []map[string]any{{"user_id": "alice", "role": "admin"}, {"user_id": "bob", "role": "user"}, {"user_email": "carol@example.com", "role": "admin"}}}, 200, "", ""},
	} {
		code, out := do(t, app, "POST", tc.path, tc.cred, tc.body)
		if code != tc.code {
			t.Errorf("%s: %d %v, want %d", tc.name, code, out, tc.code)
			continue
		}
		if tc.message != "" && errMessage(out) != tc.message {
			t.Errorf("%s: message %q, want %q", tc.name, errMessage(out), tc.message)
		}
		if tc.param != "" {
			if e, _ := out["error"].(map[string]any); e["param"] != tc.param {
				t.Errorf("%s: param %v, want %q", tc.name, e["param"], tc.param)
			}
		}
		if tc.name == "update budget by user_id" {
			want := map[string]any{"team_id": "ml", "user_id": "bob", "user_email": nil, "max_budget_in_team": 2.5}
			for k, v := range want {
				if out[k] != v {
					t.Errorf("%s: %s = %v, want %v (%v)", tc.name, k, out[k], v, out)
				}
			}
		}
	}

	// The events hold the budgets: alice 5 and bob 2.5 (each with its own
	// budget_id), carol none, and carol's role changed by email; /team/update
	// kept them.
	tm := st.Snapshot().Team("ml")
	byUser := map[string]int{}
	for i, m := range tm.MembersWithRoles {
		byUser[m.UserID+m.UserEmail] = i
	}
	alice, bob, carol := tm.MembersWithRoles[byUser["alice"]], tm.MembersWithRoles[byUser["bob"]], tm.MembersWithRoles[byUser["carol@example.com"]]
	if alice.MaxBudgetInTeam == nil || *alice.MaxBudgetInTeam != 5 || alice.BudgetID == "" || alice.Role != "admin" {
		t.Errorf("alice: %+v", alice)
	}
	if bob.MaxBudgetInTeam == nil || *bob.MaxBudgetInTeam != 2.5 || bob.BudgetID == "" || bob.BudgetID == alice.BudgetID {
		t.Errorf("bob: %+v (alice's budget_id %s)", bob, alice.BudgetID)
	}
	if carol.MaxBudgetInTeam != nil || carol.BudgetID != "" || carol.Role != "admin" {
		t.Errorf("carol: %+v", carol)
	}

	// A new budget keeps the membership's budget_id (its spend goes on).
	if code, out := do(t, app, "POST", "/team/member_update", testMaster, map[string]any{"team_id": "ml", "user_id": "alice", "max_budget_in_team": 7}); code != 200 {
		t.Fatalf("/team/member_update: %d %v", code, out)
	}
	a2 := st.Snapshot().MemberBudget(st.Snapshot().Team("ml"), "alice")
	if *a2.MaxBudgetInTeam != 7 || a2.BudgetID != alice.BudgetID {
		t.Errorf("alice after update: %+v, budget_id was %s", a2, alice.BudgetID)
	}

	// /team/info: one membership per member with a budget.
	code, out := do(t, app, "GET", "/team/info?team_id=ml", testMaster, nil)
	if code != 200 {
		t.Fatalf("/team/info: %d %v", code, out)
	}
	tms, _ := out["team_memberships"].([]any)
	if len(tms) != 2 {
		t.Fatalf("team_memberships: %v", out["team_memberships"])
	}
	for _, x := range tms {
		m := x.(map[string]any)
		bt, _ := m["litellm_budget_table"].(map[string]any)
		if m["spend"] != 0.0 || m["budget_id"] == nil || bt["max_budget"] == nil || m["team_id"] != "ml" {
			t.Errorf("membership %v", m)
		}
	}
}

// TestTeamMemberDefaultsRoutes: /team/new and /team/update take LiteLLM's
// team member defaults (refusing bad ones, naming the field), every member
// with limits gets a budget_id, /team/member_add and /team/member_update
// take a member's own rpm_limit/tpm_limit, /team/info shows the default
// row (team_member_budget_table) and each membership's limits, and a key a
// member generates for the team without a duration gets
// team_member_key_duration.
func TestTeamMemberDefaultsRoutes(t *testing.T) {
	_, js := testutil.NewJetStream(t)
	st := storetest.New(t, js)
	app := New(st, Options{MasterKey: testMaster})
	for _, tc := range []struct {
		name, path string
		body       map[string]any
		code       int
		param      string
	}{
		{"negative default budget", "/team/new", map[string]any{"team_id": "x", "team_member_budget": -1}, 400, "team_member_budget"},
		{"negative default tpm", "/team/new", map[string]any{"team_id": "x", "team_member_tpm_limit": -1}, 400, "team_member_tpm_limit"},
		{"bad default window", "/team/new", map[string]any{"team_id": "x", "team_member_budget_duration": "soon"}, 400, "team_member_budget_duration"},
		{"bad key duration", "/team/new", map[string]any{"team_id": "x", "team_member_key_duration": "1 week"}, 400, "team_member_key_duration"},
		{"team with defaults", "/team/new", map[string]any{"team_id": "ml", "budget_duration": "30d", "members_with_roles": []map[string]any{{"user_id": "alice", "role": "user"}},
			"team_member_budget": 2, "team_member_rpm_limit": 3, "team_member_key_duration": "1h"}, 200, ""},
		{"add bob with own limits", "/team/member_add", map[string]any{"team_id": "ml", "member": map[string]any{"user_id": "bob"}, "rpm_limit": 7, "tpm_limit": 700}, 200, ""},
		{"add with negative rpm", "/team/member_add", map[string]any{"team_id": "ml", "member": map[string]any{"user_id": "zed"}, "rpm_limit": -1}, 400, "rpm_limit"},
		{"update: negative tpm", "/team/member_update", map[string]any{"team_id": "ml", "user_id": "alice", "tpm_limit": -5}, 400, "tpm_limit"},
		{"update: limit for a non-member", "/team/member_update", map[string]any{"team_id": "ml", "user_id": "zed", "rpm_limit": 5}, 400, "user_id"},
		{"update alice's tpm", "/team/member_update", map[string]any{"team_id": "ml", "user_id": "alice", "tpm_limit": 50}, 200, ""},
		{"team without defaults", "/team/new", map[string]any{"team_id": "web", "members_with_roles": []map[string]any{{"user_id": "alice", "role": "user"}}}, 200, ""},
	} {
		code, out := do(t, app, "POST", tc.path, testMaster, tc.body)
		if code != tc.code {
			t.Errorf("%s: %d %v, want %d", tc.name, code, out, tc.code)
			continue
		}
		if tc.param != "" {
			if e, _ := out["error"].(map[string]any); e["param"] != tc.param {
				t.Errorf("%s: param %v, want %q (%v)", tc.name, e["param"], tc.param, out)
			}
		}
	}
	snap := st.Snapshot()
	ml := snap.Team("ml")
	if ml.TeamMemberBudget == nil || *ml.TeamMemberBudget != 2 || ml.TeamMemberBudgetDuration != "30d" || *ml.TeamMemberRPMLimit != 3 ||
		ml.TeamMemberKeyDuration != "1h" || ml.TeamMemberBudgetID == "" {
		t.Fatalf("ml's member defaults: %+v (the window defaults to the team's budget_duration, as LiteLLM's default row)", ml.MemberDefaults)
	}
	alice, bob := snap.MemberLimits(ml, "alice"), snap.MemberLimits(ml, "bob")
	if alice.Member == nil || alice.Member.BudgetID == "" || *alice.MaxBudget != 2 || *alice.RPM != 3 || *alice.TPM != 50 || alice.Duration != "30d" {
		t.Errorf("alice in ml: %+v", alice)
	}
	if bob.Member == nil || bob.Member.BudgetID == "" || *bob.MaxBudget != 2 || *bob.RPM != 7 || *bob.TPM != 700 {
		t.Errorf("bob in ml: %+v", bob)
	}
	if w := snap.MemberLimits(snap.Team("web"), "alice"); w.Member != nil {
		t.Errorf("alice in web, a team without member limits: %+v", w)
	}

	// /team/info: LiteLLM's team_member_budget_table and metadata, and each
	// membership's limits.
	_, info := do(t, app, "GET", "/team/info?team_id=ml", testMaster, nil)
	ti, _ := info["team_info"].(map[string]any)
	row, _ := ti["team_member_budget_table"].(map[string]any)
	md, _ := ti["metadata"].(map[string]any)
	if row["max_budget"] != 2.0 || row["rpm_limit"] != 3.0 || row["tpm_limit"] != nil || row["budget_duration"] != "30d" || row["budget_id"] != ml.TeamMemberBudgetID ||
		md["team_member_budget_id"] != ml.TeamMemberBudgetID || md["team_member_key_duration"] != "1h" {
		t.Errorf("/team/info team_member_budget_table %v, metadata %v", row, md)
	}
	ms, _ := info["team_memberships"].([]any)
	if len(ms) != 2 {
		t.Fatalf("team_memberships: %v", ms)
	}
	for _, x := range ms {
		m := x.(map[string]any)
		b := m["litellm_budget_table"].(map[string]any)
		if m["user_id"] == "bob" && (b["rpm_limit"] != 7.0 || b["max_budget"] != 2.0) {
			t.Errorf("bob's membership: %v", m)
		}
	}
	_, web := do(t, app, "GET", "/team/info?team_id=web", testMaster, nil)
	if wi := web["team_info"].(map[string]any); wi["team_member_budget_table"] != nil {
		t.Errorf("web's team_member_budget_table: %v", wi["team_member_budget_table"])
	}

	// team_member_key_duration: a member's key without a duration gets it;
	// a duration of its own wins; a key of no user (a service account's)
	// and a key of another team keep none.
	now := st.Now()
	for _, tc := range []struct {
		name string
		body map[string]any
		want time.Duration // 0: never expires
	}{
		{"member key", map[string]any{"team_id": "ml", "user_id": "alice"}, time.Hour},
		{"member key with a duration", map[string]any{"team_id": "ml", "user_id": "alice", "duration": "2h"}, 2 * time.Hour},
		{"service account", map[string]any{"team_id": "ml"}, 0},
		{"other team", map[string]any{"team_id": "web", "user_id": "alice"}, 0},
	} {
		code, out := do(t, app, "POST", "/key/generate", testMaster, tc.body)
		if code != 200 {
			t.Fatalf("%s: %d %v", tc.name, code, out)
		}
		exp, _ := out["expires"].(string)
		switch {
		case tc.want == 0 && exp != "":
			t.Errorf("%s: expires %s, want never", tc.name, exp)
		case tc.want != 0:
			at, err := time.Parse(time.RFC3339Nano, exp)
			if err != nil || at.Sub(now) < tc.want-time.Minute || at.Sub(now) > tc.want+time.Minute {
				t.Errorf("%s: expires %q, want in %v", tc.name, exp, tc.want)
			}
		}
	}
}
