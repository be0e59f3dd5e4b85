package budget

import (
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
)

// Team member budgets (LiteLLM's max_budget_in_team): the spend of a user
// in a team is counted under its membership's budget_id (KindTeamMember),
// and the budget_exceeded flag is set on the member, in the team's event,
// which every edge enforces (policy.Snapshot.CheckMemberBudget).

// memberBudgetID is the budget_id of user's membership of team, when the
// membership has a budget ("" otherwise: nothing to count).
func memberBudgetID(s *policy.Snapshot, team, user string) string {
	if team == "" || user == "" {
		return ""
	}
	m := s.MemberBudget(s.Team(team), user)
	if m == nil || m.MaxBudgetInTeam == nil {
		return ""
	}
	return m.BudgetID
}

// memberOf is the member of team whose budget is budgetID (nil: gone).
func memberOf(t *events.Team, budgetID string) *events.Member {
	if t == nil || budgetID == "" {
		return nil
	}
	for i := range t.MembersWithRoles {
		if t.MembersWithRoles[i].BudgetID == budgetID {
			return &t.MembersWithRoles[i]
		}
	}
	return nil
}

// memberBudget is a membership's budget: max_budget_in_team, no window
// (LiteLLM's team member budget has no budget_duration).
func memberBudget(s *policy.Snapshot, team, budgetID string) (maxBudget *float64, duration string, exceeded bool, known bool) {
	m := memberOf(s.Team(team), budgetID)
	if m == nil {
		return nil, "", false, false
	}
	return m.MaxBudgetInTeam, "", m.BudgetExceeded, true
}

// withMemberFlag is flag's change to a team for one of its members: a copy
// of the team whose member budgetID has budget_exceeded and
// budget_reset_at set, published as the team's full state; nothing when
// the member is gone or already flagged so.
func withMemberFlag(t *events.Team, budgetID string, exceeded bool, reset *time.Time) (string, any, error) {
	m := memberOf(t, budgetID)
	if m == nil || m.BudgetExceeded == exceeded {
		return "", nil, nil
	}
	c := *t
	c.MembersWithRoles = slices.Clone(t.MembersWithRoles)
	memberOf(&c, budgetID).BudgetFlag = events.BudgetFlag{BudgetExceeded: exceeded, BudgetResetAt: reset}
	return events.TeamUpserted, &c, nil
}

// memberPtrs lists a team's members for sweep.
func memberPtrs(t *events.Team) []*events.Member {
	out := make([]*events.Member, 0, len(t.MembersWithRoles))
	for i := range t.MembersWithRoles {
		out = append(out, &t.MembersWithRoles[i])
	}
	return out
}
