package api

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/control/store"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// maxBulk is LiteLLM's MAX_BATCH_SIZE of its bulk routes.
const maxBulk = 500

// The bulk routes check every item before they publish anything: an item
// that would be refused refuses the whole request, naming it, and nothing
// is applied. Each item is then one event, as the single route makes it;
// should publishing fail part way (the stream unreachable), the answer
// says which items were applied and which were not.

// itemError names item i of list in a client error: its param becomes
// list[i].param and its message says which item it is about.
func itemError(err error, list string, i int) error {
	e := apierror.From(err)
	if e.Status >= 500 {
		return err
	}
	out := *e
	p := fmt.Sprintf("%s[%d]", list, i)
	if e.Param != "" {
		p += "." + e.Param
	}
	out.Param, out.Message = p, p+": "+e.Message
	return &out
}

// decodeItem reads raw (a body, or one item of a bulk body) strictly into
// v after screening LiteLLM's fields: those gatehouse does not keep are
// refused or warned about (the warnings reach the answer through commit).
func decodeItem(c *fiber.Ctx, raw json.RawMessage, v any) error {
	body, warnings, err := screenLiteLLM(raw, declaredFields(reflect.TypeOf(v)))
	if err != nil {
		return err
	}
	if err := httpx.DecodeStrict(body, v); err != nil {
		return err
	}
	warn(c, warnings...)
	return nil
}

// onlyFields refuses an item naming a field outside allowed (LiteLLM's
// item type has only those).
func onlyFields(raw json.RawMessage, allowed ...string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return httpx.Param("", "each item must be a JSON object")
	}
	for k := range m {
		if !slices.Contains(allowed, k) {
			return httpx.Param(k, "not a field of this bulk route's items (they take %v)", allowed)
		}
	}
	return nil
}

// userBulkUpdate is POST /user/bulk_update: LiteLLM's "users" (each a
// /user/update body, named by user_id or user_email) or "all_users" with
// "user_updates" applied to every user.
func (a *API) userBulkUpdate(c *fiber.Ctx) error {
	var req struct {
		Users       []json.RawMessage `json:"users"`
		AllUsers    bool              `json:"all_users"`
		UserUpdates json.RawMessage   `json:"user_updates"`
	}
	if err := httpx.DecodeStrict(c.Body(), &req); err != nil {
		return err
	}
	hasUpdates := len(req.UserUpdates) > 0 && string(req.UserUpdates) != "null"
	if len(req.Users) > 0 && req.AllUsers {
		return httpx.Param("all_users", "Cannot specify both 'users' and 'all_users=True'")
	}
	if len(req.Users) == 0 && !(req.AllUsers && hasUpdates) {
		return httpx.Param("users", "Must specify either 'users' for individual updates or 'all_users=True' with 'user_updates' for bulk updates")
	}
	var changes []*userChange
	if req.AllUsers {
		var upd userRequest
		if err := decodeItem(c, req.UserUpdates, &upd); err != nil {
			return itemError(err, "user_updates", 0)
		}
		if upd.UserID != nil || upd.UserEmail != nil {
			return httpx.Param("user_updates", "names no user: all_users applies it to every user (leave user_id and user_email out)")
		}
		sent := sentFields(req.UserUpdates)
		users := a.store.Snapshot().Users()
		if len(users) == 0 {
			return httpx.Param("all_users", "No users found to update")
		}
		if len(users) > maxBulk {
			return httpx.Param("all_users", "Maximum %d users can be updated at once. Found %d users.", maxBulk, len(users))
		}
		for _, u := range users {
			r := upd
			r.UserID = &u.UserID
			ch, err := a.checkUserUpdate(r, sent)
			if err != nil {
				return itemError(err, "user_updates", 0)
			}
			changes = append(changes, ch)
		}
	} else {
		if len(req.Users) > maxBulk {
			return httpx.Param("users", "Maximum %d users can be updated at once. Found %d users.", maxBulk, len(req.Users))
		}
		// An email naming no user creates one; named again, the later
		// items update that user rather than create another.
		created := map[string]string{}
		for i, raw := range req.Users {
			var r userRequest
			if err := decodeItem(c, raw, &r); err != nil {
				return itemError(err, "users", i)
			}
			ch, err := a.checkUserUpdate(r, sentFields(raw))
			if err != nil {
				return itemError(err, "users", i)
			}
			if ch.create && (r.UserID == nil || *r.UserID == "") {
				email := strings.ToLower(*r.UserEmail)
				if id, ok := created[email]; ok {
					ch.id, ch.create = id, false
				} else {
					created[email] = ch.id
				}
			}
			changes = append(changes, ch)
		}
	}
	results := make([]fiber.Map, 0, len(changes))
	failed := 0
	var last store.Result
	for _, ch := range changes {
		row := fiber.Map{"user_id": ch.id, "user_email": ch.req.UserEmail, "success": false, "updated_user": nil, "error": nil}
		res, u, err := a.applyUserUpdate(c, ch)
		if err != nil {
			row["error"] = apierror.From(err).Message
			failed++
		} else {
			row["success"], row["updated_user"] = true, u
			last = res
		}
		results = append(results, row)
	}
	return commit(c, last, fiber.Map{"results": results, "total_requested": len(changes),
		"successful_updates": len(changes) - failed, "failed_updates": failed})
}

// keyBulkUpdate is POST /key/bulk_update: LiteLLM's "keys", each a key
// (plaintext or token) with the fields it changes (max_budget, team_id,
// tags, budget_id), as /key/update changes them.
func (a *API) keyBulkUpdate(c *fiber.Ctx) error {
	var req struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := httpx.DecodeStrict(c.Body(), &req); err != nil {
		return err
	}
	if len(req.Keys) == 0 {
		return param(apierror.MissingParam.With("keys is required: list the keys to update"), "keys")
	}
	if len(req.Keys) > maxBulk {
		return httpx.Param("keys", "Maximum %d keys can be updated at once. Found %d keys.", maxBulk, len(req.Keys))
	}
	type keyItem struct {
		tok    string
		req    *keyRequest
		change func(*events.Key) error
	}
	me, snap := who(c), a.store.Snapshot()
	items := make([]keyItem, 0, len(req.Keys))
	for i, raw := range req.Keys {
		if err := onlyFields(raw, "key", "budget_id", "max_budget", "team_id", "tags"); err != nil {
			return itemError(err, "keys", i)
		}
		r := &keyRequest{}
		if err := decodeItem(c, raw, r); err != nil {
			return itemError(err, "keys", i)
		}
		tok, err := a.checkKeyUpdate(raw, r)
		if err != nil {
			return itemError(err, "keys", i)
		}
		k := snap.KeyByToken(tok)
		if k == nil {
			return itemError(param(apierror.NotFound.With("key not found"), "key"), "keys", i)
		}
		change := a.keyChange(c, me, r)
		// A dry run on a copy: a change its key would refuse refuses the
		// request before anything is published.
		dry := *k
		if err := change(&dry); err != nil {
			return itemError(err, "keys", i)
		}
		items = append(items, keyItem{tok: tok, req: r, change: change})
	}
	ok, failed := []fiber.Map{}, []fiber.Map{}
	var last store.Result
	for _, it := range items {
		res, out, err := mutate(a, c, events.KindKey, it.tok, events.KeyUpserted, apierror.NotFound.With("key not found"),
			func(k *events.Key) *time.Time { return &k.UpdatedAt }, it.change)
		if err == nil && res.Noop {
			out, _ = res.Object.(*events.Key)
		}
		if err != nil || out == nil {
			reason := "not applied"
			if err != nil {
				reason = apierror.From(err).Message
			}
			failed = append(failed, fiber.Map{"key": *it.req.Key, "key_info": nil, "failed_reason": reason})
			continue
		}
		last = res
		ok = append(ok, fiber.Map{"key": *it.req.Key, "key_info": viewKey(out)})
	}
	return commit(c, last, fiber.Map{"total_requested": len(items), "successful_updates": ok, "failed_updates": failed})
}

// teamBulkMemberAdd is POST /team/bulk_member_add: /team/member_add's
// members (or every user, all_users) added in one change of the team, so
// all of them are added or none. As in LiteLLM, a change the team refuses
// (a member it has already, no such team) answers every member as failed
// with the reason; with all_users the users the team has already are
// left out rather than failing the rest.
func (a *API) teamBulkMemberAdd(c *fiber.Ctx) error {
	var req struct {
		TeamID          string        `json:"team_id"`
		Members         []memberInput `json:"members"`
		AllUsers        bool          `json:"all_users"`
		MaxBudgetInTeam *float64      `json:"max_budget_in_team"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	if req.TeamID == "" {
		return apierror.MissingParam.With("team_id is required")
	}
	limits := memberLimitFields{MaxBudgetInTeam: req.MaxBudgetInTeam}
	if err := limits.validate(); err != nil {
		return err
	}
	in := req.Members
	if req.AllUsers {
		if len(in) > 0 {
			return httpx.Param("all_users", "Cannot specify both 'members' and 'all_users=True'")
		}
		snap := a.store.Snapshot()
		t := snap.Team(req.TeamID)
		for _, u := range snap.Users() {
			if t == nil || teamMember(t, u.UserID) == nil {
				in = append(in, memberInput{UserID: u.UserID, UserEmail: u.UserEmail, Role: "user"})
			}
		}
	}
	if len(in) == 0 {
		return httpx.Param("members", "At least one member is required")
	}
	if len(in) > maxBulk {
		return httpx.Param("members", "Maximum %d members can be added at once", maxBulk)
	}
	if err := checkMembers(in, "members"); err != nil {
		return err
	}
	res, t, _, err := a.addTeamMembers(c, req.TeamID, in, limits)
	if err != nil && apierror.From(err).Status >= 500 {
		return err
	}
	results := make([]fiber.Map, 0, len(in))
	snap := a.store.Snapshot()
	for _, m := range in {
		row := fiber.Map{"user_id": nonEmpty(m.UserID), "user_email": nonEmpty(m.UserEmail), "success": err == nil,
			"error": nil, "updated_user": nil, "updated_team_membership": nil}
		if err != nil {
			row["error"] = apierror.From(err).Message
		} else if j := slices.IndexFunc(t.MembersWithRoles, func(x events.Member) bool {
			return sameMember(m.UserID, m.UserEmail, x.UserID, x.UserEmail)
		}); j >= 0 {
			x := t.MembersWithRoles[j]
			if u := snap.User(x.UserID); u != nil {
				row["updated_user"] = u
			}
			row["updated_team_membership"] = fiber.Map{"team_id": req.TeamID, "user_id": nonEmpty(x.UserID),
				"budget_id": nonEmpty(x.BudgetID), "max_budget_in_team": x.MaxBudgetInTeam}
		}
		results = append(results, row)
	}
	out := fiber.Map{"team_id": req.TeamID, "results": results, "total_requested": len(in),
		"successful_additions": 0, "failed_additions": len(in), "updated_team": nil}
	if err == nil {
		out["successful_additions"], out["failed_additions"], out["updated_team"] = len(in), 0, t
	}
	return commit(c, res, out)
}
