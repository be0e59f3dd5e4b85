package api

import (
	"encoding/json"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// Self-service keys: LiteLLM's internal_user_routes admit /key/generate,
// /key/update, /key/delete and /key/regenerate for a caller whose user is
// an internal_user, and key_management_endpoints.py then limits it to its
// own keys. The rules below follow that file's checks (named on each), with
// their statuses and texts; where LiteLLM leaves a way to widen a caller's
// power, gatehouse refuses it (see README "Admin API").

// KeyGenerationRule is one half of LiteLLM's key_generation_settings: the
// roles that may generate such a key (nil: any) and the fields its body
// must send.
type KeyGenerationRule struct {
	AllowedRoles   []string
	RequiredParams []string
}

// KeyGenerationSettings is LiteLLM's key_generation_settings: rules for
// team keys (team member roles) and personal keys (user roles). A nil rule
// is LiteLLM's default. They bind callers that are not admins.
type KeyGenerationSettings struct {
	Team, Personal *KeyGenerationRule
}

// The refusals, with LiteLLM's statuses and types: /key/generate,
// /key/delete and /key/regenerate turn an HTTPException into a
// ProxyException of type internal_server_error (handle_exception_on_proxy),
// /key/update into auth_error; the team member permission check raises
// team_member_permission_error with 401.
var (
	keyOwnerDenied       = &apierror.Error{Status: 403, Type: "internal_server_error", Code: "forbidden"}
	keyRuleRefused       = &apierror.Error{Status: 400, Type: "internal_server_error", Code: "bad_request"}
	keyUpdateDenied      = &apierror.Error{Status: 403, Type: "auth_error", Code: "forbidden"}
	teamMemberPermission = &apierror.Error{Status: 401, Type: "team_member_permission_error", Code: "team_member_permission_error"}
)

// aliasesAdminOnly refuses key aliases to a caller that is not an admin
// (gatehouse's rule, not LiteLLM's): a model the key's user or team may
// call could be aliased to one it may not.
const aliasesAdminOnly = "Only proxy admin can set aliases on a key. Route=%s. Your role=%s. Your user_id=%s"

// selfService admits the callers that manage keys: admins, and an
// internal_user (its key's user, or its JWT) for its own keys, which the
// handlers check.
func (a *API) selfService(c *fiber.Ctx) error {
	if me := who(c); !me.admin && !me.selfKeys {
		return notAdmin(c)
	}
	return c.Next()
}

// teamMember is the caller's membership of team (nil: not a member).
func teamMember(team *events.Team, userID string) *events.Member {
	if team == nil || userID == "" {
		return nil
	}
	for i := range team.MembersWithRoles {
		if m := &team.MembersWithRoles[i]; m.UserID == userID {
			return m
		}
	}
	return nil
}

// teamAdmin reports whether user is team's admin.
func teamAdmin(team *events.Team, userID string) bool {
	m := teamMember(team, userID)
	return m != nil && m.Role == "admin"
}

// sentFields are the top-level fields of a JSON body.
func sentFields(body []byte) map[string]bool {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(body, &m)
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

func requiredParams(sent map[string]bool, rule *KeyGenerationRule) error {
	if rule == nil {
		return nil
	}
	for _, p := range rule.RequiredParams {
		if !sent[p] {
			return keyRuleRefused.With("Required param %s not in data", p)
		}
	}
	return nil
}

// checkSelfGenerate decides a /key/generate by a caller that is not an
// admin, in LiteLLM's order: key_generation_check (the team or personal
// rules of key_generation_settings), then common_key_access_checks (a
// caller may only create keys for itself). A body without user_id makes
// a key of the caller's own user, so that no key of nobody is minted.
func (a *API) checkSelfGenerate(me caller, f *keyFields, body []byte) error {
	snap := a.store.Snapshot()
	sent := sentFields(body)
	var rules KeyGenerationSettings
	if a.opts.KeyGeneration != nil {
		rules = *a.opts.KeyGeneration
	}
	if f.TeamID != nil && *f.TeamID != "" {
		// _team_key_generation_check.
		team := snap.Team(*f.TeamID)
		if team == nil {
			if a.opts.KeyGeneration != nil {
				return keyRuleRefused.With("Unable to find team object in database. Team ID: %s", *f.TeamID)
			}
			// LiteLLM lets it through; checkTeamBound answers 404.
		} else {
			rule := rules.Team
			if rule == nil {
				rule = &KeyGenerationRule{AllowedRoles: []string{"admin", "user"}}
			}
			if f.UserID != nil && *f.UserID != "" && teamMember(team, *f.UserID) == nil {
				return keyRuleRefused.With("User=%s not assigned to team=%s", *f.UserID, team.TeamID)
			}
			m := teamMember(team, me.userID)
			if m == nil {
				return keyRuleRefused.With("User=%s not assigned to team=%s", me.userID, team.TeamID)
			}
			if rule.AllowedRoles != nil && !slices.Contains(rule.AllowedRoles, m.Role) {
				return keyRuleRefused.With("Team member role %s not in allowed_team_member_roles=%s", m.Role, apierror.PyList(rule.AllowedRoles))
			}
			if err := checkTeamMemberPermission(team, m, "/key/generate"); err != nil {
				return err
			}
			if err := requiredParams(sent, rule); err != nil {
				return err
			}
		}
	} else if rule := rules.Personal; rule != nil {
		// _personal_key_generation_check.
		if rule.AllowedRoles != nil && !slices.Contains(rule.AllowedRoles, me.role) {
			return keyRuleRefused.With("Personal key creation has been restricted by admin. Allowed roles=%s. Your role=%s", apierror.PyList(rule.AllowedRoles), me.role)
		}
		if err := requiredParams(sent, rule); err != nil {
			return err
		}
	}
	// _is_allowed_to_make_key_request.
	if f.UserID != nil && *f.UserID != me.userID {
		return keyOwnerDenied.With("User can only create keys for themselves. Got user_id=%s, Your ID=%s", *f.UserID, me.userID)
	}
	if len(f.Aliases) > 0 {
		return keyOwnerDenied.With(aliasesAdminOnly, "/key/generate", me.role, me.userID)
	}
	own := me.userID
	f.UserID = &own
	return nil
}

// checkSelfUpdate decides a change to key k (the stored key, before the
// change) sent by a caller that is not an admin, on /key/update (route
// "/key/update") and on /key/regenerate's body. LiteLLM's
// _validate_update_key_data: no moving the key to another user, a team
// key needs the team member permission, the key must be the caller's
// (common_key_access_checks with the key's user_id) unless it is a key of
// a team that grants the caller the route (its admin, or a member its
// team_member_permissions allow), and a move to another team
// validate_key_team_change. Stricter than LiteLLM: a key of no user
// outside such a team is not the caller's, a key whose user is an admin
// is never a team's to change, and a blocked key stays blocked.
func (a *API) checkSelfUpdate(me caller, k *events.Key, f *keyFields, given, route string) error {
	snap := a.store.Snapshot()
	if f.UserID != nil && *f.UserID != k.UserID {
		return keyUpdateDenied.With("User=%s is not allowed to update key=%s to belong to user=%s", *f.UserID, given, pyStr(k.UserID))
	}
	team := snap.Team(k.TeamID)
	m := teamMember(team, me.userID)
	if err := checkTeamMemberPermission(team, m, route); err != nil {
		return err
	}
	if route == "/key/update" && k.UserID != me.userID && !teamGrants(snap, team, m, k, route) {
		return keyUpdateDenied.With("User can only create keys for themselves. Got user_id=%s, Your ID=%s", pyStr(k.UserID), me.userID)
	}
	if f.TeamID != nil && *f.TeamID != k.TeamID {
		if err := a.checkSelfTeamChange(me, k, *f.TeamID); err != nil {
			return err
		}
	}
	if len(f.Aliases) > 0 {
		return keyUpdateDenied.With(aliasesAdminOnly, route, me.role, me.userID)
	}
	if f.Blocked != nil && !*f.Blocked && k.Blocked {
		return keyUpdateDenied.With("Only proxy admin can unblock a key. Route=%s. Your role=%s. Your user_id=%s", route, me.role, me.userID)
	}
	return nil
}

// checkSelfTeamChange is LiteLLM's validate_key_team_change for a caller
// that is not an admin: the key's user must be in the new team, and the
// caller its admin or the key's user a member the team's
// team_member_permissions allow /key/update (a plain member has no such
// permission by default). Leaving a team is a change too: its bounds are
// the team's.
func (a *API) checkSelfTeamChange(me caller, k *events.Key, teamID string) error {
	team := a.store.Snapshot().Team(teamID)
	if team == nil {
		if teamID == "" {
			team = &events.Team{TeamID: k.TeamID}
		} else {
			return apierror.NotFound.With("team_id %q does not exist. Create it via /team/new", teamID)
		}
	}
	if k.UserID != "" && teamID != "" && teamMember(team, k.UserID) == nil {
		return keyUpdateDenied.With("User=%s is not a member of the team=%s. Check team members via `/team/info`.", k.UserID, team.TeamID)
	}
	if teamID != "" && teamAdmin(team, me.userID) {
		return nil
	}
	if m := teamMember(team, k.UserID); teamID != "" && m != nil && checkTeamMemberPermission(team, m, "/key/update") == nil {
		return nil
	}
	return keyUpdateDenied.With("User=%s is not a Proxy Admin or Team Admin for team=%s. Please ask your Proxy Admin to allow this action under 'Member Permissions' for this team.", me.userID, team.TeamID)
}

// mayModify is LiteLLM's can_modify_verification_token, for /key/delete
// and /key/regenerate by a caller that is not an admin: a key by its
// owner, and a team key by its team's admin too (a member whose team's
// team_member_permissions list the route is not enough). Stricter than
// LiteLLM: a key whose user is an admin (proxy_admin or
// proxy_admin_viewer) is never a team's to rotate or delete, since its
// new plaintext would carry that user's role.
func mayModify(snap *policy.Snapshot, me caller, k *events.Key, route string) bool {
	if me.userID == "" {
		return false
	}
	if k.UserID == me.userID {
		return true
	}
	// The team's admin holds every route; teamGrants adds the key's team
	// and admin-user checks.
	team := snap.Team(k.TeamID)
	return teamAdmin(team, me.userID) && teamGrants(snap, team, teamMember(team, me.userID), k, route)
}

// checkMayModify decides a /key/delete or /key/regenerate (route; verb
// names it in the refusal) of key k by a caller that is not an admin, as
// LiteLLM 2026 does: /key/regenerate checks the team member permission
// first (can_team_member_execute_key_management_endpoint), /key/delete
// does not; both then check ownership (can_modify_verification_token).
func checkMayModify(snap *policy.Snapshot, me caller, k *events.Key, route, verb string) error {
	if route != "/key/delete" {
		team := snap.Team(k.TeamID)
		if err := checkTeamMemberPermission(team, teamMember(team, me.userID), route); err != nil {
			return err
		}
	}
	if !mayModify(snap, me, k, route) {
		return keyOwnerDenied.With("You are not authorized to %s this key", verb)
	}
	return nil
}

// checkSelfRegenerate decides a /key/regenerate by a caller that is not an
// admin: checkMayModify, then, stricter than LiteLLM, which applies the
// body's fields unchecked, the /key/update rules for them.
func (a *API) checkSelfRegenerate(me caller, tok, given string, f *keyFields) error {
	snap := a.store.Snapshot()
	k := snap.KeyByToken(tok)
	if k == nil {
		return nil // createKey answers 404
	}
	if err := checkMayModify(snap, me, k, "/key/regenerate", "regenerate"); err != nil {
		return err
	}
	return a.checkSelfUpdate(me, k, f, given, "/key/regenerate")
}

// pyStr renders an optional id as Python prints it: None when unset.
func pyStr(s string) string {
	if s == "" {
		return "None"
	}
	return s
}
