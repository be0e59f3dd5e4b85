package api

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/control/store"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/policy"
)

// Organizations: LiteLLM's /organization/* routes, with its methods (update
// and member_update are PATCH, delete and member_delete DELETE; POST is
// accepted too, for clients that cannot send a body with those methods).
func (a *API) organizationRoutes(admin fiber.Router) {
	admin.Post("/organization/new", a.adminOnly, a.orgNew)
	admin.Patch("/organization/update", a.adminOnly, a.orgUpdate)
	admin.Post("/organization/update", a.adminOnly, a.orgUpdate)
	admin.Get("/organization/info", a.orgInfo)
	admin.Get("/organization/list", a.orgList)
	admin.Delete("/organization/delete", a.adminOnly, a.orgDelete)
	admin.Post("/organization/delete", a.adminOnly, a.orgDelete)
	admin.Post("/organization/member_add", a.adminOnly, a.orgMemberAdd)
	admin.Patch("/organization/member_update", a.adminOnly, a.orgMemberUpdate)
	admin.Post("/organization/member_update", a.adminOnly, a.orgMemberUpdate)
	admin.Delete("/organization/member_delete", a.adminOnly, a.orgMemberDelete)
	admin.Post("/organization/member_delete", a.adminOnly, a.orgMemberDelete)
}

type orgRequest struct {
	OrganizationID    *string   `json:"organization_id"`
	OrganizationAlias *string   `json:"organization_alias"`
	Models            *[]string `json:"models"`
	Blocked           *bool     `json:"blocked"`
	limitFields
}

func (r *orgRequest) validate() error {
	if err := r.limitFields.validate(); err != nil {
		return err
	}
	if r.Models != nil {
		for i, m := range *r.Models {
			if strings.TrimSpace(m) == "" {
				return httpx.Param("models", "entry %d is empty", i)
			}
			if m == policy.AllOrgModels {
				return httpx.Param("models", "%q names the org's own models; list model names", m)
			}
		}
	}
	return nil
}

func (r *orgRequest) apply(o *events.Org, now time.Time) {
	set(&o.OrganizationAlias, r.OrganizationAlias)
	setList(&o.Models, r.Models)
	set(&o.Blocked, r.Blocked)
	r.limitFields.apply(&o.MaxBudget, &o.BudgetDuration, &o.TPMLimit, &o.RPMLimit, &o.BudgetFlag, now, &o.Metadata)
	o.Models = orEmpty(o.Models)
}

// orgNotFound is LiteLLM's message for an organization id that names none.
func orgNotFound(id string) *apierror.Error {
	return apierror.NotFound.With("Organization doesn't exist in db. Organization=%s. Create organization via `/organization/new` call.", id)
}

func (a *API) orgNew(c *fiber.Ctx) error {
	var req orgRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if req.OrganizationAlias == nil || strings.TrimSpace(*req.OrganizationAlias) == "" {
		return httpx.Required("organization_alias")
	}
	if err := req.validate(); err != nil {
		return err
	}
	id, err := chosenID("organization_id", req.OrganizationID)
	if err != nil {
		return err
	}
	now := a.store.Now()
	o := &events.Org{OrganizationID: id, CreatedAt: now, UpdatedAt: now, CreatedBy: who(c).actor()}
	req.apply(o, a.store.Now())
	res, err := a.create(c, events.KindOrg, id, events.OrgUpserted, o, apierror.Conflict.With("organization_id %q already exists", id))
	if err != nil {
		return err
	}
	return commit(c, res, a.orgView(c, o, nil))
}

// mutateOrg runs a read-modify-write on an existing org.
func (a *API) mutateOrg(c *fiber.Ctx, id string, change func(o *events.Org) error) (store.Result, *events.Org, error) {
	return mutate(a, c, events.KindOrg, id, events.OrgUpserted, orgNotFound(id),
		func(o *events.Org) *time.Time { return &o.UpdatedAt }, change)
}

func requireOrgID(id string) error {
	if id == "" {
		return httpx.Required("organization_id")
	}
	return nil
}

func (a *API) orgUpdate(c *fiber.Ctx) error {
	var req orgRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	id := ""
	if req.OrganizationID != nil {
		id = *req.OrganizationID
	}
	if err := requireOrgID(id); err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	res, o, err := a.mutateOrg(c, id, func(o *events.Org) error {
		req.apply(o, a.store.Now())
		return nil
	})
	if err != nil {
		return err
	}
	return commit(c, res, a.orgView(c, o, nil))
}

// orgView renders an org as LiteLLM does (LiteLLM_OrganizationTableWithMembers):
// its fields, its spend, the budget row (litellm_budget_table), its
// members and, when teams is not nil, its teams.
func (a *API) orgView(c *fiber.Ctx, o *events.Org, teams []*events.Team) fiber.Map {
	m := withSpend(o, a.spendOf(c, events.KindOrg, o.OrganizationID))
	m["litellm_budget_table"] = fiber.Map{
		"max_budget": o.MaxBudget, "budget_duration": nilIfEmpty(o.BudgetDuration),
		"tpm_limit": o.TPMLimit, "rpm_limit": o.RPMLimit, "budget_reset_at": o.BudgetResetAt,
	}
	members := make([]fiber.Map, 0, len(o.Members))
	for _, mb := range o.Members {
		row := fiber.Map{"user_id": mb.UserID, "user_email": nilIfEmpty(mb.UserEmail), "organization_id": o.OrganizationID,
			"user_role": mb.UserRole, "max_budget_in_organization": mb.MaxBudgetInOrg, "budget_exceeded": mb.BudgetExceeded}
		// A member's spend in the org is counted only while it has a budget
		// there (the budget tracker's KindOrgMember), as LiteLLM's
		// membership row carries it.
		if mb.MaxBudgetInOrg != nil && mb.UserID != "" {
			row["spend"] = Money(a.spendOf(c, events.KindOrgMember, events.OrgMemberBudgetID(o.OrganizationID, mb.UserID, &mb)).Spend)
		}
		members = append(members, row)
	}
	m["members"] = members
	if teams != nil {
		m["teams"] = teams
	}
	return m
}

// teamsByOrg indexes the teams of a snapshot by organization, each org's
// list non-nil.
func teamsByOrg(snap *policy.Snapshot) map[string][]*events.Team {
	out := map[string][]*events.Team{}
	for _, o := range snap.Orgs() {
		out[o.OrganizationID] = []*events.Team{}
	}
	for _, t := range snap.Teams() {
		if t.OrganizationID != "" {
			out[t.OrganizationID] = append(out[t.OrganizationID], t)
		}
	}
	return out
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// orgMember reports whether userID is a member of o (nil: no org).
func orgMember(o *events.Org, userID string) bool {
	return o != nil && userID != "" && slices.ContainsFunc(o.Members, func(m events.OrgMember) bool { return m.UserID == userID })
}

// mayReadOrg: an admin, a member of the org, or a caller whose team is in
// it (LiteLLM lists /organization/info and /organization/list among the
// info routes).
func mayReadOrg(me caller, o *events.Org, snap *policy.Snapshot) bool {
	if me.reads() {
		return true
	}
	if orgMember(o, me.userID) {
		return true
	}
	if me.teamID != "" {
		if t := snap.Team(me.teamID); t != nil && t.OrganizationID == o.OrganizationID {
			return true
		}
	}
	return false
}

func (a *API) orgInfo(c *fiber.Ctx) error {
	id := c.Query("organization_id")
	if err := requireOrgID(id); err != nil {
		return err
	}
	snap := a.store.Snapshot()
	o := snap.Org(id)
	// A non-admin learns nothing about orgs it may not read, not even
	// whether they exist.
	if !who(c).reads() && (o == nil || !mayReadOrg(who(c), o, snap)) {
		return apierror.Forbidden.With("only an admin or a member may read organization %s", id)
	}
	if o == nil {
		return orgNotFound(id)
	}
	return c.JSON(a.orgView(c, o, teamsByOrg(snap)[id]))
}

func (a *API) orgList(c *fiber.Ctx) error {
	// LiteLLM's org_id (exact) and org_alias (a case-insensitive
	// substring) filters.
	if err := checkQuery(c, "org_id", "org_alias"); err != nil {
		return err
	}
	id, alias := c.Query("org_id"), strings.ToLower(c.Query("org_alias"))
	snap := a.store.Snapshot()
	teams := teamsByOrg(snap)
	out := []fiber.Map{}
	for _, o := range snap.Orgs() {
		if (id == "" || o.OrganizationID == id) && strings.Contains(strings.ToLower(o.OrganizationAlias), alias) && mayReadOrg(who(c), o, snap) {
			out = append(out, a.orgView(c, o, teams[o.OrganizationID]))
		}
	}
	return c.JSON(out)
}

// orgDelete deletes organizations with their teams and keys, as LiteLLM
// does: a team left pointing at a deleted org would silently lose the
// org's model bound and budget.
func (a *API) orgDelete(c *fiber.Ctx) error {
	var req struct {
		OrganizationIDs []string `json:"organization_ids"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	if len(req.OrganizationIDs) == 0 {
		return httpx.Required("organization_ids")
	}
	// Every org named must exist, else nothing is deleted (LiteLLM's 404
	// names the first missing one, after deleting the ones before it).
	snap := a.store.Snapshot()
	var gone []*events.Org
	for _, id := range req.OrganizationIDs {
		o := snap.Org(id)
		if o == nil {
			return param(apierror.NotFound.With("Organization=%s not found", id), "organization_ids")
		}
		if !slices.Contains(gone, o) {
			gone = append(gone, o)
		}
	}
	var last store.Result
	for _, o := range gone {
		var teams []string
		for _, t := range snap.Teams() {
			if t.OrganizationID == o.OrganizationID {
				teams = append(teams, t.TeamID)
			}
		}
		if len(teams) > 0 {
			_, _, _, r, err := a.deleteWithKeys(c, events.KindTeam, "team_ids", teams, "Team", func(k *events.Key, id string) bool { return k.TeamID == id })
			if err != nil {
				return err
			}
			last = later(last, r)
		}
		_, _, _, r, err := a.deleteWithKeys(c, events.KindOrg, "organization_ids", []string{o.OrganizationID}, "Organization", func(k *events.Key, id string) bool { return k.OrganizationID == id })
		if err != nil {
			return err
		}
		last = later(last, r)
	}
	out := make([]fiber.Map, 0, len(gone))
	for _, o := range gone {
		out = append(out, a.orgView(c, o, nil))
	}
	return commit(c, last, out)
}

// orgMemberRequest is one member of /organization/member_add.
type orgMemberRequest struct {
	Role      string `json:"role"`
	UserID    string `json:"user_id"`
	UserEmail string `json:"user_email"`
}

// validOrgRole names the field an unknown role was sent in.
func validOrgRole(field, role string) error {
	if slices.Contains(events.OrgRoles, role) {
		return nil
	}
	return httpx.Param(field, "invalid organization role %q: must be one of %s", role, strings.Join(events.OrgRoles, ", "))
}

func (a *API) orgMemberAdd(c *fiber.Ctx) error {
	var req struct {
		OrganizationID          string          `json:"organization_id"`
		Member                  json.RawMessage `json:"member"`
		MaxBudgetInOrganization *float64        `json:"max_budget_in_organization"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	if err := requireOrgID(req.OrganizationID); err != nil {
		return err
	}
	var members []orgMemberRequest
	switch {
	case len(req.Member) == 0 || string(req.Member) == "null":
		return httpx.Required("member")
	case req.Member[0] == '[':
		if err := httpx.DecodeStrict(req.Member, &members); err != nil {
			return prefixParam(err, "member")
		}
	default:
		var m orgMemberRequest
		if err := httpx.DecodeStrict(req.Member, &m); err != nil {
			return prefixParam(err, "member")
		}
		members = []orgMemberRequest{m}
	}
	if req.MaxBudgetInOrganization != nil && *req.MaxBudgetInOrganization < 0 {
		return httpx.Param("max_budget_in_organization", "must be >= 0")
	}
	for i := range members {
		m := &members[i]
		if m.UserID == "" && m.UserEmail == "" {
			return httpx.Param("member", "each member needs user_id or user_email")
		}
		if m.Role == "" {
			m.Role = events.DefaultOrgRole
		}
		if err := validOrgRole("member.role", m.Role); err != nil {
			return err
		}
	}
	res, o, err := a.mutateOrg(c, req.OrganizationID, func(o *events.Org) error {
		o.Members = slices.Clone(o.Members)
		for _, m := range members {
			row := events.OrgMember{UserID: m.UserID, UserEmail: m.UserEmail, UserRole: m.Role, MaxBudgetInOrg: req.MaxBudgetInOrganization, BudgetID: events.NewID()}
			if i := slices.IndexFunc(o.Members, sameOrgMember(m.UserID, m.UserEmail)); i >= 0 {
				row.BudgetID = o.Members[i].BudgetID // the same membership: its spend stays
				o.Members[i] = row
			} else {
				o.Members = append(o.Members, row)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Members that are not users yet become internal users of the org, as
	// LiteLLM creates them.
	users := []*events.User{}
	for _, m := range members {
		if m.UserID == "" {
			continue
		}
		now := a.store.Now()
		var u *events.User
		r, err := a.store.Mutate(c.UserContext(), who(c).actor(), events.KindUser, m.UserID, func(cur any) (string, any, error) {
			if old, _ := cur.(*events.User); old != nil {
				u = old
				return "", nil, nil
			}
			u = &events.User{UserID: m.UserID, UserEmail: m.UserEmail, UserRole: "internal_user", Models: []string{}, Teams: []string{},
				OrganizationID: o.OrganizationID, CreatedAt: now, UpdatedAt: now}
			return events.UserUpserted, u, nil
		})
		if err != nil {
			return err
		}
		res = later(res, r)
		users = append(users, u)
	}
	memberships := make([]fiber.Map, 0, len(members))
	for _, mb := range o.Members {
		if slices.ContainsFunc(members, func(m orgMemberRequest) bool { return sameOrgMember(m.UserID, m.UserEmail)(mb) }) {
			memberships = append(memberships, fiber.Map{"user_id": mb.UserID, "user_email": nilIfEmpty(mb.UserEmail),
				"organization_id": o.OrganizationID, "user_role": mb.UserRole, "max_budget_in_organization": mb.MaxBudgetInOrg})
		}
	}
	return commit(c, res, fiber.Map{"organization_id": o.OrganizationID, "updated_users": users, "updated_organization_memberships": memberships})
}

func sameOrgMember(userID, email string) func(events.OrgMember) bool {
	return func(x events.OrgMember) bool { return sameMember(userID, email, x.UserID, x.UserEmail) }
}

// sameMember reports whether the team or org member with userID and email
// is the one named by wantID or wantEmail (either may be ""): ids compare
// exactly, emails without regard to case.
func sameMember(wantID, wantEmail, userID, email string) bool {
	return (wantID != "" && userID == wantID) || (wantEmail != "" && strings.EqualFold(email, wantEmail))
}

type orgMemberChange struct {
	OrganizationID          string   `json:"organization_id"`
	UserID                  string   `json:"user_id"`
	UserEmail               string   `json:"user_email"`
	Role                    *string  `json:"role"`
	MaxBudgetInOrganization *float64 `json:"max_budget_in_organization"`
}

func (r *orgMemberChange) validate() error {
	if err := requireOrgID(r.OrganizationID); err != nil {
		return err
	}
	if r.UserID == "" && r.UserEmail == "" {
		e := apierror.MissingParam.With("user_id or user_email is required")
		e.Param = "user_id"
		return e
	}
	return nil
}

// notMember is LiteLLM's 404 for a user that is not a member of the org.
func (r *orgMemberChange) notMember() error {
	id := r.UserID
	if id == "" {
		id = r.UserEmail
	}
	return param(apierror.NotFound.With("Member not found in organization for user_id=%s", id), "user_id")
}

func (a *API) orgMemberUpdate(c *fiber.Ctx) error {
	req, err := decodeValid[orgMemberChange](c)
	if err != nil {
		return err
	}
	if req.Role != nil {
		if err := validOrgRole("role", *req.Role); err != nil {
			return err
		}
	}
	if req.MaxBudgetInOrganization != nil && *req.MaxBudgetInOrganization < 0 {
		return httpx.Param("max_budget_in_organization", "must be >= 0")
	}
	var row events.OrgMember
	res, o, err := a.mutateOrg(c, req.OrganizationID, func(o *events.Org) error {
		i := slices.IndexFunc(o.Members, sameOrgMember(req.UserID, req.UserEmail))
		if i < 0 {
			return req.notMember()
		}
		o.Members = slices.Clone(o.Members)
		if req.Role != nil {
			o.Members[i].UserRole = *req.Role
		}
		if req.MaxBudgetInOrganization != nil {
			o.Members[i].MaxBudgetInOrg = req.MaxBudgetInOrganization
		}
		row = o.Members[i]
		return nil
	})
	if err != nil {
		return err
	}
	return commit(c, res, fiber.Map{"user_id": row.UserID, "user_email": nilIfEmpty(row.UserEmail), "organization_id": o.OrganizationID,
		"user_role": row.UserRole, "max_budget_in_organization": row.MaxBudgetInOrg})
}

func (a *API) orgMemberDelete(c *fiber.Ctx) error {
	req, err := decodeValid[orgMemberChange](c)
	if err != nil {
		return err
	}
	if req.Role != nil || req.MaxBudgetInOrganization != nil {
		return httpx.Param("role", "not accepted by member_delete")
	}
	res, o, err := a.mutateOrg(c, req.OrganizationID, func(o *events.Org) error {
		n := len(o.Members)
		o.Members = slices.DeleteFunc(slices.Clone(o.Members), sameOrgMember(req.UserID, req.UserEmail))
		if len(o.Members) == n {
			return req.notMember()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return commit(c, res, a.orgView(c, o, nil))
}

// prefixParam names a nested field by its path in the body (member.role).
func prefixParam(err error, prefix string) error {
	e := apierror.From(err)
	if e.Param != "" && !strings.HasPrefix(e.Param, prefix+".") {
		c := *e
		c.Param = prefix + "." + e.Param
		c.Message = strings.Replace(c.Message, `"`+e.Param+`"`, `"`+c.Param+`"`, 1)
		return &c
	}
	return err
}

// checkOrgOfTeam is /team/new's and /team/update's check of organization_id:
// the org must exist, and the team's models and budget must fit in it
// (LiteLLM's _check_org_team_limits).
func (a *API) checkOrgOfTeam(orgID *string, models *[]string, maxBudget *float64) error {
	if orgID == nil || *orgID == "" {
		return nil
	}
	snap := a.store.Snapshot()
	o := snap.Org(*orgID)
	if o == nil {
		e := apierror.BadRequest.With("Organization doesn't exist in db. Organization=%s. Create organization via `/organization/new` call.", *orgID)
		e.Param = "organization_id"
		return e
	}
	if models != nil && len(o.Models) > 0 {
		for _, m := range *models {
			if !policy.WithinModels(snap, m, o.Models) {
				return httpx.Param("models", "model %q is not in the organization's allowed models %v (organization_id=%s)", m, o.Models, o.OrganizationID)
			}
		}
	}
	if maxBudget != nil && o.MaxBudget != nil && *maxBudget > *o.MaxBudget {
		return httpx.Param("max_budget", "%g exceeds the organization's max_budget %g (organization_id=%s)", *maxBudget, *o.MaxBudget, o.OrganizationID)
	}
	return nil
}

// teamRefsCheck checks what a /team/new or /team/update body refers to:
// its access groups, and its org with checkOrgOfTeam (an update that does
// not move the team is checked against its current org).
func (a *API) teamRefsCheck(r *teamRequest) error {
	if err := a.checkAccessGroups(r.AccessGroupIDs); err != nil {
		return err
	}
	orgID := r.OrganizationID
	if orgID == nil && r.TeamID != nil {
		if t := a.store.Snapshot().Team(*r.TeamID); t != nil && t.OrganizationID != "" {
			orgID = &t.OrganizationID
		}
	}
	return a.checkOrgOfTeam(orgID, r.Models, r.MaxBudget)
}

// checkOrgExists is /key/generate's check of organization_id.
func (a *API) checkOrgExists(orgID *string) error {
	return a.checkOrgOfTeam(orgID, nil, nil)
}
