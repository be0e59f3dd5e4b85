package e2e

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// TestJWTOrgsAndEndUsers: tokens from the real OpenID provider name an
// org (org_id_jwt_field) and an end user (end_user_id_jwt_field). The org
// must exist and bounds the team's models; the end user of the claim wins
// over the body's "user", so a caller cannot escape its block by naming
// someone else.
func TestJWTOrgsAndEndUsers(t *testing.T) {
	idp := oidctest.Start(t,
		oidctest.Client{ID: "org-svc", Secret: "s1", Claims: map[string]any{"org_id": "acme", "customer_id": "cust-jwt"}},
		oidctest.Client{ID: "ghost-svc", Secret: "s2", Claims: map[string]any{"org_id": "no-such-org"}},
	)
	sys := startSystem(t, jwtConfig, 2)
	a, b := sys.edges[0], sys.edges[1]
	for _, req := range []struct {
		path string
		body map[string]any
	}{
		{"/organization/new", map[string]any{"organization_id": "acme", "organization_alias": "Acme", "models": []string{"gpt-4"}}},
		{"/team/new", map[string]any{"team_id": "org-svc", "organization_id": "acme"}},
		{"/team/new", map[string]any{"team_id": "ghost-svc"}},
	} {
		if code, raw := callRaw(t, "POST", sys.control.url(req.path), masterKey, req.body); code != 200 {
			t.Fatalf("%s: %d %s", req.path, code, raw)
		}
	}
	setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp), "litellm_jwtauth": map[string]any{
		"team_id_jwt_field": "client_id", "org_id_jwt_field": "org_id", "end_user_id_jwt_field": "customer_id"}})
	tok := idp.Token(t, "org-svc")
	for _, e := range sys.edges {
		expectChat(t, e, tok, "gpt-4", 200, "")
		expectChat(t, e, tok, "gpt-4o", 403, "org_model_access_denied")
	}
	code, raw := callRaw(t, "POST", a.url("/v1/chat/completions"), idp.Token(t, "ghost-svc"), chat("gpt-4"))
	expectError(t, "unknown org claim", code, raw, 401, "auth_error", "", "Organization doesn't exist in db. Organization=no-such-org")

	if code, raw := callRaw(t, "POST", sys.control.url("/customer/block"), masterKey, map[string]any{"user_ids": []string{"cust-jwt"}}); code != 200 {
		t.Fatalf("/customer/block: %d %s", code, raw)
	}
	refusedEverywhere(t, []*proc{a, b}, tok, chatAs("gpt-4", "someone-else"), 400, "end_user_blocked", "user", "User=cust-jwt")
	// Another caller naming the blocked end user in "user" is refused too.
	key := generateKey(t, a, map[string]any{})
	refusedEverywhere(t, []*proc{b}, key, chatAs("gpt-4", "cust-jwt"), 400, "end_user_blocked", "user", "User=cust-jwt")
	if code, raw := callRaw(t, "POST", b.url("/v1/chat/completions"), key, chatAs("gpt-4", "someone-else")); code != 200 {
		t.Fatalf("unblocked end user refused: %d %s", code, raw)
	}
}
