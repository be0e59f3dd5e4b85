package verifier

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// testKey is a private key with its JWK forms; kid and alg are set on
// both.
type testKey struct {
	alg  jwa.SignatureAlgorithm
	priv jwk.Key
	pub  jwk.Key
	raw  any // the crypto private key
}

func newTestKey(t testing.TB, kid string, alg jwa.SignatureAlgorithm, raw any, setAlg bool) *testKey {
	t.Helper()
	priv, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	_ = priv.Set(jwk.KeyIDKey, kid)
	if setAlg {
		_ = priv.Set(jwk.AlgorithmKey, alg)
	}
	pub, err := priv.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{alg: alg, priv: priv, pub: pub, raw: raw}
}

// Raw keys are generated once per test binary: RSA generation is slow.
var rawKeys = sync.OnceValue(func() struct {
	rsa1, rsa2, rsaPS *rsa.PrivateKey
	ec256, ec384      *ecdsa.PrivateKey
	ed                ed25519.PrivateKey
	attacker          *rsa.PrivateKey
} {
	var k struct {
		rsa1, rsa2, rsaPS *rsa.PrivateKey
		ec256, ec384      *ecdsa.PrivateKey
		ed                ed25519.PrivateKey
		attacker          *rsa.PrivateKey
	}
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	var err error
	k.rsa1, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsaPS, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.attacker, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.ec256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(err)
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	return k
})

type keyring struct {
	rs, rs2, ps, es, es384, ed, attacker *testKey
}

func keys(t testing.TB) keyring {
	r := rawKeys()
	return keyring{
		rs:       newTestKey(t, "rsa-1", jwa.RS256, r.rsa1, true),
		rs2:      newTestKey(t, "rsa-2", jwa.RS256, r.rsa2, true),
		ps:       newTestKey(t, "ps-1", jwa.PS256, r.rsaPS, false),
		es:       newTestKey(t, "ec-1", jwa.ES256, r.ec256, true),
		es384:    newTestKey(t, "ec-384", jwa.ES384, r.ec384, false),
		ed:       newTestKey(t, "ed-1", jwa.EdDSA, r.ed, true),
		attacker: newTestKey(t, "evil-1", jwa.RS256, r.attacker, true),
	}
}

// idp is a fake identity provider: /jwks, and a discovery document.
type idp struct {
	t   testing.TB
	srv *httptest.Server

	mu   sync.Mutex
	keys []jwk.Key
	body []byte // served instead of keys when set

	status atomic.Int32 // non-zero: answer /jwks with this status
	// retryAfter (seconds), when set, goes with a non-zero status;
	// cacheControl on a good answer.
	retryAfter   atomic.Int32
	cacheControl atomic.Value
	down         atomic.Bool  // drop connections (transport error)
	hits         atomic.Int64 // /jwks requests
	discHits     atomic.Int64
	anyHits      atomic.Int64
}

func newIDP(t testing.TB, ks ...*testKey) *idp {
	p := &idp{t: t}
	for _, k := range ks {
		p.keys = append(p.keys, k.pub)
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) serve(w http.ResponseWriter, r *http.Request) {
	p.anyHits.Add(1)
	if p.down.Load() {
		if hj, ok := w.(http.Hijacker); ok {
			c, _, err := hj.Hijack()
			if err == nil {
				c.Close()
				return
			}
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		p.discHits.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": p.srv.URL, "jwks_uri": p.srv.URL + "/jwks"})
	case "/jwks":
		p.hits.Add(1)
		if s := p.status.Load(); s != 0 {
			if ra := p.retryAfter.Load(); ra > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int(ra)))
			}
			w.WriteHeader(int(s))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if cc, _ := p.cacheControl.Load().(string); cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		_, _ = w.Write(p.jwks())
	default:
		http.NotFound(w, r)
	}
}

func (p *idp) jwks() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.body != nil {
		return p.body
	}
	set := jwk.NewSet()
	for _, k := range p.keys {
		_ = set.AddKey(k)
	}
	b, err := json.Marshal(set)
	if err != nil {
		p.t.Error(err)
	}
	return b
}

func (p *idp) setKeys(ks ...*testKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = nil
	for _, k := range ks {
		p.keys = append(p.keys, k.pub)
	}
}

func (p *idp) setBody(b string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.body = []byte(b)
}

func (p *idp) jwksURL() string      { return p.srv.URL + "/jwks" }
func (p *idp) discoveryURL() string { return p.srv.URL + "/.well-known/openid-configuration" }

// clock is a settable Now.
type clock struct{ n atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.n.Store(time.Now().UnixNano())
	return c
}
func (c *clock) Now() time.Time             { return time.Unix(0, c.n.Load()) }
func (c *clock) Add(d time.Duration)        { c.n.Add(int64(d)) }
func (c *clock) Unix(d time.Duration) int64 { return c.Now().Add(d).Unix() }

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// newVerifier builds a Verifier on clk with fast retries and no logs.
func newVerifier(t testing.TB, clk *clock, cfg Config) *Verifier {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = clk.Now
	}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLog
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

// sign makes a token with jwx. extra headers go into the protected header.
func sign(t testing.TB, k *testKey, claims map[string]any, extra map[string]any) string {
	t.Helper()
	tok := jwt.New()
	for n, v := range claims {
		if err := tok.Set(n, v); err != nil {
			t.Fatal(err)
		}
	}
	hdr := jws.NewHeaders()
	for n, v := range extra {
		if err := hdr.Set(n, v); err != nil {
			t.Fatal(err)
		}
	}
	b, err := jwt.Sign(tok, jwt.WithKey(k.alg, k.priv, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func seg(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// craft builds a token from literal JSON, signed by fn over the signing
// input: attack tokens need byte-level control (duplicate names, crit,
// odd algs) that a JWT library would not produce.
var craft = testutil.ForgeJWS

func rs256(k *rsa.PrivateKey) testutil.Signer   { return testutil.SignRSA(k, crypto.SHA256) }
func es256(k *ecdsa.PrivateKey) testutil.Signer { return testutil.SignES256(k) }
func hs256(secret []byte) testutil.Signer       { return testutil.SignHMAC(sha256.New, secret) }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// apiErr asserts err is an *apierror.Error with status.
func apiErr(t testing.TB, err error, status int) *apierror.Error {
	t.Helper()
	var e *apierror.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *apierror.Error", err, err)
	}
	if e.Status != status {
		t.Fatalf("status = %d (%s), want %d", e.Status, e.Message, status)
	}
	return e
}

// eventually polls cond for up to 5 s: for background work.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if x != "" && strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// rsVerifier is most tests' setup: a provider serving k.rs and a verifier
// of its JWKS on a clock of the test's own; cfg is the rest of the
// verifier's Config.
func rsVerifier(t testing.TB, cfg Config) (keyring, *idp, *clock, *Verifier) {
	t.Helper()
	k := keys(t)
	p := newIDP(t, k.rs)
	clk := newClock()
	cfg.PublicKeyURLs = []string{p.jwksURL()}
	return k, p, clk, newVerifier(t, clk, cfg)
}
