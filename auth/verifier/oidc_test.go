package verifier

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oidctest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// The key-cache guarantees against the real OpenID provider of the test
// suite (npm oidc-provider), on the wall clock: it is stopped, restarted
// and rotated as an operator's would be.

func realVerifier(t *testing.T, p *oidctest.Provider, cfg Config) *Verifier {
	t.Helper()
	cfg.PublicKeyURLs = []string{p.JWKSURL}
	cfg.Issuer = p.Issuer
	cfg.Logger = quietLog
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	if err := v.Prefetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	return v
}

// Provider down when a token with a new kid arrives: 503 with
// Retry-After. It comes back publishing that key; the client's first
// retry after Retry-After is accepted (before the fix: 401, because the
// failed fetch had armed the refetch cooldown).
func TestRealProviderOutageFirstRetryAccepted(t *testing.T) {
	p := oidctest.Start(t, oidctest.Client{ID: "svc", Secret: "s1"})
	v := realVerifier(t, p, Config{})
	if _, err := v.Verify(context.Background(), p.Token(t, "svc")); err != nil {
		t.Fatal(err)
	}
	p.Rotate(t)
	tok := p.Token(t, "svc") // signed with a kid this verifier has not fetched
	p.Stop()
	stopped := time.Now()

	_, err := v.Verify(context.Background(), tok)
	e := apiErr(t, err, 503)
	refused := time.Now()
	ra, perr := strconv.Atoi(e.Header["Retry-After"])
	if perr != nil || ra < 1 {
		t.Fatalf("503 without a usable Retry-After: %q", e.Header["Retry-After"])
	}
	t.Logf("503 after %v, Retry-After: %d", time.Since(stopped).Round(time.Millisecond), ra)
	p.Restart(t)
	waitFor(refused.Add(time.Duration(ra) * time.Second))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("first retry %ds after the 503 (Retry-After: %d), provider back with the key: %v", ra, ra, err)
	}
	if s := v.Stats(); s.FetchFailures == 0 {
		t.Errorf("stats = %+v: the outage was not seen", s)
	}
}

// Unauthenticated made-up kids, sent continuously, do not delay a real
// rotation beyond one fetch: each rotated key's first token is accepted on
// its first attempt, within one refetch interval and one fetch, and the
// provider sees at most one fetch per interval for the whole flood.
func TestRealProviderMadeUpKidsDoNotDelayRotation(t *testing.T) {
	p := oidctest.Start(t, oidctest.Client{ID: "svc", Secret: "s1"})
	v := realVerifier(t, p, Config{})
	genuine := p.Token(t, "svc")
	payload := genuine[strings.IndexByte(genuine, '.')+1 : strings.LastIndexByte(genuine, '.')]
	attacker := rs256(rawKeys().attacker)

	start := time.Now()
	before := v.Stats()
	var sent sync.Map
	stop := testutil.Flood(8, func(w, i int) {
		in := seg(fmt.Sprintf(`{"alg":"RS256","kid":"made-up-%d-%d"}`, w, i)) + "." + payload
		tok := in + "." + b64.EncodeToString(attacker([]byte(in)))
		if _, err := v.Verify(context.Background(), tok); err == nil {
			t.Error("a made-up kid verified")
		}
		sent.Store(w, i+1)
	})
	defer stop()
	eventually(t, "the flood to cost fetches", func() bool { return v.Stats().RefetchOnMiss-before.RefetchOnMiss >= 2 })

	for round := 0; round < 3; round++ {
		kid := p.Rotate(t)
		tok := p.Token(t, "svc")
		t0 := time.Now()
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatalf("round %d: first token of kid %s under a made-up-kid flood: %v", round, kid, err)
		}
		if d := time.Since(t0); d > DefaultRefetchInterval+2*time.Second {
			t.Errorf("round %d: accepted after %v", round, d)
		}
	}
	stop()
	elapsed := time.Since(start)
	total := 0
	sent.Range(func(_, n any) bool { total += n.(int); return true })
	s := v.Stats()
	fetches := s.Fetches - before.Fetches
	if limit := int64(elapsed/DefaultRefetchInterval) + 2; fetches > limit {
		t.Errorf("%d fetches in %v for %d made-up kids; the interval allows %d", fetches, elapsed, total, limit)
	}
	t.Logf("%d made-up kids in %v cost the provider %d fetches; 3 rotations accepted on the first try", total, elapsed.Round(time.Millisecond), fetches)
}

func waitFor(deadline time.Time) {
	if d := time.Until(deadline); d > 0 {
		<-time.After(d)
	}
}
