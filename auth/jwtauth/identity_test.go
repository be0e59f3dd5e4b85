package jwtauth

import (
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/auth/celrule"

	"cel.dev/cel-go/cel"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

// Identity-side checks, for the fields that are read out of the claims.

func teamIDs(want ...string) check {
	return func(t *testing.T, id *Identity, _ Decision) {
		t.Helper()
		if !slices.Equal(id.TeamIDs, want) {
			t.Errorf("identity team ids = %q, want %q", id.TeamIDs, want)
		}
	}
}

// idUser: the user id the token names (before any lookup by email).
func idUser(want string) check {
	return is("identity user id", func(id *Identity, _ Decision) string { return id.UserID }, want)
}

func email(want string) check {
	return func(t *testing.T, id *Identity, d Decision) {
		t.Helper()
		if id.UserEmail != want || d.UserEmail != want {
			t.Errorf("email = %q (decision %q), want %q", id.UserEmail, d.UserEmail, want)
		}
	}
}

// emails: the token's email claim, and the email the decision reports
// (the stored user's when it has one).
func emails(claim, decided string) check {
	return func(t *testing.T, id *Identity, d Decision) {
		t.Helper()
		if id.UserEmail != claim || d.UserEmail != decided {
			t.Errorf("email = %q (decision %q), want %q (decision %q)", id.UserEmail, d.UserEmail, claim, decided)
		}
	}
}

func scopes(want ...string) check {
	return func(t *testing.T, id *Identity, _ Decision) {
		t.Helper()
		if !slices.Equal(id.Scopes, want) {
			t.Errorf("scopes = %q, want %q", id.Scopes, want)
		}
	}
}

func TestAdminJWTScope(t *testing.T) {
	s := world(t)
	// A token without the admin scope is its team's: team_allowed_routes
	// then refuse the management route.
	set := settings(func(s *events.JWTSettings) {
		s.Auth.AdminJWTScope = "gh_admin"
		s.Auth.TeamIDJWTField = "team"
	})
	const route = "/team/new"
	isAdmin := all(admin(true), role(events.RoleProxyAdmin), team(""))
	runRows(t, s, set, nil, []row{
		{name: "scope string", claims: `{"team":"t-open","scope":"openid gh_admin profile"}`, route: route,
			check: all(isAdmin, scopes("openid", "gh_admin", "profile"))},
		{name: "scope list", claims: `{"team":"t-open","scope":["openid","gh_admin"]}`, route: route, check: isAdmin},
		{name: "scp list (Azure)", claims: `{"team":"t-open","scp":["gh_admin"]}`, route: route, check: isAdmin},
		{name: "scp string", claims: `{"team":"t-open","scp":"gh_admin other"}`, route: route, check: isAdmin},
		{name: "scope and scp unioned", claims: `{"scope":"openid","scp":"gh_admin"}`, route: route,
			check: all(isAdmin, scopes("openid", "gh_admin"))},
		{name: "admin beats the team claim on team routes too", claims: `{"team":"t-open","scope":"gh_admin"}`, route: "/key/info", check: isAdmin},
		{name: "default scope no longer admin", claims: `{"team":"t-open","scope":"litellm_proxy_admin"}`, route: route,
			want: apierror.Forbidden, msg: "Team=t-open not allowed to access this route"},
		{name: "scope is exact, not a prefix", claims: `{"team":"t-open","scope":"gh_admin_extra"}`, route: route, want: apierror.Forbidden},
		{name: "scope is case-sensitive", claims: `{"team":"t-open","scope":"GH_ADMIN"}`, route: route, want: apierror.Forbidden},
		{name: "scope is not split on commas", claims: `{"team":"t-open","scope":"openid,gh_admin"}`, route: route, want: apierror.Forbidden},
		{name: "no scope", claims: `{"team":"t-open"}`, route: route, want: apierror.Forbidden},
		{name: "non-admin keeps its team", claims: `{"team":"t-open","scope":"openid"}`, check: all(admin(false), team("t-open"))},
		{name: "scope of another type", claims: `{"team":"t-open","scope":5}`, idErr: "Unmapped scope type - int. Supported types - list, str."},
		{name: "scope object", claims: `{"scope":{"a":"gh_admin"}}`, idErr: "Unmapped scope type - dict"},
	})
	t.Run("default scope", func(t *testing.T) {
		runRows(t, s, settings(nil), nil, []row{
			{name: "litellm_proxy_admin", claims: `{"scope":"litellm_proxy_admin"}`, route: route, check: isAdmin},
			{name: "other scope", claims: `{"scope":"admin","team":"t-open"}`, route: route, check: admin(false)},
		})
	})
}

func TestTeamIDJWTField(t *testing.T) {
	s := world(t)
	mk := func(path string) *events.JWTSettings {
		return settings(func(s *events.JWTSettings) { s.Auth.TeamIDJWTField = path })
	}
	t.Run("top level", func(t *testing.T) {
		runRows(t, s, mk("team"), nil, []row{
			{name: "present", claims: `{"team":"t-open"}`, model: "claude-3",
				check: all(team("t-open"), role(events.RoleTeam), teamIDs("t-open"), routed)},
			{name: "list value takes the first element", claims: `{"team":["t-gpt4o","t-open"]}`, model: "gpt-4o",
				check: all(team("t-gpt4o"), teamIDs("t-gpt4o"))},
			{name: "list value, first element only", claims: `{"team":["t-gpt4o","t-open"]}`, model: "claude-3",
				want: apierror.TeamModelDenied, msg: "Team=t-gpt4o"},
			{name: "numeric id", claims: `{"team":42}`, check: team("42")},
			{name: "team not in db", claims: `{"team":"t-nope"}`, want: apierror.NotFound,
				msg: "Team doesn't exist in db. Team=t-nope"},
			{name: "team without the model", claims: `{"team":"t-gpt4o"}`, model: "claude-3", want: apierror.TeamModelDenied,
				msg: "Team not allowed to access model. Team=t-gpt4o, Model=claude-3. Allowed team models = ['gpt-4o']"},
			{name: "ids are exact", claims: `{"team":"T-OPEN"}`, want: apierror.NotFound},
		})
	})
	t.Run("nested", func(t *testing.T) {
		runRows(t, s, mk("org.team"), nil, []row{
			{name: "present", claims: `{"org":{"team":"t-gpt4o"}}`, model: "gpt-4o", check: team("t-gpt4o")},
			{name: "not in db", claims: `{"org":{"team":"t-nope"}}`, want: apierror.NotFound},
			{name: "model denied", claims: `{"org":{"team":"t-gpt4o"}}`, model: "gpt-4", want: apierror.TeamModelDenied},
		})
	})
	t.Run("escaped dot", func(t *testing.T) {
		runRows(t, s, mk(`kubernetes\.io.team`), nil, []row{
			{name: "key with a dot", claims: `{"kubernetes.io":{"team":"t-open"}}`, check: team("t-open")},
			{name: "key with a dot, not in db", claims: `{"kubernetes.io":{"team":"t-nope"}}`, want: apierror.NotFound},
		})
	})
}

func TestTeamIDsJWTField(t *testing.T) {
	s := world(t)
	t.Run("one path", func(t *testing.T) {
		set := settings(func(s *events.JWTSettings) { s.Auth.TeamIDsJWTField = events.ClaimPaths{"groups"} })
		runRows(t, s, set, nil, []row{
			{name: "list", claims: `{"groups":["t-claude","t-gpt4o"]}`, model: "gpt-4o",
				check: all(team("t-gpt4o"), teamIDs("t-claude", "t-gpt4o"), role(""))},
			{name: "CSV string", claims: `{"groups":"t-claude, t-gpt4o"}`, model: "gpt-4o",
				check: all(team("t-gpt4o"), teamIDs("t-claude", "t-gpt4o"))},
			{name: "stringified JSON list", claims: `{"groups":"[\"t-claude\", \"t-gpt4o\"]"}`, model: "gpt-4o",
				check: all(team("t-gpt4o"), teamIDs("t-claude", "t-gpt4o"))},
			{name: "python-style list", claims: `{"groups":"['t-claude', 't-gpt4o']"}`, model: "gpt-4o",
				check: all(team("t-gpt4o"), teamIDs("t-claude", "t-gpt4o"))},
			{name: "single string", claims: `{"groups":"t-gpt4o"}`, model: "gpt-4o", check: all(team("t-gpt4o"), teamIDs("t-gpt4o"))},
			{name: "duplicates dropped", claims: `{"groups":["t-gpt4o","t-gpt4o"]}`, model: "gpt-4o", check: teamIDs("t-gpt4o")},
			{name: "list, none with the model", claims: `{"groups":["t-claude","t-gpt4o"]}`, model: "gpt-4",
				want: apierror.TeamModelDenied, msg: "No team has access to the requested model"},
			{name: "CSV, none with the model", claims: `{"groups":"t-claude,t-gpt4o"}`, model: "gpt-4", want: apierror.TeamModelDenied},
			{name: "stringified, none with the model", claims: `{"groups":"[\"t-claude\"]"}`, model: "gpt-4o", want: apierror.TeamModelDenied},
			{name: "claim missing: teamless", claims: `{}`, model: "gpt-4o", check: all(team(""), teamIDs())},
		})
	})
	t.Run("several paths", func(t *testing.T) {
		set := settings(func(s *events.JWTSettings) {
			s.Auth.TeamIDsJWTField = events.ClaimPaths{"groups", "realm_access.groups", `resource_access.litellm\.client.groups`}
		})
		runRows(t, s, set, nil, []row{
			{name: "second path only", claims: `{"realm_access":{"groups":["t-gpt4o"]}}`, model: "gpt-4o", check: team("t-gpt4o")},
			{name: "escaped path only", claims: `{"resource_access":{"litellm.client":{"groups":["t-claude"]}}}`, model: "claude-3", check: team("t-claude")},
			{name: "union in path order", claims: `{"realm_access":{"groups":["t-gpt4o","t-claude"]},"groups":["t-claude"]}`, model: "gpt-4o",
				check: all(team("t-gpt4o"), teamIDs("t-claude", "t-gpt4o"))},
			{name: "first path first", claims: `{"realm_access":{"groups":["t-gpt4o"]},"groups":["t-open"]}`, model: "gpt-4o", check: team("t-open")},
			{name: "none with the model", claims: `{"realm_access":{"groups":["t-claude"]},"groups":["t-gpt4o"]}`, model: "gpt-4",
				want: apierror.TeamModelDenied},
			{name: "unconfigured path ignored", claims: `{"roles":["t-open"]}`, model: "gpt-4o", check: team("")},
		})
	})
	t.Run("with team_id_jwt_field", func(t *testing.T) {
		set := settings(func(s *events.JWTSettings) {
			s.Auth.TeamIDJWTField = "team"
			s.Auth.TeamIDsJWTField = events.ClaimPaths{"groups"}
		})
		runRows(t, s, set, nil, []row{
			{name: "team id first, deduplicated", claims: `{"team":"t-claude","groups":["t-gpt4o","t-claude"]}`, model: "claude-3",
				check: all(team("t-claude"), teamIDs("t-claude", "t-gpt4o"))},
			// The specific team is used as is: no fall back to the groups.
			{name: "specific team has no fallback", claims: `{"team":"t-claude","groups":["t-gpt4o"]}`, model: "gpt-4o",
				want: apierror.TeamModelDenied, msg: "Team=t-claude"},
			{name: "header picks a group", claims: `{"team":"t-claude","groups":["t-gpt4o"]}`, model: "gpt-4o", header: "t-gpt4o",
				check: team("t-gpt4o")},
		})
	})
}

func TestTeamIDDefault(t *testing.T) {
	s := world(t)
	t.Run("with team_id_jwt_field", func(t *testing.T) {
		set := settings(func(s *events.JWTSettings) {
			s.Auth.TeamIDJWTField = "team"
			s.Auth.TeamIDDefault = "t-default"
		})
		runRows(t, s, set, nil, []row{
			{name: "claim missing: default", claims: `{}`, model: "gpt-4o", check: all(team("t-default"), role(events.RoleTeam), teamIDs("t-default"))},
			{name: "claim present wins", claims: `{"team":"t-open"}`, model: "claude-3", check: team("t-open")},
			{name: "default team's models apply", claims: `{}`, model: "claude-3", want: apierror.TeamModelDenied, msg: "Team=t-default"},
			{name: "default team's routes apply", claims: `{}`, route: "/key/generate", want: apierror.Forbidden},
			{name: "admin is not the default team's", claims: `{"scope":"litellm_proxy_admin"}`, route: "/team/new",
				check: all(admin(true), role(events.RoleProxyAdmin), team(""))},
		})
	})
	t.Run("alone", func(t *testing.T) {
		set := settings(func(s *events.JWTSettings) {
			s.Auth.TeamIDDefault = "t-default"
			s.Auth.UserIDJWTField = "sub"
		})
		runRows(t, s, set, nil, []row{
			// team_id_default makes every non-admin token a team token.
			{name: "user token becomes a team token", claims: `{"sub":"u1"}`, model: "gpt-4o",
				check: all(role(events.RoleTeam), team("t-default"), user("u1"), upserts(upMember("u1", "", "t-default")))},
			{name: "empty token", claims: `{}`, model: "gpt-4o", check: team("t-default")},
			{name: "team models, not the user's", claims: `{"sub":"u-limited"}`, model: "gpt-4o", check: team("t-default")},
			{name: "refused by team models", claims: `{"sub":"u1"}`, model: "gpt-4", want: apierror.TeamModelDenied},
		})
	})
	t.Run("not in db", func(t *testing.T) {
		set := settings(func(s *events.JWTSettings) { s.Auth.TeamIDDefault = "t-nodb" })
		runRows(t, s, set, nil, []row{
			{name: "404", claims: `{}`, want: apierror.NotFound, msg: "Team=t-nodb"},
		})
		set = settings(func(s *events.JWTSettings) { s.Auth.TeamIDDefault = "t-nodb"; s.Auth.TeamIDUpsert = true })
		runRows(t, s, set, nil, []row{
			{name: "upserted", claims: `{}`, model: "claude-3", check: all(team("t-nodb"), upserts(upTeam("t-nodb")))},
		})
	})
}

func TestUserIDJWTField(t *testing.T) {
	s := world(t)
	set := settings(func(s *events.JWTSettings) {
		s.Auth.UserIDJWTField = "sub"
		s.Auth.TeamIDJWTField = "team"
	})
	runRows(t, s, set, nil, []row{
		{name: "present", claims: `{"sub":"u1"}`, model: "claude-3",
			check: all(user("u1"), dbUser("u1"), idUser("u1"), role(events.RoleInternalUser), team(""), upserts())},
		{name: "numeric id", claims: `{"sub":1001}`, check: all(user("1001"), dbUser("1001"))},
		{name: "user models: allowed", claims: `{"sub":"u-limited"}`, model: "gpt-4", check: user("u-limited")},
		{name: "user models: denied", claims: `{"sub":"u-limited"}`, model: "gpt-4o", want: apierror.UserModelDenied,
			msg: "User not allowed to access model. User=u-limited, Model=gpt-4o"},
		{name: "no-default-models", claims: `{"sub":"u-nodefault"}`, model: "gpt-4o", want: apierror.UserModelDenied,
			msg: "No default model access, only team models allowed. Tried to access gpt-4o"},
		{name: "no-default-models, no model requested", claims: `{"sub":"u-nodefault"}`, route: "/v1/models", check: user("u-nodefault")},
		{name: "team models replace the user's", claims: `{"sub":"u-limited","team":"t-open"}`, model: "gpt-4o",
			check: all(user("u-limited"), team("t-open"), role(events.RoleTeam))},
		{name: "no-default-models user in a team", claims: `{"sub":"u-nodefault","team":"t-open"}`, model: "gpt-4o", check: team("t-open")},
		{name: "user not in db", claims: `{"sub":"u-nope"}`, want: apierror.Unauthenticated,
			msg: "User doesn't exist in db. 'user_id'=u-nope."},
		{name: "ids are exact", claims: `{"sub":"U1"}`, want: apierror.Unauthenticated},
		// team_id_jwt_field is configured: a token naming nothing is refused.
		{name: "claim missing: names nothing", claims: `{}`, model: "gpt-4o", want: apierror.Unauthenticated, msg: "No team found in token"},
	})
	t.Run("nested", func(t *testing.T) {
		set := settings(func(s *events.JWTSettings) { s.Auth.UserIDJWTField = "profile.id" })
		runRows(t, s, set, nil, []row{
			{name: "present", claims: `{"profile":{"id":"u1"}}`, check: user("u1")},
			{name: "top-level sub is not the path", claims: `{"sub":"u1"}`, check: user("")},
			{name: "not in db", claims: `{"profile":{"id":"u-nope"}}`, want: apierror.Unauthenticated},
		})
	})
}

func TestUserEmailJWTField(t *testing.T) {
	s := world(t)
	t.Run("email only", func(t *testing.T) {
		set := settings(func(s *events.JWTSettings) { s.Auth.UserEmailJWTField = "email" })
		runRows(t, s, set, nil, []row{
			// The user id falls back to the email; the lookup by email is
			// case-insensitive and yields the canonical id.
			{name: "resolves the canonical id", claims: `{"email":"alice@example.com"}`, model: "gpt-4o",
				check: all(idUser("alice@example.com"), user("u1"), dbUser("u1"), emails("alice@example.com", "Alice@Example.com"),
					role(""))}, // LiteLLM's get_rbac_role reads only user_id_jwt_field
			{name: "case-insensitive", claims: `{"email":"ALICE@EXAMPLE.COM"}`, check: all(user("u1"), emails("ALICE@EXAMPLE.COM", "Alice@Example.com"))},
			{name: "unknown email", claims: `{"email":"nobody@example.com"}`, want: apierror.Unauthenticated,
				msg: "'user_id'=nobody@example.com"},
			{name: "missing", claims: `{}`, check: all(user(""), email(""), role(""))},
		})
	})
	t.Run("nested", func(t *testing.T) {
		set := settings(func(s *events.JWTSettings) { s.Auth.UserEmailJWTField = "profile.mail" })
		runRows(t, s, set, nil, []row{
			{name: "present", claims: `{"profile":{"mail":"bob@corp.com"}}`, check: user("legacy-uuid")},
			{name: "unknown", claims: `{"profile":{"mail":"x@corp.com"}}`, want: apierror.Unauthenticated},
		})
	})
	t.Run("with user_id_jwt_field", func(t *testing.T) {
		set := settings(func(s *events.JWTSettings) {
			s.Auth.UserIDJWTField = "sub"
			s.Auth.UserEmailJWTField = "email"
		})
		runRows(t, s, set, nil, []row{
			// #26789: the row matched by email is the canonical user.
			{name: "id unknown, email known", claims: `{"sub":"sso-123","email":"Bob@Corp.com"}`,
				check: all(idUser("sso-123"), user("legacy-uuid"), dbUser("legacy-uuid"), upserts())},
			{name: "id match first", claims: `{"sub":"u-limited","email":"alice@example.com"}`, check: user("u-limited")},
			{name: "canonical user's models apply", claims: `{"sub":"sso-9","email":"bob@corp.com"}`, model: "claude-3", check: user("legacy-uuid")},
			{name: "neither known", claims: `{"sub":"sso-123","email":"nobody@corp.com"}`, want: apierror.Unauthenticated,
				msg: "'user_id'=sso-123"},
			{name: "email only, id claim missing", claims: `{"email":"alice@example.com"}`, check: user("u1")},
		})
	})
}

func TestUserAllowedEmailDomain(t *testing.T) {
	s := world(t)
	mk := func(domain string) *events.JWTSettings {
		return settings(func(s *events.JWTSettings) {
			s.Auth.UserIDJWTField = "sub"
			s.Auth.UserEmailJWTField = "email"
			s.Auth.TeamIDJWTField = "team"
			s.Auth.UserIDUpsert = true
			s.Auth.UserAllowedEmailDomain = domain
		})
	}
	const denied = "user email domain not allowed. Allowed domain: example.com"
	t.Run("configured", func(t *testing.T) {
		runRows(t, s, mk("example.com"), nil, []row{
			{name: "exact domain", claims: `{"sub":"u1","email":"alice@example.com"}`, check: all(user("u1"), upserts())},
			{name: "email-only user", claims: `{"email":"alice@example.com"}`, check: user("u1")},
			{name: "new user of the domain is upserted", claims: `{"sub":"new","email":"new@example.com"}`,
				check: upserts(upUser("new", "new@example.com"))},
			// Reference §1: "Missing email claim counts as invalid"; LiteLLM
			// 2026 refuses it in get_objects, which team tokens reach too.
			{name: "team token without email", claims: `{"team":"t-open"}`, want: apierror.Forbidden, msg: denied},
			{name: "team token with the domain", claims: `{"team":"t-open","email":"x@example.com"}`, check: team("t-open")},
			{name: "admin scope without email", claims: `{"scope":"litellm_proxy_admin"}`, route: "/key/list", check: admin(true)},
			{name: "domain is case-sensitive", claims: `{"sub":"u1","email":"alice@Example.com"}`, want: apierror.Forbidden, msg: denied},
			{name: "no subdomains", claims: `{"sub":"u1","email":"alice@sub.example.com"}`, want: apierror.Forbidden, msg: denied},
			{name: "suffix attack", claims: `{"sub":"u1","email":"alice@example.com.evil.io"}`, want: apierror.Forbidden},
			{name: "lookalike", claims: `{"sub":"u1","email":"alice@badexample.com"}`, want: apierror.Forbidden},
			{name: "other domain", claims: `{"sub":"u1","email":"alice@other.com"}`, want: apierror.Forbidden},
			{name: "not an email", claims: `{"sub":"u1","email":"example.com"}`, want: apierror.Forbidden},
			{name: "user token without email", claims: `{"sub":"u1"}`, want: apierror.Forbidden, msg: denied},
			{name: "new user of another domain is not upserted", claims: `{"sub":"new","email":"new@other.com"}`, want: apierror.Forbidden},
			{name: "team token with another domain", claims: `{"team":"t-open","email":"x@other.com"}`, want: apierror.Forbidden},
		})
	})
	t.Run("not configured", func(t *testing.T) {
		runRows(t, s, mk(""), nil, []row{
			{name: "any domain", claims: `{"sub":"u1","email":"alice@other.com"}`, check: user("u1")},
			{name: "no email", claims: `{"sub":"u1"}`, check: user("u1")},
		})
	})
}

func TestUserAllowedRoles(t *testing.T) {
	s := world(t)
	mk := func(paths ...string) *events.JWTSettings {
		return settings(func(s *events.JWTSettings) {
			s.Auth.EnforceRBAC = true // a token without a role is refused
			s.Auth.UserRolesJWTField = paths
			s.Auth.UserAllowedRoles = []string{"litellm-user", "dev"}
		})
	}
	isUser := all(role(events.RoleInternalUser), admin(false), team(""))
	t.Run("one path", func(t *testing.T) {
		runRows(t, s, mk("roles"), nil, []row{
			{name: "allowed role", claims: `{"roles":["litellm-user"]}`, model: "gpt-4o", check: isUser},
			{name: "any of", claims: `{"roles":["other","dev"]}`, check: isUser},
			{name: "CSV string", claims: `{"roles":"other, dev"}`, check: isUser},
			{name: "single string", claims: `{"roles":"dev"}`, check: isUser},
			{name: "case-sensitive", claims: `{"roles":["LITELLM-USER"]}`, want: apierror.Forbidden, msg: "Unmatched token"},
			{name: "no allowed role", claims: `{"roles":["other"]}`, want: apierror.Forbidden},
			{name: "no claim", claims: `{}`, want: apierror.Forbidden},
		})
	})
	t.Run("several paths", func(t *testing.T) {
		runRows(t, s, mk("realm_access.roles", "groups"), nil, []row{
			{name: "nested path", claims: `{"realm_access":{"roles":["dev"]}}`, check: isUser},
			{name: "second path", claims: `{"groups":["litellm-user"]}`, check: isUser},
			{name: "unconfigured path", claims: `{"roles":["dev"]}`, want: apierror.Forbidden},
		})
	})
}

func TestRolesJWTField(t *testing.T) {
	s := world(t)
	set := settings(func(s *events.JWTSettings) {
		s.Auth.EnforceRBAC = true
		s.Auth.RolesJWTField = events.ClaimPaths{"roles", "realm_access.roles", `resource_access.litellm\.client.roles`}
		s.Auth.RoleMappings = []events.RoleMapping{
			{Role: "lt-team", InternalRole: events.RoleTeam},
			{Role: "lt-user", InternalRole: events.RoleInternalUser},
		}
	})
	runRows(t, s, set, nil, []row{
		{name: "first path", claims: `{"roles":["lt-user"]}`, check: role(events.RoleInternalUser)},
		{name: "nested path", claims: `{"realm_access":{"roles":["lt-team"]}}`, check: role(events.RoleTeam)},
		{name: "escaped path", claims: `{"resource_access":{"litellm.client":{"roles":["lt-user"]}}}`, check: role(events.RoleInternalUser)},
		{name: "union across paths", claims: `{"roles":["x"],"realm_access":{"roles":["lt-team"]}}`, check: role(events.RoleTeam)},
		{name: "CSV string", claims: `{"roles":"x, lt-team"}`, check: role(events.RoleTeam)},
		{name: "stringified list", claims: `{"roles":"[\"lt-user\"]"}`, check: role(events.RoleInternalUser)},
		{name: "unconfigured claim", claims: `{"groups":["lt-user"]}`, want: apierror.Forbidden, msg: "Unmatched token"},
		{name: "escaped path is one key", claims: `{"resource_access":{"litellm":{"client":{"roles":["lt-user"]}}}}`, want: apierror.Forbidden},
		{name: "no roles", claims: `{}`, want: apierror.Forbidden},
	})
}

func TestRoleMappings(t *testing.T) {
	s := world(t)
	set := settings(func(s *events.JWTSettings) {
		s.Auth.EnforceRBAC = true
		s.Auth.TeamIDJWTField = "team"
		s.Auth.RolesJWTField = events.ClaimPaths{"roles"}
		s.Auth.RoleMappings = []events.RoleMapping{
			{Role: "a", InternalRole: events.RoleInternalUser},
			{Role: "b", InternalRole: events.RoleTeam},
			{Role: "admins", InternalRole: events.RoleProxyAdmin},
		}
	})
	runRows(t, s, set, nil, []row{
		{name: "config order, not claim order", claims: `{"roles":["b","a"]}`, check: role(events.RoleInternalUser)},
		{name: "config order with admin", claims: `{"roles":["admins","a"]}`, route: "/team/new",
			check: all(role(events.RoleInternalUser), admin(false))},
		{name: "team mapping", claims: `{"roles":["b"]}`, check: all(role(events.RoleTeam), team(""))},
		{name: "proxy_admin mapping: admin routes", claims: `{"roles":["admins"]}`, route: "/team/new",
			check: all(role(events.RoleProxyAdmin), admin(true))},
		{name: "proxy_admin mapping: admin routes only", claims: `{"roles":["admins"]}`, route: chatRoute, model: "gpt-4o",
			want: apierror.Unauthenticated, msg: "Admin not allowed to access this route"},
		{name: "exact match", claims: `{"roles":["A"]}`, want: apierror.Forbidden, msg: "Unmatched token"},
		{name: "unmapped roles", claims: `{"roles":["c"]}`, want: apierror.Forbidden},
		// get_rbac_role: a team id beats the role mappings.
		{name: "team id beats mappings", claims: `{"team":"t-open","roles":["admins"]}`, route: "/team/new",
			want: apierror.Forbidden, msg: "Team=t-open not allowed to access this route"},
		{name: "admin scope beats mappings", claims: `{"scope":"litellm_proxy_admin","roles":["a"]}`, route: "/team/new",
			check: all(role(events.RoleProxyAdmin), admin(true))},
	})
}

func TestObjectIDJWTField(t *testing.T) {
	s := world(t)
	set := settings(func(s *events.JWTSettings) {
		s.Auth.ObjectIDJWTField = "oid"
		s.Auth.RolesJWTField = events.ClaimPaths{"roles"}
		s.Auth.RoleMappings = []events.RoleMapping{
			{Role: "svc", InternalRole: events.RoleTeam},
			{Role: "person", InternalRole: events.RoleInternalUser},
		}
	})
	runRows(t, s, set, nil, []row{
		{name: "team role: object id is the team", claims: `{"roles":["svc"],"oid":"t-gpt4o"}`, model: "gpt-4o",
			check: all(role(events.RoleTeam), team("t-gpt4o"), user(""), teamIDs("t-gpt4o"))},
		{name: "team role: team models", claims: `{"roles":["svc"],"oid":"t-gpt4o"}`, model: "claude-3", want: apierror.TeamModelDenied},
		{name: "team role: team not in db", claims: `{"roles":["svc"],"oid":"t-nope"}`, want: apierror.NotFound, msg: "Team=t-nope"},
		{name: "team role: blocked team", claims: `{"roles":["svc"],"oid":"t-blocked"}`, want: apierror.TeamBlocked},
		{name: "user role: object id is the user", claims: `{"roles":["person"],"oid":"u1"}`, model: "gpt-4o",
			check: all(role(events.RoleInternalUser), user("u1"), dbUser("u1"), team(""))},
		{name: "user role: user models", claims: `{"roles":["person"],"oid":"u-limited"}`, model: "gpt-4o", want: apierror.UserModelDenied},
		{name: "no role: object id ignored", claims: `{"oid":"u1"}`, check: all(role(""), user(""), team(""))},
		{name: "team role without object id", claims: `{"roles":["svc"]}`, check: all(role(events.RoleTeam), team(""))},
	})
}

func TestCustomValidate(t *testing.T) {
	s := world(t)
	compile := func(expr string) (cel.Program, *events.JWTSettings) {
		t.Helper()
		prog, err := celrule.Compile(expr)
		if err != nil {
			t.Fatalf("compile %q: %v", expr, err)
		}
		return prog, settings(func(s *events.JWTSettings) {
			s.Auth.CustomValidate = expr
			s.Auth.UserIDJWTField = "sub"
		})
	}
	valid := func(want bool, wantErr bool) check {
		return func(t *testing.T, id *Identity, _ Decision) {
			t.Helper()
			if id.Valid != want || (id.ValidateErr != nil) != wantErr {
				t.Errorf("Valid = %v, ValidateErr = %v; want %v, error %v", id.Valid, id.ValidateErr, want, wantErr)
			}
		}
	}
	t.Run("membership", func(t *testing.T) {
		prog, set := compile(`claims.tenant_id in ["acme"]`)
		runRows(t, s, set, prog, []row{
			{name: "true", claims: `{"sub":"u1","tenant_id":"acme"}`, model: "gpt-4o", check: all(user("u1"), valid(true, false))},
			{name: "false", claims: `{"sub":"u1","tenant_id":"evil"}`, want: apierror.Forbidden, msg: "Invalid JWT token"},
			{name: "false for another type", claims: `{"sub":"u1","tenant_id":5}`, want: apierror.Forbidden, msg: "Invalid JWT token"},
			{name: "missing claim is an evaluation error", claims: `{"sub":"u1"}`, want: apierror.Unauthenticated,
				msg: "Authentication Error, custom_validate failed"},
			{name: "runs before the admin short-circuit", claims: `{"scope":"litellm_proxy_admin","tenant_id":"evil"}`, route: "/team/new",
				want: apierror.Forbidden, msg: "Invalid JWT token"},
			{name: "admin passing it", claims: `{"scope":"litellm_proxy_admin","tenant_id":"acme"}`, route: "/team/new", check: admin(true)},
		})
	})
	t.Run("guarded", func(t *testing.T) {
		prog, set := compile(`has(claims.tenant_id) && claims.tenant_id == "acme"`)
		runRows(t, s, set, prog, []row{
			{name: "true", claims: `{"sub":"u1","tenant_id":"acme"}`, check: valid(true, false)},
			{name: "missing claim is false", claims: `{"sub":"u1"}`, want: apierror.Forbidden, msg: "Invalid JWT token"},
		})
	})
	t.Run("nested and numeric", func(t *testing.T) {
		prog, set := compile(`claims.org.tier >= 2.0 && "admins" in claims.groups`)
		runRows(t, s, set, prog, []row{
			{name: "true", claims: `{"sub":"u1","org":{"tier":3},"groups":["x","admins"]}`, check: user("u1")},
			{name: "number too small", claims: `{"sub":"u1","org":{"tier":1},"groups":["admins"]}`, want: apierror.Forbidden},
			{name: "not in list", claims: `{"sub":"u1","org":{"tier":3},"groups":["x"]}`, want: apierror.Forbidden},
			{name: "wrong shape is an evaluation error", claims: `{"sub":"u1","org":"flat","groups":["admins"]}`, want: apierror.Unauthenticated},
		})
	})
	t.Run("none configured", func(t *testing.T) {
		runRows(t, s, settings(func(s *events.JWTSettings) { s.Auth.UserIDJWTField = "sub" }), nil, []row{
			{name: "valid", claims: `{"sub":"u1"}`, check: valid(true, false)},
			{name: "other checks still apply", claims: `{"sub":"u-nope"}`, want: apierror.Unauthenticated},
		})
	})
}

// TestIssuers: litellm_jwtauth.issuers[] overrides the claim mapping for
// tokens whose iss matches exactly, and only for those.
func TestIssuers(t *testing.T) {
	s := world(t)
	set := settings(func(s *events.JWTSettings) {
		s.Auth.TeamIDJWTField = "team"
		s.Auth.Issuers = []events.IssuerConfig{
			{Issuer: "https://idp-a.example", Audience: "gh", TeamIDJWTField: "sub"},
			{Issuer: "https://idp-b.example", Audience: "gh", UserIDJWTField: "sub", TeamIDsJWTField: events.ClaimPaths{"grp"},
				EndUserIDJWTField: "cust", UserEmailJWTField: "mail", OrgIDJWTField: "tenant"},
		}
	})
	endUser := func(want string) check {
		return func(t *testing.T, _ *Identity, d Decision) {
			t.Helper()
			if d.EndUserID != want {
				t.Errorf("end user = %q, want %q", d.EndUserID, want)
			}
		}
	}
	runRows(t, s, set, nil, []row{
		{name: "issuer A: team from sub", claims: `{"iss":"https://idp-a.example","sub":"t-gpt4o"}`, model: "gpt-4o",
			check: all(team("t-gpt4o"), role(events.RoleTeam))},
		{name: "issuer A: override beats the global claim", claims: `{"iss":"https://idp-a.example","sub":"t-gpt4o","team":"t-open"}`, model: "gpt-4o",
			check: team("t-gpt4o")},
		{name: "issuer A: team models", claims: `{"iss":"https://idp-a.example","sub":"t-gpt4o","team":"t-open"}`, model: "claude-3",
			want: apierror.TeamModelDenied, msg: "Team=t-gpt4o"},
		{name: "issuer A: team not in db", claims: `{"iss":"https://idp-a.example","sub":"t-nope"}`, want: apierror.NotFound},
		{name: "other issuer: global mapping", claims: `{"iss":"https://other.example","sub":"t-gpt4o","team":"t-open"}`, model: "claude-3",
			check: team("t-open")},
		{name: "no iss: global mapping", claims: `{"sub":"t-gpt4o","team":"t-open"}`, model: "claude-3", check: team("t-open")},
		{name: "iss must match exactly (trailing slash)", claims: `{"iss":"https://idp-a.example/","sub":"t-gpt4o","team":"t-open"}`, model: "claude-3",
			check: team("t-open")},
		{name: "iss must match exactly (case)", claims: `{"iss":"HTTPS://IDP-A.EXAMPLE","sub":"t-nope","team":"t-open"}`, check: team("t-open")},
		{name: "other issuer: global team not in db", claims: `{"iss":"https://other.example","sub":"t-gpt4o","team":"t-nope"}`,
			want: apierror.NotFound, msg: "Team=t-nope"},
		{name: "issuer B: user from sub", claims: `{"iss":"https://idp-b.example","sub":"u1"}`, model: "gpt-4o",
			check: all(user("u1"), dbUser("u1"), role(events.RoleInternalUser), team(""))},
		{name: "issuer B: user models", claims: `{"iss":"https://idp-b.example","sub":"u-limited"}`, model: "gpt-4o", want: apierror.UserModelDenied},
		{name: "issuer B: email field", claims: `{"iss":"https://idp-b.example","sub":"sso-1","mail":"bob@corp.com"}`, check: user("legacy-uuid")},
		{name: "issuer B: org field", claims: `{"iss":"https://idp-b.example","sub":"u1","tenant":"org-x"}`, want: apierror.Unauthenticated,
			msg: "Organization doesn't exist in db"},
		{name: "issuer B: global team field still applies", claims: `{"iss":"https://idp-b.example","sub":"u1","team":"t-open"}`,
			check: all(team("t-open"), user("u1"))},
		{name: "issuer B: groups", claims: `{"iss":"https://idp-b.example","grp":["t-claude","t-gpt4o"]}`, model: "gpt-4o",
			check: all(team("t-gpt4o"), teamIDs("t-claude", "t-gpt4o"))},
		{name: "issuer B: groups without the model", claims: `{"iss":"https://idp-b.example","grp":["t-claude"]}`, model: "gpt-4o",
			want: apierror.TeamModelDenied},
		{name: "issuer B: end user", claims: `{"iss":"https://idp-b.example","sub":"u1","cust":"c-1"}`, check: endUser("c-1")},
		// Had issuer B's grp field applied, the token would name a team.
		{name: "other issuer: issuer B's fields unused", claims: `{"iss":"https://other.example","sub":"u-nope","grp":["t-claude"],"cust":"c-1"}`,
			model: "gpt-4o", want: apierror.Unauthenticated, msg: "No team found in token"},
	})
}
