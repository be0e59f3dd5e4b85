package jwtauth

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// OrgIDsByAlias resolves org_alias_jwt_field: the ids of the organizations
// with that alias. A variable so the organizations owner can replace the
// lookup (an index, say) without touching the decision flow.
var OrgIDsByAlias = func(s *policy.Snapshot, alias string) []string {
	var ids []string
	for _, o := range s.OrgsByAlias(alias) {
		ids = append(ids, o.OrganizationID)
	}
	sort.Strings(ids)
	return ids
}

// teamByAlias resolves team_alias_jwt_field as LiteLLM 2026 does: no team
// is a 404, several are a 400.
func teamByAlias(s *policy.Snapshot, alias string) (*events.Team, error) {
	ts := s.TeamsByAlias(alias)
	switch len(ts) {
	case 0:
		return nil, apierror.NotFound.With("Team doesn't exist in db. Team alias=%s. Create team via `/team/new` call.", alias)
	case 1:
		return ts[0], nil
	}
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.TeamID
	}
	sort.Strings(ids)
	return nil, apierror.BadRequest.With("Multiple teams found with alias %s: %s. Use team_id_jwt_field, or make the alias unique.", alias, apierror.PyList(ids))
}

// orgByAlias resolves org_alias_jwt_field.
func orgByAlias(s *policy.Snapshot, alias string) (string, error) {
	ids := OrgIDsByAlias(s, alias)
	switch len(ids) {
	case 0:
		return "", apierror.Unauthenticated.With("Organization doesn't exist in db. Organization alias=%s. Create organization via `/organization/new` call.", alias)
	case 1:
		return ids[0], nil
	}
	return "", apierror.BadRequest.With("Multiple organizations found with alias %s: %s.", alias, apierror.PyList(ids))
}

// fallbackTeam is team_claim_fallback: the user's one stored team, when a
// team claim names no team that exists (nil when the user has none or
// several).
func fallbackTeam(s *policy.Snapshot, id *Identity) *events.Team {
	u := s.User(id.UserID)
	if u == nil && id.UserEmail != "" {
		u = s.UserByEmail(id.UserEmail)
	}
	if u == nil || len(u.Teams) != 1 {
		return nil
	}
	return s.Team(u.Teams[0])
}

// syncUpserts are sync_user_role_and_teams' changes: the stored role from
// jwt_litellm_role_map, and memberships made to match the teams the claims
// name (added for teams that exist, removed for stored teams the token no
// longer names). As in LiteLLM, this runs whichever team fields are set: a
// token naming no team leaves the user in none, except under
// fallback_to_db_teams, where such a token is served from the stored
// memberships, which must then survive it. They run at the control plane;
// the request does not wait.
func syncUpserts(s *policy.Snapshot, id *Identity, u *events.User) []events.UpsertRequest {
	var out []events.UpsertRequest
	if id.MappedUserRole != "" && u.UserRole != id.MappedUserRole {
		out = append(out, events.UpsertRequest{Kind: events.UpsertUserRole, UserID: u.UserID, UserRole: id.MappedUserRole})
	}
	if len(id.ClaimTeams) == 0 && id.settings.Auth.FallbackToDBTeams {
		return out
	}
	for _, tid := range id.ClaimTeams {
		if t := s.Team(tid); t != nil && !isMember(t, u.UserID, u.UserEmail) {
			out = append(out, events.UpsertRequest{Kind: events.UpsertTeamMember, UserID: u.UserID, UserEmail: u.UserEmail, TeamID: tid})
		}
	}
	for _, tid := range u.Teams {
		if !contains(id.ClaimTeams, tid) {
			out = append(out, events.UpsertRequest{Kind: events.UpsertTeamMemberRemove, UserID: u.UserID, UserEmail: u.UserEmail, TeamID: tid})
		}
	}
	return out
}

func contains(l []string, v string) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// syncedAdmin admits a token whose jwt_litellm_role_map role is
// proxy_admin under sync_user_role_and_teams, asking the control plane to
// store the role and the memberships (creating the user when
// user_id_upsert allows it).
func syncedAdmin(s *policy.Snapshot, id *Identity, r Request, a *events.JWTAuth, d Decision) (Decision, error) {
	u := s.User(id.UserID)
	if u == nil && id.UserEmail != "" {
		u = s.UserByEmail(id.UserEmail)
	}
	switch {
	case u != nil:
		d.User, d.UserID = u, u.UserID
		d.UserEmail = rowEmail(u, d.UserEmail)
		d.Upserts = append(d.Upserts, syncUpserts(s, id, u)...)
	case a.UserIDUpsert && id.EmailDomainOK:
		d.Upserts = append(d.Upserts, events.UpsertRequest{Kind: events.UpsertUser, UserID: id.UserID, UserEmail: id.UserEmail},
			events.UpsertRequest{Kind: events.UpsertUserRole, UserID: id.UserID, UserRole: id.MappedUserRole})
		for _, tid := range id.ClaimTeams {
			if s.Team(tid) != nil {
				d.Upserts = append(d.Upserts, events.UpsertRequest{Kind: events.UpsertTeamMember, UserID: id.UserID, UserEmail: id.UserEmail, TeamID: tid})
			}
		}
	default:
		return d, apierror.Unauthenticated.With("User doesn't exist in db. 'user_id'=%s. Create user via `/user/new` call.", id.UserID)
	}
	d.Admin = true
	if r.Model != "" {
		d.Route = s.Catalog().Resolve(r.Model)
	}
	return d, nil
}

// indexHint is LiteLLM 2026's hint for a claim path that tries to index a
// list ("roles.0", "roles[0]"): paths have no indexing, and a list-valued
// team claim already uses its first element.
func indexHint(path string) string {
	indexed := strings.ContainsAny(path, "[]")
	for _, seg := range strings.Split(path, ".") {
		if seg != "" && strings.Trim(seg, "0123456789") == "" {
			indexed = true
		}
	}
	if !indexed {
		return ""
	}
	base := path
	if i := strings.IndexAny(base, "["); i >= 0 {
		// LiteLLM 2026's two texts, bracket and dot form.
		return fmt.Sprintf(" Hint: bracket indexing ('%s') is not supported in team_id_jwt_field. Use '%s' instead — LiteLLM uses the first element when the claim is a list.", path, base[:i])
	}
	if i := strings.LastIndexByte(base, '.'); i >= 0 && strings.Trim(base[i+1:], "0123456789") == "" {
		base = base[:i]
	}
	return fmt.Sprintf(" Hint: dot-notation array indexing ('%s') is not supported. Use '%s' instead — LiteLLM uses the first element when the claim is a list.", path, base)
}

// allowedTeamByAlias resolves an x-litellm-team-id header that is the
// alias of exactly one of the token's teams (LiteLLM 2026).
func allowedTeamByAlias(s *policy.Snapshot, allowed []string, alias string) (string, bool) {
	found := ""
	for _, tid := range allowed {
		if t := s.Team(tid); t != nil && t.TeamAlias == alias {
			if found != "" {
				return "", false // not unique
			}
			found = tid
		}
	}
	return found, found != ""
}

// dbTeams are the stored team memberships of the token's user, for
// fallback_to_db_teams.
func dbTeams(s *policy.Snapshot, id *Identity) []string {
	u := s.User(id.UserID)
	if u == nil && id.UserEmail != "" {
		u = s.UserByEmail(id.UserEmail)
	}
	if u == nil {
		return nil
	}
	return u.Teams
}
