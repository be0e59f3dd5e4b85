package gateway

import (
	"encoding/json"
	"testing"

	edgebudget "github.com/gatehouse/gatehouse/edge/budget"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

// An edge fed the team events refuses a user whose membership of a team
// is flagged over max_budget_in_team (LiteLLM's 400 budget_exceeded, "User=
// <u> in Team=<t>"), and still serves the same user in another team and
// another member of the team. A membership whose spend this edge's budget
// view puts at its budget is refused before the tracker flags it.
func TestTeamMemberBudgetAtTheEdge(t *testing.T) {
	e := startEdgeWith(t, true, Options{EdgeID: "edge-mb"}, nil)
	e.g.budgets = edgebudget.New(edgebudget.Options{EdgeID: "edge-mb"})
	one, ten := 1.0, 10.0
	const aliceML, aliceWeb, bobML, carolML = "sk-member-alice-ml-00001", "sk-member-alice-web-0001", "sk-member-bob-ml-000001", "sk-member-carol-ml-00001"
	putMockKey(t, e, &events.Key{Token: events.HashKey(aliceML), UserID: "alice", TeamID: "ml"},
		&events.User{UserID: "alice"}, &events.User{UserID: "bob"}, &events.User{UserID: "carol"},
		&events.Team{TeamID: "ml", MembersWithRoles: []events.Member{
			{UserID: "alice", Role: "user", MaxBudgetInTeam: &one, BudgetID: "b-alice-ml", BudgetFlag: events.BudgetFlag{BudgetExceeded: true}},
			{UserID: "bob", Role: "user", MaxBudgetInTeam: &one, BudgetID: "b-bob-ml"},
			{UserID: "carol", Role: "user", MaxBudgetInTeam: &ten, BudgetID: "b-carol-ml"},
		}},
		&events.Team{TeamID: "web", MembersWithRoles: []events.Member{{UserID: "alice", Role: "user", MaxBudgetInTeam: &one, BudgetID: "b-alice-web"}}},
		&events.Key{Token: events.HashKey(aliceWeb), UserID: "alice", TeamID: "web"},
		&events.Key{Token: events.HashKey(bobML), UserID: "bob", TeamID: "ml"},
		&events.Key{Token: events.HashKey(carolML), UserID: "carol", TeamID: "ml"})
	// The tracker's totals as this edge's view has them: alice spent 1.2 in
	// ml (flagged), carol 10 of her 10 (not flagged yet).
	e.g.budgets.Apply(&events.SpendTotals{Kind: string(events.KindTeamMember), ID: "b-alice-ml", Spend: 1.2})
	e.g.budgets.Apply(&events.SpendTotals{Kind: string(events.KindTeamMember), ID: "b-carol-ml", Spend: 10})

	for _, tc := range []struct {
		key, name string
		code      int
		message   string
	}{
		{aliceML, "alice in ml (flagged)", 400, "Budget has been exceeded! User=alice in Team=ml Current cost: 1.2, Max budget: 1.0"},
		{aliceWeb, "alice in web", 200, ""},
		{bobML, "bob in ml", 200, ""},
		{carolML, "carol in ml (the edge's view at the budget)", 400, "Budget has been exceeded! User=carol in Team=ml Current cost: 10.0, Max budget: 10.0"},
	} {
		code, body := do(t, "POST", e.url+"/v1/chat/completions", bearer(tc.key), chatBody)
		if code != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.name, code, body, tc.code)
			continue
		}
		if tc.message == "" {
			continue
		}
		var env apierror.Body
		_ = json.Unmarshal([]byte(body), &env)
		if env.Error.Message != tc.message || env.Error.Type != "budget_exceeded" {
			t.Errorf("%s: %s %q, want budget_exceeded %q", tc.name, env.Error.Type, env.Error.Message, tc.message)
		}
	}
}
