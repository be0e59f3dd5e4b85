package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/edge/proxy"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// idUpstream answers OpenAI's chat, embeddings and Responses API and
// Anthropic's Messages API, plain and streamed, each answer with an id
// of its own.
func idUpstream(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		stream := strings.Contains(string(b), `"stream":true`)
		sse := func(events ...string) {
			w.Header().Set("Content-Type", "text/event-stream")
			for _, e := range events {
				_, _ = io.WriteString(w, e+"\n\n")
			}
		}
		answer := func(s string) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, s)
		}
		switch {
		case strings.HasSuffix(r.URL.Path, "/chat/completions") && stream:
			sse(`data: {"id":"chatcmpl-str1","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"ok"}}]}`,
				`data: {"id":"chatcmpl-str1","object":"chat.completion.chunk","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`,
				`data: [DONE]`)
		case strings.HasSuffix(r.URL.Path, "/chat/completions"):
			answer(`{"id":"chatcmpl-abc123","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`)
		case strings.HasSuffix(r.URL.Path, "/embeddings"):
			answer(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5]}],"model":"emb","usage":{"prompt_tokens":1,"total_tokens":1}}`)
		case strings.HasSuffix(r.URL.Path, "/responses") && stream:
			sse(`event: response.created`+"\n"+`data: {"type":"response.created","response":{"id":"resp_str1","object":"response","model":"gpt-4o","usage":null}}`,
				`event: response.output_text.delta`+"\n"+`data: {"type":"response.output_text.delta","item_id":"msg_1","delta":"ok"}`,
				`event: response.completed`+"\n"+`data: {"type":"response.completed","response":{"id":"resp_str1","object":"response","model":"gpt-4o","usage":{"input_tokens":3,"output_tokens":1,"total_tokens":4}}}`)
		case strings.HasSuffix(r.URL.Path, "/responses"):
			answer(`{"id":"resp_up1","object":"response","model":"gpt-4o","output":[],"usage":{"input_tokens":3,"output_tokens":1,"total_tokens":4}}`)
		case strings.HasSuffix(r.URL.Path, "/v1/messages") && stream:
			sse(`event: message_start`+"\n"+`data: {"type":"message_start","message":{"id":"msg_01str","type":"message","role":"assistant","model":"claude-x","content":[],"usage":{"input_tokens":3,"output_tokens":0}}}`,
				`event: content_block_start`+"\n"+`data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
				`event: content_block_delta`+"\n"+`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}}`,
				`event: content_block_stop`+"\n"+`data: {"type":"content_block_stop","index":0}`,
				`event: message_delta`+"\n"+`data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}}`,
				`event: message_stop`+"\n"+`data: {"type":"message_stop"}`)
		case strings.HasSuffix(r.URL.Path, "/v1/messages"):
			answer(`{"id":"msg_01abc","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// clientID is the id the client read in an answer: the top-level "id" of
// a JSON answer, or of a stream's first event that names one (a chunk's
// id, message_start's message, the Responses API's response).
func clientID(t *testing.T, body string) string {
	t.Helper()
	if !strings.Contains(body, "data:") {
		var v withID
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("answer %s: %v", body, err)
		}
		return v.ID
	}
	for _, line := range strings.Split(body, "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var v withID
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			t.Fatalf("event %s: %v", data, err)
		}
		for _, id := range []string{v.ID, v.Message.id(), v.Response.id()} {
			if id != "" {
				return id
			}
		}
	}
	return ""
}

type withID struct {
	ID       string  `json:"id"`
	Message  *withID `json:"message"`
	Response *withID `json:"response"`
}

func (v *withID) id() string {
	if v == nil {
		return ""
	}
	return v.ID
}

// Each spend event carries the id of the answer as its client saw it,
// which is what LiteLLM's users look a spend log up with.
func TestSpendEventCarriesResponseID(t *testing.T) {
	e, spends := spendEdge(t)
	up := idUpstream(t)
	e.put(t, &events.Model{ID: "o1", ModelName: "gpt", LiteLLMParams: events.ModelParams{Model: "openai/gpt-4o", APIBase: up.URL}})
	e.put(t, &events.Model{ID: "a1", ModelName: "claude", LiteLLMParams: events.ModelParams{Model: "anthropic/claude-x", APIBase: up.URL}})
	e.put(t, &events.Model{ID: "m1", ModelName: "mock", LiteLLMParams: events.ModelParams{Model: "mock/m"}})
	testutil.Eventually(t, 10*time.Second, func() error {
		if c := e.live.Load().Catalog(); !c.Resolve("gpt").Found() || !c.Resolve("claude").Found() || !c.Resolve("mock").Found() {
			return errors.New("models not applied")
		}
		return nil
	})
	suffix := proxy.ResponseIDSuffix("gpt", "o1")
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	for _, c := range []struct {
		name, path, body, want string
	}{
		{"chat", "/v1/chat/completions", `{"model":"gpt",` + msgs + `}`, "chatcmpl-abc123"},
		{"chat stream", "/v1/chat/completions", `{"model":"gpt","stream":true,` + msgs + `}`, "chatcmpl-str1"},
		{"chat on anthropic", "/v1/chat/completions", `{"model":"claude",` + msgs + `}`, "msg_01abc"},
		{"chat stream on anthropic", "/v1/chat/completions", `{"model":"claude","stream":true,` + msgs + `}`, "msg_01str"},
		{"responses", "/v1/responses", `{"model":"gpt","input":"hi"}`, "resp_up1" + suffix},
		{"responses stream", "/v1/responses", `{"model":"gpt","stream":true,"input":"hi"}`, "resp_str1" + suffix},
		{"messages", "/v1/messages", `{"model":"claude","max_tokens":20,` + msgs + `}`, "msg_01abc"},
		{"messages stream", "/v1/messages", `{"model":"claude","max_tokens":20,"stream":true,` + msgs + `}`, "msg_01str"},
		// Translated from a chat answer: the client got a message id.
		{"messages on openai", "/v1/messages", `{"model":"gpt","max_tokens":20,` + msgs + `}`, "msg_abc123"},
		{"messages stream on openai", "/v1/messages", `{"model":"gpt","max_tokens":20,"stream":true,` + msgs + `}`, "msg_str1"},
		{"embeddings", "/v1/embeddings", `{"model":"gpt","input":"hi"}`, ""},
		// The mock's ids hash the request: "*" is whatever the client got.
		{"mock chat", "/v1/chat/completions", `{"model":"mock",` + msgs + `}`, "*"},
		{"mock chat stream", "/v1/chat/completions", `{"model":"mock","stream":true,` + msgs + `}`, "*"},
		{"mock completions", "/v1/completions", `{"model":"mock","prompt":"hi"}`, "*"},
		{"mock responses", "/v1/responses", `{"model":"mock","input":"hi"}`, "*"},
		{"mock messages", "/v1/messages", `{"model":"mock","max_tokens":20,` + msgs + `}`, "*"},
		{"mock messages stream", "/v1/messages", `{"model":"mock","max_tokens":20,"stream":true,` + msgs + `}`, "*"},
	} {
		code, body := do(t, "POST", e.url+c.path, bearer("sk-master-test-key"), c.body)
		if code != 200 {
			t.Fatalf("%s: %d %s", c.name, code, body)
		}
		got := clientID(t, body)
		if c.want == "*" && got != "" {
			c.want = got
		}
		if got != c.want {
			t.Fatalf("%s: the client got id %q, want %q: %s", c.name, got, c.want, body)
		}
		if ev := nextSpend(t, spends); ev.ResponseID != c.want || ev.Outcome != "ok" {
			t.Errorf("%s: spend event response_id %q (outcome %s), want %q", c.name, ev.ResponseID, ev.Outcome, c.want)
		}
	}
}
