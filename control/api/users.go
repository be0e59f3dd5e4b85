package api

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
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

var userRoles = []string{"proxy_admin", "proxy_admin_viewer", "org_admin", "internal_user", "internal_user_viewer", "team", "customer"}

type userRequest struct {
	UserID         *string   `json:"user_id"`
	UserEmail      *string   `json:"user_email"`
	UserAlias      *string   `json:"user_alias"`
	UserRole       *string   `json:"user_role"`
	Models         *[]string `json:"models"`
	Teams          *[]string `json:"teams"`
	OrganizationID *string   `json:"organization_id"`
	limitFields
	// /user/new only: LiteLLM creates a key for the new user by default.
	AutoCreateKey *bool   `json:"auto_create_key"`
	KeyAlias      *string `json:"key_alias"`
	Duration      *string `json:"duration"`
	// Aliases go on that key, and team_id makes the user a member of the
	// team and the key the team's, as in LiteLLM.
	Aliases map[string]string `json:"aliases"`
	TeamID  *string           `json:"team_id"`
	// BudgetResetAt ends the new user's first budget window where the
	// caller says instead of where budget_duration would (LiteLLM 2026's
	// NewUserRequest; initial_budget_reset_at is its other name). /user/new
	// only; resetAt is it parsed by checkResetAt.
	BudgetResetAt        *string `json:"budget_reset_at"`
	InitialBudgetResetAt *string `json:"initial_budget_reset_at"`
	resetAt              *time.Time
}

// checkResetAt parses budget_reset_at (or initial_budget_reset_at): an
// ISO 8601 time (one without an offset is UTC, as Python's is where
// LiteLLM compares it), not in the past (LiteLLM's "cannot be in the
// past"), and with a budget_duration, since the window after it is one
// budget_duration long and without one nothing would ever reset.
func (r *userRequest) checkResetAt(now time.Time) error {
	field, v := "budget_reset_at", r.BudgetResetAt
	if r.InitialBudgetResetAt != nil {
		if v != nil && *v != *r.InitialBudgetResetAt {
			return httpx.Param("initial_budget_reset_at", "differs from budget_reset_at; send one of them")
		}
		field, v = "initial_budget_reset_at", r.InitialBudgetResetAt
	}
	if v == nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, *v)
	if err != nil {
		if t, err = time.ParseInLocation("2006-01-02T15:04:05.999999999", *v, time.UTC); err != nil {
			return httpx.Param(field, "%q is not an ISO 8601 time such as 2027-01-01T00:00:00Z", *v)
		}
	}
	if t.Before(now) {
		return httpx.Param(field, "%s cannot be in the past", field)
	}
	if r.BudgetDuration == nil || *r.BudgetDuration == "" {
		return httpx.Param(field, "needs budget_duration: the budget resets at %s and then every budget_duration", field)
	}
	t = t.UTC()
	r.resetAt = &t
	return nil
}

func (r *userRequest) validate() error {
	if r.UserRole != nil && !slices.Contains(userRoles, *r.UserRole) {
		return httpx.Param("user_role", "must be one of %v", userRoles)
	}
	if r.UserEmail != nil && *r.UserEmail != "" && !strings.Contains(*r.UserEmail, "@") {
		return httpx.Param("user_email", "%q is not an email address", *r.UserEmail)
	}
	return r.limitFields.validate()
}

func (r *userRequest) apply(u *events.User, now time.Time) {
	set(&u.UserEmail, r.UserEmail)
	set(&u.UserAlias, r.UserAlias)
	set(&u.UserRole, r.UserRole)
	setList(&u.Models, r.Models)
	setList(&u.Teams, r.Teams)
	set(&u.OrganizationID, r.OrganizationID)
	r.limitFields.apply(&u.MaxBudget, &u.BudgetDuration, &u.TPMLimit, &u.RPMLimit, &u.BudgetFlag, now, &u.Metadata)
	if r.resetAt != nil {
		u.BudgetResetAt = r.resetAt
	}
	if u.UserRole == "" {
		u.UserRole = "internal_user"
	}
	u.Models = orEmpty(u.Models)
	u.Teams = orEmpty(u.Teams)
}

func (a *API) userNew(c *fiber.Ctx) error {
	var req userRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	fillUser(&req, a.userDefaults)
	if err := req.validate(); err != nil {
		return err
	}
	if err := req.checkResetAt(a.store.Now()); err != nil {
		return err
	}
	id := newID()
	if req.UserID != nil && *req.UserID != "" {
		id = *req.UserID
	}
	snap := a.store.Snapshot()
	// LiteLLM's _check_duplicate_user_email: one user per email, compared
	// without case.
	if req.UserEmail != nil && *req.UserEmail != "" {
		if u := snap.UserByEmail(strings.TrimSpace(*req.UserEmail)); u != nil {
			return param(apierror.Conflict.With("User with email %s already exists", u.UserEmail), "user_email")
		}
	}
	if req.TeamID != nil && *req.TeamID != "" {
		if snap.Team(*req.TeamID) == nil {
			return param(apierror.NotFound.With("Team not found for team_id=%s", *req.TeamID), "team_id")
		}
		var teams []string
		if req.Teams != nil {
			teams = slices.Clone(*req.Teams)
		}
		if !slices.Contains(teams, *req.TeamID) {
			teams = append(teams, *req.TeamID)
			req.Teams = &teams
		}
	}
	if req.Teams != nil {
		for _, tid := range *req.Teams {
			if snap.Team(tid) == nil {
				return apierror.NotFound.With("team %q does not exist", tid)
			}
		}
	}
	now := a.store.Now()
	u := &events.User{UserID: id, CreatedAt: now, UpdatedAt: now}
	req.apply(u, now)
	res, err := a.create(c, events.KindUser, id, events.UserUpserted, u, param(apierror.Conflict.With("User with id %s already exists", id), "user_id"))
	if err != nil {
		return err
	}
	// LiteLLM's NewUserResponse: the request's fields and the key's.
	out := fiber.Map{"user_id": u.UserID, "user_email": u.UserEmail, "user_role": u.UserRole,
		"models": u.Models, "teams": u.Teams, "team_id": req.TeamID, "max_budget": u.MaxBudget,
		"tpm_limit": u.TPMLimit, "rpm_limit": u.RPMLimit, "user_info": u}
	for _, tid := range u.Teams {
		r, _, err := a.mutateTeam(c, tid, events.TeamMemberAdded, func(t *events.Team) error {
			if !slices.ContainsFunc(t.MembersWithRoles, func(m events.Member) bool { return m.UserID == id }) {
				t.MembersWithRoles = append(slices.Clone(t.MembersWithRoles), events.Member{UserID: id, UserEmail: u.UserEmail, Role: "user"})
			}
			return nil
		})
		if err != nil {
			return err
		}
		res = later(res, r)
	}
	if req.AutoCreateKey == nil || *req.AutoCreateKey {
		f := keyFields{UserID: &id, Models: &u.Models, KeyAlias: req.KeyAlias, Duration: req.Duration, Aliases: req.Aliases}
		f.Metadata = req.Metadata // LiteLLM's new_user gives the key the user's metadata
		if req.TeamID != nil && *req.TeamID != "" {
			f.TeamID = req.TeamID
		}
		kr, r, err := a.createKey(c.UserContext(), who(c), nil, &f, "")
		if err != nil {
			return err
		}
		out["key"], out["token"], out["key_name"], out["expires"] = kr.Plaintext, kr.Token, kr.KeyName, kr.Expires
		res = later(res, r)
	}
	return commit(c, res, out)
}

func later(a, b store.Result) store.Result {
	if b.Seq > a.Seq {
		b.Lagging = append(b.Lagging, a.Lagging...)
		return b
	}
	return a
}

func (a *API) mutateUser(c *fiber.Ctx, id string, change func(u *events.User) error) (store.Result, *events.User, error) {
	return mutate(a, c, events.KindUser, id, events.UserUpserted, apierror.NotFound.With("User not found, passed user_id=%s", id),
		func(u *events.User) *time.Time { return &u.UpdatedAt }, change)
}

// changeMemberUsers applies change to the user of every member given by
// user_id that exists (a member known only by email, or a user not
// created, is skipped), and returns the later of res and those writes.
func (a *API) changeMemberUsers(c *fiber.Ctx, res store.Result, members []events.Member, change func(u *events.User)) (store.Result, error) {
	for _, m := range members {
		if m.UserID == "" {
			continue
		}
		r, _, err := a.mutateUser(c, m.UserID, func(u *events.User) error { change(u); return nil })
		if errors.Is(err, apierror.NotFound) {
			continue
		}
		if err != nil {
			return res, err
		}
		res = later(res, r)
	}
	return res, nil
}

// createMemberUsers creates the users, in team teamID, of the members
// named by a user_id that has no user yet (LiteLLM's team_member_add
// creates them with default_internal_user_params and no key). A user
// created meanwhile by another writer is left as it is.
func (a *API) createMemberUsers(c *fiber.Ctx, res store.Result, members []events.Member, teamID string) (store.Result, error) {
	for _, m := range members {
		if m.UserID == "" || a.store.Snapshot().User(m.UserID) != nil {
			continue
		}
		role := "internal_user"
		req := userRequest{UserRole: &role}
		fillUser(&req, a.userDefaults)
		now := a.store.Now()
		u := &events.User{UserID: m.UserID, UserEmail: m.UserEmail, Teams: []string{teamID}, CreatedAt: now, UpdatedAt: now}
		req.apply(u, now)
		r, err := a.create(c, events.KindUser, m.UserID, events.UserUpserted, u, nil)
		if err != nil {
			return res, err
		}
		res = later(res, r)
	}
	return res, nil
}

func (a *API) userUpdate(c *fiber.Ctx) error {
	var req userRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	ch, err := a.checkUserUpdate(req, sentFields(c.Body()))
	if err != nil {
		return err
	}
	res, u, err := a.applyUserUpdate(c, ch)
	if err != nil {
		return err
	}
	return commit(c, res, updatedUser(u))
}

// userChange is one checked /user/update: the request, the user it names
// and whether that user is to be created.
type userChange struct {
	req    userRequest
	id     string
	create bool
	// unlimited is "max_budget": null, which removes the user's budget, as
	// in LiteLLM's _update_internal_user_params (any other null keeps the
	// field).
	unlimited bool
}

// checkUserUpdate checks a /user/update body (sent: the fields it names)
// and finds its user: by user_id, else, as LiteLLM does, the user with
// the body's user_email, else a new user with a new id and that email.
func (a *API) checkUserUpdate(req userRequest, sent map[string]bool) (*userChange, error) {
	byID := req.UserID != nil && *req.UserID != ""
	if !byID && (req.UserEmail == nil || *req.UserEmail == "") {
		return nil, param(apierror.MissingParam.With("user_id or user_email is required"), "user_id")
	}
	if req.AutoCreateKey != nil || req.KeyAlias != nil || req.Duration != nil {
		return nil, httpx.Param("auto_create_key", "key fields are only valid for /user/new")
	}
	if req.Aliases != nil {
		return nil, httpx.Param("aliases", "only valid for /user/new (the key it makes); set it on the user's keys with /key/update")
	}
	if req.TeamID != nil {
		return nil, httpx.Param("team_id", "only valid for /user/new; add the user to a team with /team/member_add")
	}
	// An update's budget_duration recomputes the reset from now; a chosen
	// first reset is for a new user only.
	if req.BudgetResetAt != nil {
		return nil, httpx.Param("budget_reset_at", "only valid for /user/new; send budget_duration to restart the window from now")
	}
	if req.InitialBudgetResetAt != nil {
		return nil, httpx.Param("initial_budget_reset_at", "only valid for /user/new; send budget_duration to restart the window from now")
	}
	if err := req.validate(); err != nil {
		return nil, err
	}
	ch := &userChange{req: req, unlimited: req.MaxBudget == nil && sent["max_budget"]}
	snap := a.store.Snapshot()
	if byID {
		ch.id = *req.UserID
	} else if u := snap.UserByEmail(*req.UserEmail); u != nil {
		ch.id = u.UserID
	} else {
		ch.id = newID()
	}
	ch.create = snap.User(ch.id) == nil
	return ch, nil
}

// applyUserUpdate publishes a checked change. LiteLLM's /user/update
// upserts: a user it does not know is created from the fields sent (with
// the new-user defaults, as /user/new would), not refused.
func (a *API) applyUserUpdate(c *fiber.Ctx, ch *userChange) (store.Result, *events.User, error) {
	apply := func(r *userRequest, u *events.User) {
		r.apply(u, a.store.Now())
		if ch.unlimited {
			u.MaxBudget = nil
		}
	}
	if ch.create {
		now := a.store.Now()
		created := ch.req
		fillUser(&created, a.userDefaults)
		u := &events.User{UserID: ch.id, CreatedAt: now, UpdatedAt: now}
		apply(&created, u)
		res, err := a.create(c, events.KindUser, ch.id, events.UserUpserted, u, apierror.Conflict.With("user_id %q already exists", ch.id))
		if err == nil {
			return res, u, nil
		}
		if !errors.Is(err, apierror.Conflict) {
			return res, nil, err
		}
		// Created meanwhile: update it as it now is.
	}
	req := ch.req
	return a.mutateUser(c, ch.id, func(u *events.User) error {
		apply(&req, u)
		return nil
	})
}

// updatedUser is /user/update's answer: LiteLLM's {"user_id", "data":
// <user>}, with the user's fields at the top level too (as /team/update
// answers a team), for clients written against gatehouse.
func updatedUser(u *events.User) any {
	return struct {
		*events.User
		Data *events.User `json:"data"`
	}{u, u}
}

func (a *API) userInfo(c *fiber.Ctx) error {
	me := who(c)
	asked := plusQuery(c, "user_id")
	id, err := infoID("user_id", asked, me.userID, me.reads(), apierror.Forbidden.With("key not allowed to access this user's info. user_id=%s, key's user_id=%s",
		asked, cmp.Or(me.userID, "None")))
	if err != nil {
		return err
	}
	snap := a.store.Snapshot()
	u := snap.User(id)
	if u == nil {
		return apierror.NotFound.With("User %s not found", id)
	}
	keys := keysWhere(snap, func(k *events.Key) bool { return k.UserID == id })
	teams := []*events.Team{}
	for _, tid := range u.Teams {
		if t := snap.Team(tid); t != nil {
			teams = append(teams, t)
		}
	}
	return c.JSON(fiber.Map{"user_id": id, "user_info": withSpend(u, a.spendOf(c, events.KindUser, id)), "keys": keys, "teams": teams})
}

// userInfoV2 is GET /v2/user/info, LiteLLM 2026's light /user/info: the
// user's own fields and its team ids, without its keys or team objects.
// An admin (or view-only admin) reads any user, anyone else itself and
// the members of the teams it is an admin of; another user is answered
// as a missing one (404), as in LiteLLM, so the route does not tell which
// users exist.
func (a *API) userInfoV2(c *fiber.Ctx) error {
	if err := checkQuery(c, "user_id"); err != nil {
		return err
	}
	me := who(c)
	id := cmp.Or(plusQuery(c, "user_id"), me.userID)
	if id == "" {
		return apierror.MissingParam.With("user_id is required")
	}
	snap := a.store.Snapshot()
	u := snap.User(id)
	if u == nil || !(me.reads() || id == me.userID || leadsTeamOf(snap, me.userID, id)) {
		return apierror.NotFound.With("User %s not found", id)
	}
	spend := a.spendOf(c, events.KindUser, id)
	return c.JSON(fiber.Map{"user_id": u.UserID, "user_email": nonEmpty(u.UserEmail), "user_alias": nonEmpty(u.UserAlias),
		"user_role": u.UserRole, "spend": Money(spend.Spend), "max_budget": u.MaxBudget, "models": orEmpty(u.Models),
		"budget_duration": nonEmpty(u.BudgetDuration), "budget_reset_at": u.BudgetResetAt, "metadata": u.Metadata,
		"created_at": u.CreatedAt, "updated_at": u.UpdatedAt, "sso_user_id": nil, "teams": teamIDsOf(snap, u)})
}

// teamIDsOf are the ids of the teams u is in: its teams list, and the
// teams that list it as a member (a team created with its members does
// not write their users; LiteLLM's new_team does).
func teamIDsOf(snap *policy.Snapshot, u *events.User) []string {
	ids := slices.Clone(orEmpty(u.Teams))
	for _, t := range snap.Teams() {
		if teamMember(t, u.UserID) != nil && !slices.Contains(ids, t.TeamID) {
			ids = append(ids, t.TeamID)
		}
	}
	return ids
}

// orEmpty is l, or [] for nil (LiteLLM answers lists, never null).
func orEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// leadsTeamOf reports whether admin is an admin of a team user is a
// member of.
func leadsTeamOf(snap *policy.Snapshot, admin, user string) bool {
	if admin == "" {
		return false
	}
	for _, t := range snap.Teams() {
		if m := teamMember(t, admin); m != nil && m.Role == "admin" && teamMember(t, user) != nil {
			return true
		}
	}
	return false
}

// plusQuery is the query parameter name with a '+' kept as a '+', as
// LiteLLM's /user/info reads a user_id that decoded with a space (emails
// such as a+b@example.com are sent unescaped).
func plusQuery(c *fiber.Ctx, name string) string {
	v := c.Query(name)
	if !strings.Contains(v, " ") {
		return v
	}
	raw := string(c.Request().URI().QueryString())
	for _, kv := range strings.Split(raw, "&") {
		if k, val, _ := strings.Cut(kv, "="); k == name {
			if s, err := url.PathUnescape(val); err == nil {
				return s
			}
		}
	}
	return v
}

// userList is LiteLLM's /user/list with its filters (role, user_ids
// comma-separated: one id matches as a case-insensitive substring,
// several exactly; user_email as a case-insensitive substring, team),
// sort (newest first without sort_by; sort_order asc by default) and
// pages (page_size 25 by default, at most 100). Each user has its spend and
// key_count, as in LiteLLM.
func (a *API) userList(c *fiber.Ctx) error {
	if err := checkQuery(c, "role", "user_ids", "user_email", "team", "page", "page_size", "sort_by", "sort_order"); err != nil {
		return err
	}
	role, email, team := c.Query("role"), strings.ToLower(c.Query("user_email")), c.Query("team")
	var ids []string
	for _, id := range strings.Split(c.Query("user_ids"), ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	idMatch := func(u *events.User) bool {
		switch len(ids) {
		case 0:
			return true
		case 1:
			return strings.Contains(strings.ToLower(u.UserID), strings.ToLower(ids[0]))
		}
		return slices.Contains(ids, u.UserID)
	}
	snap := a.store.Snapshot()
	users := []*events.User{}
	for _, u := range snap.Users() {
		if (role == "" || u.UserRole == role) && idMatch(u) &&
			(email == "" || strings.Contains(strings.ToLower(u.UserEmail), email)) && (team == "" || slices.Contains(u.Teams, team)) {
			users = append(users, u)
		}
	}
	slices.SortStableFunc(users, func(x, y *events.User) int { return y.CreatedAt.Compare(x.CreatedAt) })
	// Spend is read from the budget tracker per user, so only for a sort
	// by it; as a fixed-width string it sorts as the number does.
	spendKey := map[string]string{}
	if c.Query("sort_by") == "spend" {
		for _, u := range users {
			spendKey[u.UserID] = fmt.Sprintf("%030.10f", a.spendOf(c, events.KindUser, u.UserID).Spend)
		}
	}
	if err := sortBy(c, users, "asc", map[string]func(*events.User) string{
		"spend":      func(u *events.User) string { return spendKey[u.UserID] },
		"user_id":    func(u *events.User) string { return u.UserID },
		"user_email": func(u *events.User) string { return u.UserEmail },
		"user_alias": func(u *events.User) string { return u.UserAlias },
		"user_role":  func(u *events.User) string { return u.UserRole },
		"created_at": func(u *events.User) string { return sortTime(u.CreatedAt) },
		"updated_at": func(u *events.User) string { return sortTime(u.UpdatedAt) },
	}); err != nil {
		return err
	}
	// LiteLLM's page_size: 25 by default, at most 100.
	p, err := pageOf(c, "page_size", len(users), 25)
	if err != nil {
		return err
	}
	if p.size > 100 {
		return httpx.Param("page_size", "must be <= 100, got %d", p.size)
	}
	from, to := p.bounds()
	keyCount := map[string]int{}
	for _, k := range snap.Keys() {
		keyCount[k.UserID]++
	}
	rows := make([]fiber.Map, 0, to-from)
	for _, u := range users[from:to] {
		row := withSpend(u, a.spendOf(c, events.KindUser, u.UserID))
		row["key_count"] = keyCount[u.UserID]
		rows = append(rows, row)
	}
	return c.JSON(fiber.Map{"users": rows, "total": len(users), "page": p.n, "page_size": p.size, "total_pages": p.pages()})
}

func (a *API) userDelete(c *fiber.Ctx) error {
	var req struct {
		UserIDs []string `json:"user_ids"`
	}
	return a.deleteRoute(c, &req, &req.UserIDs, events.KindUser, "user_ids", "User",
		func(k *events.Key, id string) bool { return k.UserID == id },
		func(deleted, _ []string, _ int) fiber.Map { return fiber.Map{"deleted_users": deleted} })
}
