package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/encoding/httpbinding"
	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// bedrock is Amazon Bedrock's Converse API (ConverseStream for streams),
// signed with AWS SigV4. The request is built from the Anthropic
// translation (so both refuse the same parameters the same way) and the
// answer is read into the Messages API's shape, so the chat completion
// and its stream come out of the same code as Anthropic's.
type bedrock struct{}

func init() { registerProvider(policy.ProviderBedrock, viaHTTP{bedrock{}}) }

// amzEventStream is the content type of ConverseStream's answer: AWS
// event-stream framing (binary, length-prefixed, CRC-checked), not SSE.
const amzEventStream = "application/vnd.amazon.eventstream"

// bedrockService is the SigV4 signing name of bedrock-runtime.
const bedrockService = "bedrock"

func (bedrock) Prepare(x *Exchange) error {
	d := x.Deployment
	c, err := awsCredsFor(d)
	if err != nil {
		return err
	}
	base := d.AWS.RuntimeEndpoint
	if base == "" {
		base = d.APIBase
	}
	if base == "" {
		base = "https://bedrock-runtime." + c.region + ".amazonaws.com"
	}
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return apierror.Internal.With("deployment %s is misconfigured: aws_bedrock_runtime_endpoint must be an http(s) URL", d.ModelName)
	}
	op := "/converse"
	if x.Call.Stream {
		op = "/converse-stream"
	}
	// The model id is one path segment, escaped as the SDK escapes it:
	// ids hold ':' and ARNs '/', and the signature covers the path.
	x.Target = strings.TrimRight(base, "/") + "/model/" + httpbinding.EscapePath(x.Model, true) + op
	return prepareFromAnthropic(x, false, converseFromAnthropic)
}

func (bedrock) Authorize(*fasthttp.Request, *policy.Deployment) {}

// Sign signs the request with the deployment's AWS credentials (fetched,
// cached and refreshed by the SDK's credentials cache).
func (bedrock) Sign(req *fasthttp.Request, x *Exchange) error {
	d := x.Deployment
	c, err := awsCredsFor(d)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	creds, err := c.provider.Retrieve(ctx)
	if err != nil {
		return noUpstreamCreds(d, "AWS credentials", err)
	}
	if err := signV4(req, creds, bedrockService, c.region, time.Now()); err != nil {
		return apierror.Internal.Wrap(err, "could not sign the request for model %s", d.ModelName)
	}
	return nil
}

// signV4 signs a fasthttp request with the SDK's SigV4 signer: the signer
// works on net/http requests, so it signs a copy of this one's method,
// URL, headers and body hash, and the signature headers are copied back.
// Headers added after this (request id, extra_headers) are not signed,
// which SigV4 allows.
func signV4(req *fasthttp.Request, creds aws.Credentials, service, region string, now time.Time) error {
	// fasthttp would otherwise normalise the escaped model id in the path
	// and send a different path than the one signed.
	req.URI().DisablePathNormalizing = true
	hr, err := http.NewRequest(string(req.Header.Method()), string(req.URI().FullURI()), nil)
	if err != nil {
		return err
	}
	for _, k := range []string{fasthttp.HeaderContentType, fasthttp.HeaderAccept} {
		if v := req.Header.Peek(k); len(v) > 0 {
			hr.Header.Set(k, string(v))
		}
	}
	sum := sha256.Sum256(req.Body())
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, hr, hex.EncodeToString(sum[:]), service, region, now); err != nil {
		return err
	}
	for _, k := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
		if v := hr.Header.Get(k); v != "" {
			req.Header.Set(k, v)
		}
	}
	return nil
}

// awsCreds is one set of AWS settings' credentials provider and region.
type awsCreds struct {
	provider aws.CredentialsProvider
	region   string
}

// awsCache holds the credentials of every AWS setting seen, by setting:
// a deployment rebuilt by a new snapshot keeps its cached (and, for an
// assumed role, refreshed) credentials. The settings come from the
// config, so the cache is bounded by it.
var awsCache sync.Map // policy.AWSParams -> *awsCreds

func awsCredsFor(d *policy.Deployment) (*awsCreds, error) {
	if c, ok := awsCache.Load(d.AWS); ok {
		return c.(*awsCreds), nil
	}
	c, err := loadAWS(d.AWS)
	if err != nil {
		return nil, apierror.Internal.With("deployment %s is misconfigured: %s", d.ModelName, scrub(err.Error(), d))
	}
	got, _ := awsCache.LoadOrStore(d.AWS, c)
	return got.(*awsCreds), nil
}

// loadAWS resolves credentials as LiteLLM does: keys from litellm_params,
// else the standard chain (environment, shared config and profile, web
// identity, container and instance roles); then aws_role_name, if set,
// is assumed through STS with them.
func loadAWS(p policy.AWSParams) (*awsCreds, error) {
	var opts []func(*config.LoadOptions) error
	if p.Region != "" {
		opts = append(opts, config.WithRegion(p.Region))
	}
	if p.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(p.AccessKeyID, p.SecretAccessKey, p.SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("bedrock needs aws_region_name (or AWS_REGION)")
	}
	c := &awsCreds{provider: cfg.Credentials, region: cfg.Region}
	if p.RoleName != "" {
		name := p.SessionName
		if name == "" {
			name = "gatehouse"
		}
		c.provider = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), p.RoleName,
			func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = name }))
	}
	if c.provider == nil {
		return nil, errors.New("no AWS credentials are configured")
	}
	return c, nil
}

func (bedrock) MapError(d *policy.Deployment, status int, body []byte, retryAfter string) *apierror.Error {
	// Bedrock's error body is {"message": "..."}, which the OpenAI-shape
	// parser reads; ThrottlingException and ServiceUnavailable are 429
	// and 503 already.
	return mapUpstreamError(d, status, body, retryAfter)
}

func (bedrock) Answer(f *Forwarder, rc *fasthttp.RequestCtx, x *Exchange, b []byte) (Usage, error) {
	m, err := messageFromConverse(b, x)
	if err != nil {
		return Usage{}, err
	}
	return answerMessage(f, rc, x, m)
}

func (bedrock) Stream(f *Forwarder, rc *fasthttp.RequestCtx, x *Exchange) (StreamWriter, error) {
	s := f.newAnthropicStream(x.Deployment, x.Response, x.Call.Done)
	s.source = converseEvents(s, bedrockID(x), x.Model)
	if err := s.prime(); err != nil {
		return nil, err
	}
	return s.answer(rc, x)
}

// bedrockID is the completion's id: Bedrock's answers have none, so it is
// made from the request id AWS gives every call.
func bedrockID(x *Exchange) string {
	if id := x.Response.Header.Peek("X-Amzn-Requestid"); len(id) > 0 {
		return "chatcmpl-" + string(id)
	}
	return "chatcmpl-bedrock"
}

// The Converse request.

type converseRequest struct {
	Messages        []converseMessage          `json:"messages"`
	System          []converseBlock            `json:"system,omitempty"`
	InferenceConfig *converseInference         `json:"inferenceConfig,omitempty"`
	ToolConfig      *converseToolConfig        `json:"toolConfig,omitempty"`
	Additional      map[string]json.RawMessage `json:"additionalModelRequestFields,omitempty"`
}

type converseMessage struct {
	Role    string          `json:"role"`
	Content []converseBlock `json:"content"`
}

// converseBlock is a ContentBlock union: exactly one field is set.
type converseBlock struct {
	Text             *string             `json:"text,omitempty"`
	Image            *converseImage      `json:"image,omitempty"`
	ToolUse          *converseToolUse    `json:"toolUse,omitempty"`
	ToolResult       *converseToolResult `json:"toolResult,omitempty"`
	ReasoningContent *struct {
		ReasoningText struct {
			Text      string `json:"text"`
			Signature string `json:"signature,omitempty"`
		} `json:"reasoningText"`
	} `json:"reasoningContent,omitempty"`
	CachePoint *cachePoint `json:"cachePoint,omitempty"`
}

type cachePoint struct {
	Type string `json:"type"`
}

type converseImage struct {
	Format string `json:"format"`
	Source struct {
		Bytes string `json:"bytes"`
	} `json:"source"`
}

type converseToolUse struct {
	ToolUseID string          `json:"toolUseId"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

type converseToolResult struct {
	ToolUseID string          `json:"toolUseId"`
	Content   []converseBlock `json:"content"`
}

type converseInference struct {
	MaxTokens     int64           `json:"maxTokens,omitempty"`
	Temperature   json.RawMessage `json:"temperature,omitempty"`
	TopP          json.RawMessage `json:"topP,omitempty"`
	StopSequences []string        `json:"stopSequences,omitempty"`
}

type converseToolConfig struct {
	Tools      []converseTool `json:"tools"`
	ToolChoice map[string]any `json:"toolChoice,omitempty"`
}

type converseTool struct {
	ToolSpec   *converseToolSpec `json:"toolSpec,omitempty"`
	CachePoint *cachePoint       `json:"cachePoint,omitempty"`
}

type converseToolSpec struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	InputSchema struct {
		JSON json.RawMessage `json:"json"`
	} `json:"inputSchema"`
}

// converseFromAnthropic rewrites a Messages API request as a Converse
// request: the same turns and tools in Converse's shapes, Anthropic's
// cache_control as cachePoint blocks, top_k as a model field.
func converseFromAnthropic(a *anthropicRequest) (*converseRequest, error) {
	r := &converseRequest{}
	sys, err := converseBlocks(a.System, "messages")
	if err != nil {
		return nil, err
	}
	r.System = sys
	for i, m := range a.Messages {
		bs, err := converseBlocks(m.Content, fmt.Sprintf("messages[%d]", i))
		if err != nil {
			return nil, err
		}
		r.Messages = append(r.Messages, converseMessage{Role: m.Role, Content: bs})
	}
	inf := converseInference{Temperature: a.Temperature, TopP: a.TopP, StopSequences: a.StopSequences}
	if a.maxTokensSet {
		inf.MaxTokens = a.MaxTokens
	}
	if inf.MaxTokens != 0 || inf.Temperature != nil || inf.TopP != nil || inf.StopSequences != nil {
		r.InferenceConfig = &inf
	}
	if a.TopK != nil {
		r.Additional = map[string]json.RawMessage{"top_k": a.TopK}
	}
	if len(a.Tools) > 0 {
		tc := &converseToolConfig{}
		for _, t := range a.Tools {
			var ct converseTool
			ct.ToolSpec = &converseToolSpec{Name: t.Name, Description: t.Description}
			ct.ToolSpec.InputSchema.JSON = t.InputSchema
			tc.Tools = append(tc.Tools, ct)
			if !isNull(t.CacheControl) {
				tc.Tools = append(tc.Tools, converseTool{CachePoint: &cachePoint{"default"}})
			}
		}
		// Converse has no "none": the tools stay (a history with tool
		// turns needs them) and the model chooses, as LiteLLM does.
		switch a.ToolChoice["type"] {
		case "auto":
			tc.ToolChoice = map[string]any{"auto": map[string]any{}}
		case "any":
			tc.ToolChoice = map[string]any{"any": map[string]any{}}
		case "tool":
			tc.ToolChoice = map[string]any{"tool": map[string]any{"name": a.ToolChoice["name"]}}
		}
		r.ToolConfig = tc
	}
	return r, nil
}

func converseBlocks(in []anthropicBlock, param string) ([]converseBlock, error) {
	out := make([]converseBlock, 0, len(in))
	for _, b := range in {
		switch b.Type {
		case "text":
			out = append(out, converseBlock{Text: b.Text})
		case "image":
			if b.Source == nil || b.Source.Type != "base64" {
				return nil, paramError(param+".content", "provider bedrock takes images as data URLs (data:image/png;base64,...), not by URL")
			}
			format, ok := strings.CutPrefix(b.Source.MediaType, "image/")
			if format == "jpg" {
				format = "jpeg"
			}
			if !ok || (format != "png" && format != "jpeg" && format != "gif" && format != "webp") {
				return nil, paramError(param+".content", "provider bedrock takes png, jpeg, gif or webp images, not %s", b.Source.MediaType)
			}
			img := &converseImage{Format: format}
			img.Source.Bytes = b.Source.Data
			out = append(out, converseBlock{Image: img})
		case "tool_use":
			out = append(out, converseBlock{ToolUse: &converseToolUse{ToolUseID: b.ID, Name: b.Name, Input: b.Input}})
		case "tool_result":
			inner, err := converseBlocks(b.Content, param)
			if err != nil {
				return nil, err
			}
			if len(inner) == 0 {
				// Converse refuses a tool result without content.
				empty := ""
				inner = []converseBlock{{Text: &empty}}
			}
			out = append(out, converseBlock{ToolResult: &converseToolResult{ToolUseID: b.ToolUseID, Content: inner}})
		}
		if !isNull(b.CacheControl) {
			out = append(out, converseBlock{CachePoint: &cachePoint{"default"}})
		}
	}
	return out, nil
}

// The Converse answer.

type converseUsage struct {
	InputTokens           int64 `json:"inputTokens"`
	OutputTokens          int64 `json:"outputTokens"`
	CacheReadInputTokens  int64 `json:"cacheReadInputTokens"`
	CacheWriteInputTokens int64 `json:"cacheWriteInputTokens"`
}

// anthropic is the usage in the Messages API's terms: as there, Converse
// counts cache reads and writes apart from inputTokens.
func (c converseUsage) anthropic() anthropicUsage {
	return anthropicUsage{InputTokens: c.InputTokens, OutputTokens: c.OutputTokens,
		CacheReadInputTokens: c.CacheReadInputTokens, CacheCreationInputTokens: c.CacheWriteInputTokens}
}

type converseResponse struct {
	Output struct {
		Message *struct {
			Content []converseBlock `json:"content"`
		} `json:"message"`
	} `json:"output"`
	StopReason string        `json:"stopReason"`
	Usage      converseUsage `json:"usage"`
}

// converseStop maps Converse's stopReason to Anthropic's stop_reason
// (the names are Anthropic's, apart from the content filters).
func converseStop(s string) string {
	switch s {
	case "guardrail_intervened", "content_filtered":
		return "refusal"
	}
	return s
}

func messageFromConverse(b []byte, x *Exchange) (*anthropicMessage, error) {
	var r converseResponse
	if err := json.Unmarshal(b, &r); err != nil || r.Output.Message == nil {
		if err == nil {
			err = errors.New("no output message")
		}
		return nil, apierror.UpstreamError.Wrap(err, "upstream provider for model %s returned an unreadable answer", x.Deployment.ModelName)
	}
	m := &anthropicMessage{ID: bedrockID(x), Type: "message", Model: x.Model, StopReason: converseStop(r.StopReason), Usage: r.Usage.anthropic()}
	for _, c := range r.Output.Message.Content {
		switch {
		case c.Text != nil:
			m.Content = append(m.Content, anthropicContent{Type: "text", Text: *c.Text})
		case c.ToolUse != nil:
			m.Content = append(m.Content, anthropicContent{Type: "tool_use", ID: c.ToolUse.ToolUseID, Name: c.ToolUse.Name, Input: c.ToolUse.Input})
		case c.ReasoningContent != nil:
			m.Content = append(m.Content, anthropicContent{Type: "thinking", Thinking: c.ReasoningContent.ReasoningText.Text})
		}
	}
	return m, nil
}

// converseStreamEvent is the union of ConverseStream's event payloads.
type converseStreamEvent struct {
	ContentBlockIndex int `json:"contentBlockIndex"`
	Start             struct {
		ToolUse *struct {
			ToolUseID string `json:"toolUseId"`
			Name      string `json:"name"`
		} `json:"toolUse"`
	} `json:"start"`
	Delta struct {
		Text    *string `json:"text"`
		ToolUse *struct {
			Input string `json:"input"`
		} `json:"toolUse"`
		ReasoningContent *struct {
			Text string `json:"text"`
		} `json:"reasoningContent"`
	} `json:"delta"`
	StopReason string         `json:"stopReason"`
	Usage      *converseUsage `json:"usage"`
	Message    string         `json:"message"`
}

// bedrockErrorTypes maps ConverseStream's exception events to the
// Anthropic error types anthropicStreamError turns into statuses.
var bedrockErrorTypes = map[string]string{
	"throttlingException":         "rate_limit_error",
	"serviceUnavailableException": "overloaded_error",
	"validationException":         "invalid_request_error",
}

// converseEvents decodes ConverseStream's event-stream messages into
// Anthropic stream events, one at a time. Converse sends its usage in a
// metadata event after messageStop; that event becomes the final
// message_delta and message_stop.
func converseEvents(s *anthropicStream, id, model string) func() ([]byte, error) {
	dec := eventstream.NewDecoder()
	var payload []byte
	var queue [][]byte
	return func() ([]byte, error) {
		for len(queue) == 0 {
			msg, err := dec.Decode(s.br, payload[:0])
			if err != nil {
				if errors.Is(err, io.EOF) {
					return nil, io.EOF
				}
				return nil, err
			}
			payload = msg.Payload
			queue, err = converseToAnthropic(msg, id, model)
			if err != nil {
				return nil, apierror.UpstreamError.Wrap(err, "upstream provider for model %s sent an unreadable stream event", s.d.ModelName)
			}
		}
		ev := queue[0]
		queue = queue[1:]
		return ev, nil
	}
}

func header(m eventstream.Message, name string) string {
	if v := m.Headers.Get(name); v != nil {
		return v.String()
	}
	return ""
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// converseToAnthropic translates one event-stream message.
func converseToAnthropic(msg eventstream.Message, id, model string) ([][]byte, error) {
	var e converseStreamEvent
	if err := json.Unmarshal(msg.Payload, &e); err != nil {
		return nil, err
	}
	switch header(msg, ":message-type") {
	case "exception":
		typ := bedrockErrorTypes[header(msg, ":exception-type")]
		if typ == "" {
			typ = "api_error"
		}
		return [][]byte{mustJSON(map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": e.Message}})}, nil
	case "error":
		return [][]byte{mustJSON(map[string]any{"type": "error", "error": map[string]string{"type": "api_error", "message": header(msg, ":error-message")}})}, nil
	}
	i := e.ContentBlockIndex
	switch header(msg, ":event-type") {
	case "messageStart":
		return [][]byte{mustJSON(map[string]any{"type": "message_start", "message": map[string]any{"id": id, "type": "message", "model": model}})}, nil
	case "contentBlockStart":
		if t := e.Start.ToolUse; t != nil {
			return [][]byte{mustJSON(map[string]any{"type": "content_block_start", "index": i,
				"content_block": map[string]string{"type": "tool_use", "id": t.ToolUseID, "name": t.Name}})}, nil
		}
	case "contentBlockDelta":
		d := e.Delta
		switch {
		case d.Text != nil:
			return [][]byte{mustJSON(map[string]any{"type": "content_block_delta", "index": i, "delta": map[string]string{"type": "text_delta", "text": *d.Text}})}, nil
		case d.ToolUse != nil:
			return [][]byte{mustJSON(map[string]any{"type": "content_block_delta", "index": i, "delta": map[string]string{"type": "input_json_delta", "partial_json": d.ToolUse.Input}})}, nil
		case d.ReasoningContent != nil && d.ReasoningContent.Text != "":
			return [][]byte{mustJSON(map[string]any{"type": "content_block_delta", "index": i, "delta": map[string]string{"type": "thinking_delta", "thinking": d.ReasoningContent.Text}})}, nil
		}
	case "messageStop":
		return [][]byte{mustJSON(map[string]any{"type": "message_delta", "delta": map[string]string{"stop_reason": converseStop(e.StopReason)}})}, nil
	case "metadata":
		var u anthropicUsage
		if e.Usage != nil {
			u = e.Usage.anthropic()
		}
		return [][]byte{mustJSON(map[string]any{"type": "message_delta", "delta": map[string]any{}, "usage": u}), []byte(`{"type":"message_stop"}`)}, nil
	}
	return [][]byte{[]byte(`{"type":"ping"}`)}, nil
}
