package budget

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// TestTeamMemberBudget: spend events on JetStream count per (team, user)
// membership under the member's budget_id; the member crossing its
// max_budget_in_team is flagged on the team's event, and nobody else is:
// not the same user in another team, not another member of the team, not
// the team. Raising the budget clears the flag at the next sweep.
func TestTeamMemberBudget(t *testing.T) {
	now := time.Now().UTC()
	e := newTrackerEnv(t, func() time.Time { return now })
	ctx, live, st, tr := e.ctx, e.live, e.st, e.tr

	one, ten := 1.0, 10.0
	for _, o := range []any{
		&events.User{UserID: "alice"},
		&events.User{UserID: "bob", UserEmail: "bob@example.com"},
		&events.Team{TeamID: "ml", MembersWithRoles: []events.Member{
			{UserID: "alice", Role: "user", MaxBudgetInTeam: &one, BudgetID: "b-alice-ml"},
			{UserEmail: "BOB@example.com", Role: "user", MaxBudgetInTeam: &one, BudgetID: "b-bob-ml"},
		}},
		&events.Team{TeamID: "web", MembersWithRoles: []events.Member{
			{UserID: "alice", Role: "user", MaxBudgetInTeam: &ten, BudgetID: "b-alice-web"},
		}},
	} {
		if _, err := st.Put(ctx, "t", o, nil); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	spend := func(team, user string, cost float64) {
		n++
		e.publishEvent(events.SpendEvent{Type: events.SpendV1, RequestID: fmt.Sprint("req-", n), Time: now, TeamID: team, UserID: user, Cost: cost, EdgeID: "e", EdgeInstance: "e-1"})
	}
	member := func(team, user string) *events.Member {
		s := live.Load()
		return s.MemberBudget(s.Team(team), user)
	}
	spend("ml", "alice", 0.6)
	spend("web", "alice", 0.6)
	spend("ml", "bob", 0.3) // bob is a member by email
	testutil.Eventually(t, 5*time.Second, func() error {
		a, _ := tr.Get(ctx, events.KindTeamMember, "b-alice-ml")
		w, _ := tr.Get(ctx, events.KindTeamMember, "b-alice-web")
		b, _ := tr.Get(ctx, events.KindTeamMember, "b-bob-ml")
		if a.Spend != 0.6 || w.Spend != 0.6 || b.Spend != 0.3 {
			return fmt.Errorf("member totals: ml/alice %+v, web/alice %+v, ml/bob %+v", a, w, b)
		}
		if a.Lease == nil || a.Edges["e-1"] != 0.6 {
			return fmt.Errorf("member totals carry no lease or edge counts: %+v", a)
		}
		return nil
	})
	if member("ml", "alice").BudgetExceeded {
		t.Fatal("flagged at 0.6 of 1.0")
	}
	spend("ml", "alice", 0.5) // 1.1 >= 1.0 in ml; web stays 0.6 of 10
	testutil.Eventually(t, 5*time.Second, func() error {
		if !member("ml", "alice").BudgetExceeded {
			return fmt.Errorf("ml/alice not flagged")
		}
		return nil
	})
	s := live.Load()
	if member("web", "alice").BudgetExceeded || member("ml", "bob").BudgetExceeded || s.Team("ml").BudgetExceeded {
		t.Fatalf("flag spread: web/alice %+v, ml/bob %+v, ml %+v", member("web", "alice"), member("ml", "bob"), s.Team("ml"))
	}
	// The refusal every edge gives (CheckKey and the JWT decision use it).
	refusal := apierror.From(s.CheckMemberBudget(s.Team("ml"), "alice"))
	if want := "Budget has been exceeded! User=alice in Team=ml Current cost: 1.0, Max budget: 1.0"; refusal.Status != 400 || refusal.Type != "budget_exceeded" ||
		refusal.Message != want || refusal.Rule != "team_member:b-alice-ml:max_budget" {
		t.Fatalf("refusal %d %s %q %s, want 400 budget_exceeded %q", refusal.Status, refusal.Type, refusal.Message, refusal.Rule, want)
	}
	if err := s.CheckMemberBudget(s.Team("web"), "alice"); err != nil {
		t.Fatalf("alice in web refused: %v", err)
	}

	// Raising the member's budget above its spend clears the flag.
	if _, err := st.Mutate(ctx, "admin", events.KindTeam, "ml", func(cur any) (string, any, error) {
		tm := *cur.(*events.Team)
		tm.MembersWithRoles = append([]events.Member(nil), tm.MembersWithRoles...)
		tm.MembersWithRoles[0].MaxBudgetInTeam = &ten
		return events.TeamUpserted, &tm, nil
	}); err != nil {
		t.Fatal(err)
	}
	tr.Sweep(ctx)
	if member("ml", "alice").BudgetExceeded {
		t.Fatal("still flagged after the budget was raised")
	}
}

// TestTeamMemberDefaultBudget: a member without max_budget_in_team has
// its team's team_member_budget, counted per member in the window
// team_member_budget_duration: the member crossing it is flagged with the
// window's end and nobody else is; one with its own budget keeps it; the
// sweeper clears the flag once the window has ended.
func TestTeamMemberDefaultBudget(t *testing.T) {
	now := time.Now().UTC()
	clock := now
	e := newTrackerEnv(t, func() time.Time { return clock })
	ctx, live, st, tr := e.ctx, e.live, e.st, e.tr

	one, five := 1.0, 5.0
	team := &events.Team{TeamID: "ml", MembersWithRoles: []events.Member{
		{UserID: "alice", Role: "user", BudgetID: "b-alice"},
		{UserID: "bob", Role: "user", BudgetID: "b-bob"},
		{UserID: "carol", Role: "user", BudgetID: "b-carol", MaxBudgetInTeam: &five},
	}}
	team.TeamMemberBudget, team.TeamMemberBudgetDuration = &one, "1h"
	for _, o := range []any{&events.User{UserID: "alice"}, &events.User{UserID: "bob"}, &events.User{UserID: "carol"}, team} {
		if _, err := st.Put(ctx, "t", o, nil); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	spend := func(user string, cost float64) {
		n++
		e.publishEvent(events.SpendEvent{Type: events.SpendV1, RequestID: fmt.Sprint("req-", n), Time: clock, TeamID: "ml", UserID: user, Cost: cost, EdgeID: "e", EdgeInstance: "e-1"})
	}
	member := func(user string) *events.Member {
		s := live.Load()
		return s.MemberBudget(s.Team("ml"), user)
	}
	spend("alice", 1.2) // over the default 1
	spend("bob", 0.5)
	spend("carol", 1.2) // under her own 5
	testutil.Eventually(t, 5*time.Second, func() error {
		if !member("alice").BudgetExceeded {
			return fmt.Errorf("alice not flagged over the team's team_member_budget")
		}
		return nil
	})
	testutil.Eventually(t, 5*time.Second, func() error {
		b, _ := tr.Get(ctx, events.KindTeamMember, "b-bob")
		c, _ := tr.Get(ctx, events.KindTeamMember, "b-carol")
		if b.Spend != 0.5 || c.Spend != 1.2 {
			return fmt.Errorf("totals: bob %+v, carol %+v", b, c)
		}
		return nil
	})
	a := member("alice")
	if a.BudgetResetAt == nil || a.BudgetResetAt.Sub(now) > time.Hour || a.BudgetResetAt.Sub(now) < 59*time.Minute {
		t.Fatalf("alice's flag ends at %v, want the 1h window's end after %v", a.BudgetResetAt, now)
	}
	if member("bob").BudgetExceeded || member("carol").BudgetExceeded {
		t.Fatalf("flag spread: bob %+v, carol %+v", member("bob"), member("carol"))
	}
	s := live.Load()
	refusal := apierror.From(s.CheckMemberBudget(s.Team("ml"), "alice"))
	if want := "Budget has been exceeded! User=alice in Team=ml Current cost: 1.0, Max budget: 1.0, budget_duration 1h, resets " + a.BudgetResetAt.UTC().Format(time.RFC3339); refusal.Message != want {
		t.Fatalf("refusal %q, want %q", refusal.Message, want)
	}
	// The window ends: the sweeper clears the flag.
	clock = now.Add(61 * time.Minute)
	tr.Sweep(ctx)
	if member("alice").BudgetExceeded {
		t.Fatal("still flagged after the window ended")
	}
}

// TestOrgMemberBudget (LiteLLM test_organization_member_budget.py, through
// the tracker): spend of a user in an org counts under its org membership
// when the member has max_budget_in_organization; the member crossing it
// is flagged on the org's event and nobody else is (not another member,
// not the user in another org, not the org). Raising the budget clears
// the flag at the next sweep.
func TestOrgMemberBudget(t *testing.T) {
	now := time.Now().UTC()
	e := newTrackerEnv(t, func() time.Time { return now })
	ctx, live, st, tr := e.ctx, e.live, e.st, e.tr

	one, ten := 1.0, 10.0
	for _, o := range []any{
		&events.User{UserID: "alice"},
		&events.User{UserID: "bob", UserEmail: "bob@example.com"},
		&events.User{UserID: "carol"},
		&events.Org{OrganizationID: "acme", Members: []events.OrgMember{
			{UserID: "alice", UserRole: events.OrgRoleUser, MaxBudgetInOrg: &one},
			{UserEmail: "BOB@example.com", UserRole: events.OrgRoleUser, MaxBudgetInOrg: &one},
			{UserID: "carol", UserRole: events.OrgRoleUser}, // no budget: nothing counted
		}},
		&events.Org{OrganizationID: "globex", Members: []events.OrgMember{
			{UserID: "alice", UserRole: events.OrgRoleUser, MaxBudgetInOrg: &ten},
		}},
	} {
		if _, err := st.Put(ctx, "t", o, nil); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	spend := func(org, user string, cost float64) {
		n++
		e.publishEvent(events.SpendEvent{Type: events.SpendV1, RequestID: fmt.Sprint("req-", n), Time: now, OrgID: org, UserID: user, Cost: cost, EdgeID: "e", EdgeInstance: "e-1"})
	}
	member := func(org, user string) *events.OrgMember { return live.Load().OrgMemberBudget(org, user) }
	spend("acme", "alice", 0.6)
	spend("globex", "alice", 0.6)
	spend("acme", "bob", 0.3) // bob is a member by email
	spend("acme", "carol", 5)
	testutil.Eventually(t, 5*time.Second, func() error {
		a, _ := tr.Get(ctx, events.KindOrgMember, events.OrgMemberID("acme", "alice"))
		g, _ := tr.Get(ctx, events.KindOrgMember, events.OrgMemberID("globex", "alice"))
		b, _ := tr.Get(ctx, events.KindOrgMember, events.OrgMemberID("acme", "bob"))
		if a.Spend != 0.6 || g.Spend != 0.6 || b.Spend != 0.3 {
			return fmt.Errorf("org member totals: acme/alice %+v, globex/alice %+v, acme/bob %+v", a, g, b)
		}
		if a.Lease == nil || a.Edges["e-1"] != 0.6 {
			return fmt.Errorf("org member totals carry no lease or edge counts: %+v", a)
		}
		return nil
	})
	if c, _ := tr.Get(ctx, events.KindOrgMember, events.OrgMemberID("acme", "carol")); c.Spend != 0 {
		t.Fatalf("a member without a budget was counted: %+v", c)
	}
	if member("acme", "alice").BudgetExceeded {
		t.Fatal("flagged at 0.6 of 1.0")
	}
	spend("acme", "alice", 0.5) // 1.1 >= 1.0 in acme; globex stays 0.6 of 10
	testutil.Eventually(t, 5*time.Second, func() error {
		if !member("acme", "alice").BudgetExceeded {
			return fmt.Errorf("acme/alice not flagged")
		}
		return nil
	})
	s := live.Load()
	if member("globex", "alice").BudgetExceeded || member("acme", "bob").BudgetExceeded || s.Org("acme").BudgetExceeded {
		t.Fatalf("flag spread: globex/alice %+v, acme/bob %+v, acme %+v", member("globex", "alice"), member("acme", "bob"), s.Org("acme"))
	}
	refusal := apierror.From(s.CheckOrgMemberBudget("acme", "alice"))
	if want := "Budget has been exceeded! User=alice in Organization=acme Current cost: 1.0, Max budget: 1.0"; refusal == nil || refusal.Status != 400 || refusal.Type != "budget_exceeded" ||
		refusal.Message != want || refusal.Rule != "org_member:acme:alice:max_budget" {
		t.Fatalf("refusal %+v, want 400 budget_exceeded %q", refusal, want)
	}
	if err := s.CheckOrgMemberBudget("globex", "alice"); err != nil {
		t.Fatalf("alice in globex refused: %v", err)
	}

	if _, err := st.Mutate(ctx, "admin", events.KindOrg, "acme", func(cur any) (string, any, error) {
		o := *cur.(*events.Org)
		o.Members = append([]events.OrgMember(nil), o.Members...)
		o.Members[0].MaxBudgetInOrg = &ten
		return events.OrgUpserted, &o, nil
	}); err != nil {
		t.Fatal(err)
	}
	tr.Sweep(ctx)
	if member("acme", "alice").BudgetExceeded {
		t.Fatal("still flagged after the budget was raised")
	}
}
