package policy

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

func TestPyFloat(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{0, "0.0"}, {5, "5.0"}, {10.42, "10.42"}, {0.011985, "0.011985"}, {0.0001, "0.0001"},
		{0.00001, "1e-05"}, {1.5e-7, "1.5e-07"}, {1e16, "1e+16"}, {123456789012345, "123456789012345.0"},
		{0.30000000000000004, "0.30000000000000004"}, {-2, "-2.0"}, {12.5, "12.5"}, {2.5e-05, "2.5e-05"},
		{1.8e-06, "1.8e-06"}, {1.0 / 3, "0.3333333333333333"}, {1234567, "1234567.0"},
	} {
		if got := PyFloat(tc.f); got != tc.want {
			t.Errorf("PyFloat(%v) = %q, want %q (Python's repr)", tc.f, got, tc.want)
		}
	}
}

// The texts are LiteLLM's (auth_checks.py), which clients parse; the
// window is gatehouse's addition.
func TestBudgetRefusalText(t *testing.T) {
	reset := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		b     BudgetRefusal
		spend float64
		want  string
		rule  string
	}{
		{BudgetRefusal{Kind: events.KindKey, ID: "abc", Max: 5}, 5.0031, "Budget has been exceeded! Current cost: 5.0031, Max budget: 5.0", "key:abc:max_budget"},
		{BudgetRefusal{Kind: events.KindTeam, ID: "t1", Max: 50, Duration: "30d", ResetAt: &reset}, 51,
			"Budget has been exceeded! Team=t1 Current cost: 51.0, Max budget: 50.0, budget_duration 30d, resets 2026-12-31T00:00:00Z", "team:t1:max_budget"},
		{BudgetRefusal{Kind: events.KindOrg, ID: "o1", Max: 9}, 9.1, "Budget has been exceeded! Organization=o1 Current cost: 9.1, Max budget: 9.0", "org:o1:max_budget"},
		{BudgetRefusal{Kind: events.KindTeamMember, ID: "b1", Team: "t1", User: "u1", Max: 5.5}, 5.504,
			"Budget has been exceeded! User=u1 in Team=t1 Current cost: 5.504, Max budget: 5.5", "team_member:b1:max_budget"},
		{BudgetRefusal{Kind: events.KindUser, ID: "u1", Max: 10}, 12, "ExceededBudget: User=u1 over budget. Spend=12.0, Budget=10.0", "user:u1:max_budget"},
		{BudgetRefusal{Kind: events.KindCustomer, ID: "e1", Max: 1}, 1.5, "ExceededBudget: End User=e1 over budget. Spend=1.5, Budget=1.0", "end_user:e1:max_budget"},
		// The tracker's flag without a count: the budget it reached.
		{BudgetRefusal{Kind: events.KindKey, ID: "abc", Max: 0.01}, -1, "Budget has been exceeded! Current cost: 0.01, Max budget: 0.01", "key:abc:max_budget"},
	} {
		e := tc.b.Refusal(tc.spend)
		if e.Status != 400 || e.Type != "budget_exceeded" || e.Message != tc.want || e.Rule != tc.rule {
			t.Errorf("%s %s: %d %s %q %s, want 400 budget_exceeded %q %s", tc.b.Kind, tc.b.ID, e.Status, e.Type, e.Message, e.Rule, tc.want, tc.rule)
		}
		if (e.Param == "user") != (tc.b.Kind == events.KindCustomer) {
			t.Errorf("%s: param %q", tc.b.Kind, e.Param)
		}
	}
}
