package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// gemini is Google AI Studio's Gemini API (generateContent, and
// streamGenerateContent?alt=sse for streams) with an API key. Vertex AI
// serves the same request and answer shapes (see vertex.go). As for
// Bedrock, the request is built from the Anthropic translation and the
// answer is read into the Messages API's shape.
type gemini struct{}

func init() { registerProvider(policy.ProviderGemini, viaHTTP{gemini{}}) }

const defaultGeminiBase = "https://generativelanguage.googleapis.com"

func (gemini) Prepare(x *Exchange) error {
	d := x.Deployment
	base := d.APIBase
	if base == "" {
		base = DefaultAPIBase(d.Provider)
	}
	if err := httpBase(d, base); err != nil {
		return err
	}
	base = strings.TrimRight(base, "/")
	if !strings.HasSuffix(base, "/v1beta") && !strings.HasSuffix(base, "/v1") {
		base += "/v1beta"
	}
	x.Target = base + "/models/" + url.PathEscape(x.Model) + geminiMethod(x.Call.Stream)
	return prepareGemini(x)
}

func geminiMethod(stream bool) string {
	if stream {
		return ":streamGenerateContent?alt=sse"
	}
	return ":generateContent"
}

// prepareGemini sets the generateContent payload for x.
func prepareGemini(x *Exchange) error {
	return prepareFromAnthropic(x, false, geminiFromAnthropic)
}

func (gemini) Authorize(req *fasthttp.Request, d *policy.Deployment) {
	// In a header, not LiteLLM's ?key=: URLs end up in access logs.
	if d.APIKey != "" {
		req.Header.Set("x-goog-api-key", d.APIKey)
	}
}

func (gemini) MapError(d *policy.Deployment, status int, body []byte, retryAfter string) *apierror.Error {
	// Google's envelope is {"error":{"code","message","status"}}, which
	// the OpenAI-shape parser reads. AI Studio answers a bad key with 400
	// API_KEY_INVALID; it is the gateway's credential, not the client's
	// request, that is wrong.
	if status == 400 && bytes.Contains(body, []byte("API_KEY_INVALID")) {
		status = 401
	}
	return mapUpstreamError(d, status, body, retryAfter)
}

func (gemini) Answer(f *Forwarder, rc *fasthttp.RequestCtx, x *Exchange, b []byte) (Usage, error) {
	return geminiAnswer(f, rc, x, b)
}

func (gemini) Stream(f *Forwarder, rc *fasthttp.RequestCtx, x *Exchange) (StreamWriter, error) {
	return geminiStream(f, rc, x)
}

func geminiAnswer(f *Forwarder, rc *fasthttp.RequestCtx, x *Exchange, b []byte) (Usage, error) {
	var r geminiResponse
	if err := json.Unmarshal(b, &r); err != nil || (r.Candidates == nil && r.PromptFeedback == nil) {
		if err == nil {
			err = errors.New("no candidates")
		}
		return Usage{}, apierror.UpstreamError.Wrap(err, "upstream provider for model %s returned an unreadable answer", x.Deployment.ModelName)
	}
	return answerMessage(f, rc, x, r.message(x.Model))
}

func geminiStream(f *Forwarder, rc *fasthttp.RequestCtx, x *Exchange) (StreamWriter, error) {
	s := f.newAnthropicStream(x.Deployment, x.Response, x.Call.Done)
	s.source = geminiEvents(s, x.Model)
	if err := s.prime(); err != nil {
		return nil, err
	}
	return s.answer(rc, x)
}

// The generateContent request.

type geminiRequest struct {
	Contents          []geminiContent   `json:"contents"`
	SystemInstruction *geminiContent    `json:"systemInstruction,omitempty"`
	GenerationConfig  *geminiGenConfig  `json:"generationConfig,omitempty"`
	Tools             []geminiTool      `json:"tools,omitempty"`
	ToolConfig        *geminiToolConfig `json:"toolConfig,omitempty"`
}

type geminiContent struct {
	Role  string       `json:"role,omitempty"`
	Parts []geminiPart `json:"parts"`
}

// geminiPart is a Part union: one data field is set.
type geminiPart struct {
	Text             string                  `json:"text,omitempty"`
	Thought          bool                    `json:"thought,omitempty"`
	InlineData       *geminiBlob             `json:"inlineData,omitempty"`
	FileData         *geminiFile             `json:"fileData,omitempty"`
	FunctionCall     *geminiFunctionCall     `json:"functionCall,omitempty"`
	FunctionResponse *geminiFunctionResponse `json:"functionResponse,omitempty"`
}

type geminiBlob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

type geminiFile struct {
	MimeType string `json:"mimeType,omitempty"`
	FileURI  string `json:"fileUri"`
}

type geminiFunctionCall struct {
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
}

type geminiFunctionResponse struct {
	Name     string `json:"name"`
	Response struct {
		Content string `json:"content"`
	} `json:"response"`
}

type geminiGenConfig struct {
	MaxOutputTokens int64           `json:"maxOutputTokens,omitempty"`
	Temperature     json.RawMessage `json:"temperature,omitempty"`
	TopP            json.RawMessage `json:"topP,omitempty"`
	TopK            json.RawMessage `json:"topK,omitempty"`
	StopSequences   []string        `json:"stopSequences,omitempty"`
}

type geminiTool struct {
	FunctionDeclarations []geminiFunctionDecl `json:"functionDeclarations"`
}

type geminiFunctionDecl struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

type geminiToolConfig struct {
	FunctionCallingConfig struct {
		Mode                 string   `json:"mode"`
		AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
	} `json:"functionCallingConfig"`
}

// emptySchema is what the Anthropic translation gives a tool without
// parameters; Gemini wants no parameters at all then.
const emptySchema = `{"type":"object","properties":{}}`

// geminiFromAnthropic rewrites a Messages API request for generateContent:
// system blocks become systemInstruction, assistant turns "model" turns,
// tool results functionResponse parts named after the call they answer
// (Gemini matches results by name; the ids are OpenAI's).
func geminiFromAnthropic(a *anthropicRequest) (*geminiRequest, error) {
	r := &geminiRequest{Contents: []geminiContent{}}
	names := map[string]string{} // tool call id -> function name
	if len(a.System) > 0 {
		sys := &geminiContent{}
		for _, b := range a.System {
			if b.Text != nil && *b.Text != "" {
				sys.Parts = append(sys.Parts, geminiPart{Text: *b.Text})
			}
		}
		if len(sys.Parts) > 0 {
			r.SystemInstruction = sys
		}
	}
	for i, m := range a.Messages {
		c := geminiContent{Role: "user"}
		if m.Role == "assistant" {
			c.Role = "model"
		}
		for _, b := range m.Content {
			switch b.Type {
			case "text":
				if b.Text != nil && *b.Text != "" {
					c.Parts = append(c.Parts, geminiPart{Text: *b.Text})
				}
			case "image":
				p, err := geminiMedia(b.Source, fmt.Sprintf("messages[%d].content", i))
				if err != nil {
					return nil, err
				}
				c.Parts = append(c.Parts, p)
			case "tool_use":
				names[b.ID] = b.Name
				c.Parts = append(c.Parts, geminiPart{FunctionCall: &geminiFunctionCall{Name: b.Name, Args: b.Input}})
			case "tool_result":
				name := names[b.ToolUseID]
				if name == "" {
					// Turns were merged by now, so the index would not be the
					// client's; the id says which message it is.
					return nil, paramError("messages", "tool message with tool_call_id %q answers no tool call of an earlier assistant message", b.ToolUseID)
				}
				fr := &geminiFunctionResponse{Name: name}
				var text strings.Builder
				for _, in := range b.Content {
					if in.Text != nil {
						text.WriteString(*in.Text)
					}
				}
				fr.Response.Content = text.String()
				c.Parts = append(c.Parts, geminiPart{FunctionResponse: fr})
			}
		}
		if len(c.Parts) > 0 {
			r.Contents = append(r.Contents, c)
		}
	}
	gc := geminiGenConfig{Temperature: a.Temperature, TopP: a.TopP, TopK: a.TopK, StopSequences: a.StopSequences}
	if a.maxTokensSet {
		gc.MaxOutputTokens = a.MaxTokens
	}
	if gc.MaxOutputTokens != 0 || gc.Temperature != nil || gc.TopP != nil || gc.TopK != nil || gc.StopSequences != nil {
		r.GenerationConfig = &gc
	}
	if len(a.Tools) > 0 {
		t := geminiTool{}
		for _, at := range a.Tools {
			fd := geminiFunctionDecl{Name: at.Name, Description: at.Description}
			if string(at.InputSchema) != emptySchema {
				fd.Parameters = geminiSchema(at.InputSchema)
			}
			t.FunctionDeclarations = append(t.FunctionDeclarations, fd)
		}
		r.Tools = []geminiTool{t}
	}
	if a.ToolChoice != nil {
		tc := &geminiToolConfig{}
		switch a.ToolChoice["type"] {
		case "auto":
			tc.FunctionCallingConfig.Mode = "AUTO"
		case "any":
			tc.FunctionCallingConfig.Mode = "ANY"
		case "none":
			tc.FunctionCallingConfig.Mode = "NONE"
		case "tool":
			tc.FunctionCallingConfig.Mode = "ANY"
			name, _ := a.ToolChoice["name"].(string)
			tc.FunctionCallingConfig.AllowedFunctionNames = []string{name}
		}
		r.ToolConfig = tc
	}
	return r, nil
}

// geminiMedia is an image part: data URLs inline, other URLs by reference
// (Gemini fetches gs:// and, on Vertex, https:// files itself).
func geminiMedia(src *imageSource, param string) (geminiPart, error) {
	if src == nil {
		return geminiPart{}, paramError(param, "image without a source")
	}
	if src.Type == "base64" {
		return geminiPart{InlineData: &geminiBlob{MimeType: src.MediaType, Data: src.Data}}, nil
	}
	mime := ""
	switch strings.ToLower(path.Ext(strings.SplitN(src.URL, "?", 2)[0])) {
	case ".png":
		mime = "image/png"
	case ".jpg", ".jpeg":
		mime = "image/jpeg"
	case ".gif":
		mime = "image/gif"
	case ".webp":
		mime = "image/webp"
	case ".pdf":
		mime = "application/pdf"
	}
	return geminiPart{FileData: &geminiFile{MimeType: mime, FileURI: src.URL}}, nil
}

// geminiSchema drops the JSON Schema keywords Gemini's OpenAPI subset
// refuses ($schema, additionalProperties), at any depth, as LiteLLM does.
func geminiSchema(raw json.RawMessage) json.RawMessage {
	if !bytes.Contains(raw, []byte(`"$schema"`)) && !bytes.Contains(raw, []byte(`"additionalProperties"`)) {
		return raw
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return raw
	}
	var clean func(any) any
	clean = func(v any) any {
		switch t := v.(type) {
		case map[string]any:
			delete(t, "$schema")
			delete(t, "additionalProperties")
			for k, e := range t {
				t[k] = clean(e)
			}
		case []any:
			for i, e := range t {
				t[i] = clean(e)
			}
		}
		return v
	}
	b, err := json.Marshal(clean(v))
	if err != nil {
		return raw
	}
	return b
}

// The generateContent answer.

type geminiUsage struct {
	PromptTokenCount        int64 `json:"promptTokenCount"`
	CandidatesTokenCount    int64 `json:"candidatesTokenCount"`
	TotalTokenCount         int64 `json:"totalTokenCount"`
	CachedContentTokenCount int64 `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      int64 `json:"thoughtsTokenCount"`
}

// anthropic is the usage in the Messages API's terms: Gemini's prompt
// count includes the cached tokens (Anthropic's does not), and thinking
// tokens are billed as output.
func (g geminiUsage) anthropic() anthropicUsage {
	return anthropicUsage{InputTokens: g.PromptTokenCount - g.CachedContentTokenCount,
		OutputTokens: g.CandidatesTokenCount + g.ThoughtsTokenCount, CacheReadInputTokens: g.CachedContentTokenCount}
}

type geminiResponse struct {
	Candidates []struct {
		Content struct {
			Parts []geminiPart `json:"parts"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
	} `json:"candidates"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	UsageMetadata *geminiUsage `json:"usageMetadata"`
	ModelVersion  string       `json:"modelVersion"`
	ResponseID    string       `json:"responseId"`
	// Error is a failure sent inside a stream.
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

func (r *geminiResponse) id() string {
	if r.ResponseID != "" {
		return "chatcmpl-" + r.ResponseID
	}
	return "chatcmpl-gemini"
}

// geminiStop maps finishReason to Anthropic's stop_reason.
func geminiStop(reason string, calls bool) string {
	switch reason {
	case "MAX_TOKENS":
		return "max_tokens"
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "LANGUAGE":
		return "refusal"
	}
	if calls {
		return "tool_use"
	}
	return "end_turn"
}

// callID names the i-th function call of an answer: Gemini's calls have
// no ids, and OpenAI clients need one to answer the call.
func callID(responseID string, i int) string {
	if responseID == "" {
		return fmt.Sprintf("call_%d", i)
	}
	return fmt.Sprintf("call_%s_%d", responseID, i)
}

func (r *geminiResponse) message(model string) *anthropicMessage {
	m := &anthropicMessage{ID: r.id(), Type: "message", Model: model}
	if r.ModelVersion != "" {
		m.Model = r.ModelVersion
	}
	if r.UsageMetadata != nil {
		m.Usage = r.UsageMetadata.anthropic()
	}
	if len(r.Candidates) == 0 {
		// The prompt was blocked (promptFeedback.blockReason).
		m.StopReason = "refusal"
		return m
	}
	c := r.Candidates[0]
	calls := 0
	for _, p := range c.Content.Parts {
		switch {
		case p.FunctionCall != nil:
			m.Content = append(m.Content, anthropicContent{Type: "tool_use", ID: callID(r.ResponseID, calls), Name: p.FunctionCall.Name, Input: p.FunctionCall.Args})
			calls++
		case p.Thought:
			m.Content = append(m.Content, anthropicContent{Type: "thinking", Thinking: p.Text})
		case p.Text != "":
			m.Content = append(m.Content, anthropicContent{Type: "text", Text: p.Text})
		}
	}
	m.StopReason = geminiStop(c.FinishReason, calls > 0)
	return m
}

// geminiErrorTypes maps a stream's error status to the Anthropic error
// types anthropicStreamError turns into statuses.
var geminiErrorTypes = map[string]string{
	"RESOURCE_EXHAUSTED": "rate_limit_error",
	"UNAVAILABLE":        "overloaded_error",
	"INVALID_ARGUMENT":   "invalid_request_error",
}

// geminiEvents turns streamGenerateContent's SSE chunks (each a partial
// answer) into Anthropic stream events. The usage of the last chunk is
// final; it is sent when the upstream ends the stream after a chunk with
// a finishReason. A stream that ends without one was cut.
func geminiEvents(s *anthropicStream, model string) func() ([]byte, error) {
	var queue [][]byte
	started, finished := false, false
	calls := 0
	var usage anthropicUsage
	return func() ([]byte, error) {
		for len(queue) == 0 {
			data, err := s.nextSSE()
			if err == io.EOF && finished {
				queue = append(queue, mustJSON(map[string]any{"type": "message_delta", "delta": map[string]any{}, "usage": usage}),
					[]byte(`{"type":"message_stop"}`))
				finished = false
				break
			}
			if err != nil {
				return nil, err
			}
			var r geminiResponse
			if err := json.Unmarshal(data, &r); err != nil {
				return nil, apierror.UpstreamError.Wrap(err, "upstream provider for model %s sent an unreadable stream event", s.d.ModelName)
			}
			if r.Error != nil {
				typ := geminiErrorTypes[r.Error.Status]
				if typ == "" {
					typ = "api_error"
				}
				return mustJSON(map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": r.Error.Message}}), nil
			}
			if !started {
				started = true
				m := model
				if r.ModelVersion != "" {
					m = r.ModelVersion
				}
				queue = append(queue, mustJSON(map[string]any{"type": "message_start", "message": map[string]any{"id": r.id(), "type": "message", "model": m}}))
			}
			if r.UsageMetadata != nil {
				usage = r.UsageMetadata.anthropic()
			}
			if len(r.Candidates) == 0 {
				if r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" {
					queue = append(queue, mustJSON(map[string]any{"type": "message_delta", "delta": map[string]string{"stop_reason": "refusal"}}))
					finished = true
				}
				continue
			}
			c := r.Candidates[0]
			for _, p := range c.Content.Parts {
				switch {
				case p.FunctionCall != nil:
					// Content block 0 is the text; each call gets its own
					// block, with its arguments whole in one delta.
					idx := 1 + calls
					queue = append(queue,
						mustJSON(map[string]any{"type": "content_block_start", "index": idx,
							"content_block": map[string]string{"type": "tool_use", "id": callID(r.ResponseID, calls), "name": p.FunctionCall.Name}}),
						mustJSON(map[string]any{"type": "content_block_delta", "index": idx,
							"delta": map[string]string{"type": "input_json_delta", "partial_json": argsOf(p.FunctionCall.Args)}}))
					calls++
				case p.Thought:
					queue = append(queue, mustJSON(map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]string{"type": "thinking_delta", "thinking": p.Text}}))
				case p.Text != "":
					queue = append(queue, mustJSON(map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]string{"type": "text_delta", "text": p.Text}}))
				}
			}
			if c.FinishReason != "" {
				queue = append(queue, mustJSON(map[string]any{"type": "message_delta", "delta": map[string]string{"stop_reason": geminiStop(c.FinishReason, calls > 0)}}))
				finished = true
			}
		}
		ev := queue[0]
		queue = queue[1:]
		return ev, nil
	}
}
