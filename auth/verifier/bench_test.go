package verifier

import (
	"context"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Realistic claims: an Entra/Keycloak-sized access token.
func benchClaims(clk *clock) map[string]any {
	return with(baseClaims(clk),
		"email", "alice@example.com",
		"scope", "openid profile email litellm_proxy_admin",
		"groups", []string{"team-a", "team-b", "team-c"},
		"realm_access", map[string]any{"roles": []string{"offline_access", "uma_authorization"}},
		"azp", "gatehouse-client",
		"jti", "5f8b0a4e-6c1d-4a7e-9d3b-2f1e0c9a8b7d",
	)
}

func benchVerify(b *testing.B, key func(keyring) *testKey) {
	k := keys(b)
	p := newIDP(b, k.rs, k.rs2, k.es, k.ed)
	clk := newClock()
	v := newVerifier(b, clk, Config{PublicKeyURLs: []string{p.jwksURL()}, Audience: "gatehouse", Issuer: "https://idp.example", RequireExp: true})
	if err := v.Prefetch(context.Background()); err != nil {
		b.Fatal(err)
	}
	tok := sign(b, key(k), benchClaims(clk), nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	if s := v.Stats(); s.Fetches != 1 {
		b.Fatalf("the hot path fetched: %+v", s)
	}
}

// Full Verify against a cached JWKS: what a request pays.
func BenchmarkVerifyRS256(b *testing.B) { benchVerify(b, func(k keyring) *testKey { return k.rs }) }
func BenchmarkVerifyES256(b *testing.B) { benchVerify(b, func(k keyring) *testKey { return k.es }) }
func BenchmarkVerifyEdDSA(b *testing.B) { benchVerify(b, func(k keyring) *testKey { return k.ed }) }

// The same, from all CPUs: the cache read is lock-free.
func BenchmarkVerifyES256Parallel(b *testing.B) {
	k := keys(b)
	p := newIDP(b, k.rs, k.es)
	clk := newClock()
	v := newVerifier(b, clk, Config{PublicKeyURLs: []string{p.jwksURL()}, RequireExp: true})
	if err := v.Prefetch(context.Background()); err != nil {
		b.Fatal(err)
	}
	tok := sign(b, k.es, benchClaims(clk), nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// The floor: jwx's own jwt.Parse with the key handed over directly (no
// key lookup, no cache, validation on), for the same token.
func benchJWX(b *testing.B, key func(keyring) *testKey, raw any) {
	k := keys(b)
	clk := newClock()
	tk := key(k)
	tok := []byte(sign(b, tk, benchClaims(clk), nil))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jwt.Parse(tok, jwt.WithKey(tk.alg, raw), jwt.WithAudience("gatehouse"), jwt.WithIssuer("https://idp.example")); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJWXParseRS256(b *testing.B) {
	benchJWX(b, func(k keyring) *testKey { return k.rs }, &rawKeys().rsa1.PublicKey)
}

func BenchmarkJWXParseES256(b *testing.B) {
	benchJWX(b, func(k keyring) *testKey { return k.es }, &rawKeys().ec256.PublicKey)
}

// Refusals must be cheap: an alg-none flood costs no crypto and no I/O.
func BenchmarkRefuseAlgNone(b *testing.B) {
	k := keys(b)
	p := newIDP(b, k.rs)
	clk := newClock()
	v := newVerifier(b, clk, Config{PublicKeyURLs: []string{p.jwksURL()}})
	tok := craft(`{"alg":"none","kid":"rsa-1"}`, mustJSON(benchClaims(clk)), func([]byte) []byte { return []byte{1} })
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), tok); err == nil {
			b.Fatal("accepted")
		}
	}
}
