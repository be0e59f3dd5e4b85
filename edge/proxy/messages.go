package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// Anthropic's Messages API (POST /v1/messages) for deployments that speak
// chat completions: the request is translated to a chat completion, the
// provider answers it as any chat request (so every provider, retries and
// usage accounting work unchanged), and the answer is translated back to
// a Message (messages_stream.go does the stream). This is
// anthropic_request.go and anthropic.go the other way round, on their
// wire types. anthropic/ deployments get the client's body as is
// (anthropic_messages.go).

// messagesRequest is a Messages API request as far as it is translated.
type messagesRequest struct {
	Model         string            `json:"model"`
	System        json.RawMessage   `json:"system"`
	Messages      []messagesMsg     `json:"messages"`
	MaxTokens     int64             `json:"max_tokens"`
	Temperature   json.RawMessage   `json:"temperature"`
	TopP          json.RawMessage   `json:"top_p"`
	TopK          json.RawMessage   `json:"top_k"`
	StopSequences []string          `json:"stop_sequences"`
	Stream        bool              `json:"stream"`
	Tools         []anthropicTool   `json:"tools"`
	ToolChoice    *messagesChoice   `json:"tool_choice"`
	Metadata      map[string]string `json:"metadata"`
}

type messagesMsg struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// messagesBlock is an incoming content block: a tool_result's content
// may be a string or blocks, which anthropicBlock cannot hold.
type messagesBlock struct {
	anthropicBlock
	Content json.RawMessage `json:"content"`
	IsError bool            `json:"is_error"`
}

type messagesChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
}

// messagesKnown are the Messages API fields the translation reads;
// messagesIgnored do not change what the model generates (thinking only
// asks for visible reasoning, which a chat completion does not return).
var (
	messagesKnown = map[string]bool{"model": true, "system": true, "messages": true, "max_tokens": true,
		"temperature": true, "top_p": true, "top_k": true, "stop_sequences": true, "stream": true, "tools": true,
		"tool_choice": true, "metadata": true}
	messagesIgnored = map[string]bool{"thinking": true, "service_tier": true, "anthropic_version": true}
)

// chatOut is one chat completion message built from Messages turns.
type chatOut struct {
	Role       string            `json:"role"`
	Content    any               `json:"content"` // string, []chatPart or nil
	ToolCalls  []chatToolCallOut `json:"tool_calls,omitempty"`
	ToolCallID string            `json:"tool_call_id,omitempty"`
}

type chatPart struct {
	Type     string        `json:"type"`
	Text     string        `json:"text,omitempty"`
	ImageURL *chatImageURL `json:"image_url,omitempty"`
}

type chatImageURL struct {
	URL string `json:"url"`
}

// ChatFromMessages translates a Messages API body into a chat completion
// body for d (the deployment's provider names the refusals). A stream
// asks for the usage chunk: the Anthropic stream ends with the usage.
func ChatFromMessages(body []byte, d *policy.Deployment) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, apierror.InvalidJSON.Wrap(err, "request body must be a JSON object")
	}
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a request with several problems always names the same one
	for _, k := range keys {
		if !messagesKnown[k] && !messagesIgnored[k] {
			return nil, paramError(k, "%s is not supported for provider %s on /v1/messages", k, d.Provider)
		}
	}
	var req messagesRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, badField(err)
	}
	if req.MaxTokens <= 0 {
		return nil, paramError("max_tokens", "max_tokens must be a positive integer")
	}
	out := map[string]any{"model": req.Model, "max_tokens": req.MaxTokens}
	msgs, err := chatMessages(&req)
	if err != nil {
		return nil, err
	}
	out["messages"] = msgs
	for k, v := range map[string]json.RawMessage{"temperature": req.Temperature, "top_p": req.TopP, "top_k": req.TopK} {
		if !isNull(v) {
			out[k] = v
		}
	}
	if len(req.StopSequences) > 0 {
		out["stop"] = req.StopSequences
	}
	if req.Stream {
		out["stream"] = true
		out["stream_options"] = map[string]bool{"include_usage": true}
	}
	if u := req.Metadata["user_id"]; u != "" {
		out["user"] = u
	}
	if len(req.Tools) > 0 {
		tools := make([]map[string]any, 0, len(req.Tools))
		for i, t := range req.Tools {
			if t.Name == "" || isNull(t.InputSchema) {
				return nil, paramError(fmt.Sprintf("tools[%d]", i), "only custom tools with a name and an input_schema are supported for provider %s", d.Provider)
			}
			fn := map[string]any{"name": t.Name, "parameters": t.InputSchema}
			if t.Description != "" {
				fn["description"] = t.Description
			}
			tools = append(tools, map[string]any{"type": "function", "function": fn})
		}
		out["tools"] = tools
	}
	if tc := req.ToolChoice; tc != nil {
		switch tc.Type {
		case "auto":
			out["tool_choice"] = "auto"
		case "any":
			out["tool_choice"] = "required"
		case "none":
			out["tool_choice"] = "none"
		case "tool":
			out["tool_choice"] = map[string]any{"type": "function", "function": map[string]string{"name": tc.Name}}
		default:
			return nil, paramError("tool_choice.type", "tool_choice type must be auto, any, tool or none")
		}
		if tc.DisableParallelToolUse && len(req.Tools) > 0 {
			out["parallel_tool_calls"] = false
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, apierror.Internal.Wrap(err, "could not build the request for model %s", d.ModelName)
	}
	return b, nil
}

// badField names the field of a decoding error.
func badField(err error) error {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return paramError(typ.Field, "%s must be of type %s", typ.Field, jsonTypeName(typ.Type.Kind().String()))
	}
	return apierror.InvalidJSON.Wrap(err, "request body is not valid JSON: %v", err)
}

func jsonTypeName(kind string) string {
	switch kind {
	case "slice":
		return "array"
	case "struct", "map":
		return "object"
	case "int64", "int", "float64":
		return "number"
	}
	return kind
}

// chatMessages turns the system prompt and the turns into chat messages:
// tool_result blocks become role tool messages (before the rest of their
// user turn, which is where OpenAI wants them), tool_use blocks the
// assistant's tool_calls.
func chatMessages(req *messagesRequest) ([]chatOut, error) {
	var out []chatOut
	if !isNull(req.System) {
		text, err := blocksText(req.System, "system")
		if err != nil {
			return nil, err
		}
		out = append(out, chatOut{Role: "system", Content: text})
	}
	if len(req.Messages) == 0 {
		return nil, paramError("messages", "messages must be a non-empty array")
	}
	for i, m := range req.Messages {
		param := fmt.Sprintf("messages[%d]", i)
		blocks, err := decodeBlocks(m.Content, param+".content")
		if err != nil {
			return nil, err
		}
		switch m.Role {
		case "user":
			var parts []chatPart
			for j, b := range blocks {
				bp := fmt.Sprintf("%s.content[%d]", param, j)
				switch b.Type {
				case "text":
					parts = append(parts, chatPart{Type: "text", Text: deref(b.Text)})
				case "image":
					u, err := imageURLOf(b.Source, bp)
					if err != nil {
						return nil, err
					}
					parts = append(parts, chatPart{Type: "image_url", ImageURL: &chatImageURL{URL: u}})
				case "tool_result":
					text, err := blocksText(b.Content, bp+".content")
					if err != nil {
						return nil, err
					}
					if b.IsError && !strings.HasPrefix(text, "Error") {
						text = "Error: " + text
					}
					out = append(out, chatOut{Role: "tool", ToolCallID: b.ToolUseID, Content: text})
				default:
					return nil, paramError(bp+".type", "content block type %q is not supported in user turns here", b.Type)
				}
			}
			if len(parts) > 0 {
				out = append(out, chatOut{Role: "user", Content: userContent(parts)})
			}
		case "assistant":
			msg := chatOut{Role: "assistant"}
			var text strings.Builder
			for j, b := range blocks {
				switch b.Type {
				case "text":
					text.WriteString(deref(b.Text))
				case "tool_use":
					msg.ToolCalls = append(msg.ToolCalls, toolCallOut(b.ID, b.Name, b.Input))
				case "thinking", "redacted_thinking":
					// Replayed reasoning: a chat completion has no place for it.
				default:
					return nil, paramError(fmt.Sprintf("%s.content[%d].type", param, j), "content block type %q is not supported in assistant turns here", b.Type)
				}
			}
			if text.Len() > 0 || len(msg.ToolCalls) == 0 {
				msg.Content = text.String()
			}
			out = append(out, msg)
		default:
			return nil, paramError(param+".role", "role must be user or assistant, not %q", m.Role)
		}
	}
	return out, nil
}

// userContent is a plain string when the turn is text only, which every
// OpenAI-compatible server accepts.
func userContent(parts []chatPart) any {
	var b strings.Builder
	for _, p := range parts {
		if p.Type != "text" {
			return parts
		}
		b.WriteString(p.Text)
	}
	return b.String()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// decodeBlocks reads a content: a string is one text block.
func decodeBlocks(raw json.RawMessage, param string) ([]messagesBlock, error) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		return nil, paramError(param, "%s is required", param)
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, paramError(param, "%s: %v", param, err)
		}
		return []messagesBlock{{anthropicBlock: textBlock(s)}}, nil
	}
	var bs []messagesBlock
	if err := json.Unmarshal(raw, &bs); err != nil {
		return nil, paramError(param, "%s must be a string or an array of content blocks", param)
	}
	return bs, nil
}

// blocksText is the text of a system prompt or tool result: a string, or
// text blocks joined.
func blocksText(raw json.RawMessage, param string) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	bs, err := decodeBlocks(raw, param)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for j, bl := range bs {
		if bl.Type != "text" {
			return "", paramError(fmt.Sprintf("%s[%d].type", param, j), "only text blocks are supported in %s here", param)
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(deref(bl.Text))
	}
	return b.String(), nil
}

// imageURLOf is imageSourceOf the other way round.
func imageURLOf(src *imageSource, param string) (string, error) {
	switch {
	case src == nil:
	case src.Type == "base64" && src.MediaType != "":
		return "data:" + src.MediaType + ";base64," + src.Data, nil
	case src.Type == "url" && src.URL != "":
		return src.URL, nil
	}
	return "", paramError(param+".source", "image source must be base64 data with a media_type or a url")
}

// stopReason is finishReason the other way round.
func stopReason(finish string) string {
	switch finish {
	case "length":
		return "max_tokens"
	case "tool_calls", "function_call":
		return "tool_use"
	case "content_filter":
		return "refusal"
	}
	return "end_turn"
}

// messagesUsage is Anthropic's usage from a chat completion's: cached
// prompt tokens are cache reads, the rest input tokens, so the three sum
// to the prompt tokens the spend event records.
type messagesUsage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
}

func usageFromChat(c chatUsage) messagesUsage {
	u := messagesUsage{InputTokens: c.PromptTokens, OutputTokens: c.CompletionTokens,
		CacheCreationInputTokens: c.CacheCreationInputTokens, CacheReadInputTokens: c.CacheReadInputTokens}
	if c.PromptTokensDetails != nil && u.CacheReadInputTokens == 0 {
		u.CacheReadInputTokens = c.PromptTokensDetails.CachedTokens
	}
	u.InputTokens = max(0, u.InputTokens-u.CacheReadInputTokens-u.CacheCreationInputTokens)
	return u
}

// messageOut is a Messages API answer.
type messageOut struct {
	ID           string           `json:"id"`
	Type         string           `json:"type"`
	Role         string           `json:"role"`
	Model        string           `json:"model"`
	Content      []anthropicBlock `json:"content"`
	StopReason   *string          `json:"stop_reason"`
	StopSequence *string          `json:"stop_sequence"`
	Usage        messagesUsage    `json:"usage"`
}

// messageID makes a chat completion id look like a message id, which some
// clients check the prefix of.
func messageID(id string) string {
	if strings.HasPrefix(id, "msg_") {
		return id
	}
	return "msg_" + strings.TrimPrefix(id, "chatcmpl-")
}

// clientMessageID is the id a Messages API client got for an answer whose
// chat completion id was id ("" for none).
func clientMessageID(id string) string {
	if id == "" {
		return ""
	}
	return messageID(id)
}

// MessageFromChat translates a chat completion body into a Message.
func MessageFromChat(b []byte) ([]byte, error) {
	var c chatCompletion
	if err := json.Unmarshal(b, &c); err != nil || len(c.Choices) == 0 {
		if err == nil {
			err = fmt.Errorf("chat completion without choices")
		}
		return nil, apierror.UpstreamError.Wrap(err, "upstream answer could not be translated to a message")
	}
	ch := c.Choices[0]
	m := messageOut{ID: messageID(c.ID), Type: "message", Role: "assistant", Model: c.Model, Content: []anthropicBlock{}, Usage: usageFromChat(c.Usage)}
	if ch.Message.Content != nil && *ch.Message.Content != "" {
		m.Content = append(m.Content, textBlock(*ch.Message.Content))
	}
	for _, tc := range ch.Message.ToolCalls {
		input := json.RawMessage(tc.Function.Arguments)
		if !json.Valid(input) || len(bytes.TrimSpace(input)) == 0 {
			input = json.RawMessage("{}")
		}
		m.Content = append(m.Content, anthropicBlock{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
	}
	sr := stopReason(ch.FinishReason)
	m.StopReason = &sr
	return json.Marshal(&m)
}
