package verifier

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

func baseClaims(clk *clock) map[string]any {
	return map[string]any{
		"sub": "alice",
		"iss": "https://idp.example",
		"aud": "gatehouse",
		"exp": clk.Unix(time.Hour),
		"iat": clk.Unix(0),
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestHappyPaths(t *testing.T) {
	k := keys(t)
	p := newIDP(t, k.rs, k.rs2, k.ps, k.es, k.es384, k.ed)
	clk := newClock()
	v := newVerifier(t, clk, Config{PublicKeyURLs: []string{p.jwksURL()}, Audience: "gatehouse", Issuer: "https://idp.example", RequireExp: true})
	if err := v.Prefetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, key := range []*testKey{k.rs, k.rs2, k.ps, k.es, k.es384, k.ed} {
		t.Run(key.alg.String()+"/"+key.pub.KeyID(), func(t *testing.T) {
			tok := sign(t, key, with(baseClaims(clk), "_litellm_team_id", "spoofed", "groups", []string{"a", "b"}), nil)
			c, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatal(err)
			}
			if aud, _ := c["aud"].([]any); c["sub"] != "alice" || len(aud) != 1 || aud[0] != "gatehouse" {
				t.Errorf("claims = %v", c)
			}
			if _, ok := c["_litellm_team_id"]; ok {
				t.Error("token-supplied _litellm_ claim was not stripped")
			}
			if g, ok := c["groups"].([]any); !ok || len(g) != 2 {
				t.Errorf("groups = %#v", c["groups"])
			}
			if _, ok := c["exp"].(float64); !ok {
				t.Errorf("exp is %T, want float64", c["exp"])
			}
		})
	}
	if s := v.Stats(); s.Fetches != 1 || s.HTTPRequests != 1 {
		t.Errorf("stats = %+v, want exactly one fetch for all tokens", s)
	}
	// aud as a list
	tok := sign(t, k.rs, with(baseClaims(clk), "aud", []string{"other", "gatehouse"}), nil)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Errorf("aud list: %v", err)
	}
}

func TestDiscovery(t *testing.T) {
	k := keys(t)
	p := newIDP(t, k.rs, k.es)
	clk := newClock()
	v := newVerifier(t, clk, Config{PublicKeyURLs: []string{p.discoveryURL()}})
	for i := 0; i < 3; i++ {
		if _, err := v.Verify(context.Background(), sign(t, k.es, baseClaims(clk), nil)); err != nil {
			t.Fatal(err)
		}
	}
	if d, h := p.discHits.Load(), p.hits.Load(); d != 1 || h != 1 {
		t.Errorf("discovery hits %d, jwks hits %d; want 1, 1", d, h)
	}
	// The unknown-kid refetch reuses the resolved jwks_uri.
	k2 := keys(t)
	p.setKeys(k.rs, k.es, k2.rs2)
	if _, err := v.Verify(context.Background(), sign(t, k2.rs2, baseClaims(clk), nil)); err != nil {
		t.Fatal(err)
	}
	if d, h := p.discHits.Load(), p.hits.Load(); d != 1 || h != 2 {
		t.Errorf("after rotation: discovery hits %d, jwks hits %d; want 1, 2", d, h)
	}
	// After the TTL the discovery document is resolved again.
	clk.Add(DefaultTTL + time.Second)
	if _, err := v.Verify(context.Background(), sign(t, k.es, baseClaims(clk), nil)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "background refresh", func() bool { return p.discHits.Load() == 2 && p.hits.Load() == 3 })
}

func TestDiscoveryWithoutJWKSURI(t *testing.T) {
	k := keys(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"issuer":"https://idp.example"}`))
	}))
	defer srv.Close()
	clk := newClock()
	v := newVerifier(t, clk, Config{PublicKeyURLs: []string{srv.URL + "/.well-known/openid-configuration"}})
	err := v.Prefetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), "does not contain a 'jwks_uri' field") {
		t.Errorf("Prefetch err = %v", err)
	}
	// A setup error, not an outage: 401 naming it, no Retry-After, within
	// the outage window and after it.
	for range 2 {
		_, err = v.Verify(context.Background(), sign(t, k.rs, baseClaims(clk), nil))
		if e := apiErr(t, err, 401); !strings.Contains(e.Message, "does not contain a 'jwks_uri' field") || e.Header["Retry-After"] != "" {
			t.Errorf("discovery without jwks_uri: %q %v", e.Message, e.Header)
		}
		clk.Add(time.Minute) // past the outage window
	}
}

func TestTwoGlobalProviders(t *testing.T) {
	k := keys(t)
	a := newIDP(t, k.rs)
	b := newIDP(t, k.es, k.ed)
	clk := newClock()
	v := newVerifier(t, clk, Config{PublicKeyURLs: []string{a.jwksURL(), " ", b.discoveryURL()}})
	for _, key := range []*testKey{k.rs, k.es, k.ed} {
		if _, err := v.Verify(context.Background(), sign(t, key, baseClaims(clk), nil)); err != nil {
			t.Fatalf("%s: %v", key.pub.KeyID(), err)
		}
	}
	// Provider A is the single-key set: a kid-less token matches it.
	if _, err := v.Verify(context.Background(), craft(`{"alg":"RS256","typ":"JWT"}`, mustJSON(baseClaims(clk)), rs256(rawKeys().rsa1))); err != nil {
		t.Fatalf("kid-less token against a one-key set: %v", err)
	}
	// An unknown kid names every URL, as LiteLLM's message does.
	_, err := v.Verify(context.Background(), craft(`{"alg":"RS256","kid":"nope"}`, mustJSON(baseClaims(clk)), rs256(rawKeys().rsa1)))
	want := "No matching public key found. keys=['" + a.jwksURL() + "', '" + b.discoveryURL() + "'], kid=nope"
	if e := apiErr(t, err, 401); e.Message != want {
		t.Errorf("unknown kid: %q, want %q", e.Message, want)
	}
}

func TestPerIssuer(t *testing.T) {
	k := keys(t)
	a := newIDP(t, k.rs)
	b := newIDP(t, k.es)
	g := newIDP(t, k.ed)
	clk := newClock()
	v := newVerifier(t, clk, Config{
		PublicKeyURLs: []string{g.jwksURL()},
		Audience:      "global-aud",
		Issuers: []events.IssuerConfig{
			{Issuer: "https://a.example", Audience: "aud-a", JWKSURL: a.jwksURL()},
			{Issuer: "https://b.example", DisableAudienceValidation: true, JWKSURL: b.discoveryURL()},
		},
	})
	ok := func(name, tok string) {
		t.Helper()
		c, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		iss, _ := c["iss"].(string)
		is, matched := v.IssuerFor(c)
		if matched != (iss == "https://a.example" || iss == "https://b.example") || (matched && is.Issuer != iss) {
			t.Errorf("%s: IssuerFor = %+v, %v", name, is, matched)
		}
	}
	bad := func(name, tok, msg string) {
		t.Helper()
		_, err := v.Verify(context.Background(), tok)
		e := apiErr(t, err, 401)
		if !strings.Contains(e.Message, msg) {
			t.Errorf("%s: message %q, want %q", name, e.Message, msg)
		}
	}
	ok("issuer A", sign(t, k.rs, with(baseClaims(clk), "iss", "https://a.example", "aud", "aud-a"), nil))
	ok("issuer B, any aud", sign(t, k.es, with(baseClaims(clk), "iss", "https://b.example", "aud", "whatever"), nil))
	ok("issuer B, no aud", sign(t, k.es, with(baseClaims(clk), "iss", "https://b.example", "aud", nil), nil))
	ok("global", sign(t, k.ed, with(baseClaims(clk), "iss", "https://elsewhere", "aud", "global-aud"), nil))

	bad("A with B's audience", sign(t, k.rs, with(baseClaims(clk), "iss", "https://a.example", "aud", "global-aud"), nil), "Audience doesn't match")
	bad("A without aud", sign(t, k.rs, with(baseClaims(clk), "iss", "https://a.example", "aud", nil), nil), `missing the "aud" claim`)
	// Keys do not cross issuers: iss A signed with B's (or the global) key.
	bad("A signed by B", sign(t, k.es, with(baseClaims(clk), "iss", "https://a.example", "aud", "aud-a"), nil), "No matching public key found. keys="+a.jwksURL()+", kid=")
	bad("A signed by global", sign(t, k.ed, with(baseClaims(clk), "iss", "https://a.example", "aud", "aud-a"), nil), "No matching public key found")
	// A's key does not sign for the global path either.
	bad("global signed by A", sign(t, k.rs, with(baseClaims(clk), "iss", "https://elsewhere", "aud", "global-aud"), nil), "No matching public key found. keys=['"+g.jwksURL()+"'], kid=")
	bad("global aud", sign(t, k.ed, with(baseClaims(clk), "iss", "https://elsewhere", "aud", "aud-a"), nil), "Audience doesn't match")
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"issuer needs audience", Config{Issuers: []events.IssuerConfig{{Issuer: "https://a"}}}, "must configure audience or set disable_audience_validation=True"},
		{"issuer audience and disable", Config{Issuers: []events.IssuerConfig{{Issuer: "https://a", Audience: "x", DisableAudienceValidation: true}}}, "cannot set audience and disable_audience_validation=True together"},
		{"issuer empty", Config{Issuers: []events.IssuerConfig{{Audience: "x"}}}, "issuer is required"},
		{"issuer duplicate", Config{Issuers: []events.IssuerConfig{{Issuer: "https://a", Audience: "x"}, {Issuer: "https://a", Audience: "y"}}}, "duplicate issuer"},
		{"issuer bad jwks url", Config{Issuers: []events.IssuerConfig{{Issuer: "https://a", Audience: "x", JWKSURL: "file:///etc/passwd"}}}, "absolute http(s) URL"},
		{"relative url", Config{PublicKeyURLs: []string{"/jwks"}}, "absolute http(s) URL"},
		{"negative ttl", Config{TTL: -time.Second}, "must not be negative"},
		{"negative stale", Config{StaleTTL: -time.Second}, "must not be negative"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
	// Default discovery URL for an issuer without jwks_url.
	v, err := New(Config{Issuers: []events.IssuerConfig{{Issuer: "https://login.example/tenant/", Audience: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if got := v.sources[0].url; got != "https://login.example/tenant/.well-known/openid-configuration" || !v.sources[0].discovery {
		t.Errorf("default issuer url = %q", got)
	}
}

func TestMissingPublicKeyURL(t *testing.T) {
	clk := newClock()
	k := keys(t)
	v := newVerifier(t, clk, Config{})
	_, err := v.Verify(context.Background(), sign(t, k.rs, baseClaims(clk), nil))
	if e := apiErr(t, err, 401); e.Message != "Missing JWT Public Key URL from environment." {
		t.Errorf("message = %q", e.Message)
	}
}

func TestKidRules(t *testing.T) {
	k := keys(t)
	clk := newClock()
	multi := newIDP(t, k.rs, k.rs2)
	v := newVerifier(t, clk, Config{PublicKeyURLs: []string{multi.jwksURL()}})
	noKid := craft(`{"alg":"RS256"}`, mustJSON(baseClaims(clk)), rs256(rawKeys().rsa1))
	_, err := v.Verify(context.Background(), noKid)
	if e := apiErr(t, err, 401); e.Message != "No matching public key found. keys=['"+multi.jwksURL()+"'], kid=None" {
		t.Errorf("kid-less token against two keys: %q", e.Message)
	}
	single := newIDP(t, k.rs)
	v1 := newVerifier(t, clk, Config{PublicKeyURLs: []string{single.jwksURL()}})
	if _, err := v1.Verify(context.Background(), noKid); err != nil {
		t.Errorf("kid-less token against one key: %v", err)
	}
	wrongKid := craft(`{"alg":"RS256","kid":"rsa-9"}`, mustJSON(baseClaims(clk)), rs256(rawKeys().rsa1))
	_, err = v1.Verify(context.Background(), wrongKid)
	apiErr(t, err, 401)
}

func TestClaimChecks(t *testing.T) {
	k := keys(t)
	p := newIDP(t, k.es)
	clk := newClock()
	strict := newVerifier(t, clk, Config{PublicKeyURLs: []string{p.jwksURL()}, Audience: "gatehouse", Issuer: "https://idp.example", RequireExp: true})
	lenient := newVerifier(t, clk, Config{PublicKeyURLs: []string{p.jwksURL()}, Leeway: 30 * time.Second})
	tests := []struct {
		name   string
		v      *Verifier
		claims map[string]any
		status int
		msg    string
	}{
		{"ok", strict, baseClaims(clk), 0, ""},
		{"expired", strict, with(baseClaims(clk), "exp", clk.Unix(-time.Second)), 401, "Authentication Error, Token Expired"},
		{"exp now", strict, with(baseClaims(clk), "exp", clk.Unix(0)), 401, "Token Expired"},
		{"expired within leeway", lenient, with(baseClaims(clk), "exp", clk.Unix(-20*time.Second)), 0, ""},
		{"expired beyond leeway", lenient, with(baseClaims(clk), "exp", clk.Unix(-40*time.Second)), 401, "Token Expired"},
		{"nbf future", strict, with(baseClaims(clk), "nbf", clk.Unix(time.Minute)), 401, "The token is not yet valid (nbf)"},
		{"nbf within leeway", lenient, with(baseClaims(clk), "nbf", clk.Unix(20*time.Second)), 0, ""},
		{"iat future", strict, with(baseClaims(clk), "iat", clk.Unix(time.Minute)), 401, "The token is not yet valid (iat)"},
		{"iat within leeway", lenient, with(baseClaims(clk), "iat", clk.Unix(20*time.Second)), 0, ""},
		{"no exp required", strict, with(baseClaims(clk), "exp", nil), 401, `Token is missing the "exp" claim`},
		{"no exp allowed", lenient, with(baseClaims(clk), "exp", nil), 0, ""},
		{"wrong iss", strict, with(baseClaims(clk), "iss", "https://evil.example"), 401, "Validation fails: Invalid issuer"},
		{"no iss", strict, with(baseClaims(clk), "iss", nil), 401, `Token is missing the "iss" claim`},
		{"wrong aud", strict, with(baseClaims(clk), "aud", "other"), 401, "Validation fails: Audience doesn't match"},
		{"aud list miss", strict, with(baseClaims(clk), "aud", []string{"a", "b"}), 401, "Audience doesn't match"},
		{"no aud", strict, with(baseClaims(clk), "aud", nil), 401, `Token is missing the "aud" claim`},
		{"aud unchecked", lenient, with(baseClaims(clk), "aud", "other"), 0, ""},
		{"iss unchecked", lenient, with(baseClaims(clk), "iss", "anything"), 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.v.Verify(context.Background(), sign(t, k.es, tt.claims, nil))
			if tt.status == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			e := apiErr(t, err, tt.status)
			if !strings.Contains(e.Message, tt.msg) {
				t.Errorf("message %q, want %q", e.Message, tt.msg)
			}
		})
	}
	// Claims of the wrong type (crafted: jwx would not sign them).
	for _, tt := range []struct{ payload, msg string }{
		{`{"exp":"9999999999"}`, "Expiration Time claim (exp) must be an integer."},
		{`{"exp":9999999999,"nbf":true}`, "Not Before claim (nbf) must be an integer."},
		{`{"exp":9999999999,"iat":null}`, "Issued At claim (iat) must be an integer."},
		{`{"exp":9999999999,"iss":"https://idp.example","aud":{"a":1}}`, "Invalid claim format in token"},
		{`{"exp":9999999999,"iss":"https://idp.example","aud":["gatehouse",1]}`, "Invalid claim format in token"},
		{`{"exp":9999999999,"iss":7,"aud":"gatehouse"}`, "Invalid issuer"},
	} {
		tok := craft(`{"alg":"ES256","kid":"ec-1"}`, tt.payload, es256(rawKeys().ec256))
		_, err := strict.Verify(context.Background(), tok)
		if e := apiErr(t, err, 401); !strings.Contains(e.Message, tt.msg) {
			t.Errorf("%s: message %q, want %q", tt.payload, e.Message, tt.msg)
		}
	}
}

func TestExpiredError(t *testing.T) {
	k, _, clk, v := rsVerifier(t, Config{})
	_, err := v.Verify(context.Background(), sign(t, k.rs, with(baseClaims(clk), "exp", clk.Unix(-time.Hour)), nil))
	e := apiErr(t, err, 401)
	if e.Type != "expired_key" || e.Code != "expired_key" || e.Message != "Authentication Error, Token Expired" {
		t.Errorf("expired error = %+v", e)
	}
	if !errors.Is(err, apierror.ExpiredKey) {
		t.Error("errors.Is(err, apierror.ExpiredKey) is false")
	}
	if h := e.Header["WWW-Authenticate"]; h != `Bearer error="invalid_token", error_description="Token Expired"` {
		t.Errorf("WWW-Authenticate = %q", h)
	}
}

func TestJWKSShapes(t *testing.T) {
	k := keys(t)
	clk := newClock()
	der, err := x509.MarshalPKIXPublicKey(&rawKeys().rsa1.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	rsPub, _ := k.rs.pub.Clone()
	_ = rsPub.Set("use", "enc")
	tests := []struct {
		name  string
		body  string
		ok    bool
		noKid bool
	}{
		{"bare key", mustJSON(k.rs.pub), true, false},
		{"kid to PEM map", mustJSON(map[string]string{"rsa-1": pemKey}), true, false},
		// A PEM key has no kid: as in LiteLLM, it then matches kid-less tokens only.
		{"PEM", pemKey, true, true},
		{"set with junk and oct keys", `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"rsa-1"},{"kty":"nope"},` + mustJSON(k.rs.pub) + `]}`, true, false},
		{"only an enc key", `{"keys":[` + mustJSON(rsPub) + `]}`, false, false},
		{"only oct", `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"rsa-1"}]}`, false, false},
		{"keys null", `{"keys":null}`, false, false},
		{"html", `<html>oops</html>`, false, false},
		{"empty", ``, false, false},
		{"not a map of PEMs", `{"a":1}`, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newIDP(t)
			p.setBody(tt.body)
			v := newVerifier(t, clk, Config{PublicKeyURLs: []string{p.jwksURL()}})
			tok := sign(t, k.rs, baseClaims(clk), nil)
			if tt.noKid {
				tok = craft(`{"alg":"RS256"}`, mustJSON(baseClaims(clk)), rs256(rawKeys().rsa1))
			}
			_, err := v.Verify(context.Background(), tok)
			if tt.ok && err != nil {
				t.Fatal(err)
			}
			if !tt.ok {
				// An unusable body is the provider's or the URL's setup:
				// a 401 naming it, not a 503 inviting retries.
				if e := apiErr(t, err, 401); !strings.Contains(e.Message, "signing keys could not be loaded") {
					t.Errorf("message %q does not name the cause", e.Message)
				}
			}
		})
	}
}

func TestKeyAlgMustMatch(t *testing.T) {
	k := keys(t)
	clk := newClock()
	// rsa-1 declares alg RS256; a PS256 token with that kid is refused
	// even though PS256 would verify with the same RSA key.
	p := newIDP(t, k.rs)
	v := newVerifier(t, clk, Config{PublicKeyURLs: []string{p.jwksURL()}})
	ps := &testKey{alg: jwa.PS256, priv: k.rs.priv, pub: k.rs.pub}
	privNoAlg, _ := k.rs.priv.Clone()
	_ = privNoAlg.Remove("alg")
	ps.priv = privNoAlg
	_, err := v.Verify(context.Background(), sign(t, ps, baseClaims(clk), nil))
	apiErr(t, err, 401)
	if s := v.Stats(); s.RefetchOnMiss != 0 {
		t.Errorf("a kid with the wrong alg must not refetch: %+v", s)
	}
	// Without an alg on the key, PS256 with an RSA key is fine.
	p2 := newIDP(t, k.ps)
	v2 := newVerifier(t, clk, Config{PublicKeyURLs: []string{p2.jwksURL()}})
	if _, err := v2.Verify(context.Background(), sign(t, k.ps, baseClaims(clk), nil)); err != nil {
		t.Fatal(err)
	}
}

func TestFromSettings(t *testing.T) {
	s := &events.JWTSettings{
		PublicKeyURLs: []string{"https://a/jwks"},
		Audience:      "aud",
		Issuer:        "iss",
		Auth:          events.JWTAuth{PublicKeyTTL: 60, PublicKeyStaleTTL: ptr(0.0), LeewaySeconds: 5},
	}
	c := FromSettings(s)
	if c.TTL != time.Minute || !c.StaleTTLSet || c.StaleTTL != 0 || c.Leeway != 5*time.Second || !c.RequireExp || c.Audience != "aud" || c.Issuer != "iss" {
		t.Errorf("config = %+v", c)
	}
	s.Auth = events.JWTAuth{}.WithDefaults()
	s.Auth.AllowTokensWithoutExpiry = true
	c = FromSettings(s)
	if c.TTL != DefaultTTL || !c.StaleTTLSet || c.StaleTTL != DefaultStaleTTL || c.RequireExp {
		t.Errorf("config = %+v", c)
	}
}

func TestCloseStopsFetching(t *testing.T) {
	k, p, clk, v := rsVerifier(t, Config{})
	v.Close()
	v.Close() // idempotent
	_, err := v.Verify(context.Background(), sign(t, k.rs, baseClaims(clk), nil))
	apiErr(t, err, 503)
	if p.hits.Load() != 0 {
		t.Error("closed verifier fetched")
	}
}

func ptr[T any](v T) *T { return &v }
