package gateway

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// jwtFixture is an edge with JWT auth against a local JWKS, in front of an
// upstream that counts what reaches it.
type jwtFixture struct {
	edge     *edgeUnderTest
	key      *rsa.PrivateKey
	upstream atomic.Int64
	attacker atomic.Int64
	attackJW string
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (f *jwtFixture) sign(header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	in := b64(h) + "." + b64(c)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, f.key, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return in + "." + b64(sig)
}

func unsigned(header, claims map[string]any, sig []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return b64(h) + "." + b64(c) + "." + b64(sig)
}

func jwkOf(k *rsa.PublicKey, kid string) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
}

func startJWTEdge(t *testing.T) *jwtFixture {
	t.Helper()
	f := &jwtFixture{}
	var err error
	if f.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{jwkOf(&f.key.PublicKey, "k1")}})
	}))
	t.Cleanup(jwks.Close)
	attackerKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.attacker.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{jwkOf(&attackerKey.PublicKey, "k1")}})
	}))
	t.Cleanup(attacker.Close)
	f.attackJW = attacker.URL
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.upstream.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`)
	}))
	t.Cleanup(up.Close)

	f.edge = startEdge(t, true)
	f.edge.put(t, &events.Model{ID: "m1", ModelName: "m", LiteLLMParams: events.ModelParams{Model: "openai/gpt-4o", APIBase: up.URL + "/v1", APIKey: "sk-upstream-secret-00000000"}})
	f.edge.put(t, &events.Team{TeamID: "t", Models: []string{}})
	s := &events.JWTSettings{ID: events.JWTSettingsID, Enabled: true, PublicKeyURLs: []string{jwks.URL},
		Audience: "gatehouse", Issuer: "https://idp.example", Auth: events.JWTAuth{TeamIDJWTField: "team"}.WithDefaults()}
	f.edge.put(t, s)
	testutil.Eventually(t, 10*time.Second, func() error {
		if f.edge.live.Load().JWT() == nil {
			return fmt.Errorf("settings not applied")
		}
		return nil
	})
	return f
}

func (f *jwtFixture) claims(mod func(map[string]any)) map[string]any {
	now := time.Now().Unix()
	c := map[string]any{"iss": "https://idp.example", "aud": "gatehouse", "sub": "svc", "team": "t", "iat": now, "exp": now + 600}
	if mod != nil {
		mod(c)
	}
	return c
}

var rs256 = map[string]any{"alg": "RS256", "kid": "k1", "typ": "JWT"}

func with(h map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for kk, vv := range h {
		out[kk] = vv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

// TestJWTAttacksNeverReachUpstream: every forged, stale or malformed token
// is refused at the edge with the right status, and the upstream model sees
// none of them (nor does a JWKS URL named by the token).
func TestJWTAttacksNeverReachUpstream(t *testing.T) {
	f := startJWTEdge(t)
	good := f.sign(rs256, f.claims(nil))
	pubDER, _ := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hs := func(secret []byte) string {
		h, _ := json.Marshal(map[string]any{"alg": "HS256", "kid": "k1", "typ": "JWT"})
		c, _ := json.Marshal(f.claims(nil))
		in := b64(h) + "." + b64(c)
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(in))
		return in + "." + b64(m.Sum(nil))
	}
	parts := strings.Split(good, ".")
	now := time.Now().Unix()
	attacks := []struct {
		name   string
		token  string
		status int
	}{
		{"alg none", unsigned(map[string]any{"alg": "none", "typ": "JWT"}, f.claims(nil), nil), 401},
		{"alg none with signature", unsigned(map[string]any{"alg": "none"}, f.claims(nil), []byte("x")), 401},
		{"HS256 signed with the RSA public key (PEM)", hs(pubPEM), 401},
		{"HS256 signed with the RSA public key (DER)", hs(pubDER), 401},
		{"expired", f.sign(rs256, f.claims(func(c map[string]any) { c["exp"] = now - 60 })), 401},
		{"no exp", f.sign(rs256, f.claims(func(c map[string]any) { delete(c, "exp") })), 401},
		{"nbf in the future", f.sign(rs256, f.claims(func(c map[string]any) { c["nbf"] = now + 3600 })), 401},
		{"iat in the future", f.sign(rs256, f.claims(func(c map[string]any) { c["iat"] = now + 3600 })), 401},
		{"wrong aud", f.sign(rs256, f.claims(func(c map[string]any) { c["aud"] = "someone-else" })), 401},
		{"wrong iss", f.sign(rs256, f.claims(func(c map[string]any) { c["iss"] = "https://evil.example" })), 401},
		{"unknown kid", f.sign(with(rs256, "kid", "k2"), f.claims(nil)), 401},
		{"kid path traversal", f.sign(with(rs256, "kid", "../../../etc/passwd"), f.claims(nil)), 401},
		{"kid SQL-ish", f.sign(with(rs256, "kid", "' OR '1'='1"), f.claims(nil)), 401},
		{"jku pointing elsewhere", f.sign(with(rs256, "jku", f.attackJW), f.claims(nil)), 200 /* the header is ignored: the token is genuinely signed by our IdP */},
		{"jku with attacker-signed token", unsigned(with(rs256, "jku", f.attackJW), f.claims(nil), []byte(strings.Repeat("A", 256))), 401},
		{"x5u pointing elsewhere, bad signature", unsigned(with(rs256, "x5u", f.attackJW), f.claims(nil), []byte("sig")), 401},
		{"crit header", f.sign(with(rs256, "crit", []string{"exp-ext"}), f.claims(nil)), 401},
		{"signature stripped", parts[0] + "." + parts[1] + ".", 401},
		{"payload tampered", parts[0] + "." + b64([]byte(`{"iss":"https://idp.example","aud":"gatehouse","team":"t","exp":9999999999,"admin":true}`)) + "." + parts[2], 401},
		{"truncated", good[:len(good)-10], 401},
		{"two parts", parts[0] + "." + parts[1], 401},
		{"not base64", "a!b.c$d.e%f", 401},
		{"100 KB token", f.sign(rs256, f.claims(func(c map[string]any) { c["pad"] = strings.Repeat("x", 100<<10) })), 431},
	}
	for _, a := range attacks {
		before := f.upstream.Load()
		if a.status == 431 {
			// Headers beyond the server's read buffer: fasthttp answers 431
			// and closes, and a client still writing may see the reset
			// first. Either way the request is refused before any handler.
			code, err := tryDo(f.edge.url+"/v1/chat/completions", a.token)
			if err == nil && code != 431 {
				t.Errorf("%s: status %d, want 431 or a closed connection", a.name, code)
			}
			if f.upstream.Load() != before {
				t.Errorf("%s: the request reached the upstream", a.name)
			}
			continue
		}
		code, body := do(t, "POST", f.edge.url+"/v1/chat/completions", bearer(a.token), `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
		if code != a.status {
			t.Errorf("%s: status %d, want %d: %.200s", a.name, code, a.status, body)
		}
		if a.status != 200 && f.upstream.Load() != before {
			t.Errorf("%s: the request reached the upstream", a.name)
		}
		if a.status != 200 && !strings.Contains(body, `"error"`) {
			t.Errorf("%s: not an error envelope: %.200s", a.name, body)
		}
		if strings.Contains(body, "sk-upstream-secret") || (len(a.token) > 40 && strings.Contains(body, a.token)) {
			t.Errorf("%s: response leaks a secret or echoes the token", a.name)
		}
	}
	if n := f.attacker.Load(); n != 0 {
		t.Fatalf("the attacker's JWKS URL was fetched %d times", n)
	}
	// The canonical unsigned token ("header.payload.", alg none) is a JWT
	// (LiteLLM: three dot-separated parts) and is refused for its alg, not
	// told that JWT auth is off (audit finding 4).
	none := unsigned(map[string]any{"alg": "none", "typ": "JWT"}, f.claims(nil), nil)
	if code, body := do(t, "POST", f.edge.url+"/v1/chat/completions", bearer(none), `{"model":"m","messages":[{"role":"user","content":"hi"}]}`); code != 401 || !strings.Contains(body, "Validation fails: The specified alg value is not allowed") {
		t.Errorf("alg none, empty signature: %d %.300s", code, body)
	}
	// The control: a good token reaches the upstream.
	before := f.upstream.Load()
	if code, body := do(t, "POST", f.edge.url+"/v1/chat/completions", bearer(good), `{"model":"m","messages":[{"role":"user","content":"hi"}]}`); code != 200 {
		t.Fatalf("good token: %d %s", code, body)
	}
	if f.upstream.Load() != before+1 {
		t.Fatal("good token did not reach the upstream")
	}
}

func tryDo(url, token string) (int, error) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(`{"model":"m","messages":[]}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestJWTPolicyChangeTakesEffectWithCachedToken: the verified-token cache
// never hides a policy change: the same (cached) token is refused on the
// next request after its team is blocked, and after the settings change.
func TestJWTPolicyChangeTakesEffectWithCachedToken(t *testing.T) {
	f := startJWTEdge(t)
	tok := f.sign(rs256, f.claims(nil))
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	if code, b := do(t, "POST", f.edge.url+"/v1/chat/completions", bearer(tok), body); code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	f.edge.put(t, &events.Team{TeamID: "t", Blocked: true})
	testutil.Eventually(t, 5*time.Second, func() error {
		if code, _ := do(t, "POST", f.edge.url+"/v1/chat/completions", bearer(tok), body); code != 401 {
			return fmt.Errorf("blocked team still admitted: %d", code)
		}
		return nil
	})
	f.edge.put(t, &events.Team{TeamID: "t"})
	s := *f.edge.live.Load().JWT()
	s.Auth.TeamAllowedRoutes = []string{"/v1/embeddings"}
	f.edge.put(t, &s)
	testutil.Eventually(t, 5*time.Second, func() error {
		if code, _ := do(t, "POST", f.edge.url+"/v1/chat/completions", bearer(tok), body); code != 403 {
			return fmt.Errorf("route change not enforced: %d", code)
		}
		return nil
	})
	_ = context.Background
}

// TestJWTAdminOutsideAdminRoutes: an admin-scope JWT on a route outside
// admin_allowed_routes is a 401 auth_error naming the expanded routes, as
// LiteLLM's plain Exception (audit finding 1), not a 403.
func TestJWTAdminOutsideAdminRoutes(t *testing.T) {
	f := startJWTEdge(t)
	tok := f.sign(rs256, f.claims(func(c map[string]any) { delete(c, "team"); c["scope"] = "litellm_proxy_admin" }))
	before := f.upstream.Load()
	code, body := do(t, "POST", f.edge.url+"/v1/chat/completions", bearer(tok), `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	if code != 401 || !strings.Contains(body, `"type":"auth_error"`) ||
		!strings.Contains(body, "Admin not allowed to access this route. Route=/v1/chat/completions, Allowed Routes=['/user/new', ") {
		t.Fatalf("%d %.400s", code, body)
	}
	if strings.Contains(body, "management_routes") {
		t.Errorf("the message names a group, not its routes: %.400s", body)
	}
	if f.upstream.Load() != before {
		t.Error("the request reached the upstream")
	}
}
