package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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
// Writes: at most one fetch per source runs at a time (begin() hands every
// caller that needs one the same fetchCall), on a context owned by the
// Verifier, so a caller that gives up does not cancel it for the others.
// A fetch that succeeds replaces the set; one that fails leaves the old
// set in place and opens an outage window (OutageBackoff) during which
// the URL is not contacted.
//
// When a fetch happens:
//   - no set yet, or the set is older than TTL+StaleTTL: the request waits
//     for a fetch; failure is a 503;
//   - set older than TTL: served as is, one background refresh started
//     (stale-while-revalidate);
//   - unknown kid: the request waits for a refetch, unless the URL was
//     refetched for a miss less than RefetchCooldown ago (then the kid is
//     simply unknown) or a fetch is already running (then it joins it).

type fetchReason uint8

const (
	reasonNeeded fetchReason = iota // no usable set
	reasonBackground
	reasonMiss
	reasonPrefetch
)

type source struct {
	v         *Verifier
	url       string
	discovery bool
	set       atomic.Pointer[keySet]

	mu          sync.Mutex
	inflight    *fetchCall
	lastMiss    time.Time
	failedUntil time.Time

	// Owned by the running fetch (there is at most one, and begin/run hand
	// over under mu, which orders them).
	jwksURI    string
	resolvedAt time.Time
}

type fetchCall struct {
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

var (
	errOutage = errors.New("identity provider unreachable (recent fetch failed)")
	errClosed = errors.New("verifier closed")
)

// current returns a set usable right now, fetching only when there is
// none (or it is too old to serve).
func (s *source) current(ctx context.Context) (*keySet, error) {
	ks := s.set.Load()
	if ks != nil {
		now := s.v.now()
		age := now.Sub(ks.fetchedAt)
		if age < s.v.ttl {
			return ks, nil
		}
		if age < s.v.ttl+s.v.stale {
			s.v.stats.staleServed.Add(1)
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

// refetchOnMiss fetches after an unknown kid, within the cooldown. It
// returns the new set, or the current one when the cooldown suppressed
// the fetch.
func (s *source) refetchOnMiss(ctx context.Context) (*keySet, error) {
	c, err := s.begin(s.v.now(), reasonMiss)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return s.set.Load(), nil
	}
	return c.wait(ctx)
}

// begin joins the running fetch or starts one. It returns errOutage
// inside the outage window, and (nil, nil) for a miss inside the
// cooldown or a background refresh that is not needed.
func (s *source) begin(now time.Time, why fetchReason) (*fetchCall, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.inflight; c != nil {
		return c, nil
	}
	if now.Before(s.failedUntil) {
		if why == reasonBackground {
			return nil, nil
		}
		return nil, errOutage
	}
	if why == reasonMiss {
		if since := now.Sub(s.lastMiss); !s.lastMiss.IsZero() && since >= 0 && since < s.v.cooldown {
			s.v.stats.refetchSuppressed.Add(1)
			return nil, nil
		}
	}
	// Holding life (read) across wg.Add orders it before Close's Wait.
	s.v.life.RLock()
	defer s.v.life.RUnlock()
	if s.v.closed {
		return nil, errClosed
	}
	switch why {
	case reasonMiss:
		s.lastMiss = now
		s.v.stats.refetchOnMiss.Add(1)
	case reasonBackground:
		s.v.stats.backgroundRefreshes.Add(1)
	}
	c := &fetchCall{done: make(chan struct{})}
	s.inflight = c
	s.v.wg.Add(1)
	go s.run(c)
	return c, nil
}

func (s *source) run(c *fetchCall) {
	defer s.v.wg.Done()
	s.v.stats.fetches.Add(1)
	set, err := s.fetch(s.v.ctx)
	s.mu.Lock()
	if err != nil {
		s.failedUntil = s.v.now().Add(s.v.outage)
		s.v.stats.fetchFailures.Add(1)
		s.v.log.Warn("jwt: JWKS fetch failed; keeping the last good keys", "url", s.url, "err", err)
	} else {
		s.set.Store(set)
		s.failedUntil = time.Time{}
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
	body, err := s.v.get(ctx, u)
	if err != nil {
		return nil, err
	}
	set, skipped, err := parseJWKS(body, s.v.now())
	for _, e := range skipped {
		s.v.log.Info("jwt: JWKS key skipped", "url", u, "reason", e)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	return set, nil
}

func (s *source) resolve(ctx context.Context) (string, error) {
	s.v.stats.discoveryFetches.Add(1)
	body, err := s.v.get(ctx, s.url)
	if err != nil {
		return "", err
	}
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("OIDC discovery document at %s is not JSON: %w", s.url, err)
	}
	if doc.JWKSURI == "" {
		return "", fmt.Errorf("JWT Auth: OIDC discovery document at %s does not contain a 'jwks_uri' field.", s.url)
	}
	if err := checkURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("OIDC discovery document at %s: jwks_uri %w", s.url, err)
	}
	return doc.JWKSURI, nil
}

// errRetryable marks failures worth another attempt: transport errors and
// 5xx. A 4xx or an oversized body will not get better in 250 ms.
type errRetryable struct{ error }

// get fetches url, retrying transient failures FetchAttempts times with a
// linear backoff (as LiteLLM: 0.25 s × attempt).
func (v *Verifier) get(ctx context.Context, url string) ([]byte, error) {
	var err error
	for attempt := 1; attempt <= v.attempts; attempt++ {
		// Linear, not backoff.Policy's exponential: LiteLLM's pacing.
		if attempt > 1 && backoff.Sleep(ctx, v.retryBackoff*time.Duration(attempt-1)) != nil {
			return nil, err
		}
		var body []byte
		body, err = v.getOnce(ctx, url)
		if err == nil {
			return body, nil
		}
		var r errRetryable
		if !errors.As(err, &r) {
			return nil, err
		}
	}
	return nil, err
}

func (v *Verifier) getOnce(ctx context.Context, url string) ([]byte, error) {
	v.stats.httpRequests.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, errRetryable{err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		err := fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
		if resp.StatusCode >= 500 {
			return nil, errRetryable{err}
		}
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBody+1))
	if err != nil {
		return nil, errRetryable{err}
	}
	if len(body) > maxJWKSBody {
		return nil, fmt.Errorf("GET %s: response larger than %d bytes", url, maxJWKSBody)
	}
	return body, nil
}

type counters struct {
	fetches, fetchFailures, httpRequests, discoveryFetches atomic.Int64
	refetchOnMiss, refetchSuppressed, backgroundRefreshes  atomic.Int64
	staleServed, unavailable                               atomic.Int64
}

// Stats are cumulative counters, for tests and metrics.
type Stats struct {
	// Fetches is the number of key-set fetches run (one per single-flight
	// group, whatever started it); FetchFailures how many failed.
	Fetches, FetchFailures int64
	// HTTPRequests counts every GET, retries and discovery included.
	HTTPRequests int64
	// DiscoveryFetches counts OIDC discovery document fetches.
	DiscoveryFetches int64
	// RefetchOnMiss counts fetches started by an unknown kid;
	// RefetchSuppressed the unknown-kid misses the cooldown absorbed.
	RefetchOnMiss, RefetchSuppressed int64
	// BackgroundRefreshes counts refreshes started past the TTL.
	BackgroundRefreshes int64
	// StaleServed counts lookups answered from a set past its TTL.
	StaleServed int64
	// Unavailable counts 503 auth_provider_unavailable answers.
	Unavailable int64
}

// Stats returns a snapshot of the counters.
func (v *Verifier) Stats() Stats {
	c := &v.stats
	return Stats{
		Fetches:             c.fetches.Load(),
		FetchFailures:       c.fetchFailures.Load(),
		HTTPRequests:        c.httpRequests.Load(),
		DiscoveryFetches:    c.discoveryFetches.Load(),
		RefetchOnMiss:       c.refetchOnMiss.Load(),
		RefetchSuppressed:   c.refetchSuppressed.Load(),
		BackgroundRefreshes: c.backgroundRefreshes.Load(),
		StaleServed:         c.staleServed.Load(),
		Unavailable:         c.unavailable.Load(),
	}
}
