package budget

import (
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
)

// Team member budgets (LiteLLM's max_budget_in_team, else the team's
// team_member_budget): the spend of a user
// in a team is counted under its membership's budget_id (KindTeamMember),
// and the budget_exceeded flag is set on the member, in the team's event,
// which every edge enforces (policy.Snapshot.CheckMemberBudget).

// memberBudgetID is the budget_id of user's membership of team, when the
// membership has a budget ("" otherwise: nothing to count).
func memberBudgetID(s *policy.Snapshot, team, user string) string {
	if team == "" || user == "" {
		return ""
	}
	t := s.Team(team)
	l := s.MemberLimits(t, user)
	if l.Member == nil || l.MaxBudget == nil {
		return ""
	}
	return l.Member.BudgetID
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

// memberBudget is a membership's budget: max_budget_in_team, else the
// team's team_member_budget, in the window team_member_budget_duration.
func memberBudget(s *policy.Snapshot, team, budgetID string) (maxBudget *float64, duration string, exceeded bool, known bool) {
	t := s.Team(team)
	m := memberOf(t, budgetID)
	if m == nil {
		return nil, "", false, false
	}
	l := policy.LimitsOf(t, m)
	return l.MaxBudget, l.Duration, m.BudgetExceeded, true
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
