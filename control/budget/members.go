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

// Org member budgets (LiteLLM's max_budget_in_organization): the spend of
// a user in an org is counted under its membership's budget_id
// (events.OrgMemberBudgetID, KindOrgMember),
// and the flag is set on the member, in the org's event
// (policy.Snapshot.CheckOrgMemberBudget). They have no window: LiteLLM's
// /organization/member_* set no budget_duration.

// orgMemberBudgetID is the id of user's membership of org, when the
// membership has a budget ("" otherwise: nothing to count).
func orgMemberBudgetID(s *policy.Snapshot, org, user string) string {
	m := s.OrgMemberBudget(org, user)
	if m == nil {
		return ""
	}
	return events.OrgMemberBudgetID(org, user, m)
}

// orgMemberByID is the index in o's members of the budgeted member counted
// under id (events.OrgMemberBudgetID), -1 when it is gone.
func orgMemberByID(s *policy.Snapshot, o *events.Org, id string) int {
	for i := range o.Members {
		if c := countedAs(s, o.OrganizationID, &o.Members[i]); c != "" && c == id {
			return i
		}
	}
	return -1
}

// countedAs is the id org member m's spend is counted under
// (events.OrgMemberBudgetID; a member named only by email is its user's),
// "" when it has no budget or no user to count.
func countedAs(s *policy.Snapshot, org string, m *events.OrgMember) string {
	if m.MaxBudgetInOrg == nil {
		return ""
	}
	uid := m.UserID
	if uid == "" && m.BudgetID == "" {
		u := s.UserByEmail(m.UserEmail)
		if u == nil {
			return ""
		}
		uid = u.UserID
	}
	return events.OrgMemberBudgetID(org, uid, m)
}

// orgMemberBudget is an org membership's budget.
func orgMemberBudget(s *policy.Snapshot, org, id string) objBudget {
	o := s.Org(org)
	if o == nil {
		return objBudget{}
	}
	i := orgMemberByID(s, o, id)
	if i < 0 {
		return objBudget{}
	}
	m := &o.Members[i]
	return objBudget{m.MaxBudgetInOrg, "", m.BudgetFlag, true}
}

// withOrgMemberFlag is flag's change to an org for one of its members
// (counted under id): a copy of the org with the change made to the
// member's flag, published as the org's full state; nothing when the
// member is gone or the change does not apply.
func withOrgMemberFlag(s *policy.Snapshot, o *events.Org, id string, ch flagChange) (string, any, error) {
	i := orgMemberByID(s, o, id)
	if i < 0 {
		return "", nil, nil
	}
	if f := o.Members[i].BudgetFlag; !ch.apply(&f) {
		return "", nil, nil
	}
	c := *o
	c.Members = slices.Clone(o.Members)
	ch.apply(&c.Members[i].BudgetFlag)
	return events.OrgUpserted, &c, nil
}
