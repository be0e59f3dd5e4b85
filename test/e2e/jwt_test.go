package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oidctest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// jwtConfig has the seeds' deployments as mock models; JWT settings come
// from the test through POST /jwt/settings.
const jwtConfig = `
general_settings:
  master_key: os.environ/MASTER_KEY
model_list:
  - model_name: gpt-4
    litellm_params: {model: mock/gpt-4}
    model_info: {access_groups: ["beta-models"]}
  - model_name: gpt-4o
    litellm_params: {model: mock/gpt-4o}
  - model_name: anthropic-claude
    litellm_params: {model: mock/claude-3-5-haiku-20241022}
  - model_name: gpt-3.5-turbo-testing
    litellm_params: {model: mock/gpt-3.5-turbo}
  - model_name: bedrock-claude-v2
    litellm_params: {model: mock/bedrock-claude-v2}
  - model_name: bedrock-claude-v3
    litellm_params: {model: mock/bedrock-claude-v3}
`

// setJWT replaces the JWT settings through the control plane. When it
// returns, every edge enforces them: no restart.
func setJWT(t *testing.T, sys *system, settings map[string]any) {
	t.Helper()
	settings["enable_jwt_auth"] = true
	code, raw := callRaw(t, "POST", sys.control.url("/jwt/settings"), masterKey, settings)
	if code != 200 {
		t.Fatalf("POST /jwt/settings: %d %s", code, raw)
	}
}

func jwks(ps ...*oidctest.Provider) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.JWKSURL)
	}
	return out
}

func TestJWTSeedFlows(t *testing.T) {
	idp := oidctest.Start(t,
		oidctest.Client{ID: "admin-cli", Secret: "s1", Scopes: []string{"litellm_proxy_admin"}},
		oidctest.Client{ID: "team-svc", Secret: "s2", Audience: "api://LiteLLM_Proxy"},
		oidctest.Client{ID: "consumer", Secret: "s3", Audience: "api://LiteLLM_Proxy",
			Claims: map[string]any{"roles": []string{"litellm.api.consumer"}, "oid": "team-rbac"}},
		oidctest.Client{ID: "scoped", Secret: "s4", Scopes: []string{"litellm.api.consumer", "litellm.api.gpt_3_5_turbo"}},
		oidctest.Client{ID: "keycloak-user", Secret: "s5", Alg: "ES256",
			Claims: map[string]any{"resource_access": map[string]any{"litellm-test-client-id": map[string]any{"roles": []string{"basic_user"}}}}},
		oidctest.Client{ID: "grouped", Secret: "s6", Claims: map[string]any{"groups": []string{"team-x", "team-y"}}},
		oidctest.Client{ID: "tenant-ok", Secret: "s7", Claims: map[string]any{"tenant_id": "my-unique-tenant", "team": "team-x"}},
		oidctest.Client{ID: "tenant-bad", Secret: "s8", Claims: map[string]any{"tenant_id": "INVALID_TENANT", "team": "team-x"}},
		oidctest.Client{ID: "employee", Secret: "s9", Claims: map[string]any{"email": "dev@my-co.com"}},
		oidctest.Client{ID: "outsider", Secret: "s10", Claims: map[string]any{"email": "eve@evil.com"}},
	)
	sys := startSystem(t, jwtConfig, 2)
	a, b := sys.edges[0], sys.edges[1]
	for _, team := range []map[string]any{
		{"team_id": "team-svc", "models": []string{"gpt-4"}},
		{"team_id": "team-rbac", "models": []string{}},
		{"team_id": "team-x", "models": []string{"gpt-4o"}},
		{"team_id": "team-y", "models": []string{"gpt-4"}},
	} {
		if code, raw := callRaw(t, "POST", sys.control.url("/team/new"), masterKey, team); code != 200 {
			t.Fatalf("/team/new: %d %s", code, raw)
		}
	}

	t.Run("admin scope: management allowed, chat refused", func(t *testing.T) {
		setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp)})
		tok := idp.Token(t, "admin-cli")
		var out struct {
			Key string `json:"key"`
		}
		// Through the edge: relayed to the control plane, which verifies.
		if code := call(t, "POST", a.url("/key/generate"), tok, map[string]any{}, &out); code != 200 || !strings.HasPrefix(out.Key, "sk-") {
			t.Fatalf("admin JWT /key/generate: %d", code)
		}
		// LiteLLM: a plain Exception, 401, naming the expanded routes.
		expectChat(t, a, tok, "gpt-4", 401, "auth_error")
	})

	t.Run("team token: team models only", func(t *testing.T) {
		setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp), "audience": "api://LiteLLM_Proxy",
			"litellm_jwtauth": map[string]any{"team_id_jwt_field": "client_id"}})
		tok := idp.Token(t, "team-svc")
		expectChat(t, a, tok, "gpt-4", 200, "")
		expectChat(t, b, tok, "gpt-4o", 403, "team_model_access_denied")
		// The team token may not call management routes.
		if code, _ := callRaw(t, "POST", a.url("/key/generate"), tok, map[string]any{}); code != 403 {
			t.Fatalf("team JWT on /key/generate: %d", code)
		}
		// A token for another audience is refused.
		other := idp.Token(t, "grouped")
		expectChat(t, a, other, "gpt-4", 401, "")
		// Blocking the team refuses its next request at every edge.
		call(t, "POST", sys.control.url("/team/block"), masterKey, map[string]any{"team_id": "team-svc"}, nil)
		expectChat(t, a, tok, "gpt-4", 401, "auth_error")
		expectChat(t, b, tok, "gpt-4", 401, "auth_error")
		call(t, "POST", sys.control.url("/team/unblock"), masterKey, map[string]any{"team_id": "team-svc"}, nil)
		expectChat(t, b, tok, "gpt-4", 200, "")
	})

	t.Run("role mapping litellm.api.consumer -> team with role_permissions", func(t *testing.T) {
		setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp), "audience": "api://LiteLLM_Proxy",
			"litellm_jwtauth": map[string]any{"object_id_jwt_field": "oid", "roles_jwt_field": "roles",
				"role_mappings": []map[string]any{{"role": "litellm.api.consumer", "internal_role": "team"}}, "enforce_rbac": true},
			"role_permissions": []map[string]any{{"role": "team", "models": []string{"anthropic-claude"}, "routes": []string{"/v1/chat/completions"}}}})
		tok := idp.Token(t, "consumer")
		expectChat(t, a, tok, "anthropic-claude", 200, "")
		expectChat(t, a, tok, "gpt-4o", 403, "permission_denied")
		if code, _ := callRaw(t, "GET", a.url("/v1/models"), tok, nil); code != 403 {
			t.Fatalf("route outside role_permissions.routes: %d", code)
		}
		// A token without a mapped role is refused under enforce_rbac.
		expectChat(t, a, idp.Token(t, "team-svc"), "anthropic-claude", 403, "permission_denied")
	})

	t.Run("role_permissions with wildcards (LiteLLM 27536)", func(t *testing.T) {
		setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp), "audience": "api://LiteLLM_Proxy",
			"litellm_jwtauth": map[string]any{"object_id_jwt_field": "oid", "roles_jwt_field": "roles",
				"role_mappings": []map[string]any{{"role": "litellm.api.consumer", "internal_role": "team"}}, "enforce_rbac": true},
			"role_permissions": []map[string]any{{"role": "team", "models": []string{"bedrock-claude-*", "beta-models"}}}})
		tok := idp.Token(t, "consumer")
		expectChat(t, a, tok, "bedrock-claude-v3", 200, "")
		expectChat(t, a, tok, "gpt-4", 200, "")
		expectChat(t, a, tok, "gpt-4o", 403, "permission_denied")
	})

	t.Run("scope mappings", func(t *testing.T) {
		setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp),
			"litellm_jwtauth": map[string]any{"team_id_jwt_field": "client_id", "team_id_upsert": true, "enforce_rbac": true,
				"enforce_scope_based_access": true, "scope_mappings": []map[string]any{
					{"scope": "litellm.api.consumer", "models": []string{"anthropic-claude"}},
					{"scope": "litellm.api.gpt_3_5_turbo", "models": []string{"gpt-3.5-turbo-testing"}}}}})
		both := idp.Token(t, "scoped")
		expectChat(t, a, both, "gpt-3.5-turbo-testing", 200, "")
		expectChat(t, a, both, "anthropic-claude", 200, "")
		expectChat(t, a, both, "gpt-4o", 403, "permission_denied")
		one := idp.Token(t, "scoped", "litellm.api.consumer")
		expectChat(t, b, one, "anthropic-claude", 200, "")
		expectChat(t, b, one, "gpt-3.5-turbo-testing", 403, "permission_denied")
		// team_id_upsert created the team named by client_id.
		testutil.Eventually(t, 10*time.Second, func() error {
			if code, _ := callRaw(t, "GET", sys.control.url("/team/info?team_id=scoped"), masterKey, nil); code != 200 {
				return fmt.Errorf("team not upserted: %d", code)
			}
			return nil
		})
	})

	t.Run("nested role field (Keycloak), ES256", func(t *testing.T) {
		setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp),
			"litellm_jwtauth": map[string]any{"user_roles_jwt_field": "resource_access.litellm-test-client-id.roles",
				"user_allowed_roles": []string{"basic_user"}, "enforce_rbac": true},
			"role_permissions": []map[string]any{{"role": "internal_user", "models": []string{"anthropic-claude"}}}})
		tok := idp.Token(t, "keycloak-user")
		if h, _, err := oidctest.ParseUnverified(tok); err != nil || h["alg"] != "ES256" {
			t.Fatalf("want an ES256 token: %v %v", h, err)
		}
		expectChat(t, a, tok, "anthropic-claude", 200, "")
		expectChat(t, a, tok, "gpt-4o", 403, "permission_denied")
	})

	t.Run("groups: first team with access, x-litellm-team-id", func(t *testing.T) {
		setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp), "litellm_jwtauth": map[string]any{"team_ids_jwt_field": "groups"}})
		tok := idp.Token(t, "grouped")
		expectChat(t, a, tok, "gpt-4o", 200, "") // team-x
		expectChat(t, a, tok, "gpt-4", 200, "")  // team-y
		code, raw := callRaw(t, "POST", a.url("/v1/chat/completions"), tok, chat("bedrock-claude-v2"))
		if code != 403 || !strings.Contains(string(raw), "No team has access") {
			t.Fatalf("no team with access: %d %s", code, raw)
		}
		req := func(team, model string) int {
			c, _ := callRawHeader(t, "POST", a.url("/v1/chat/completions"), tok, chat(model), map[string]string{"x-litellm-team-id": team})
			return c
		}
		if c := req("team-y", "gpt-4o"); c != 403 {
			t.Fatalf("header team-y for gpt-4o: %d", c)
		}
		if c := req("team-y", "gpt-4"); c != 200 {
			t.Fatalf("header team-y for gpt-4: %d", c)
		}
		if c := req("team-svc", "gpt-4"); c != 403 { // not in the token's groups
			t.Fatalf("header smuggling a foreign team: %d", c)
		}
	})

	t.Run("custom_validate in CEL", func(t *testing.T) {
		setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp), "litellm_jwtauth": map[string]any{
			"team_id_jwt_field": "team", "custom_validate": `claims.tenant_id in ["my-unique-tenant"]`}})
		expectChat(t, a, idp.Token(t, "tenant-ok"), "gpt-4o", 200, "")
		code, raw := callRaw(t, "POST", a.url("/v1/chat/completions"), idp.Token(t, "tenant-bad"), chat("gpt-4o"))
		if code != 403 || !strings.Contains(string(raw), "Invalid JWT token") {
			t.Fatalf("custom_validate false: %d %s", code, raw)
		}
	})

	t.Run("email domain admission with user upsert", func(t *testing.T) {
		setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp), "litellm_jwtauth": map[string]any{
			"user_email_jwt_field": "email", "user_allowed_email_domain": "my-co.com", "user_id_upsert": true}})
		expectChat(t, a, idp.Token(t, "employee"), "gpt-4o", 200, "")
		expectChat(t, a, idp.Token(t, "outsider"), "gpt-4o", 403, "permission_denied")
		// No email claim counts as invalid (reference §1), not as anonymous.
		expectChat(t, a, idp.Token(t, "grouped"), "gpt-4o", 403, "permission_denied")
		testutil.Eventually(t, 10*time.Second, func() error {
			if code, _ := callRaw(t, "GET", sys.control.url("/user/info?user_id=dev@my-co.com"), masterKey, nil); code != 200 {
				return fmt.Errorf("user not upserted: %d", code)
			}
			return nil
		})
	})

	t.Run("two providers and key rotation", func(t *testing.T) {
		idp2 := oidctest.Start(t, oidctest.Client{ID: "other-idp-svc", Secret: "x", Claims: map[string]any{"team": "team-y"}})
		setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp, idp2), "litellm_jwtauth": map[string]any{"team_id_jwt_field": "team"}})
		expectChat(t, a, idp.Token(t, "tenant-ok"), "gpt-4o", 200, "")
		expectChat(t, a, idp2.Token(t, "other-idp-svc"), "gpt-4", 200, "")
		// The provider rotates its signing key: the first token with the
		// new kid is accepted (refetch on unknown kid), no TTL wait.
		kid := idp.Rotate(t)
		tok := idp.Token(t, "tenant-ok")
		if h, _, _ := oidctest.ParseUnverified(tok); h["kid"] != kid {
			t.Fatalf("token not signed with the new key %s: %v", kid, h)
		}
		expectChat(t, a, tok, "gpt-4o", 200, "")
		expectChat(t, b, tok, "gpt-4o", 200, "")
	})
}

func callRawHeader(t *testing.T, method, url, key string, body any, hdr map[string]string) (int, []byte) {
	t.Helper()
	old := extraHeaders
	extraHeaders = hdr
	defer func() { extraHeaders = old }()
	return callRaw(t, method, url, key, body)
}

var _ = json.Marshal

// TestJWTFromConfigFile: settings from config.yaml and JWT_PUBLIC_KEY_URL at
// start, with a second identity provider configured per issuer (its own
// audience and claim mapping: one IdP puts the team in "team", the other in
// "tenant_team").
func TestJWTFromConfigFile(t *testing.T) {
	idp := oidctest.Start(t,
		oidctest.Client{ID: "admin-cli", Secret: "s1", Scopes: []string{"litellm_proxy_admin"}},
		oidctest.Client{ID: "svc-a", Secret: "s2", Claims: map[string]any{"team": "team-a"}})
	idp2 := oidctest.Start(t, oidctest.Client{ID: "svc-b", Secret: "s3", Audience: "api://second", Claims: map[string]any{"tenant_team": "team-b"}})
	cfg := jwtConfig + fmt.Sprintf(`
  enable_jwt_auth: true
  litellm_jwtauth:
    team_id_jwt_field: team
    issuers:
      - issuer: %s
        audience: api://second
        team_id_jwt_field: tenant_team
`, idp2.Issuer)
	cfg = strings.Replace(cfg, "general_settings:\n  master_key: os.environ/MASTER_KEY\nmodel_list:", "model_list:", 1)
	cfg = strings.Replace(cfg, "\n  enable_jwt_auth: true", "\ngeneral_settings:\n  master_key: os.environ/MASTER_KEY\n  enable_jwt_auth: true", 1)
	sys := startSystem(t, cfg, 1, "JWT_PUBLIC_KEY_URL="+idp.JWKSURL)
	edge := sys.edges[0]
	for _, team := range []map[string]any{{"team_id": "team-a", "models": []string{"gpt-4"}}, {"team_id": "team-b", "models": []string{"gpt-4o"}}} {
		call(t, "POST", sys.control.url("/team/new"), masterKey, team, nil)
	}
	if code, _ := callRaw(t, "POST", edge.url("/team/new"), idp.Token(t, "admin-cli"), map[string]any{"team_id": "made-by-jwt-admin"}); code != 200 {
		t.Fatalf("admin JWT from the configured provider: %d", code)
	}
	expectChat(t, edge, idp.Token(t, "svc-a"), "gpt-4", 200, "")
	expectChat(t, edge, idp.Token(t, "svc-a"), "gpt-4o", 403, "team_model_access_denied")
	tokB := idp2.Token(t, "svc-b")
	expectChat(t, edge, tokB, "gpt-4o", 200, "")
	expectChat(t, edge, tokB, "gpt-4", 403, "team_model_access_denied")
	// A restart with the same config publishes nothing new.
	var before, after json.RawMessage
	call(t, "GET", sys.control.url("/gatehouse/state"), masterKey, nil, &before)
	sys.control.restart()
	call(t, "GET", sys.control.url("/gatehouse/state"), masterKey, nil, &after)
	if string(before) != string(after) {
		t.Fatal("control restart with an unchanged config changed the state")
	}
}
