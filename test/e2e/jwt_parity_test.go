package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oidctest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// TestJWT2026Fields runs the litellm_jwtauth fields LiteLLM added in 2026
// (team and org aliases, team_claim_fallback, jwt_litellm_role_map with
// sync_user_role_and_teams, OIDC userinfo for opaque tokens) with tokens
// from the real OpenID provider, through two edges.
func TestJWT2026Fields(t *testing.T) {
	idp := oidctest.Start(t,
		oidctest.Client{ID: "aliased", Secret: "s1", Claims: map[string]any{"team_alias": "ml-team"}},
		oidctest.Client{ID: "dup-alias", Secret: "s2", Claims: map[string]any{"team_alias": "dup"}},
		oidctest.Client{ID: "org-aliased", Secret: "s3", Claims: map[string]any{"org_alias": "no-such-org"}},
		oidctest.Client{ID: "svc-fallback", Secret: "s4", Claims: map[string]any{"team_id": "gone"}},
		oidctest.Client{ID: "syncer", Secret: "s5", Claims: map[string]any{"roles": []string{"gh-admin-prod"}, "groups": []string{"t-a"}}},
		oidctest.Client{ID: "opaque-svc", Secret: "s6", Opaque: true, Claims: map[string]any{"team_id": "t-home"}},
	)
	sys := startSystem(t, jwtConfig, 2)
	a, b := sys.edges[0], sys.edges[1]
	for _, team := range []map[string]any{
		{"team_id": "t-ml", "team_alias": "ml-team", "models": []string{"gpt-4"}},
		{"team_id": "t-dup1", "team_alias": "dup"},
		{"team_id": "t-dup2", "team_alias": "dup"},
		{"team_id": "t-home", "models": []string{"gpt-4"}},
		{"team_id": "t-a"},
	} {
		if code, raw := callRaw(t, "POST", sys.control.url("/team/new"), masterKey, team); code != 200 {
			t.Fatalf("/team/new: %d %s", code, raw)
		}
	}
	if code, raw := callRaw(t, "POST", sys.control.url("/user/new"), masterKey, map[string]any{"user_id": "svc-fallback", "teams": []string{"t-home"}}); code != 200 {
		t.Fatalf("/user/new: %d %s", code, raw)
	}

	t.Run("team_alias_jwt_field", func(t *testing.T) {
		setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp),
			"litellm_jwtauth": map[string]any{"team_id_jwt_field": "team_id", "team_alias_jwt_field": "team_alias"}})
		tok := idp.Token(t, "aliased")
		expectChat(t, a, tok, "gpt-4", 200, "")
		expectChat(t, b, tok, "gpt-4o", 403, "team_model_access_denied")
		code, raw := callRaw(t, "POST", b.url("/v1/chat/completions"), idp.Token(t, "dup-alias"), chat("gpt-4"))
		expectErrorParts(t, "alias of two teams", code, raw, 400, "", "Multiple teams found with alias dup")
	})

	t.Run("org_alias_jwt_field", func(t *testing.T) {
		setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp),
			"litellm_jwtauth": map[string]any{"user_id_jwt_field": "sub", "user_id_upsert": true, "org_alias_jwt_field": "org_alias"}})
		code, raw := callRaw(t, "POST", a.url("/v1/chat/completions"), idp.Token(t, "org-aliased"), chat("gpt-4"))
		expectErrorParts(t, "unknown org alias", code, raw, 401, "", "Organization doesn't exist in db. Organization alias=no-such-org")
	})

	t.Run("team_claim_fallback", func(t *testing.T) {
		base := map[string]any{"user_id_jwt_field": "sub", "team_id_jwt_field": "team_id"}
		setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp), "litellm_jwtauth": base})
		tok := idp.Token(t, "svc-fallback")
		code, raw := callRaw(t, "POST", a.url("/v1/chat/completions"), tok, chat("gpt-4"))
		expectErrorParts(t, "team claim naming no team", code, raw, 404, "", "Team doesn't exist in db. Team=gone")
		base["team_claim_fallback"] = true
		setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp), "litellm_jwtauth": base})
		expectChat(t, b, tok, "gpt-4", 200, "")
		expectChat(t, a, tok, "gpt-4o", 403, "team_model_access_denied") // the user's team t-home
	})

	t.Run("fallback_to_db_teams", func(t *testing.T) {
		base := map[string]any{"user_id_jwt_field": "sub"}
		setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp), "litellm_jwtauth": base})
		tok := idp.Token(t, "svc-fallback")
		expectChat(t, a, tok, "gpt-4o", 200, "") // as the user, no team
		base["fallback_to_db_teams"] = true
		setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp), "litellm_jwtauth": base})
		expectChat(t, b, tok, "gpt-4", 200, "")
		// Its stored team t-home lacks gpt-4o: LiteLLM 2026 goes on as the
		// user (no team) unless enforce_team_based_model_access.
		expectChat(t, a, tok, "gpt-4o", 200, "")
		base["enforce_team_based_model_access"] = true
		setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp), "litellm_jwtauth": base})
		expectChat(t, a, tok, "gpt-4o", 403, "team_model_access_denied")
	})

	t.Run("jwt_litellm_role_map with sync_user_role_and_teams", func(t *testing.T) {
		setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp),
			"litellm_jwtauth": map[string]any{"user_id_jwt_field": "sub", "user_id_upsert": true, "roles_jwt_field": "roles",
				"team_ids_jwt_field": "groups", "sync_user_role_and_teams": true,
				"jwt_litellm_role_map": []map[string]any{{"jwt_role": "gh-admin-*", "litellm_role": "proxy_admin"}}}})
		tok := idp.Token(t, "syncer")
		// Admin at once, through the edge's relay.
		if code, raw := callRaw(t, "POST", a.url("/key/generate"), tok, map[string]any{}); code != 200 {
			t.Fatalf("mapped proxy_admin on /key/generate: %d %s", code, raw)
		}
		expectChat(t, b, tok, "gpt-4", 200, "")
		// The stored user and the team membership follow the token.
		testutil.Eventually(t, 10*time.Second, func() error {
			var info struct {
				UserInfo struct {
					UserRole string `json:"user_role"`
				} `json:"user_info"`
			}
			if code := call(t, "GET", sys.control.url("/user/info?user_id=syncer"), masterKey, nil, &info); code != 200 || info.UserInfo.UserRole != "proxy_admin" {
				return fmt.Errorf("user syncer: %d role %q", code, info.UserInfo.UserRole)
			}
			var team struct {
				TeamInfo struct {
					Members []struct {
						UserID string `json:"user_id"`
					} `json:"members_with_roles"`
				} `json:"team_info"`
			}
			call(t, "GET", sys.control.url("/team/info?team_id=t-a"), masterKey, nil, &team)
			if !slices.ContainsFunc(team.TeamInfo.Members, func(m struct {
				UserID string `json:"user_id"`
			}) bool {
				return m.UserID == "syncer"
			}) {
				return fmt.Errorf("t-a members %v", team.TeamInfo.Members)
			}
			return nil
		})
	})

	t.Run("oidc_userinfo for opaque tokens", func(t *testing.T) {
		setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp),
			"litellm_jwtauth": map[string]any{"team_id_jwt_field": "team_id", "oidc_userinfo_enabled": true,
				"oidc_userinfo_endpoint": idp.UserinfoURL, "oidc_userinfo_cache_ttl": 60}})
		tok := idp.Token(t, "opaque-svc")
		if strings.Count(tok, ".") == 2 {
			t.Fatalf("not an opaque token: %s", tok)
		}
		expectChat(t, a, tok, "gpt-4", 200, "")
		expectChat(t, b, tok, "gpt-4o", 403, "team_model_access_denied")
		expectChat(t, a, "opaque-but-unknown-token", "gpt-4", 401, "auth_error")
		// Virtual keys keep working next to opaque tokens.
		key := generateKey(t, a, map[string]any{})
		expectChat(t, b, key, "gpt-4", 200, "")
	})
}
