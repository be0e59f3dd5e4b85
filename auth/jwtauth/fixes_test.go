package jwtauth

import (
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

// TestUserMustExistWhateverFieldNamedIt: a user id from object_id_jwt_field
// or an issuer's mapping must exist (or be upserted) like one from the
// global user_id_jwt_field; otherwise a user missing from the DB would pass
// with no model limits.
func TestUserMustExistWhateverFieldNamedIt(t *testing.T) {
	s := world(t)
	objectID := settings(func(st *events.JWTSettings) {
		st.Auth.TeamIDJWTField = ""
		st.Auth.ObjectIDJWTField = "oid"
		st.Auth.RolesJWTField = events.ClaimPaths{"roles"}
		st.Auth.RoleMappings = []events.RoleMapping{{Role: "dev", InternalRole: events.RoleInternalUser}}
	})
	runRows(t, s, objectID, nil, []row{
		{name: "object id names a missing user", claims: `{"oid":"ghost","roles":["dev"]}`, model: "gpt-4o",
			want: apierror.Unauthenticated, msg: "User doesn't exist in db. 'user_id'=ghost"},
		{name: "object id names a known user", claims: `{"oid":"u-limited","roles":["dev"]}`, model: "gpt-4",
			check: user("u-limited")},
		{name: "known user keeps its model limits", claims: `{"oid":"u-limited","roles":["dev"]}`, model: "gpt-4o",
			want: apierror.UserModelDenied},
	})
	issuerUser := settings(func(st *events.JWTSettings) {
		st.Auth.TeamIDJWTField = ""
		st.Auth.Issuers = []events.IssuerConfig{{Issuer: "https://idp-c.example", Audience: "x", UserIDJWTField: "uid"}}
	})
	runRows(t, s, issuerUser, nil, []row{
		{name: "issuer's user field names a missing user", claims: `{"iss":"https://idp-c.example","uid":"ghost"}`, model: "gpt-4o",
			want: apierror.Unauthenticated, msg: "User doesn't exist in db"},
	})
}

// TestUpsertRespectsEmailDomain: user_id_upsert creates only users admitted
// by user_allowed_email_domain (LiteLLM: upsert and valid_user_email).
func TestUpsertRespectsEmailDomain(t *testing.T) {
	s := world(t)
	set := settings(func(st *events.JWTSettings) {
		st.Auth.UserIDJWTField = "sub"
		st.Auth.UserEmailJWTField = "email"
		st.Auth.UserAllowedEmailDomain = "my-co.com"
		st.Auth.UserIDUpsert = true
		st.Auth.TeamIDJWTField = "team"
	})
	runRows(t, s, set, nil, []row{
		{name: "team token with a new user and no email is refused, not upserted", claims: `{"sub":"new-user","team":"t-open"}`, model: "gpt-4o",
			want: apierror.Forbidden, msg: "user email domain not allowed"},
		{name: "admitted domain is upserted", claims: `{"sub":"new-user","email":"new@my-co.com"}`, model: "gpt-4o",
			check: upserts(events.UpsertRequest{Kind: events.UpsertUser, UserID: "new-user", UserEmail: "new@my-co.com"})},
	})
}

// TestMissingEmailIsRefused is the audit's repro (finding 2): with
// user_allowed_email_domain set, a token without an email claim that names
// nothing else was admitted as an anonymous caller. Reference §1: "Missing
// email claim counts as invalid"; LiteLLM 2026 refuses it with 403.
func TestMissingEmailIsRefused(t *testing.T) {
	s := world(t)
	set := settings(func(st *events.JWTSettings) {
		st.Auth.TeamIDJWTField = ""
		st.Auth.UserEmailJWTField = "email"
		st.Auth.UserAllowedEmailDomain = "my-co.com"
		st.Auth.UserIDUpsert = true
	})
	const denied = "user email domain not allowed. Allowed domain: my-co.com"
	runRows(t, s, set, nil, []row{
		{name: "no email, chat", claims: `{"sub":"anyone"}`, model: "gpt-4o", want: apierror.Forbidden, msg: denied},
		{name: "no email, model list", claims: `{"sub":"anyone"}`, route: "/v1/models", want: apierror.Forbidden, msg: denied},
		{name: "empty email", claims: `{"sub":"anyone","email":""}`, model: "gpt-4o", want: apierror.Forbidden, msg: denied},
		{name: "other domain", claims: `{"email":"dave@evil.com"}`, model: "gpt-4o", want: apierror.Forbidden, msg: denied},
		{name: "the domain", claims: `{"email":"dave@my-co.com"}`, model: "gpt-4o",
			check: upserts(events.UpsertRequest{Kind: events.UpsertUser, UserID: "dave@my-co.com", UserEmail: "dave@my-co.com"})},
	})
}

// TestCommonChecksOrder: LiteLLM's common_checks run the team's block, then
// the team's (or, teamless, the user's) models, and only then the budgets,
// so a request wrong in several ways gets the same refusal on the JWT path
// as with a virtual key of the same team (policy.CheckKey's order).
func TestCommonChecksOrder(t *testing.T) {
	s := build(t,
		dep("gpt-4o", "openai/gpt-4o"),
		dep("claude-3", "anthropic/claude-3"),
		&events.Team{TeamID: "t-broke-blocked", Blocked: true, BudgetFlag: events.BudgetFlag{BudgetExceeded: true}},
		&events.Team{TeamID: "t-broke-gpt4o", BudgetFlag: events.BudgetFlag{BudgetExceeded: true}, Models: []string{"gpt-4o"}},
		&events.Team{TeamID: "t-open"},
		&events.User{UserID: "u-broke-limited", BudgetFlag: events.BudgetFlag{BudgetExceeded: true}, Models: []string{"gpt-4o"}},
		&events.User{UserID: "u-broke", BudgetFlag: events.BudgetFlag{BudgetExceeded: true}},
	)
	set := settings(func(st *events.JWTSettings) {
		st.Auth.TeamIDJWTField = "team"
		st.Auth.UserIDJWTField = "sub"
	})
	runRows(t, s, set, nil, []row{
		{name: "blocked beats the team's budget", claims: `{"team":"t-broke-blocked"}`, model: "gpt-4o",
			want: apierror.TeamBlocked, msg: "Team=t-broke-blocked is blocked"},
		{name: "team model beats the team's budget", claims: `{"team":"t-broke-gpt4o"}`, model: "claude-3",
			want: apierror.TeamModelDenied, msg: "Team not allowed to access model. Team=t-broke-gpt4o, Model=claude-3"},
		{name: "team model beats the user's budget", claims: `{"team":"t-broke-gpt4o","sub":"u-broke"}`, model: "claude-3",
			want: apierror.TeamModelDenied},
		{name: "user model beats the user's budget", claims: `{"sub":"u-broke-limited"}`, model: "claude-3",
			want: apierror.UserModelDenied, msg: "User not allowed to access model. User=u-broke-limited"},
		{name: "over budget, model allowed", claims: `{"team":"t-broke-gpt4o"}`, model: "gpt-4o",
			want: apierror.BudgetExceeded, msg: "Team=t-broke-gpt4o"},
		{name: "user over budget in an open team", claims: `{"team":"t-open","sub":"u-broke"}`, model: "gpt-4o",
			want: apierror.BudgetExceeded, msg: "User=u-broke"},
	})
}

// TestModelGroupAliasOnJWTPath: LiteLLM's _can_object_call_model tries the
// model and its model_group_alias target for teams, users and orgs alike,
// and find_team_with_model_access goes through the same check; a virtual
// key already passed this way (policy.CheckKey), a JWT did not.
func TestModelGroupAliasOnJWTPath(t *testing.T) {
	s := build(t,
		dep("gpt-4o", "openai/gpt-4o"),
		dep("claude-3", "anthropic/claude-3"),
		&events.RoutingSettings{ID: events.RoutingSettingsID, ModelGroupAlias: map[string]events.GroupAlias{"gpt-4": {Model: "gpt-4o"}}},
		&events.Org{OrganizationID: "org-gpt4o", Models: []string{"gpt-4o"}},
		&events.Team{TeamID: "t-gpt4o", Models: []string{"gpt-4o"}},
		&events.Team{TeamID: "t-claude", Models: []string{"claude-3"}},
		&events.Team{TeamID: "t-org", OrganizationID: "org-gpt4o"},
		&events.User{UserID: "u-gpt4o", Models: []string{"gpt-4o"}},
	)
	set := settings(func(st *events.JWTSettings) {
		st.Auth.TeamIDJWTField = "team"
		st.Auth.TeamIDsJWTField = events.ClaimPaths{"groups"}
		st.Auth.UserIDJWTField = "sub"
	})
	runRows(t, s, set, nil, []row{
		{name: "team allows the alias target", claims: `{"team":"t-gpt4o"}`, model: "gpt-4", check: all(team("t-gpt4o"), routed)},
		{name: "team without the alias target", claims: `{"team":"t-claude"}`, model: "gpt-4",
			want: apierror.TeamModelDenied, msg: "Team=t-claude, Model=gpt-4"},
		{name: "group selection follows the alias target", claims: `{"groups":["t-claude","t-gpt4o"]}`, model: "gpt-4", check: team("t-gpt4o")},
		{name: "user allows the alias target", claims: `{"sub":"u-gpt4o"}`, model: "gpt-4", check: all(user("u-gpt4o"), routed)},
		{name: "org allows the alias target", claims: `{"team":"t-org"}`, model: "gpt-4", check: team("t-org")},
		{name: "org without the model", claims: `{"team":"t-org"}`, model: "claude-3", want: apierror.OrgModelDenied},
	})
}

// A team's model_aliases (LiteLLM's team_model_aliases) on the JWT path:
// the alias goes to its target, which the team's models must allow, and
// group selection picks the team whose alias it is.
func TestTeamModelAliasesOnJWTPath(t *testing.T) {
	s := build(t,
		dep("gpt-4o", "openai/gpt-4o"),
		dep("claude-3", "anthropic/claude-3"),
		&events.Team{TeamID: "t-fast", Models: []string{"gpt-4o"}, ModelAliases: map[string]string{"fast": "gpt-4o", "smart": "claude-3"}},
		&events.Team{TeamID: "t-claude", Models: []string{"claude-3"}},
	)
	set := settings(func(st *events.JWTSettings) {
		st.Auth.TeamIDJWTField = "team"
		st.Auth.TeamIDsJWTField = events.ClaimPaths{"groups"}
	})
	runRows(t, s, set, nil, []row{
		{name: "alias to a team model", claims: `{"team":"t-fast"}`, model: "fast", check: all(team("t-fast"), routedTo("gpt-4o"))},
		{name: "alias target outside the team's models", claims: `{"team":"t-fast"}`, model: "smart", want: apierror.TeamModelDenied},
		{name: "another team's alias", claims: `{"team":"t-claude"}`, model: "fast", want: apierror.TeamModelDenied},
		{name: "group selection follows the alias", claims: `{"groups":["t-claude","t-fast"]}`, model: "fast", check: team("t-fast")},
	})
}
