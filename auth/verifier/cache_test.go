package verifier

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/lestrrat-go/jwx/v2/jwa"
)

// Key rotation: the provider publishes a new key and signs with it at
// once. The first token with the new kid succeeds (refetch on miss), long
// before the TTL.
func TestRotationRefetchOnMiss(t *testing.T) {
	k, p, clk, v := rsVerifier(t, Config{})
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
// RefetchInterval however many tokens and however concurrent; a kid
// looked for once is refused without a fetch for RefetchCooldown.
func TestKidFloodIsRateLimited(t *testing.T) {
	k := keys(t)
	p := newIDP(t, k.rs, k.rs2)
	clk := newClock()
	const interval = 200 * time.Millisecond
	v := newVerifier(t, clk, Config{PublicKeyURLs: []string{p.jwksURL()}, RefetchCooldown: 5 * time.Second, RefetchInterval: interval})
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
	flood := func() time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		for _, tok := range toks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := v.Verify(context.Background(), tok)
				if e, ok := err.(*apierror.Error); !ok || e.Status != 401 {
					t.Errorf("random kid: %v", err)
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	// Every kid is looked for by a fetch that started after it was seen:
	// the first, or the next one RefetchInterval later, shared by every
	// kid that arrived meanwhile. However long launching the flood takes
	// (-race), that is at most one fetch per interval, plus the first.
	limit := func(d time.Duration) int64 { return int64(d/interval) + 2 }
	d := flood()
	if n := p.hits.Load() - base; n < 1 || n > limit(d) {
		t.Errorf("1000 random kids in %v caused %d fetches, want 1 to %d", d, n, limit(d))
	}
	// The same kids again, inside their cooldown: refused from the cache.
	before := p.hits.Load()
	clk.Add(4 * time.Second)
	flood()
	if n := p.hits.Load() - before; n != 0 {
		t.Errorf("inside the cooldown: %d fetches, want 0", n)
	}
	// Cooldown over: they cost one or two fetches again, not 1000.
	clk.Add(2 * time.Second)
	before = p.hits.Load()
	d = flood()
	if n := p.hits.Load() - before; n < 1 || n > limit(d) {
		t.Errorf("next window: %d fetches in %v, want 1 to %d", n, d, limit(d))
	}
	if s := v.Stats(); s.RefetchSuppressed < 1000 || s.Unavailable != 0 {
		t.Errorf("stats = %+v", s)
	}
	// Known kids are unaffected by the flood.
	if _, err := v.Verify(context.Background(), sign(t, k.rs2, baseClaims(clk), nil)); err != nil {
		t.Fatal(err)
	}
}

// A made-up kid arms nothing that a real rotation has to wait out: with
// made-up kids arriving all the time, a token signed by a key published a
// moment ago is accepted by the first fetch that starts after it arrives
// (at most one RefetchInterval away), never refused.
func TestMadeUpKidsDoNotDelayRotation(t *testing.T) {
	const interval = 300 * time.Millisecond
	k, p, clk, v := rsVerifier(t, Config{RefetchInterval: interval})
	if err := v.Prefetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	payload := mustJSON(baseClaims(clk))
	sig := rs256(rawKeys().rsa1)
	stop := testutil.Flood(8, func(w, i int) {
		_, _ = v.Verify(context.Background(), craft(fmt.Sprintf(`{"alg":"RS256","kid":"made-up-%d-%d"}`, w, i), payload, sig))
	})
	defer stop()
	eventually(t, "the flood to cost a fetch", func() bool { return v.Stats().RefetchOnMiss >= 2 })

	for round := 0; round < 3; round++ {
		nk := newTestKey(t, fmt.Sprintf("rotated-%d", round), jwa.RS256, rawKeys().rsa2, true)
		p.setKeys(k.rs, nk)
		before := p.hits.Load()
		start := time.Now()
		if _, err := v.Verify(context.Background(), sign(t, nk, baseClaims(clk), nil)); err != nil {
			t.Fatalf("round %d: the first token of a rotation under a kid flood: %v", round, err)
		}
		if d := time.Since(start); d > interval+time.Second {
			t.Errorf("round %d: accepted after %v, want within one interval (%v) and one fetch", round, d, interval)
		}
		// The fetch that answered it may be one already waiting for its
		// start (the flood's) or one it started itself: at most two.
		if n := p.hits.Load() - before; n > 2 {
			t.Errorf("round %d: %d fetches to accept the rotation", round, n)
		}
	}
}

// The provider is down when a token with a new kid arrives: 503 with a
// Retry-After. The provider comes back with the key; the first retry after
// Retry-After is accepted (a failed fetch must not arm anything that
// refuses the retry).
func TestOutageThenFirstRetryAccepted(t *testing.T) {
	k, p, clk, v := rsVerifier(t, Config{OutageBackoff: 2 * time.Second})
	if err := v.Prefetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	tok := sign(t, k.rs2, baseClaims(clk), nil)
	p.down.Store(true)
	_, err := v.Verify(context.Background(), tok)
	e := apiErr(t, err, 503)
	ra, perr := strconv.Atoi(e.Header["Retry-After"])
	if perr != nil || ra < 1 || ra > 3 {
		t.Fatalf("Retry-After = %q", e.Header["Retry-After"])
	}
	// Retrying early is answered from the outage window, without a fetch.
	hits := p.anyHits.Load()
	apiErr(t, func() error { _, err := v.Verify(context.Background(), tok); return err }(), 503)
	if p.anyHits.Load() != hits {
		t.Error("a retry inside the outage window reached the provider")
	}
	p.setKeys(k.rs, k.rs2)
	p.down.Store(false)
	clk.Add(time.Duration(ra) * time.Second)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("first retry after Retry-After: %v", err)
	}
}

// A provider that answers 429/503 with Retry-After is not asked again
// before then, and our 503 passes the wait on.
func TestProviderRetryAfterHonoured(t *testing.T) {
	k, p, clk, v := rsVerifier(t, Config{})
	p.retryAfter.Store(20)
	p.status.Store(429)
	_, err := v.Verify(context.Background(), sign(t, k.rs, baseClaims(clk), nil))
	e := apiErr(t, err, 503)
	if e.Header["Retry-After"] != "20" {
		t.Errorf("Retry-After = %q, want the provider's 20", e.Header["Retry-After"])
	}
	if n := p.hits.Load(); n != 1 {
		t.Errorf("%d requests; a 429 must not be retried", n)
	}
	p.status.Store(0)
	clk.Add(10 * time.Second)
	apiErr(t, func() error {
		_, err := v.Verify(context.Background(), sign(t, k.rs, baseClaims(clk), nil))
		return err
	}(), 503)
	clk.Add(10 * time.Second)
	if _, err := v.Verify(context.Background(), sign(t, k.rs, baseClaims(clk), nil)); err != nil {
		t.Fatal(err)
	}
}

// The provider's Cache-Control shortens the freshness (never below a
// minute, never beyond the TTL): the set is refreshed in the background
// once max-age has passed, so a scheduled rotation is picked up before a
// token needs it.
func TestProviderMaxAge(t *testing.T) {
	for _, tc := range []struct {
		cc   string
		ttl  time.Duration
		want time.Duration
	}{
		{"", 10 * time.Minute, 10 * time.Minute},
		{"public, max-age=120, must-revalidate", 10 * time.Minute, 2 * time.Minute},
		{"max-age=3600", 10 * time.Minute, 10 * time.Minute},
		{"no-cache", 10 * time.Minute, time.Minute},
		{"max-age=5", 30 * time.Second, 30 * time.Second},
		{"max-age=bogus", 10 * time.Minute, 10 * time.Minute},
	} {
		if got := freshFor(tc.cc, tc.ttl); got != tc.want {
			t.Errorf("freshFor(%q, %v) = %v, want %v", tc.cc, tc.ttl, got, tc.want)
		}
	}
	k := keys(t)
	p := newIDP(t, k.rs)
	p.cacheControl.Store("max-age=120")
	clk := newClock()
	v := newVerifier(t, clk, Config{PublicKeyURLs: []string{p.jwksURL()}})
	if err := v.Prefetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.setKeys(k.rs, k.rs2)
	clk.Add(121 * time.Second)
	if _, err := v.Verify(context.Background(), sign(t, k.rs, baseClaims(clk), nil)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "background refresh after max-age", func() bool { return v.Stats().BackgroundRefreshes == 1 && p.hits.Load() == 2 })
	before := v.Stats().RefetchOnMiss
	if _, err := v.Verify(context.Background(), sign(t, k.rs2, baseClaims(clk), nil)); err != nil {
		t.Fatal(err)
	}
	if v.Stats().RefetchOnMiss != before {
		t.Error("the rotated key needed a refetch; the max-age refresh should have brought it")
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
	const ttl, stale = 10 * time.Minute, time.Hour
	k, p, clk, v := rsVerifier(t, Config{TTL: ttl, StaleTTL: stale, OutageBackoff: 2 * time.Second})
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
	k, p, clk, v := rsVerifier(t, Config{TTL: time.Minute, StaleTTLSet: true})
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
	k, p, clk, v := rsVerifier(t, Config{TTL: time.Minute})
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
	k, p, clk, v := rsVerifier(t, Config{RetryBackoff: 20 * time.Millisecond})
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

// With several URLs, a key found in one is used even when another URL,
// listed first, is down (a deliberate difference: LiteLLM answers 503 at the
// first unreachable URL and tries no other; README, audit finding 5); a kid
// found nowhere while a URL is down is a 503, not a 401.
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

	// The audit's repro: nothing listens on the first URL.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	v2 := newVerifier(t, clk, Config{PublicKeyURLs: []string{closed.URL + "/jwks", a.jwksURL()}})
	if _, err := v2.Verify(context.Background(), sign(t, k.rs, baseClaims(clk), nil)); err != nil {
		t.Fatalf("first URL refuses connections: %v", err)
	}
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
