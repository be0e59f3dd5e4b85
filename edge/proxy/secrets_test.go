package proxy

import (
	"bytes"
	"testing"

	"github.com/gatehouse/gatehouse/policy"
)

func TestSecretIndex(t *testing.T) {
	for _, c := range []struct{ b, sec string }{
		{"", ""}, {"abc", ""}, {"", "sk-abcdefgh"}, {"sk-abcdefgh", "sk-abcdefgh"},
		{`{"x":"sk-abcdefgh"}`, "sk-abcdefgh"}, {`{"x":"sk-abcdefg"}`, "sk-abcdefgh"},
		{"sk-abcdefgsk-abcdefgh", "sk-abcdefgh"}, {"AAAAAAAA", "AAAA"}, {"xAxxxxxxA", "A"},
		{"key ends the body: sk-Upstream-9", "sk-Upstream-9"}, {"sk-Upstream-", "sk-Upstream-9"},
		{"Zsk-abc", "sk-abc"}, {"sk-abcZ", "Zsk-abc"},
	} {
		if got, want := secretIndex([]byte(c.b), c.sec), bytes.Index([]byte(c.b), []byte(c.sec)); got != want {
			t.Errorf("secretIndex(%q, %q) = %d, bytes.Index says %d", c.b, c.sec, got, want)
		}
	}
}

func FuzzSecretIndex(f *testing.F) {
	f.Add([]byte(`{"choices":[{"message":{"content":"sk-proj-ABC123"}}]}`), "sk-proj-ABC123")
	f.Add([]byte("aaaaaaaaab"), "aab")
	f.Fuzz(func(t *testing.T, b []byte, sec string) {
		if got, want := secretIndex(b, sec), bytes.Index(b, []byte(sec)); got != want {
			t.Fatalf("secretIndex(%q, %q) = %d, bytes.Index says %d", b, sec, got, want)
		}
	})
}

func TestRedactDeployment(t *testing.T) {
	d := &policy.Deployment{APIKey: "sk-upstream-secret", ExtraHeaders: map[string]string{"X-Api-Key": "hdr-secret-1", "X-Trace": "not-a-secret"}}
	in := []byte(`{"a":"sk-upstream-secret","b":"hdr-secret-1","c":"not-a-secret","d":"sk-upstream-secret"}`)
	want := `{"a":"[REDACTED]","b":"[REDACTED]","c":"not-a-secret","d":"[REDACTED]"}`
	if got := redactDeployment(append([]byte(nil), in...), d); string(got) != want {
		t.Errorf("redactDeployment = %s, want %s", got, want)
	}
	clean := []byte(`{"a":"nothing here"}`)
	if got := redactDeployment(clean, d); &got[0] != &clean[0] {
		t.Error("a body without secrets was copied")
	}
}

// The ledger keeps an answer's id as the client read it: redacted like
// the answer, and without a copy when it holds no secret (every answer).
func TestRedactID(t *testing.T) {
	d := &policy.Deployment{APIKey: "sk-upstream-secret", ExtraHeaders: map[string]string{"X-Api-Key": "hdr-secret-1"}}
	for in, want := range map[string]string{
		"":                          "",
		"chatcmpl-abc123":           "chatcmpl-abc123",
		"id-sk-upstream-secret":     "id-[REDACTED]",
		"hdr-secret-1.gh1":          "[REDACTED].gh1",
		"chatcmpl-sk-upstream-secr": "chatcmpl-sk-upstream-secr",
	} {
		if got := redactID(in, d); got != want {
			t.Errorf("redactID(%q) = %q, want %q", in, got, want)
		}
	}
	// (Ranging over extra_headers costs eachSecret an allocation whatever
	// it redacts; a deployment without them is the common case.)
	plain := &policy.Deployment{APIKey: "sk-upstream-secret"}
	if n := testing.AllocsPerRun(100, func() { _ = redactID("chatcmpl-abc123", plain) }); n != 0 {
		t.Errorf("redactID of a clean id allocates %v times", n)
	}
}

// BenchmarkRedactAnswer is the secret search every non-streamed answer
// goes through, on a typical chat completion that holds no secret.
func BenchmarkRedactAnswer(b *testing.B) {
	body := []byte(`{"id":"chatcmpl-8f2a1c","object":"chat.completion","created":1733300000,"model":"gpt-4o-mini-2024-07-18",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":"Paris is the capital of France. It is known for the Eiffel Tower, ` +
		`the Louvre museum, its cafes and its long history as a center of art, fashion and science."},"logprobs":null,"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":42,"completion_tokens":38,"total_tokens":80,"prompt_tokens_details":{"cached_tokens":0}},"system_fingerprint":"fp_0ba0d124f1"}`)
	d := &policy.Deployment{APIKey: "sk-upstream-bench"}
	for _, v := range []struct {
		name string
		find func([]byte, string) int
	}{{"secretIndex", secretIndex}, {"bytes.Index", func(b []byte, s string) int { return bytes.Index(b, []byte(s)) }}} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if v.find(body, d.APIKey) >= 0 {
					b.Fatal("found")
				}
			}
		})
	}
	b.Run("redactDeployment", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			redactDeployment(body, d)
		}
	})
}
