package proxy

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/policy"
)

// TestMessagesPassThrough: a Messages API call to an Anthropic deployment
// reaches the upstream as the client wrote it (only "model" replaced, the
// client's anthropic-beta sent on) and the answer, JSON or SSE, reaches
// the client byte for byte, with the usage read on the way.
func TestMessagesPassThrough(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		stream     bool
	}{
		{"json", "anthropic_message.json", false},
		{"sse", "anthropic_stream.sse", true},
		{"sse tools", "anthropic_stream_tools.sse", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answer := testdata(t, tc.file)
			var gotBody []byte
			var gotBeta string
			up := startUpstream(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
				gotBody, _ = io.ReadAll(r.Body)
				gotBeta = r.Header.Get("anthropic-beta")
				if tc.stream {
					w.Header().Set("Content-Type", "text/event-stream")
				} else {
					w.Header().Set("Content-Type", "application/json")
				}
				_, _ = w.Write(answer)
			})
			d := &policy.Deployment{ModelName: "claude", Provider: policy.ProviderAnthropic, UpstreamModel: "claude-up", APIBase: up.URL, APIKey: testKey}
			f := newTestForwarder()
			done := make(chan Usage, 1)
			app := fiber.New(fiber.Config{DisableStartupMessage: true})
			app.Post("/v1/messages", func(c *fiber.Ctx) error {
				_, err := f.Forward(c.Context(), Call{Endpoint: policy.EndpointMessages, Deployment: d, Body: c.Body(), Stream: tc.stream,
					PassHeaders: map[string]string{"anthropic-beta": c.Get("anthropic-beta")}, Done: func(u Usage, _ error) { done <- u }})
				return err
			})
			url := testutil.Serve(t, app)

			body := `{"model": "claude", "max_tokens": 64, "thinking": {"type": "enabled", "budget_tokens": 1024}, "messages": [{"role":"user","content":"hi"}]}`
			if tc.stream {
				body = `{"stream": true, ` + body[1:]
			}
			resp := post(t, url+"/v1/messages", body, map[string]string{"anthropic-beta": "interleaved-thinking-2025-05-14"})
			got := readAll(t, resp.Body)
			if resp.StatusCode != 200 || got != string(answer) {
				t.Fatalf("client got %d, not the upstream's bytes:\n%s", resp.StatusCode, got)
			}
			want := bytes.Replace([]byte(body), []byte(`"claude"`), []byte(`"claude-up"`), 1)
			if !bytes.Equal(gotBody, want) || gotBeta != "interleaved-thinking-2025-05-14" {
				t.Fatalf("upstream got %s (beta %q), want %s", gotBody, gotBeta, want)
			}
			var u Usage
			select {
			case u = <-done:
			case <-time.After(waitLimit):
				t.Fatal("no usage reported")
			}
			if u.Estimated || u.PromptTokens == 0 || u.CompletionTokens == 0 || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
				t.Fatalf("usage %+v", u)
			}
		})
	}
}

// TestMessagesTranslatedStream: a streamed Messages API call to an
// OpenAI-format deployment goes upstream as a chat completion asking for
// the usage chunk, and the chunks come back as Anthropic's events from the
// stream writer, with the usage reported once.
func TestMessagesTranslatedStream(t *testing.T) {
	var gotBody []byte
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		gotBody, _ = io.ReadAll(r.Body)
		rc := sseHeaders(w)
		for _, f := range []string{
			`{"id":"chatcmpl-7","model":"gpt-up","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`,
			`{"id":"chatcmpl-7","model":"gpt-up","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}`,
			`{"id":"chatcmpl-7","model":"gpt-up","choices":[{"index":0,"delta":{},"finish_reason":"length"}]}`,
			`{"id":"chatcmpl-7","model":"gpt-up","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}`,
			`[DONE]`,
		} {
			if err := sendFrame(w, rc, f); err != nil {
				return
			}
		}
	})
	d := openAIDeployment(up.URL)
	f := newTestForwarder()
	done := make(chan Usage, 1)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Post("/v1/messages", func(c *fiber.Ctx) error {
		_, err := f.Forward(c.Context(), Call{Endpoint: policy.EndpointMessages, Deployment: d, Body: c.Body(), Stream: true,
			Done: func(u Usage, _ error) { done <- u }})
		return err
	})
	resp := post(t, testutil.Serve(t, app)+"/v1/messages", `{"model":"g","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, nil)
	got := readAll(t, resp.Body)
	for _, want := range []string{"event: message_start\n", `"text":"Hi"`, `"stop_reason":"max_tokens"`, `"input_tokens":9`, "event: message_stop\n"} {
		if !bytes.Contains([]byte(got), []byte(want)) {
			t.Errorf("client stream lacks %q:\n%s", want, got)
		}
	}
	if !bytes.Contains(gotBody, []byte(`"include_usage":true`)) || !bytes.Contains(gotBody, []byte(`"max_tokens":5`)) {
		t.Errorf("upstream body %s", gotBody)
	}
	select {
	case u := <-done:
		if u.PromptTokens != 9 || u.CompletionTokens != 1 || u.Estimated {
			t.Fatalf("usage %+v", u)
		}
	case <-time.After(waitLimit):
		t.Fatal("no usage reported")
	}
}
