package jwtauth

import "testing"

// TestIsJWT: LiteLLM's is_jwt is len(token.split(".")) == 3, empty parts
// included, so the unsigned "header.payload." reaches the JWT pipeline
// (audit finding 4); a virtual key never does.
func TestIsJWT(t *testing.T) {
	for _, tc := range []struct {
		tok  string
		want bool
	}{
		{"eyJh.eyJw.sig", true},
		{"eyJh.eyJw.", true}, // alg none, empty signature
		{".eyJw.sig", true},
		{"..", true},
		{"eyJh.eyJw", false},
		{"a.b.c.d", false},
		{"", false},
		{"sk-1234", false},
		{"sk-AbCdEfGhIjKlMnOpQrStUv", false},
		{"sk-with.one-dot", false},
	} {
		if got := IsJWT(tc.tok); got != tc.want {
			t.Errorf("IsJWT(%q) = %v, want %v", tc.tok, got, tc.want)
		}
	}
	tok := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
	if n := testing.AllocsPerRun(100, func() { _ = IsJWT(tok) }); n != 0 {
		t.Fatalf("IsJWT allocates %v times", n)
	}
}

func BenchmarkIsJWT(b *testing.B) {
	tok := "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ4IiwidGVhbSI6InRlYW0tYSJ9.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl"
	b.ReportAllocs()
	for b.Loop() {
		_ = IsJWT(tok)
	}
}
