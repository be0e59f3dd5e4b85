package proxy

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/policy"
)

type mockChunk struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Delta struct {
			Role    *string `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
}

func TestMockNonStream(t *testing.T) {
	tests := []struct {
		name        string
		mock        string
		body        string
		wantContent string
		wantPrompt  int
	}{
		{
			name:        "echoes the last user message",
			body:        `{"model":"g","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"first"},{"role":"assistant","content":"ok"},{"role":"user","content":"hello  there"}]}`,
			wantContent: "This is a mock response from mock-model. You said: hello  there",
			wantPrompt:  6,
		},
		{
			name:        "array content concatenates text parts",
			body:        `{"model":"g","messages":[{"role":"user","content":[{"type":"text","text":"look at "},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"this"}]}]}`,
			wantContent: "This is a mock response from mock-model. You said: look at this",
			wantPrompt:  3,
		},
		{
			name:        "configured mock_response wins",
			mock:        "fixed answer",
			body:        `{"model":"g","messages":[{"role":"user","content":"anything"}]}`,
			wantContent: "fixed answer",
			wantPrompt:  1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &policy.Deployment{ModelName: "g", Provider: "mock", UpstreamModel: "mock-model", MockResponse: tt.mock}
			e := startEdge(t, New(Options{}), d)
			var ids []string
			for range 2 {
				resp := post(t, e.url, tt.body, nil)
				body := readAll(t, resp.Body)
				if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
				}
				var out struct {
					ID      string `json:"id"`
					Object  string `json:"object"`
					Created int64  `json:"created"`
					Model   string `json:"model"`
					Choices []struct {
						Index        int `json:"index"`
						Message      struct{ Role, Content string }
						FinishReason string `json:"finish_reason"`
					} `json:"choices"`
					Usage struct {
						PromptTokens     int `json:"prompt_tokens"`
						CompletionTokens int `json:"completion_tokens"`
						TotalTokens      int `json:"total_tokens"`
					} `json:"usage"`
				}
				if err := json.Unmarshal([]byte(body), &out); err != nil {
					t.Fatalf("%v: %s", err, body)
				}
				if out.Object != "chat.completion" || out.Model != "mock-model" || out.Created == 0 ||
					!strings.HasPrefix(out.ID, "chatcmpl-mock-") || len(out.Choices) != 1 {
					t.Fatalf("response = %s", body)
				}
				c := out.Choices[0]
				if c.Message.Role != "assistant" || c.Message.Content != tt.wantContent || c.FinishReason != "stop" {
					t.Fatalf("choice = %+v, want content %q", c, tt.wantContent)
				}
				words := len(strings.Fields(tt.wantContent))
				if out.Usage.PromptTokens != tt.wantPrompt || out.Usage.CompletionTokens != words ||
					out.Usage.TotalTokens != tt.wantPrompt+words {
					t.Fatalf("usage = %+v, want prompt %d completion %d", out.Usage, tt.wantPrompt, words)
				}
				ids = append(ids, out.ID)
				_ = e.waitDone(t)
			}
			if ids[0] != ids[1] {
				t.Fatalf("ids differ for the same body: %v", ids)
			}
		})
	}
}

func TestMockStream(t *testing.T) {
	const content = "This is a mock response from mock-model. You said: tell me  a joke "
	tests := []struct {
		name      string
		body      string
		wantUsage bool
	}{
		{"without usage", `{"model":"g","stream":true,"messages":[{"role":"user","content":"tell me  a joke "}]}`, false},
		{"include_usage false", `{"model":"g","stream":true,"stream_options":{"include_usage":false},"messages":[{"role":"user","content":"tell me  a joke "}]}`, false},
		{"include_usage", `{"model":"g","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"tell me  a joke "}]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &policy.Deployment{ModelName: "g", Provider: "mock", UpstreamModel: "mock-model"}
			e := startEdge(t, New(Options{}), d)
			resp := post(t, e.url, tt.body, nil)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			br := bufio.NewReader(resp.Body)
			events := readEvents(t, br)
			if len(events) == 0 || events[len(events)-1] != "[DONE]" {
				t.Fatalf("[DONE] is not last: %q", events)
			}
			events = events[:len(events)-1]

			var chunks []mockChunk
			for _, ev := range events {
				var c mockChunk
				if err := json.Unmarshal([]byte(ev), &c); err != nil {
					t.Fatalf("%v: %s", err, ev)
				}
				if c.Object != "chat.completion.chunk" || c.Model != "mock-model" || c.ID != chunks0ID(chunks, c.ID) {
					t.Fatalf("chunk header = %s", ev)
				}
				chunks = append(chunks, c)
			}
			first := chunks[0].Choices[0].Delta
			if first.Role == nil || *first.Role != "assistant" {
				t.Fatalf("first chunk is not the role delta: %q", events[0])
			}
			var usageChunk *mockChunk
			if last := chunks[len(chunks)-1]; last.Usage != nil {
				usageChunk = &last
				chunks = chunks[:len(chunks)-1]
			}
			if (usageChunk != nil) != tt.wantUsage {
				t.Fatalf("usage chunk present = %v, want %v", usageChunk != nil, tt.wantUsage)
			}
			if usageChunk != nil {
				words := len(strings.Fields(content))
				if len(usageChunk.Choices) != 0 || usageChunk.Usage.CompletionTokens != words ||
					usageChunk.Usage.PromptTokens != 4 || usageChunk.Usage.TotalTokens != words+4 {
					t.Fatalf("usage chunk = %+v", usageChunk)
				}
			}
			stop := chunks[len(chunks)-1].Choices[0]
			if stop.FinishReason == nil || *stop.FinishReason != "stop" {
				t.Fatalf("last choice chunk has no finish_reason stop")
			}
			var got strings.Builder
			words := 0
			for _, c := range chunks[1 : len(chunks)-1] {
				if c.Choices[0].Delta.Content == nil {
					t.Fatal("word chunk without content")
				}
				got.WriteString(*c.Choices[0].Delta.Content)
				words++
			}
			if got.String() != content {
				t.Fatalf("concatenated %q, want %q", got.String(), content)
			}
			if words != len(strings.Fields(content)) {
				t.Fatalf("%d word chunks, want one per word (%d)", words, len(strings.Fields(content)))
			}
			if err := e.waitDone(t); err != nil {
				t.Fatalf("done(%v)", err)
			}
		})
	}
}

// chunks0ID returns the id every chunk must share: the first chunk's.
func chunks0ID(chunks []mockChunk, id string) string {
	if len(chunks) == 0 {
		return id
	}
	return chunks[0].ID
}

func TestNextWord(t *testing.T) {
	for _, s := range []string{"", "a", " a", "a b", "a  b ", "  ", "héllo\twörld\n", "x \u00a0y"} {
		var parts []string
		for rest := s; rest != ""; {
			n := nextWord(rest)
			if n == 0 {
				t.Fatalf("nextWord(%q) = 0", rest)
			}
			parts = append(parts, rest[:n])
			rest = rest[n:]
		}
		if strings.Join(parts, "") != s {
			t.Fatalf("parts %q do not rebuild %q", parts, s)
		}
		if f := len(strings.Fields(s)); len(parts) != f && !(f == 0 && len(parts) <= 1) {
			t.Fatalf("%q: %d parts, want %d", s, len(parts), f)
		}
	}
}
