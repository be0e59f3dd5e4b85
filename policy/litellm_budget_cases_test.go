package policy

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

// LiteLLM's budget check cases (BerriAI/litellm
// tests/test_litellm/proxy/auth/), one row per case, named after its test.
// LiteLLM hands common_checks objects with a spend; gatehouse's request
// path reads the budget tracker's budget_exceeded flag from the snapshot
// (and the edge's budget view the spend: edge/budget
// litellm_budget_cases_test.go has the same cases with their amounts,
// test/e2e/litellm_budget_cases_test.go the ones through real spend), so
// an object "over budget" here is one the tracker flagged. Every row goes
// through CheckKey, the virtual key's request path.
//
// Skipped (not gatehouse features, or LiteLLM internals), with the reason:
//   - test_team_member_budget.py test_team_membership_without_budget_table_deserializes,
//     test_team_membership_explicit_none_budget_table: Pydantic
//     deserialization of a membership row; the behaviour they guard (a
//     member without a budget has no member rpm/tpm limit and is not
//     refused) is TestLiteLLMTeamMemberBudgetCases' "no budget" rows.
//   - test_multi_budget_windows.py (5 cases), test_user_multi_budget_windows.py
//     (8 cases): several budget windows at once on a key or user
//     (budget_limits). The tracker keeps one window per object (its totals
//     roll at budget_reset_at, and the edges' view and leases are per
//     object); a second window would be a second totals record per object
//     on every spend write, lease and gossip message, so it is not built:
//     /key/* and /user/* refuse budget_limits with a 400 naming it (one
//     max_budget with budget_duration per key, user, team, org).
//   - test_model_access_group_budgets.py (22 cases): budgets on model
//     access groups (LiteLLM_ModelAccessGroupBudgetTable) and which groups
//     a request is attributed to. gatehouse's access groups grant models
//     and carry no budget.
//   - test_auth_model_budget_bypass.py TestCheckModelMaxBudget (10 cases),
//     test_should_enforce_key_model_budget_on_cached_admin,
//     test_should_pass_cached_admin_when_within_budget: per-model budgets
//     (model_max_budget, LiteLLM Enterprise) are not enforced, and
//     /key/generate refuses model_max_budget with a 400 naming it. The end
//     user's budget on the master key path is in the e2e file.
//   - test_fallback_budget.py (15 cases): RouterFallbackBudgetCheck skips a
//     paid fallback for a caller over budget. gatehouse refuses a caller
//     over budget before routing, so no fallback is tried; the rows below
//     check that refusal. Its zero-cost cases are the deliberate difference
//     of test_unmapped_model_budget_enforcement.py (below).
//   - test_max_parallel_requests.py (10 cases): per-model
//     (metadata.model_max_parallel_requests, model_max_budget) and user/team
//     max_parallel_requests fields of UserAPIKeyAuth. gatehouse has a
//     key's max_parallel_requests (per edge, edge/gateway parallel.go and
//     the e2e LiteLLM cases); per-model, user and team parallel limits are
//     not supported.
//   - test_team_member_rate_limit_propagation.py (3 cases): the SQL view's
//     column names reaching UserAPIKeyAuth. gatehouse reads a member's
//     rpm/tpm limits from the team's event (MemberLimits), checked by
//     TestLiteLLMTeamMemberBudgetCases and the e2e member limit tests.
//   - test_temp_budget_increase_caching.py (6 cases): temp_budget_increase
//     is not supported (/key/update refuses it with a 400 naming it; raise
//     max_budget instead); the cache mutation it guards does not exist in a
//     snapshot that is never written on the request path.
//   - test_unmapped_model_budget_enforcement.py test_cache_invalidates_on_in_place_pricing_update,
//     test_handles_router_without_zero_cost_cache_attribute: the router's
//     zero-cost cache.
type budgetCase struct {
	name  string
	objs  []any
	key   events.Key
	model string
	want  *apierror.Error
	// texts the refusal's message must hold.
	texts []string
}

func runBudgetCases(t *testing.T, cases []budgetCase) {
	t.Helper()
	for _, c := range cases {
		objs := append([]any{dep("gpt-4", "openai/gpt-4"), dep("gpt-3.5-turbo", "openai/gpt-3.5-turbo")}, c.objs...)
		model := c.model
		if model == "" {
			model = "gpt-4"
		}
		err := litellmCheck(t, build(t, objs...), c.name, c.key, model, c.want)
		if c.want == nil || err == nil {
			continue
		}
		e := apierror.From(err)
		if e.Status != 400 || e.Type != "budget_exceeded" {
			t.Errorf("%s: %d %s, want 400 budget_exceeded", c.name, e.Status, e.Type)
		}
		for _, s := range c.texts {
			if !strings.Contains(e.Message, s) {
				t.Errorf("%s: message %q lacks %q", c.name, e.Message, s)
			}
		}
	}
}

var (
	budgetOver = events.BudgetFlag{BudgetExceeded: true}
)

func budgetAmt(f float64) *float64 { return &f }

// test_user_budget_team_key.py (LiteLLM issue 27394): a user's max_budget
// holds for its keys of a team too.
func TestLiteLLMUserBudgetTeamKeyCases(t *testing.T) {
	runBudgetCases(t, []budgetCase{
		{name: "test_user_budget_enforced_with_team_key",
			objs: []any{&events.User{UserID: "user-1", MaxBudget: budgetAmt(30), BudgetFlag: budgetOver}, &events.Team{TeamID: "team-1"}},
			key:  events.Key{UserID: "user-1", TeamID: "team-1"}, want: apierror.BudgetExceeded, texts: []string{"ExceededBudget: User=user-1 over budget.", "Budget=30.0"}},
		{name: "test_user_under_budget_with_team_key_passes",
			objs: []any{&events.User{UserID: "user-2", MaxBudget: budgetAmt(100)}, &events.Team{TeamID: "team-2"}},
			key:  events.Key{UserID: "user-2", TeamID: "team-2"}},
		{name: "test_user_budget_still_enforced_without_team",
			objs: []any{&events.User{UserID: "user-3", MaxBudget: budgetAmt(10), BudgetFlag: budgetOver}},
			key:  events.Key{UserID: "user-3"}, want: apierror.BudgetExceeded, texts: []string{"ExceededBudget: User=user-3"}},
	})
}

// test_team_member_budget.py: a member's budget in its team
// (max_budget_in_team) refuses its keys of the team, whatever the key.
func TestLiteLLMTeamMemberBudgetCases(t *testing.T) {
	team := func(m events.Member) *events.Team {
		m.UserID, m.Role = "test-user-1", "user"
		return &events.Team{TeamID: "test-team-1", TeamAlias: "Test Team", MembersWithRoles: []events.Member{m}}
	}
	user := &events.User{UserID: "test-user-1"}
	teamKey := events.Key{UserID: "test-user-1", TeamID: "test-team-1", Models: []string{"gpt-3.5-turbo"}}
	runBudgetCases(t, []budgetCase{
		{name: "test_team_member_budget_check_exceeds_budget", model: "gpt-3.5-turbo",
			objs: []any{user, team(events.Member{MaxBudgetInTeam: budgetAmt(0.0000001), BudgetID: "b1", BudgetFlag: budgetOver})},
			key:  teamKey, want: apierror.BudgetExceeded,
			texts: []string{"Budget has been exceeded", "User=test-user-1 in Team=test-team-1", "Max budget: 1e-07"}},
		{name: "test_team_member_budget_check_within_budget", model: "gpt-3.5-turbo",
			objs: []any{user, team(events.Member{MaxBudgetInTeam: budgetAmt(0.0000001), BudgetID: "b1"})}, key: teamKey},
		{name: "test_team_member_budget_check_no_budget_set", model: "gpt-3.5-turbo",
			objs: []any{user, team(events.Member{})}, key: teamKey},
		{name: "test_team_member_budget_check_no_team_membership", model: "gpt-3.5-turbo",
			objs: []any{user, &events.Team{TeamID: "test-team-1"}}, key: teamKey},
		{name: "test_team_member_budget_check_blocks_regenerated_key_after_old_key_exhausts_budget", model: "gpt-3.5-turbo",
			objs: []any{user, team(events.Member{MaxBudgetInTeam: budgetAmt(0.0000001), BudgetID: "b1", BudgetFlag: budgetOver})},
			key:  events.Key{UserID: "test-user-1", TeamID: "test-team-1", Models: []string{"gpt-3.5-turbo"}, KeyAlias: "new-regenerated-token"},
			want: apierror.BudgetExceeded, texts: []string{"User=test-user-1 in Team=test-team-1"}},
		{name: "test_team_member_budget_check_personal_key_not_team", model: "gpt-3.5-turbo",
			objs: []any{user, team(events.Member{MaxBudgetInTeam: budgetAmt(0.0000001), BudgetID: "b1", BudgetFlag: budgetOver})},
			key:  events.Key{UserID: "test-user-1", Models: []string{"gpt-3.5-turbo"}}},
	})
	// test_team_membership_without_budget_table_deserializes: a member
	// without a budget row has no member rpm/tpm limit.
	s := build(t, user, team(events.Member{}))
	if l := s.MemberLimits(s.Team("test-team-1"), "test-user-1"); l.Member != nil || l.RPM != nil || l.TPM != nil {
		t.Errorf("test_team_membership_without_budget_table_deserializes: %+v", l)
	}
}

// test_organization_budget_enforcement.py: an org's budget refuses the
// keys of its teams although the team is under its own.
func TestLiteLLMOrganizationBudgetCases(t *testing.T) {
	orgTeam := func(org string, max float64) *events.Team {
		return &events.Team{TeamID: "team-of-" + org, OrganizationID: org, MaxBudget: budgetAmt(max), Models: []string{"gpt-4"}}
	}
	runBudgetCases(t, []budgetCase{
		{name: "test_organization_budget_exceeded_blocks_request",
			objs: []any{&events.Org{OrganizationID: "test-org-budget-exceeded", Models: []string{"gpt-4"}, MaxBudget: budgetAmt(100), BudgetFlag: budgetOver}, orgTeam("test-org-budget-exceeded", 50)},
			key:  events.Key{TeamID: "team-of-test-org-budget-exceeded", OrganizationID: "test-org-budget-exceeded"},
			want: apierror.BudgetExceeded, texts: []string{"Budget has been exceeded! Organization=test-org-budget-exceeded", "Max budget: 100.0"}},
		{name: "test_multiple_teams_exceed_organization_budget",
			objs: []any{&events.Org{OrganizationID: "multi-team-org", Models: []string{"gpt-4"}, MaxBudget: budgetAmt(5000), BudgetFlag: budgetOver}, orgTeam("multi-team-org", 2000)},
			key:  events.Key{TeamID: "team-of-multi-team-org", OrganizationID: "multi-team-org"},
			want: apierror.BudgetExceeded, texts: []string{"Organization=multi-team-org", "Max budget: 5000.0"}},
		{name: "test_organization_budget_fields_are_checked",
			objs: []any{&events.Org{OrganizationID: "test-org", Models: []string{"gpt-4"}, MaxBudget: budgetAmt(100), BudgetFlag: budgetOver},
				&events.Team{TeamID: "test-team", OrganizationID: "test-org", Models: []string{"gpt-4"}}},
			key:  events.Key{TeamID: "test-team"}, // the org comes from the key's team
			want: apierror.BudgetExceeded, texts: []string{"Organization=test-org"}},
		{name: "test_both_team_and_org_budget_enforced (team over)",
			objs: []any{&events.Team{TeamID: "team-over", MaxBudget: budgetAmt(100), Models: []string{"gpt-4"}, BudgetFlag: budgetOver}},
			key:  events.Key{TeamID: "team-over"}, want: apierror.BudgetExceeded, texts: []string{"Budget has been exceeded! Team=team-over"}},
		{name: "test_both_team_and_org_budget_enforced (org over)",
			objs: []any{&events.Org{OrganizationID: "org-over", Models: []string{"gpt-4"}, MaxBudget: budgetAmt(100), BudgetFlag: budgetOver}, orgTeam("org-over", 50)},
			key:  events.Key{TeamID: "team-of-org-over", OrganizationID: "org-over"},
			want: apierror.BudgetExceeded, texts: []string{"Organization=org-over"}},
	})
}

// test_organization_member_budget.py (LiteLLM 2026): a member's
// max_budget_in_organization refuses its keys of the org's teams.
func TestLiteLLMOrganizationMemberBudgetCases(t *testing.T) {
	org := func(m events.OrgMember) *events.Org {
		m.UserID, m.UserRole = "test-user-1", events.OrgRoleUser
		return &events.Org{OrganizationID: "test-org-1", Members: []events.OrgMember{m}}
	}
	objs := func(o *events.Org) []any {
		return []any{&events.User{UserID: "test-user-1"}, o, &events.Team{TeamID: "test-team-1", OrganizationID: "test-org-1"}}
	}
	key := events.Key{UserID: "test-user-1", OrganizationID: "test-org-1", TeamID: "test-team-1", Models: []string{"gpt-3.5-turbo"}}
	runBudgetCases(t, []budgetCase{
		{name: "test_organization_member_budget_check_exceeds_budget", model: "gpt-3.5-turbo",
			objs: objs(org(events.OrgMember{MaxBudgetInOrg: budgetAmt(0.0000001), BudgetFlag: budgetOver})), key: key, want: apierror.BudgetExceeded,
			texts: []string{"Budget has been exceeded", "User=test-user-1 in Organization=test-org-1", "Max budget: 1e-07"}},
		{name: "test_organization_member_budget_check_within_budget", model: "gpt-3.5-turbo",
			objs: objs(org(events.OrgMember{MaxBudgetInOrg: budgetAmt(0.0000001)})), key: key},
		{name: "test_organization_member_budget_check_no_budget_set", model: "gpt-3.5-turbo",
			objs: objs(org(events.OrgMember{})), key: key},
		{name: "test_organization_member_budget_check_no_membership", model: "gpt-3.5-turbo",
			objs: objs(&events.Org{OrganizationID: "test-org-1"}), key: key},
		{name: "test_organization_member_budget_check_skipped_without_org_context", model: "gpt-3.5-turbo",
			objs: objs(org(events.OrgMember{MaxBudgetInOrg: budgetAmt(0.0000001), BudgetFlag: budgetOver})),
			key:  events.Key{UserID: "test-user-1", Models: []string{"gpt-3.5-turbo"}}},
	})
	// The refusal's ledger rule names the membership.
	s := build(t, objs(org(events.OrgMember{MaxBudgetInOrg: budgetAmt(1), BudgetFlag: budgetOver}))...)
	if e := apierror.From(s.CheckOrgMemberBudget("test-org-1", "test-user-1")); e == nil || e.Rule != "org_member:test-org-1:test-user-1:max_budget" {
		t.Errorf("org member refusal rule: %+v", e)
	}
}

// test_unmapped_model_budget_enforcement.py and test_fallback_budget.py:
// a caller over budget is refused on an unmapped model, a paid one and
// one with a paid fallback (LiteLLM's outcome). On a model whose every
// deployment and fallback is priced 0 LiteLLM skips the budget checks
// (test_explicitly_free_model_bypasses_budget,
// test_unmapped_model_with_litellm_params_pricing,
// test_zero_cost_model_with_zero_cost_router_fallback_skips_budget,
// test_zero_cost_target_allowed_even_when_over_budget); gatehouse refuses
// there too, on purpose (README, deliberate differences): those rows
// assert gatehouse's answer.
func TestLiteLLMUnmappedModelBudgetCases(t *testing.T) {
	free := dep("free-model", "openai/free-model")
	paid := dep("paid-model", "openai/gpt-4o")
	paid.ModelInfo.InputCostPerToken, paid.ModelInfo.OutputCostPerToken = 0.000002, 0.000008
	objs := []any{free, paid, dep("custom-model", "openai/totally-nonexistent-model-xyz")}
	overKey := events.Key{MaxBudget: budgetAmt(50), BudgetFlag: budgetOver}
	overUser := []any{&events.User{UserID: "u1", MaxBudget: budgetAmt(50), BudgetFlag: budgetOver}}
	var cases []budgetCase
	for _, c := range []struct{ name, model string }{
		{"test_unmapped_model_enforces_budget", "custom-model"},
		{"test_known_paid_model_enforces_budget", "paid-model"},
		{"test_paid_primary_model_enforces_budget_without_checking_fallbacks", "paid-model"},
		{"test_zero_cost_model_with_paid_router_fallback_enforces_budget", "free-model"},
		{"test_budget_checks_run_without_router_context", "free-model"},
		{"test_paid_target_refused_when_over_key_budget", "paid-model"},
		{"test_explicitly_free_model_bypasses_budget (deliberate difference: refused)", "free-model"},
		{"test_zero_cost_model_with_zero_cost_router_fallback_skips_budget (deliberate difference: refused)", "free-model"},
	} {
		cases = append(cases, budgetCase{name: c.name, objs: objs, key: overKey, model: c.model, want: apierror.BudgetExceeded, texts: []string{"Budget has been exceeded!"}})
	}
	cases = append(cases,
		budgetCase{name: "test_paid_target_refused_when_over_user_budget", objs: append(overUser, objs...), key: events.Key{UserID: "u1"}, model: "paid-model",
			want: apierror.BudgetExceeded, texts: []string{"ExceededBudget: User=u1"}},
		budgetCase{name: "test_zero_cost_target_allowed_even_when_over_budget (deliberate difference: refused)", objs: append(overUser, objs...), key: events.Key{UserID: "u1"}, model: "free-model",
			want: apierror.BudgetExceeded, texts: []string{"ExceededBudget: User=u1"}},
		budgetCase{name: "test_paid_target_allowed_when_under_budget", objs: objs, key: events.Key{MaxBudget: budgetAmt(50)}, model: "paid-model"},
		budgetCase{name: "test_no_budget_configured_is_always_within_budget", objs: objs, key: events.Key{}, model: "paid-model"},
	)
	runBudgetCases(t, cases)
}
