package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// TestMockMessagesAndResponses: the mock answers the Messages API
// (through the chat translation) and the Responses API, plain and
// streamed, in shapes the official SDKs read, which is what `make run`
// demos.
func TestMockMessagesAndResponses(t *testing.T) {
	e := startEdge(t, true)
	e.put(t, &events.Model{ID: "m1", ModelName: "m", LiteLLMParams: events.ModelParams{Model: "mock/m"}})
	master := "sk-master-test-key"
	testutil.Eventually(t, 10*time.Second, func() error {
		if e.live.Load().Catalog().Resolve("m").Found() {
			return nil
		}
		return fmt.Errorf("model not applied")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const want = "This is a mock response from m. You said: hello there"

	ac := anthropic.NewClient(aoption.WithBaseURL(e.url+"/"), aoption.WithAPIKey(master), aoption.WithMaxRetries(0))
	params := anthropic.MessageNewParams{Model: "m", MaxTokens: 50,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hello there"))}}
	msg, err := ac.Messages.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text != want || msg.Usage.InputTokens != 2 || msg.Usage.OutputTokens != 11 || msg.StopReason != "end_turn" {
		t.Fatalf("message: %+v", msg)
	}
	stream := ac.Messages.NewStreaming(ctx, params)
	var acc anthropic.Message
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil || len(acc.Content) != 1 || acc.Content[0].Text != want || acc.Usage.OutputTokens != 11 || acc.Usage.InputTokens != 2 {
		t.Fatalf("message stream: %v %+v", err, acc)
	}
	// A bad request names the field, in Anthropic's envelope.
	_, err = ac.Messages.New(ctx, anthropic.MessageNewParams{Model: "m", Messages: params.Messages})
	var aerr *anthropic.Error
	if !errors.As(err, &aerr) || aerr.StatusCode != 400 || !strings.Contains(aerr.Message, "max_tokens") {
		t.Fatalf("no max_tokens: %v", err)
	}

	oc := openai.NewClient(option.WithBaseURL(e.url+"/v1/"), option.WithAPIKey(master), option.WithMaxRetries(0))
	rp := responses.ResponseNewParams{Model: "m", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hello there")}}
	r, err := oc.Responses.New(ctx, rp)
	if err != nil {
		t.Fatal(err)
	}
	if r.OutputText() != want || r.Usage.InputTokens != 2 || r.Usage.OutputTokens != 11 || !strings.Contains(r.ID, ".gh1") {
		t.Fatalf("response: %s %q %+v", r.ID, r.OutputText(), r.Usage)
	}
	rs := oc.Responses.NewStreaming(ctx, rp)
	var text strings.Builder
	var usage int64
	for rs.Next() {
		switch ev := rs.Current(); ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.Delta)
		case "response.completed":
			usage = ev.Response.Usage.TotalTokens
		}
	}
	if err := rs.Err(); err != nil || text.String() != want || usage != 13 {
		t.Fatalf("response stream: %v %q %d", err, text.String(), usage)
	}
	// The mock stores nothing: GET answers a 404 that says so.
	_, err = oc.Responses.Get(ctx, r.ID, responses.ResponseGetParams{})
	var oerr *openai.Error
	if !errors.As(err, &oerr) || oerr.StatusCode != 404 || !strings.Contains(oerr.Message, "does not store") {
		t.Fatalf("GET of a mock response: %v", err)
	}
	// An id gatehouse did not make is a 404 naming it.
	_, err = oc.Responses.Get(ctx, "resp_foreign", responses.ResponseGetParams{})
	if !errors.As(err, &oerr) || oerr.StatusCode != 404 || !strings.Contains(oerr.Message, "resp_foreign") {
		t.Fatalf("GET of a foreign id: %v", err)
	}
}
