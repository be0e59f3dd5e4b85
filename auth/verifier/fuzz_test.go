package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzScanObject: the duplicate-name scanner never panics, accepts every
// valid JSON object without duplicates, and finds every duplicate that
// encoding/json would silently collapse.
func FuzzScanObject(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":1,"a":2}`, `{"a":{"b":[1,{"c":2,"c":3}]}}`, `{"\u0061":1,"a":2}`,
		`{"a":"\"","b":[true,false,null,-1.5e3]}`, ` {"a" : [ ] , "b" : { } } `, `{"a":1}x`, `[1]`, `{"a`, `{"a":"\ud800","b":"\udc00"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := scanObject(data, func(name, raw []byte) error { return nil })
		var m map[string]json.RawMessage
		validObject := json.Valid(data) && json.Unmarshal(data, &m) == nil && m != nil
		switch {
		case validObject && (err == nil || errors.Is(err, errJSONDuplicate) || errors.Is(err, errJSONDepth) || errors.Is(err, errJSONUTF8)):
		case validObject:
			t.Fatalf("valid object %q refused: %v", data, err)
		case err == nil:
			t.Fatalf("%q accepted: not a valid JSON object", data)
		}
		if err == nil && validObject {
			// No duplicates at the top level: decoding keeps every name.
			n := 0
			_ = scanObject(data, func(name, raw []byte) error { n++; return nil })
			if n != len(m) {
				t.Fatalf("%q: %d members scanned, %d decoded: a duplicate slipped through", data, n, len(m))
			}
		}
	})
}

// FuzzVerify: arbitrary tokens never panic and never verify.
func FuzzVerify(f *testing.F) {
	k := keys(f)
	p := newIDP(f, k.rs, k.es)
	clk := newClock()
	v := newVerifier(f, clk, Config{PublicKeyURLs: []string{p.jwksURL()}, RefetchCooldown: 1 << 62, RefetchInterval: 1 << 62, MaxRefetchWait: time.Millisecond})
	if err := v.Prefetch(context.Background()); err != nil {
		f.Fatal(err)
	}
	inputs := map[string]bool{} // signing inputs of the genuine seeds
	for _, tok := range []string{sign(f, k.rs, baseClaims(clk), nil), sign(f, k.es, baseClaims(clk), nil)} {
		inputs[tok[:strings.LastIndexByte(tok, '.')]] = true
		f.Add(tok)
	}
	f.Add(craft(`{"alg":"none"}`, `{}`, nil))
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		if _, err := v.Verify(context.Background(), tok); err == nil {
			// Only a genuine header and payload can verify (ECDSA
			// signatures are malleable, so the signature part may differ).
			if i := strings.LastIndexByte(tok, '.'); i < 0 || !inputs[tok[:i]] {
				t.Fatalf("forged token accepted: %q", tok)
			}
		}
	})
}
