package gateway

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	edgebudget "github.com/gatehouse/gatehouse/edge/budget"
	"github.com/gatehouse/gatehouse/edge/ratelimit"
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

// A team's member defaults hold at the edge for each member without its
// own: team_member_budget (the tracker's flag, and this edge's view of the
// membership's spend, in the team_member_budget_duration window) and
// team_member_rpm_limit; a member's own rpm_limit wins over the default,
// and a user who is no member of the team is not limited as one. The
// 429 names LiteLLM's team_member limit, <team_id>:<user_id>.
func TestTeamMemberDefaultsAtTheEdge(t *testing.T) {
	e := startEdgeWith(t, true, Options{EdgeID: "edge-md"}, func(g *Gateway, _ jetstream.JetStream) {
		l, err := ratelimit.New(nil, "edge-md", 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Close)
		g.limiter = l
	})
	e.g.budgets = edgebudget.New(edgebudget.Options{EdgeID: "edge-md"})
	two, one, three := 2.0, int64(1), int64(3)
	team := &events.Team{TeamID: "ml", MembersWithRoles: []events.Member{
		{UserID: "alice", Role: "user", BudgetID: "b-alice", BudgetFlag: events.BudgetFlag{BudgetExceeded: true}},
		{UserID: "bob", Role: "user", BudgetID: "b-bob", RPMLimit: &one},
		{UserID: "carol", Role: "user", BudgetID: "b-carol"},
		{UserID: "dave", Role: "user", BudgetID: "b-dave"},
		{UserID: "frank", Role: "user", BudgetID: "b-frank", TPMLimit: &one},
	}}
	team.TeamMemberBudget, team.TeamMemberBudgetDuration, team.TeamMemberRPMLimit = &two, "1d", &three
	const alice, bob, carol, dave, eve, frank = "sk-md-alice-000000000001", "sk-md-bob-00000000000001", "sk-md-carol-000000000001", "sk-md-dave-0000000000001", "sk-md-eve-00000000000001", "sk-md-frank-000000000001"
	putMockKey(t, e, &events.Key{Token: events.HashKey(alice), UserID: "alice", TeamID: "ml"},
		&events.User{UserID: "alice"}, &events.User{UserID: "bob"}, &events.User{UserID: "carol"}, &events.User{UserID: "dave"}, &events.User{UserID: "eve"}, &events.User{UserID: "frank"}, team,
		&events.Key{Token: events.HashKey(frank), UserID: "frank", TeamID: "ml"},
		&events.Key{Token: events.HashKey(bob), UserID: "bob", TeamID: "ml"},
		&events.Key{Token: events.HashKey(carol), UserID: "carol", TeamID: "ml"},
		&events.Key{Token: events.HashKey(dave), UserID: "dave", TeamID: "ml"},
		&events.Key{Token: events.HashKey(eve), UserID: "eve", TeamID: "ml"})
	// This edge's view: dave spent the team's default 2 (not flagged yet).
	e.g.budgets.Apply(&events.SpendTotals{Kind: string(events.KindTeamMember), ID: "b-dave", Spend: 2})

	refused := func(name, key string, code int, typ, message string) {
		t.Helper()
		got, body := do(t, "POST", e.url+"/v1/chat/completions", bearer(key), chatBody)
		var env apierror.Body
		_ = json.Unmarshal([]byte(body), &env)
		if got != code || env.Error.Type != typ || !strings.HasPrefix(env.Error.Message, message) {
			t.Errorf("%s: %d %s, want %d %s %q", name, got, body, code, typ, message)
		}
	}
	refused("alice (flagged over the default)", alice, 400, "budget_exceeded", "Budget has been exceeded! User=alice in Team=ml Current cost: 2.0, Max budget: 2.0, budget_duration 1d")
	refused("dave (this edge's view at the default)", dave, 400, "budget_exceeded", "Budget has been exceeded! User=dave in Team=ml Current cost: 2.0, Max budget: 2.0, budget_duration 1d")
	for i := range 3 {
		if code, body := do(t, "POST", e.url+"/v1/chat/completions", bearer(carol), chatBody); code != 200 {
			t.Fatalf("carol's request %d within team_member_rpm_limit 3: %d %s", i, code, body)
		}
	}
	refused("carol over team_member_rpm_limit", carol, 429, "rate_limit_error", "Rate limit exceeded for team_member:ml:carol: 3 requests in the current minute >= rpm_limit 3")
	if code, body := do(t, "POST", e.url+"/v1/chat/completions", bearer(bob), chatBody); code != 200 {
		t.Fatalf("bob's first request: %d %s", code, body)
	}
	refused("bob over his own rpm_limit", bob, 429, "rate_limit_error", "Rate limit exceeded for team_member:ml:bob: 1 requests in the current minute >= rpm_limit 1")
	// A member's tpm_limit counts the tokens its answers used.
	if code, body := do(t, "POST", e.url+"/v1/chat/completions", bearer(frank), chatBody); code != 200 {
		t.Fatalf("frank's first request: %d %s", code, body)
	}
	refused("frank over his own tpm_limit", frank, 429, "rate_limit_error", "Rate limit exceeded for team_member:ml:frank: ")
	for i := range 5 {
		if code, body := do(t, "POST", e.url+"/v1/chat/completions", bearer(eve), chatBody); code != 200 {
			t.Fatalf("eve (no member) request %d: %d %s", i, code, body)
		}
	}
}
