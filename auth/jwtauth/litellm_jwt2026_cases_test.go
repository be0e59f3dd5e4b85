package jwtauth

import (
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// LiteLLM's JWT cases added since litellm_cases_test.go and
// litellm_jwt_cases_test.go were ported, one row per case, named after the
// LiteLLM test: the current tests/test_litellm/proxy/auth/test_handle_jwt.py
// (its decision cases; its verification cases are auth/verifier's
// litellm_jwt2026_cases_test.go), test_user_api_key_auth_identity_wiring.py,
// test_team_grants.py, test_custom_auth_end_user_budget.py, and the claims
// layer of LiteLLM's newer authn (tests/test_litellm/proxy/auth/v2/authn/
// test_jwt_claims.py). Not ported, with why: the end of the file.

var one = 1.0

func jwt2026World(t testing.TB) *policy.Snapshot {
	t.Helper()
	rpm, tpm := int64(100), int64(5000)
	return build(t,
		dep("gpt-4", "openai/gpt-4"),
		dep("gpt-4o", "openai/gpt-4o"),
		&events.Team{TeamID: "engineering-team-id", TeamAlias: "engineering-team"},
		&events.Team{TeamID: "flat-team-id", TeamAlias: "flat-team"},
		&events.Team{TeamID: "team1"},
		&events.Team{TeamID: "team_a"},
		&events.Team{TeamID: "team_b"},
		&events.Team{TeamID: "real_team"},
		&events.Team{TeamID: "team_flaky"},
		&events.Team{TeamID: "team_with_budget", MembersWithRoles: []events.Member{{UserID: "u_membership", Role: "user", BudgetID: "budget_xyz",
			MaxBudgetInTeam: &one, BudgetFlag: events.BudgetFlag{BudgetExceeded: true}}}},
		&events.Team{TeamID: "test_team_1", MembersWithRoles: []events.Member{{UserID: "test_user_1", Role: "user", BudgetID: "budget_123",
			RPMLimit: &rpm, TPMLimit: &tpm}}},
		&events.Team{TeamID: "team_primary"},
		&events.Team{TeamID: "team_stale_a", MembersWithRoles: []events.Member{{UserID: "u_singular", Role: "user"}}},
		&events.Team{TeamID: "team_stale_b", MembersWithRoles: []events.Member{{UserID: "u_singular", Role: "user"}}},
		&events.Team{TeamID: "team_existing", MembersWithRoles: []events.Member{{UserID: "u_flag_off", Role: "user"}}},
		&events.Team{TeamID: "team_sync_a", MembersWithRoles: []events.Member{{UserID: "u_sync", Role: "user"}}},
		&events.Team{TeamID: "team_sync_b", MembersWithRoles: []events.Member{{UserID: "u_sync", Role: "user"}}},
		&events.Team{TeamID: "jwt-team"},
		&events.Team{TeamID: "example-org/litellm-fork"},
		&events.Team{TeamID: "eng"},
		&events.Team{TeamID: "67"},
		&events.Team{TeamID: "team-grants", TeamAlias: "grants-team", TPMLimit: &tpm, RPMLimit: &rpm, Models: []string{"gpt-4o", "gpt-4"},
			Metadata: map[string]any{"tier": "gold"}, ModelAliases: map[string]string{"fast": "gpt-4"},
			MembersWithRoles: []events.Member{{UserID: "someone-else", Role: "user"}, {UserID: "user-in-team", Role: "admin", RPMLimit: &rpm}}},
		&events.Team{TeamID: "team-grants-blocked", Blocked: true},
		&events.Org{OrganizationID: "acme-id", OrganizationAlias: "acme-corp"},
		&events.Org{OrganizationID: "flat-org-id", OrganizationAlias: "flat-org"},
		&events.User{UserID: "u_row", UserEmail: "row@example.com"},
		&events.User{UserID: "u_noemail"},
		&events.User{UserID: "u_routes", Teams: []string{"team_a"}},
		&events.User{UserID: "u_skip", Teams: []string{"ghost_team", "real_team"}},
		&events.User{UserID: "u_membership", Teams: []string{"team_with_budget"}},
		&events.User{UserID: "u_flaky", Teams: []string{"team_flaky"}},
		&events.User{UserID: "test_user_1", Teams: []string{"test_team_1"}},
		&events.User{UserID: "u_singular", Teams: []string{"team_stale_a", "team_stale_b"}},
		&events.User{UserID: "u_flag_off", Teams: []string{"team_existing"}},
		&events.User{UserID: "u_sync", Teams: []string{"team_sync_a", "team_sync_b"}},
		&events.User{UserID: "jwt-human-user"},
		&events.User{UserID: "example-org"},
		&events.User{UserID: "example-namespace"},
		&events.User{UserID: "real-user@example.com"},
		&events.User{UserID: "u1"},
		&events.User{UserID: "abc"},
		&events.User{UserID: "12345"},
		&events.User{UserID: "user-in-team"},
		&events.User{UserID: "stranger"},
		&events.Customer{UserID: "customer-1", MaxBudget: &one, BudgetFlag: events.BudgetFlag{BudgetExceeded: true}},
	)
}

func identityTeam(want string) check {
	return is("identity team id", func(id *Identity, _ Decision) string { return id.TeamID }, want)
}

func remove(user, team string) events.UpsertRequest {
	return events.UpsertRequest{Kind: events.UpsertTeamMemberRemove, UserID: user, TeamID: team}
}

func TestLiteLLMJWT2026Cases(t *testing.T) {
	s := jwt2026World(t)
	with := func(mut func(a *events.JWTAuth)) *events.JWTSettings {
		return settings(func(st *events.JWTSettings) { mut(&st.Auth) })
	}
	sub := func(mut func(a *events.JWTAuth)) *events.JWTSettings {
		return with(func(a *events.JWTAuth) { a.UserIDJWTField = "sub"; mut(a) })
	}

	t.Run("test_handle_jwt.py", func(t *testing.T) {
		runRows(t, s, sub(func(a *events.JWTAuth) { a.UserEmailJWTField = "email" }), nil, []row{
			{name: "test_auth_builder_result_includes_user_email/row@example.com-row@example.com", claims: `{"sub":"u_row","email":"claim@example.com"}`,
				model: "gpt-4", check: all(user("u_row"), emails("claim@example.com", "row@example.com"))},
			{name: "test_auth_builder_result_includes_user_email/None-claim@example.com", claims: `{"sub":"u_noemail","email":"claim@example.com"}`,
				model: "gpt-4", check: emails("claim@example.com", "claim@example.com")},
		})

		nested := `{"organization":{"team":{"name":"engineering-team"}},"team_name":"flat-team"}`
		runRows(t, s, with(func(a *events.JWTAuth) { a.TeamAliasJWTField = "organization.team.name" }), nil, []row{
			{name: "test_get_team_alias_with_nested_fields/nested", claims: nested, check: team("engineering-team-id")},
		})
		runRows(t, s, with(func(a *events.JWTAuth) { a.TeamAliasJWTField = "team_name" }), nil, []row{
			{name: "test_get_team_alias_with_nested_fields/flat", claims: nested, check: team("flat-team-id")},
		})
		runRows(t, s, with(func(a *events.JWTAuth) { a.TeamAliasJWTField = "nonexistent.field" }), nil, []row{
			{name: "test_get_team_alias_with_nested_fields/missing", claims: nested, want: apierror.Unauthenticated,
				msg: "No team found in token. Checked team_id field 'None' and team_alias field 'nonexistent.field'."},
		})
		runRows(t, s, with(func(*events.JWTAuth) {}), nil, []row{
			{name: "test_get_team_alias_with_nested_fields/not configured", claims: nested, check: team("")},
			{name: "test_is_required_team_id_with_team_alias_field/neither", claims: `{}`, check: team("")},
		})
		for _, c := range []struct {
			name, id, alias, msg string
		}{
			{"team_id only", "team_id", "", "Checked team_id field 'team_id' and team_alias field 'None'."},
			{"team_alias only", "", "team_name", "Checked team_id field 'None' and team_alias field 'team_name'."},
			{"both", "team_id", "team_name", "Checked team_id field 'team_id' and team_alias field 'team_name'."},
		} {
			runRows(t, s, with(func(a *events.JWTAuth) { a.TeamIDJWTField, a.TeamAliasJWTField = c.id, c.alias }), nil, []row{
				{name: "test_is_required_team_id_with_team_alias_field/" + c.name, claims: `{}`, want: apierror.Unauthenticated, msg: c.msg},
			})
		}

		orgs := `{"company":{"organization":{"name":"acme-corp"}},"org_name":"flat-org"}`
		for _, c := range []struct{ field, want string }{{"company.organization.name", "acme-id"}, {"org_name", "flat-org-id"}, {"nonexistent.field", ""}} {
			runRows(t, s, with(func(a *events.JWTAuth) { a.OrgAliasJWTField = c.field }), nil, []row{
				{name: "test_get_org_alias_with_nested_fields/" + c.field, claims: orgs, check: org(c.want)},
			})
		}

		runRows(t, s, with(func(a *events.JWTAuth) { a.TeamIDJWTField = "roles" }), nil, []row{
			{name: "test_get_team_id_list_result_is_hashable", claims: `{"roles":["team1"]}`, check: team("team1")},
		})
		runRows(t, s, sub(func(*events.JWTAuth) {}), nil, []row{
			{name: "test_canonical_user_id_returns_none_when_claim_none_and_no_object", claims: `{}`, check: all(user(""), dbUser(""))},
		})

		enforce := func(fallback bool) *events.JWTSettings {
			return sub(func(a *events.JWTAuth) { a.EnforceTeamBasedModelAccess, a.FallbackToDBTeams = true, fallback })
		}
		runRows(t, s, enforce(false), nil, []row{
			{name: "test_find_team_with_model_access_defers_no_team_403_under_db_fallback/flag off", claims: `{"sub":"u_routes"}`, model: "gpt-4",
				want: apierror.Forbidden, msg: "No teams found in token. `enforce_team_based_model_access` is set to True."},
		})
		runRows(t, s, enforce(true), nil, []row{
			{name: "test_find_team_with_model_access_defers_no_team_403_under_db_fallback/flag on", claims: `{"sub":"u_routes"}`, model: "gpt-4", check: team("team_a")},
			{name: "test_resolve_db_team_fallback_skips_unresolvable_membership", claims: `{"sub":"u_skip"}`, check: team("real_team")},
			{name: "test_resolve_db_team_fallback_loads_team_membership", claims: `{"sub":"u_membership"}`, model: "gpt-4",
				want: apierror.BudgetExceeded, msg: "u_membership"},
			{name: "test_resolve_db_team_fallback_survives_membership_lookup_error", claims: `{"sub":"u_flaky"}`, model: "gpt-4", check: team("team_flaky")},
		})
		runRows(t, s, sub(func(a *events.JWTAuth) { a.FallbackToDBTeams, a.TeamAllowedRoutes = true, []string{"openai_routes"} }), nil, []row{
			{name: "test_resolve_db_team_fallback_enforces_team_allowed_routes/excluded", claims: `{"sub":"u_routes"}`, route: "/key/info", model: "gpt-4",
				check: all(team(""), user("u_routes"))},
			{name: "test_resolve_db_team_fallback_enforces_team_allowed_routes/allowed", claims: `{"sub":"u_routes"}`, model: "gpt-4", check: team("team_a")},
		})
		runRows(t, s, sub(func(*events.JWTAuth) {}), nil, []row{
			{name: "test_auth_builder_returns_team_membership_object", claims: `{"sub":"test_user_1"}`, header: "", model: "gpt-4",
				check: func(t *testing.T, _ *Identity, d Decision) {
					t.Helper()
					if d.Team != nil {
						t.Fatalf("team = %s, want none without a team claim", d.Team.TeamID)
					}
				}},
		})
		runRows(t, s, sub(func(a *events.JWTAuth) { a.TeamIDJWTField = "team" }), nil, []row{
			{name: "test_auth_builder_returns_team_membership_object/membership", claims: `{"sub":"test_user_1","team":"test_team_1"}`, model: "gpt-4",
				check: func(t *testing.T, _ *Identity, d Decision) {
					t.Helper()
					m := s.MemberBudget(d.Team, d.UserID)
					if m == nil || m.UserID != "test_user_1" || m.BudgetID != "budget_123" || *m.RPMLimit != 100 || *m.TPMLimit != 5000 {
						t.Errorf("membership = %+v, want test_user_1's in test_team_1 (budget_123, rpm 100, tpm 5000)", m)
					}
				}},
		})

		sync := func(fallback bool, mut func(a *events.JWTAuth)) *events.JWTSettings {
			return sub(func(a *events.JWTAuth) {
				a.SyncUserRoleAndTeams, a.FallbackToDBTeams = true, fallback
				mut(a)
			})
		}
		plural := func(a *events.JWTAuth) { a.TeamIDsJWTField = events.ClaimPaths{"teams"} }
		runRows(t, s, sync(true, plural), nil, []row{
			{name: "test_sync_user_role_and_teams_no_claim_team_preservation/fallback_on_preserves_db_teams", claims: `{"sub":"u_sync"}`, model: "gpt-4",
				check: all(team("team_sync_a"), upserts())},
		})
		runRows(t, s, sync(false, plural), nil, []row{
			{name: "test_sync_user_role_and_teams_no_claim_team_preservation/fallback_off_strips_db_teams", claims: `{"sub":"u_sync"}`, model: "gpt-4",
				check: all(team(""), upserts(remove("u_sync", "team_sync_a"), remove("u_sync", "team_sync_b")))},
		})
		singular := func(a *events.JWTAuth) { a.TeamIDJWTField = "primary_team" }
		runRows(t, s, sync(true, singular), nil, []row{
			{name: "test_sync_user_role_and_teams_singular_claim_reconciles_memberships", claims: `{"sub":"u_singular","primary_team":"team_primary"}`,
				model: "gpt-4", check: all(team("team_primary"),
					upserts(upMember("u_singular", "", "team_primary"), remove("u_singular", "team_stale_a"), remove("u_singular", "team_stale_b")))},
		})
		runRows(t, s, sync(false, singular), nil, []row{
			// Sync strips the stored team; map_user_to_teams then joins the
			// request's team, as in LiteLLM.
			{name: "test_sync_user_role_and_teams_singular_claim_only_recognized_under_flag", claims: `{"sub":"u_flag_off","primary_team":"team_primary"}`,
				model: "gpt-4", check: all(team("team_primary"), upserts(remove("u_flag_off", "team_existing"), upMember("u_flag_off", "", "team_primary")))},
		})

		runRows(t, s, sub(func(a *events.JWTAuth) {
			a.TeamIDUpsert, a.AdminAllowedRoutes = true, []string{"openai_routes"}
		}), nil, []row{
			{name: "test_admin_jwt_team_header_only_provisions_during_admission", claims: `{"sub":"admin-app","scope":"litellm_proxy_admin"}`,
				header: "new-team", check: all(admin(true), team("new-team"), upserts(upTeam("new-team")))},
		})

		issuers := []events.IssuerConfig{
			{Issuer: "https://issuer-one.example.com", Audience: "audience-one", UserIDJWTField: "email", UserEmailJWTField: "email"},
			{Issuer: "https://issuer-two.example.com", Audience: "audience-two", UserIDJWTField: "repository_owner", TeamIDJWTField: "repository"},
			{Issuer: "https://oidc.eks.eu-west-1.amazonaws.com/id/test-cluster", DisableAudienceValidation: true, UserIDJWTField: `kubernetes\.io.namespace`},
		}
		runRows(t, s, with(func(a *events.JWTAuth) { a.Issuers = issuers }), nil, []row{
			{name: "test_multi_issuer_jwt_validates_selected_issuer_and_maps_claims",
				claims: `{"iss":"https://issuer-two.example.com","repository_owner":"example-org","repository":"example-org/litellm-fork"}`,
				check:  all(idUser("example-org"), identityTeam("example-org/litellm-fork"), team("example-org/litellm-fork"))},
			{name: "test_multi_issuer_jwt_maps_kubernetes_namespace_claim",
				claims: `{"iss":"https://oidc.eks.eu-west-1.amazonaws.com/id/test-cluster","kubernetes.io":{"namespace":"example-namespace"}}`,
				check:  user("example-namespace")},
			{name: "test_multi_issuer_jwt_missing_mapped_claim_leaves_user_id_unset", claims: `{"iss":"https://issuer-one.example.com","sub":"test-subject"}`,
				check: all(idUser(""), user(""))},
		})

		// The claims as the verifier hands them over (it strips _litellm_*,
		// auth/verifier's test_global_jwt_ignores_user_supplied_internal_claims);
		// the identity reads only the configured paths either way.
		runRows(t, s, with(func(a *events.JWTAuth) {
			a.UserIDJWTField, a.UserEmailJWTField, a.TeamIDJWTField = "email", "email", "team.id"
			a.OrgIDJWTField, a.EndUserIDJWTField = "org.id", "end_user.id"
		}), nil, []row{
			{name: "test_global_jwt_ignores_user_supplied_internal_claims",
				claims: `{"email":"real-user@example.com","team":{"id":"team1"},"end_user":{"id":"real-end-user"},` +
					`"_litellm_user_id":"victim-user","_litellm_team_id":"victim-team","_litellm_end_user_id":"victim-end-user","_litellm_org_id":"victim-org"}`,
				check: all(user("real-user@example.com"), team("team1"), endUser("real-end-user"), org(""))},
		})

		// Deliberate difference (README, claim paths): "metadata." is a
		// claim name here, not a prefix LiteLLM strips.
		runRows(t, s, with(func(a *events.JWTAuth) { a.UserEmailJWTField = "metadata.user.email" }), nil, []row{
			{name: "test_metadata_prefix_handling_in_nested_fields (differs: not stripped)", claims: `{"user":{"email":"user@example.com"},"sub":"u123"}`,
				check: email("")},
			{name: "test_metadata_prefix_handling_in_nested_fields (differs: a real metadata claim)", claims: `{"metadata":{"user":{"email":"u1"}}}`,
				check: all(email("u1"), user("u1"))},
		})
	})

	t.Run("test_user_api_key_auth.py", func(t *testing.T) {
		for _, c := range []struct {
			name, tok string
			want      bool
		}{
			{"test_is_jwt_detects_jwt_tokens", "header.payload.signature", true},
			{"test_is_jwt_detects_jwt_tokens", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyMSJ9.sig123", true},
			{"test_is_jwt_rejects_opaque_tokens", "some-opaque-oauth2-token", false},
			{"test_is_jwt_rejects_opaque_tokens", "sk-12345678", false},
			{"test_is_jwt_rejects_opaque_tokens", "Bearer token", false},
			{"test_is_jwt_rejects_opaque_tokens", "two.parts", false},
			{"test_is_jwt_returns_false_for_none", "", false},
		} {
			if IsJWT(c.tok) != c.want {
				t.Errorf("%s: IsJWT(%q) = %v, want %v", c.name, c.tok, !c.want, c.want)
			}
		}
		// TestJWTAuthUserEmail: the decision carries the resolved email,
		// the stored user's first, on the admin path the claim's.
		runRows(t, s, sub(func(a *events.JWTAuth) { a.UserEmailJWTField = "email" }), nil, []row{
			{name: "test_jwt_auth_populates_user_email_on_valid_token", claims: `{"sub":"u_row","email":"claim@example.com"}`, model: "gpt-4",
				check: emails("claim@example.com", "row@example.com")},
			{name: "test_jwt_auth_populates_user_email_on_proxy_admin", claims: `{"sub":"jwt-admin-user","email":"admin@example.com","scope":"litellm_proxy_admin"}`,
				route: "/key/info", check: all(admin(true), user("jwt-admin-user"), emails("admin@example.com", "admin@example.com"))},
		})
	})

	t.Run("test_user_api_key_auth_identity_wiring.py", func(t *testing.T) {
		runRows(t, s, sub(func(a *events.JWTAuth) { a.AdminAllowedRoutes = []string{"openai_routes"} }), nil, []row{
			{name: "test_parity_uak_for_jwt_request_matches_pre_integration", claims: `{"sub":"jwt-human-user","scope":"litellm_proxy_admin"}`,
				route: "/v1/chat/completions", header: "jwt-team", model: "gpt-4",
				check: all(admin(true), user("jwt-human-user"), team("jwt-team"), is("role", func(_ *Identity, d Decision) string {
					if d.Admin {
						return events.RoleProxyAdmin
					}
					return d.Role
				}, events.RoleProxyAdmin))},
		})
		if got := policy.EndUserID("eu-from-context", "eu-from-body"); got != "eu-from-context" {
			t.Errorf("test_end_user_id_read_from_identity_context_when_present: end user %q, want the token's", got)
		}
		if got := policy.EndUserID("", "eu-from-body"); got != "eu-from-body" {
			t.Errorf("test_end_user_id_read_from_identity_context_when_present/no claim: end user %q, want the body's", got)
		}
	})

	t.Run("test_custom_auth_end_user_budget.py", func(t *testing.T) {
		// The end user's budget applies whoever authenticated the caller
		// (the edge checks it after the JWT or key decision).
		err := s.CheckEndUser("customer-1", "gpt-4", "gpt-4")
		if !errors.Is(err, apierror.BudgetExceeded) {
			t.Errorf("test_custom_auth_enforces_end_user_budget_when_common_checks_skipped: %v, want budget_exceeded", err)
		}
		if err := s.CheckEndUser("customer-2", "gpt-4", "gpt-4"); err != nil {
			t.Errorf("test_custom_auth_run_post_custom_auth_checks_without_end_user_id: unknown end user refused: %v", err)
		}
	})

	t.Run("test_team_grants.py", func(t *testing.T) {
		runRows(t, s, sub(func(a *events.JWTAuth) { a.TeamIDJWTField = "team" }), nil, []row{
			{name: "test_team_grants_cover_every_team_field_the_key_path_gets", claims: `{"sub":"user-in-team","team":"team-grants"}`, model: "fast",
				check: func(t *testing.T, _ *Identity, d Decision) {
					t.Helper()
					tm := d.Team
					if tm == nil || tm.TeamAlias != "grants-team" || *tm.TPMLimit != 5000 || *tm.RPMLimit != 100 || !equalStrings(tm.Models, []string{"gpt-4o", "gpt-4"}) ||
						tm.Metadata["tier"] != "gold" || tm.ModelAliases["fast"] != "gpt-4" {
						t.Errorf("team = %+v, want team-grants with all its fields", tm)
					}
					if d.Route.Group != "gpt-4" {
						t.Errorf("team model alias fast routed to %q, want gpt-4", d.Route.Group)
					}
					if m := s.MemberBudget(tm, d.UserID); m == nil || m.Role != "admin" || *m.RPMLimit != 100 {
						t.Errorf("team member = %+v, want user-in-team's admin row with rpm 100", m)
					}
				}},
			{name: "test_team_grants_cover_every_team_field_the_key_path_gets/blocked", claims: `{"sub":"user-in-team","team":"team-grants-blocked"}`,
				model: "gpt-4", want: apierror.TeamBlocked, msg: "Team=team-grants-blocked is blocked."},
			{name: "test_team_member_is_the_callers_row_only", claims: `{"sub":"stranger","team":"team-grants"}`, model: "gpt-4",
				check: func(t *testing.T, _ *Identity, d Decision) {
					t.Helper()
					if m := s.MemberBudget(d.Team, d.UserID); m != nil {
						t.Errorf("stranger's membership = %+v, want none", m)
					}
				}},
		})
		runRows(t, s, sub(func(*events.JWTAuth) {}), nil, []row{
			{name: "test_team_grants_without_team_leave_token_defaults", claims: `{"sub":"user-in-team"}`, model: "gpt-4", check: team("")},
		})
	})

	t.Run("v2/authn/test_jwt_claims.py", func(t *testing.T) {
		runRows(t, s, sub(func(*events.JWTAuth) {}), nil, []row{
			{name: "test_extracts_user_id_from_default_sub_claim", claims: `{"sub":"u1"}`, check: all(user("u1"), team(""), mapped(""))},
		})
		runRows(t, s, with(func(a *events.JWTAuth) { a.UserIDJWTField = "oid" }), nil, []row{
			{name: "test_custom_user_id_claim", claims: `{"oid":"abc"}`, check: user("abc")},
		})
		// v2's role_claim/role_map is jwt_litellm_role_map over roles_jwt_field.
		runRows(t, s, sub(func(a *events.JWTAuth) {
			a.TeamIDJWTField, a.RolesJWTField = "team", events.ClaimPaths{"groups"}
			a.JWTLiteLLMRoleMap = []events.JWTLiteLLMRoleMap{{JWTRole: "admins", LiteLLMRole: events.RoleProxyAdmin}}
		}), nil, []row{
			{name: "test_team_and_role_are_mapped", claims: `{"sub":"u1","team":"eng","groups":"admins"}`, check: all(team("eng"), mapped(events.RoleProxyAdmin))},
		})
		runRows(t, s, sub(func(a *events.JWTAuth) {
			a.RolesJWTField = events.ClaimPaths{"role"}
			a.JWTLiteLLMRoleMap = []events.JWTLiteLLMRoleMap{{JWTRole: "a", LiteLLMRole: events.RoleProxyAdmin}}
		}), nil, []row{
			{name: "test_unmapped_role_value_yields_no_role", claims: `{"sub":"u1","role":"totally-unknown"}`, check: all(mapped(""), admin(false))},
		})
		// v2 refuses a token without its user id claim; the
		// litellm_jwtauth pipeline (and gatehouse) refuse one naming no
		// user and no team under general_settings.enforce_rbac.
		runRows(t, s, settings(func(st *events.JWTSettings) { st.Auth.UserIDJWTField, st.EnforceRBAC = "sub", true }), nil, []row{
			{name: "test_missing_user_id_raises", claims: `{"email":"x@y.z"}`, want: apierror.Forbidden, msg: "No user or team id found in token."},
		})
		runRows(t, s, sub(func(a *events.JWTAuth) { a.TeamIDJWTField = "team" }), nil, []row{
			{name: "test_non_string_ids_are_coerced", claims: `{"sub":12345,"team":67}`, check: all(user("12345"), team("67"))},
		})
	})
}

// Not ported, with why:
//
// test_handle_jwt.py (current):
//   - passthrough allowlists (…_passthrough…, allowed_passthrough_routes,
//     test_auth_builder_rbac_team_*_passthrough_*,
//     test_auth_builder_db_fallback_*_passthrough, test_find_team_with_
//     model_access_team_allowed_routes_wildcard_grants_auth_passthrough):
//     gatehouse refuses pass_through_endpoints.
//   - test_auth_builder_single_team_db_fallback_when_jwt_has_no_team,
//     test_auth_builder_single_team_fallback_membership_outage_raises_…: the
//     single-team fallback without fallback_to_db_teams is a listed
//     deliberate difference; a membership read cannot fail (snapshot).
//   - test_sync_user_role_and_teams_cache_invalidation_on_role_change,
//     …_on_team_change, …_no_cache_write_when_nothing_changes,
//     test_map_user_to_teams_handles_already_in_team_exception,
//     …_reraises_other_proxy_exceptions, test_canonical_user_id_no_change_
//     when_db_user_id_falsy, test_get_objects_team_membership_uses_rebound_
//     user_id, test_find_and_validate_specific_team_id_non_http_exception_
//     still_propagates, …_non_404_http_exception_propagates,
//     test_resolve_team_from_header_under_db_fallback_never_aliases_a_team_
//     id_it_could_not_read: caches, mocked DB errors and Python call
//     arguments; the snapshot has no lookup that fails.
//   - test_auth_builder_with_oidc_userinfo_enabled, …_disabled,
//     test_auth_builder_oidc_enabled_falls_back_to_jwt_auth_for_jwt_tokens:
//     userinfo.go's own tests (a JWT-shaped bearer is verified, never sent
//     to userinfo).
//   - test_resolve_agent_id_*, test_auth_builder_propagates_agent_id_*,
//     test_auth_builder_denies_jwt_naming_unregistered_agent_*,
//     test_runtime_json_cannot_establish_a_managed_identity,
//     test_explicit_entra_identity_cannot_be_claimed_via_legacy_lookup,
//     test_managed_application_uses_persisted_identity_*,
//     test_legacy_claim_cannot_select_a_top_level_entra_binding,
//     test_database_free_jwt_admission_with_entra_shaped_claims:
//     agent_id_jwt_field and managed agent identities are refused settings.
//   - test_can_rbac_role_call_model_denial_hides_role_allowlist_from_client,
//     test_check_scope_based_access_denial_hides_scope_allowlist_from_client:
//     the reference's 2026 texts name the allowlist (rows in
//     litellm_jwt_cases_test.go).
//
// test_user_api_key_auth.py (current): TestJWTOAuth2Coexistence's OAuth2
// cases (test_both_enabled_*, test_only_oauth2_enabled_handles_all_tokens,
// test_opaque_token_does_not_use_oauth2_when_oauth2_globally_disabled,
// test_oauth2_path_requires_premium_user, test_routing_override_*),
// test_routing_selector_matches_claim_parametrized and
// test_matches_routing_override_parametrized: enable_oauth2_auth and
// routing_overrides are refused settings;
// test_auto_register_passes_validated_org_context_to_generated_key:
// virtual_key_claim_field is refused; test_real_jwt_still_requires_license_
// when_jwt_auth_enabled and test_cli_session_token_*: no license, no CLI
// session tokens. TestJWTAuthUserEmail's Prometheus label and spend-log
// metadata: spend rows carry the user id, not its email, for keys and
// JWTs alike; the decision carries the email (rows above).
//
// test_user_api_key_auth_identity_wiring.py: test_identity_context_
// populated_on_request_state and test_parity_uak_for_api_key_request_
// matches_pre_integration are the master key's path (control/api).
//
// test_custom_auth_end_user_budget.py: the rest is Python custom_auth,
// which gatehouse refuses; update_valid_token_with_end_user_params'
// precedence between custom-auth and DB values has no counterpart.
//
// test_team_grants.py: test_team_model_aliases_decode_both_storage_shapes,
// …_treat_unusable_column_as_no_aliases, …_none_without_relation_loaded:
// model_aliases is a typed map in the team's event, parsed once by the
// admin API; there is no stored column to decode per request.
//
// test_membership_attribution.py: track_spend_across_all_user_teams and
// enforce_rate_limits_across_all_user_teams do not exist here; every
// request is charged and limited under its one team, which is the OFF
// behaviour all of that file's regression guards pin.
