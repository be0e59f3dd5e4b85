package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

const (
	anthropicVersion     = "2023-06-01"
	defaultAnthropicBase = "https://api.anthropic.com"
	// defaultAnthropicMaxTokens is LiteLLM's DEFAULT_ANTHROPIC_CHAT_MAX_TOKENS:
	// the Messages API requires max_tokens, OpenAI clients rarely send it.
	defaultAnthropicMaxTokens = 4096
)

// anthropicRequest is the Messages API body built from a chat completion.
type anthropicRequest struct {
	Model string `json:"model,omitempty"`
	// AnthropicVersion is set for Anthropic models on Vertex AI, which
	// take the version in the body and the model in the URL.
	AnthropicVersion string            `json:"anthropic_version,omitempty"`
	System           []anthropicBlock  `json:"system,omitempty"`
	Messages         []anthropicMsg    `json:"messages"`
	MaxTokens        int64             `json:"max_tokens"`
	Temperature      json.RawMessage   `json:"temperature,omitempty"`
	TopP             json.RawMessage   `json:"top_p,omitempty"`
	TopK             json.RawMessage   `json:"top_k,omitempty"`
	StopSequences    []string          `json:"stop_sequences,omitempty"`
	Stream           bool              `json:"stream,omitempty"`
	Tools            []anthropicTool   `json:"tools,omitempty"`
	ToolChoice       map[string]any    `json:"tool_choice,omitempty"`
	Metadata         map[string]string `json:"metadata,omitempty"`

	// maxTokensSet: the client chose max_tokens (other providers get no
	// default of Anthropic's).
	maxTokensSet bool
}

type anthropicMsg struct {
	Role    string           `json:"role"`
	Content []anthropicBlock `json:"content"`
}

// anthropicBlock is one content block; only the fields of its type are set.
type anthropicBlock struct {
	Type      string          `json:"type"`
	Text      *string         `json:"text,omitempty"`
	Source    *imageSource    `json:"source,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	// Content of a tool_result: text blocks.
	Content      []anthropicBlock `json:"content,omitempty"`
	CacheControl json.RawMessage  `json:"cache_control,omitempty"`
}

type imageSource struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

type anthropicTool struct {
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// chatMessage is one OpenAI message as far as it can be translated.
type chatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCalls  []chatToolCall  `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
	Name       string          `json:"name"`
	// Refusal and annotations come back in assistant turns clients replay;
	// neither has an Anthropic equivalent nor changes the prompt.
	Refusal     json.RawMessage `json:"refusal"`
	Annotations json.RawMessage `json:"annotations"`
	Audio       json.RawMessage `json:"audio"`
	FunctionCll json.RawMessage `json:"function_call"`
}

type chatToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type contentPart struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	ImageURL *struct {
		URL    string `json:"url"`
		Detail string `json:"detail"`
	} `json:"image_url"`
	CacheControl json.RawMessage `json:"cache_control"`
}

// paramError is the 400 for a request field that cannot be translated.
func paramError(param, format string, args ...any) *apierror.Error {
	e := apierror.BadRequest.With(format, args...)
	e.Param = param
	e.Code = "unsupported_param"
	return e
}

func isNull(r json.RawMessage) bool {
	r = bytes.TrimSpace(r)
	return len(r) == 0 || string(r) == "null"
}

// ignoredAnthropicParams do not change what the model generates, so they
// are accepted and not sent: LiteLLM's own metadata and request-level
// fallbacks (the gateway's routing), OpenAI's storage and tier hints.
var ignoredAnthropicParams = map[string]bool{
	"metadata": true, "store": true, "service_tier": true, "stream_options": true, "fallbacks": true,
}

// prepareFromAnthropic sets x's payload from the client's chat completion
// body: read into a Messages API request (buildAnthropicRequest, stream
// says whether the request asks the upstream for a stream), then turned
// into the provider's own request by wire (Anthropic's and Vertex's send
// the Messages request itself, Bedrock's and Gemini's translate it), so
// every provider refuses the same parameters the same way. Anything that
// would change the answer and has no Anthropic equivalent is refused with
// a 400 naming the parameter rather than dropped: a client asking for n=3
// or logprobs must not silently get something else.
func prepareFromAnthropic[T any](x *Exchange, stream bool, wire func(*anthropicRequest) (T, error)) error {
	d := x.Deployment
	ar, includeUsage, err := buildAnthropicRequest(x.Call.Body, d, x.Model, stream)
	if err != nil {
		return err
	}
	req, err := wire(ar)
	if err != nil {
		return err
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return apierror.Internal.Wrap(err, "could not build the request for model %s", d.ModelName)
	}
	x.Payload, x.ClientUsage = payload, includeUsage
	return nil
}

// messagesAsIs is the wire of Anthropic's Messages API: the request as
// built.
func messagesAsIs(a *anthropicRequest) (*anthropicRequest, error) { return a, nil }

// buildAnthropicRequest reads and checks an OpenAI chat completion body
// into a Messages API request. Bedrock's and Gemini's requests are built
// from it, so every provider refuses and translates the same way.
func buildAnthropicRequest(body []byte, d *policy.Deployment, model string, stream bool) (*anthropicRequest, bool, error) {
	req, includeUsage, err := buildAnthropic(body, d, model, stream)
	if err != nil && d.Provider != policy.ProviderAnthropic {
		// The checks are shared; the message names the provider the
		// client's deployment uses.
		if ae, ok := err.(*apierror.Error); ok {
			ae.Message = strings.ReplaceAll(ae.Message, "provider anthropic", "provider "+d.Provider)
		}
	}
	return req, includeUsage, err
}

func buildAnthropic(body []byte, d *policy.Deployment, model string, stream bool) (_ *anthropicRequest, includeUsage bool, err error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, false, apierror.InvalidJSON.Wrap(err, "request body must be a JSON object")
	}
	req := &anthropicRequest{Model: model, Stream: stream, MaxTokens: defaultAnthropicMaxTokens}
	if d.Model != nil && d.Model.ModelInfo.MaxOutputTokens > 0 {
		// LiteLLM defaults to the model's max_output_tokens when it knows it.
		req.MaxTokens = d.Model.ModelInfo.MaxOutputTokens
	}
	var parallel *bool
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	// Sorted, so a request with several problems always names the same one.
	sort.Strings(keys)
	for _, k := range keys {
		v := top[k]
		if ignoredAnthropicParams[k] {
			if k == "stream_options" && !isNull(v) {
				var so struct {
					IncludeUsage *bool `json:"include_usage"`
				}
				if json.Unmarshal(v, &so) != nil {
					return nil, false, paramError(k, "stream_options must be an object")
				}
				includeUsage = so.IncludeUsage != nil && *so.IncludeUsage
			}
			continue
		}
		if isNull(v) && k != "messages" && k != "model" {
			continue
		}
		switch k {
		case "model", "stream":
		case "messages":
			var msgs []chatMessage
			if err := json.Unmarshal(v, &msgs); err != nil {
				return nil, false, paramError(k, "messages: %v", err)
			}
			if req.System, req.Messages, err = translateMessages(msgs); err != nil {
				return nil, false, err
			}
		case "max_tokens", "max_completion_tokens":
			var n int64
			if json.Unmarshal(v, &n) != nil || n <= 0 {
				return nil, false, paramError(k, "%s must be a positive integer", k)
			}
			req.MaxTokens, req.maxTokensSet = n, true
		case "temperature":
			req.Temperature = v
		case "top_p":
			req.TopP = v
		case "top_k":
			req.TopK = v
		case "stop":
			var one string
			if json.Unmarshal(v, &one) == nil {
				req.StopSequences = []string{one}
			} else if json.Unmarshal(v, &req.StopSequences) != nil {
				return nil, false, paramError(k, "stop must be a string or an array of strings")
			}
		case "n":
			var n int64
			if json.Unmarshal(v, &n) != nil || n != 1 {
				return nil, false, paramError(k, "n=%s is not supported by provider anthropic (one choice per request)", bytes.TrimSpace(v))
			}
		case "user":
			var u string
			if json.Unmarshal(v, &u) != nil {
				return nil, false, paramError(k, "user must be a string")
			}
			req.Metadata = map[string]string{"user_id": u}
		case "tools":
			if req.Tools, err = translateTools(v); err != nil {
				return nil, false, err
			}
		case "tool_choice":
			if req.ToolChoice, err = translateToolChoice(v); err != nil {
				return nil, false, err
			}
		case "parallel_tool_calls":
			var b bool
			if json.Unmarshal(v, &b) != nil {
				return nil, false, paramError(k, "parallel_tool_calls must be a boolean")
			}
			parallel = &b
		case "response_format":
			var rf struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(v, &rf) != nil || rf.Type != "text" {
				return nil, false, paramError(k, "response_format %s is not supported by provider anthropic", bytes.TrimSpace(v))
			}
		case "logprobs":
			if string(bytes.TrimSpace(v)) != "false" {
				return nil, false, paramError(k, "logprobs is not supported by provider anthropic")
			}
		default:
			return nil, false, paramError(k, "%s is not supported by provider anthropic", k)
		}
	}
	if req.Messages == nil {
		return nil, false, paramError("messages", "messages must hold at least one user or assistant message for provider anthropic")
	}
	if parallel != nil && !*parallel && len(req.Tools) > 0 {
		if req.ToolChoice == nil {
			req.ToolChoice = map[string]any{"type": "auto"}
		}
		if req.ToolChoice["type"] != "none" {
			req.ToolChoice["disable_parallel_tool_use"] = true
		}
	}
	return req, includeUsage, nil
}

func textBlock(s string) anthropicBlock { return anthropicBlock{Type: "text", Text: &s} }

// translateMessages moves system and developer messages to the top-level
// system and turns tool calls and results into tool_use and tool_result
// blocks. Consecutive turns of one role are merged: the Messages API wants
// user and assistant to alternate, and OpenAI's several tool messages in a
// row are one user turn of tool results there.
func translateMessages(msgs []chatMessage) (system []anthropicBlock, out []anthropicMsg, err error) {
	for i, m := range msgs {
		param := fmt.Sprintf("messages[%d]", i)
		var blocks []anthropicBlock
		role := m.Role
		switch m.Role {
		case "system", "developer":
			bs, err := contentBlocks(m.Content, param, false)
			if err != nil {
				return nil, nil, err
			}
			system = append(system, bs...)
			continue
		case "user":
			if blocks, err = contentBlocks(m.Content, param, true); err != nil {
				return nil, nil, err
			}
		case "assistant":
			if blocks, err = contentBlocks(m.Content, param, false); err != nil {
				return nil, nil, err
			}
			for j, tc := range m.ToolCalls {
				input := json.RawMessage(tc.Function.Arguments)
				if strings.TrimSpace(tc.Function.Arguments) == "" {
					input = json.RawMessage("{}")
				} else if !json.Valid(input) || bytes.TrimSpace(input)[0] != '{' {
					return nil, nil, paramError(fmt.Sprintf("%s.tool_calls[%d].function.arguments", param, j), "tool call arguments must be a JSON object")
				}
				blocks = append(blocks, anthropicBlock{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: input})
			}
			if !isNull(m.FunctionCll) {
				return nil, nil, paramError(param+".function_call", "function_call is not supported by provider anthropic; use tool_calls")
			}
		case "tool":
			role = "user"
			inner, err := contentBlocks(m.Content, param, false)
			if err != nil {
				return nil, nil, err
			}
			blocks = []anthropicBlock{{Type: "tool_result", ToolUseID: m.ToolCallID, Content: inner}}
		default:
			return nil, nil, paramError(param+".role", "role %q is not supported by provider anthropic", m.Role)
		}
		if len(blocks) == 0 {
			// An empty assistant turn (content null, no tool calls) says
			// nothing; Anthropic refuses empty content.
			continue
		}
		if n := len(out); n > 0 && out[n-1].Role == role {
			out[n-1].Content = append(out[n-1].Content, blocks...)
			continue
		}
		out = append(out, anthropicMsg{Role: role, Content: blocks})
	}
	return system, out, nil
}

// contentBlocks translates a message's content: a string or an array of
// parts. Images are allowed only in user turns.
func contentBlocks(raw json.RawMessage, param string, images bool) ([]anthropicBlock, error) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, paramError(param+".content", "content: %v", err)
		}
		if s == "" {
			return nil, nil
		}
		return []anthropicBlock{textBlock(s)}, nil
	}
	var parts []contentPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, paramError(param+".content", "content must be a string or an array of content parts")
	}
	out := make([]anthropicBlock, 0, len(parts))
	for j, p := range parts {
		pp := fmt.Sprintf("%s.content[%d]", param, j)
		switch {
		case p.Type == "text":
			b := textBlock(p.Text)
			b.CacheControl = p.CacheControl
			out = append(out, b)
		case p.Type == "image_url" && images && p.ImageURL != nil:
			src, err := imageSourceOf(p.ImageURL.URL, pp)
			if err != nil {
				return nil, err
			}
			out = append(out, anthropicBlock{Type: "image", Source: src, CacheControl: p.CacheControl})
		default:
			return nil, paramError(pp+".type", "content part type %q is not supported by provider anthropic here", p.Type)
		}
	}
	return out, nil
}

// imageSourceOf turns an image_url into an Anthropic image source: a data
// URL becomes base64 data, an http(s) URL is passed by reference.
func imageSourceOf(u, param string) (*imageSource, error) {
	if rest, ok := strings.CutPrefix(u, "data:"); ok {
		meta, data, ok := strings.Cut(rest, ",")
		media, isB64 := strings.CutSuffix(meta, ";base64")
		if !ok || !isB64 || media == "" {
			return nil, paramError(param+".image_url.url", "image data URLs must be data:<media type>;base64,<data>")
		}
		return &imageSource{Type: "base64", MediaType: media, Data: data}, nil
	}
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
		return &imageSource{Type: "url", URL: u}, nil
	}
	return nil, paramError(param+".image_url.url", "image_url must be an http(s) or data URL")
}

func translateTools(raw json.RawMessage) ([]anthropicTool, error) {
	var tools []struct {
		Type     string `json:"type"`
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		} `json:"function"`
		CacheControl json.RawMessage `json:"cache_control"`
	}
	if err := json.Unmarshal(raw, &tools); err != nil {
		return nil, paramError("tools", "tools must be an array of function tools")
	}
	out := make([]anthropicTool, 0, len(tools))
	for i, t := range tools {
		if t.Type != "function" || t.Function.Name == "" {
			return nil, paramError(fmt.Sprintf("tools[%d]", i), "only function tools with a name are supported by provider anthropic")
		}
		schema := t.Function.Parameters
		if isNull(schema) {
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		out = append(out, anthropicTool{Name: t.Function.Name, Description: t.Function.Description, InputSchema: schema, CacheControl: t.CacheControl})
	}
	return out, nil
}

func translateToolChoice(raw json.RawMessage) (map[string]any, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch s {
		case "auto":
			return map[string]any{"type": "auto"}, nil
		case "required":
			return map[string]any{"type": "any"}, nil
		case "none":
			return map[string]any{"type": "none"}, nil
		}
		return nil, paramError("tool_choice", "tool_choice %q is not supported", s)
	}
	var obj struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if json.Unmarshal(raw, &obj) != nil || obj.Type != "function" || obj.Function.Name == "" {
		return nil, paramError("tool_choice", "tool_choice must be auto, required, none or a function")
	}
	return map[string]any{"type": "tool", "name": obj.Function.Name}, nil
}
