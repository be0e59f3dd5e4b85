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
