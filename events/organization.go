package events

import "time"

// Org is an organization (LiteLLM's LiteLLM_OrganizationTable with its
// budget row folded in): it bounds the models of its teams, carries a
// budget that the spend of every team and key in it counts against, and
// has members with org roles. A team belongs to at most one org
// (Team.OrganizationID).
type Org struct {
	OrganizationID    string         `json:"organization_id"`
	OrganizationAlias string         `json:"organization_alias,omitempty"`
	Models            []string       `json:"models"` // empty: all models
	Blocked           bool           `json:"blocked"`
	MaxBudget         *float64       `json:"max_budget"`
	Metadata          map[string]any `json:"metadata,omitempty"`
	CreatedAt         time.Time      `json:"created_at"`
	UpdatedAt         time.Time      `json:"updated_at"`
	// Fields below were added with /organization/*; each zero value means
	// what an org event without it meant (no window, no limits, nobody).
	BudgetDuration string      `json:"budget_duration,omitempty"`
	TPMLimit       *int64      `json:"tpm_limit,omitempty"`
	RPMLimit       *int64      `json:"rpm_limit,omitempty"`
	Members        []OrgMember `json:"members,omitempty"`
	CreatedBy      string      `json:"created_by,omitempty"`
	// BudgetFlag: while set, every edge refuses the org's teams and keys.
	BudgetFlag
}

// OrgMember is one row of LiteLLM's LiteLLM_OrganizationMembership.
type OrgMember struct {
	UserID    string `json:"user_id,omitempty"`
	UserEmail string `json:"user_email,omitempty"`
	// UserRole is one of OrgRoles.
	UserRole string `json:"user_role"`
	// MaxBudgetInOrg is LiteLLM's max_budget_in_organization: the member's
	// spend in the org (by its keys and JWTs of the org's teams) is
	// counted under KindOrgMember.
	MaxBudgetInOrg *float64 `json:"max_budget_in_organization,omitempty"`
	// BudgetID names the membership's budget (its spend totals): set when
	// the member is added, so a member removed and added again starts
	// from zero, as LiteLLM's new membership row does. Members from before
	// it existed are counted under OrgMemberID.
	BudgetID string `json:"budget_id,omitempty"`
	// BudgetFlag: while set, every edge refuses this member's requests in
	// the org.
	BudgetFlag
}

// The roles a member may have in an organization (LiteLLM's
// LitellmUserRoles that are valid for an org membership).
const (
	OrgRoleAdmin      = "org_admin"
	OrgRoleUser       = "internal_user"
	OrgRoleUserViewer = "internal_user_viewer"
	DefaultOrgRole    = OrgRoleUser
)

// OrgRoles lists the valid org member roles, in LiteLLM's order.
var OrgRoles = []string{OrgRoleAdmin, OrgRoleUser, OrgRoleUserViewer}
