package jwtauth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/auth/celrule"

	"cel.dev/cel-go/cel"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/auth/verifier"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

// IsJWT reports whether a bearer credential is JWT-shaped: LiteLLM's
// len(token.split(".")) == 3, so exactly two dots, empty parts included
// (an unsigned "header.payload." reaches the verifier and is refused for
// its alg). A virtual key never is: generated keys have no dot and custom
// keys with two dots are refused. No allocation.
func IsJWT(tok string) bool { return strings.Count(tok, ".") == 2 }

// Engine is the compiled form of one JWTSettings: the verifier with its
// JWKS cache, the custom_validate program, and the verified-token cache.
// A settings change builds a new Engine; the old one is dropped.
type Engine struct {
	// src is the snapshot's settings object (compared by pointer to notice
	// a change); settings is a copy with LiteLLM's defaults applied.
	src      *events.JWTSettings
	settings *events.JWTSettings
	verifier *verifier.Verifier
	prog     cel.Program
	cache    *tokenCache
	// userinfo caches opaque tokens' identities by sha256 of the token
	// (oidc_userinfo_cache_ttl); httpClient calls the userinfo endpoint.
	userinfo   *tokenCache
	httpClient *http.Client
}

// Settings are the settings the engine was built from.
func (e *Engine) Settings() *events.JWTSettings { return e.settings }

// Authenticate verifies a token and derives its identity, from the cache
// when the same token was verified before and has not expired. A cache hit
// costs one map lookup; the policy decision (Decide) still runs on every
// request against the current snapshot.
func (e *Engine) Authenticate(ctx context.Context, token string, now time.Time) (*Identity, error) {
	return e.cachedIdentity(e.cache, token, now, func() (map[string]any, error) { return e.verifier.Verify(ctx, token) })
}

// cachedIdentity returns the Identity cached under key, or builds it
// from the claims verify returns (a JWT's, or the userinfo endpoint's)
// under this engine's settings and caches it: both kinds of token go
// through the same identity rules.
func (e *Engine) cachedIdentity(cache *tokenCache, key string, now time.Time, verify func() (map[string]any, error)) (*Identity, error) {
	if id := cache.get(key, now); id != nil {
		return id, nil
	}
	c, err := verify()
	if err != nil {
		return nil, err
	}
	id, err := NewIdentity(c, e.settings, e.prog)
	if err != nil {
		return nil, apierror.Unauthenticated.Wrap(err, "Authentication Error, %v", err)
	}
	cache.put(key, id, now)
	return id, nil
}

// Manager keeps the Engine for the current settings.
type Manager struct {
	// HTTPClient fetches JWKS (nil: the verifier's default).
	HTTPClient *http.Client
	// CacheSize bounds the verified-token cache; default 100k tokens.
	CacheSize int
	Log       *slog.Logger

	// counters are shared by every verifier this manager builds, so the
	// key-cache metrics survive a settings change.
	countersOnce sync.Once
	counters     *verifier.Counters

	mu  sync.Mutex
	cur atomic.Pointer[Engine]
	err atomic.Pointer[string]
}

// Engine returns the engine for s, building it on first use after a
// settings change (the edge also calls Update from its applier, so the
// build is normally off the request path). nil settings or disabled JWT
// auth return nil.
func (m *Manager) Engine(s *events.JWTSettings) (*Engine, error) {
	if s == nil || !s.Enabled {
		return nil, nil
	}
	if e := m.cur.Load(); e != nil && e.src == s {
		return e, nil
	}
	return m.Update(s)
}

// Update builds the engine for new settings (a no-op for the current ones)
// and starts warming its key cache in the background.
func (m *Manager) Update(s *events.JWTSettings) (*Engine, error) {
	if s == nil || !s.Enabled {
		return nil, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.cur.Load(); e != nil && e.src == s {
		return e, nil
	}
	e, err := m.build(s)
	if err != nil {
		msg := err.Error()
		m.err.Store(&msg)
		return nil, apierror.Unavailable.Wrap(err, "JWT auth is misconfigured on this gateway")
	}
	m.err.Store(nil)
	old := m.cur.Swap(e)
	if old != nil {
		old.verifier.Close()
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.verifier.Prefetch(ctx); err != nil && m.Log != nil {
			m.Log.Warn("JWKS prefetch failed; keys will be fetched on first use", "err", err)
		}
	}()
	return e, nil
}

// Counters are the key-cache counters of every verifier this manager
// built.
func (m *Manager) Counters() *verifier.Counters {
	m.countersOnce.Do(func() { m.counters = &verifier.Counters{} })
	return m.counters
}

// Collector exports the key cache (fetches by outcome, unknown-kid
// fetches, suppressed and delayed refetches, stale serves, 503s, and per
// URL the number of keys and the age of the set) as Prometheus series.
func (m *Manager) Collector() prometheus.Collector {
	return verifier.Collector(m.Counters(), func() *verifier.Verifier {
		if e := m.cur.Load(); e != nil {
			return e.verifier
		}
		return nil
	})
}

func (m *Manager) build(s *events.JWTSettings) (*Engine, error) {
	a := s.Auth.WithDefaults()
	cp := *s
	cp.Auth = a
	var prog cel.Program
	if a.CustomValidate != "" {
		p, err := celrule.Compile(a.CustomValidate)
		if err != nil {
			return nil, fmt.Errorf("custom_validate: %w", err)
		}
		prog = p
	}
	vc := verifier.FromSettings(&cp)
	vc.HTTPClient, vc.Logger, vc.Counters = m.HTTPClient, m.Log, m.Counters()
	v, err := verifier.New(vc)
	if err != nil {
		return nil, err
	}
	size := m.CacheSize
	if size <= 0 {
		size = 100_000
	}
	uiTTL := float64(events.DefaultOIDCUserinfoCacheTTL)
	if a.OIDCUserinfoCacheTTL != nil {
		uiTTL = *a.OIDCUserinfoCacheTTL
	}
	return &Engine{src: s, settings: &cp, verifier: v, prog: prog, cache: newTokenCache(size, seconds(a.PublicKeyTTL)),
		userinfo: newTokenCache(size, seconds(uiTTL)), httpClient: m.HTTPClient}, nil
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// Error returns the last settings build error, or "".
func (m *Manager) Error() string {
	if p := m.err.Load(); p != nil {
		return *p
	}
	return ""
}
