package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/gatehouse/gatehouse/internal/chtest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

const openAIKey = "sk-openai-provider-secret-0123456789"

// apiMock speaks Anthropic's Messages API under /anthropic and OpenAI's
// chat completions and Responses API under /openai/v1, with fixed token
// counts (cache tokens included) and a tool call whenever tools are
// offered and the last turn is the user's question.
type apiMock struct {
	mu        sync.Mutex
	bad       []string
	betas     []string
	responses map[string][]byte // Responses API objects by upstream id
	n         int
}

func (m *apiMock) fail(r *http.Request, w http.ResponseWriter, why string) {
	m.mu.Lock()
	m.bad = append(m.bad, r.Method+" "+r.URL.String()+": "+why)
	m.mu.Unlock()
	w.WriteHeader(400)
}

func sse(w http.ResponseWriter, events []string) {
	w.Header().Set("Content-Type", "text/event-stream")
	rc := http.NewResponseController(w)
	for _, e := range events {
		_, _ = io.WriteString(w, e)
		_ = rc.Flush()
	}
}

func anthropicEvent(typ, data string) string { return "event: " + typ + "\ndata: " + data + "\n\n" }

func (m *apiMock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Model    string            `json:"model"`
		Stream   bool              `json:"stream"`
		Tools    []json.RawMessage `json:"tools"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	_ = json.Unmarshal(body, &req)
	// A question gets a tool call when tools are offered; a tool result
	// gets the final text.
	toolTurn := false
	if n := len(req.Messages); n > 0 && len(req.Tools) > 0 {
		last := req.Messages[n-1]
		toolTurn = last.Role == "user" && !bytes.Contains(last.Content, []byte("tool_result"))
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/anthropic/"):
		if r.Header.Get("x-api-key") != anthropicKey || r.Header.Get("anthropic-version") == "" || r.Header.Get("Authorization") != "" {
			m.fail(r, w, "anthropic auth headers")
			return
		}
		if req.Model != "claude-sonnet-4-5" {
			m.fail(r, w, "model not rewritten: "+req.Model)
			return
		}
		if b := r.Header.Get("anthropic-beta"); b != "" {
			m.mu.Lock()
			m.betas = append(m.betas, b)
			m.mu.Unlock()
		}
		m.anthropic(w, r, req.Stream, toolTurn)
	case r.URL.Path == "/openai/v1/chat/completions":
		if r.Header.Get("Authorization") != "Bearer "+openAIKey || req.Model != "gpt-4.1" {
			m.fail(r, w, "openai auth or model")
			return
		}
		m.chat(w, req.Stream, req.StreamOptions.IncludeUsage, toolTurn)
	case strings.HasPrefix(r.URL.Path, "/openai/v1/responses"):
		if r.Header.Get("Authorization") != "Bearer "+openAIKey {
			m.fail(r, w, "openai auth")
			return
		}
		m.responsesAPI(w, r, body, req.Stream)
	default:
		m.fail(r, w, "unexpected path")
	}
}

const claudeUsage = `"usage":{"input_tokens":20,"cache_creation_input_tokens":5,"cache_read_input_tokens":100,"output_tokens":%d}`

func (m *apiMock) anthropic(w http.ResponseWriter, r *http.Request, stream, toolTurn bool) {
	if strings.HasSuffix(r.URL.Path, "/count_tokens") {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"input_tokens":42}`)
		return
	}
	if r.URL.Path != "/anthropic/v1/messages" {
		m.fail(r, w, "unexpected anthropic path")
		return
	}
	if !stream {
		content := `[{"type":"text","text":"Hello from Claude"}]`
		stop := "end_turn"
		if toolTurn {
			content = `[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]`
			stop = "tool_use"
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"id":"msg_up1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":%s,"stop_reason":"%s","stop_sequence":null,`+claudeUsage+`}`,
			content, stop, 9)
		return
	}
	evs := []string{
		anthropicEvent("message_start", `{"type":"message_start","message":{"id":"msg_up2","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,`+fmt.Sprintf(claudeUsage, 1)+`}}`),
		anthropicEvent("ping", `{"type":"ping"}`),
	}
	stop := "end_turn"
	if toolTurn {
		stop = "tool_use"
		evs = append(evs,
			anthropicEvent("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_2","name":"get_weather","input":{}}}`),
			anthropicEvent("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}`),
			anthropicEvent("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}}`),
		)
	} else {
		evs = append(evs,
			anthropicEvent("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
			anthropicEvent("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}`),
			anthropicEvent("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" there"}}`),
		)
	}
	evs = append(evs,
		anthropicEvent("content_block_stop", `{"type":"content_block_stop","index":0}`),
		anthropicEvent("message_delta", `{"type":"message_delta","delta":{"stop_reason":"`+stop+`","stop_sequence":null},"usage":{"output_tokens":11}}`),
		anthropicEvent("message_stop", `{"type":"message_stop"}`),
	)
	sse(w, evs)
}

const gptUsage = `"usage":{"prompt_tokens":11,"completion_tokens":6,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":4}}`

func (m *apiMock) chat(w http.ResponseWriter, stream, includeUsage, toolTurn bool) {
	msg := `{"role":"assistant","content":"Hi from GPT"}`
	finish := "stop"
	if toolTurn {
		msg = `{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}`
		finish = "tool_calls"
	}
	if !stream {
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"id":"chatcmpl-up1","object":"chat.completion","created":1,"model":"gpt-4.1","choices":[{"index":0,"message":%s,"finish_reason":"%s"}],`+gptUsage+`}`, msg, finish)
		return
	}
	chunk := func(delta, finish string) string {
		return `data: {"id":"chatcmpl-up2","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":` + delta + `,"finish_reason":` + finish + `}]}` + "\n\n"
	}
	evs := []string{chunk(`{"role":"assistant","content":""}`, "null")}
	if toolTurn {
		evs = append(evs, chunk(`{"tool_calls":[{"index":0,"id":"call_2","type":"function","function":{"name":"get_weather","arguments":""}}]}`, "null"),
			chunk(`{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":\"Paris\"}"}}]}`, "null"))
	} else {
		evs = append(evs, chunk(`{"content":"Hi"}`, "null"), chunk(`{"content":" from GPT"}`, "null"))
	}
	evs = append(evs, chunk(`{}`, `"`+finish+`"`))
	if includeUsage {
		evs = append(evs, `data: {"id":"chatcmpl-up2","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[],`+gptUsage+"}\n\n")
	}
	sse(w, append(evs, "data: [DONE]\n\n"))
}

const respUsage = `"usage":{"input_tokens":15,"input_tokens_details":{"cached_tokens":3},"output_tokens":8,"output_tokens_details":{"reasoning_tokens":2},"total_tokens":23}`

func (m *apiMock) responsesAPI(w http.ResponseWriter, r *http.Request, body []byte, stream bool) {
	w.Header().Set("Content-Type", "application/json")
	id := strings.TrimPrefix(r.URL.Path, "/openai/v1/responses/")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/openai/v1/responses":
		var req struct {
			Model string `json:"model"`
			Prev  string `json:"previous_response_id"`
		}
		_ = json.Unmarshal(body, &req)
		m.mu.Lock()
		m.n++
		id = fmt.Sprintf("resp_up%d", m.n)
		_, prevKnown := m.responses[req.Prev]
		m.mu.Unlock()
		if req.Model != "gpt-4.1" || (req.Prev != "" && !prevKnown) {
			m.fail(r, w, "responses model or previous_response_id: "+string(body))
			return
		}
		obj := func(status, usage string) string {
			return `{"id":"` + id + `","object":"response","created_at":1,"status":"` + status + `","model":"gpt-4.1",` +
				`"output":[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hi from Responses","annotations":[]}]}],` +
				`"parallel_tool_calls":true,"tool_choice":"auto","tools":[],` + usage + `}`
		}
		final := obj("completed", respUsage)
		m.mu.Lock()
		m.responses[id] = []byte(final)
		m.mu.Unlock()
		if !stream {
			_, _ = io.WriteString(w, final)
			return
		}
		ev := func(typ, data string) string { return "event: " + typ + "\ndata: " + data + "\n\n" }
		sse(w, []string{
			ev("response.created", `{"type":"response.created","sequence_number":0,"response":`+obj("in_progress", `"usage":null`)+`}`),
			ev("response.output_text.delta", `{"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi from"}`),
			ev("response.output_text.delta", `{"type":"response.output_text.delta","sequence_number":2,"item_id":"msg_1","output_index":0,"content_index":0,"delta":" Responses"}`),
			ev("response.completed", `{"type":"response.completed","sequence_number":3,"response":`+final+`}`),
		})
	case r.Method == http.MethodGet:
		m.mu.Lock()
		b, ok := m.responses[id]
		m.mu.Unlock()
		if !ok {
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"error":{"message":"Response with id '`+id+`' not found.","type":"invalid_request_error","code":null}}`)
			return
		}
		_, _ = w.Write(b)
	case r.Method == http.MethodDelete:
		m.mu.Lock()
		delete(m.responses, id)
		m.mu.Unlock()
		_, _ = io.WriteString(w, `{"id":"`+id+`","object":"response","deleted":true}`)
	default:
		m.fail(r, w, "unexpected responses call")
	}
}

func messagesConfig(addr string) string {
	return fmt.Sprintf(`
general_settings:
  master_key: os.environ/MASTER_KEY
model_list:
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: http://%[1]s/anthropic
      api_key: os.environ/ANTHROPIC_KEY
    model_info: {input_cost_per_token: 0.000003, output_cost_per_token: 0.000015}
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4.1
      api_base: http://%[1]s/openai/v1
      api_key: os.environ/OPENAI_KEY
    model_info: {input_cost_per_token: 0.000002, output_cost_per_token: 0.000008}
`, addr)
}

var weatherTool = anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{Name: "get_weather", Description: anthropic.String("weather of a city"),
	InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}, Required: []string{"city"}}}}

// TestMessagesAndResponses: the official Anthropic and OpenAI SDKs call
// /v1/messages (passed through to an Anthropic upstream, translated for an
// OpenAI one; plain, streamed, with tools) and /v1/responses (plain,
// streamed, then GET and DELETE of the response at the other edge), and
// the spend rows in ClickHouse hold exactly the tokens the clients were
// told.
func TestMessagesAndResponses(t *testing.T) {
	mock := &apiMock{responses: map[string][]byte{}}
	addr := serveMock(t, mock)
	ch := chtest.Start(t)
	ns := testutil.RunJetStream(t)
	cfg := t.TempDir() + "/config.yaml"
	writeFile(t, cfg, messagesConfig(addr))
	env := []string{"MASTER_KEY=" + masterKey, "ANTHROPIC_KEY=" + anthropicKey, "OPENAI_KEY=" + openAIKey}
	ctl := start(t, "control", env, "control", "-nats", ns.ClientURL(), "-listen", testutil.FreeAddr(t), "-config", cfg,
		"-clickhouse", ch.Addr(), "-clickhouse-db", "msg_e2e")
	var edges []*proc
	for _, id := range []string{"edge-a", "edge-b"} {
		edges = append(edges, start(t, id, env, "edge", "-nats", ns.ClientURL(), "-listen", testutil.FreeAddr(t), "-control", "http://"+ctl.addr,
			"-id", id, "-spill-dir", t.TempDir()))
	}
	waitEdges(t, ctl, 2)
	start(t, "sink", env, "sink", "-nats", ns.ClientURL(), "-clickhouse", ch.Addr(), "-database", "msg_e2e")
	key := generateKey(t, edges[0], map[string]any{})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	told := map[string]*usage{"claude": {}, "gpt": {}}
	requests := 0
	tell := func(model string, prompt, completion int64) {
		told[model].Prompt += prompt
		told[model].Completion += completion
		requests++
	}
	// Cache reads and writes the clients were told, per model: parts of
	// the prompt tokens, priced apart.
	type cacheTokens struct{ Read, Write int64 }
	toldCache := map[string]*cacheTokens{"claude": {}, "gpt": {}}
	tellMsg := func(model string, u anthropic.Usage) {
		tell(model, u.InputTokens+u.CacheCreationInputTokens+u.CacheReadInputTokens, u.OutputTokens)
		toldCache[model].Read += u.CacheReadInputTokens
		toldCache[model].Write += u.CacheCreationInputTokens
	}
	// Anthropic clients send the key in x-api-key (WithAPIKey).
	ac := func(i int) *anthropic.Client {
		c := anthropic.NewClient(aoption.WithBaseURL(edges[i%2].url("/")), aoption.WithAPIKey(key), aoption.WithMaxRetries(0),
			aoption.WithHeader("anthropic-beta", "prompt-caching-2024-07-31"))
		return &c
	}
	ask := anthropic.NewUserMessage(anthropic.NewTextBlock("What is the weather in Paris?"))
	for i, model := range []string{"claude", "gpt"} {
		c := ac(i)
		// Plain text.
		msg, err := c.Messages.New(ctx, anthropic.MessageNewParams{Model: anthropic.Model(model), MaxTokens: 100,
			System: []anthropic.TextBlockParam{{Text: "Be brief."}}, Messages: []anthropic.MessageParam{ask}})
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		want := map[string]string{"claude": "Hello from Claude", "gpt": "Hi from GPT"}[model]
		if len(msg.Content) != 1 || msg.Content[0].Text != want || msg.StopReason != "end_turn" {
			t.Fatalf("%s: %+v", model, msg)
		}
		u := msg.Usage
		tellMsg(model, u)
		if model == "gpt" && (u.InputTokens != 7 || u.CacheReadInputTokens != 4 || u.OutputTokens != 6) {
			t.Fatalf("gpt usage as Anthropic's: %+v", u)
		}
		if model == "claude" && (u.InputTokens != 20 || u.CacheReadInputTokens != 100 || u.CacheCreationInputTokens != 5) {
			t.Fatalf("claude usage: %+v", u)
		}

		// Tools: a tool call, then the answer to its result.
		params := anthropic.MessageNewParams{Model: anthropic.Model(model), MaxTokens: 100, Tools: []anthropic.ToolUnionParam{weatherTool},
			Messages: []anthropic.MessageParam{ask}}
		msg, err = c.Messages.New(ctx, params)
		if err != nil {
			t.Fatalf("%s tools: %v", model, err)
		}
		if len(msg.Content) != 1 || msg.Content[0].Type != "tool_use" || msg.Content[0].Name != "get_weather" ||
			string(msg.Content[0].Input) != `{"city":"Paris"}` || msg.StopReason != "tool_use" {
			t.Fatalf("%s tools: %+v", model, msg.Content)
		}
		tellMsg(model, msg.Usage)
		params.Messages = append(params.Messages, msg.ToParam(),
			anthropic.NewUserMessage(anthropic.NewToolResultBlock(msg.Content[0].ID, "sunny, 21C", false)))
		msg, err = c.Messages.New(ctx, params)
		if err != nil || msg.Content[0].Type != "text" {
			t.Fatalf("%s tool result: %v %+v", model, err, msg)
		}
		tellMsg(model, msg.Usage)

		// Streamed, text and tools, accumulated as the SDK does.
		for _, tools := range []bool{false, true} {
			p := anthropic.MessageNewParams{Model: anthropic.Model(model), MaxTokens: 100, Messages: []anthropic.MessageParam{ask}}
			if tools {
				p.Tools = []anthropic.ToolUnionParam{weatherTool}
			}
			stream := ac(i+1).Messages.NewStreaming(ctx, p)
			var acc anthropic.Message
			events := 0
			for stream.Next() {
				if err := acc.Accumulate(stream.Current()); err != nil {
					t.Fatalf("%s stream: %v", model, err)
				}
				events++
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("%s stream: %v", model, err)
			}
			wantText := map[string]string{"claude": "Hello there", "gpt": "Hi from GPT"}[model]
			if tools {
				if len(acc.Content) != 1 || acc.Content[0].Type != "tool_use" || string(acc.Content[0].Input) != `{"city":"Paris"}` || acc.StopReason != "tool_use" {
					t.Fatalf("%s tools stream: %+v", model, acc.Content)
				}
			} else if events < 5 || len(acc.Content) != 1 || acc.Content[0].Text != wantText || acc.StopReason != "end_turn" {
				t.Fatalf("%s stream (%d events): %+v", model, events, acc)
			}
			u := acc.Usage
			if u.OutputTokens == 0 || u.InputTokens == 0 {
				t.Fatalf("%s stream usage: %+v", model, u)
			}
			tellMsg(model, u)
		}
	}

	// count_tokens: Anthropic's answer for claude (a spend row of no
	// tokens); a readable 400 for gpt, in Anthropic's error shape.
	n, err := ac(0).Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: "claude", Messages: []anthropic.MessageParam{ask}})
	if err != nil || n.InputTokens != 42 {
		t.Fatalf("count_tokens: %v %+v", err, n)
	}
	requests++
	_, err = ac(1).Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: "gpt", Messages: []anthropic.MessageParam{ask}})
	var aerr *anthropic.Error
	if !errors.As(err, &aerr) || aerr.StatusCode != 400 || !strings.Contains(aerr.Message, "count_tokens") || aerr.Type() != "invalid_request_error" {
		t.Fatalf("count_tokens on gpt: %v", err)
	}
	_, err = ac(0).Messages.New(ctx, anthropic.MessageNewParams{Model: "nope", MaxTokens: 10, Messages: []anthropic.MessageParam{ask}})
	if !errors.As(err, &aerr) || aerr.StatusCode != 400 || !strings.Contains(aerr.Message, "/v1/messages: Invalid model name passed in model=nope") || aerr.Type() != "invalid_request_error" {
		t.Fatalf("unknown model: %v", err)
	}

	// Responses API through the OpenAI SDK.
	oc := func(i int) *openai.Client {
		c := openai.NewClient(option.WithBaseURL(edges[i%2].url("/v1/")), option.WithAPIKey(key), option.WithMaxRetries(0))
		return &c
	}
	resp, err := oc(0).Responses.New(ctx, responses.ResponseNewParams{Model: "gpt", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.OutputText() != "Hi from Responses" || !strings.HasPrefix(resp.ID, "resp_up") || resp.ID == "resp_up1" ||
		resp.Usage.InputTokensDetails.CachedTokens != 3 || resp.Usage.OutputTokensDetails.ReasoningTokens != 2 {
		t.Fatalf("response: %s %q %+v", resp.ID, resp.OutputText(), resp.Usage)
	}
	tell("gpt", resp.Usage.InputTokens, resp.Usage.OutputTokens)
	toldCache["gpt"].Read += resp.Usage.InputTokensDetails.CachedTokens
	// The other edge finds it: the id names the deployment.
	got, err := oc(1).Responses.Get(ctx, resp.ID, responses.ResponseGetParams{})
	if err != nil || got.ID != resp.ID || got.OutputText() != "Hi from Responses" {
		t.Fatalf("GET at the other edge: %v %+v", err, got)
	}
	// A follow-up names it as previous_response_id and reaches the same
	// deployment with the upstream's id.
	stream := oc(1).Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "gpt", PreviousResponseID: openai.String(resp.ID),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("and again")}})
	var text strings.Builder
	var completed *responses.Response
	for stream.Next() {
		ev := stream.Current()
		switch ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.Delta)
		case "response.completed":
			r := ev.Response
			completed = &r
		}
	}
	if err := stream.Err(); err != nil || completed == nil || text.String() != "Hi from Responses" || !strings.Contains(completed.ID, ".gh1") {
		t.Fatalf("responses stream: %v %q %+v", err, text.String(), completed)
	}
	tell("gpt", completed.Usage.InputTokens, completed.Usage.OutputTokens)
	toldCache["gpt"].Read += completed.Usage.InputTokensDetails.CachedTokens
	if err := oc(0).Responses.Delete(ctx, resp.ID); err != nil {
		t.Fatalf("DELETE: %v", err)
	}
	if _, err := oc(1).Responses.Get(ctx, resp.ID, responses.ResponseGetParams{}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("GET after DELETE: %v", err)
	}
	// An Anthropic deployment has no Responses API: a 400 that says so.
	_, err = oc(0).Responses.New(ctx, responses.ResponseNewParams{Model: "claude", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}})
	var oerr *openai.Error
	if !errors.As(err, &oerr) || oerr.StatusCode != 400 || !strings.Contains(oerr.Message, "provider anthropic does not serve responses") {
		t.Fatalf("responses on claude: %v", err)
	}

	mock.mu.Lock()
	if len(mock.bad) > 0 {
		t.Errorf("requests the providers would refuse: %v", mock.bad)
	}
	if len(mock.betas) == 0 {
		t.Errorf("anthropic-beta did not reach the Anthropic upstream")
	}
	mock.mu.Unlock()

	// One spend row per forwarded request, holding what the clients were told.
	conn := ch.Conn(t)
	testutil.Eventually(t, 30*time.Second, func() error {
		var rows uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM msg_e2e.spend_events WHERE outcome != 'denied'").Scan(&rows); err != nil || rows != uint64(requests) {
			return fmt.Errorf("%d rows, want %d (%v)", rows, requests, err)
		}
		return nil
	})
	for model, u := range told {
		var p, c int64
		if err := conn.QueryRow(ctx, "SELECT toInt64(sum(prompt_tokens)), toInt64(sum(completion_tokens)) FROM msg_e2e.spend_events WHERE model_group = ? AND outcome != 'denied'", model).Scan(&p, &c); err != nil {
			t.Fatal(err)
		}
		if p != u.Prompt || c != u.Completion {
			t.Errorf("%s: spend rows hold %d prompt / %d completion tokens, clients were told %d / %d", model, p, c, u.Prompt, u.Completion)
		}
		var read, write int64
		var cost float64
		if err := conn.QueryRow(ctx, "SELECT toInt64(sum(cached_tokens)), toInt64(sum(cache_creation_tokens)), sum(cost) FROM msg_e2e.spend_events WHERE model_group = ? AND outcome != 'denied'", model).Scan(&read, &write, &cost); err != nil {
			t.Fatal(err)
		}
		tc := toldCache[model]
		if tc.Read == 0 || read != tc.Read || write != tc.Write {
			t.Errorf("%s: spend rows hold %d cached / %d cache creation tokens, clients were told %d / %d", model, read, write, tc.Read, tc.Write)
		}
		// The config's input and output prices; cache reads at the
		// family's ratio (Claude 0.1x, gpt-4.1 0.25x), Claude's cache
		// writes at 1.25x.
		price := map[string]struct{ in, out, read, write float64 }{
			"claude": {3e-6, 15e-6, 0.1 * 3e-6, 1.25 * 3e-6}, "gpt": {2e-6, 8e-6, 0.25 * 2e-6, 2e-6}}[model]
		want := float64(u.Prompt-tc.Read-tc.Write)*price.in + float64(tc.Read)*price.read + float64(tc.Write)*price.write +
			float64(u.Completion)*price.out
		if math.Abs(cost-want) > 1e-9*want {
			t.Errorf("%s: spend rows cost %.10g, want %.10g (cache tokens at cache prices)", model, cost, want)
		}
	}

	// Rate limits and budgets refuse on these routes as on chat, each in
	// its route's error shape.
	msgBody := map[string]any{"model": "claude", "max_tokens": 10, "messages": []map[string]string{{"role": "user", "content": "hi"}}}
	respBody := map[string]any{"model": "gpt", "input": "hi"}
	refused := func(key, path string, body any, status int, typ string) {
		t.Helper()
		testutil.Eventually(t, 10*time.Second, func() error {
			code, raw := callRaw(t, "POST", edges[0].url(path), key, body)
			var e struct {
				Type string `json:"type"`
			}
			_ = json.Unmarshal(raw, &e)
			if code != status {
				return fmt.Errorf("%s: %d %s", path, code, raw)
			}
			anth := strings.HasPrefix(path, "/v1/messages")
			if anth != (e.Type == "error") || !strings.Contains(string(raw), `"`+typ+`"`) {
				t.Fatalf("%s: not the route's error shape or not %s: %s", path, typ, raw)
			}
			return nil
		})
	}
	rpm := generateKey(t, edges[0], map[string]any{"rpm_limit": 1})
	if code, raw := callRaw(t, "POST", edges[0].url("/v1/messages"), rpm, msgBody); code != 200 {
		t.Fatalf("first request under rpm_limit 1: %d %s", code, raw)
	}
	refused(rpm, "/v1/messages", msgBody, 429, "rate_limit_error")
	refused(rpm, "/v1/responses", respBody, 429, "rate_limit_error")
	broke := generateKey(t, edges[0], map[string]any{"max_budget": 0.0001})
	if code, raw := callRaw(t, "POST", edges[0].url("/v1/messages"), broke, msgBody); code != 200 {
		t.Fatalf("first request under max_budget: %d %s", code, raw)
	}
	refused(broke, "/v1/messages", msgBody, 400, "budget_exceeded")
	refused(broke, "/v1/responses", respBody, 400, "budget_exceeded")
}
