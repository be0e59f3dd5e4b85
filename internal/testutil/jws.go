package testutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	_ "crypto/sha512" // SHA384 and SHA512 for SignRSA and SignPSS
	"encoding/base64"
	"hash"
)

// Signer makes the signature of a JWS signing input. The Sign* helpers
// panic on a signing error: a test key that cannot sign is a broken test.
type Signer func(input []byte) []byte

// ForgeJWS builds a compact JWS from literal header and payload JSON,
// signed by sign over the signing input (nil: an empty signature). Attack
// tests need the byte-level control (duplicate names, crit, odd algs) a
// JWT library would not give.
func ForgeJWS(header, payload string, sign Signer) string {
	in := b64url([]byte(header)) + "." + b64url([]byte(payload))
	var sig []byte
	if sign != nil {
		sig = sign([]byte(in))
	}
	return in + "." + b64url(sig)
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// SignRSA is RS256/384/512 (PKCS #1 v1.5) with key, an *rsa.PrivateKey.
func SignRSA(key crypto.Signer, h crypto.Hash) Signer {
	return func(in []byte) []byte {
		d := h.New()
		d.Write(in)
		sig, err := rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), h, d.Sum(nil))
		if err != nil {
			panic(err)
		}
		return sig
	}
}

// SignPSS is PS256/384/512 with key, an *rsa.PrivateKey.
func SignPSS(key crypto.Signer, h crypto.Hash) Signer {
	return func(in []byte) []byte {
		d := h.New()
		d.Write(in)
		sig, err := rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), h, d.Sum(nil), nil)
		if err != nil {
			panic(err)
		}
		return sig
	}
}

// SignHMAC is HS256/384/512: h is sha256.New and the like.
func SignHMAC(h func() hash.Hash, secret []byte) Signer {
	return func(in []byte) []byte {
		m := hmac.New(h, secret)
		m.Write(in)
		return m.Sum(nil)
	}
}

// SignES256 is ES256: r||s, 32 bytes each, as JWS wants (not ASN.1).
func SignES256(key *ecdsa.PrivateKey) Signer {
	return func(in []byte) []byte {
		d := sha256.Sum256(in)
		r, s, err := ecdsa.Sign(rand.Reader, key, d[:])
		if err != nil {
			panic(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	}
}
