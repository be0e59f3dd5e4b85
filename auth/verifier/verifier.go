// Package verifier checks bearer JWTs against the identity providers'
// published keys (JWKS) and returns the verified claims. It re-implements
// LiteLLM's JWTHandler.auth_jwt (messages, kid rules, issuer routing)
// with the key cache LiteLLM lacks: an unknown kid is looked up at the
// provider before it is refused (so key rotation works within one
// request), a kid is called unknown only by a fetch that started after it
// was first seen (so neither an outage nor someone else's made-up kid
// turns a valid token into a 401), fetches for unknown kids are
// rate-limited per URL (so random kids cannot hammer the IdP), with
// stale-while-revalidate after the TTL and a 503 with Retry-After when
// the keys are needed and cannot be had.
//
// The hot path (known kid, fresh keys) takes no lock and does no I/O: each
// URL's keys are an immutable set behind an atomic pointer.
//
// Security posture (each point is covered by the attack tests):
//   - only RS/PS/ES 256/384/512 and EdDSA; "none", HS* and everything else
//     are refused before a key is looked up, and a key must fit the alg
//     (type, curve, and its own "alg" when it declares one), so HMAC
//     alg-confusion with an RSA public key cannot happen;
//   - keys come only from configured URLs: jku, x5u, x5c and embedded jwk
//     headers are ignored, a crit header is refused;
//   - tokens over 16 KiB are refused before decoding; duplicate member
//     names in header or payload are refused (parser differentials);
//   - exp is required unless configured otherwise; exp, nbf and iat are
//     checked with the configured leeway.
package verifier

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/opt"
)

// Defaults. TTL and StaleTTL are LiteLLM's (public_key_ttl,
// public_key_stale_ttl); the rest are this package's choices.
const (
	DefaultTTL             = 600 * time.Second
	DefaultStaleTTL        = 3600 * time.Second
	DefaultRefetchCooldown = 5 * time.Second
	DefaultRefetchInterval = time.Second
	DefaultOutageBackoff   = 2 * time.Second
	DefaultFetchAttempts   = 3
	DefaultRetryBackoff    = 250 * time.Millisecond
	DefaultHTTPTimeout     = 5 * time.Second

	// MaxTokenSize bounds the work an unauthenticated caller can cause:
	// real ID/access tokens are 1-4 KiB.
	MaxTokenSize = 16 << 10
	// maxJWKSBody bounds a JWKS or discovery response.
	maxJWKSBody = 1 << 20
)

// Config configures a Verifier. The zero value of every duration means
// "default". StaleTTL is the exception that needs care: an explicit 0
// (fail closed right after the TTL) is meaningful, so it is only taken
// literally when StaleTTLSet is true.
type Config struct {
	// PublicKeyURLs is JWT_PUBLIC_KEY_URL, already split on commas: JWKS
	// URLs, or OIDC discovery URLs (an entry containing
	// ".well-known/openid-configuration", whose jwks_uri is followed).
	// Used for tokens whose iss has no entry in Issuers. A token may be
	// signed by a key from any of them.
	PublicKeyURLs []string
	// Audience is JWT_AUDIENCE; "" skips the aud check.
	Audience string
	// Issuer is JWT_ISSUER; "" skips the iss check.
	Issuer string
	// Issuers are litellm_jwtauth.issuers. A token whose unverified iss
	// equals an entry's Issuer exactly is verified only with that entry's
	// keys (JWKSURL, default <issuer>/.well-known/openid-configuration) and
	// audience (unless DisableAudienceValidation), and iss is enforced.
	Issuers []events.IssuerConfig
	// TTL is how long fetched keys are fresh (public_key_ttl).
	TTL time.Duration
	// StaleTTL is how long past TTL the last good keys keep being served
	// while a refresh fails (public_key_stale_ttl). 0 means
	// DefaultStaleTTL unless StaleTTLSet, in which case 0 means fail
	// closed: once TTL has passed, a request waits for a refetch and gets
	// a 503 if the provider cannot be reached.
	StaleTTL    time.Duration
	StaleTTLSet bool
	// Leeway is the clock skew allowed for exp, nbf and iat (LiteLLM: 0).
	Leeway time.Duration
	// RequireExp refuses tokens without exp. LiteLLM (PyJWT) accepts them;
	// FromSettings sets it unless allow_tokens_without_expiry.
	RequireExp bool
	// HTTPClient fetches keys; default: a client with a 5 s timeout.
	HTTPClient *http.Client
	// RefetchCooldown is how long a kid that a fetch did not find is
	// answered "unknown" (401) without asking the provider again (default
	// 5 s). It is per kid: a made-up kid does not make another kid wait.
	RefetchCooldown time.Duration
	// RefetchInterval is the minimum interval between fetches of one URL
	// for unknown kids (default 1 s): the most a flood of made-up kids can
	// cost the provider, and the longest a new kid waits for its fetch
	// after another kid's. A failed fetch does not arm it.
	RefetchInterval time.Duration
	// MaxRefetchWait is the longest an unknown kid waits for the next
	// allowed fetch; a fetch further away is a 503 with Retry-After
	// (default: RefetchInterval, so with the defaults it always waits).
	MaxRefetchWait time.Duration
	// OutageBackoff is how long a URL is not contacted after a failed
	// fetch, so a down IdP is not stampeded (default 2 s; LiteLLM 30 s).
	OutageBackoff time.Duration
	// FetchAttempts is the number of tries per fetch for transport errors
	// and 5xx (default 3), RetryBackoff the pause unit between them
	// (attempt n waits n-1 units; default 250 ms).
	FetchAttempts int
	RetryBackoff  time.Duration
	// Now is the clock for token times and cache ages (default time.Now);
	// tests move it instead of sleeping.
	Now func() time.Time
	// Logger receives fetch failures, rotations, stale serves and skipped
	// keys (default slog.Default()). Tokens are never logged.
	Logger *slog.Logger
	// Counters, if set, receives the cache's counters (shared by the
	// verifiers a gateway builds one after another; see Collector).
	Counters *Counters
}

// FromSettings maps the event-sourced settings onto a Config.
//
// events.JWTSettings cannot tell an unset public_key_stale_ttl from an
// explicit 0 (a float64, and JWTAuth.WithDefaults turns 0 into 3600), so
// here 0 means the default and a negative value means 0 (fail closed).
func FromSettings(s *events.JWTSettings) Config {
	a := s.Auth
	cfg := Config{
		PublicKeyURLs: s.PublicKeyURLs,
		Audience:      s.Audience,
		Issuer:        s.Issuer,
		Issuers:       a.Issuers,
		Leeway:        seconds(a.LeewaySeconds),
		RequireExp:    !a.AllowTokensWithoutExpiry,
	}
	if a.PublicKeyTTL > 0 {
		cfg.TTL = seconds(a.PublicKeyTTL)
	}
	if a.PublicKeyStaleTTL != nil {
		cfg.StaleTTL, cfg.StaleTTLSet = seconds(*a.PublicKeyStaleTTL), true
	}
	return cfg
}

func seconds(f float64) time.Duration {
	if f <= 0 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// Verifier verifies tokens. It is safe for concurrent use. Build a new one
// when the settings change (Prefetch it, swap it in, Close the old one).
type Verifier struct {
	ttl, stale   time.Duration
	cooldown     time.Duration
	interval     time.Duration
	maxMissWait  time.Duration
	outage       time.Duration
	retryBackoff time.Duration
	attempts     int
	leeway       float64 // seconds
	requireExp   bool
	audience     string
	issuer       string
	client       *http.Client
	now          func() time.Time
	log          *slog.Logger

	global  []*source
	issuers map[string]*issuerRoute
	sources []*source // every distinct URL, for Prefetch

	ctx    context.Context // cancelled by Close; parent of every fetch
	cancel context.CancelFunc
	life   sync.RWMutex // guards closed against wg.Add racing Close
	closed bool
	wg     sync.WaitGroup

	stats *Counters
}

type issuerRoute struct {
	cfg      events.IssuerConfig
	srcs     []*source
	audience string
	checkAud bool
}

// New validates cfg and builds a Verifier. Nothing is fetched until
// Prefetch or the first Verify.
func New(cfg Config) (*Verifier, error) {
	v := &Verifier{
		ttl:          cfg.TTL,
		stale:        DefaultStaleTTL,
		cooldown:     cfg.RefetchCooldown,
		interval:     cfg.RefetchInterval,
		maxMissWait:  cfg.MaxRefetchWait,
		outage:       cfg.OutageBackoff,
		stats:        cfg.Counters,
		retryBackoff: cfg.RetryBackoff,
		attempts:     cfg.FetchAttempts,
		leeway:       cfg.Leeway.Seconds(),
		requireExp:   cfg.RequireExp,
		audience:     cfg.Audience,
		issuer:       cfg.Issuer,
		client:       cfg.HTTPClient,
		now:          cfg.Now,
		log:          cfg.Logger,
		issuers:      map[string]*issuerRoute{},
	}
	switch {
	case cfg.TTL < 0:
		return nil, errors.New("jwt: public_key_ttl must not be negative")
	case cfg.StaleTTL < 0:
		return nil, errors.New("jwt: public_key_stale_ttl must not be negative")
	case cfg.Leeway < 0:
		return nil, errors.New("jwt: leeway must not be negative")
	}
	if cfg.StaleTTL != 0 || cfg.StaleTTLSet {
		v.stale = cfg.StaleTTL
	}
	if v.ttl == 0 {
		v.ttl = DefaultTTL
	}
	opt.Positive(&v.cooldown, DefaultRefetchCooldown)
	opt.Positive(&v.outage, DefaultOutageBackoff)
	opt.Positive(&v.retryBackoff, DefaultRetryBackoff)
	opt.Positive(&v.attempts, DefaultFetchAttempts)
	opt.Positive(&v.interval, DefaultRefetchInterval)
	opt.Positive(&v.maxMissWait, v.interval)
	if v.stats == nil {
		v.stats = &Counters{}
	}
	if v.client == nil {
		v.client = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.log == nil {
		v.log = slog.Default()
	}

	byURL := map[string]*source{}
	get := func(raw string) (*source, error) {
		if err := checkURL(raw); err != nil {
			return nil, err
		}
		if s := byURL[raw]; s != nil {
			return s, nil
		}
		s := &source{v: v, url: raw, discovery: strings.Contains(raw, ".well-known/openid-configuration")}
		byURL[raw] = s
		v.sources = append(v.sources, s)
		return s, nil
	}
	for _, u := range cfg.PublicKeyURLs {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		s, err := get(u)
		if err != nil {
			return nil, fmt.Errorf("jwt: public key url: %w", err)
		}
		if !containsSource(v.global, s) {
			v.global = append(v.global, s)
		}
	}
	for i, is := range cfg.Issuers {
		where := fmt.Sprintf("jwt: issuers[%d] (%s)", i, is.Issuer)
		switch {
		case is.Issuer == "":
			return nil, fmt.Errorf("jwt: issuers[%d]: issuer is required", i)
		case v.issuers[is.Issuer] != nil:
			return nil, fmt.Errorf("%s: duplicate issuer", where)
		case is.Audience != "" && is.DisableAudienceValidation:
			return nil, fmt.Errorf("%s: cannot set audience and disable_audience_validation=True together", where)
		case is.Audience == "" && !is.DisableAudienceValidation:
			return nil, fmt.Errorf("%s: must configure audience or set disable_audience_validation=True", where)
		}
		u := strings.TrimSpace(is.JWKSURL)
		opt.Or(&u, strings.TrimRight(is.Issuer, "/")+"/.well-known/openid-configuration")
		s, err := get(u)
		if err != nil {
			return nil, fmt.Errorf("%s: jwks_url: %w", where, err)
		}
		v.issuers[is.Issuer] = &issuerRoute{cfg: is, srcs: []*source{s}, audience: is.Audience, checkAud: !is.DisableAudienceValidation}
	}
	v.ctx, v.cancel = context.WithCancel(context.Background())
	return v, nil
}

func containsSource(l []*source, s *source) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q: %v", raw, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q: want an absolute http(s) URL", raw)
	}
	return nil
}

// Close stops background fetches and waits for them. Verify keeps working
// on the keys already cached but fetches nothing more.
func (v *Verifier) Close() {
	v.life.Lock()
	if v.closed {
		v.life.Unlock()
		return
	}
	v.closed = true
	v.life.Unlock()
	v.cancel()
	v.wg.Wait()
}

// Prefetch fetches every configured URL (discovery documents resolved)
// and waits for the results. Call it when a Verifier is built, off the
// request path; the errors (joined) are for logs and health checks: a URL
// that failed is retried on demand.
func (v *Verifier) Prefetch(ctx context.Context) error {
	calls := make([]*fetchCall, len(v.sources))
	var errs []error
	for i, s := range v.sources {
		c, err := s.begin(v.now(), reasonPrefetch)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.url, err))
			continue
		}
		calls[i] = c
	}
	for i, c := range calls {
		if c == nil {
			continue
		}
		if _, err := c.wait(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", v.sources[i].url, err))
		}
	}
	return errors.Join(errs...)
}

// IssuerFor returns the issuers entry whose keys verified claims: a token
// whose iss equals an entry's issuer exactly is only ever verified with
// that entry, so the caller can apply the entry's claim mapping.
func (v *Verifier) IssuerFor(claims map[string]any) (events.IssuerConfig, bool) {
	iss, _ := claims["iss"].(string)
	if r := v.issuers[iss]; r != nil {
		return r.cfg, true
	}
	return events.IssuerConfig{}, false
}

var b64 = base64.RawURLEncoding.Strict()

// Verify checks token (the bearer, without "Bearer ") and returns its
// claims, decoded by encoding/json (numbers are float64). Claims whose
// name starts with "_litellm_" are removed: those names are reserved for
// the caller's normalized claims, and a token must not be able to supply
// them (LiteLLM strips them too).
//
// Errors are *apierror.Error: 401 (auth_error, or expired_key for an
// expired token) with a WWW-Authenticate challenge for a bad token, 503
// auth_provider_unavailable when the keys are needed and cannot be had.
// Messages never contain the token.
func (v *Verifier) Verify(ctx context.Context, token string) (map[string]any, error) {
	if len(token) > MaxTokenSize {
		return nil, invalid("Validation fails: Token is too large")
	}
	i1 := strings.IndexByte(token, '.')
	if i1 < 0 {
		return nil, invalid("Validation fails: Not enough segments")
	}
	i2 := strings.IndexByte(token[i1+1:], '.')
	if i2 < 0 {
		return nil, invalid("Validation fails: Not enough segments")
	}
	i2 += i1 + 1
	if strings.IndexByte(token[i2+1:], '.') >= 0 {
		return nil, invalid("Validation fails: Too many segments")
	}
	if i1 == 0 || i2 == i1+1 {
		return nil, invalid("Validation fails: Invalid token format")
	}
	raw := []byte(token) // one copy; every part below is a slice of it

	hdrJSON, ok := decodeSegment(raw[:i1])
	if !ok {
		return nil, invalid("Validation fails: Invalid header padding")
	}
	h, herr := parseHeader(hdrJSON)
	if herr != nil {
		return nil, herr
	}
	alg := algs[string(h.alg)]
	if alg == nil {
		return nil, invalid("Validation fails: The specified alg value is not allowed")
	}
	// After the alg, as PyJWT: "header.payload." with alg none is told its
	// alg is not allowed, and an empty signature never costs a key lookup.
	if i2 == len(token)-1 {
		return nil, invalid("Validation fails: Signature verification failed")
	}

	payload, ok := decodeSegment(raw[i1+1 : i2])
	if !ok {
		return nil, invalid("Validation fails: Invalid payload padding")
	}
	var issRaw []byte
	err := scanObject(payload, func(name, val []byte) error {
		if string(name) == "iss" {
			issRaw = val
		}
		return nil
	})
	switch {
	case errors.Is(err, errJSONDuplicate):
		return nil, invalid("Validation fails: Duplicate claim names in token")
	case err != nil:
		return nil, invalid("Validation fails: Invalid payload string")
	}

	srcs, wantIss, wantAud := v.global, v.issuer, v.audience
	if len(v.issuers) > 0 {
		if iss, ok := jsonString(issRaw); ok {
			if r := v.issuers[string(iss)]; r != nil {
				srcs, wantIss, wantAud = r.srcs, r.cfg.Issuer, ""
				if r.checkAud {
					wantAud = r.audience
				}
			}
		}
	}
	if len(srcs) == 0 {
		return nil, invalid("Missing JWT Public Key URL from environment.")
	}

	// Decoded before the key lookup: a malformed signature must not cost
	// an unknown-kid refetch.
	sig, ok := decodeSegment(raw[i2+1:])
	if !ok {
		return nil, invalid("Validation fails: Signature verification failed")
	}
	key, aerr := v.findKey(ctx, srcs, h.kid, alg)
	if aerr != nil {
		return nil, aerr
	}
	if alg.jws.Verify(raw[:i2], sig, key.raw) != nil {
		return nil, invalid("Validation fails: Signature verification failed")
	}

	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, invalid("Validation fails: Invalid payload string")
	}
	if err := v.checkClaims(claims, wantIss, wantAud); err != nil {
		return nil, err
	}
	for k := range claims {
		if strings.HasPrefix(k, "_litellm_") {
			delete(claims, k)
		}
	}
	return claims, nil
}

// decodeSegment base64url-decodes strictly (no padding, canonical
// trailing bits, so a token has exactly one encoding). Each segment gets
// an exactly-sized buffer: stack buffers would escape anyway (the parts
// flow into jwx's Verifier interface and encoding/json).
func decodeSegment(seg []byte) ([]byte, bool) {
	buf := make([]byte, b64.DecodedLen(len(seg)))
	n, err := b64.Decode(buf, seg)
	if err != nil {
		return nil, false
	}
	return buf[:n], true
}

type header struct {
	alg, kid []byte
}

// parseHeader reads alg and kid. Everything else is ignored on purpose:
// jku, x5u, x5c and jwk would let the token choose its own key; keys only
// ever come from configuration. crit is refused, since no extension is
// understood (RFC 7515 §4.1.11), and b64=false (RFC 7797) is refused.
func parseHeader(b []byte) (header, *apierror.Error) {
	var h header
	var bad *apierror.Error
	err := scanObject(b, func(name, val []byte) error {
		switch string(name) {
		case "alg", "kid":
			s, ok := jsonString(val)
			if !ok {
				bad = invalid("Validation fails: Invalid header string")
				return errJSONSyntax
			}
			if string(name) == "alg" {
				h.alg = s
			} else {
				h.kid = s
			}
		case "crit":
			bad = invalid("Validation fails: Unsupported critical header")
			return errJSONSyntax
		case "b64":
			if string(val) != "true" {
				bad = invalid("Validation fails: Unsupported b64 header")
				return errJSONSyntax
			}
		}
		return nil
	})
	switch {
	case bad != nil:
		return h, bad
	case errors.Is(err, errJSONDuplicate):
		return h, invalid("Validation fails: Duplicate header names in token")
	case err != nil: // scanObject validated b fully
		return h, invalid("Validation fails: Invalid header string")
	}
	return h, nil
}

// jsonString returns the contents of a raw JSON string value, unescaping
// only when needed.
func jsonString(val []byte) ([]byte, bool) {
	if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
		return nil, false
	}
	inner := val[1 : len(val)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if json.Unmarshal(val, &s) != nil {
				return nil, false
			}
			return []byte(s), true
		}
	}
	return inner, true
}

// keySearch is what findKey learnt from the sets it looked in that did
// not have the key: the last fetch error (a misconfigured URL apart, as it
// is a setup error, not an outage) and whether the kid exists with
// another key type.
type keySearch struct {
	unavailable, setup error
	wrongType          bool
}

// match looks for the key in one source's set (or its fetch error) and
// returns it, or nil after noting why not.
func (f *keySearch) match(set *keySet, err error, kid []byte, a *algSpec) *pubKey {
	if isMisconfigured(err) {
		f.setup = err
		return nil
	}
	if err != nil {
		f.unavailable = err
		return nil
	}
	k, r := set.match(kid, a)
	switch r {
	case matchFound:
		return k
	case matchWrongType:
		f.wrongType = true
	}
	return nil
}

// findKey looks for the token's key in srcs, in order. Cached sets are
// searched first (no I/O unless a set is missing or past TTL+StaleTTL);
// only when no set knows the kid is each URL asked (lookup: a fetch that
// started after the kid was seen, rate-limited per URL). The key of any
// URL is acceptable, unlike LiteLLM, which gives up with a 503 at the
// first unreachable URL; the 503 is kept for when no URL has the key and
// one of them could not be asked.
func (v *Verifier) findKey(ctx context.Context, srcs []*source, kid []byte, a *algSpec) (*pubKey, *apierror.Error) {
	var found keySearch
	// The fetch number of each source before looking: a fetch numbered
	// above it started after this token arrived.
	var genBuf [4]uint64
	gens := genBuf[:0]
	for _, s := range srcs {
		gens = append(gens, s.started.Load())
		set, err := s.current(ctx)
		if k := found.match(set, err, kid, a); k != nil {
			return k, nil
		}
	}
	// A kid that exists with another key type is not a rotation: refetching
	// would not help, and it must not cost the IdP a request.
	if !found.wrongType {
		for i, s := range srcs {
			set, err := s.lookup(ctx, kid, a, gens[i])
			if k := found.match(set, err, kid, a); k != nil {
				return k, nil
			}
		}
	}
	switch {
	case found.unavailable != nil:
		v.stats.unavailable.Add(1)
		return nil, providerUnavailable(found.unavailable, v.retryAfter(found.unavailable))
	case found.setup != nil:
		return nil, keysUnusable(found.setup)
	case found.wrongType:
		return nil, invalid("Validation fails: The key for this kid does not fit the token's alg")
	}
	return nil, invalid("No matching public key found. keys=" + v.keysLabel(srcs) + ", kid=" + printableKID(kid))
}

// keysLabel names the URLs searched as LiteLLM's message does: the
// JWT_PUBLIC_KEY_URL list as Python prints it, or an issuer's one URL.
func (v *Verifier) keysLabel(srcs []*source) string {
	if len(srcs) == 1 && (len(v.global) != 1 || srcs[0] != v.global[0]) {
		return srcs[0].url
	}
	urls := make([]string, len(srcs))
	for i, s := range srcs {
		urls[i] = s.url
	}
	return apierror.PyList(urls)
}

// checkClaims applies PyJWT's rules (with LiteLLM's messages): exp, nbf
// and iat only when present (exp required when configured), compared in
// fractional seconds with leeway; iss and aud only when expected.
func (v *Verifier) checkClaims(c map[string]any, iss, aud string) *apierror.Error {
	now := float64(v.now().UnixNano()) / 1e9
	if x, ok := c["exp"]; ok {
		exp, ok := x.(float64)
		if !ok {
			return invalid("Validation fails: Expiration Time claim (exp) must be an integer.")
		}
		if exp <= now-v.leeway {
			return expired()
		}
	} else if v.requireExp {
		return invalid(`Validation fails: Token is missing the "exp" claim`)
	}
	if err := notAfter(c, "nbf", now+v.leeway, "Validation fails: Not Before claim (nbf) must be an integer.",
		"Validation fails: The token is not yet valid (nbf)"); err != nil {
		return err
	}
	if err := notAfter(c, "iat", now+v.leeway, "Validation fails: Issued At claim (iat) must be an integer.",
		"Validation fails: The token is not yet valid (iat)"); err != nil {
		return err
	}
	if iss != "" {
		x, ok := c["iss"]
		if !ok {
			return invalid(`Validation fails: Token is missing the "iss" claim`)
		}
		if s, ok := x.(string); !ok || s != iss {
			return invalid("Validation fails: Invalid issuer")
		}
	}
	if aud != "" {
		x, ok := c["aud"]
		if !ok {
			return invalid(`Validation fails: Token is missing the "aud" claim`)
		}
		switch t := x.(type) {
		case string:
			if t == aud {
				return nil
			}
		case []any:
			match := false
			for _, e := range t {
				s, ok := e.(string)
				if !ok {
					return invalid("Validation fails: Invalid claim format in token")
				}
				match = match || s == aud
			}
			if match {
				return nil
			}
		default:
			return invalid("Validation fails: Invalid claim format in token")
		}
		return invalid("Validation fails: Audience doesn't match")
	}
	return nil
}

// notAfter checks the time claim name (nbf, iat) when present: a number
// not after latest, else invalid with notNumber or tooLate (LiteLLM's
// messages).
func notAfter(c map[string]any, name string, latest float64, notNumber, tooLate string) *apierror.Error {
	x, ok := c[name]
	if !ok {
		return nil
	}
	t, ok := x.(float64)
	if !ok {
		return invalid(notNumber)
	}
	if t > latest {
		return invalid(tooLate)
	}
	return nil
}

// ErrProviderUnavailable is the sentinel of the 503 returned when keys are
// needed and neither the identity provider nor a usable cached copy can
// supply them. Match with errors.Is.
var ErrProviderUnavailable = &apierror.Error{Status: http.StatusServiceUnavailable, Type: "auth_provider_unavailable", Code: "auth_provider_unavailable"}

// retryAfter is when a request that got a 503 should come back: the end
// of the outage window (or of the wait for the next allowed fetch) it ran
// into, rounded up by the caller to whole seconds, so that the retry is
// never refused for coming too early.
func (v *Verifier) retryAfter(err error) time.Duration {
	var o *outageError
	if errors.As(err, &o) && !o.until.IsZero() {
		if d := o.until.Sub(v.now()); d > 0 {
			return d
		}
		return time.Second
	}
	return v.outage
}

func providerUnavailable(cause error, retry time.Duration) *apierror.Error {
	e := ErrProviderUnavailable.Wrap(cause, "Service Unavailable, the identity provider's JWKS endpoint is temporarily unreachable. Please retry.")
	secs := int((retry + time.Second - 1) / time.Second)
	e.Header = map[string]string{"Retry-After": strconv.Itoa(max(secs, 1))}
	return e
}

// invalid is a 401 with an RFC 6750 challenge, so clients (and CLIs doing
// discovery, LiteLLM #41135) can tell a bad token from a missing one.
func invalid(msg string) *apierror.Error {
	e := apierror.Unauthenticated.With("%s", msg)
	e.Header = map[string]string{"WWW-Authenticate": challenge(msg)}
	return e
}

func expired() *apierror.Error {
	const msg = "Authentication Error, Token Expired"
	e := apierror.ExpiredKey.With("%s", msg)
	e.Header = map[string]string{"WWW-Authenticate": challenge("Token Expired")}
	return e
}

// challenge builds the WWW-Authenticate value. error_description may only
// hold printable ASCII without '"' and '\' (RFC 6750 §3).
func challenge(desc string) string {
	b := make([]byte, 0, len(desc))
	for i := 0; i < len(desc); i++ {
		switch c := desc[i]; {
		case c == '"':
			b = append(b, '\'')
		case c == '\\' || c < 0x20 || c > 0x7e:
			b = append(b, '?')
		default:
			b = append(b, c)
		}
	}
	return `Bearer error="invalid_token", error_description="` + string(b) + `"`
}

// printableKID renders an attacker-chosen kid for a message: printable
// ASCII only, at most 64 bytes, "None" (as LiteLLM prints it) when absent.
func printableKID(kid []byte) string {
	if len(kid) == 0 {
		return "None"
	}
	const maxLen = 64
	var b strings.Builder
	for i, c := range kid {
		if i == maxLen {
			b.WriteString("...")
			break
		}
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b.WriteByte(c)
	}
	return b.String()
}
