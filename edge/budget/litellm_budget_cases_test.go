package budget

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// LiteLLM's budget cases with their amounts (tests/test_litellm/proxy/auth/
// test_organization_budget_enforcement.py, test_team_member_budget.py,
// test_organization_member_budget.py, test_user_budget_team_key.py): the
// edge's view, given the tracker's total for the object, admits under the
// budget and refuses at or over it with LiteLLM's current_cost and
// max_budget in the text. policy/litellm_budget_cases_test.go has the
// flag-only rows and the skipped cases.
func TestLiteLLMBudgetAmounts(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	snap, err := policy.SnapshotOf(nil,
		&events.User{UserID: "test-user-1"},
		&events.User{UserID: "user-1", MaxBudget: f(30)},
		&events.User{UserID: "user-2", MaxBudget: f(100)},
		&events.Org{OrganizationID: "test-org-budget-exceeded", MaxBudget: f(100)},
		&events.Org{OrganizationID: "multi-team-org", MaxBudget: f(5000)},
		&events.Org{OrganizationID: "test-org-1", Members: []events.OrgMember{{UserID: "test-user-1", UserRole: events.OrgRoleUser, MaxBudgetInOrg: f(0.0000001)}}},
		&events.Team{TeamID: "test-team-1", OrganizationID: "test-org-1"},
		&events.Team{TeamID: "tm-team", MembersWithRoles: []events.Member{{UserID: "test-user-1", Role: "user", MaxBudgetInTeam: f(0.0000001), BudgetID: "b-tm"}}},
		&events.Team{TeamID: "test-team-org", OrganizationID: "test-org-budget-exceeded", MaxBudget: f(50)},
		&events.Team{TeamID: "team-a", OrganizationID: "multi-team-org", MaxBudget: f(2000)},
		&events.Team{TeamID: "team-1"},
	)
	if err != nil {
		t.Fatal(err)
	}
	type total struct {
		kind  events.Kind
		id    string
		spend float64
	}
	for _, c := range []struct {
		name            string
		user, team, org string
		totals          []total
		want            string // "" admits
	}{
		{name: "test_organization_budget_exceeded_blocks_request", team: "test-team-org", org: "test-org-budget-exceeded",
			totals: []total{{events.KindOrg, "test-org-budget-exceeded", 150}, {events.KindTeam, "test-team-org", 10}},
			want:   "Budget has been exceeded! Organization=test-org-budget-exceeded Current cost: 150.0, Max budget: 100.0"},
		{name: "test_multiple_teams_exceed_organization_budget", team: "team-a", org: "multi-team-org",
			totals: []total{{events.KindOrg, "multi-team-org", 5000}, {events.KindTeam, "team-a", 1500}},
			want:   "Budget has been exceeded! Organization=multi-team-org Current cost: 5000.0, Max budget: 5000.0"},
		{name: "test_team_member_budget_check_exceeds_budget", user: "test-user-1", team: "tm-team",
			totals: []total{{events.KindTeamMember, "b-tm", 0.0000002}},
			want:   "Budget has been exceeded! User=test-user-1 in Team=tm-team Current cost: 2e-07, Max budget: 1e-07"},
		{name: "test_team_member_budget_check_within_budget", user: "test-user-1", team: "tm-team",
			totals: []total{{events.KindTeamMember, "b-tm", 0.00000005}}},
		{name: "test_organization_member_budget_check_exceeds_budget", user: "test-user-1", team: "test-team-1", org: "test-org-1",
			totals: []total{{events.KindOrgMember, events.OrgMemberID("test-org-1", "test-user-1"), 0.0000002}},
			want:   "Budget has been exceeded! User=test-user-1 in Organization=test-org-1 Current cost: 2e-07, Max budget: 1e-07"},
		{name: "test_organization_member_budget_check_within_budget", user: "test-user-1", team: "test-team-1", org: "test-org-1",
			totals: []total{{events.KindOrgMember, events.OrgMemberID("test-org-1", "test-user-1"), 0.00000005}}},
		{name: "test_user_budget_enforced_with_team_key", user: "user-1", team: "team-1",
			totals: []total{{events.KindUser, "user-1", 35}},
			want:   "ExceededBudget: User=user-1 over budget. Spend=35.0, Budget=30.0"},
		{name: "test_user_under_budget_with_team_key_passes", user: "user-2", team: "team-1",
			totals: []total{{events.KindUser, "user-2", 50}}},
	} {
		v := New(Options{})
		for _, tot := range c.totals {
			v.Apply(&events.SpendTotals{Kind: string(tot.kind), ID: tot.id, Spend: tot.spend})
		}
		s := ScopesOf(snap, nil, c.user, c.team, c.org, "")
		r, err := v.Reserve(&s, 0)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "":
			e := apierror.From(err)
			if e == nil || e.Status != 400 || e.Type != "budget_exceeded" || !strings.HasPrefix(e.Message, c.want) {
				t.Errorf("%s: %v, want 400 budget_exceeded %q", c.name, e, c.want)
			}
		}
		v.Commit(&r, 0)
	}
}
