package verifier

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apierror"
)

// Key rotation: the provider publishes a new key and signs with it at
// once. The first token with the new kid succeeds (refetch on miss), long
// before the TTL.
func TestRotationRefetchOnMiss(t *testing.T) {
	k := keys(t)
	p := newIDP(t, k.rs)
	clk := newClock()
	v := newVerifier(t, clk, Config{PublicKeyURLs: []string{p.jwksURL()}})
	if _, err := v.Verify(context.Background(), sign(t, k.rs, baseClaims(clk), nil)); err != nil {
		t.Fatal(err)
	}
	p.setKeys(k.rs, k.rs2)
	clk.Add(time.Second)
	if _, err := v.Verify(context.Background(), sign(t, k.rs2, baseClaims(clk), nil)); err != nil {
		t.Fatalf("first token with the rotated key: %v", err)
	}
	if s := v.Stats(); s.RefetchOnMiss != 1 || s.Fetches != 2 {
		t.Errorf("stats = %+v", s)
	}
	// Old key retired: tokens it signed keep working until the next fetch.
	p.setKeys(k.rs2)
	if _, err := v.Verify(context.Background(), sign(t, k.rs, baseClaims(clk), nil)); err != nil {
		t.Fatalf("retired key within TTL: %v", err)
	}
}

// An attacker spraying random kids costs the IdP at most one request per
// RefetchCooldown, however many tokens and however concurrent.
func TestKidFloodIsRateLimited(t *testing.T) {
	k := keys(t)
	p := newIDP(t, k.rs, k.rs2)
	clk := newClock()
	v := newVerifier(t, clk, Config{PublicKeyURLs: []string{p.jwksURL()}, RefetchCooldown: 5 * time.Second})
	if err := v.Prefetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	base := p.hits.Load()
	payload := mustJSON(baseClaims(clk))
	sig := rs256(rawKeys().rsa1)
	toks := make([]string, 1000)
	for i := range toks {
		toks[i] = craft(fmt.Sprintf(`{"alg":"RS256","kid":"random-%d"}`, i), payload, sig)
	}
	flood := func() {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		for _, tok := range toks {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				_, err := v.Verify(context.Background(), tok)
				if e, ok := err.(*apierror.Error); !ok || e.Status != 401 {
					t.Errorf("random kid: %v", err)
				}
			}()
		}
		wg.Wait()
	}
	flood()
	if n := p.hits.Load() - base; n != 1 {
		t.Errorf("1000 random kids caused %d fetches, want 1", n)
	}
	// Still inside the cooldown: nothing more.
	clk.Add(4 * time.Second)
	flood()
	if n := p.hits.Load() - base; n != 1 {
		t.Errorf("inside the cooldown: %d fetches, want 1", n)
	}
	// Next cooldown window: one more.
	clk.Add(2 * time.Second)
	flood()
	if n := p.hits.Load() - base; n != 2 {
		t.Errorf("next window: %d fetches, want 2", n)
	}
	s := v.Stats()
	if s.RefetchOnMiss != 2 || s.RefetchSuppressed == 0 {
		t.Errorf("stats = %+v", s)
	}
	// Known kids are unaffected by the flood.
	if _, err := v.Verify(context.Background(), sign(t, k.rs2, baseClaims(clk), nil)); err != nil {
		t.Fatal(err)
	}
}

// A cold cache hit by many requests at once fetches once.
func TestColdStartSingleFlight(t *testing.T) {
	k := keys(t)
	p := newIDP(t, k.es)
	clk := newClock()
	v := newVerifier(t, clk, Config{PublicKeyURLs: []string{p.jwksURL()}})
	tok := sign(t, k.es, baseClaims(clk), nil)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.Verify(context.Background(), tok); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := p.hits.Load(); n != 1 {
		t.Errorf("%d fetches for a cold cache, want 1", n)
	}
}

// The provider goes down: fresh keys serve, stale keys serve within the
// stale window (a background refresh is attempted), then 503; when the
// provider is back, everything recovers.
func TestProviderDown(t *testing.T) {
	k := keys(t)
	p := newIDP(t, k.rs)
	clk := newClock()
	const ttl, stale = 10 * time.Minute, time.Hour
	v := newVerifier(t, clk, Config{PublicKeyURLs: []string{p.jwksURL()}, TTL: ttl, StaleTTL: stale, OutageBackoff: 2 * time.Second})
	if err := v.Prefetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	verify := func() error {
		_, err := v.Verify(context.Background(), sign(t, k.rs, baseClaims(clk), nil))
		return err
	}
	p.down.Store(true)

	clk.Add(ttl / 2)
	if err := verify(); err != nil {
		t.Fatalf("within TTL: %v", err)
	}
	if p.anyHits.Load() != 1 {
		t.Fatalf("a fresh set caused a fetch")
	}

	clk.Add(ttl) // past TTL, inside the stale window
	if err := verify(); err != nil {
		t.Fatalf("stale window: %v", err)
	}
	eventually(t, "background refresh to fail", func() bool { return v.Stats().FetchFailures == 1 })
	s := v.Stats()
	if s.BackgroundRefreshes != 1 || s.StaleServed < 1 {
		t.Errorf("stats = %+v", s)
	}
	// 3 attempts (transport errors are retried) for the one refresh. (The
	// server may see one more: net/http itself retries a GET once when a
	// kept-alive connection dies.)
	if n := v.Stats().HTTPRequests; n != 1+3 {
		t.Errorf("requests = %d, want 1 + 3 attempts", n)
	}
	// Inside the outage window nothing is retried, stale still served.
	hits := p.anyHits.Load()
	for i := 0; i < 50; i++ {
		if err := verify(); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.anyHits.Load(); n != hits {
		t.Errorf("outage window not respected: %d requests", n-hits)
	}
	// After the outage window, the next request starts another refresh.
	clk.Add(3 * time.Second)
	if err := verify(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "second background refresh to fail", func() bool { return v.Stats().FetchFailures == 2 })

	// Past TTL + stale: no usable copy, the provider is down: 503.
	clk.Add(stale)
	err := verify()
	e := apiErr(t, err, 503)
	if e.Type != "auth_provider_unavailable" || e.Code != "auth_provider_unavailable" || !errors.Is(err, ErrProviderUnavailable) {
		t.Errorf("error = %+v", e)
	}
	if e.Header["Retry-After"] == "" {
		t.Error("503 without Retry-After")
	}
	// Inside the outage window: 503 at once, no request.
	before := p.anyHits.Load()
	for i := 0; i < 20; i++ {
		apiErr(t, verify(), 503)
	}
	if p.anyHits.Load() != before {
		t.Error("requests sent to a down provider inside the outage window")
	}

	// The provider comes back.
	p.down.Store(false)
	clk.Add(3 * time.Second)
	if err := verify(); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if s := v.Stats(); s.Unavailable != 21 {
		t.Errorf("Unavailable = %d, want 21", s.Unavailable)
	}
}

// public_key_stale_ttl 0: fail closed right after the TTL.
func TestStaleTTLZeroFailsClosed(t *testing.T) {
	k := keys(t)
	p := newIDP(t, k.rs)
	clk := newClock()
	v := newVerifier(t, clk, Config{PublicKeyURLs: []string{p.jwksURL()}, TTL: time.Minute, StaleTTLSet: true})
	if err := v.Prefetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.down.Store(true)
	clk.Add(time.Minute + time.Second)
	_, err := v.Verify(context.Background(), sign(t, k.rs, baseClaims(clk), nil))
	apiErr(t, err, 503)
	// Provider up, same situation: the request waits for the refetch.
	p.down.Store(false)
	clk.Add(5 * time.Second)
	if _, err := v.Verify(context.Background(), sign(t, k.rs, baseClaims(clk), nil)); err != nil {
		t.Fatal(err)
	}
}

// A non-200 or garbage JWKS keeps the last good set in use within the
// stale window, like an outage. With a cold cache, a setup error (404,
// garbage) is a 401 naming it, and only a provider that is down a 503.
func TestBadResponsesKeepLastGoodSet(t *testing.T) {
	k := keys(t)
	p := newIDP(t, k.rs)
	clk := newClock()
	v := newVerifier(t, clk, Config{PublicKeyURLs: []string{p.jwksURL()}, TTL: time.Minute})
	if err := v.Prefetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.setBody(`<html>maintenance</html>`)
	clk.Add(2 * time.Minute)
	if _, err := v.Verify(context.Background(), sign(t, k.rs, baseClaims(clk), nil)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "refresh failure", func() bool { return v.Stats().FetchFailures == 1 })
	if _, err := v.Verify(context.Background(), sign(t, k.rs, baseClaims(clk), nil)); err != nil {
		t.Fatalf("last good set not kept: %v", err)
	}
	// 404: not retried (one request), cold cache: 401 naming the cause,
	// also while the failure is remembered (no refetch per request).
	p.status.Store(404)
	cold := newVerifier(t, clk, Config{PublicKeyURLs: []string{p.jwksURL()}})
	before := p.hits.Load()
	for range 2 {
		_, err := cold.Verify(context.Background(), sign(t, k.rs, baseClaims(clk), nil))
		if e := apiErr(t, err, 401); !strings.Contains(e.Message, "HTTP 404") || e.Header["Retry-After"] != "" {
			t.Errorf("404 JWKS: %q %v", e.Message, e.Header)
		}
	}
	if n := p.hits.Load() - before; n != 1 {
		t.Errorf("404 fetched %d times, want 1 (no retry)", n)
	}
	// 500: retried.
	p.status.Store(500)
	cold2 := newVerifier(t, clk, Config{PublicKeyURLs: []string{p.jwksURL()}})
	before = p.hits.Load()
	_, err := cold2.Verify(context.Background(), sign(t, k.rs, baseClaims(clk), nil))
	apiErr(t, err, 503)
	if n := p.hits.Load() - before; n != 3 {
		t.Errorf("500 fetched %d times, want 3", n)
	}
}

// A transport error followed by success inside one fetch: retries hide it.
func TestRetryRecovers(t *testing.T) {
	k := keys(t)
	p := newIDP(t, k.rs)
	clk := newClock()
	v := newVerifier(t, clk, Config{PublicKeyURLs: []string{p.jwksURL()}, RetryBackoff: 20 * time.Millisecond})
	p.down.Store(true)
	go func() {
		for p.anyHits.Load() < 1 {
			time.Sleep(time.Millisecond)
		}
		p.down.Store(false)
	}()
	if _, err := v.Verify(context.Background(), sign(t, k.rs, baseClaims(clk), nil)); err != nil {
		t.Fatal(err)
	}
	if s := v.Stats(); s.Fetches != 1 || s.FetchFailures != 0 || s.HTTPRequests < 2 {
		t.Errorf("stats = %+v", s)
	}
}

// With several URLs, a key found in one is used even when another URL is
// down; a kid found nowhere while a URL is down is a 503, not a 401.
func TestOneOfTwoProvidersDown(t *testing.T) {
	k := keys(t)
	a := newIDP(t, k.rs)
	b := newIDP(t, k.es)
	b.down.Store(true)
	clk := newClock()
	v := newVerifier(t, clk, Config{PublicKeyURLs: []string{b.jwksURL(), a.jwksURL()}})
	if _, err := v.Verify(context.Background(), sign(t, k.rs, baseClaims(clk), nil)); err != nil {
		t.Fatalf("key of the reachable provider: %v", err)
	}
	_, err := v.Verify(context.Background(), sign(t, k.es, baseClaims(clk), nil))
	apiErr(t, err, 503)
}

// A request whose context ends while waiting for a fetch returns; the
// fetch goes on for the others.
func TestWaitHonoursContext(t *testing.T) {
	k := keys(t)
	p := newIDP(t, k.rs)
	clk := newClock()
	p.down.Store(true)
	v := newVerifier(t, clk, Config{PublicKeyURLs: []string{p.jwksURL()}, RetryBackoff: 200 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := v.Verify(ctx, sign(t, k.rs, baseClaims(clk), nil))
	apiErr(t, err, 503)
	if d := time.Since(start); d > 150*time.Millisecond {
		t.Errorf("Verify took %v after its context ended", d)
	}
}
