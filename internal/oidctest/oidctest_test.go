package oidctest_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oidctest"
)

func TestMain(m *testing.M) {
	if err := oidctest.Available(); err != nil {
		// No skipping: CI must have node. Fail loudly instead.
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

var consumerClaims = map[string]any{
	"roles":     []any{"litellm.api.consumer"},
	"tenant_id": "my-unique-tenant",
	"resource_access": map[string]any{
		"litellm-test-client-id": map[string]any{"roles": []any{"basic_user"}},
	},
	"groups": []any{"team-a", "team-b"},
	"email":  "dev@my-co.com",
}

func startTwoClients(t *testing.T) *oidctest.Provider {
	return oidctest.Start(t,
		oidctest.Client{
			ID: "consumer-rs", Secret: "s3cr3t-rs",
			Scopes:   []string{"llm.read", "llm.write"},
			Alg:      "RS256",
			Audience: "gatehouse-api",
			Claims:   consumerClaims,
		},
		oidctest.Client{
			ID: "service-es", Secret: "s3cr3t/es +&=", // needs form-encoding in Basic auth
			Scopes:     []string{"llm.read"},
			Alg:        "ES256",
			Audience:   "https://gatehouse.test/api",
			AuthMethod: "client_secret_post",
			TTL:        2 * time.Minute,
		},
	)
}

func TestProviderTokensRotationRestart(t *testing.T) {
	start := time.Now()
	p := startTwoClients(t)
	t.Logf("provider %s up in %s", p.Issuer, time.Since(start))

	if !strings.HasPrefix(p.Issuer, "http://127.0.0.1:") || p.Port == 0 {
		t.Fatalf("issuer %q port %d", p.Issuer, p.Port)
	}
	disc := discovery(t, p)
	if disc.Issuer != p.Issuer || disc.JWKSURI != p.JWKSURL || disc.TokenEndpoint != p.TokenURL {
		t.Fatalf("discovery %+v vs provider %+v", disc, p)
	}
	if !slices.Contains(disc.GrantTypes, "client_credentials") {
		t.Fatalf("grant_types_supported %v lacks client_credentials", disc.GrantTypes)
	}

	keys := fetchJWKS(t, p.JWKSURL)
	if len(keys) != 2 {
		t.Fatalf("want one RSA and one EC key, got %d", len(keys))
	}

	// RS256 client, all its scopes.
	rsTok := p.Token(t, "consumer-rs")
	h, c := verify(t, rsTok, keys)
	rsKid := h["kid"].(string)
	if h["alg"] != "RS256" || h["typ"] != "at+jwt" || !strings.HasPrefix(rsKid, "rsa-") {
		t.Fatalf("header %v", h)
	}
	assertStd(t, c, p.Issuer, "gatehouse-api", "consumer-rs", "llm.read llm.write", time.Hour)
	for k, want := range consumerClaims {
		if !reflect.DeepEqual(c[k], want) {
			t.Errorf("claim %s = %#v, want %#v", k, c[k], want)
		}
	}

	// A subset of scopes.
	_, c = verify(t, p.Token(t, "consumer-rs", "llm.write"), keys)
	if c["scope"] != "llm.write" {
		t.Fatalf("scope %v", c["scope"])
	}

	// ES256 client, client_secret_post, URI audience, custom TTL.
	esTok := p.Token(t, "service-es")
	h, c = verify(t, esTok, keys)
	esKid := h["kid"].(string)
	if h["alg"] != "ES256" || !strings.HasPrefix(esKid, "ec-") || esKid == rsKid {
		t.Fatalf("header %v", h)
	}
	assertStd(t, c, p.Issuer, "https://gatehouse.test/api", "service-es", "llm.read", 2*time.Minute)
	if _, ok := c["roles"]; ok {
		t.Fatalf("service-es got another client's claims: %v", c)
	}

	// OAuth errors come back as errors, not tokens.
	ctx := context.Background()
	for name, req := range map[string]oidctest.TokenRequest{
		"scope not allowed":        {ClientID: "consumer-rs", Scopes: []string{"llm.admin"}},
		"static scope not allowed": {ClientID: "consumer-rs", Scopes: []string{"openid"}},
		"wrong secret":             {ClientID: "consumer-rs", Secret: "nope"},
		"unknown client":           {ClientID: "nobody", Secret: "x"},
		"foreign resource":         {ClientID: "consumer-rs", Resource: "https://other.example/"},
	} {
		resp, err := p.RequestToken(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if resp.Error == "" || resp.AccessToken != "" || resp.StatusCode < 400 {
			t.Fatalf("%s: want an OAuth error, got %+v", name, resp)
		}
		t.Logf("%s: %d %s: %s", name, resp.StatusCode, resp.Error, resp.ErrorDescription)
	}
	// Without a resource parameter the provider defaults to the client's.
	resp, err := p.RequestToken(ctx, oidctest.TokenRequest{ClientID: "consumer-rs", NoResource: true})
	if err != nil || resp.AccessToken == "" {
		t.Fatalf("no resource: %v %+v", err, resp)
	}
	if _, c = verify(t, resp.AccessToken, keys); c["aud"] != "gatehouse-api" {
		t.Fatalf("no resource: aud %v", c["aud"])
	}

	// Rotation: a new RSA kid signs, old keys stay published.
	newKid := p.Rotate(t)
	if newKid == rsKid || !strings.HasPrefix(newKid, "rsa-") {
		t.Fatalf("rotated kid %q (old %q)", newKid, rsKid)
	}
	keys = fetchJWKS(t, p.JWKSURL)
	for _, kid := range []string{newKid, rsKid, esKid} {
		if keys[kid] == nil {
			t.Fatalf("kid %s not in JWKS after rotation (%v)", kid, keys)
		}
	}
	if ks := p.Keys(t); ks.Signing["RS256"] != newKid || ks.Signing["ES256"] != esKid || len(ks.Kids) != 3 {
		t.Fatalf("key state %+v", ks)
	}
	h, _ = verify(t, p.Token(t, "consumer-rs"), keys)
	if h["kid"] != newKid {
		t.Fatalf("token after rotation signed by %v, want %s", h["kid"], newKid)
	}
	verify(t, rsTok, keys) // old token still verifies
	if h, _ = verify(t, p.Token(t, "service-es"), keys); h["kid"] != esKid {
		t.Fatalf("ES256 kid changed by an RS256 rotation: %v", h["kid"])
	}

	// Stop: the provider is down.
	p.Stop()
	p.Stop() // idempotent
	if p.Running() {
		t.Fatal("running after Stop")
	}
	if r, err := http.Get(p.DiscoveryURL); err == nil {
		r.Body.Close()
		t.Fatal("discovery answered while stopped")
	}
	if _, err := p.RequestToken(ctx, oidctest.TokenRequest{ClientID: "consumer-rs"}); err == nil {
		t.Fatal("token endpoint answered while stopped")
	}

	// Restart: same port, issuer and keys.
	issuer, port := p.Issuer, p.Port
	p.Restart(t)
	if p.Issuer != issuer || p.Port != port || !p.Running() {
		t.Fatalf("restart moved the provider: %s %d -> %s %d", issuer, port, p.Issuer, p.Port)
	}
	if d := discovery(t, p); d.Issuer != issuer {
		t.Fatalf("discovery after restart: %+v", d)
	}
	after := fetchJWKS(t, p.JWKSURL)
	if !reflect.DeepEqual(sortedKeys(after), sortedKeys(keys)) {
		t.Fatalf("JWKS changed across restart: %v -> %v", sortedKeys(keys), sortedKeys(after))
	}
	h, c = verify(t, p.Token(t, "consumer-rs"), keys) // verified with the keys cached before the restart
	if h["kid"] != newKid || c["iss"] != issuer {
		t.Fatalf("after restart: header %v iss %v", h, c["iss"])
	}

	// Rotation dropping the old keys of that alg.
	ecKid2 := p.RotateWith(t, oidctest.RotateOptions{Alg: "ES256", DropOld: true})
	keys = fetchJWKS(t, p.JWKSURL)
	if keys[esKid] != nil || keys[ecKid2] == nil || keys[newKid] == nil || keys[rsKid] == nil {
		t.Fatalf("after ES256 rotation with drop_old: %v", sortedKeys(keys))
	}
	if h, _ = verify(t, p.Token(t, "service-es"), keys); h["kid"] != ecKid2 {
		t.Fatalf("ES256 token kid %v, want %s", h["kid"], ecKid2)
	}
	rsKid3 := p.RotateWith(t, oidctest.RotateOptions{DropOld: true})
	if keys = fetchJWKS(t, p.JWKSURL); len(keys) != 2 || keys[rsKid3] == nil || keys[ecKid2] == nil {
		t.Fatalf("after RS256 rotation with drop_old: %v", sortedKeys(keys))
	}
}

func TestOverrideClaims(t *testing.T) {
	p := oidctest.Start(t, oidctest.Client{
		ID: "user-app", Secret: "pw",
		Override: map[string]any{"sub": "user-42", "aud": []any{"gatehouse", "other"}, "exp": 1},
		Claims:   map[string]any{"team_ids": []any{"t1"}},
	})
	_, c := verify(t, p.Token(t, "user-app", "anything"), fetchJWKS(t, p.JWKSURL))
	if c["sub"] != "user-42" || !reflect.DeepEqual(c["aud"], []any{"gatehouse", "other"}) ||
		c["exp"] != json.Number("1") || c["scope"] != "anything" || c["client_id"] != "user-app" {
		t.Fatalf("claims %v", c)
	}
	if !reflect.DeepEqual(c["team_ids"], []any{"t1"}) {
		t.Fatalf("team_ids %v", c["team_ids"])
	}
}

// ---------------------------------------------------------------- helpers

type discoveryDoc struct {
	Issuer        string   `json:"issuer"`
	JWKSURI       string   `json:"jwks_uri"`
	TokenEndpoint string   `json:"token_endpoint"`
	GrantTypes    []string `json:"grant_types_supported"`
}

func discovery(t *testing.T, p *oidctest.Provider) discoveryDoc {
	t.Helper()
	var d discoveryDoc
	getJSON(t, p.DiscoveryURL, &d)
	return d
}

func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// fetchJWKS returns the public keys by kid.
func fetchJWKS(t *testing.T, url string) map[string]crypto.PublicKey {
	t.Helper()
	var set struct {
		Keys []struct {
			Kty, Kid, Alg, Use, N, E, Crv, X, Y, D string
		} `json:"keys"`
	}
	getJSON(t, url, &set)
	out := map[string]crypto.PublicKey{}
	for _, k := range set.Keys {
		if k.D != "" {
			t.Fatalf("JWKS publishes a private key: %s", k.Kid)
		}
		if k.Use != "sig" || k.Kid == "" {
			t.Fatalf("key %+v", k)
		}
		switch k.Kty {
		case "RSA":
			n, e := b64(t, k.N), b64(t, k.E)
			out[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		case "EC":
			if k.Crv != "P-256" {
				t.Fatalf("curve %s", k.Crv)
			}
			pt := append([]byte{4}, append(b64(t, k.X), b64(t, k.Y)...)...)
			pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
			if err != nil {
				t.Fatal(err)
			}
			out[k.Kid] = pub
		default:
			t.Fatalf("unexpected kty %s", k.Kty)
		}
	}
	return out
}

// verify checks the JWS signature against keys and returns header and claims.
func verify(t *testing.T, token string, keys map[string]crypto.PublicKey) (map[string]any, map[string]any) {
	t.Helper()
	h, c, err := oidctest.ParseUnverified(token)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := h["kid"].(string)
	key := keys[kid]
	if key == nil {
		t.Fatalf("kid %q not in JWKS", kid)
	}
	i := strings.LastIndexByte(token, '.')
	digest := sha256.Sum256([]byte(token[:i]))
	sig := b64(t, token[i+1:])
	switch h["alg"] {
	case "RS256":
		pub, ok := key.(*rsa.PublicKey)
		if !ok {
			t.Fatalf("RS256 token, %T key", key)
		}
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			t.Fatalf("RS256 signature: %v", err)
		}
	case "ES256":
		pub, ok := key.(*ecdsa.PublicKey)
		if !ok || len(sig) != 64 {
			t.Fatalf("ES256 token, %T key, %d-byte signature", key, len(sig))
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(pub, digest[:], r, s) {
			t.Fatal("ES256 signature does not verify")
		}
	default:
		t.Fatalf("alg %v", h["alg"])
	}
	return h, c
}

func assertStd(t *testing.T, c map[string]any, iss, aud, clientID, scope string, ttl time.Duration) {
	t.Helper()
	if c["iss"] != iss || c["aud"] != aud || c["sub"] != clientID || c["client_id"] != clientID || c["scope"] != scope {
		t.Fatalf("claims %v; want iss %s aud %s sub/client_id %s scope %q", c, iss, aud, clientID, scope)
	}
	iat, _ := c["iat"].(json.Number).Int64()
	exp, _ := c["exp"].(json.Number).Int64()
	now := time.Now().Unix()
	if iat < now-60 || iat > now+60 || time.Duration(exp-iat)*time.Second != ttl {
		t.Fatalf("iat %d exp %d now %d ttl %s", iat, exp, now, ttl)
	}
	if jti, _ := c["jti"].(string); jti == "" {
		t.Fatal("no jti")
	}
}

func sortedKeys(m map[string]crypto.PublicKey) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// SigningKey hands out the private half of the key that signs tokens: its
// public half is the one the JWKS publishes under the token's kid.
func TestSigningKey(t *testing.T) {
	p := startTwoClients(t)
	keys := fetchJWKS(t, p.JWKSURL)
	for _, alg := range []string{"RS256", "ES256"} {
		kid, priv := p.SigningKey(t, alg)
		pub, ok := keys[kid]
		if !ok {
			t.Fatalf("%s: kid %q not in the JWKS %v", alg, kid, sortedKeys(keys))
		}
		if !priv.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			t.Fatalf("%s: private key does not match the published %s", alg, kid)
		}
	}
	if kid := p.Rotate(t); func() string { k, _ := p.SigningKey(t, "RS256"); return k }() != kid {
		t.Fatal("SigningKey does not follow a rotation")
	}
}

// TestOpaqueTokensAndUserinfo: an Opaque client's tokens are not JWTs,
// and UserinfoURL answers with their claims (401 for anything else).
func TestOpaqueTokensAndUserinfo(t *testing.T) {
	p := oidctest.Start(t, oidctest.Client{ID: "opaque-svc", Secret: "s3cret", Opaque: true, Scopes: []string{"read"},
		Claims: map[string]any{"groups": []string{"team-a"}, "email": "svc@example.com"}})
	tok := p.Token(t, "opaque-svc")
	if strings.Count(tok, ".") == 2 {
		t.Fatalf("opaque client got a JWT: %s", tok)
	}
	get := func(bearer string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", p.UserinfoURL, nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	code, claims := get(tok)
	if code != 200 || claims["sub"] != "opaque-svc" || claims["email"] != "svc@example.com" || claims["scope"] != "read" {
		t.Fatalf("userinfo: %d %v", code, claims)
	}
	if code, _ := get("not-a-token"); code != 401 {
		t.Fatalf("userinfo of an unknown token: %d", code)
	}
}
