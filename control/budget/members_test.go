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
