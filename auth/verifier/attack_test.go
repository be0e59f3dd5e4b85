package verifier

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// TestAttacks: every token here must be refused with a 401 that does not
// echo the token, whatever the attack, and nothing may panic.
func TestAttacks(t *testing.T) {
	k := keys(t)
	p := newIDP(t, k.rs, k.rs2, k.es)
	attacker := newIDP(t, k.attacker) // serves the attacker's own JWKS
	clk := newClock()
	cfg := Config{PublicKeyURLs: []string{p.jwksURL()}, Audience: "gatehouse", Issuer: "https://idp.example", RequireExp: true}
	v := newVerifier(t, clk, cfg)
	if err := v.Prefetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	good := baseClaims(clk)
	goodJSON := mustJSON(good)
	legit := sign(t, k.rs, good, nil)
	if _, err := v.Verify(context.Background(), legit); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
	parts := strings.Split(legit, ".")
	rsaSign := rs256(rawKeys().rsa1)
	attackerSign := rs256(rawKeys().attacker)

	// The RSA public key as PEM and DER: the HMAC secrets of the classic
	// alg-confusion attack.
	der, _ := x509.MarshalPKIXPublicKey(&rawKeys().rsa1.PublicKey)
	pemPub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	attackerJWK, _ := jwk.FromRaw(&rawKeys().attacker.PublicKey)
	_ = attackerJWK.Set(jwk.KeyIDKey, "rsa-1")

	cert := selfSigned(t)
	bigTok := sign(t, k.rs, with(good, "padding", strings.Repeat("A", 100<<10)), nil)

	tests := []struct {
		name  string
		token string
		msg   string // substring of the expected message
	}{
		// PyJWT checks the alg before the signature: the canonical unsigned
		// token gets the alg message (audit finding 4).
		{"alg none, empty signature", craft(`{"alg":"none","kid":"rsa-1"}`, goodJSON, nil), "The specified alg value is not allowed"},
		{"HS256, empty signature", craft(`{"alg":"HS256","kid":"rsa-1"}`, goodJSON, nil), "The specified alg value is not allowed"},
		{"alg none, with signature", craft(`{"alg":"none","kid":"rsa-1"}`, goodJSON, rsaSign), "alg value is not allowed"},
		{"alg None", craft(`{"alg":"None","kid":"rsa-1"}`, goodJSON, rsaSign), "alg value is not allowed"},
		{"alg missing", craft(`{"kid":"rsa-1"}`, goodJSON, rsaSign), "alg value is not allowed"},
		{"alg lower case", craft(`{"alg":"rs256","kid":"rsa-1"}`, goodJSON, rsaSign), "alg value is not allowed"},
		{"alg not a string", craft(`{"alg":["RS256"],"kid":"rsa-1"}`, goodJSON, rsaSign), "Invalid header string"},
		{"HS256 with the RSA public key PEM as secret", craft(`{"alg":"HS256","kid":"rsa-1"}`, goodJSON, hs256(pemPub)), "alg value is not allowed"},
		{"HS256 with the RSA public key DER as secret", craft(`{"alg":"HS256","kid":"rsa-1"}`, goodJSON, hs256(der)), "alg value is not allowed"},
		{"HS512", craft(`{"alg":"HS512","kid":"rsa-1"}`, goodJSON, hs256(pemPub)), "alg value is not allowed"},
		{"ES256K", craft(`{"alg":"ES256K","kid":"ec-1"}`, goodJSON, rsaSign), "alg value is not allowed"},
		{"ES256 header on an RSA kid", craft(`{"alg":"ES256","kid":"rsa-1"}`, goodJSON, es256(rawKeys().ec256)), "does not fit the token's alg"},
		{"RS256 header on an EC kid", craft(`{"alg":"RS256","kid":"ec-1"}`, goodJSON, rsaSign), "does not fit the token's alg"},
		{"expired", sign(t, k.rs, with(good, "exp", clk.Unix(-time.Minute)), nil), "Token Expired"},
		{"nbf in the future", sign(t, k.rs, with(good, "nbf", clk.Unix(time.Hour)), nil), "not yet valid (nbf)"},
		{"iat in the future", sign(t, k.rs, with(good, "iat", clk.Unix(time.Hour)), nil), "not yet valid (iat)"},
		{"no exp", sign(t, k.rs, with(good, "exp", nil), nil), `missing the "exp" claim`},
		{"wrong aud", sign(t, k.rs, with(good, "aud", "someone-else"), nil), "Audience doesn't match"},
		{"wrong iss", sign(t, k.rs, with(good, "iss", "https://evil.example"), nil), "Invalid issuer"},
		{"unknown kid", craft(`{"alg":"RS256","kid":"rsa-404"}`, goodJSON, rsaSign), "No matching public key found. keys=['" + p.jwksURL() + "'], kid=rsa-404"},
		{"kid path traversal", craft(`{"alg":"RS256","kid":"../../etc/passwd"}`, goodJSON, rsaSign), "kid=../../etc/passwd"},
		{"kid SQL", craft(`{"alg":"RS256","kid":"' OR 1=1 --"}`, goodJSON, rsaSign), "kid=' OR 1=1 --"},
		{"kid control chars", craft(`{"alg":"RS256","kid":"a\r\nSet-Cookie: x"}`, goodJSON, rsaSign), "kid=a??Set-Cookie: x"},
		{"kid not a string", craft(`{"alg":"RS256","kid":1}`, goodJSON, rsaSign), "Invalid header string"},
		{"jku to attacker JWKS", craft(`{"alg":"RS256","kid":"evil-1","jku":"`+attacker.jwksURL()+`"}`, goodJSON, attackerSign), "No matching public key found"},
		{"jku, attacker key under a real kid", craft(`{"alg":"RS256","kid":"rsa-1","jku":"`+attacker.jwksURL()+`"}`, goodJSON, attackerSign), "Signature verification failed"},
		{"x5u to attacker", craft(`{"alg":"RS256","kid":"evil-1","x5u":"`+attacker.srv.URL+`/cert.pem"}`, goodJSON, attackerSign), "No matching public key found"},
		{"embedded jwk", craft(`{"alg":"RS256","kid":"rsa-1","jwk":`+mustJSON(attackerJWK)+`}`, goodJSON, attackerSign), "Signature verification failed"},
		{"embedded jwk, no kid", craft(`{"alg":"RS256","jwk":`+mustJSON(attackerJWK)+`}`, goodJSON, attackerSign), "No matching public key found. keys=['" + p.jwksURL() + "'], kid=None"},
		{"x5c with attacker cert", craft(`{"alg":"RS256","kid":"rsa-1","x5c":["`+cert+`"]}`, goodJSON, attackerSign), "Signature verification failed"},
		{"crit header (validly signed)", craft(`{"alg":"RS256","kid":"rsa-1","crit":["exp"],"exp":1}`, goodJSON, rsaSign), "Unsupported critical header"},
		{"empty crit", craft(`{"alg":"RS256","kid":"rsa-1","crit":[]}`, goodJSON, rsaSign), "Unsupported critical header"},
		{"b64 false", craft(`{"alg":"RS256","kid":"rsa-1","b64":false,"crit":["b64"]}`, goodJSON, rsaSign), "Unsupported"},
		{"truncated", legit[:len(legit)-10], "Signature verification failed"},
		{"truncated in payload", legit[:len(parts[0])+20], "Not enough segments"},
		{"two parts", parts[0] + "." + parts[1], "Not enough segments"},
		{"one part", parts[0], "Not enough segments"},
		{"four parts", legit + "." + parts[2], "Too many segments"},
		{"empty", "", "Not enough segments"},
		{"dots only", "..", "Invalid token format"},
		{"empty header", "." + parts[1] + "." + parts[2], "Invalid token format"},
		{"100 KB token", bigTok, "Token is too large"},
		{"signature stripped", parts[0] + "." + parts[1] + ".", "Signature verification failed"},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(sign(t, k.rs, with(good, "sub", "bob"), nil), ".")[2], "Signature verification failed"},
		{"payload tampered", parts[0] + "." + seg(mustJSON(with(good, "sub", "admin"))) + "." + parts[2], "Signature verification failed"},
		{"header tampered", seg(`{"alg":"RS256","kid":"rsa-2"}`) + "." + parts[1] + "." + parts[2], "Signature verification failed"},
		{"signature bit flipped", parts[0] + "." + parts[1] + "." + flip(parts[2]), "Signature verification failed"},
		{"padded base64", parts[0] + "=." + parts[1] + "." + parts[2], "Invalid header padding"},
		{"std base64 alphabet in signature", parts[0] + "." + parts[1] + ".+/" + parts[2][2:], "Signature verification failed"},
		{"whitespace in token", parts[0] + " ." + parts[1] + "." + parts[2], "Invalid header padding"},
		{"non-canonical base64 tail", parts[0] + "." + parts[1] + "." + nonCanonical(parts[2]), "Signature verification failed"},
		{"duplicate claim names", craft(`{"alg":"RS256","kid":"rsa-1"}`, strings.Replace(goodJSON, `"sub":"alice"`, `"sub":"alice","sub":"admin"`, 1), rsaSign), "Duplicate claim names"},
		{"duplicate claim names, escaped", craft(`{"alg":"RS256","kid":"rsa-1"}`, strings.Replace(goodJSON, `"sub":"alice"`, `"sub":"alice","\u0073ub":"admin"`, 1), rsaSign), "Duplicate claim names"},
		{"duplicate nested names", craft(`{"alg":"RS256","kid":"rsa-1"}`, strings.Replace(goodJSON, `"sub":"alice"`, `"sub":"alice","realm":{"roles":["u"],"roles":["admin"]}`, 1), rsaSign), "Duplicate claim names"},
		{"duplicate header names", craft(`{"alg":"RS256","kid":"rsa-404","kid":"rsa-1"}`, goodJSON, rsaSign), "Duplicate header names"},
		{"crit null", craft(`{"alg":"RS256","kid":"rsa-1","crit":null}`, goodJSON, rsaSign), "Unsupported critical header"},
		{"invalid UTF-8 in payload", craft(`{"alg":"RS256","kid":"rsa-1"}`, strings.Replace(goodJSON, `"sub":"alice"`, "\"sub\":\"alice\",\"r\xff\":\"a\",\"r\xfe\":\"b\"", 1), rsaSign), "Invalid payload string"},
		{"payload not an object", craft(`{"alg":"RS256","kid":"rsa-1"}`, `["sub","alice"]`, rsaSign), "Invalid payload string"},
		{"payload trailing garbage", craft(`{"alg":"RS256","kid":"rsa-1"}`, goodJSON+`{}`, rsaSign), "Invalid payload string"},
		{"payload deeply nested", craft(`{"alg":"RS256","kid":"rsa-1"}`, `{"a":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`}`, rsaSign), "Invalid payload string"},
		{"header not JSON", seg(`alg=RS256`) + "." + parts[1] + "." + parts[2], "Invalid header string"},
		{"header an array", seg(`["RS256"]`) + "." + parts[1] + "." + parts[2], "Invalid header string"},
		{"header trailing comma", craft(`{"alg":"RS256","kid":"rsa-1",}`, goodJSON, rsaSign), "Invalid header string"},
		{"exp as a string", craft(`{"alg":"RS256","kid":"rsa-1"}`, mustJSON(with(good, "exp", "99999999999")), rsaSign), "must be an integer"},
		{"JWE-shaped", legit + ".a.b", "Too many segments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic: %v", r)
				}
			}()
			_, err := v.Verify(context.Background(), tt.token)
			e := apiErr(t, err, 401)
			if tt.msg != "" && !strings.Contains(e.Message, tt.msg) {
				t.Errorf("message %q, want it to contain %q", e.Message, tt.msg)
			}
			if len(tt.token) > 20 && containsAny(e.Message+e.Error()+e.Header["WWW-Authenticate"], tt.token, parts[1], parts[2]) {
				t.Errorf("error echoes the token: %q", e.Message)
			}
			if h := e.Header["WWW-Authenticate"]; !strings.HasPrefix(h, `Bearer error="invalid_token", error_description="`) || strings.ContainsAny(h[len(`Bearer error="invalid_token", error_description="`):len(h)-1], "\"\\\r\n") {
				t.Errorf("WWW-Authenticate = %q", h)
			}
		})
	}
	if n := attacker.anyHits.Load(); n != 0 {
		t.Errorf("the attacker's server got %d requests: keys must never come from the token", n)
	}
	if _, err := v.Verify(context.Background(), legit); err != nil {
		t.Errorf("control token refused after the attacks: %v", err)
	}
}

// Refused algorithms never reach the key lookup: a cold verifier does not
// fetch anything for them.
func TestAlgRefusedBeforeKeyLookup(t *testing.T) {
	_, p, _, v := rsVerifier(t, Config{})
	der, _ := x509.MarshalPKIXPublicKey(&rawKeys().rsa1.PublicKey)
	for _, tok := range []string{
		craft(`{"alg":"none","kid":"rsa-1"}`, `{"sub":"x"}`, func([]byte) []byte { return []byte{0} }),
		craft(`{"alg":"HS256","kid":"rsa-1"}`, `{"sub":"x"}`, hs256(der)),
		craft(`{"alg":"RS256","kid":"rsa-1","crit":["x"]}`, `{"sub":"x"}`, rs256(rawKeys().rsa1)),
	} {
		_, err := v.Verify(context.Background(), tok)
		apiErr(t, err, 401)
	}
	if n := p.anyHits.Load(); n != 0 {
		t.Errorf("refused algorithms caused %d JWKS requests", n)
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[5] == 'A' {
		b[5] = 'B'
	} else {
		b[5] = 'A'
	}
	return string(b)
}

// nonCanonical changes the unused low bits of the last base64 character:
// a lenient decoder yields the same bytes, a strict one refuses.
func nonCanonical(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last^1])
}

func selfSigned(t *testing.T) string {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "evil"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rawKeys().attacker.PublicKey, rawKeys().attacker)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}
