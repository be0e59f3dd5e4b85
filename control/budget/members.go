package budget

import (
	"slices"

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
func memberBudget(s *policy.Snapshot, team, budgetID string) objBudget {
	t := s.Team(team)
	m := memberOf(t, budgetID)
	if m == nil {
		return objBudget{}
	}
	l := policy.LimitsOf(t, m)
	return objBudget{l.MaxBudget, l.Duration, m.BudgetFlag, true}
}

// withMemberFlag is flag's change to a team for one of its members: a copy
// of the team with the change made to member budgetID's flag, published
// as the team's full state; nothing when the member is gone or the change
// does not apply.
func withMemberFlag(t *events.Team, budgetID string, ch flagChange) (string, any, error) {
	m := memberOf(t, budgetID)
	if m == nil {
		return "", nil, nil
	}
	if f := m.BudgetFlag; !ch.apply(&f) {
		return "", nil, nil
	}
	c := *t
	c.MembersWithRoles = slices.Clone(t.MembersWithRoles)
	ch.apply(&memberOf(&c, budgetID).BudgetFlag)
	return events.TeamUpserted, &c, nil
}
