package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

var validCases = []string{
	``, ` `, `{}`, `[]`, `{ }`, `[ ]`, `{"a":1}`, `{"a":1,}`, `{,}`, `[1,]`, `[,1]`, `[1 2]`, `{"a" 1}`, `{"a":}`, `{a:1}`,
	`{"a":1}}`, `[[]]]`, `[}`, `{]`, `"x"`, `"x`, `"\"`, `"\\"`, `"\/"`, `"\u00e9"`, `"\u00g9"`, `"\u00e"`, `"\x"`,
	"\"a\tb\"", "\"a\x7fb\"", "\"\xff\xfe\"", `true`, `tru`, `truex`, `false`, `null`, `nul`, `nulll`,
	`0`, `-0`, `01`, `-`, `1.`, `1.5`, `.5`, `1e5`, `1E+5`, `1e-5`, `1e`, `1e+`, `-1.5e10`, `+1`, `1x`, `0x1`,
	" \t\r\n{\"a\" : [ 1 , 2 ] } \n", "\v{}", "{}\x00", `{"a":{"b":[true,false,null,"s",-1.25e-3]}}`,
	`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true}`,
	`[{"a":[{"b":[]}]},{}]`, `{"a":[}`, `{"a":{]}`, `[{"a":1]`, `[1}`,
}

func TestValidMatchesEncodingJSON(t *testing.T) {
	for _, c := range validCases {
		if got, want := Valid([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("Valid(%q) = %v, json.Valid says %v", c, got, want)
		}
	}
}

func TestValidDepth(t *testing.T) {
	for _, n := range []int{maxDepth - 1, maxDepth, maxDepth + 1} {
		for _, open := range []string{"[", `{"a":`} {
			close := "]"
			if open != "[" {
				close = "}"
			}
			doc := []byte(strings.Repeat(open, n) + "1" + strings.Repeat(close, n))
			if got, want := Valid(doc), json.Valid(doc); got != want {
				t.Errorf("depth %d of %q: Valid = %v, json.Valid says %v", n, open, got, want)
			}
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, c := range validCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}

// chatBody is a chat request of typical size: a system prompt, two turns,
// parameters.
var chatBody = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant. Answer briefly and cite sources when you can."},` +
	`{"role":"user","content":"What is the capital of France, and what is it known for? Give me three things."},` +
	`{"role":"assistant","content":"Paris: the Eiffel Tower, the Louvre, and its caf\u00e9s."},{"role":"user","content":"And its population?"}],` +
	`"temperature":0.2,"max_tokens":256,"stream":false,"user":"user-1234"}`)

func BenchmarkValid(b *testing.B) {
	for _, v := range []struct {
		name  string
		valid func([]byte) bool
	}{{"jsonscan", Valid}, {"encoding_json", json.Valid}} {
		b.Run(v.name, func(b *testing.B) {
			b.SetBytes(int64(len(chatBody)))
			b.ReportAllocs()
			for b.Loop() {
				if !v.valid(chatBody) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
