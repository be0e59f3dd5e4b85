package jwtauth

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
)

func benchSnapshot(b *testing.B, s *events.JWTSettings) *policy.Snapshot {
	s2, err := policy.SnapshotOf(nil,
		&events.Model{ID: "m1", ModelName: "gpt-4o", LiteLLMParams: events.ModelParams{Model: "mock/gpt-4o"}},
		&events.Model{ID: "m2", ModelName: "openai/*", LiteLLMParams: events.ModelParams{Model: "openai/*"}, ModelInfo: events.ModelInfo{AccessGroups: []string{"default"}}},
		&events.Team{TeamID: "team-a", Models: []string{"gpt-4o", "default"}},
		s,
	)
	if err != nil {
		b.Fatal(err)
	}
	return s2
}

// BenchmarkCachedJWTAuthAndDecision is the per-request cost of a JWT caller
// whose token was verified before: one cache lookup and the policy decision
// against the live snapshot.
func BenchmarkCachedJWTAuthAndDecision(b *testing.B) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	enc := base64.RawURLEncoding.EncodeToString
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]any{"kty": "RSA", "kid": "k1", "alg": "RS256",
			"n": enc(key.N.Bytes()), "e": enc(big.NewInt(int64(key.E)).Bytes())}}})
	}))
	defer srv.Close()
	s := &events.JWTSettings{ID: events.JWTSettingsID, Enabled: true, PublicKeyURLs: []string{srv.URL}, Audience: "gw",
		Auth: events.JWTAuth{TeamIDJWTField: "team", RolesJWTField: events.ClaimPaths{"roles", "realm_access.roles"}}.WithDefaults()}
	snap := benchSnapshot(b, s)
	h, _ := json.Marshal(map[string]any{"alg": "RS256", "kid": "k1", "typ": "JWT"})
	c, _ := json.Marshal(map[string]any{"iss": "https://idp", "aud": "gw", "sub": "svc", "team": "team-a",
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "roles": []string{"a", "b"}, "scope": "openid profile"})
	in := enc(h) + "." + enc(c)
	sum := sha256.Sum256([]byte(in))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	tok := in + "." + enc(sig)

	m := &Manager{}
	eng, err := m.Engine(s)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	if _, err := eng.Authenticate(ctx, tok, now); err != nil {
		b.Fatal(err)
	}
	req := Request{Route: "/v1/chat/completions", Model: "gpt-4o"}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		id, err := eng.Authenticate(ctx, tok, now)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Decide(snap, id, req); err != nil {
			b.Fatal(err)
		}
	}
}
