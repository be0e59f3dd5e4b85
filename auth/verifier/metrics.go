package verifier

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Counters are the key cache's cumulative counters. A Verifier makes its
// own unless Config.Counters gives one: the gateway passes the same
// Counters to every Verifier it builds (one per settings change), so the
// exported series do not restart when the settings change.
type Counters struct {
	fetches, fetchFailures, httpRequests, discoveryFetches atomic.Int64
	refetchOnMiss, refetchSuppressed, backgroundRefreshes  atomic.Int64
	refetchDelayed, refetchDeferred, rotations             atomic.Int64
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
	// RefetchOnMiss counts fetches started for an unknown kid;
	// RefetchSuppressed the unknown-kid lookups answered without a fetch
	// because a fetch had just looked for that kid (RefetchCooldown).
	RefetchOnMiss, RefetchSuppressed int64
	// RefetchDelayed counts unknown-kid fetches that waited for
	// RefetchInterval; RefetchDeferred the lookups answered 503 because
	// the next allowed fetch was too far away.
	RefetchDelayed, RefetchDeferred int64
	// Rotations counts fetches whose set differed from the previous one.
	Rotations int64
	// BackgroundRefreshes counts refreshes started past the freshness.
	BackgroundRefreshes int64
	// StaleServed counts lookups answered from a set past its freshness.
	StaleServed int64
	// Unavailable counts 503 auth_provider_unavailable answers.
	Unavailable int64
}

// Stats returns a snapshot of the counters.
func (c *Counters) Stats() Stats {
	return Stats{
		Fetches:             c.fetches.Load(),
		FetchFailures:       c.fetchFailures.Load(),
		HTTPRequests:        c.httpRequests.Load(),
		DiscoveryFetches:    c.discoveryFetches.Load(),
		RefetchOnMiss:       c.refetchOnMiss.Load(),
		RefetchSuppressed:   c.refetchSuppressed.Load(),
		RefetchDelayed:      c.refetchDelayed.Load(),
		RefetchDeferred:     c.refetchDeferred.Load(),
		Rotations:           c.rotations.Load(),
		BackgroundRefreshes: c.backgroundRefreshes.Load(),
		StaleServed:         c.staleServed.Load(),
		Unavailable:         c.unavailable.Load(),
	}
}

// Stats returns a snapshot of the verifier's counters.
func (v *Verifier) Stats() Stats { return v.stats.Stats() }

// SourceState describes one configured URL's cached keys.
type SourceState struct {
	URL string
	// Keys is the number of usable keys in the cached set; HasSet is false
	// before the first successful fetch.
	Keys   int
	HasSet bool
	// FetchedAt is when the cached set was fetched.
	FetchedAt time.Time
	// Failing is true inside the outage window after a failed fetch.
	Failing bool
}

// Sources describes every configured URL's cache, for metrics.
func (v *Verifier) Sources() []SourceState {
	out := make([]SourceState, 0, len(v.sources))
	now := v.now()
	for _, s := range v.sources {
		st := SourceState{URL: s.url}
		if ks := s.set.Load(); ks != nil {
			st.HasSet, st.Keys, st.FetchedAt = true, len(ks.all), ks.fetchedAt
		}
		s.mu.Lock()
		st.Failing = now.Before(s.failedUntil)
		s.mu.Unlock()
		out = append(out, st)
	}
	return out
}

var (
	descFetches   = prometheus.NewDesc("gatehouse_jwks_fetches_total", "JWKS fetches (one per single-flight group, retries included in one), by outcome: ok or error.", []string{"outcome"}, nil)
	descHTTP      = prometheus.NewDesc("gatehouse_jwks_http_requests_total", "HTTP requests to identity providers for keys: every attempt, discovery documents included.", nil, nil)
	descMiss      = prometheus.NewDesc("gatehouse_jwks_unknown_kid_fetches_total", "JWKS fetches started because a token named a kid the cached set did not have.", nil, nil)
	descSuppress  = prometheus.NewDesc("gatehouse_jwks_refetch_suppressed_total", "Unknown-kid lookups answered from the cache (401) because a fetch had just looked for that kid.", nil, nil)
	descDelayed   = prometheus.NewDesc("gatehouse_jwks_refetch_delayed_total", "Unknown-kid fetches that waited for the per-URL refetch interval.", nil, nil)
	descDeferred  = prometheus.NewDesc("gatehouse_jwks_refetch_deferred_total", "Unknown-kid lookups answered 503 with Retry-After because the next allowed fetch was too far away.", nil, nil)
	descRotations = prometheus.NewDesc("gatehouse_jwks_rotations_total", "Fetches whose key set differed from the cached one (keys added or removed).", nil, nil)
	descBG        = prometheus.NewDesc("gatehouse_jwks_background_refreshes_total", "Refreshes started in the background for a set past its freshness.", nil, nil)
	descStale     = prometheus.NewDesc("gatehouse_jwks_stale_served_total", "Key lookups answered from a set past its freshness (public_key_ttl, or the provider's max-age).", nil, nil)
	descUnavail   = prometheus.NewDesc("gatehouse_jwks_unavailable_total", "Requests answered 503 auth_provider_unavailable: keys needed and neither the provider nor a usable cached copy had them.", nil, nil)
	descKeys      = prometheus.NewDesc("gatehouse_jwks_keys", "Usable keys in the cached set, by configured URL.", []string{"url"}, nil)
	descAge       = prometheus.NewDesc("gatehouse_jwks_age_seconds", "Age of the cached key set, by configured URL (absent before the first successful fetch).", []string{"url"}, nil)
	descFailing   = prometheus.NewDesc("gatehouse_jwks_provider_failing", "1 while a URL is inside its outage window after a failed fetch.", []string{"url"}, nil)
)

// Collector exports c and the sources of the verifier current returns
// (nil: none configured) as Prometheus series. Everything is read at
// scrape time; nothing is added to the request path.
func Collector(c *Counters, current func() *Verifier) prometheus.Collector {
	return collector{c: c, current: current}
}

type collector struct {
	c       *Counters
	current func() *Verifier
}

func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFetches, descHTTP, descMiss, descSuppress, descDelayed, descDeferred, descRotations, descBG, descStale, descUnavail, descKeys, descAge, descFailing} {
		ch <- d
	}
}

func (k collector) Collect(ch chan<- prometheus.Metric) {
	s := k.c.Stats()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(descFetches, s.Fetches-s.FetchFailures, "ok")
	counter(descFetches, s.FetchFailures, "error")
	counter(descHTTP, s.HTTPRequests)
	counter(descMiss, s.RefetchOnMiss)
	counter(descSuppress, s.RefetchSuppressed)
	counter(descDelayed, s.RefetchDelayed)
	counter(descDeferred, s.RefetchDeferred)
	counter(descRotations, s.Rotations)
	counter(descBG, s.BackgroundRefreshes)
	counter(descStale, s.StaleServed)
	counter(descUnavail, s.Unavailable)
	v := k.current()
	if v == nil {
		return
	}
	now := v.now()
	for _, st := range v.Sources() {
		gauge := func(d *prometheus.Desc, x float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, x, st.URL)
		}
		gauge(descKeys, float64(st.Keys))
		if st.HasSet {
			gauge(descAge, now.Sub(st.FetchedAt).Seconds())
		}
		failing := 0.0
		if st.Failing {
			failing = 1
		}
		gauge(descFailing, failing)
	}
}
