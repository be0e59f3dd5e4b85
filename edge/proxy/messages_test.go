package proxy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

func TestChatFromMessages(t *testing.T) {
	d := &policy.Deployment{ModelName: "m", Provider: "openai"}
	body := `{"model":"claude","max_tokens":100,"system":[{"type":"text","text":"be brief"}],"stream":true,
	"metadata":{"user_id":"u1"},"stop_sequences":["X"],"temperature":0.5,
	"tools":[{"name":"get_weather","description":"w","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],
	"tool_choice":{"type":"any","disable_parallel_tool_use":true},
	"messages":[
	 {"role":"user","content":"weather in Paris?"},
	 {"role":"assistant","content":[{"type":"text","text":"checking"},{"type":"tool_use","id":"tu1","name":"get_weather","input":{"city":"Paris"}}]},
	 {"role":"user","content":[{"type":"tool_result","tool_use_id":"tu1","content":"sunny"},{"type":"text","text":"thanks"},
	   {"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAA"}}]}]}`
	out, err := ChatFromMessages([]byte(body), d)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Model         string           `json:"model"`
		MaxTokens     int              `json:"max_tokens"`
		Stream        bool             `json:"stream"`
		StreamOptions map[string]bool  `json:"stream_options"`
		User          string           `json:"user"`
		Stop          []string         `json:"stop"`
		ToolChoice    string           `json:"tool_choice"`
		Parallel      *bool            `json:"parallel_tool_calls"`
		Tools         []map[string]any `json:"tools"`
		Messages      []struct {
			Role       string          `json:"role"`
			Content    json.RawMessage `json:"content"`
			ToolCallID string          `json:"tool_call_id"`
			ToolCalls  []struct {
				ID       string `json:"id"`
				Function struct{ Name, Arguments string }
			} `json:"tool_calls"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.Model != "claude" || got.MaxTokens != 100 || !got.Stream || !got.StreamOptions["include_usage"] || got.User != "u1" ||
		len(got.Stop) != 1 || got.ToolChoice != "required" || got.Parallel == nil || *got.Parallel || len(got.Tools) != 1 {
		t.Fatalf("top-level fields: %s", out)
	}
	roles := []string{}
	for _, m := range got.Messages {
		roles = append(roles, m.Role)
	}
	if strings.Join(roles, ",") != "system,user,assistant,tool,user" {
		t.Fatalf("roles %v: %s", roles, out)
	}
	if a := got.Messages[2]; string(a.Content) != `"checking"` || len(a.ToolCalls) != 1 || a.ToolCalls[0].ID != "tu1" ||
		a.ToolCalls[0].Function.Arguments != `{"city":"Paris"}` {
		t.Fatalf("assistant turn: %s", out)
	}
	if tm := got.Messages[3]; tm.ToolCallID != "tu1" || string(tm.Content) != `"sunny"` {
		t.Fatalf("tool turn: %s", out)
	}
	if !strings.Contains(string(got.Messages[4].Content), `data:image/png;base64,AAA`) {
		t.Fatalf("image: %s", out)
	}
}

func TestChatFromMessagesRefusals(t *testing.T) {
	d := &policy.Deployment{ModelName: "m", Provider: "openai"}
	for _, tc := range []struct{ body, param string }{
		{`{"model":"m","messages":[{"role":"user","content":"x"}]}`, "max_tokens"},
		{`{"model":"m","max_tokens":5,"messages":[]}`, "messages"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"system","content":"x"}]}`, "messages[0].role"},
		{`{"model":"m","max_tokens":5,"mcp_servers":[],"messages":[{"role":"user","content":"x"}]}`, "mcp_servers"},
		{`{"model":"m","max_tokens":"5","messages":[{"role":"user","content":"x"}]}`, "max_tokens"},
		{`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document"}]}]}`, "messages[0].content[0].type"},
		{`{"model":"m","max_tokens":5,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"x"}]}`, "tools[0]"},
	} {
		_, err := ChatFromMessages([]byte(tc.body), d)
		ae, ok := err.(*apierror.Error)
		if !ok || ae.Status != 400 || ae.Param != tc.param {
			t.Errorf("%s: got %v (param %q), want a 400 naming %s", tc.body, err, paramOf(ae), tc.param)
		}
	}
}

func paramOf(e *apierror.Error) string {
	if e == nil {
		return ""
	}
	return e.Param
}

func TestMessageFromChat(t *testing.T) {
	chat := `{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hi",
	"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}],
	"usage":{"prompt_tokens":10,"completion_tokens":4,"total_tokens":14,"prompt_tokens_details":{"cached_tokens":3}}}`
	out, err := MessageFromChat([]byte(chat))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		ID, Type, Role, Model string
		StopReason            string `json:"stop_reason"`
		Content               []struct {
			Type, Text, ID, Name string
			Input                json.RawMessage
		}
		Usage messagesUsage
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if m.ID != "msg_1" || m.Type != "message" || m.Role != "assistant" || m.StopReason != "tool_use" || len(m.Content) != 2 ||
		m.Content[0].Text != "hi" || m.Content[1].Type != "tool_use" || string(m.Content[1].Input) != `{"a":1}` {
		t.Fatalf("message: %s", out)
	}
	// The client's counts add up to the prompt tokens spend records.
	if m.Usage != (messagesUsage{InputTokens: 7, OutputTokens: 4, CacheReadInputTokens: 3}) {
		t.Fatalf("usage %+v", m.Usage)
	}
}

func TestMessagesSSE(t *testing.T) {
	chunks := []string{
		`{"id":"chatcmpl-9","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`,
		`{"id":"chatcmpl-9","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}`,
		`{"id":"chatcmpl-9","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}`,
		`{"id":"chatcmpl-9","model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"f","arguments":""}}]},"finish_reason":null}]}`,
		`{"id":"chatcmpl-9","model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]},"finish_reason":null}]}`,
		`{"id":"chatcmpl-9","model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]},"finish_reason":null}]}`,
		`{"id":"chatcmpl-9","model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
		`{"id":"chatcmpl-9","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}`,
	}
	var in strings.Builder
	for _, c := range chunks {
		in.WriteString("data: " + c + "\r\n\r\n")
	}
	in.WriteString(": keep-alive\n\ndata: [DONE]\n\n")
	out := string(translateMessagesSSE([]byte(in.String())))
	var types []string
	for _, ev := range strings.Split(strings.TrimSpace(out), "\n\n") {
		line, _, _ := strings.Cut(ev, "\n")
		types = append(types, strings.TrimPrefix(line, "event: "))
	}
	want := "message_start,content_block_start,content_block_delta,content_block_delta,content_block_stop," +
		"content_block_start,content_block_delta,content_block_delta,content_block_stop,: keep-alive,message_delta,message_stop"
	if strings.Join(types, ",") != want {
		t.Fatalf("events\n got %s\nwant %s\n%s", strings.Join(types, ","), want, out)
	}
	for _, s := range []string{`"text":"Hel"`, `"partial_json":"1}"`, `"id":"c1","input":{},"name":"f","type":"tool_use"`,
		`"stop_reason":"tool_use"`, `"input_tokens":12`, `"output_tokens":5`, `"id":"msg_9"`} {
		if !strings.Contains(out, s) {
			t.Errorf("stream lacks %s:\n%s", s, out)
		}
	}
}

func TestMessagesSSEError(t *testing.T) {
	in := "data: {\"id\":\"x\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n" +
		"data: {\"error\":{\"message\":\"upstream broke\",\"type\":\"upstream_error\"}}\n\n"
	out := string(translateMessagesSSE([]byte(in)))
	if !strings.Contains(out, "event: error\ndata: {\"error\":{\"message\":\"upstream broke\",\"type\":\"api_error\"},\"type\":\"error\"}") ||
		strings.Contains(out, "message_stop") {
		t.Fatalf("a broken stream must end with an error event and no message_stop:\n%s", out)
	}
}

func TestResponseID(t *testing.T) {
	suffix := ResponseIDSuffix("gpt-4o", "dep/1")
	id := "resp_abc" + suffix
	up, model, dep, ok := ParseResponseID(id)
	if !ok || up != "resp_abc" || model != "gpt-4o" || dep != "dep/1" {
		t.Fatalf("round trip: %q %q %q %v", up, model, dep, ok)
	}
	for _, bad := range []string{"resp_abc", ResponseIDMark + "Zm9v", "resp_abc" + ResponseIDMark + "!!", "resp" + ResponseIDMark + "Zm9v"} {
		if _, _, _, ok := ParseResponseID(bad); ok {
			t.Errorf("%q parsed as the gateway's", bad)
		}
	}
	body := []byte(`{"model":"x","previous_response_id":"` + id + `","input":"hi"}`)
	if got := string(unwrapPreviousID(body)); got != `{"model":"x","previous_response_id":"resp_abc","input":"hi"}` {
		t.Fatalf("previous_response_id: %s", got)
	}
}

func TestResponsesFrames(t *testing.T) {
	r := &responsesFrames{suffix: ".gh1XYZ"}
	ev := []byte("event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"model\":\"gpt-4o\",\"usage\":null}}\n\n")
	fi, out := r.read(ev)
	if fi.hasUsage || !strings.Contains(string(out), `"id":"resp_1.gh1XYZ"`) {
		t.Fatalf("created: %+v %s", fi, out)
	}
	fi, _ = r.read([]byte("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"héllo\"}\n\n"))
	if fi.chars != 5 {
		t.Fatalf("delta chars %d", fi.chars)
	}
	fi, out = r.read([]byte("event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"model\":\"gpt-4o\"," +
		"\"usage\":{\"input_tokens\":9,\"input_tokens_details\":{\"cached_tokens\":4},\"output_tokens\":6,\"output_tokens_details\":{\"reasoning_tokens\":2},\"total_tokens\":15}}}\n\n"))
	if !fi.hasUsage || fi.prompt != 9 || fi.completion != 6 || fi.total != 15 || !strings.Contains(string(out), "resp_1.gh1XYZ") {
		t.Fatalf("completed: %+v %s", fi, out)
	}
}

func TestAnthropicFrames(t *testing.T) {
	a := &anthropicFrames{}
	evs := []string{
		`{"type":"message_start","message":{"id":"msg_1","type":"message","model":"claude-x","usage":{"input_tokens":10,"cache_read_input_tokens":5,"cache_creation_input_tokens":2,"output_tokens":1}}}`,
		`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hey"}}`,
		`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":7}}`,
	}
	var fi frameInfo
	for _, e := range evs {
		fi, _ = a.read([]byte("event: x\ndata: " + e + "\n\n"))
	}
	if !fi.hasUsage || fi.prompt != 17 || fi.completion != 7 || fi.total != 24 || string(fi.model) != "claude-x" {
		t.Fatalf("%+v", fi)
	}
}
