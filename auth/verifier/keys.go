package verifier

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// keyKind is the family of public key an algorithm needs.
type keyKind uint8

const (
	kindRSA keyKind = iota + 1
	kindEC
	kindEd25519
)

// algSpec is one accepted signature algorithm. The table is the allow
// list: a header alg that is not a key of algs (none, HS*, ES256K, typos,
// case variants) is refused before any key is looked up, which is what
// makes HMAC alg-confusion with an RSA public key impossible.
type algSpec struct {
	name  string
	kind  keyKind
	curve elliptic.Curve // for kindEC
	jws   jws.Verifier   // jwx's implementation of the algorithm
}

var algs = func() map[string]*algSpec {
	m := map[string]*algSpec{}
	add := func(a jwa.SignatureAlgorithm, kind keyKind, curve elliptic.Curve) {
		v, err := jws.NewVerifier(a)
		if err != nil {
			panic(fmt.Sprintf("jwx lacks %s: %v", a, err))
		}
		m[a.String()] = &algSpec{name: a.String(), kind: kind, curve: curve, jws: v}
	}
	for _, a := range []jwa.SignatureAlgorithm{jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512} {
		add(a, kindRSA, nil)
	}
	add(jwa.ES256, kindEC, elliptic.P256())
	add(jwa.ES384, kindEC, elliptic.P384())
	add(jwa.ES512, kindEC, elliptic.P521())
	add(jwa.EdDSA, kindEd25519, nil)
	return m
}()

// minRSABits: keys below 2048 bits are dropped from key sets (NIST
// SP 800-131A); LiteLLM accepts any size.
const minRSABits = 2048

// pubKey is one usable verification key, already converted to its crypto
// type so the hot path does no JWK work.
type pubKey struct {
	kid   string
	alg   string // the JWK's own "alg"; "" when it has none
	kind  keyKind
	curve elliptic.Curve
	raw   any // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// fits reports whether k may verify a token signed with a: the key's own
// alg, when it declares one, must be a, and its type (and curve) must be
// the one a needs.
func (k *pubKey) fits(a *algSpec) bool {
	if k.alg != "" && k.alg != a.name {
		return false
	}
	if k.kind != a.kind {
		return false
	}
	return a.kind != kindEC || k.curve == a.curve
}

// keySet is an immutable snapshot of one URL's keys. It is replaced
// wholesale on every successful fetch and read without locks.
type keySet struct {
	fetchedAt time.Time
	// freshUntil ends the TTL (or the provider's shorter max-age); set by
	// the fetch.
	freshUntil time.Time
	// seq is the number of the fetch that produced the set (source.started).
	seq   uint64
	byKID map[string][]*pubKey
	all   []*pubKey
	// staleLogged: "serving stale" is logged once per set, not per request.
	staleLogged atomic.Bool
}

// diff lists the kids added and removed relative to old (for the
// rotation log line; kid-less keys are not listed).
func (s *keySet) diff(old *keySet) (added, removed []string) {
	if old == nil {
		return nil, nil
	}
	for kid := range s.byKID {
		if _, ok := old.byKID[kid]; !ok {
			added = append(added, kid)
		}
	}
	for kid := range old.byKID {
		if _, ok := s.byKID[kid]; !ok {
			removed = append(removed, kid)
		}
	}
	if len(s.all) != len(old.all) && len(added) == 0 && len(removed) == 0 {
		added = append(added, fmt.Sprintf("(%d keys, was %d)", len(s.all), len(old.all)))
	}
	sort.Strings(added)
	sort.Strings(removed)
	return added, removed
}

// matchResult says why a lookup failed, so a kid that exists with the
// wrong key type is not reported (or refetched) as an unknown kid.
type matchResult uint8

const (
	matchNone matchResult = iota
	matchFound
	matchWrongType
)

// match applies LiteLLM's kid rules: a set with exactly one key matches a
// token carrying that key's kid or no kid at all; a set with several keys
// needs an equal, non-empty kid. kid is only ever a map key here, so "kid"
// values like "../../etc/passwd" are simply unknown.
func (s *keySet) match(kid []byte, a *algSpec) (*pubKey, matchResult) {
	if s == nil {
		return nil, matchNone
	}
	var cands []*pubKey
	if len(s.all) == 1 {
		if k := s.all[0]; len(kid) == 0 || k.kid == string(kid) {
			cands = s.all
		}
	} else if len(kid) > 0 {
		cands = s.byKID[string(kid)]
	}
	if len(cands) == 0 {
		return nil, matchNone
	}
	for _, k := range cands {
		if k.fits(a) {
			return k, matchFound
		}
	}
	return nil, matchWrongType
}

var errNoUsableKeys = errors.New("no usable signing keys in JWKS")

// parseJWKS turns a fetched body into a key set. Accepted shapes:
// {"keys":[...]} (RFC 7517), a bare JWK, a map of kid to PEM certificate
// (Google's v1 certs endpoint, which LiteLLM also accepts), or PEM text.
// Keys that cannot verify signatures for us are skipped, not fatal:
// symmetric keys, "use":"enc" keys, key_ops without "verify", algs outside
// the allow list, curves we do not support, short RSA keys. A body with
// keys but none usable is an error, so a broken response never replaces
// a good cached set.
func parseJWKS(body []byte, fetchedAt time.Time) (*keySet, []error, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, nil, errors.New("empty JWKS response")
	}
	var keys []jwk.Key
	var skipped []error
	switch {
	case body[0] == '-':
		set, err := jwk.Parse(body, jwk.WithPEM(true))
		if err != nil {
			return nil, nil, fmt.Errorf("unparseable PEM key: %w", err)
		}
		for i := 0; i < set.Len(); i++ {
			k, _ := set.Key(i)
			keys = append(keys, k)
		}
	default:
		var top map[string]json.RawMessage
		if err := json.Unmarshal(body, &top); err != nil {
			return nil, nil, fmt.Errorf("unparseable JWKS: %w", err)
		}
		switch {
		case top["keys"] != nil:
			var list []json.RawMessage
			if err := json.Unmarshal(top["keys"], &list); err != nil || list == nil {
				return nil, nil, errors.New("unparseable JWKS: keys is not a list")
			}
			if len(list) == 0 {
				// The provider says it has no keys: believe it (every token
				// fails) rather than keep trusting keys it dropped.
				return newKeySet(nil, fetchedAt), nil, nil
			}
			for i, raw := range list {
				k, err := jwk.ParseKey(raw)
				if err != nil {
					skipped = append(skipped, fmt.Errorf("key %d: %w", i, err))
					continue
				}
				keys = append(keys, k)
			}
		case top["kty"] != nil:
			k, err := jwk.ParseKey(body)
			if err != nil {
				return nil, nil, fmt.Errorf("unparseable JWK: %w", err)
			}
			keys = append(keys, k)
		default:
			kids := make([]string, 0, len(top))
			for kid := range top {
				kids = append(kids, kid)
			}
			sort.Strings(kids)
			for _, kid := range kids {
				var pemText string
				if err := json.Unmarshal(top[kid], &pemText); err != nil || !strings.HasPrefix(strings.TrimSpace(pemText), "-----BEGIN") {
					return nil, nil, errors.New("unparseable JWKS: no keys, kty or kid-to-PEM map")
				}
				k, err := jwk.ParseKey([]byte(pemText), jwk.WithPEM(true))
				if err != nil {
					skipped = append(skipped, fmt.Errorf("key %q: %w", kid, err))
					continue
				}
				if err := k.Set(jwk.KeyIDKey, kid); err != nil {
					return nil, nil, err
				}
				keys = append(keys, k)
			}
		}
	}
	var usable []*pubKey
	for _, k := range keys {
		pk, err := convertKey(k)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %q: %w", k.KeyID(), err))
			continue
		}
		usable = append(usable, pk)
	}
	if len(usable) == 0 {
		return nil, skipped, errNoUsableKeys
	}
	return newKeySet(usable, fetchedAt), skipped, nil
}

func newKeySet(keys []*pubKey, fetchedAt time.Time) *keySet {
	s := &keySet{fetchedAt: fetchedAt, all: keys, byKID: make(map[string][]*pubKey, len(keys))}
	for _, k := range keys {
		if k.kid != "" {
			s.byKID[k.kid] = append(s.byKID[k.kid], k)
		}
	}
	return s
}

// convertKey keeps only what verification needs and refuses keys that are
// not for signature verification with an allowed algorithm.
func convertKey(k jwk.Key) (*pubKey, error) {
	if k.KeyType() == jwa.OctetSeq {
		return nil, errors.New("symmetric key ignored")
	}
	if use := k.KeyUsage(); use != "" && use != "sig" {
		return nil, fmt.Errorf("key use %q ignored", use)
	}
	if ops := k.KeyOps(); len(ops) > 0 && !slices.Contains(ops, jwk.KeyOpVerify) {
		return nil, errors.New("key_ops without verify ignored")
	}
	pk := &pubKey{kid: k.KeyID()}
	if a := k.Algorithm(); a != nil && a.String() != "" {
		if algs[a.String()] == nil {
			return nil, fmt.Errorf("alg %q not allowed", a.String())
		}
		pk.alg = a.String()
	}
	raw, err := jwk.PublicRawKeyOf(k)
	if err != nil {
		return nil, err
	}
	switch r := raw.(type) {
	case *rsa.PublicKey:
		if r.N == nil || r.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key shorter than %d bits", minRSABits)
		}
		pk.kind = kindRSA
	case *ecdsa.PublicKey:
		switch r.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return nil, errors.New("unsupported EC curve")
		}
		pk.kind, pk.curve = kindEC, r.Curve
	case ed25519.PublicKey:
		if len(r) != ed25519.PublicKeySize {
			return nil, errors.New("bad Ed25519 key")
		}
		pk.kind = kindEd25519
	default:
		return nil, fmt.Errorf("unsupported key type %T", raw)
	}
	pk.raw = raw
	return pk, nil
}
