package api

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/control/budget"
	"github.com/gatehouse/gatehouse/control/store"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/policy"
)

type teamRequest struct {
	TeamID           *string        `json:"team_id"`
	TeamAlias        *string        `json:"team_alias"`
	OrganizationID   *string        `json:"organization_id"`
	Models           *[]string      `json:"models"`
	Blocked          *bool          `json:"blocked"`
	MembersWithRoles *[]memberInput `json:"members_with_roles"`
	AccessGroupIDs   *[]string      `json:"access_group_ids"`
	// ModelAliases replaces the team's aliases ({} clears them).
	ModelAliases map[string]string `json:"model_aliases"`
	limitFields
	teamPermissionFields
	memberDefaultFields
}

// memberDefaultFields are LiteLLM's team member defaults on /team/new and
// /team/update: the budget and rpm/tpm limits of each member without its
// own, and the duration of keys generated for the team for a user.
type memberDefaultFields struct {
	TeamMemberBudget         *float64 `json:"team_member_budget"`
	TeamMemberBudgetDuration *string  `json:"team_member_budget_duration"`
	TeamMemberRPMLimit       *int64   `json:"team_member_rpm_limit"`
	TeamMemberTPMLimit       *int64   `json:"team_member_tpm_limit"`
	TeamMemberKeyDuration    *string  `json:"team_member_key_duration"`
}

func (f *memberDefaultFields) validate() error {
	if err := validLimits("team_member_budget", f.TeamMemberBudget, "team_member_budget_duration", f.TeamMemberBudgetDuration,
		"team_member_tpm_limit", f.TeamMemberTPMLimit, "team_member_rpm_limit", f.TeamMemberRPMLimit); err != nil {
		return err
	}
	if f.TeamMemberKeyDuration != nil && *f.TeamMemberKeyDuration != "" {
		if _, err := parseDuration("team_member_key_duration", *f.TeamMemberKeyDuration); err != nil {
			return err
		}
	}
	return nil
}

// apply sets the sent defaults on t. As LiteLLM's default member budget
// row, the first one takes the team's budget_duration unless
// team_member_budget_duration is sent, and gets a budget_id.
func (f *memberDefaultFields) apply(t *events.Team) {
	d := &t.MemberDefaults
	budget := f.TeamMemberBudget != nil || f.TeamMemberRPMLimit != nil || f.TeamMemberTPMLimit != nil || f.TeamMemberBudgetDuration != nil
	if budget && d.TeamMemberBudgetID == "" {
		d.TeamMemberBudgetID = "team-budget-" + strings.ReplaceAll(newID(), "-", "")
		if f.TeamMemberBudgetDuration == nil {
			d.TeamMemberBudgetDuration = t.BudgetDuration
		}
	}
	setRef(&d.TeamMemberBudget, f.TeamMemberBudget)
	set(&d.TeamMemberBudgetDuration, f.TeamMemberBudgetDuration)
	if f.TeamMemberBudgetDuration != nil {
		restartMemberWindows(t)
	}
	setRef(&d.TeamMemberRPMLimit, f.TeamMemberRPMLimit)
	setRef(&d.TeamMemberTPMLimit, f.TeamMemberTPMLimit)
	set(&d.TeamMemberKeyDuration, f.TeamMemberKeyDuration)
}

// memberInput is a member as a request names it (LiteLLM's Member:
// user_id, user_email, role). A member's budget is set only by
// max_budget_in_team on /team/member_add and /team/member_update, and its
// budget_exceeded flag only by the budget tracker, so members_with_roles
// carries neither.
type memberInput struct {
	UserID    string `json:"user_id"`
	UserEmail string `json:"user_email"`
	Role      string `json:"role"`
}

// members turns request members into team members, each keeping the
// limits (max_budget_in_team, rpm_limit, tpm_limit, budget_id, flag) it
// has in old.
func members(in []memberInput, old []events.Member) []events.Member {
	out := make([]events.Member, 0, len(in))
	for _, m := range in {
		nm := events.Member{UserID: m.UserID, UserEmail: m.UserEmail, Role: m.Role}
		if i := slices.IndexFunc(old, func(x events.Member) bool { return sameMember(m.UserID, m.UserEmail, x.UserID, x.UserEmail) }); i >= 0 {
			nm.MaxBudgetInTeam, nm.RPMLimit, nm.TPMLimit, nm.BudgetID, nm.BudgetFlag = old[i].MaxBudgetInTeam, old[i].RPMLimit, old[i].TPMLimit, old[i].BudgetID, old[i].BudgetFlag
		}
		out = append(out, nm)
	}
	return out
}

// memberLimitFields are a member's own limits within its team, as
// /team/member_add and /team/member_update take them (nil: not sent).
type memberLimitFields struct {
	MaxBudgetInTeam *float64 `json:"max_budget_in_team"`
	TPMLimit        *int64   `json:"tpm_limit"`
	RPMLimit        *int64   `json:"rpm_limit"`
}

// validate refuses a negative budget or limit.
func (f *memberLimitFields) validate() error {
	if b := f.MaxBudgetInTeam; b != nil && *b < 0 {
		return httpx.Param("max_budget_in_team", "must be >= 0, got %g", *b)
	}
	return validLimits("", nil, "", nil, "tpm_limit", f.TPMLimit, "rpm_limit", f.RPMLimit)
}

// apply gives a member the sent limits.
func (f *memberLimitFields) apply(m *events.Member) {
	setRef(&m.MaxBudgetInTeam, clone(f.MaxBudgetInTeam))
	setRef(&m.TPMLimit, clone(f.TPMLimit))
	setRef(&m.RPMLimit, clone(f.RPMLimit))
}

func clone[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// budgetIDs gives every member of t with limits (its own, or the team's
// member defaults) that has none a budget_id, under which the budget
// tracker counts its spend in the team, and gives a member with a
// budget_id its budget_reset_at from team_member_budget_duration as LiteLLM
// gives its member budget row one (new_budget: the next standardized reset
// from now), or takes it away when there is no duration (the budget never
// resets); t's members are copied first.
func budgetIDs(t *events.Team, now time.Time) {
	cloned := false
	edit := func(i int) *events.Member {
		if !cloned {
			t.MembersWithRoles, cloned = slices.Clone(t.MembersWithRoles), true
		}
		return &t.MembersWithRoles[i]
	}
	dur := t.TeamMemberBudgetDuration
	for i := range t.MembersWithRoles {
		m := &t.MembersWithRoles[i]
		if m.BudgetID == "" && policy.HasMemberLimits(t, m) {
			m = edit(i)
			m.BudgetID = newID()
		}
		switch {
		case m.BudgetID == "":
		case dur != "" && m.BudgetResetAt == nil:
			if r, err := policy.NextBudgetReset(dur, now); err == nil {
				edit(i).BudgetResetAt = &r
			}
		case dur == "" && m.BudgetResetAt != nil:
			edit(i).BudgetResetAt = nil
		}
	}
}

// restartMemberWindows drops every member's budget_reset_at so budgetIDs
// computes it again from now: LiteLLM's /team/update with
// team_member_budget_duration updates its member budget row, which
// recomputes the row's reset (LIT-3362) as any budget_duration sent does.
func restartMemberWindows(t *events.Team) {
	cloned := false
	for i := range t.MembersWithRoles {
		if t.MembersWithRoles[i].BudgetResetAt != nil {
			if !cloned {
				t.MembersWithRoles, cloned = slices.Clone(t.MembersWithRoles), true
			}
			t.MembersWithRoles[i].BudgetResetAt = nil
		}
	}
}

// chosenID is the id a create names in field, or a fresh one where it
// names none; naming an empty one is a mistake, not a request for a fresh id.
func chosenID(field string, named *string) (string, error) {
	if named == nil {
		return newID(), nil
	}
	if strings.TrimSpace(*named) == "" {
		return "", httpx.Param(field, "must not be empty")
	}
	return *named, nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func validRole(field, r string) error {
	switch r {
	case "admin", "user":
		return nil
	}
	return httpx.Param(field, "role must be \"admin\" or \"user\", got %q", r)
}

func (r *teamRequest) validate() error {
	if err := r.limitFields.validate(); err != nil {
		return err
	}
	if err := validModels(r.Models); err != nil {
		return err
	}
	if err := r.teamPermissionFields.validate(); err != nil {
		return err
	}
	if err := r.memberDefaultFields.validate(); err != nil {
		return err
	}
	for alias, target := range r.ModelAliases {
		if strings.TrimSpace(alias) == "" || strings.TrimSpace(target) == "" {
			return httpx.Param("model_aliases", "an alias and the model it stands for must not be empty, got %q: %q", alias, target)
		}
	}
	if r.MembersWithRoles != nil {
		for _, m := range *r.MembersWithRoles {
			if m.UserID == "" && m.UserEmail == "" {
				return httpx.Param("members_with_roles", "each member needs user_id or user_email")
			}
			if err := validRole("members_with_roles", m.Role); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *teamRequest) apply(t *events.Team, now time.Time) {
	set(&t.TeamAlias, r.TeamAlias)
	set(&t.OrganizationID, r.OrganizationID)
	setList(&t.Models, r.Models)
	set(&t.Blocked, r.Blocked)
	if r.MembersWithRoles != nil {
		t.MembersWithRoles = members(*r.MembersWithRoles, t.MembersWithRoles)
	}
	r.limitFields.apply(&t.MaxBudget, &t.BudgetDuration, &t.TPMLimit, &t.RPMLimit, &t.BudgetFlag, now, &t.Metadata)
	r.teamPermissionFields.apply(t)
	r.memberDefaultFields.apply(t)
	setList(&t.AccessGroupIDs, r.AccessGroupIDs)
	if r.ModelAliases != nil {
		t.ModelAliases = maps.Clone(r.ModelAliases)
		if len(t.ModelAliases) == 0 {
			t.ModelAliases = nil
		}
	}
	t.Models = orEmpty(t.Models)
	if t.MembersWithRoles == nil {
		t.MembersWithRoles = []events.Member{}
	}
}

func (a *API) teamNew(c *fiber.Ctx) error {
	req, err := decodeValid[teamRequest](c)
	if err != nil {
		return err
	}
	if err := softBelowMax(c, req.MaxBudget); err != nil {
		return err
	}
	me := who(c)
	if !me.admin {
		if err := a.selfServeLimits(me, req); err != nil {
			return err
		}
	}
	if err := a.teamRefsCheck(req); err != nil {
		return err
	}
	id, err := chosenID("team_id", req.TeamID)
	if err != nil {
		return err
	}
	if id == uiTeamID {
		return param(apierror.BadRequest.With("team_id=%s is reserved for LiteLLM's UI session tokens", id), "team_id")
	}
	now := a.store.Now()
	t := &events.Team{TeamID: id, CreatedAt: now, UpdatedAt: now}
	req.apply(t, now)
	a.addCreator(me, t)
	budgetIDs(t, now)
	res, err := a.create(c, events.KindTeam, id, events.TeamUpserted, t, apierror.Conflict.With("team_id %q already exists", id))
	if err != nil {
		return err
	}
	return commit(c, res, t)
}

// uiTeamID is LiteLLM's UI_TEAM_ID, the team of its UI session tokens;
// its /team/new refuses it as a team's id, and so does gatehouse's.
const uiTeamID = "litellm-dashboard"

// softBelowMax refuses a team body whose soft_budget is not strictly
// below the max_budget it sends, with LiteLLM's text. soft_budget itself
// is accepted with a warning and not kept (litellmFields), so a team has
// no soft_budget of its own to compare a later max_budget with.
func softBelowMax(c *fiber.Ctx, maxBudget *float64) error {
	var b struct {
		SoftBudget *float64 `json:"soft_budget"`
	}
	if maxBudget == nil || json.Unmarshal(c.Body(), &b) != nil || b.SoftBudget == nil || *b.SoftBudget < *maxBudget {
		return nil
	}
	return param(apierror.BadRequest.With("soft_budget (%s) must be strictly lower than max_budget (%s)", pyFloat(b.SoftBudget), pyFloat(maxBudget)), "soft_budget")
}

// mutateTeam runs a read-modify-write on an existing team; members that
// have limits get their budget_id.
func (a *API) mutateTeam(c *fiber.Ctx, id, typ string, change func(t *events.Team) error) (store.Result, *events.Team, error) {
	return mutate(a, c, events.KindTeam, id, typ, apierror.NotFound.With("Team not found, passed team_id=%s", id),
		func(t *events.Team) *time.Time { return &t.UpdatedAt }, func(t *events.Team) error {
			if err := change(t); err != nil {
				return err
			}
			budgetIDs(t, a.store.Now())
			return nil
		})
}

// decodeTeamChange reads the body of a change to an existing team, which
// must name it by team_id.
func decodeTeamChange(c *fiber.Ctx) (*teamRequest, string, error) {
	var req teamRequest
	if err := decode(c, &req); err != nil {
		return nil, "", err
	}
	if req.TeamID == nil || *req.TeamID == "" {
		return nil, "", apierror.MissingParam.With("team_id is required")
	}
	return &req, *req.TeamID, nil
}

func (a *API) teamUpdate(c *fiber.Ctx) error {
	req, id, err := decodeTeamChange(c)
	if err != nil {
		return err
	}
	if err := req.validate(); err != nil {
		return err
	}
	if err := softBelowMax(c, req.MaxBudget); err != nil {
		return err
	}
	if err := a.teamRefsCheck(req); err != nil {
		return err
	}
	res, t, err := a.mutateTeam(c, id, events.TeamUpserted, func(t *events.Team) error {
		req.apply(t, a.store.Now())
		return nil
	})
	if err != nil {
		return err
	}
	// LiteLLM answers {"team_id", "data": <team>}; the team's fields stay
	// at the top level too (the embedded team), for clients written
	// against gatehouse.
	return commit(c, res, struct {
		*events.Team
		Data *events.Team `json:"data"`
	}{t, t})
}

func (a *API) teamBlock(block bool) fiber.Handler {
	typ := events.TeamUnblocked
	if block {
		typ = events.TeamBlocked
	}
	return func(c *fiber.Ctx) error {
		_, id, err := decodeTeamChange(c)
		if err != nil {
			return err
		}
		res, t, err := a.mutateTeam(c, id, typ, func(t *events.Team) error {
			t.Blocked = block
			return nil
		})
		if err != nil {
			return err
		}
		return commit(c, res, t)
	}
}

func (a *API) teamInfo(c *fiber.Ctx) error {
	me := who(c)
	// LiteLLM's validate_membership: a member of the team reads it too.
	member := teamMember(a.store.Snapshot().Team(c.Query("team_id")), me.userID) != nil
	id, err := infoID("team_id", c.Query("team_id"), me.teamID, me.reads() || member, apierror.Forbidden.With("only an admin may read another team's info"))
	if err != nil {
		return err
	}
	snap := a.store.Snapshot()
	t := snap.Team(id)
	if t == nil {
		return apierror.NotFound.With("Team not found, passed team_id=%s", id)
	}
	keys := []*events.Key{}
	if me.reads() {
		keys = keysWhere(snap, func(k *events.Key) bool { return k.TeamID == id })
	}
	return c.JSON(fiber.Map{"team_id": id, "team_info": teamInfoView(t, a.spendOf(c, events.KindTeam, id)), "keys": keys,
		"team_memberships": a.teamMemberships(c, t)})
}

// teamInfoView is /team/info's team_info: the team with its spend and, as
// LiteLLM answers them, its default member budget row
// (team_member_budget_table, null without one) and metadata's
// team_member_budget_id and team_member_key_duration.
func teamInfoView(t *events.Team, tot budget.Totals) fiber.Map {
	m := withSpend(t, tot)
	d := t.MemberDefaults
	m["team_member_budget_table"] = nil
	if d.TeamMemberBudgetID != "" {
		m["team_member_budget_table"] = fiber.Map{"budget_id": d.TeamMemberBudgetID, "max_budget": d.TeamMemberBudget,
			"budget_duration": nilIfEmpty(d.TeamMemberBudgetDuration), "rpm_limit": d.TeamMemberRPMLimit, "tpm_limit": d.TeamMemberTPMLimit}
	}
	if d.TeamMemberBudgetID != "" || d.TeamMemberKeyDuration != "" {
		md := maps.Clone(t.Metadata)
		if md == nil {
			md = map[string]any{}
		}
		if d.TeamMemberBudgetID != "" {
			md["team_member_budget_id"] = d.TeamMemberBudgetID
		}
		if d.TeamMemberKeyDuration != "" {
			md["team_member_key_duration"] = d.TeamMemberKeyDuration
		}
		m["metadata"] = md
	}
	return m
}

// teamMemberships are LiteLLM's team_memberships of /team/info: one per
// member with limits in the team (its own or the team's member defaults),
// with its spend in the team and its budget row (litellm_budget_table:
// the limits that apply to it, each its own or else the team's default).
func (a *API) teamMemberships(c *fiber.Ctx, t *events.Team) []fiber.Map {
	out := []fiber.Map{}
	for i := range t.MembersWithRoles {
		m := &t.MembersWithRoles[i]
		if m.BudgetID == "" {
			continue
		}
		l := policy.LimitsOf(t, m)
		tot := a.spendOf(c, events.KindTeamMember, m.BudgetID)
		out = append(out, fiber.Map{"team_id": t.TeamID, "user_id": m.UserID, "user_email": nilIfEmpty(m.UserEmail),
			"budget_id": m.BudgetID, "spend": Money(tot.Spend), "budget_exceeded": m.BudgetExceeded,
			"litellm_budget_table": fiber.Map{"budget_id": m.BudgetID, "max_budget": l.MaxBudget, "budget_duration": nilIfEmpty(l.Duration),
				"rpm_limit": l.RPM, "tpm_limit": l.TPM, "budget_reset_at": m.BudgetResetAt}})
	}
	return out
}

// teamList lists every team to an admin; anyone else names itself by
// user_id and gets the teams it is a member of (mayListTeams);
// organization_id narrows it, as in LiteLLM.
func (a *API) teamList(c *fiber.Ctx) error {
	if err := checkQuery(c, "user_id", "organization_id"); err != nil {
		return err
	}
	if err := mayListTeams(c); err != nil {
		return err
	}
	return c.JSON(filterTeams(c, a.visibleTeams(who(c))))
}

// mayListTeams is LiteLLM's check on /team/list and /v2/team/list
// (allowed_route_check_inside_route): a caller that may not read every
// team names itself by user_id; listing all teams, or another user's, is
// its 401, whose text clients and LiteLLM's own tests match.
func mayListTeams(c *fiber.Ctx) error {
	if me := who(c); !me.reads() && (c.Query("user_id") == "" || c.Query("user_id") != me.userID) {
		return apierror.NotAdmin.With("Only admin users can query all teams/other teams. Your user role=%s", cmp.Or(me.role, "None"))
	}
	return nil
}

// filterTeams keeps the teams the list query's filters name: the member
// user_id, organization_id, and (on /v2/team/list) team_id and team_alias.
func filterTeams(c *fiber.Ctx, teams []*events.Team) []*events.Team {
	user, org, id, alias := c.Query("user_id"), c.Query("organization_id"), c.Query("team_id"), c.Query("team_alias")
	out := []*events.Team{}
	for _, t := range teams {
		if (user == "" || teamMember(t, user) != nil) && (org == "" || t.OrganizationID == org) &&
			(id == "" || t.TeamID == id) && (alias == "" || t.TeamAlias == alias) {
			out = append(out, t)
		}
	}
	return out
}

func (a *API) visibleTeams(me caller) []*events.Team {
	teams := a.store.Snapshot().Teams()
	if me.reads() {
		return teams
	}
	own := []*events.Team{}
	for _, t := range teams {
		if t.TeamID == me.teamID || teamMember(t, me.userID) != nil {
			own = append(own, t)
		}
	}
	return own
}

// teamListV2 is GET /v2/team/list: /team/list's teams a page at a time
// (page from 1, page_size default 10), in LiteLLM's envelope.
func (a *API) teamListV2(c *fiber.Ctx) error {
	if err := checkQuery(c, "page", "page_size", "team_id", "team_alias", "organization_id", "user_id", "sort_by", "sort_order"); err != nil {
		return err
	}
	if err := mayListTeams(c); err != nil {
		return err
	}
	teams := filterTeams(c, a.visibleTeams(who(c)))
	if err := sortBy(c, teams, "desc", map[string]func(*events.Team) string{
		"team_id":    func(t *events.Team) string { return t.TeamID },
		"team_alias": func(t *events.Team) string { return t.TeamAlias },
		"created_at": func(t *events.Team) string { return sortTime(t.CreatedAt) },
		"updated_at": func(t *events.Team) string { return sortTime(t.UpdatedAt) },
	}); err != nil {
		return err
	}
	p, err := pageOf(c, "page_size", len(teams), 10)
	if err != nil {
		return err
	}
	from, to := p.bounds()
	return c.JSON(fiber.Map{"teams": withKeysCount(a.store.Snapshot(), teams[from:to]), "total": len(teams), "page": p.n, "page_size": p.size, "total_pages": p.pages()})
}

// withKeysCount renders teams each with keys_count, the number of its
// keys (LiteLLM 2026's /v2/team/list answers it per team of the page).
func withKeysCount(snap *policy.Snapshot, teams []*events.Team) []fiber.Map {
	counts := make(map[string]int, len(teams))
	for _, t := range teams {
		counts[t.TeamID] = 0
	}
	for _, k := range snap.Keys() {
		if n, ok := counts[k.TeamID]; ok && k.TeamID != "" {
			counts[k.TeamID] = n + 1
		}
	}
	out := make([]fiber.Map, 0, len(teams))
	for _, t := range teams {
		raw, _ := json.Marshal(t)
		var m fiber.Map
		_ = json.Unmarshal(raw, &m)
		m["keys_count"] = counts[t.TeamID]
		out = append(out, m)
	}
	return out
}

// teamAvailable is GET /team/available: the teams a user may join by
// itself (LiteLLM's default_internal_user_params.available_teams).
// gatehouse has no self-service joining, so there are none.
func (a *API) teamAvailable(c *fiber.Ctx) error {
	return c.JSON([]*events.Team{})
}

func (a *API) teamDelete(c *fiber.Ctx) error {
	var req struct {
		TeamIDs []string `json:"team_ids"`
	}
	// The team tombstone alone already revokes its keys at every edge (a
	// key whose team is gone is refused); the key tombstones clean up.
	return a.deleteRoute(c, &req, &req.TeamIDs, events.KindTeam, "team_ids", "Team",
		func(k *events.Key, id string) bool { return k.TeamID == id },
		func(deleted, missing []string, keys int) fiber.Map {
			return fiber.Map{"deleted_teams": deleted, "deleted_keys": keys, "not_found": missing}
		})
}

// teamMemberAdd is LiteLLM's /team/member_add: adds a member (or a list)
// by user_id or user_email; max_budget_in_team gives each its budget
// within the team. A member the team already has is LiteLLM's 400 (its role
// and budget change with /team/member_update); one named twice in a list
// is added once, the last naming winning.
func (a *API) teamMemberAdd(c *fiber.Ctx) error {
	var req struct {
		TeamID string          `json:"team_id"`
		Member json.RawMessage `json:"member"`
		memberLimitFields
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	if req.TeamID == "" {
		return apierror.MissingParam.With("team_id is required")
	}
	if err := req.memberLimitFields.validate(); err != nil {
		return err
	}
	var in []memberInput
	if len(req.Member) > 0 && req.Member[0] == '[' {
		if err := httpx.DecodeStrict(req.Member, &in); err != nil {
			return err
		}
	} else {
		var m memberInput
		if err := httpx.DecodeStrict(req.Member, &m); err != nil {
			return err
		}
		in = []memberInput{m}
	}
	if err := checkMembers(in, "member"); err != nil {
		return err
	}
	res, t, _, err := a.addTeamMembers(c, req.TeamID, in, req.memberLimitFields)
	if err != nil {
		return err
	}
	return commit(c, res, t)
}

// checkMembers refuses a member named by neither user_id nor user_email
// or with a role other than admin and user (field names them); a member
// without a role is a user.
func checkMembers(in []memberInput, field string) error {
	for i := range in {
		if in[i].UserID == "" && in[i].UserEmail == "" {
			return httpx.Param(field, "each member needs user_id or user_email")
		}
		if in[i].Role == "" {
			in[i].Role = "user"
		}
		if err := validRole(field+".role", in[i].Role); err != nil {
			return err
		}
	}
	return nil
}

// addTeamMembers adds members in (checked) to the team id in one event,
// each with limits, then gives them their users: the team refuses them
// all if it has one already. It answers the team and the members added.
func (a *API) addTeamMembers(c *fiber.Ctx, id string, in []memberInput, limits memberLimitFields) (store.Result, *events.Team, []events.Member, error) {
	var added []events.Member
	res, t, err := a.mutateTeam(c, id, events.TeamMemberAdded, func(t *events.Team) error {
		if err := notInTeam(in, t.MembersWithRoles); err != nil {
			return err
		}
		added = members(in, t.MembersWithRoles)
		t.MembersWithRoles = slices.Clone(t.MembersWithRoles)
		for _, m := range added {
			limits.apply(&m)
			i := slices.IndexFunc(t.MembersWithRoles, func(x events.Member) bool {
				return sameMember(m.UserID, m.UserEmail, x.UserID, x.UserEmail)
			})
			if i >= 0 {
				t.MembersWithRoles[i] = m
			} else {
				t.MembersWithRoles = append(t.MembersWithRoles, m)
			}
		}
		return nil
	})
	if err != nil {
		return res, nil, nil, err
	}
	// A member named by a user_id that has no user gets one, and users
	// that exist get the team in their list, as LiteLLM does.
	if res, err = a.createMemberUsers(c, res, added, t.TeamID); err != nil {
		return res, nil, nil, err
	}
	res, err = a.changeMemberUsers(c, res, added, func(u *events.User) {
		if !slices.Contains(u.Teams, t.TeamID) {
			u.Teams = append(slices.Clone(u.Teams), t.TeamID)
		}
	})
	return res, t, added, err
}

// memberAlreadyInTeam is LiteLLM's refusal of /team/member_add for a
// member the team has: a role or budget changes with /team/member_update.
var memberAlreadyInTeam = &apierror.Error{Status: 400, Type: "team_member_already_in_team", Code: "400"}

// notInTeam refuses members of in that old has, by user_id or user_email,
// with LiteLLM's texts and its param, member.
func notInTeam(in []memberInput, old []events.Member) error {
	for _, m := range in {
		for _, x := range old {
			if m.UserID != "" && x.UserID == m.UserID {
				return param(memberAlreadyInTeam.With("User with user_id=%s already in team. Existing members=%s", m.UserID, pyMembers(old)), "member")
			}
			if m.UserEmail != "" && strings.EqualFold(x.UserEmail, m.UserEmail) {
				return param(memberAlreadyInTeam.With("User with user_email=%s already in team. Existing members=%s", m.UserEmail, pyMembers(old)), "member")
			}
		}
	}
	return nil
}

// pyMembers writes members as LiteLLM's messages print its Member list.
func pyMembers(ms []events.Member) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = fmt.Sprintf("Member(user_id=%s, user_email=%s, role=%s)", pyRepr(nonEmpty(m.UserID)), pyRepr(nonEmpty(m.UserEmail)), pyRepr(&m.Role))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// memberUpdateRequest is /team/member_update's body.
type memberUpdateRequest struct {
	TeamID    string  `json:"team_id"`
	UserID    *string `json:"user_id"`
	UserEmail *string `json:"user_email"`
	Role      *string `json:"role"`
	memberLimitFields
}

// teamMemberUpdate is LiteLLM's /team/member_update: changes a member's
// role and its budget within the team (max_budget_in_team; null or absent
// leaves it), naming the member by user_id or user_email. Its refusals
// and answer are LiteLLM's; it publishes the team's full state.
func (a *API) teamMemberUpdate(c *fiber.Ctx) error {
	var req memberUpdateRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if req.TeamID == "" {
		return param(apierror.MissingParam.With("No team id passed in"), "team_id")
	}
	userID, email := deref(req.UserID), deref(req.UserEmail)
	if userID == "" && email == "" {
		return param(apierror.MissingParam.With("Either user_id or user_email needs to be passed in"), "user_id")
	}
	if req.Role != nil {
		if err := validRole("role", *req.Role); err != nil {
			return err
		}
	}
	if err := req.memberLimitFields.validate(); err != nil {
		return err
	}
	if a.store.Snapshot().Team(req.TeamID) == nil {
		// LiteLLM answers 400 here, not 404.
		return param(apierror.BadRequest.With("Team id=%s does not exist in db", req.TeamID), "team_id")
	}
	var found events.Member
	res, _, err := a.mutateTeam(c, req.TeamID, events.TeamUpserted, func(t *events.Team) error {
		i := slices.IndexFunc(t.MembersWithRoles, func(x events.Member) bool {
			if userID != "" {
				return x.UserID == userID
			}
			return strings.EqualFold(x.UserEmail, email)
		})
		if i < 0 {
			return param(apierror.BadRequest.With("User id doesn't exist in team table. Data=user_id=%s user_email=%s team_id=%s max_budget_in_team=%s role=%s tpm_limit=%s rpm_limit=%s",
				pyRepr(req.UserID), pyRepr(req.UserEmail), pyRepr(&req.TeamID), pyFloat(req.MaxBudgetInTeam), pyRepr(req.Role), pyInt(req.TPMLimit), pyInt(req.RPMLimit)), "user_id")
		}
		t.MembersWithRoles = slices.Clone(t.MembersWithRoles)
		m := &t.MembersWithRoles[i]
		if req.Role != nil {
			m.Role = *req.Role
		}
		if req.UserEmail != nil && *req.UserEmail != "" {
			m.UserEmail = *req.UserEmail // LiteLLM: data.user_email or member.user_email
		}
		req.memberLimitFields.apply(m)
		found = *m
		return nil
	})
	if err != nil {
		return err
	}
	uid := found.UserID
	if uid == "" {
		uid = email
	}
	return commit(c, res, fiber.Map{"team_id": req.TeamID, "user_id": uid, "user_email": req.UserEmail,
		"max_budget_in_team": req.MaxBudgetInTeam, "tpm_limit": req.TPMLimit, "rpm_limit": req.RPMLimit})
}

// deleteRoute is a delete route of objects that own keys: it reads the
// body into req, whose ids field names them, deletes them with their
// keys (deleteWithKeys) and answers what view makes of the result.
func (a *API) deleteRoute(c *fiber.Ctx, req any, ids *[]string, kind events.Kind, field, what string,
	owns func(k *events.Key, id string) bool, view func(deleted, missing []string, keys int) fiber.Map) error {
	if err := decode(c, req); err != nil {
		return err
	}
	deleted, missing, keys, last, err := a.deleteWithKeys(c, kind, field, *ids, what, owns)
	if err != nil {
		return err
	}
	return commit(c, last, view(deleted, missing, keys))
}

// deleteWithKeys deletes objects and then the keys that belong to each,
// returning which ids existed, which did not, how many keys went, and the
// last write (for the propagation headers). field names the ids in the
// request and what the object in messages: no ids is a missing
// parameter, an id naming no object a 404 (nothing deleted).
func (a *API) deleteWithKeys(c *fiber.Ctx, kind events.Kind, field string, ids []string, what string,
	owns func(k *events.Key, id string) bool) (deleted, missing []string, keys int, last store.Result, err error) {
	if len(ids) == 0 {
		return nil, nil, 0, last, apierror.MissingParam.With("%s is required", field)
	}
	defer func() {
		if err == nil && len(deleted) == 0 {
			err = apierror.NotFound.With("%s not found, passed %s=%v", what, field, ids)
		}
	}()
	// All or nothing, as LiteLLM checks every id before deleting: an id
	// naming no object is a 404 and nothing is deleted.
	snap := a.store.Snapshot()
	var absent []string
	for _, id := range ids {
		if !exists(snap, kind, id) {
			absent = append(absent, id)
		}
	}
	if len(absent) > 0 {
		return nil, nil, 0, last, param(apierror.NotFound.With("%s not found, passed %s=%v; nothing was deleted", what, field, absent), field)
	}
	actor := who(c).actor()
	deleted, missing = []string{}, []string{}
	for _, id := range ids {
		res, existed, err := a.store.Delete(c.UserContext(), actor, kind, id)
		if err != nil {
			return nil, nil, 0, last, err
		}
		if !existed {
			missing = append(missing, id)
			continue
		}
		deleted, last = append(deleted, id), res
		n, err := a.deleteKeys(c, &last, func(k *events.Key) bool { return owns(k, id) })
		if err != nil {
			return nil, nil, 0, last, err
		}
		keys += n
	}
	return deleted, missing, keys, last, nil
}

// exists reports whether the snapshot holds the team, user or
// organization id.
func exists(s *policy.Snapshot, kind events.Kind, id string) bool {
	switch kind {
	case events.KindTeam:
		return s.Team(id) != nil
	case events.KindUser:
		return s.User(id) != nil
	case events.KindOrg:
		return s.Org(id) != nil
	}
	return false
}

// deleteKeys deletes the keys match picks, keeping in last the last write
// (for the propagation headers), and answers how many went.
func (a *API) deleteKeys(c *fiber.Ctx, last *store.Result, match func(k *events.Key) bool) (int, error) {
	n := 0
	for _, k := range a.store.Snapshot().Keys() {
		if !match(k) {
			continue
		}
		r, ok, err := a.store.Delete(c.UserContext(), who(c).actor(), events.KindKey, k.Token)
		if err != nil {
			return n, err
		}
		if ok {
			n++
			*last = r
		}
	}
	return n, nil
}

// teamMemberDelete is LiteLLM's /team/member_delete: removes a member (by
// user_id or user_email), the team from that user's list and the user's
// keys of the team. It publishes
// the team's full state as an upsert: no new event type, so edges of an
// older release keep applying it during a rolling upgrade.
func (a *API) teamMemberDelete(c *fiber.Ctx) error {
	var req struct {
		TeamID    string `json:"team_id"`
		UserID    string `json:"user_id"`
		UserEmail string `json:"user_email"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	if req.TeamID == "" {
		return param(apierror.MissingParam.With("No team id passed in"), "team_id")
	}
	if req.UserID == "" && req.UserEmail == "" {
		return param(apierror.MissingParam.With("Either user_id or user_email needs to be passed in"), "user_id")
	}
	if a.store.Snapshot().Team(req.TeamID) == nil {
		// LiteLLM answers 400 here, not 404.
		return param(apierror.BadRequest.With("Team id=%s does not exist in db", req.TeamID), "team_id")
	}
	var removed []events.Member
	res, t, err := a.mutateTeam(c, req.TeamID, events.TeamUpserted, func(t *events.Team) error {
		kept := make([]events.Member, 0, len(t.MembersWithRoles))
		for _, m := range t.MembersWithRoles {
			if sameMember(req.UserID, req.UserEmail, m.UserID, m.UserEmail) {
				removed = append(removed, m)
				continue
			}
			kept = append(kept, m)
		}
		if len(removed) == 0 {
			field := "user_id"
			if req.UserID == "" {
				field = "user_email"
			}
			return param(apierror.BadRequest.With("User not found in team"), field)
		}
		t.MembersWithRoles = kept
		return nil
	})
	if err != nil {
		return err
	}
	res, err = a.changeMemberUsers(c, res, removed, func(u *events.User) {
		u.Teams = slices.DeleteFunc(slices.Clone(u.Teams), func(id string) bool { return id == t.TeamID })
	})
	if err != nil {
		return err
	}
	// As LiteLLM 2026, the removed members' keys of the team go too: a
	// key of the team must not outlive its user's membership.
	if _, err := a.deleteKeys(c, &res, func(k *events.Key) bool {
		return k.TeamID == t.TeamID && k.UserID != "" && slices.ContainsFunc(removed, func(m events.Member) bool { return m.UserID == k.UserID })
	}); err != nil {
		return err
	}
	return commit(c, res, t)
}

// param names the request field an error is about.
func param(e *apierror.Error, field string) *apierror.Error {
	e.Param = field
	return e
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// pyRepr, pyFloat, pyInt (and pyList) write a value as Python's repr does
// (LiteLLM's messages print its request models): 'text', 10.0, 5, None.
func pyRepr(s *string) string {
	if s == nil {
		return "None"
	}
	return "'" + *s + "'"
}

// pyList writes a list of strings as Python's repr does: ['a', 'b'].
func pyList(l []string) string {
	parts := make([]string, len(l))
	for i := range l {
		parts[i] = pyRepr(&l[i])
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func pyInt(n *int64) string {
	if n == nil {
		return "None"
	}
	return strconv.FormatInt(*n, 10)
}

func pyFloat(f *float64) string {
	if f == nil {
		return "None"
	}
	return policy.PyFloat(*f)
}
