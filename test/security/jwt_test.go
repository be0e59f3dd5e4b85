package security

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"hash"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oidctest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// The attack tokens are built from literal JSON with the shared signers.
type signer = testutil.Signer

var forge = testutil.ForgeJWS

func rs(key crypto.Signer, h crypto.Hash) signer  { return testutil.SignRSA(key, h) }
func ps256(key crypto.Signer) signer              { return testutil.SignPSS(key, crypto.SHA256) }
func hs(h func() hash.Hash, secret []byte) signer { return testutil.SignHMAC(h, secret) }
func es256(key *ecdsa.PrivateKey) signer          { return testutil.SignES256(key) }

// attacker is what someone without the identity provider's keys has: a
// key of their own and a server to publish it from.
type attacker struct {
	key     *rsa.PrivateKey
	ec      *ecdsa.PrivateKey
	certDER []byte
	url     string
	hits    atomic.Int64 // any fetch means the gateway followed an attacker's URL
}

func newAttacker(t *testing.T) *attacker {
	a := &attacker{}
	var err error
	if a.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if a.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	if a.certDER, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &a.key.PublicKey, a.key); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, mustJSON(map[string]any{"keys": []any{a.jwk("attacker")}}))
	}))
	t.Cleanup(srv.Close)
	a.url = srv.URL + "/jwks"
	return a
}

func (a *attacker) jwk(kid string) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": b64(a.key.N.Bytes()), "e": b64(big.NewInt(int64(a.key.E)).Bytes())}
}

// jwtAttacks forges tokens three ways: with no key, with the attacker's
// key, and with the identity provider's own key (oidctest.SigningKey) for
// the header and claim checks, so that those are refused by the check
// under test and not by a bad signature. Each forgery is tried with admin
// claims against the control plane (/key/list answers only an admin) and
// with team claims against the edge (gpt-4o is the team's model): every
// one would succeed if its token were accepted, which the positive
// controls prove.
func jwtAttacks(t *testing.T, s *stack) {
	adminTok := s.token(t, "admin-cli")
	teamTok := s.token(t, "team-a-svc")
	kid, idpKey := s.idp.SigningKey(t, "RS256")
	ecKid, _ := s.idp.SigningKey(t, "ES256")
	atk := newAttacker(t)

	claimsOf := func(tok string) map[string]any {
		_, c, err := oidctest.ParseUnverified(tok)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	targets := []struct {
		name   string
		claims map[string]any
		method string
		url    string
		body   any
	}{
		{"admin@control", claimsOf(adminTok), "GET", s.control + "/key/list", nil},
		{"admin@edge-relay", claimsOf(adminTok), "GET", s.edge + "/key/list", nil},
		{"team@edge", claimsOf(teamTok), "POST", s.edge + "/v1/chat/completions", chat("gpt-4o")},
	}
	// with is c's JSON with extra's names set, or removed where nil.
	with := func(c map[string]any, extra map[string]any) string {
		m := map[string]any{}
		for k, v := range c {
			m[k] = v
		}
		for k, v := range extra {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return mustJSON(m)
	}
	hdr := func(extra map[string]any) string {
		return with(map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": kid}, extra)
	}
	real := rs(idpKey, crypto.SHA256)

	// Positive controls: a token forged with the provider's key and an
	// ordinary header is accepted, so every refusal below is meaningful.
	for _, tg := range targets {
		tok := forge(hdr(nil), with(tg.claims, nil), real)
		if r := s.do(t, tg.method, tg.url, tok, tg.body, nil); r.status != 200 {
			t.Fatalf("control: forged-but-genuine token refused at %s: %d %s", tg.name, r.status, r.body)
		}
	}

	// A big but legitimate token (Entra ID tokens with many groups reach
	// 5-8 KiB) passes the HTTP server and is judged by the verifier.
	big := forge(hdr(nil), with(targets[0].claims, map[string]any{"groups": strings.Split(strings.Repeat("group-0123456789abcdef,", 300), ",")}), real)
	if len(big) < 8<<10 || len(big) > 16<<10 {
		t.Fatalf("big token is %d bytes, want 8-16 KiB", len(big))
	}
	if r := s.do(t, "GET", s.control+"/key/list", big, nil, nil); r.status != 200 {
		t.Fatalf("control: genuine %d-byte token refused: %d %s", len(big), r.status, trim(r.body))
	}

	pub := idpKey.Public().(*rsa.PublicKey)
	pkix, _ := x509.MarshalPKIXPublicKey(pub)
	pkcs1 := x509.MarshalPKCS1PublicKey(pub)
	pemPKIX := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	pemPKCS1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1})
	jwkJSON := []byte(mustJSON(map[string]any{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": b64(pub.N.Bytes()), "e": "AQAB"}))
	now := time.Now().Unix()

	type forgery struct {
		name string
		make func(c map[string]any) string
		typ  string
	}
	forgeries := []forgery{
		// alg none and its spellings, with and without a signature.
		{"alg none", func(c map[string]any) string { return forge(`{"alg":"none"}`, with(c, nil), nil) }, ""},
		{"alg None", func(c map[string]any) string { return forge(hdr(map[string]any{"alg": "None"}), with(c, nil), nil) }, ""},
		{"alg NONE", func(c map[string]any) string { return forge(hdr(map[string]any{"alg": "NONE"}), with(c, nil), nil) }, ""},
		{"alg nOnE", func(c map[string]any) string { return forge(hdr(map[string]any{"alg": "nOnE"}), with(c, nil), nil) }, ""},
		{"alg none with a real signature", func(c map[string]any) string {
			tok := forge(hdr(nil), with(c, nil), real)
			h := b64([]byte(hdr(map[string]any{"alg": "none"})))
			return h + tok[strings.IndexByte(tok, '.'):]
		}, ""},
		{"alg empty", func(c map[string]any) string { return forge(hdr(map[string]any{"alg": ""}), with(c, nil), real) }, ""},
		{"alg missing", func(c map[string]any) string { return forge(hdr(map[string]any{"alg": nil}), with(c, nil), real) }, ""},
		// HMAC with the provider's public key as the secret (alg confusion).
		{"HS256 with PEM PKIX public key", func(c map[string]any) string {
			return forge(hdr(map[string]any{"alg": "HS256"}), with(c, nil), hs(sha256.New, pemPKIX))
		}, ""},
		{"HS256 with PEM PKCS1 public key", func(c map[string]any) string {
			return forge(hdr(map[string]any{"alg": "HS256"}), with(c, nil), hs(sha256.New, pemPKCS1))
		}, ""},
		{"HS256 with DER public key", func(c map[string]any) string {
			return forge(hdr(map[string]any{"alg": "HS256"}), with(c, nil), hs(sha256.New, pkix))
		}, ""},
		{"HS256 with JWK JSON", func(c map[string]any) string {
			return forge(hdr(map[string]any{"alg": "HS256"}), with(c, nil), hs(sha256.New, jwkJSON))
		}, ""},
		{"HS256 with the modulus", func(c map[string]any) string {
			return forge(hdr(map[string]any{"alg": "HS256"}), with(c, nil), hs(sha256.New, pub.N.Bytes()))
		}, ""},
		{"HS512 with PEM public key", func(c map[string]any) string {
			return forge(hdr(map[string]any{"alg": "HS512"}), with(c, nil), hs(sha512.New, pemPKIX))
		}, ""},
		{"HS256 with an empty secret", func(c map[string]any) string {
			return forge(hdr(map[string]any{"alg": "HS256"}), with(c, nil), hs(sha256.New, nil))
		}, ""},
		// Right key, wrong algorithm for it.
		{"PS256 with the RS256 key", func(c map[string]any) string {
			return forge(hdr(map[string]any{"alg": "PS256"}), with(c, nil), ps256(idpKey))
		}, ""},
		{"RS512 with the RS256 key", func(c map[string]any) string {
			return forge(hdr(map[string]any{"alg": "RS512"}), with(c, nil), rs(idpKey, crypto.SHA512))
		}, ""},
		{"ES256 header on the RSA kid", func(c map[string]any) string {
			return forge(hdr(map[string]any{"alg": "ES256"}), with(c, nil), es256(atk.ec))
		}, ""},
		{"RS256 header on the EC kid", func(c map[string]any) string {
			return forge(hdr(map[string]any{"kid": ecKid}), with(c, nil), rs(atk.key, crypto.SHA256))
		}, ""},
		// The attacker's own key under every kid trick.
		{"attacker key, real kid", func(c map[string]any) string { return forge(hdr(nil), with(c, nil), rs(atk.key, crypto.SHA256)) }, ""},
		{"attacker key, no kid", func(c map[string]any) string {
			return forge(hdr(map[string]any{"kid": nil}), with(c, nil), rs(atk.key, crypto.SHA256))
		}, ""},
		{"kid path traversal", func(c map[string]any) string {
			return forge(hdr(map[string]any{"kid": "../../../../../../dev/null"}), with(c, nil), hs(sha256.New, nil))
		}, ""},
		{"kid path traversal to a file", func(c map[string]any) string {
			return forge(hdr(map[string]any{"kid": "../../../../etc/passwd"}), with(c, nil), rs(atk.key, crypto.SHA256))
		}, ""},
		{"kid SQL injection", func(c map[string]any) string {
			return forge(hdr(map[string]any{"kid": "x' UNION SELECT 'secret' --"}), with(c, nil), hs(sha256.New, []byte("secret")))
		}, ""},
		{"kid SQL tautology", func(c map[string]any) string {
			return forge(hdr(map[string]any{"kid": "' OR '1'='1"}), with(c, nil), rs(atk.key, crypto.SHA256))
		}, ""},
		{"kid command injection", func(c map[string]any) string {
			return forge(hdr(map[string]any{"kid": "key.pem|curl evil.example"}), with(c, nil), rs(atk.key, crypto.SHA256))
		}, ""},
		{"kid URL", func(c map[string]any) string {
			return forge(hdr(map[string]any{"kid": atk.url}), with(c, nil), rs(atk.key, crypto.SHA256))
		}, ""},
		{"kid NUL byte", func(c map[string]any) string {
			return forge(hdr(map[string]any{"kid": kid + "\x00attacker"}), with(c, nil), rs(atk.key, crypto.SHA256))
		}, ""},
		{"kid number", func(c map[string]any) string { return forge(hdr(map[string]any{"kid": 1}), with(c, nil), real) }, ""},
		{"kid huge", func(c map[string]any) string {
			return forge(hdr(map[string]any{"kid": strings.Repeat("k", 8000)}), with(c, nil), rs(atk.key, crypto.SHA256))
		}, ""},
		// Keys offered by the token itself.
		{"jku to the attacker's JWKS", func(c map[string]any) string {
			return forge(hdr(map[string]any{"kid": "attacker", "jku": atk.url}), with(c, nil), rs(atk.key, crypto.SHA256))
		}, ""},
		{"jku with the real kid", func(c map[string]any) string {
			return forge(hdr(map[string]any{"jku": atk.url}), with(c, nil), rs(atk.key, crypto.SHA256))
		}, ""},
		{"x5u to the attacker", func(c map[string]any) string {
			return forge(hdr(map[string]any{"kid": "attacker", "x5u": atk.url}), with(c, nil), rs(atk.key, crypto.SHA256))
		}, ""},
		{"x5c self-signed chain", func(c map[string]any) string {
			return forge(hdr(map[string]any{"kid": nil, "x5c": []string{base64.StdEncoding.EncodeToString(atk.certDER)}}), with(c, nil), rs(atk.key, crypto.SHA256))
		}, ""},
		{"x5c with the real kid", func(c map[string]any) string {
			return forge(hdr(map[string]any{"x5c": []string{base64.StdEncoding.EncodeToString(atk.certDER)}}), with(c, nil), rs(atk.key, crypto.SHA256))
		}, ""},
		{"embedded jwk", func(c map[string]any) string {
			return forge(hdr(map[string]any{"kid": "attacker", "jwk": atk.jwk("attacker")}), with(c, nil), rs(atk.key, crypto.SHA256))
		}, ""},
		{"embedded jwk with the real kid", func(c map[string]any) string {
			return forge(hdr(map[string]any{"jwk": atk.jwk(kid)}), with(c, nil), rs(atk.key, crypto.SHA256))
		}, ""},
		// Signed by the provider, refused for the header alone.
		{"crit with an unknown extension", func(c map[string]any) string {
			return forge(hdr(map[string]any{"crit": []string{"exp-policy"}, "exp-policy": 1}), with(c, nil), real)
		}, ""},
		{"crit empty", func(c map[string]any) string {
			return forge(hdr(map[string]any{"crit": []string{}}), with(c, nil), real)
		}, ""},
		{"crit b64 false", func(c map[string]any) string {
			return forge(hdr(map[string]any{"crit": []string{"b64"}, "b64": false}), with(c, nil), real)
		}, ""},
		{"duplicate alg in header", func(c map[string]any) string {
			return forge(`{"alg":"none","typ":"at+jwt","kid":"`+kid+`","alg":"RS256"}`, with(c, nil), real)
		}, ""},
		{"duplicate kid in header", func(c map[string]any) string {
			return forge(`{"alg":"RS256","kid":"attacker","kid":"`+kid+`"}`, with(c, nil), real)
		}, ""},
		{"duplicate exp in payload", func(c map[string]any) string {
			p := with(c, nil)
			return forge(hdr(nil), `{"exp":1,`+p[1:], real)
		}, ""},
		{"duplicate aud in payload", func(c map[string]any) string {
			p := with(c, nil)
			return forge(hdr(nil), `{"aud":"some-other-api",`+p[1:], real)
		}, ""},
		{"duplicate scope escalating", func(c map[string]any) string {
			p := with(c, nil)
			return forge(hdr(nil), p[:len(p)-1]+`,"scope":"litellm_proxy_admin","scope":"litellm_proxy_admin"}`, real)
		}, ""},
		{"escaped duplicate name", func(c map[string]any) string {
			p := with(c, nil)
			return forge(hdr(nil), `{"\u0065xp":1,`+p[1:], real)
		}, ""},
		// Time claims, signed by the provider.
		{"expired", func(c map[string]any) string { return forge(hdr(nil), with(c, map[string]any{"exp": now - 60}), real) }, "expired_key"},
		{"expired long ago", func(c map[string]any) string { return forge(hdr(nil), with(c, map[string]any{"exp": 1}), real) }, "expired_key"},
		{"exp missing", func(c map[string]any) string { return forge(hdr(nil), with(c, map[string]any{"exp": nil}), real) }, ""},
		{"exp as a string", func(c map[string]any) string {
			return forge(hdr(nil), with(c, map[string]any{"exp": "99999999999"}), real)
		}, ""},
		{"exp null", func(c map[string]any) string {
			return forge(hdr(nil), strings.Replace(with(c, nil), `"exp":`, `"exp":null,"x":`, 1), real)
		}, ""},
		{"nbf in the future", func(c map[string]any) string {
			return forge(hdr(nil), with(c, map[string]any{"nbf": now + 3600}), real)
		}, ""},
		{"iat in the future", func(c map[string]any) string {
			return forge(hdr(nil), with(c, map[string]any{"iat": now + 3600}), real)
		}, ""},
		{"nbf as a string", func(c map[string]any) string { return forge(hdr(nil), with(c, map[string]any{"nbf": "0"}), real) }, ""},
		// Issuer and audience, signed by the provider.
		{"wrong iss", func(c map[string]any) string {
			return forge(hdr(nil), with(c, map[string]any{"iss": "http://evil.example"}), real)
		}, ""},
		{"iss with a trailing slash", func(c map[string]any) string {
			return forge(hdr(nil), with(c, map[string]any{"iss": s.idp.Issuer + "/"}), real)
		}, ""},
		{"iss missing", func(c map[string]any) string { return forge(hdr(nil), with(c, map[string]any{"iss": nil}), real) }, ""},
		{"wrong aud", func(c map[string]any) string {
			return forge(hdr(nil), with(c, map[string]any{"aud": "some-other-api"}), real)
		}, ""},
		{"aud list without ours", func(c map[string]any) string {
			return forge(hdr(nil), with(c, map[string]any{"aud": []string{"a", "b"}}), real)
		}, ""},
		{"aud missing", func(c map[string]any) string { return forge(hdr(nil), with(c, map[string]any{"aud": nil}), real) }, ""},
		{"aud prefix", func(c map[string]any) string {
			return forge(hdr(nil), with(c, map[string]any{"aud": audience + "x"}), real)
		}, ""},
		// Signature games.
		{"signature stripped", func(c map[string]any) string { return forge(hdr(nil), with(c, nil), nil) }, ""},
		{"signature stripped, no dot", func(c map[string]any) string {
			tok := forge(hdr(nil), with(c, nil), nil)
			return strings.TrimSuffix(tok, ".")
		}, ""},
		{"signature of another token", func(c map[string]any) string {
			tok := forge(hdr(nil), with(c, map[string]any{"scope": "litellm_proxy_admin"}), nil)
			return tok + teamTok[strings.LastIndexByte(teamTok, '.')+1:]
		}, ""},
		{"signature truncated", func(c map[string]any) string {
			tok := forge(hdr(nil), with(c, nil), real)
			return tok[:len(tok)-10]
		}, ""},
		{"signature bit flipped", func(c map[string]any) string {
			tok := []byte(forge(hdr(nil), with(c, nil), real))
			i := len(tok) - 20
			if tok[i] == 'A' {
				tok[i] = 'B'
			} else {
				tok[i] = 'A'
			}
			return string(tok)
		}, ""},
		{"payload changed after signing", func(c map[string]any) string {
			tok := forge(hdr(nil), with(c, nil), real)
			parts := strings.Split(tok, ".")
			parts[1] = b64([]byte(with(c, map[string]any{"sub": "someone-else"})))
			return strings.Join(parts, ".")
		}, ""},
		{"padded base64", func(c map[string]any) string {
			tok := forge(hdr(nil), with(c, nil), real)
			parts := strings.Split(tok, ".")
			parts[2] += "=="
			return strings.Join(parts, ".")
		}, ""},
		{"standard base64 alphabet", func(c map[string]any) string {
			tok := forge(hdr(nil), with(c, nil), real)
			return strings.NewReplacer("-", "+", "_", "/").Replace(tok)
		}, ""},
		// Malformed and oversized.
		{"four segments", func(c map[string]any) string { return forge(hdr(nil), with(c, nil), real) + ".x" }, ""},
		{"JWE-shaped", func(c map[string]any) string { return "eyJhbGciOiJkaXIiLCJlbmMiOiJBMTI4R0NNIn0..x.y.z" }, ""},
		{"header not JSON", func(c map[string]any) string { return forge(`not json`, with(c, nil), real) }, ""},
		{"header an array", func(c map[string]any) string { return forge(`["RS256"]`, with(c, nil), real) }, ""},
		{"payload not JSON", func(c map[string]any) string { return forge(hdr(nil), `{"sub":`, real) }, ""},
		{"payload an array", func(c map[string]any) string { return forge(hdr(nil), `[1]`, real) }, ""},
		{"payload deeply nested", func(c map[string]any) string {
			p := with(c, nil)
			return forge(hdr(nil), p[:len(p)-1]+`,"x":`+strings.Repeat("[", 5000)+strings.Repeat("]", 5000)+`}`, real)
		}, ""},
		{"oversized token (~20 KiB, validly signed)", func(c map[string]any) string {
			return forge(hdr(nil), with(c, map[string]any{"pad": strings.Repeat("a", 14<<10)}), real)
		}, ""},
		{"empty segments", func(c map[string]any) string { return ".." }, ""},
	}
	for _, f := range forgeries {
		for _, tg := range targets {
			tok := f.make(tg.claims)
			s.secret("forged JWT", tok)
			attack{name: f.name + " @" + tg.name, method: tg.method, url: tg.url, cred: tok, body: tg.body,
				status: 401, typ: orDefault(f.typ, "")}.run(t, s, "jwt: forged tokens")
		}
	}
	// Headers bigger than the server reads are refused before any JWT code
	// runs, still with an envelope.
	huge := forge(hdr(nil), with(targets[0].claims, map[string]any{"pad": strings.Repeat("a", 40<<10)}), real)
	// (GETs only: with a body still unsent when the server closes, the
	// client can see a reset instead of the 431.)
	for _, u := range []string{s.control + "/key/list", s.edge + "/key/list", s.edge + "/v1/models"} {
		attack{name: "40 KiB token @" + u, method: "GET", url: u, cred: huge, status: 431, resetOK: true}.run(t, s, "jwt: forged tokens")
	}
	// The identity provider's own tokens with a bad claim.
	for _, c := range []struct{ client, typ string }{
		{"other-aud", ""}, {"expired", "expired_key"}, {"not-yet", ""}, {"future-iat", ""}, {"evil-iss", ""}, {"aud-list", ""},
	} {
		tok := s.token(t, c.client)
		for _, u := range []string{s.control + "/key/list", s.edge + "/key/list"} {
			attack{name: "IdP token " + c.client, method: "GET", url: u, cred: tok, status: 401, typ: c.typ}.run(t, s, "jwt: bad claims (IdP-issued)")
		}
	}
	if n := atk.hits.Load(); n != 0 {
		t.Errorf("the gateway fetched keys from a URL named in a token (%d requests)", n)
	}
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}
