package jwtauth

import (
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// LiteLLM's own JWT unit tests (tests/test_litellm/proxy/auth/
// test_handle_jwt.py), one row per case that decides something for a token
// with given claims and settings, named after the LiteLLM test. Cases about
// what gatehouse does not have are listed at the end of the file with why.

// ltWorld: the teams, users and orgs LiteLLM's cases mock.
func ltWorld(t testing.TB) *policy.Snapshot {
	t.Helper()
	return build(t,
		dep("gpt-4", "openai/gpt-4"),
		dep("gpt-4o", "openai/gpt-4o"),
		dep("gpt-4o-mini", "openai/gpt-4o-mini", "test-group"),
		dep("claude-sonnet-4-6", "anthropic/claude-sonnet-4-6", "coding_only_models"),
		&events.Team{TeamID: "team-1", Models: []string{"test-group"}},
		&events.Team{TeamID: "team-2"},
		&events.Team{TeamID: "team-low", TPMLimit: &tpm100},
		&events.Team{TeamID: "team-aliases", Models: []string{"gpt-4o"}, ModelAliases: map[string]string{"fast": "gpt-4o"}},
		&events.Team{TeamID: "coding-team", Models: []string{"coding_only_models"}},
		&events.Team{TeamID: "real-team", Models: []string{"gpt-4"}},
		&events.Team{TeamID: "resolved-team-id", TeamAlias: "my-team"},
		&events.Team{TeamID: "direct-team-id"},
		&events.Team{TeamID: "config_default_team"},
		&events.Team{TeamID: "team_a", TeamAlias: "alias_a"},
		&events.Team{TeamID: "team_b", TeamAlias: "alias_b"},
		&events.Team{TeamID: "team_member", TeamAlias: "alias_member", MembersWithRoles: []events.Member{{UserID: "u_member", Role: "user"}}},
		&events.Team{TeamID: "team_other", TeamAlias: "alias_other"},
		&events.Team{TeamID: "shared1", TeamAlias: "shared_alias"},
		&events.Team{TeamID: "shared2", TeamAlias: "shared_alias"},
		&events.Team{TeamID: "restricted_team", Models: []string{"claude-sonnet-4-6"}},
		&events.Team{TeamID: "allowed_team", Models: []string{"gpt-4"}},
		&events.Team{TeamID: "only_team", Models: []string{"gpt-4o"}},
		&events.Team{TeamID: "test_team_1", MembersWithRoles: []events.Member{{UserID: "test_user_1", Role: "user"}}},
		&events.Team{TeamID: "test_team_empty"},
		&events.Org{OrganizationID: "resolved-org-id", OrganizationAlias: "my-org"},
		&events.User{UserID: "test_user_1", UserRole: events.RoleInternalUser, Teams: []string{"test_team_1"}},
		&events.User{UserID: "admin_user", UserRole: events.RoleProxyAdmin},
		&events.User{UserID: "u_member", Teams: []string{"team_member"}},
		&events.User{UserID: "u_two", Teams: []string{"team_a", "team_b"}},
		&events.User{UserID: "u_none"},
		&events.User{UserID: "u_model_access", Teams: []string{"restricted_team", "allowed_team"}},
		&events.User{UserID: "u_no_model", Teams: []string{"only_team"}},
		&events.User{UserID: "u_default_token", Teams: []string{"team_b"}},
		&events.User{UserID: "bb8ab11f-09aa-47ae-b063-6e80506ac3bc", UserEmail: "matt@example.com"},
	)
}

var tpm100 = int64(100)

func mapped(want string) check {
	return is("jwt_litellm_role_map role", func(id *Identity, _ Decision) string { return id.MappedUserRole }, want)
}

// decidedAdmin: an admin by its stored user, not by the token.
func decidedAdmin(t *testing.T, _ *Identity, d Decision) {
	t.Helper()
	if !d.Admin {
		t.Errorf("decision is not admin")
	}
}

func org(want string) check {
	return is("org id", func(_ *Identity, d Decision) string { return d.OrgID }, want)
}

func endUser(want string) check {
	return is("end user id", func(_ *Identity, d Decision) string { return d.EndUserID }, want)
}

func TestLiteLLMHandleJWTCases(t *testing.T) {
	s := ltWorld(t)
	sub := func(mut func(a *events.JWTAuth)) *events.JWTSettings {
		return settings(func(st *events.JWTSettings) {
			st.Auth.UserIDJWTField = "sub"
			if mut != nil {
				mut(&st.Auth)
			}
		})
	}
	const adm = `"scope":"litellm_proxy_admin"`

	t.Run("admin and user objects", func(t *testing.T) {
		runRows(t, s, sub(nil), nil, []row{
			{name: "test_auth_builder_proxy_admin_user_role", claims: `{"sub":"admin_user"}`, model: "gpt-4",
				check: all(decidedAdmin, user("admin_user"), dbUser("admin_user"))},
			{name: "test_auth_builder_non_proxy_admin_user_role", claims: `{"sub":"test_user_1"}`, model: "gpt-4",
				check: all(admin(false), user("test_user_1"), dbUser("test_user_1"))},
			{name: "test_canonical_user_id_no_change_when_ids_match", claims: `{"sub":"test_user_1"}`, check: user("test_user_1")},
		})
		runRows(t, s, sub(func(a *events.JWTAuth) {
			a.UserIDJWTField, a.UserEmailJWTField, a.UserIDUpsert = "email", "email", true
		}), nil, []row{
			{name: "test_canonical_user_id_rebinds_to_legacy_uuid", claims: `{"email":"matt@example.com"}`,
				check: all(user("bb8ab11f-09aa-47ae-b063-6e80506ac3bc"), upserts())},
			{name: "test_canonical_user_id_returns_claim_when_no_user_object", claims: `{"email":"newcomer@example.com"}`,
				check: all(user("newcomer@example.com"), upserts(upUser("newcomer@example.com", "newcomer@example.com")))},
		})
		runRows(t, s, sub(func(a *events.JWTAuth) {
			a.UserEmailJWTField = "email"
			a.AdminAllowedRoutes = []string{"/chat/completions"}
		}), nil, []row{
			{name: "test_check_admin_access_result_includes_user_email", claims: `{"sub":"admin-user","email":"admin@example.com",` + adm + `}`,
				route: "/chat/completions", check: all(admin(true), email("admin@example.com"))},
		})
		// The admin scope short-circuits before get_objects: no upsert and
		// no email-domain check, whatever the email.
		domain := sub(func(a *events.JWTAuth) {
			a.UserIDUpsert, a.UserEmailJWTField, a.UserAllowedEmailDomain = true, "email", "allowed.example"
		})
		runRows(t, s, domain, nil, []row{
			{name: "test_scope_admin_admission_resolves_existing_user_without_provisioning/no email", claims: `{"sub":"new-admin",` + adm + `}`,
				route: "/user/info", check: all(admin(true), user("new-admin"), upserts())},
			{name: "test_scope_admin_admission_resolves_existing_user_without_provisioning/external email", claims: `{"sub":"new-admin","email":"admin@external.example",` + adm + `}`,
				route: "/user/info", check: all(admin(true), upserts())},
			{name: "test_scope_admin_admission_resolves_existing_user_without_provisioning/existing", claims: `{"sub":"test_user_1","email":"admin@allowed.example",` + adm + `}`,
				route: "/user/info", check: all(admin(true), user("test_user_1"), upserts())},
		})
	})

	t.Run("map_user_to_teams", func(t *testing.T) {
		set := sub(func(a *events.JWTAuth) { a.TeamIDJWTField = "team" })
		runRows(t, s, set, nil, []row{
			{name: "test_map_user_to_teams_user_already_in_team", claims: `{"sub":"test_user_1","team":"test_team_1"}`,
				check: all(team("test_team_1"), upserts())},
			{name: "test_map_user_to_teams_add_new_user", claims: `{"sub":"test_user_1","team":"test_team_empty"}`,
				check: upserts(upMember("test_user_1", "", "test_team_empty"))},
			{name: "test_map_user_to_teams_null_inputs", claims: `{"team":"test_team_empty"}`, check: all(team("test_team_empty"), upserts())},
		})
	})

	t.Run("claims", func(t *testing.T) {
		roleMap := settings(func(st *events.JWTSettings) {
			st.Auth.RolesJWTField = events.ClaimPaths{"roles"}
			st.Auth.JWTLiteLLMRoleMap = []events.JWTLiteLLMRoleMap{
				{JWTRole: "ADMIN", LiteLLMRole: events.RoleProxyAdmin},
				{JWTRole: "user_*", LiteLLMRole: events.RoleInternalUser},
				{JWTRole: "team_?", LiteLLMRole: events.RoleTeam},
				{JWTRole: "dev_[123]", LiteLLMRole: events.RoleInternalUser},
			}
		})
		var rows []row
		for _, c := range []struct{ roles, want string }{
			{`["ADMIN"]`, events.RoleProxyAdmin}, {`["user_manager"]`, events.RoleInternalUser}, {`["user_"]`, events.RoleInternalUser},
			{`["team_1"]`, events.RoleTeam}, {`["team_a"]`, events.RoleTeam}, {`["dev_1"]`, events.RoleInternalUser},
			{`["dev_2"]`, events.RoleInternalUser}, {`["unknown_role"]`, ""}, {`["user_test","ADMIN"]`, events.RoleProxyAdmin},
			{`[]`, ""}, {`["dev_4"]`, ""}, {`["team_12"]`, ""}, {`["team_"]`, ""},
		} {
			rows = append(rows, row{name: "test_map_jwt_role_to_litellm_role " + c.roles, claims: `{"roles":` + c.roles + `}`,
				route: "/key/info", check: mapped(c.want)})
		}
		rows = append(rows, row{name: "test_map_jwt_role_to_litellm_role no roles field", claims: `{}`, route: "/key/info", check: mapped("")})
		runRows(t, s, roleMap, nil, rows)

		nested := settings(func(st *events.JWTSettings) {
			st.Auth.UserIDJWTField = "user.sub"
			st.Auth.UserEmailJWTField = "user.email"
			st.Auth.OrgIDJWTField = "organization.id"
			st.Auth.EndUserIDJWTField = "customer.end_user_id"
			st.Auth.TeamIDJWTField = "tenant.team_id"
			st.Auth.UserIDUpsert = true
			st.Auth.TeamIDUpsert = true
		})
		runRows(t, build(t, dep("gpt-4", "openai/gpt-4"), &events.Org{OrganizationID: "org456"}), nested, nil, []row{
			{name: "test_nested_jwt_field_access",
				claims: `{"user":{"sub":"u123","email":"user@example.com"},"organization":{"id":"org456"},"customer":{"end_user_id":"customer123"},"tenant":{"team_id":"team456"}}`,
				check:  all(user("u123"), email("user@example.com"), org("org456"), endUser("customer123"), team("team456"))},
		})
		missing := settings(func(st *events.JWTSettings) {
			st.Auth.TeamIDJWTField = "tenant.team_id"
			st.Auth.TeamIDDefault = "config_default_team"
		})
		runRows(t, s, missing, nil, []row{
			{name: "test_nested_jwt_field_missing_paths", claims: `{"user":{"name":"test user"}}`, check: team("config_default_team")},
		})
		roles := settings(func(st *events.JWTSettings) { st.Auth.TeamIDJWTField = "roles" })
		runRows(t, s, roles, nil, []row{
			{name: "test_get_team_id_returns_first_element_when_roles_is_list", claims: `{"oid":"user-oid","roles":["team-2"]}`, check: team("team-2")},
			{name: "test_get_team_id_returns_first_element_from_multi_value_roles_list", claims: `{"roles":["team-2","team-1"]}`, check: team("team-2")},
			{name: "test_get_team_id_returns_default_when_roles_list_is_empty", claims: `{"roles":[]}`,
				want: apierror.Unauthenticated, msg: "No team found in token. Checked team_id field 'roles'"},
		})
		appid := settings(func(st *events.JWTSettings) { st.Auth.TeamIDJWTField = "appid" })
		runRows(t, s, appid, nil, []row{
			{name: "test_get_team_id_still_works_with_string_value", claims: `{"appid":"team-2"}`, check: team("team-2")},
		})
	})

	t.Run("specific team and alias", func(t *testing.T) {
		runRows(t, s, settings(func(st *events.JWTSettings) { st.Auth.TeamAliasJWTField = "team_alias" }), nil, []row{
			{name: "test_find_and_validate_specific_team_id_with_team_alias", claims: `{"sub":"user-1","team_alias":"my-team"}`, check: team("resolved-team-id")},
			{name: "test_find_and_validate_raises_when_required_team_not_found", claims: `{"sub":"user-1"}`,
				want: apierror.Unauthenticated, msg: "No team found in token. Checked team_id field 'None' and team_alias field 'team_alias'."},
		})
		runRows(t, s, settings(func(st *events.JWTSettings) {
			st.Auth.TeamIDJWTField, st.Auth.TeamAliasJWTField = "team_id", "team_alias"
		}), nil, []row{
			{name: "test_find_and_validate_team_id_takes_precedence_over_name", claims: `{"sub":"user-1","team_id":"direct-team-id","team_alias":"my-team"}`,
				check: team("direct-team-id")},
		})
		withDefault := settings(func(st *events.JWTSettings) {
			st.Auth.TeamAliasJWTField, st.Auth.TeamIDDefault = "team_alias", "config_default_team"
		})
		runRows(t, s, withDefault, nil, []row{
			{name: "test_find_and_validate_specific_team_id_alias_wins_over_team_id_default", claims: `{"sub":"user-1","team_alias":"my-team"}`,
				check: team("resolved-team-id")},
			{name: "test_find_and_validate_specific_team_id_team_id_default_used_without_alias", claims: `{"sub":"user-1"}`,
				check: team("config_default_team")},
		})
		runRows(t, s, settings(func(st *events.JWTSettings) { st.Auth.OrgAliasJWTField = "org_alias" }), nil, []row{
			{name: "test_get_objects_resolves_org_by_name", claims: `{"org_alias":"my-org"}`, check: org("resolved-org-id")},
		})
		for _, c := range []struct{ name, field, msg string }{
			{"test_find_and_validate_specific_team_id_hints_bracket_notation", "roles.0", "is not supported. Use 'roles' instead \u2014 LiteLLM"},
			{"test_find_and_validate_specific_team_id_hints_bracket_index_notation", "roles[0]", "is not supported in team_id_jwt_field. Use 'roles' instead"},
			{"test_find_and_validate_specific_team_id_no_hint_for_valid_field", "appid", "No team found in token. Checked team_id field 'appid' and team_alias field 'None'."},
		} {
			runRows(t, s, settings(func(st *events.JWTSettings) { st.Auth.TeamIDJWTField = c.field }), nil, []row{
				{name: c.name, claims: `{"roles":["team1"]}`, want: apierror.Unauthenticated, msg: c.msg},
			})
		}
		noHint := settings(func(st *events.JWTSettings) { st.Auth.TeamIDJWTField = "appid" })
		id, _, err := decide(t, s, noHint, nil, row{claims: `{}`})
		if err == nil || id != nil && containsStr(err.Error(), "Hint") {
			t.Errorf("test_find_and_validate_specific_team_id_no_hint_for_valid_field: %v", err)
		}
		runRows(t, s, settings(func(st *events.JWTSettings) { st.Auth.TeamIDJWTField = "team_id" }), nil, []row{
			{name: "test_find_and_validate_specific_team_id_unresolved_claim_default_raises", claims: `{"sub":"user-1","team_id":"claim-team-not-in-db"}`,
				want: apierror.NotFound, msg: "Team doesn't exist in db. Team=claim-team-not-in-db."},
		})
		runRows(t, s, sub(func(a *events.JWTAuth) { a.TeamIDJWTField, a.TeamClaimFallback = "team_id", true }), nil, []row{
			{name: "test_find_and_validate_specific_team_id_unresolved_claim_returns_none", claims: `{"sub":"u_member","team_id":"claim-team-not-in-db"}`,
				check: team("team_member")},
		})
	})

	t.Run("group selection", func(t *testing.T) {
		set := sub(func(a *events.JWTAuth) { a.TeamIDsJWTField = events.ClaimPaths{"groups"} })
		runRows(t, s, set, nil, []row{
			{name: "test_find_team_with_model_access_model_group", claims: `{"groups":["team-1"]}`, model: "gpt-4o-mini", check: all(team("team-1"), routed)},
			{name: "test_find_team_with_model_access_resolves_team_model_alias", claims: `{"groups":["team-aliases"]}`, model: "fast",
				check: all(team("team-aliases"), routedTo("gpt-4o"))},
			{name: "test_find_team_with_model_access_v1_messages_default_routes", claims: `{"groups":["coding-team"]}`, route: "/v1/messages",
				model: "claude-sonnet-4-6", check: team("coding-team")},
			{name: "test_find_team_with_model_access_resolved_team_without_model_still_raises_403", claims: `{"groups":["real-team"]}`, model: "gpt-4o-mini",
				want: apierror.TeamModelDenied, msg: "No team has access to the requested model"},
			{name: "test_find_team_with_model_access_unresolved_group_claim_default_raises", claims: `{"groups":["idp-group-a","idp-group-b"]}`,
				model: "gpt-4o-mini", want: apierror.TeamModelDenied},
		})
		for _, c := range []struct {
			route string
			ok    bool
		}{{"/v1/messages", true}, {"/v1/messages/count_tokens", true}, {"/v1/skills", false}, {"/v1/skills/skill_abc123", false}} {
			r := row{name: "test_default_team_allowed_routes_cover_messages_but_not_skills " + c.route, claims: `{"groups":["team-2"]}`, route: c.route}
			if c.ok {
				r.check = team("team-2")
			} else {
				r.want = apierror.Forbidden
			}
			runRows(t, s, set, nil, []row{r})
		}
		fb := sub(func(a *events.JWTAuth) { a.TeamIDsJWTField, a.TeamClaimFallback = events.ClaimPaths{"groups"}, true })
		runRows(t, s, fb, nil, []row{
			{name: "test_find_team_with_model_access_unresolved_group_claim_returns_none", claims: `{"sub":"u_none","groups":["idp-group-a","idp-group-b"]}`,
				model: "gpt-4o-mini", check: team("")},
		})
		enforce := sub(func(a *events.JWTAuth) { a.EnforceTeamBasedModelAccess = true })
		runRows(t, s, enforce, nil, []row{
			{name: "test_find_team_with_model_access_enforce_team_based_access_still_raises", claims: `{"sub":"u_none"}`, model: "gpt-4o-mini",
				want: apierror.Forbidden, msg: "enforce_team_based_model_access"},
		})
	})

	t.Run("x-litellm-team-id", func(t *testing.T) {
		set := sub(func(a *events.JWTAuth) { a.TeamIDsJWTField = events.ClaimPaths{"groups"} })
		runRows(t, s, set, nil, []row{
			{name: "test_resolve_team_from_header_returns_allowed_id_none_without_header_and_403_on_invalid/allowed", claims: `{"sub":"u_none","groups":["team-1","team-2"]}`,
				header: "team-2", check: team("team-2")},
			{name: "test_resolve_team_from_header_returns_allowed_id_none_without_header_and_403_on_invalid/invalid", claims: `{"sub":"u_none","groups":["team-1","team-2"]}`,
				header: "invalid-team", want: apierror.Forbidden},
			{name: "test_auth_builder_uses_team_from_header_e2e", claims: `{"sub":"test_user_1","groups":["team-1","team-2"]}`, header: "team-2", model: "gpt-4",
				check: team("team-2")},
			{name: "test_resolve_team_from_header_accepts_the_alias_of_an_allowed_team/alias", claims: `{"sub":"u_none","groups":["team_a"]}`, header: "alias_a",
				check: team("team_a")},
			{name: "test_resolve_team_from_header_accepts_the_alias_of_an_allowed_team/id", claims: `{"sub":"u_none","groups":["team_a"]}`, header: "team_a",
				check: team("team_a")},
			{name: "test_resolve_team_from_header_denies_aliases_of_teams_the_jwt_does_not_grant/other team", claims: `{"sub":"u_none","groups":["team_a"]}`,
				header: "alias_b", want: apierror.Forbidden,
				msg: "x-litellm-team-id 'alias_b' does not resolve to a team id or a unique team alias in your JWT's allowed teams. Allowed team ids: ['team_a']"},
			{name: "test_resolve_team_from_header_denies_aliases_of_teams_the_jwt_does_not_grant/unknown", claims: `{"sub":"u_none","groups":["team_a"]}`,
				header: "no_such", want: apierror.Forbidden,
				msg: "x-litellm-team-id 'no_such' does not resolve to a team id or a unique team alias in your JWT's allowed teams. Allowed team ids: ['team_a']"},
			{name: "test_resolve_team_from_header_denies_a_duplicate_alias_like_an_unknown_value_but_surfaces_lookup_errors", claims: `{"sub":"u_none","groups":["team_a"]}`,
				header: "shared_alias", want: apierror.Forbidden,
				msg: "x-litellm-team-id 'shared_alias' does not resolve to a team id or a unique team alias in your JWT's allowed teams. Allowed team ids: ['team_a']"},
			{name: "test_auth_builder_header_alias_binds_the_aliased_team_under_claims_and_db_fallback/claims", claims: `{"sub":"u_member","groups":["team_member"]}`,
				header: "alias_member", check: team("team_member")},
			{name: "test_auth_builder_claim_backed_header_team_lookup_error_propagates", claims: `{"sub":"u_member","groups":["team_claimed"]}`,
				header: "team_claimed", want: apierror.NotFound},
		})
		admins := sub(func(a *events.JWTAuth) {
			a.TeamIDsJWTField = events.ClaimPaths{"groups"}
			a.AdminAllowedRoutes = []string{"management_routes", "info_routes", "openai_routes"}
		})
		runRows(t, s, admins, nil, []row{
			{name: "test_auth_builder_admin_on_llm_route_honors_team_header", claims: `{"sub":"admin-user","groups":[],` + adm + `}`,
				route: "/chat/completions", model: "gpt-4", header: "team-low", check: all(admin(true), team("team-low"), upserts())},
			{name: "test_auth_builder_admin_on_llm_route_without_header_unchanged", claims: `{"sub":"admin-user","groups":[],` + adm + `}`,
				route: "/chat/completions", model: "gpt-4", check: all(admin(true), team(""))},
		})
		upsert := sub(func(a *events.JWTAuth) { a.TeamIDsJWTField, a.TeamIDUpsert = events.ClaimPaths{"groups"}, true })
		runRows(t, s, upsert, nil, []row{
			{name: "test_auth_builder_admin_on_mgmt_route_ignores_team_header", claims: `{"sub":"admin-user","groups":[],` + adm + `}`,
				route: "/user/info", header: "totally-made-up-team", check: all(admin(true), team(""), upserts())},
		})
	})

	t.Run("fallback_to_db_teams", func(t *testing.T) {
		on := sub(func(a *events.JWTAuth) { a.FallbackToDBTeams, a.EnforceTeamBasedModelAccess = true, true })
		off := sub(func(a *events.JWTAuth) { a.EnforceTeamBasedModelAccess = true })
		const notMember = "does not resolve to a team id or a unique team alias among your team memberships."
		runRows(t, s, on, nil, []row{
			{name: "test_auth_builder_db_team_fallback_when_jwt_has_no_team/flag_on_multi_db_team_picks_first", claims: `{"sub":"u_two"}`, model: "gpt-4", check: team("team_a")},
			{name: "test_auth_builder_db_team_fallback_when_jwt_has_no_team/flag_on_header_team_in_membership", claims: `{"sub":"u_two"}`, model: "gpt-4",
				header: "team_b", check: team("team_b")},
			{name: "test_auth_builder_db_team_fallback_when_jwt_has_no_team/flag_on_header_team_not_in_membership_403", claims: `{"sub":"u_two"}`, model: "gpt-4",
				header: "team_x", want: apierror.Forbidden, msg: "x-litellm-team-id 'team_x' " + notMember},
			{name: "test_auth_builder_db_team_fallback_when_jwt_has_no_team/flag_on_no_db_team_enforced_403", claims: `{"sub":"u_none"}`, model: "gpt-4",
				want: apierror.Forbidden, msg: "not a member of any team"},
			{name: "test_resolve_team_from_header_defers_to_db_membership_only_without_jwt_claims", claims: `{"sub":"u_member"}`, header: "team_member",
				check: team("team_member")},
			{name: "test_validate_header_team_in_db_membership_does_not_leak_team_ids", claims: `{"sub":"u_two"}`, header: "outsider_team",
				want: apierror.Forbidden, msg: "x-litellm-team-id 'outsider_team' " + notMember},
			{name: "test_auth_builder_header_team_not_found_matches_non_membership_denial", claims: `{"sub":"u_member"}`, header: "team_ghost",
				want: apierror.Forbidden, msg: "x-litellm-team-id 'team_ghost' " + notMember},
			{name: "test_resolve_team_from_header_under_db_fallback_tries_the_id_before_the_alias/alias", claims: `{"sub":"u_member"}`, header: "alias_member",
				check: team("team_member")},
			{name: "test_resolve_team_from_header_under_db_fallback_tries_the_id_before_the_alias/neither", claims: `{"sub":"u_member"}`, header: "ghost",
				want: apierror.Forbidden, msg: "x-litellm-team-id 'ghost' " + notMember},
			{name: "test_auth_builder_header_alias_of_a_non_member_team_is_denied_like_an_unknown_value_under_db_fallback", claims: `{"sub":"u_member"}`,
				header: "alias_other", want: apierror.Forbidden, msg: "x-litellm-team-id 'alias_other' " + notMember},
			{name: "test_resolve_db_team_fallback_skips_team_without_model_access", claims: `{"sub":"u_model_access"}`, model: "gpt-4", check: team("allowed_team")},
			{name: "test_resolve_db_team_fallback_distinguishes_no_membership_vs_model_denied/model", claims: `{"sub":"u_no_model"}`, model: "gpt-4",
				want: apierror.TeamModelDenied, msg: "No team you are a member of has access to the requested model: gpt-4."},
		})
		// The denial for a member team that lacks the model does not name
		// the user's memberships.
		if _, _, err := decide(t, s, on, nil, row{claims: `{"sub":"u_no_model"}`, model: "gpt-4"}); err == nil || containsStr(err.Error(), "only_team") {
			t.Errorf("test_resolve_db_team_fallback_distinguishes_no_membership_vs_model_denied: %v names the membership", err)
		}
		runRows(t, s, off, nil, []row{
			{name: "test_auth_builder_db_team_fallback_when_jwt_has_no_team/flag_off_multi_db_team_no_fallback", claims: `{"sub":"u_two"}`, model: "gpt-4",
				want: apierror.Forbidden, msg: "No teams found in token"},
			{name: "test_resolve_team_from_header_defers_to_db_membership_only_without_jwt_claims/flag off", claims: `{"sub":"u_member"}`, header: "team_member",
				want: apierror.Forbidden},
		})
		runRows(t, s, sub(func(a *events.JWTAuth) { a.FallbackToDBTeams, a.TeamIDDefault = true, "config_default_team" }), nil, []row{
			{name: "test_auth_builder_db_fallback_runs_when_only_team_id_default_set", claims: `{"sub":"u_default_token"}`, model: "gpt-4", check: team("team_b")},
		})
		runRows(t, s, sub(func(a *events.JWTAuth) { a.FallbackToDBTeams, a.TeamAliasJWTField = true, "team_name" }), nil, []row{
			{name: "test_auth_builder_alias_only_token_resolves_alias_not_db_fallback", claims: `{"sub":"u_member","team_name":"my-team"}`, model: "gpt-4",
				check: team("resolved-team-id")},
		})
		runRows(t, s, sub(func(a *events.JWTAuth) { a.FallbackToDBTeams, a.TeamIDUpsert = true, true }), nil, []row{
			{name: "test_auth_builder_provisional_header_team_is_not_upserted", claims: `{"sub":"u_member"}`, model: "gpt-4", header: "team_member",
				check: all(team("team_member"), upserts())},
		})
		routes := sub(func(a *events.JWTAuth) { a.FallbackToDBTeams, a.TeamAllowedRoutes = true, []string{"openai_routes"} })
		runRows(t, s, routes, nil, []row{
			{name: "test_auth_builder_header_team_enforces_team_allowed_routes_under_db_fallback/key info", claims: `{"sub":"u_member"}`, header: "team_member",
				route: "/key/info", want: apierror.Forbidden, msg: "not allowed to access route '/key/info'"},
			{name: "test_auth_builder_header_team_enforces_team_allowed_routes_under_db_fallback/chat", claims: `{"sub":"u_member"}`, header: "team_member",
				model: "gpt-4", check: team("team_member")},
			{name: "test_auth_builder_header_alias_under_db_fallback_keeps_the_team_allowed_routes_gate", claims: `{"sub":"u_member"}`, header: "alias_member",
				route: "/key/info", want: apierror.Forbidden, msg: "Team 'alias_member' (from x-litellm-team-id header) is not allowed to access route '/key/info'."},
		})
		rbac := sub(func(a *events.JWTAuth) {
			a.FallbackToDBTeams = true
			a.UserIDJWTField = ""
			a.ObjectIDJWTField = "oid"
			a.RolesJWTField = events.ClaimPaths{"roles"}
			a.RoleMappings = []events.RoleMapping{{Role: "svc", InternalRole: events.RoleTeam}}
		})
		runRows(t, s, rbac, nil, []row{
			{name: "test_auth_builder_db_fallback_does_not_validate_rbac_team_against_db_membership", claims: `{"oid":"team-2","roles":["svc"]}`, model: "gpt-4",
				check: team("team-2")},
			{name: "test_auth_builder_header_cannot_override_rbac_team_under_db_fallback", claims: `{"oid":"team-2","roles":["svc"]}`, model: "gpt-4",
				header: "team_member", want: apierror.Forbidden},
		})
	})

	t.Run("scope mappings and upserts", func(t *testing.T) {
		set := sub(func(a *events.JWTAuth) {
			a.UserIDUpsert = true
			a.EnforceScopeBasedAccess = true
			a.ScopeMappings = []events.ScopeMapping{{Scope: "allowed", Models: []string{"gpt-4"}}}
		})
		runRows(t, s, set, nil, []row{
			{name: "test_jwt_identity_and_authorization_keep_provisioning_in_admission/model denied", claims: `{"sub":"fresh","scope":"allowed"}`, model: "gpt-4o",
				want: apierror.Forbidden, msg: "model=gpt-4o not allowed. Allowed_models=['gpt-4']"},
			{name: "test_jwt_identity_and_authorization_keep_provisioning_in_admission/new user", claims: `{"sub":"fresh","scope":"allowed"}`, model: "gpt-4",
				check: all(user("fresh"), upserts(upUser("fresh", "")))},
			{name: "test_jwt_identity_and_authorization_keep_provisioning_in_admission/existing user", claims: `{"sub":"test_user_1","scope":"allowed"}`, model: "gpt-4",
				check: all(user("test_user_1"), upserts())},
		})
	})
}

func containsStr(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// Not ported (count: see the report), each for the reason given:
//   - map_user_to_teams exception handling, get_objects/team_membership
//     object plumbing, sync cache writes, _canonical_user_id with stub
//     objects, get_all_jwt_team_ids ordering: Python internals whose
//     outcome the rows above already pin, or DB/cache calls gatehouse
//     does not make (memberships are in the snapshot).
//   - passthrough allowlists (allowed_passthrough_routes, auth-enforced
//     pass-through routes): gatehouse refuses pass_through_endpoints.
//   - oidc_userinfo_* auth_builder routing: userinfo.go's own tests.
//   - JWKS fetch/cache/stale/retry/discovery, expired-token 401s, audience
//     and issuer decode kwargs, multi-issuer signature checks: rows of
//     auth/verifier's litellm_jwt2026_cases_test.go.
//   - metadata. prefix stripping: a listed deliberate difference.
//   - single-team DB fallback without fallback_to_db_teams: a listed
//     deliberate difference (a token without team claims is a team-less
//     user).
//   - agent_id_jwt_field, managed Entra agent identities: refused settings.
//   - DB outage during membership reads (503): no request-path DB.
//   - role/scope allowlists hidden from the client (LIT, ModelAccessDenied
//     internal_message): the reference's 2026 texts name the allowlist.
