package proxy

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/internal/apierror"
)

// The mock's Responses API: the chat mock's answer ("This is a mock
// response from <model>. You said: <last user text>") and word counts, in
// a response object, or as the typed response.* events of a stream.

// mockResponses answers x as OpenAI's Responses API would.
func mockResponses(rc *fasthttp.RequestCtx, x *Exchange) (Usage, error) {
	var req struct {
		Input        json.RawMessage `json:"input"`
		Instructions string          `json:"instructions"`
	}
	if err := json.Unmarshal(x.Call.Body, &req); err != nil {
		return Usage{}, apierror.InvalidJSON.Wrap(err, "request body is not valid JSON")
	}
	prompt := countWords(req.Instructions)
	said := ""
	if len(req.Input) > 0 && req.Input[0] == '"' {
		_ = json.Unmarshal(req.Input, &said)
		prompt += countWords(said)
	} else {
		var items []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		}
		_ = json.Unmarshal(req.Input, &items)
		for _, it := range items {
			t := inputText(it.Content)
			prompt += countWords(t)
			if it.Role == "user" {
				said = t
			}
		}
	}
	content := x.Deployment.MockResponse
	if content == "" {
		content = "This is a mock response from " + x.Model + ". You said: " + said
	}
	completion := countWords(content)

	h := fnv.New64a()
	_, _ = h.Write(x.Call.Body)
	var sum [8]byte
	binary.BigEndian.PutUint64(sum[:], h.Sum64())
	hexID := hex.EncodeToString(sum[:])
	id, msgID := "resp_mock"+hexID+x.Call.IDSuffix, "msg_mock"+hexID
	created := time.Now().Unix()
	usage := map[string]any{"input_tokens": prompt, "input_tokens_details": map[string]int{"cached_tokens": 0},
		"output_tokens": completion, "output_tokens_details": map[string]int{"reasoning_tokens": 0}, "total_tokens": prompt + completion}
	part := func(text string) map[string]any {
		return map[string]any{"type": "output_text", "text": text, "annotations": []any{}}
	}
	item := func(status string, parts []any) map[string]any {
		return map[string]any{"type": "message", "id": msgID, "status": status, "role": "assistant", "content": parts}
	}
	response := func(status string, output []any, usage any) map[string]any {
		return map[string]any{"id": id, "object": "response", "created_at": created, "status": status, "model": x.Model,
			"output": output, "usage": usage, "parallel_tool_calls": true, "tool_choice": "auto", "tools": []any{}}
	}
	u := Usage{PromptTokens: int64(prompt), CompletionTokens: int64(completion), TotalTokens: int64(prompt + completion),
		Status: fasthttp.StatusOK, Outcome: OutcomeOK, Model: x.Model, UpstreamStatus: fasthttp.StatusOK, ID: id}
	final := response("completed", []any{item("completed", []any{part(content)})}, usage)
	rc.SetStatusCode(fasthttp.StatusOK)
	if !x.Call.Stream {
		b, _ := json.Marshal(final)
		rc.Response.Header.SetContentType("application/json")
		rc.Response.SetBodyRaw(b)
		return u, nil
	}
	var out []byte
	seq := 0
	emit := func(typ string, ev map[string]any) {
		ev["type"], ev["sequence_number"] = typ, seq
		seq++
		b, _ := json.Marshal(ev)
		out = append(out, "event: "...)
		out = append(out, typ...)
		out = append(out, "\ndata: "...)
		out = append(out, b...)
		out = append(out, "\n\n"...)
	}
	at := func(ev map[string]any) map[string]any {
		ev["item_id"], ev["output_index"], ev["content_index"] = msgID, 0, 0
		return ev
	}
	emit("response.created", map[string]any{"response": response("in_progress", []any{}, nil)})
	emit("response.in_progress", map[string]any{"response": response("in_progress", []any{}, nil)})
	emit("response.output_item.added", map[string]any{"output_index": 0, "item": item("in_progress", []any{})})
	emit("response.content_part.added", at(map[string]any{"part": part("")}))
	for rest := content; rest != ""; {
		w := nextWord(rest)
		emit("response.output_text.delta", at(map[string]any{"delta": rest[:w]}))
		rest = rest[w:]
	}
	emit("response.output_text.done", at(map[string]any{"text": content}))
	emit("response.content_part.done", at(map[string]any{"part": part(content)}))
	emit("response.output_item.done", map[string]any{"output_index": 0, "item": item("completed", []any{part(content)})})
	emit("response.completed", map[string]any{"response": final})
	rc.Response.Header.SetContentType("text/event-stream")
	rc.Response.Header.Set(fasthttp.HeaderCacheControl, "no-cache")
	rc.Response.SetBodyRaw(out)
	u.TTFT = time.Since(x.Start)
	return u, nil
}

// inputText is the text of a Responses input item's content: a string,
// or its input_text parts.
func inputText(raw json.RawMessage) string {
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	_ = json.Unmarshal(raw, &parts)
	var b []byte
	for _, p := range parts {
		if p.Type == "input_text" || p.Type == "text" || p.Type == "output_text" {
			b = append(b, p.Text...)
		}
	}
	return string(b)
}
