package jwtauth

import (
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// Request is what is being asked.
type Request struct {
	Route string
	// Model is the requested model ("" for routes without one).
	Model string
	// TeamHeader is x-litellm-team-id, if sent.
	TeamHeader string
}

// Decision is what the caller may do.
type Decision struct {
	Admin bool
	Role  string
	// Team is nil for a caller without a team. A team that is being
	// upserted is a new, unrestricted team (LiteLLM's team_id_upsert).
	Team      *events.Team
	User      *events.User
	UserID    string
	UserEmail string
	OrgID     string
	EndUserID string
	// Route is where the model goes (zero when no model was requested).
	Route policy.Route
	// Upserts are objects the control plane should create; the request
	// does not wait for them.
	Upserts []events.UpsertRequest
}

func forbidden(format string, args ...any) error { return apierror.Forbidden.With(format, args...) }

// forbiddenBy is forbidden naming the rule that refused, for the decision
// ledger: "role:<role>:models", "jwt_settings:team_allowed_routes", ...
func forbiddenBy(rule, format string, args ...any) error {
	return apierror.Forbidden.With(format, args...).By(rule)
}

// Decide authorizes one request for an identity against a snapshot, in
// LiteLLM's order. Unlike LiteLLM, the team route check applies however the
// team was chosen (#31189), and role_permissions and scope_mappings use the
// same model rules as keys: wildcards and access groups work (#27536).
func Decide(s *policy.Snapshot, id *Identity, r Request) (Decision, error) {
	set := id.settings
	a := &set.Auth
	d := Decision{Role: id.Role, UserID: id.UserID, UserEmail: id.UserEmail, OrgID: id.OrgID, EndUserID: id.EndUserID}

	if id.ValidateErr != nil {
		return d, apierror.Unauthenticated.Wrap(id.ValidateErr, "Authentication Error, custom_validate failed")
	}
	if !id.Valid {
		return d, forbidden("Invalid JWT token")
	}
	if a.EnforceRBAC {
		if id.Role == "" {
			return d, forbidden("Unmatched token passed in. enforce_rbac is set to True. Token must belong to a proxy admin, team, or user.")
		}
		for _, p := range set.RolePermissions {
			if p.Role != id.Role {
				continue
			}
			if len(p.Models) > 0 && r.Model != "" && !s.Allowed(p.Models, r.Model) {
				return d, forbiddenBy("role:"+id.Role+":models", "Role=%s not allowed to call model=%s. Allowed models=%s", id.Role, r.Model, apierror.PyList(p.Models))
			}
			if len(p.Routes) > 0 && !RouteAllowed(r.Route, p.Routes) {
				return d, forbiddenBy("role:"+id.Role+":routes", "Role=%s not allowed to call route=%s. Allowed routes=%s", id.Role, r.Route, apierror.PyList(p.Routes))
			}
		}
	}
	// LiteLLM checks scopes only with enforce_scope_based_access and
	// scope_mappings: enforcing without mappings checks nothing.
	if a.EnforceScopeBasedAccess && len(a.ScopeMappings) > 0 && r.Model != "" {
		var allowed []string
		for _, m := range a.ScopeMappings {
			if slices.Contains(id.Scopes, m.Scope) {
				allowed = append(allowed, m.Models...)
			}
		}
		// An empty union means no scope granted anything: deny, unlike an
		// empty models list on a key.
		if len(allowed) == 0 || !s.Allowed(allowed, r.Model) {
			return d, forbiddenBy("jwt_settings:allowed_models", "model=%s not allowed. Allowed_models=%s", r.Model, apierror.PyList(allowed))
		}
	}
	// user_allowed_email_domain: LiteLLM 2026 refuses every caller whose
	// email is missing or from another domain (valid_user_email False, in
	// get_objects), team and user tokens alike; only the admin scope, which
	// short-circuits before get_objects, is not checked.
	if !id.EmailDomainOK && !slices.Contains(id.Scopes, a.AdminJWTScope) {
		return d, forbidden("user email domain not allowed. Allowed domain: %s", a.UserAllowedEmailDomain)
	}
	// LiteLLM: is_proxy_admin = user_object.user_role == "proxy_admin".
	// A token whose user is stored as proxy_admin is an admin however the
	// token says it (the natural way to make an admin with an IdP, such as
	// Dex, whose tokens carry no role a role_mapping could use). As in
	// LiteLLM, admin_allowed_routes (the scope admin's list) do not limit
	// it: it may call every route and every model, like the master key.
	if !id.Admin && id.UserID != "" {
		if u := storedUser(s, id); u != nil && u.UserRole == events.RoleProxyAdmin {
			d.Role, d.User, d.UserID = events.RoleProxyAdmin, u, u.UserID
			d.UserEmail = rowEmail(u, d.UserEmail)
			return adminDecision(s, r, nil, d)
		}
	}
	if id.Admin {
		return adminDecision(s, r, a, d)
	}
	return decideMember(s, id, r, set, d)
}

// storedUser is the stored user a token names: by user id, else by email
// (LiteLLM's lookup order, case-insensitive email).
func storedUser(s *policy.Snapshot, id *Identity) *events.User {
	if u := s.User(id.UserID); u != nil {
		return u
	}
	if id.UserEmail != "" {
		return s.UserByEmail(id.UserEmail)
	}
	return nil
}

// rowEmail is the email a decision reports for a stored user: the user's
// own, else the token's (LiteLLM 2026, LIT-4238: the row wins, the claim
// is the fallback), so spend and metrics name the address on record.
func rowEmail(u *events.User, claim string) string {
	if u.UserEmail != "" {
		return u.UserEmail
	}
	return claim
}

// adminDecision admits a proxy admin for every model, on
// admin_allowed_routes when a is not nil.
func adminDecision(s *policy.Snapshot, r Request, a *events.JWTAuth, d Decision) (Decision, error) {
	if a != nil && !RouteAllowed(r.Route, a.AdminAllowedRoutes) {
		// LiteLLM raises a plain Exception here (401, not 403) naming the
		// routes the groups expand to (get_actual_routes).
		return d, apierror.Unauthenticated.With("Admin not allowed to access this route. Route=%s, Allowed Routes=%s",
			r.Route, apierror.PyList(ExpandRoutes(a.AdminAllowedRoutes))).By("jwt_settings:admin_allowed_routes")
	}
	d.Admin = true
	if h := strings.TrimSpace(r.TeamHeader); a != nil && h != "" && IsLLMRoute(r.Route) {
		// LiteLLM 2026: an admin's x-litellm-team-id on an LLM route puts
		// the call under that team (its limits, its spend), unchecked
		// against the token's teams; on admin routes it is ignored, so no
		// team is created there.
		t := s.Team(h)
		switch {
		case t == nil && a.TeamIDUpsert:
			d.Upserts = append(d.Upserts, events.UpsertRequest{Kind: events.UpsertTeam, TeamID: h})
			t = &events.Team{TeamID: h, Models: []string{}}
		case t == nil:
			return d, apierror.NotFound.With("Team doesn't exist in db. Team=%s. Create team via `/team/new` call.", h)
		}
		d.Team = t
	}
	if r.Model != "" {
		d.Route = s.Catalog().Resolve(r.Model)
	}
	return d, nil
}

// decideMember decides for a caller that is not an admin: team, user,
// org, then LiteLLM's common_checks.
func decideMember(s *policy.Snapshot, id *Identity, r Request, set *events.JWTSettings, d Decision) (Decision, error) {
	a := &set.Auth
	if a.SyncUserRoleAndTeams && id.MappedUserRole == events.RoleProxyAdmin && id.UserID != "" {
		// LiteLLM syncs the stored role first, then takes admin from it:
		// the token's mapped role applies to this request already, before
		// any team is chosen (an admin needs none).
		return syncedAdmin(s, id, r, a, d)
	}
	if err := resolveTeam(s, id, r, a, &d); err != nil {
		return d, err
	}
	if id.OrgID == "" && id.OrgAlias != "" {
		// org_alias_jwt_field: the id field wins when both are present.
		oid, err := orgByAlias(s, id.OrgAlias)
		if err != nil {
			return d, err
		}
		d.OrgID = oid
	}
	if id.OrgID != "" && s.Org(id.OrgID) == nil {
		return d, apierror.Unauthenticated.With("Organization doesn't exist in db. Organization=%s. Create organization via `/organization/new` call.", id.OrgID)
	}
	if id.UserID != "" {
		d.User = s.User(id.UserID)
		if d.User == nil && id.UserEmail != "" {
			d.User = s.UserByEmail(id.UserEmail)
		}
		if d.User == nil {
			// Upsert only admitted users: with an email domain configured,
			// a token without a matching email is not auto-created.
			if !a.UserIDUpsert || !id.EmailDomainOK {
				return d, apierror.Unauthenticated.With("User doesn't exist in db. 'user_id'=%s. Create user via `/user/new` call.", id.UserID)
			}
			d.Upserts = append(d.Upserts, events.UpsertRequest{Kind: events.UpsertUser, UserID: id.UserID, UserEmail: id.UserEmail})
			if a.SyncUserRoleAndTeams && id.MappedUserRole != "" {
				d.Upserts = append(d.Upserts, events.UpsertRequest{Kind: events.UpsertUserRole, UserID: id.UserID, UserRole: id.MappedUserRole})
			}
		}
		if d.User != nil {
			d.UserID = d.User.UserID // the canonical id when matched by email
			d.UserEmail = rowEmail(d.User, d.UserEmail)
			if a.SyncUserRoleAndTeams {
				for _, u := range syncUpserts(s, id, d.User) {
					if !slices.Contains(d.Upserts, u) {
						d.Upserts = append(d.Upserts, u)
					}
				}
			}
		}
		// map_user_to_teams: both sides, so /team/info and /user/info
		// agree (a user stored before the team was joined gets the team
		// in its list too).
		if d.Team != nil && (!isMember(d.Team, d.UserID, id.UserEmail) || (d.User != nil && !slices.Contains(d.User.Teams, d.Team.TeamID))) {
			if u := (events.UpsertRequest{Kind: events.UpsertTeamMember, UserID: d.UserID, UserEmail: id.UserEmail, TeamID: d.Team.TeamID}); !slices.Contains(d.Upserts, u) {
				d.Upserts = append(d.Upserts, u)
			}
		}
	}
	if set.EnforceRBAC && d.Team == nil && d.UserID == "" {
		return d, forbidden("No user or team id found in token. enforce_rbac is set to True. Token must belong to a proxy admin, team, or user.")
	}
	// common_checks, in LiteLLM's order (the key path's too): the team's
	// block, the team's or the user's models, then the budgets and the org.
	if d.Team != nil {
		if d.Team.Blocked {
			// LiteLLM's exact text, its typo included: clients match on it.
			return d, apierror.TeamBlocked.With("Team=%s is blocked. Update via `/team/unblock` if your admin.", d.Team.TeamID).By(policy.Rule("team", d.Team.TeamID, "blocked"))
		}
		if r.Model != "" && !s.TeamMayCall(d.Team, r.Model) {
			return d, apierror.TeamModelDenied.With("Team not allowed to access model. Team=%s, Model=%s. Allowed team models = %s", d.Team.TeamID, r.Model, apierror.PyList(s.TeamModels(d.Team))).By(policy.Rule("team", d.Team.TeamID, "models"))
		}
	} else if d.User != nil && r.Model != "" {
		if err := s.UserMayCall(d.User, r.Model); err != nil {
			return d, err
		}
	}
	if err := policy.BudgetCheck(nil, d.Team, d.User); err != nil {
		return d, err
	}
	if err := s.CheckMemberBudget(d.Team, d.UserID); err != nil {
		return d, err
	}
	if d.OrgID == "" && d.Team != nil {
		d.OrgID = d.Team.OrganizationID // the token's org, else its team's
	}
	if err := s.CheckOrgStanding(d.OrgID); err != nil {
		return d, err
	}
	if err := s.CheckOrgMemberBudget(d.OrgID, d.UserID); err != nil {
		return d, err
	}
	if r.Model != "" {
		routed := r.Model // the team's model_aliases target, if it names one
		if target := policy.TeamAlias(d.Team, r.Model); target != "" {
			routed = target
		}
		if err := s.CheckOrgModel(d.OrgID, r.Model, routed); err != nil {
			return d, err
		}
		d.Route = s.Catalog().Resolve(routed)
	}
	return d, nil
}

// resolveTeam picks the caller's team: the x-litellm-team-id header (which
// must name one of the token's teams), else the token's team id, else the
// first of its groups that exists, may use the model and may use the route.
// Candidates are tried in claim order, so the choice is deterministic
// (LiteLLM iterates a set).
func resolveTeam(s *policy.Snapshot, id *Identity, r Request, a *events.JWTAuth, d *Decision) error {
	teamRoutes := func(t string) error {
		if !RouteAllowed(r.Route, a.TeamAllowedRoutes) {
			return forbiddenBy("jwt_settings:team_allowed_routes", "Team=%s not allowed to access this route. Route=%s, Allowed Routes=%s", t, r.Route, apierror.PyList(a.TeamAllowedRoutes))
		}
		return nil
	}
	load := func(teamID string) (*events.Team, error) {
		if t := s.Team(teamID); t != nil {
			return t, nil
		}
		if a.TeamIDUpsert {
			d.Upserts = append(d.Upserts, events.UpsertRequest{Kind: events.UpsertTeam, TeamID: teamID})
			return &events.Team{TeamID: teamID, Models: []string{}}, nil
		}
		if a.TeamClaimFallback {
			if t := fallbackTeam(s, id); t != nil {
				return t, nil
			}
		}
		return nil, apierror.NotFound.With("Team doesn't exist in db. Team=%s. Create team via `/team/new` call.", teamID)
	}
	teamIDs, claimTeam := id.TeamIDs, id.TeamID
	if id.teamDefaulted && id.TeamAlias != "" {
		claimTeam = "" // an alias claim beats team_id_default
	}
	fromDB := false
	if a.FallbackToDBTeams && len(id.GroupIDs) == 0 && id.TeamAlias == "" && (claimTeam == "" || id.teamDefaulted) {
		// fallback_to_db_teams: a token naming no team uses the user's
		// stored memberships, header and group selection alike; they beat
		// team_id_default, which applies only to a user with none.
		if db := dbTeams(s, id); len(db) > 0 || claimTeam == "" {
			teamIDs, claimTeam, fromDB = db, "", true
		}
	}
	if h := strings.TrimSpace(r.TeamHeader); h != "" {
		if !slices.Contains(teamIDs, h) {
			// LiteLLM 2026 also accepts the alias of one allowed team.
			tid, ok := allowedTeamByAlias(s, teamIDs, h)
			if !ok && fromDB {
				// The memberships are not the token's to see: naming them
				// would let any token probe which teams a user is in.
				return forbidden("x-litellm-team-id '%s' does not resolve to a team id or a unique team alias among your team memberships.", h)
			}
			if !ok {
				// LiteLLM 2026's text (the header may name an alias), ids
				// sorted as it sorts them.
				return forbidden("x-litellm-team-id '%s' does not resolve to a team id or a unique team alias in your JWT's allowed teams. Allowed team ids: %s",
					h, apierror.PyList(slices.Sorted(slices.Values(teamIDs))))
			}
			h = tid
		}
		t, err := load(h)
		if err != nil {
			return err
		}
		d.Team = t
		if !RouteAllowed(r.Route, a.TeamAllowedRoutes) {
			// LiteLLM 2026's text for the header path: the value as sent.
			return forbiddenBy("jwt_settings:team_allowed_routes", "Team '%s' (from x-litellm-team-id header) is not allowed to access route '%s'.", strings.TrimSpace(r.TeamHeader), r.Route)
		}
		return nil
	}
	// A configured team claim that is missing refuses a token that names
	// nothing else. LiteLLM refuses every such token; here a token that
	// still names groups (team_ids_jwt_field), a user or a role goes on to
	// be judged as that, so one IdP can issue team and user tokens.
	if claimTeam == "" && id.TeamAlias != "" {
		// team_alias_jwt_field: the id field wins when both are present.
		t, err := teamByAlias(s, id.TeamAlias)
		if err != nil {
			if ft := fallbackTeam(s, id); a.TeamClaimFallback && ft != nil {
				t = ft
			} else {
				return err
			}
		}
		d.Team = t
		return teamRoutes(t.TeamID)
	}
	if claimTeam == "" && (id.teamField != "" || a.TeamAliasJWTField != "") && len(teamIDs) == 0 && id.UserID == "" && id.Role == "" {
		// LiteLLM 2026's one text, Python's None for a field not set.
		return apierror.Unauthenticated.With("No team found in token. Checked team_id field '%s' and team_alias field '%s'.%s", pyStr(id.teamField), pyStr(a.TeamAliasJWTField), indexHint(id.teamField))
	}
	if claimTeam != "" {
		t, err := load(claimTeam)
		if err != nil {
			return err
		}
		d.Team = t
		return teamRoutes(claimTeam)
	}
	if len(teamIDs) == 0 {
		if a.EnforceTeamBasedModelAccess && fromDB {
			return forbidden(notATeamMember)
		}
		if a.EnforceTeamBasedModelAccess {
			return forbidden("No teams found in token. `enforce_team_based_model_access` is set to True. Token must belong to a team.")
		}
		return nil
	}
	// LiteLLM's find_team_with_model_access: the first team that exists,
	// may use the model and passes team_allowed_routes. Blocked is not a
	// criterion: a blocked team chosen here is refused by common_checks
	// (401 team_blocked), not skipped for the next group.
	anyExists := false
	for _, tid := range teamIDs {
		t := s.Team(tid)
		if t == nil {
			continue
		}
		anyExists = true
		if r.Model != "" && !s.TeamMayCall(t, r.Model) {
			continue
		}
		if !RouteAllowed(r.Route, a.TeamAllowedRoutes) {
			continue
		}
		d.Team = t
		return nil
	}
	if fromDB {
		// LiteLLM 2026's _resolve_db_team_fallback: no stored team may take
		// the request. Nothing demands a team: the caller goes on as its
		// user, judged by the user's models. Otherwise its two refusals,
		// which do not list the memberships (not the token's to see).
		switch {
		case !a.EnforceTeamBasedModelAccess:
			return nil
		case r.Model != "" && anyExists:
			return apierror.TeamModelDenied.With("No team you are a member of has access to the requested model: %s. Check `/models` to see the models available to you.", r.Model)
		default:
			return forbidden(notATeamMember)
		}
	}
	if !anyExists && a.TeamClaimFallback {
		// The claims name teams, none of which exists: the user's one
		// stored team instead (its model and route checks follow), else
		// no team, as for a token without team claims.
		if t := fallbackTeam(s, id); t != nil {
			d.Team = t
			return teamRoutes(t.TeamID)
		}
		return nil
	}
	if r.Model != "" {
		return apierror.TeamModelDenied.With("No team has access to the requested model: %s. Checked teams=%s. Check `/models` to see all available models.", r.Model, apierror.PyList(teamIDs))
	}
	if !RouteAllowed(r.Route, a.TeamAllowedRoutes) {
		return forbiddenBy("jwt_settings:team_allowed_routes", "No team in the token may access route %s", r.Route)
	}
	return nil
}

// notATeamMember is LiteLLM 2026's refusal of a token without team claims,
// under fallback_to_db_teams and enforce_team_based_model_access, for a
// user none of whose stored teams could be used.
const notATeamMember = "User is not a member of any team. Add the user to a team via the LiteLLM UI or API."

// pyStr is s as LiteLLM prints an optional setting: None when unset.
func pyStr(s string) string {
	if s == "" {
		return "None"
	}
	return s
}

func isMember(t *events.Team, userID, email string) bool {
	for _, m := range t.MembersWithRoles {
		if (userID != "" && m.UserID == userID) || (email != "" && strings.EqualFold(m.UserEmail, email)) {
			return true
		}
	}
	return false
}
