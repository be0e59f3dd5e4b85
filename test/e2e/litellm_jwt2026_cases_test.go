package e2e

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// TestLiteLLMJWT2026Cases: LiteLLM's current verification cases that need
// a real OpenID provider (npm oidc-provider), through an edge: the v2
// authn verifier's cases (tests/test_litellm/proxy/auth/v2/authn/
// test_jwt_verifier.py) and the issuers cases of test_handle_jwt.py. One
// row per LiteLLM case, named after it; the unit rows are auth/verifier's
// and auth/jwtauth's litellm_jwt2026_cases_test.go.
func TestLiteLLMJWT2026Cases(t *testing.T) {
	one := oidctest.Start(t,
		oidctest.Client{ID: "svc", Secret: "s1", Audience: "litellm"},
		oidctest.Client{ID: "other-aud", Secret: "s2", Audience: "someone-else"},
		oidctest.Client{ID: "evil-iss", Secret: "s3", Audience: "litellm", Override: map[string]any{"iss": "https://evil.example"}},
		oidctest.Client{ID: "expired", Secret: "s4", Audience: "litellm", Override: map[string]any{"exp": 1}},
	)
	two := oidctest.Start(t,
		oidctest.Client{ID: "repo-bot", Secret: "s1", Audience: "audience-two",
			Claims: map[string]any{"repository_owner": "example-org", "repository": "example-org/litellm-fork"}},
		oidctest.Client{ID: "repo-bot-wrong-aud", Secret: "s2", Audience: "wrong-audience",
			Claims: map[string]any{"repository_owner": "example-org", "repository": "example-org/litellm-fork"}},
	)
	unknown := oidctest.Start(t, oidctest.Client{ID: "stranger", Secret: "s1", Audience: "litellm"})

	sys := startSystem(t, jwtConfig, 1)
	edge := sys.edges[0]
	if code, raw := callRaw(t, "POST", sys.control.url("/team/new"), masterKey,
		map[string]any{"team_id": "example-org/litellm-fork", "models": []string{"gpt-4"}}); code != 200 {
		t.Fatalf("/team/new: %d %s", code, raw)
	}

	type caseRow struct {
		name, tok, model string
		status           int
		typ              string
		msg              string
	}
	run := func(t *testing.T, rows []caseRow) {
		t.Helper()
		for _, r := range rows {
			t.Run(r.name, func(t *testing.T) {
				if r.status == 200 {
					expectChat(t, edge, r.tok, r.model, 200, "")
					return
				}
				code, raw := callRaw(t, "POST", edge.url("/v1/chat/completions"), r.tok, chat(r.model))
				expectErrorParts(t, r.name, code, raw, r.status, "", r.msg)
				if r.typ != "" && !strings.Contains(string(raw), `"type":"`+r.typ+`"`) {
					t.Errorf("%s: want type %s: %s", r.name, r.typ, raw)
				}
			})
		}
	}

	t.Run("test_jwt_verifier.py", func(t *testing.T) {
		// verify(token, keys, issuer, audience): JWT_ISSUER and JWT_AUDIENCE.
		setJWT(t, sys, map[string]any{"public_key_urls": jwks(one), "issuer": one.Issuer, "audience": "litellm"})
		good := one.Token(t, "svc")
		run(t, []caseRow{
			{name: "test_valid_token_returns_claims", tok: good, model: "gpt-4", status: 200},
			{name: "test_tampered_signature_is_rejected", tok: good[:len(good)-4] + "AAAA", model: "gpt-4", status: 401, msg: "Signature verification failed"},
			{name: "test_expired_token_is_rejected", tok: one.Token(t, "expired"), model: "gpt-4", status: 401, typ: "expired_key", msg: "Token Expired"},
			{name: "test_wrong_audience_is_rejected", tok: one.Token(t, "other-aud"), model: "gpt-4", status: 401, msg: "Audience doesn't match"},
			{name: "test_wrong_issuer_is_rejected", tok: one.Token(t, "evil-iss"), model: "gpt-4", status: 401, msg: "Invalid issuer"},
			{name: "test_token_signed_by_unknown_key_is_rejected", tok: unknown.Token(t, "stranger"), model: "gpt-4", status: 401,
				msg: "No matching public key found"},
			{name: "test_garbage_is_rejected", tok: "not.a.jwt", model: "gpt-4", status: 401},
		})
	})

	t.Run("issuers", func(t *testing.T) {
		// Issuer one's entry has no jwks_url: its discovery document.
		setJWT(t, sys, map[string]any{"litellm_jwtauth": map[string]any{"issuers": []map[string]any{
			{"issuer": one.Issuer, "audience": "litellm"},
			{"issuer": two.Issuer, "audience": "audience-two", "jwks_url": two.JWKSURL,
				"user_id_jwt_field": "repository_owner", "team_id_jwt_field": "repository"},
		}, "user_id_upsert": true}})
		bot := two.Token(t, "repo-bot")
		run(t, []caseRow{
			{name: "test_get_jwks_url_for_issuer_falls_back_to_discovery_document", tok: one.Token(t, "svc"), model: "gpt-4o", status: 200},
			{name: "test_multi_issuer_jwt_validates_selected_issuer_and_maps_claims", tok: bot, model: "gpt-4", status: 200},
			// The mapped team is the request's: its model list applies.
			{name: "test_multi_issuer_jwt_validates_selected_issuer_and_maps_claims/team models", tok: bot, model: "gpt-4o", status: 403,
				typ: "team_model_access_denied", msg: "Team=example-org/litellm-fork"},
			{name: "test_multi_issuer_jwt_rejects_wrong_audience", tok: two.Token(t, "repo-bot-wrong-aud"), model: "gpt-4", status: 401,
				msg: "Validation fails: Audience doesn't match"},
			{name: "test_multi_issuer_jwt_unknown_issuer_falls_back_to_global_jwks", tok: unknown.Token(t, "stranger"), model: "gpt-4", status: 401,
				msg: "Missing JWT Public Key URL from environment."},
		})
	})
}
