package jwtauth

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// aliasWorld extends world with aliases, orgs and users with stored teams.
func aliasWorld(t testing.TB) *policy.Snapshot {
	t.Helper()
	return build(t,
		dep("gpt-4o", "openai/gpt-4o"),
		dep("gpt-4", "openai/gpt-4"),
		&events.Team{TeamID: "t-ml", TeamAlias: "ml", Models: []string{"gpt-4o"}},
		&events.Team{TeamID: "t-dup1", TeamAlias: "dup"},
		&events.Team{TeamID: "t-dup2", TeamAlias: "dup"},
		&events.Team{TeamID: "t-home", Models: []string{"gpt-4"}},
		&events.Team{TeamID: "t-a"},
		&events.Team{TeamID: "t-b", MembersWithRoles: []events.Member{{UserID: "u-two", Role: "user"}}},
		&events.Org{OrganizationID: "org-1", OrganizationAlias: "acme"},
		&events.Org{OrganizationID: "org-2", OrganizationAlias: "twin"},
		&events.Org{OrganizationID: "org-3", OrganizationAlias: "twin"},
		&events.User{UserID: "u-one", Teams: []string{"t-home"}, UserRole: "internal_user"},
		&events.User{UserID: "u-two", Teams: []string{"t-a", "t-b"}, UserRole: "internal_user"},
		&events.User{UserID: "u-admin", UserRole: "proxy_admin"},
	)
}

func TestTeamAliasJWTField(t *testing.T) {
	set := settings(func(s *events.JWTSettings) {
		s.Auth.TeamIDJWTField = "team_id"
		s.Auth.TeamAliasJWTField = "team_alias"
	})
	runRows(t, aliasWorld(t), set, nil, []row{
		{name: "alias resolves", claims: `{"team_alias":"ml"}`, model: "gpt-4o", check: all(team("t-ml"), routed)},
		{name: "resolved team's models apply", claims: `{"team_alias":"ml"}`, model: "gpt-4", want: apierror.TeamModelDenied},
		{name: "id wins over alias", claims: `{"team_id":"t-home","team_alias":"ml"}`, model: "gpt-4", check: team("t-home")},
		{name: "no team with the alias: 404", claims: `{"team_alias":"nope"}`, want: apierror.NotFound, msg: "Team alias=nope"},
		{name: "several teams with the alias: 400", claims: `{"team_alias":"dup"}`, want: apierror.BadRequest, msg: "Multiple teams found with alias dup: ['t-dup1', 't-dup2']"},
		{name: "neither claim", claims: `{}`, want: apierror.Unauthenticated, msg: "Checked team_id field 'team_id' and team_alias field 'team_alias'"},
	})
}

func TestOrgAliasJWTField(t *testing.T) {
	set := settings(func(s *events.JWTSettings) {
		s.Auth.UserIDJWTField = "sub"
		s.Auth.UserIDUpsert = true
		s.Auth.OrgIDJWTField = "org_id"
		s.Auth.OrgAliasJWTField = "org_alias"
	})
	org := func(want string) check {
		return func(t *testing.T, _ *Identity, d Decision) {
			t.Helper()
			if d.OrgID != want {
				t.Errorf("org = %q, want %q", d.OrgID, want)
			}
		}
	}
	runRows(t, aliasWorld(t), set, nil, []row{
		{name: "alias resolves", claims: `{"sub":"u-one","org_alias":"acme"}`, check: org("org-1")},
		{name: "id wins", claims: `{"sub":"u-one","org_id":"org-2","org_alias":"acme"}`, check: org("org-2")},
		{name: "no such org", claims: `{"sub":"u-one","org_alias":"nope"}`, want: apierror.Unauthenticated, msg: "Organization doesn't exist in db. Organization alias=nope"},
		{name: "ambiguous", claims: `{"sub":"u-one","org_alias":"twin"}`, want: apierror.BadRequest, msg: "Multiple organizations found with alias twin"},
	})
}

func TestTeamClaimFallback(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		set := settings(func(s *events.JWTSettings) {
			s.Auth.UserIDJWTField = "sub"
			s.Auth.TeamIDJWTField = "team_id"
			s.Auth.TeamIDsJWTField = events.ClaimPaths{"groups"}
			s.Auth.TeamAliasJWTField = "team_alias"
			s.Auth.TeamClaimFallback = fallback
		})
		rows := []row{
			{name: "existing team is used as is", claims: `{"sub":"u-one","team_id":"t-ml"}`, model: "gpt-4o", check: team("t-ml")},
			{name: "user with several teams: no fallback", claims: `{"sub":"u-two","team_id":"gone"}`, want: apierror.NotFound},
			{name: "no claim at all: not a fallback case", claims: `{"sub":"u-one"}`, model: "gpt-4o", check: team("")},
		}
		if fallback {
			rows = append(rows,
				row{name: "team id names no team", claims: `{"sub":"u-one","team_id":"gone"}`, model: "gpt-4", check: team("t-home")},
				row{name: "fallback team's models apply", claims: `{"sub":"u-one","team_id":"gone"}`, model: "gpt-4o", want: apierror.TeamModelDenied},
				row{name: "alias names no team", claims: `{"sub":"u-one","team_alias":"nope"}`, model: "gpt-4", check: team("t-home")},
				row{name: "groups name no team", claims: `{"sub":"u-one","groups":["gone1","gone2"]}`, model: "gpt-4", check: team("t-home")},
			)
		} else {
			rows = append(rows,
				row{name: "team id names no team", claims: `{"sub":"u-one","team_id":"gone"}`, model: "gpt-4", want: apierror.NotFound},
				row{name: "alias names no team", claims: `{"sub":"u-one","team_alias":"nope"}`, want: apierror.NotFound},
				row{name: "groups name no team", claims: `{"sub":"u-one","groups":["gone1"]}`, model: "gpt-4", want: apierror.TeamModelDenied},
			)
		}
		name := "off"
		if fallback {
			name = "on"
		}
		t.Run(name, func(t *testing.T) { runRows(t, aliasWorld(t), set, nil, rows) })
	}
}

func TestJWTLiteLLMRoleMapAndSync(t *testing.T) {
	roleMap := []events.JWTLiteLLMRoleMap{
		{JWTRole: "gh-admin-*", LiteLLMRole: "proxy_admin"},
		{JWTRole: "dev?", LiteLLMRole: "internal_user_viewer"},
		{JWTRole: "[ab]-user", LiteLLMRole: "internal_user"},
	}
	for _, tc := range []struct {
		roles []string
		want  string
	}{
		{[]string{"gh-admin-prod"}, "proxy_admin"},
		{[]string{"dev1"}, "internal_user_viewer"},
		{[]string{"dev12"}, ""},
		{[]string{"b-user", "gh-admin-x"}, "proxy_admin"}, // mapping order wins, not token order
		{[]string{"c-user"}, ""},
		{nil, ""},
	} {
		if got := mapUserRole(roleMap, tc.roles); got != tc.want {
			t.Errorf("mapUserRole(%v) = %q, want %q", tc.roles, got, tc.want)
		}
	}

	set := settings(func(s *events.JWTSettings) {
		s.Auth.UserIDJWTField = "sub"
		s.Auth.UserIDUpsert = true
		s.Auth.RolesJWTField = events.ClaimPaths{"roles"}
		s.Auth.TeamIDsJWTField = events.ClaimPaths{"groups"}
		s.Auth.JWTLiteLLMRoleMap = roleMap
		s.Auth.SyncUserRoleAndTeams = true
	})
	runRows(t, aliasWorld(t), set, nil, []row{
		{name: "role set, team added, stale team removed", claims: `{"sub":"u-one","roles":["dev1"],"groups":["t-a"]}`, route: "/key/info",
			check: upserts(
				events.UpsertRequest{Kind: events.UpsertUserRole, UserID: "u-one", UserRole: "internal_user_viewer"},
				events.UpsertRequest{Kind: events.UpsertTeamMember, UserID: "u-one", TeamID: "t-a"},
				events.UpsertRequest{Kind: events.UpsertTeamMemberRemove, UserID: "u-one", TeamID: "t-home"})},
		{name: "in sync: nothing to do", claims: `{"sub":"u-two","roles":["a-user"],"groups":["t-a","t-b"]}`, route: "/key/info",
			check: upserts(events.UpsertRequest{Kind: events.UpsertTeamMember, UserID: "u-two", TeamID: "t-a"})},
		{name: "mapped proxy_admin is admin at once", claims: `{"sub":"u-one","roles":["gh-admin-prod"]}`, route: "/key/generate",
			check: func(t *testing.T, _ *Identity, d Decision) {
				if !d.Admin {
					t.Error("not admin")
				}
			}},
		{name: "new user gets the mapped role", claims: `{"sub":"u-new","roles":["dev1"]}`, route: "/key/info",
			check: upserts(upUser("u-new", ""), events.UpsertRequest{Kind: events.UpsertUserRole, UserID: "u-new", UserRole: "internal_user_viewer"})},
	})

	// Without sync the map changes nothing.
	off := settings(func(s *events.JWTSettings) {
		s.Auth.UserIDJWTField = "sub"
		s.Auth.RolesJWTField = events.ClaimPaths{"roles"}
		s.Auth.JWTLiteLLMRoleMap = roleMap
	})
	runRows(t, aliasWorld(t), off, nil, []row{
		{name: "no sync: no upserts, no admin", claims: `{"sub":"u-one","roles":["gh-admin-prod"]}`, route: "/key/generate", check: upserts()},
	})
}

func TestUsesUserinfo(t *testing.T) {
	on := settings(func(s *events.JWTSettings) {
		s.Auth.OIDCUserinfoEnabled, s.Auth.OIDCUserinfoEndpoint = true, "https://idp.example.com/userinfo"
	})
	off := settings(nil)
	disabled := settings(func(s *events.JWTSettings) { s.Auth.OIDCUserinfoEnabled = true })
	disabled.Enabled = false
	for _, tc := range []struct {
		s    *events.JWTSettings
		cred string
		want bool
	}{
		{on, "opaque-access-token", true},
		{on, "a.b.c", false},          // JWT-shaped: verified locally
		{on, "sk-virtual-key", false}, // virtual key
		{on, "", false},
		{off, "opaque-access-token", false},
		{disabled, "opaque-access-token", false},
		{nil, "opaque-access-token", false},
	} {
		if got := UsesUserinfo(tc.s, tc.cred); got != tc.want {
			t.Errorf("UsesUserinfo(%q) = %v, want %v", tc.cred, got, tc.want)
		}
	}
}

func TestIndexedClaimPathHint(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"roles.0", "Use 'roles' instead"},
		{"roles[0]", "Use 'roles' instead"},
		{"realm_access.roles.1", "Use 'realm_access.roles' instead"},
		{"team_id", ""},
		{"groups", ""},
	} {
		got := indexHint(tc.path)
		if (tc.want == "") != (got == "") || (tc.want != "" && !strings.Contains(got, tc.want)) {
			t.Errorf("indexHint(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
	set := settings(func(s *events.JWTSettings) { s.Auth.TeamIDJWTField = "roles.0" })
	runRows(t, aliasWorld(t), set, nil, []row{
		{name: "indexed team path", claims: `{"roles":["t-home"]}`, want: apierror.Unauthenticated, msg: "Hint: dot-notation array indexing ('roles.0') is not supported. Use 'roles' instead"},
	})
}

func TestTeamHeaderAcceptsAnAllowedTeamsAlias(t *testing.T) {
	set := settings(func(s *events.JWTSettings) { s.Auth.TeamIDsJWTField = events.ClaimPaths{"groups"} })
	runRows(t, aliasWorld(t), set, nil, []row{
		{name: "alias of an allowed team", claims: `{"groups":["t-home","t-ml"]}`, header: "ml", model: "gpt-4o", check: team("t-ml")},
		{name: "id still works", claims: `{"groups":["t-home","t-ml"]}`, header: "t-home", model: "gpt-4", check: team("t-home")},
		{name: "alias of a team the token lacks", claims: `{"groups":["t-home"]}`, header: "ml", want: apierror.Forbidden,
			msg: "x-litellm-team-id 'ml' does not resolve to a team id or a unique team alias in your JWT's allowed teams. Allowed team ids: ['t-home']"},
		{name: "alias not unique among allowed teams", claims: `{"groups":["t-dup2","t-dup1"]}`, header: "dup", want: apierror.Forbidden,
			msg: "Allowed team ids: ['t-dup1', 't-dup2']"},
	})
}

func TestFallbackToDBTeams(t *testing.T) {
	for _, on := range []bool{false, true} {
		set := settings(func(s *events.JWTSettings) {
			s.Auth.UserIDJWTField = "sub"
			s.Auth.TeamIDsJWTField = events.ClaimPaths{"groups"}
			s.Auth.FallbackToDBTeams = on
		})
		var rows []row
		if on {
			rows = []row{
				{name: "no team claim: the user's stored teams", claims: `{"sub":"u-two"}`, model: "gpt-4o", check: team("t-a")},
				{name: "header checked against stored teams", claims: `{"sub":"u-two"}`, header: "t-b", model: "gpt-4o", check: team("t-b")},
				{name: "header outside stored teams", claims: `{"sub":"u-two"}`, header: "t-ml", want: apierror.Forbidden},
				// LiteLLM 2026: without enforce_team_based_model_access the
				// fallback settles on no team; the user's models decide.
				{name: "stored team lacking the model: no team", claims: `{"sub":"u-one"}`, model: "gpt-4o", check: all(team(""), user("u-one"))},
				{name: "a team claim wins over stored teams", claims: `{"sub":"u-two","groups":["t-ml"]}`, model: "gpt-4o", check: team("t-ml")},
			}
		} else {
			rows = []row{
				{name: "no team claim: no team", claims: `{"sub":"u-two"}`, model: "gpt-4o", check: team("")},
				{name: "header refused", claims: `{"sub":"u-two"}`, header: "t-b", want: apierror.Forbidden},
			}
		}
		t.Run(map[bool]string{false: "off", true: "on"}[on], func(t *testing.T) { runRows(t, aliasWorld(t), set, nil, rows) })
	}
}
