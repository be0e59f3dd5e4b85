package jwtauth

import (
	"testing"

	"github.com/gatehouse/gatehouse/events"
)

// sync_user_role_and_teams reconciles memberships with every team claim
// (LiteLLM 2026's get_all_jwt_team_ids: team_ids_jwt_field's, then
// team_id_jwt_field's, never team_id_default), whichever of the two fields
// is set; under fallback_to_db_teams a token naming no team keeps the
// stored memberships it is served from.
func TestLiteLLMSyncUserRoleAndTeams(t *testing.T) {
	s := build(t,
		dep("gpt-4", "openai/gpt-4"),
		&events.Team{TeamID: "team1"},
		&events.Team{TeamID: "team2", MembersWithRoles: []events.Member{{UserID: "u1", Role: "user"}}},
		&events.Team{TeamID: "default-team"},
		&events.User{UserID: "u1", UserRole: events.RoleInternalUser, Teams: []string{"team2"}},
	)
	roleMap := []events.JWTLiteLLMRoleMap{{JWTRole: "ADMIN", LiteLLMRole: events.RoleProxyAdmin}}
	sync := func(mut func(a *events.JWTAuth)) *events.JWTSettings {
		return settings(func(st *events.JWTSettings) {
			st.Auth.UserIDJWTField, st.Auth.RolesJWTField = "sub", events.ClaimPaths{"roles"}
			st.Auth.JWTLiteLLMRoleMap, st.Auth.SyncUserRoleAndTeams = roleMap, true
			mut(&st.Auth)
		})
	}
	role := events.UpsertRequest{Kind: events.UpsertUserRole, UserID: "u1", UserRole: events.RoleProxyAdmin}
	add1 := upMember("u1", "", "team1")
	drop2 := events.UpsertRequest{Kind: events.UpsertTeamMemberRemove, UserID: "u1", TeamID: "team2"}

	runRows(t, s, sync(func(a *events.JWTAuth) { a.TeamIDsJWTField = events.ClaimPaths{"my_id_teams"} }), nil, []row{
		{name: "test_sync_user_role_and_teams", claims: `{"sub":"u1","roles":["ADMIN"],"my_id_teams":["team1","team2"]}`, route: "/key/info",
			check: all(decidedAdmin, upserts(role, add1))},
	})
	runRows(t, s, sync(func(a *events.JWTAuth) { a.TeamIDJWTField = "team_id" }), nil, []row{
		{name: "test_get_all_jwt_team_ids_unions_singular_and_plural/singular only", claims: `{"sub":"u1","team_id":"team1"}`, route: "/key/info",
			check: all(team("team1"), upserts(add1, drop2))},
		{name: "test_get_all_jwt_team_ids_unions_singular_and_plural/singular list", claims: `{"sub":"u1","team_id":["team1","team2"]}`, route: "/key/info",
			check: all(team("team1"), upserts(add1))},
	})
	runRows(t, s, sync(func(a *events.JWTAuth) {
		a.TeamIDJWTField, a.TeamIDsJWTField = "team_id", events.ClaimPaths{"teams"}
	}), nil, []row{
		{name: "test_get_all_jwt_team_ids_unions_singular_and_plural/both", claims: `{"sub":"u1","team_id":"team1","teams":["team2"]}`, route: "/key/info",
			check: all(team("team1"), upserts(add1))},
	})
	runRows(t, s, sync(func(a *events.JWTAuth) {
		a.TeamIDJWTField, a.TeamIDDefault = "team_id", "default-team"
	}), nil, []row{
		{name: "test_get_all_jwt_team_ids_does_not_use_team_id_default", claims: `{"sub":"u1"}`, route: "/key/info",
			check: all(team("default-team"), upserts(drop2, upMember("u1", "", "default-team")))},
	})
	runRows(t, s, sync(func(*events.JWTAuth) {}), nil, []row{
		{name: "sync without team fields: a token naming no team leaves none", claims: `{"sub":"u1"}`, route: "/key/info",
			check: all(team(""), upserts(drop2))},
	})
	runRows(t, s, sync(func(a *events.JWTAuth) {
		a.TeamIDsJWTField, a.FallbackToDBTeams = events.ClaimPaths{"groups"}, true
	}), nil, []row{
		{name: "fallback_to_db_teams: a token naming no team keeps the stored teams", claims: `{"sub":"u1"}`, model: "gpt-4",
			check: all(team("team2"), upserts())},
		{name: "fallback_to_db_teams: team claims still reconcile", claims: `{"sub":"u1","groups":["team1"]}`, model: "gpt-4",
			check: all(team("team1"), upserts(add1, drop2))},
	})
}
