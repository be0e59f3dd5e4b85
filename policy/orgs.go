package policy

import (
	"strings"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

// AllOrgModels on a key or team stands for the models of its organization
// (LiteLLM 2026). Without an organization it stays a literal name, which no
// deployment has: such a key may call nothing rather than everything.
const AllOrgModels = "all-org-models"

// orgBlocked refuses the callers of a blocked org, as a blocked team's are.
var orgBlocked = &apierror.Error{Status: 401, Type: "auth_error", Code: "org_blocked"}

// Customers returns every end user with a record, ordered by id.
func (s *Snapshot) Customers() []*events.Customer { return sortedValues(s.customers) }

// Customer returns an end user's record (nil: none, which is not an error:
// any end user may call until it is blocked or given a budget).
func (s *Snapshot) Customer(id string) *events.Customer { return s.customers[id] }

// LiteLLMSettings returns litellm_settings (nil: none set).
func (s *Snapshot) LiteLLMSettings() *events.LiteLLMSettings { return s.litellm }

// MaxEndUserBudget is litellm_settings.max_end_user_budget (nil: none).
func (s *Snapshot) MaxEndUserBudget() *float64 {
	if s.litellm == nil {
		return nil
	}
	return s.litellm.MaxEndUserBudget
}

// OrgIDOf is the organization a key belongs to: its own, else its team's.
func OrgIDOf(k *events.Key, t *events.Team) string {
	if k != nil && k.OrganizationID != "" {
		return k.OrganizationID
	}
	if t != nil {
		return t.OrganizationID
	}
	return ""
}

// expandOrgModels replaces all-org-models in a models list with the
// models of org (nil, i.e. everything, when the org has no list). The
// list is returned unchanged, without copying, when it holds no sentinel
// or there is no org: the request path allocates nothing for it.
func (s *Snapshot) expandOrgModels(models []string, orgID string) []string {
	hit := false
	for _, m := range models {
		if m == AllOrgModels {
			hit = true
			break
		}
	}
	if !hit || orgID == "" {
		return models
	}
	org := s.orgs[orgID]
	if org == nil {
		return models
	}
	return org.Models
}

// TeamModels is a team's effective models list: all-org-models expanded
// to its organization's models.
func (s *Snapshot) TeamModels(t *events.Team) []string {
	return s.expandOrgModels(t.Models, t.OrganizationID)
}

// TeamAllowed reports whether a team may call model, with all-org-models,
// all-team-models and its access_group_ids understood.
func (s *Snapshot) TeamAllowed(t *events.Team, model string) bool {
	return s.Allowed(s.TeamModels(t), model) || s.inAccessGroups(t.AccessGroupIDs, model)
}

// inAccessGroups reports whether model is in one of the access groups ids
// names: a key's or team's access_group_ids, which LiteLLM tries after
// their models. An id that names no group allows nothing.
func (s *Snapshot) inAccessGroups(ids []string, model string) bool {
	for _, id := range ids {
		if s.catalog.IsGroup(id) && s.catalog.InGroup(id, model) {
			return true
		}
	}
	return false
}

// TeamAlias is the model group team's model_aliases names for model, ""
// when it names none (or there is no team).
func TeamAlias(t *events.Team, model string) string {
	if t == nil {
		return ""
	}
	return t.ModelAliases[model]
}

// TeamMayCall is TeamAllowed for a requested name: it passes when the
// name, its target in the team's model_aliases or its model_group_alias
// target is allowed (LiteLLM's _can_object_call_model, which every
// object's check goes through).
func (s *Snapshot) TeamMayCall(t *events.Team, model string) bool {
	routed := model
	if target := TeamAlias(t, model); target != "" {
		routed = target
	}
	return s.allowedAs(model, routed, s.catalog.AliasTarget(model), func(m string) bool { return s.TeamAllowed(t, m) })
}

// UserMayCall refuses a model outside a teamless caller's user's models,
// the name or its model_group_alias target passing, with LiteLLM's
// user_model_access_denied texts.
func (s *Snapshot) UserMayCall(u *events.User, model string) error {
	return s.userMayCall(u, model, model, s.catalog.AliasTarget(model))
}

// keyModels is a key's effective models list: all-team-models expands to
// the team's (effective) models, all-org-models to the org's.
func (s *Snapshot) keyModels(k *events.Key, t *events.Team) []string {
	for _, m := range k.Models {
		if m == AllTeamModels {
			if t == nil {
				return nil
			}
			return s.TeamModels(t)
		}
	}
	return s.expandOrgModels(k.Models, OrgIDOf(k, t))
}

// CheckOrgStanding refuses the callers of an org that is blocked or has
// spent its budget. An org id that names no org is ignored here: keys and
// teams of a deleted org keep working, as in LiteLLM (a JWT's org claim is
// checked for existence by the JWT decision).
func (s *Snapshot) CheckOrgStanding(orgID string) error {
	if orgID == "" {
		return nil
	}
	org := s.orgs[orgID]
	switch {
	case org == nil:
		return nil
	case org.Blocked:
		return orgBlocked.With("Organization=%s is blocked. Update via `/organization/update` if you're admin.", orgID).By(Rule("org", orgID, "blocked"))
	case org.BudgetExceeded:
		return (&BudgetRefusal{Kind: events.KindOrg, ID: orgID, Max: deref(org.MaxBudget), Duration: org.BudgetDuration, ResetAt: org.BudgetResetAt}).Refusal(-1)
	}
	return nil
}

// OrgMemberBudget is user userID's membership of org orgID when it has a
// budget there (max_budget_in_organization); nil otherwise. On the request
// path: an index lookup, not a walk of the org's members, unless a
// budgeted member of the org is named only by email.
func (s *Snapshot) OrgMemberBudget(orgID, userID string) *events.OrgMember {
	if orgID == "" || userID == "" {
		return nil
	}
	m, byEmail := s.orgBudgeted.member(orgID, userID)
	if m != nil || !byEmail {
		return m
	}
	org := s.orgs[orgID]
	if org == nil {
		return nil
	}
	if i := s.OrgMemberIndex(org, userID); i >= 0 {
		return &org.Members[i]
	}
	return nil
}

// OrgMemberIndex is the index in org's members of user userID's membership
// with a budget, matched by user_id, else, for a member named only by
// email, by the user's email (case-insensitive, as the admin API matches
// members); -1 when there is none.
func (s *Snapshot) OrgMemberIndex(org *events.Org, userID string) int {
	byEmail := -1
	for i := range org.Members {
		m := &org.Members[i]
		if m.MaxBudgetInOrg == nil {
			continue
		}
		if m.UserID == userID {
			return i
		}
		if m.UserID == "" && byEmail < 0 {
			if u := s.users[userID]; u != nil && u.UserEmail != "" && strings.EqualFold(m.UserEmail, u.UserEmail) {
				byEmail = i
			}
		}
	}
	return byEmail
}

// CheckOrgMemberBudget refuses user userID in org orgID once its spend in
// the org reached its max_budget_in_organization (LiteLLM's organization
// member budget check in common_checks, the org counterpart of the team
// member one: 400 budget_exceeded, "Budget has been exceeded! User=<u> in
// Organization=<o> ..."). The flag is the budget tracker's, on the member
// in the org's event.
func (s *Snapshot) CheckOrgMemberBudget(orgID, userID string) error {
	m := s.OrgMemberBudget(orgID, userID)
	if m == nil || !m.BudgetExceeded {
		return nil
	}
	return (&BudgetRefusal{Kind: events.KindOrgMember, ID: events.OrgMemberBudgetID(orgID, userID, m), Org: orgID, User: userID, Max: deref(m.MaxBudgetInOrg), ResetAt: m.BudgetResetAt}).Refusal(-1)
}

// CheckOrgModel refuses a model outside an org's models list (an org with
// no list, or no org, allows every model). requested is the name the
// caller sent, model the one routed after aliases.
func (s *Snapshot) CheckOrgModel(orgID, requested, model string) error {
	if orgID == "" {
		return nil
	}
	org := s.orgs[orgID]
	if org == nil {
		return nil
	}
	// As for keys and teams, the name, its key alias target or its
	// model_group_alias target passing is enough.
	ok := func(m string) bool { return s.Allowed(org.Models, m) }
	if !s.allowedAs(requested, model, s.catalog.AliasTarget(requested), ok) {
		return apierror.OrgModelDenied.With("Organization not allowed to access model. Org=%s, Model=%s. Allowed org models = %s",
			orgID, requested, apierror.PyList(org.Models)).By(Rule("org", orgID, "models"))
	}
	return nil
}
