package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/backoff"
)

// The JWKS cache. One source per distinct configured URL (global and
// per-issuer entries share a source when they name the same URL).
//
// Reads: current() loads an atomic pointer and compares a time; that is
// all a request with a known kid and fresh keys pays.
//
// Writes: at most one fetch per source runs (or waits for its start) at a
// time, and every caller that needs one gets the same fetchCall; it runs
// on a context owned by the Verifier, so a caller that gives up does not
// cancel it for the others. A fetch that succeeds replaces the set; one
// that fails leaves the old set in place and opens an outage window
// (OutageBackoff, or the provider's Retry-After) during which the URL is
// not contacted.
//
// When a fetch happens:
//   - no set yet, or the set is older than TTL+StaleTTL: the request waits
//     for a fetch; failure is a 503;
//   - set past its freshness (TTL, or the provider's Cache-Control
//     max-age when shorter): served as is, one background refresh started
//     (stale-while-revalidate);
//   - unknown kid: see lookup. The rule that makes rotation safe is that
//     a kid is only ever called unknown (401) on the word of a fetch that
//     started after the kid was first seen. Fetches are numbered as they
//     start; a request notes the number before it looks, so it knows
//     whether the set it holds could contain a key published when its
//     token was issued. Everything else is about how that fetch is paid
//     for: a kid that such a fetch did not have is unknown for
//     RefetchCooldown (per kid, so a made-up kid never delays another
//     one), fetches for unknown kids start at most once per
//     RefetchInterval per URL (so a flood of made-up kids costs the
//     provider one request per interval), and every kid waiting at that
//     moment is answered by the same fetch. A failed fetch arms only the
//     outage window, never the interval: the first request after the
//     Retry-After we answered fetches again.

type fetchReason uint8

const (
	reasonNeeded fetchReason = iota // no usable set
	reasonBackground
	reasonPrefetch
)

// Bounds of the per-kid memory and of the provider's cache headers.
const (
	// maxTrackedKids bounds the per-URL map of unknown kids. Past it the
	// map is cleared: a forgotten kid costs at most one more (rate-limited)
	// fetch, never a wrong answer.
	maxTrackedKids = 4096
	// minProviderMaxAge is the shortest freshness a provider's
	// Cache-Control can impose: no-cache or max-age=0 must not turn every
	// request into a refresh.
	minProviderMaxAge = time.Minute
	// maxProviderRetryAfter caps how long a provider's Retry-After keeps
	// us from asking again.
	maxProviderRetryAfter = time.Minute
)

type source struct {
	v         *Verifier
	url       string
	discovery bool
	set       atomic.Pointer[keySet]
	// started numbers fetches as they start; a set carries the number of
	// the fetch that produced it.
	started atomic.Uint64

	mu          sync.Mutex
	inflight    *fetchCall // running, or waiting for its start
	lastMiss    time.Time  // start of the last fetch for an unknown kid; zero after a failure
	failedUntil time.Time
	// lastErr is the failure that set failedUntil: a setup error is
	// repeated to callers as itself (a 401 naming it), not as an outage.
	lastErr error
	kids    map[string]kidState

	// Owned by the running fetch (there is at most one, and begin/run hand
	// over under mu, which orders them).
	jwksURI    string
	resolvedAt time.Time
}

// kidState is what one URL knows about a kid it did not have.
type kidState struct {
	// since is the fetch number when the kid was first seen: any fetch
	// numbered above it looked for the kid.
	since uint64
	// checkedAt is when such a fetch came back without it (zero: none has
	// yet).
	checkedAt time.Time
}

type fetchCall struct {
	miss bool // started for an unknown kid: its start arms RefetchInterval
	done chan struct{}
	set  *keySet
	err  error
}

func (c *fetchCall) wait(ctx context.Context) (*keySet, error) {
	select {
	case <-c.done:
		return c.set, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

var errClosed = errors.New("verifier closed")

// outageError says the provider cannot be asked before until (a fetch
// failed, or the provider said Retry-After): the 503's Retry-After.
type outageError struct {
	until time.Time
	cause error
}

func (e *outageError) Error() string {
	if e.cause == nil {
		return "identity provider unreachable (recent fetch failed)"
	}
	return e.cause.Error()
}

func (e *outageError) Unwrap() error { return e.cause }

// current returns a set usable right now, fetching only when there is
// none (or it is too old to serve).
func (s *source) current(ctx context.Context) (*keySet, error) {
	ks := s.set.Load()
	if ks != nil {
		now := s.v.now()
		if now.Before(ks.freshUntil) {
			return ks, nil
		}
		if now.Sub(ks.fetchedAt) < s.v.ttl+s.v.stale {
			s.v.stats.staleServed.Add(1)
			if ks.staleLogged.CompareAndSwap(false, true) {
				s.v.log.Info("jwt: serving JWKS past its freshness while refreshing", "url", s.url,
					"age", now.Sub(ks.fetchedAt).Round(time.Second).String(), "usable_for", (s.v.ttl + s.v.stale - now.Sub(ks.fetchedAt)).Round(time.Second).String())
			}
			_, _ = s.begin(now, reasonBackground)
			return ks, nil
		}
	}
	c, err := s.begin(s.v.now(), reasonNeeded)
	if err != nil {
		return nil, err
	}
	return c.wait(ctx)
}

// lookup answers for a kid that the current set does not have: it
// returns the set to match against once a fetch that started after the
// kid was first seen (gen: the fetch number before the caller looked) has
// answered, or an error when none could (outage, closed, ctx).
func (s *source) lookup(ctx context.Context, kid []byte, a *algSpec, gen uint64) (*keySet, error) {
	s.mu.Lock()
	now := s.v.now()
	st, seen := s.kids[string(kid)]
	switch {
	case seen && !st.checkedAt.IsZero() && now.Sub(st.checkedAt) < s.v.cooldown:
		// Looked for a moment ago and not there: unknown, no fetch.
		ks := s.set.Load()
		s.mu.Unlock()
		s.v.stats.refetchSuppressed.Add(1)
		return ks, nil
	case seen && st.checkedAt.IsZero():
		// Already waiting for a fetch: one after the first sighting will do.
		gen = min(gen, st.since)
	default:
		s.rememberLocked(string(kid), kidState{since: gen})
	}
	s.mu.Unlock()
	for {
		ks := s.usable()
		if _, r := ks.match(kid, a); r != matchNone {
			return ks, nil
		}
		if ks != nil && ks.seq > gen {
			s.mu.Lock()
			s.rememberLocked(string(kid), kidState{since: gen, checkedAt: s.v.now()})
			s.mu.Unlock()
			return ks, nil
		}
		s.mu.Lock()
		if s.usable() != ks { // a fetch finished meanwhile
			s.mu.Unlock()
			continue
		}
		c := s.inflight
		if c == nil {
			now := s.v.now()
			if now.Before(s.failedUntil) {
				err := &outageError{until: s.failedUntil, cause: s.lastErr}
				s.mu.Unlock()
				return nil, err
			}
			var err error
			if c, err = s.startMissLocked(now); err != nil {
				s.mu.Unlock()
				return nil, err
			}
		}
		s.mu.Unlock()
		if _, err := c.wait(ctx); err != nil {
			return nil, err
		}
	}
}

// usable is the cached set unless it is past TTL+StaleTTL.
func (s *source) usable() *keySet {
	ks := s.set.Load()
	if ks != nil && s.v.now().Sub(ks.fetchedAt) >= s.v.ttl+s.v.stale {
		return nil
	}
	return ks
}

// rememberLocked records a kid's state, bounding the map.
func (s *source) rememberLocked(kid string, st kidState) {
	if s.kids == nil {
		s.kids = map[string]kidState{}
	}
	if _, ok := s.kids[kid]; !ok && len(s.kids) >= maxTrackedKids {
		clear(s.kids)
	}
	s.kids[kid] = st
}

// startMissLocked starts the fetch an unknown kid needs, at once or when
// RefetchInterval since the last one has passed. A start further away
// than maxMissWait is not waited for: the caller gets a 503 with the time
// to come back.
func (s *source) startMissLocked(now time.Time) (*fetchCall, error) {
	at := now
	if !s.lastMiss.IsZero() {
		if next := s.lastMiss.Add(s.v.interval); next.After(now) {
			at = next
		}
	}
	delay := at.Sub(now)
	if delay > s.v.maxMissWait {
		s.v.stats.refetchDeferred.Add(1)
		return nil, &outageError{until: at, cause: errors.New("unknown kid: JWKS refetch rate limit")}
	}
	c, err := s.launchLocked(delay, true)
	if err != nil {
		return nil, err
	}
	s.v.stats.refetchOnMiss.Add(1)
	if delay > 0 {
		s.v.stats.refetchDelayed.Add(1)
	}
	return c, nil
}

// begin joins the running fetch or starts one. It returns an
// *outageError inside the outage window, and (nil, nil) for a background
// refresh that is not needed.
func (s *source) begin(now time.Time, why fetchReason) (*fetchCall, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.inflight; c != nil {
		return c, nil
	}
	if why == reasonNeeded {
		// A fetch may have finished between the caller's look at the
		// cache and this lock: its set serves, with no second fetch.
		if ks := s.usable(); ks != nil {
			c := &fetchCall{set: ks, done: make(chan struct{})}
			close(c.done)
			return c, nil
		}
	}
	if now.Before(s.failedUntil) {
		if why == reasonBackground {
			return nil, nil
		}
		return nil, &outageError{until: s.failedUntil, cause: s.lastErr}
	}
	c, err := s.launchLocked(0, false)
	if err == nil && why == reasonBackground {
		s.v.stats.backgroundRefreshes.Add(1)
	}
	return c, err
}

func (s *source) launchLocked(delay time.Duration, miss bool) (*fetchCall, error) {
	// Holding life (read) across wg.Add orders it before Close's Wait.
	s.v.life.RLock()
	defer s.v.life.RUnlock()
	if s.v.closed {
		return nil, errClosed
	}
	c := &fetchCall{miss: miss, done: make(chan struct{})}
	s.inflight = c
	s.v.wg.Add(1)
	go s.run(c, delay)
	return c, nil
}

func (s *source) run(c *fetchCall, delay time.Duration) {
	defer s.v.wg.Done()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-s.v.ctx.Done():
			t.Stop()
			s.mu.Lock()
			s.inflight = nil
			s.mu.Unlock()
			c.err = errClosed
			close(c.done)
			return
		case <-t.C:
		}
	}
	s.mu.Lock()
	if c.miss {
		s.lastMiss = s.v.now()
	}
	s.mu.Unlock()
	seq := s.started.Add(1)
	s.v.stats.fetches.Add(1)
	set, err := s.fetch(s.v.ctx)
	s.mu.Lock()
	if err != nil {
		now := s.v.now()
		until := now.Add(s.v.outage)
		var ra *errRetryAfter
		if errors.As(err, &ra) {
			until = now.Add(max(s.v.outage, min(ra.after, maxProviderRetryAfter)))
		}
		s.failedUntil, s.lastErr = until, err
		// A failure arms only the outage window: the request the 503's
		// Retry-After sends back must be allowed to fetch.
		s.lastMiss = time.Time{}
		err = &outageError{until: until, cause: err}
		s.v.stats.fetchFailures.Add(1)
		s.v.log.Warn("jwt: JWKS fetch failed; keeping the last good keys", "url", s.url, "err", err,
			"retry_in", until.Sub(now).String(), "have_keys", s.set.Load() != nil)
	} else {
		set.seq = seq
		old := s.set.Load()
		s.set.Store(set)
		s.failedUntil, s.lastErr = time.Time{}, nil
		if added, removed := set.diff(old); old != nil && (len(added) > 0 || len(removed) > 0) {
			s.v.stats.rotations.Add(1)
			s.v.log.Info("jwt: JWKS key rotation picked up", "url", s.url, "added", added, "removed", removed)
		}
	}
	s.inflight = nil
	s.mu.Unlock()
	c.set, c.err = set, err
	close(c.done)
}

// fetch resolves the discovery document when needed (its jwks_uri is
// cached for TTL; a failed re-resolution keeps the previous one) and
// fetches the key set.
func (s *source) fetch(ctx context.Context) (*keySet, error) {
	u := s.url
	if s.discovery {
		now := s.v.now()
		if s.jwksURI == "" || now.Sub(s.resolvedAt) >= s.v.ttl {
			uri, err := s.resolve(ctx)
			switch {
			case err == nil:
				s.jwksURI, s.resolvedAt = uri, now
			case s.jwksURI == "":
				return nil, err
			default:
				s.v.log.Warn("jwt: OIDC discovery failed; using the previous jwks_uri", "url", s.url, "err", err)
			}
		}
		u = s.jwksURI
	}
	body, hdr, err := s.v.get(ctx, u)
	if err != nil {
		return nil, err
	}
	now := s.v.now()
	set, skipped, err := parseJWKS(body, now)
	for _, e := range skipped {
		s.v.log.Info("jwt: JWKS key skipped", "url", u, "reason", e)
	}
	if err != nil {
		return nil, misconfigured(fmt.Errorf("%s: %w", u, err))
	}
	set.freshUntil = now.Add(freshFor(hdr.Get("Cache-Control"), s.v.ttl))
	return set, nil
}

// freshFor is how long a fetched set is fresh: the TTL, shortened by the
// provider's Cache-Control (max-age, no-cache, no-store) down to
// minProviderMaxAge. A provider that rotates on a schedule (Dex sets
// max-age to the time left before its next rotation) so gets its new key
// picked up by a background refresh, before any token carries it. A
// longer max-age does not extend the TTL: public_key_ttl is the
// operator's bound.
func freshFor(cc string, ttl time.Duration) time.Duration {
	d, ok := parseMaxAge(cc)
	if !ok {
		return ttl
	}
	return min(ttl, max(d, minProviderMaxAge))
}

func parseMaxAge(cc string) (time.Duration, bool) {
	found, age := false, time.Duration(0)
	for _, part := range strings.Split(cc, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch strings.ToLower(name) {
		case "no-cache", "no-store":
			return 0, true
		case "max-age":
			n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
			if err != nil || n < 0 {
				continue
			}
			found, age = true, time.Duration(min(n, 1<<31))*time.Second
		}
	}
	return age, found
}

func (s *source) resolve(ctx context.Context) (string, error) {
	s.v.stats.discoveryFetches.Add(1)
	body, _, err := s.v.get(ctx, s.url)
	if err != nil {
		return "", err
	}
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", misconfigured(fmt.Errorf("OIDC discovery document at %s is not JSON: %w", s.url, err))
	}
	if doc.JWKSURI == "" {
		return "", misconfigured(fmt.Errorf("OIDC discovery document at %s does not contain a 'jwks_uri' field", s.url))
	}
	if err := checkURL(doc.JWKSURI); err != nil {
		return "", misconfigured(fmt.Errorf("OIDC discovery document at %s: jwks_uri %w", s.url, err))
	}
	return doc.JWKSURI, nil
}

// errRetryable marks failures worth another attempt: transport errors and
// 5xx. A 4xx or an oversized body will not get better in 250 ms.
type errRetryable struct{ error }

func (e errRetryable) Unwrap() error { return e.error }

// errRetryAfter is a 429 or 503 that named when to come back.
type errRetryAfter struct {
	error
	after time.Duration
}

func (e *errRetryAfter) Unwrap() error { return e.error }

// get fetches url, retrying transient failures FetchAttempts times with a
// linear backoff (as LiteLLM: 0.25 s × attempt). A provider's Retry-After
// ends the attempts: it asked us to wait.
func (v *Verifier) get(ctx context.Context, url string) ([]byte, http.Header, error) {
	var err error
	for attempt := 1; attempt <= v.attempts; attempt++ {
		// Linear, not backoff.Policy's exponential: LiteLLM's pacing.
		if attempt > 1 && backoff.Sleep(ctx, v.retryBackoff*time.Duration(attempt-1)) != nil {
			return nil, nil, err
		}
		var body []byte
		var hdr http.Header
		body, hdr, err = v.getOnce(ctx, url)
		if err == nil {
			return body, hdr, nil
		}
		var r errRetryable
		var ra *errRetryAfter
		if !errors.As(err, &r) || errors.As(err, &ra) {
			return nil, nil, err
		}
	}
	return nil, nil, err
}

func (v *Verifier) getOnce(ctx context.Context, url string) ([]byte, http.Header, error) {
	v.stats.httpRequests.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, nil, errRetryable{err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		err := fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			if secs, perr := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); perr == nil && secs > 0 {
				err = &errRetryAfter{error: err, after: time.Duration(secs) * time.Second}
			}
		}
		if transientStatus(resp.StatusCode) {
			return nil, nil, errRetryable{err}
		}
		return nil, nil, misconfigured(err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBody+1))
	if err != nil {
		return nil, nil, errRetryable{err}
	}
	if len(body) > maxJWKSBody {
		return nil, nil, misconfigured(fmt.Errorf("GET %s: response larger than %d bytes", url, maxJWKSBody))
	}
	return body, resp.Header, nil
}
