// Package jwtauth decides what a caller holding a verified JWT may do:
// LiteLLM's JWT pipeline (admin scope, team from claims or groups with
// x-litellm-team-id selection, RBAC role mappings, scope mappings, route
// checks), on the same policy snapshot the rest of the gateway uses, so a
// blocked team or a changed role mapping takes effect on the next request.
//
// The work splits in two: Identity, derived from the claims and the
// settings only (cacheable with the verified token until it expires), and
// Decide, which combines an Identity with the live snapshot per request
// (map lookups, no I/O). The edge does not call Decide itself: auth turns
// its Decision into the auth.Grant every credential kind produces.
package jwtauth

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/cel"

	"github.com/gatehouse/gatehouse/auth/claims"
	"github.com/gatehouse/gatehouse/events"
)

// Identity is what a token says about its holder under given settings.
type Identity struct {
	Claims  map[string]any
	Expires time.Time
	Issuer  string
	Scopes  []string
	// Role is the RBAC role: proxy_admin, team, internal_user or "".
	Role string
	// Admin: the admin scope, or a role mapping to proxy_admin.
	Admin bool
	// TeamID is the team named by team_id_jwt_field (or the default, or the
	// object id of a team-role token); TeamIDs are all candidate teams in
	// claim order, TeamID first.
	TeamID    string
	TeamIDs   []string
	UserID    string
	UserEmail string
	OrgID     string
	EndUserID string
	// TeamAlias and OrgAlias are the values of team_alias_jwt_field and
	// org_alias_jwt_field, resolved against the snapshot per request.
	TeamAlias string
	OrgAlias  string
	// GroupIDs are the teams of team_ids_jwt_field alone.
	GroupIDs []string
	// ClaimTeams are what sync_user_role_and_teams makes the memberships
	// match: team_ids_jwt_field's teams, and under fallback_to_db_teams
	// team_id_jwt_field's too (every element of a list), never
	// team_id_default (LiteLLM 2026: without the flag a singular claim is
	// not a membership claim; map_user_to_teams still joins the request's
	// team).
	ClaimTeams []string
	// MappedUserRole is the user_role jwt_litellm_role_map gives the
	// token's roles ("" when none matches).
	MappedUserRole string
	// EmailDomainOK is false when a domain is configured and the email is
	// missing or from another domain.
	EmailDomainOK bool
	// Valid is custom_validate's verdict (true when none is configured);
	// ValidateErr is set when evaluating it failed.
	Valid       bool
	ValidateErr error

	settings *events.JWTSettings
	// teamField is the team id claim path in force for this token (global
	// or its issuer's): a token missing it is refused.
	teamField string
	// teamDefaulted: TeamID is team_id_default, not a claim, so a team
	// alias claim and fallback_to_db_teams' memberships beat it (LiteLLM
	// 2026).
	teamDefaulted bool
}

// Settings are the JWT settings the identity was derived under.
func (id *Identity) Settings() *events.JWTSettings { return id.settings }

// fields are the claim paths in force for one token: the global ones, or
// those of the issuer entry matching its iss.
type fields struct {
	teamID, userID, email, org, endUser string
	teamIDs, roles                      []string
}

func fieldsFor(a *events.JWTAuth, iss string) fields {
	f := fields{teamID: a.TeamIDJWTField, userID: a.UserIDJWTField, email: a.UserEmailJWTField,
		org: a.OrgIDJWTField, endUser: a.EndUserIDJWTField, teamIDs: a.TeamIDsJWTField, roles: a.RolesJWTField}
	for _, is := range a.Issuers {
		if is.Issuer != iss {
			continue
		}
		override := func(dst *string, v string) {
			if v != "" {
				*dst = v
			}
		}
		override(&f.teamID, is.TeamIDJWTField)
		override(&f.userID, is.UserIDJWTField)
		override(&f.email, is.UserEmailJWTField)
		override(&f.org, is.OrgIDJWTField)
		override(&f.endUser, is.EndUserIDJWTField)
		if len(is.TeamIDsJWTField) > 0 {
			f.teamIDs = is.TeamIDsJWTField
		}
		if len(is.RolesJWTField) > 0 {
			f.roles = is.RolesJWTField
		}
	}
	return f
}

func str(c map[string]any, path string) string {
	if path == "" {
		return ""
	}
	v, ok := claims.Lookup(c, path)
	if !ok {
		return ""
	}
	s, _ := claims.String(v)
	return s
}

// NewIdentity derives an Identity from verified claims. prog is the
// compiled custom_validate (nil when none).
func NewIdentity(c map[string]any, s *events.JWTSettings, prog cel.Program) (*Identity, error) {
	a := s.Auth
	id := &Identity{Claims: c, settings: s, Valid: true, EmailDomainOK: true}
	id.Issuer = str(c, "iss")
	if exp, ok := c["exp"].(float64); ok {
		id.Expires = time.Unix(int64(exp), 0)
	}
	f := fieldsFor(&a, id.Issuer)
	scopes, err := claims.Scopes(c, a.ScopesJWTField)
	if err != nil {
		return nil, err
	}
	id.Scopes = scopes
	roles := claims.Union(c, f.roles)
	userRoles := claims.Union(c, a.UserRolesJWTField)

	id.TeamID = str(c, f.teamID)
	if id.TeamID == "" {
		id.TeamID, id.teamDefaulted = a.TeamIDDefault, a.TeamIDDefault != ""
	}
	if a.TeamIDDefault == "" {
		id.teamField = f.teamID
	}
	id.UserID = str(c, f.userID)
	// Role, in LiteLLM's order.
	switch {
	case slices.Contains(id.Scopes, a.AdminJWTScope):
		id.Role, id.Admin = events.RoleProxyAdmin, true
	case id.TeamID != "":
		id.Role = events.RoleTeam
	case id.UserID != "":
		id.Role = events.RoleInternalUser
	case len(a.UserAllowedRoles) > 0 && intersects(userRoles, a.UserAllowedRoles):
		id.Role = events.RoleInternalUser
	default:
		for _, m := range a.RoleMappings {
			if slices.Contains(roles, m.Role) {
				id.Role = m.InternalRole
				break
			}
		}
	}
	if id.Role == events.RoleProxyAdmin {
		id.Admin = true
	}
	if a.ObjectIDJWTField != "" {
		if oid := str(c, a.ObjectIDJWTField); oid != "" {
			// As LiteLLM: the object id is the team or the user, whichever
			// the role says, replacing what the other fields gave.
			switch id.Role {
			case events.RoleTeam:
				id.TeamID, id.teamField, id.teamDefaulted = oid, "", false
			case events.RoleInternalUser:
				id.UserID = oid
			}
		}
	}
	id.UserEmail = str(c, f.email)
	if id.UserID == "" {
		id.UserID = id.UserEmail // LiteLLM: user id falls back to the email
	}
	if d := a.UserAllowedEmailDomain; d != "" {
		at := strings.LastIndexByte(id.UserEmail, '@')
		id.EmailDomainOK = at > 0 && id.UserEmail[at+1:] == d
	}
	id.OrgID = str(c, f.org)
	id.EndUserID = str(c, f.endUser)
	if id.TeamID != "" {
		id.TeamIDs = append(id.TeamIDs, id.TeamID)
	}
	for _, p := range f.teamIDs {
		v, ok := claims.Lookup(c, p)
		if !ok {
			continue
		}
		for _, t := range claims.Strings(v) {
			if !slices.Contains(id.TeamIDs, t) {
				id.TeamIDs = append(id.TeamIDs, t)
			}
			if !slices.Contains(id.GroupIDs, t) {
				id.GroupIDs = append(id.GroupIDs, t)
			}
		}
	}
	id.ClaimTeams = slices.Clone(id.GroupIDs)
	if v, ok := claims.Lookup(c, f.teamID); ok && a.FallbackToDBTeams {
		// A list claim names all its teams here, though the team chosen
		// is its first; a single value is one id (commas and all).
		ts := claims.Strings(v)
		if _, list := v.([]any); !list {
			ts = ts[:0]
			if t, ok := claims.String(v); ok {
				ts = append(ts, t)
			}
		}
		for _, t := range ts {
			if !slices.Contains(id.ClaimTeams, t) {
				id.ClaimTeams = append(id.ClaimTeams, t)
			}
		}
	}
	id.TeamAlias = str(c, a.TeamAliasJWTField)
	id.OrgAlias = str(c, a.OrgAliasJWTField)
	id.MappedUserRole = mapUserRole(a.JWTLiteLLMRoleMap, roles)
	if prog != nil {
		out, _, err := prog.Eval(map[string]any{"claims": c})
		switch {
		case err != nil:
			id.Valid, id.ValidateErr = false, err
		default:
			b, ok := out.Value().(bool)
			id.Valid = ok && b
			if !ok {
				id.ValidateErr = fmt.Errorf("custom_validate returned %T, want bool", out.Value())
			}
		}
	}
	return id, nil
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// mapUserRole applies jwt_litellm_role_map as LiteLLM does: mappings in
// config order, for each the token roles in claim order, first shell
// pattern match wins.
func mapUserRole(m []events.JWTLiteLLMRoleMap, roles []string) string {
	for _, e := range m {
		for _, r := range roles {
			if ok, _ := path.Match(e.JWTRole, r); ok {
				return e.LiteLLMRole
			}
		}
	}
	return ""
}
