package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// anthropic is Anthropic's Messages API. The request and the answer (JSON
// or SSE) are translated both ways, so the client sees an OpenAI chat
// completion either way.
type anthropic struct{}

func init() { registerProvider(policy.ProviderAnthropic, viaHTTP{anthropic{}}) }

func (anthropic) Prepare(x *Exchange) error {
	switch x.Call.Endpoint {
	case policy.EndpointMessages:
		return prepareNativeMessages(x, "")
	case policy.EndpointCountTokens:
		return prepareNativeMessages(x, "/count_tokens")
	}
	target, err := anthropicTarget(x.Deployment, "")
	if err != nil {
		return err
	}
	x.Target = target
	return prepareFromAnthropic(x, x.Call.Stream, messagesAsIs)
}

func (anthropic) Authorize(req *fasthttp.Request, d *policy.Deployment) {
	if d.APIKey != "" {
		req.Header.Set("x-api-key", d.APIKey)
	}
	req.Header.Set("anthropic-version", anthropicVersion)
}

func (anthropic) MapError(d *policy.Deployment, status int, body []byte, retryAfter string) *apierror.Error {
	return mapAnthropicError(d, status, body, retryAfter)
}

func (anthropic) Answer(f *Forwarder, rc *fasthttp.RequestCtx, x *Exchange, b []byte) (Usage, error) {
	switch x.Call.Endpoint {
	case policy.EndpointMessages:
		return answerNative(rc, x, b, nativeMessageUsage(b, x.Payload))
	case policy.EndpointCountTokens:
		// Counting generates nothing, and Anthropic does not bill it.
		return answerNative(rc, x, b, Usage{})
	}
	out, u, err := translateAnthropicResponse(b, x.Deployment, f.now())
	if err != nil {
		return u, err
	}
	if x.Call.Stream {
		// Asked for a stream, answered with JSON: pass the answer on as
		// JSON, as the OpenAI path does.
		u.Status = x.Response.StatusCode()
	}
	rc.SetStatusCode(fasthttp.StatusOK)
	rc.Response.Header.SetContentType("application/json")
	rc.Response.SetBodyRaw(out)
	return u, nil
}

func (anthropic) Stream(f *Forwarder, rc *fasthttp.RequestCtx, x *Exchange) (StreamWriter, error) {
	if x.Call.Endpoint == policy.EndpointMessages {
		return f.streamNative(rc, x, &anthropicFrames{})
	}
	s, err := f.startAnthropicStream(x.Deployment, x.Response, x.Call.Done)
	if err != nil {
		return nil, err
	}
	return s.answer(rc, x)
}

// mapAnthropicError maps an Anthropic error response. The envelope
// ({"type":"error","error":{"type","message"}}) parses like OpenAI's;
// 529 overloaded_error is Anthropic's own status and becomes a 503 so
// clients back off as they would from an overloaded OpenAI.
func mapAnthropicError(d *policy.Deployment, status int, body []byte, retryAfter string) *apierror.Error {
	if status == 529 {
		e := mapUpstreamError(d, 503, body, retryAfter)
		e.Status, e.Type, e.Code = apierror.Unavailable.Status, "overloaded_error", "upstream_overloaded"
		if retryAfter != "" {
			e.Header = map[string]string{"Retry-After": retryAfter}
		}
		return e
	}
	return mapUpstreamError(d, status, body, retryAfter)
}

// anthropicUsage is the Messages API usage object.
type anthropicUsage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
}

// update applies a message_delta's usage. Newer API versions repeat the
// input counts there; they are final, so they win.
func (a *anthropicUsage) update(d *anthropicUsage) {
	a.OutputTokens = d.OutputTokens
	if d.InputTokens > 0 {
		a.InputTokens = d.InputTokens
	}
	if d.CacheReadInputTokens > 0 {
		a.CacheReadInputTokens = d.CacheReadInputTokens
	}
	if d.CacheCreationInputTokens > 0 {
		a.CacheCreationInputTokens = d.CacheCreationInputTokens
	}
}

// chatUsage is OpenAI's usage, as LiteLLM fills it from Anthropic's:
// cached and cache-writing input tokens are prompt tokens too.
type chatUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	TotalTokens         int64 `json:"total_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details,omitempty"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens,omitempty"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens,omitempty"`
}

func (a anthropicUsage) chat() chatUsage {
	c := chatUsage{
		PromptTokens:             a.InputTokens + a.CacheCreationInputTokens + a.CacheReadInputTokens,
		CompletionTokens:         a.OutputTokens,
		CacheCreationInputTokens: a.CacheCreationInputTokens,
		CacheReadInputTokens:     a.CacheReadInputTokens,
	}
	c.TotalTokens = c.PromptTokens + c.CompletionTokens
	if a.CacheReadInputTokens > 0 {
		c.PromptTokensDetails = &struct {
			CachedTokens int64 `json:"cached_tokens"`
		}{a.CacheReadInputTokens}
	}
	return c
}

// tokens are a's counts as OpenAI's usage has them (see chat).
func (a anthropicUsage) tokens() tokens {
	c := a.chat()
	return tokens{prompt: c.PromptTokens, completion: c.CompletionTokens, total: c.TotalTokens,
		cached: a.CacheReadInputTokens, creation: a.CacheCreationInputTokens}
}

// finishReason maps Anthropic's stop_reason to OpenAI's finish_reason.
func finishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	}
	return "stop" // end_turn, stop_sequence, pause_turn
}

type anthropicMessage struct {
	ID         string             `json:"id"`
	Type       string             `json:"type"`
	Model      string             `json:"model"`
	Content    []anthropicContent `json:"content"`
	StopReason string             `json:"stop_reason"`
	Usage      anthropicUsage     `json:"usage"`
}

// anthropicContent is one content block of an answer. Bedrock's and
// Gemini's answers are read into this shape too, so every provider that
// is not OpenAI-format shares one translation to a chat completion.
type anthropicContent struct {
	Type     string          `json:"type"`
	Text     string          `json:"text"`
	Thinking string          `json:"thinking"`
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Input    json.RawMessage `json:"input"`
}

type chatFunction struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

type chatToolCallOut struct {
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function chatFunction `json:"function"`
}

type chatMessageOut struct {
	Role             string            `json:"role"`
	Content          *string           `json:"content"`
	ReasoningContent string            `json:"reasoning_content,omitempty"`
	ToolCalls        []chatToolCallOut `json:"tool_calls,omitempty"`
}

type chatCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   chatUsage    `json:"usage"`
}

type chatChoice struct {
	Index        int            `json:"index"`
	Message      chatMessageOut `json:"message"`
	FinishReason string         `json:"finish_reason"`
}

// toolCallOut is a tool_use block as a chat completion's tool call, for
// whole answers and Messages API replays alike.
func toolCallOut(id, name string, input json.RawMessage) chatToolCallOut {
	return chatToolCallOut{ID: id, Type: "function", Function: chatFunction{Name: name, Arguments: argsOf(input)}}
}

// argsOf is a tool call's arguments: OpenAI clients parse them as a JSON
// object, so an absent input is "{}", not "null" or "".
func argsOf(raw json.RawMessage) string {
	if isNull(raw) {
		return "{}"
	}
	return string(raw)
}

// translateAnthropicResponse turns a Messages API answer into a
// chat.completion and reports its usage.
func translateAnthropicResponse(b []byte, d *policy.Deployment, now time.Time) ([]byte, Usage, error) {
	var m anthropicMessage
	if err := json.Unmarshal(b, &m); err != nil || m.Type != "message" {
		if err == nil {
			err = errors.New("not a message object")
		}
		return nil, Usage{}, apierror.UpstreamError.Wrap(err, "upstream provider for model %s returned an unreadable answer", d.ModelName)
	}
	return chatFromMessage(&m, d, now)
}

// chatFromMessage turns an answer in the Messages API's shape into a
// chat.completion and reports its usage.
func chatFromMessage(m *anthropicMessage, d *policy.Deployment, now time.Time) ([]byte, Usage, error) {
	var text, thinking strings.Builder
	var msg chatMessageOut
	msg.Role = "assistant"
	hasText := false
	for _, c := range m.Content {
		switch c.Type {
		case "text":
			text.WriteString(c.Text)
			hasText = true
		case "thinking":
			thinking.WriteString(c.Thinking)
		case "tool_use":
			msg.ToolCalls = append(msg.ToolCalls, toolCallOut(c.ID, c.Name, c.Input))
		}
	}
	if hasText || len(msg.ToolCalls) == 0 {
		s := text.String()
		msg.Content = &s
	}
	msg.ReasoningContent = thinking.String()
	out := chatCompletion{ID: m.ID, Object: "chat.completion", Created: now.Unix(), Model: m.Model, Usage: m.Usage.chat()}
	out.Choices = append(out.Choices, chatChoice{0, msg, finishReason(m.StopReason)})
	enc, err := json.Marshal(&out)
	if err != nil {
		return nil, Usage{}, apierror.Internal.Wrap(err, "could not encode the answer of model %s", d.ModelName)
	}
	u := Usage{Status: 200, Outcome: OutcomeOK, Model: m.Model, ID: m.ID}
	u.set(m.Usage.tokens())
	return enc, u, nil
}

// answerMessage writes m, an answer read into the Messages API's shape,
// as the client's chat completion: Bedrock's and Gemini's answers are
// read into that shape to be written by the same code.
func answerMessage(f *Forwarder, rc *fasthttp.RequestCtx, x *Exchange, m *anthropicMessage) (Usage, error) {
	out, u, err := chatFromMessage(m, x.Deployment, f.now())
	if err != nil {
		return u, err
	}
	rc.SetStatusCode(fasthttp.StatusOK)
	rc.Response.Header.SetContentType("application/json")
	rc.Response.SetBodyRaw(redactDeployment(out, x.Deployment))
	return u, nil
}

// anthropicStream translates an Anthropic SSE stream into OpenAI
// chat.completion.chunk events. It lives in the stream-writer goroutine
// and owns resp.
type anthropicStream struct {
	d    *policy.Deployment
	resp *fasthttp.Response
	br   *bufio.Reader
	conn *tagConn
	idle time.Duration
	done func(Usage, error)
	now  time.Time
	// secrets are the deployment's credentials, redacted from every chunk.
	secrets []string

	start        time.Time
	includeUsage bool
	payload      []byte
	pending      []byte // the first event's data, read by startAnthropicStream

	id, model string
	created   int64
	usage     anthropicUsage
	sawStart  bool
	sawDelta  bool // message_delta (final output_tokens) arrived
	finish    string
	tools     map[int]int // content block index -> tool_calls index
	nTools    int
	chars     int64
	ttft      time.Duration
	event     []byte // data of the event being read
	// source, if set, yields the next event in place of the SSE reader:
	// Bedrock's event stream and Gemini's chunks, as Anthropic events.
	source func() ([]byte, error)
}

// startAnthropicStream reads up to the first event while the handler still
// runs, so a stream that fails at once (an error event, a dead upstream)
// is answered with a status, and can be retried elsewhere.
func (f *Forwarder) startAnthropicStream(d *policy.Deployment, resp *fasthttp.Response, done func(Usage, error)) (*anthropicStream, error) {
	s := f.newAnthropicStream(d, resp, done)
	if err := s.prime(); err != nil {
		return nil, err
	}
	return s, nil
}

// newAnthropicStream is a stream over resp that has read nothing yet. A
// provider whose stream is not Anthropic's SSE sets source, which turns
// its frames into Anthropic events, and then calls prime.
func (f *Forwarder) newAnthropicStream(d *policy.Deployment, resp *fasthttp.Response, done func(Usage, error)) *anthropicStream {
	body := resp.BodyStream()
	if body == nil {
		body = bytesReader(resp.Body())
	}
	return &anthropicStream{d: d, resp: resp, br: bufio.NewReaderSize(body, streamBufSize), conn: responseConn(resp),
		idle: f.opts.StreamIdleTimeout, done: done, now: f.now(), tools: map[int]int{}, secrets: secretsOf(d)}
}

// answer starts the client's chat.completion.chunk stream from s, which
// has read its first event (prime), whatever the upstream's framing.
func (s *anthropicStream) answer(rc *fasthttp.RequestCtx, x *Exchange) (StreamWriter, error) {
	s.start, s.includeUsage, s.payload = x.Start, x.ClientUsage, x.Payload
	rc.SetStatusCode(fasthttp.StatusOK)
	rc.Response.Header.SetContentType("text/event-stream")
	return s, nil
}

// prime reads up to the first event (see startAnthropicStream).
func (s *anthropicStream) prime() error {
	d := s.d
	for {
		ev, err := s.next()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return streamError(d, err)
		}
		typ := eventType(ev)
		if typ == "ping" {
			continue
		}
		if typ == "error" {
			return anthropicStreamError(d, ev)
		}
		s.pending = ev
		return nil
	}
}

// eventType reads the "type" of an Anthropic event's data.
func eventType(data []byte) string {
	var t struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(data, &t)
	return t.Type
}

func anthropicStreamError(d *policy.Deployment, data []byte) *apierror.Error {
	var e struct {
		Error struct {
			Type string `json:"type"`
		} `json:"error"`
	}
	_ = json.Unmarshal(data, &e)
	status := 502
	switch e.Error.Type {
	case "overloaded_error":
		status = 529
	case "rate_limit_error":
		status = 429
	case "api_error":
		status = 500
	case "invalid_request_error":
		status = 400
	}
	return mapAnthropicError(d, status, data, "")
}

// next returns the data of the next SSE event (its "data:" lines joined),
// skipping comments and events without data. The read deadline is
// extended before every read, so only upstream silence ends the stream.
func (s *anthropicStream) next() ([]byte, error) {
	if s.source != nil {
		if s.conn != nil && s.sawStart {
			_ = s.conn.SetReadDeadline(time.Now().Add(s.idle))
		}
		return s.source()
	}
	return s.nextSSE()
}

// nextSSE reads the next SSE event's data from the upstream.
func (s *anthropicStream) nextSSE() ([]byte, error) {
	s.event = s.event[:0]
	for {
		if s.conn != nil && s.sawStart {
			_ = s.conn.SetReadDeadline(time.Now().Add(s.idle))
		}
		line, err := s.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer: keep reading it, bounded.
			buf := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull && len(buf) < maxEventSize {
				line, err = s.br.ReadSlice('\n')
				buf = append(buf, line...)
			}
			if err == bufio.ErrBufferFull {
				return nil, errors.New("upstream SSE event exceeds the size limit")
			}
			line = buf
		}
		if err != nil && (err != io.EOF || len(line) == 0) {
			if err == io.EOF && len(s.event) > 0 {
				return s.event, nil
			}
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if len(s.event) > 0 {
				return s.event, nil
			}
			continue
		}
		if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			v = bytes.TrimPrefix(v, []byte(" "))
			if len(s.event) > 0 {
				s.event = append(s.event, '\n')
			}
			s.event = append(s.event, v...)
		}
		if err == io.EOF {
			if len(s.event) > 0 {
				return s.event, nil
			}
			return nil, io.EOF
		}
	}
}

// streamEvent is the union of the Anthropic stream events' fields.
type streamEvent struct {
	Type    string           `json:"type"`
	Message anthropicMessage `json:"message"`
	Index   int              `json:"index"`
	Block   struct {
		Type string `json:"type"`
		Text string `json:"text"`
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"content_block"`
	Delta struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		PartialJSON string `json:"partial_json"`
		Thinking    string `json:"thinking"`
		StopReason  string `json:"stop_reason"`
	} `json:"delta"`
	Usage *anthropicUsage `json:"usage"`
}

type chunkDelta struct {
	Role             string            `json:"role,omitempty"`
	Content          *string           `json:"content,omitempty"`
	ReasoningContent string            `json:"reasoning_content,omitempty"`
	ToolCalls        []chatToolCallOut `json:"tool_calls,omitempty"`
}

type chunkChoice struct {
	Index        int        `json:"index"`
	Delta        chunkDelta `json:"delta"`
	FinishReason *string    `json:"finish_reason"`
}

type chatChunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []chunkChoice `json:"choices"`
	Usage   *chatUsage    `json:"usage,omitempty"`
}

func (s *anthropicStream) run(w *bufio.Writer) {
	err := s.copy(w)
	if err != nil && !errors.Is(err, ErrClientGone) {
		var ae *apierror.Error
		if !errors.As(err, &ae) {
			ae = streamError(s.d, err)
		}
		writeErrorEvent(w, ae)
	}
	_ = s.resp.CloseBodyStream()
	fasthttp.ReleaseResponse(s.resp)
	s.resp, s.br = nil, nil
	if s.done != nil {
		s.done(s.result(err), err)
	}
	s.payload = nil
}

func (s *anthropicStream) result(err error) Usage {
	u := Usage{Status: 200, UpstreamStatus: 200, Outcome: outcomeOf(err), TTFT: s.ttft, Model: s.model, ID: redactID(s.id, s.d)}
	u.set(s.usage.tokens())
	if !s.sawStart {
		u.Estimated = true
		u.PromptTokens = EstimateTokens(promptChars(s.payload))
		u.CachedTokens, u.CacheCreationTokens = 0, 0
	}
	if !s.sawDelta {
		u.Estimated = true
		u.CompletionTokens = max(u.CompletionTokens, EstimateTokens(s.chars))
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// copy translates events until message_stop. An upstream that ends
// without message_stop ended early: the client gets an error event, not a
// [DONE] that would make a cut answer look complete.
func (s *anthropicStream) copy(w *bufio.Writer) error {
	ev := s.pending
	s.pending = nil
	for {
		if ev == nil {
			var err error
			if ev, err = s.next(); err != nil {
				if err == io.EOF {
					return io.ErrUnexpectedEOF
				}
				return err
			}
		}
		var e streamEvent
		if err := json.Unmarshal(ev, &e); err != nil {
			return apierror.UpstreamError.Wrap(err, "upstream provider for model %s sent an unreadable stream event", s.d.ModelName)
		}
		raw := ev
		ev = nil
		var out *chatChunk
		switch e.Type {
		case "message_start":
			s.sawStart = true
			s.id, s.model, s.usage = e.Message.ID, e.Message.Model, e.Message.Usage
			s.created = s.now.Unix()
			empty := ""
			out = s.chunk(chunkDelta{Role: "assistant", Content: &empty}, nil)
		case "content_block_start":
			switch e.Block.Type {
			case "tool_use":
				i := s.nTools
				s.tools[e.Index] = i
				s.nTools++
				s.chars += int64(len(e.Block.Name))
				out = s.chunk(chunkDelta{ToolCalls: []chatToolCallOut{{Index: &i, ID: e.Block.ID, Type: "function",
					Function: chatFunction{Name: e.Block.Name}}}}, nil)
			case "text":
				if e.Block.Text != "" {
					t := e.Block.Text
					out = s.chunk(chunkDelta{Content: &t}, nil)
				}
			}
		case "content_block_delta":
			switch e.Delta.Type {
			case "text_delta":
				t := e.Delta.Text
				s.chars += int64(len([]rune(t)))
				out = s.chunk(chunkDelta{Content: &t}, nil)
			case "input_json_delta":
				i, ok := s.tools[e.Index]
				if !ok {
					break
				}
				s.chars += int64(len(e.Delta.PartialJSON))
				out = s.chunk(chunkDelta{ToolCalls: []chatToolCallOut{{Index: &i, Function: chatFunction{Arguments: e.Delta.PartialJSON}}}}, nil)
			case "thinking_delta":
				s.chars += int64(len([]rune(e.Delta.Thinking)))
				out = s.chunk(chunkDelta{ReasoningContent: e.Delta.Thinking}, nil)
			}
		case "message_delta":
			if e.Usage != nil {
				s.sawDelta = true
				s.usage.update(e.Usage)
			}
			if e.Delta.StopReason != "" {
				s.finish = finishReason(e.Delta.StopReason)
				out = s.chunk(chunkDelta{}, &s.finish)
			}
		case "message_stop":
			if s.includeUsage {
				u := s.usage.chat()
				c := &chatChunk{ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model, Choices: []chunkChoice{}, Usage: &u}
				if err := s.write(w, c); err != nil {
					return err
				}
			}
			if _, err := w.WriteString("data: [DONE]\n\n"); err != nil {
				return clientGone(err)
			}
			if err := w.Flush(); err != nil {
				return clientGone(err)
			}
			return nil
		case "error":
			return anthropicStreamError(s.d, raw)
		}
		if out != nil {
			if err := s.write(w, out); err != nil {
				return err
			}
		}
	}
}

func (s *anthropicStream) chunk(d chunkDelta, finish *string) *chatChunk {
	return &chatChunk{ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
		Choices: []chunkChoice{{Index: 0, Delta: d, FinishReason: finish}}}
}

func (s *anthropicStream) write(w *bufio.Writer, c *chatChunk) error {
	b, err := json.Marshal(c)
	if err != nil {
		return apierror.Internal.Wrap(err, "could not encode a stream chunk")
	}
	// As on the OpenAI path, the deployment's own key never reaches a
	// client, even when an upstream echoes it into generated text.
	b = redactSecrets(b, s.secrets)
	_, _ = w.WriteString("data: ")
	_, _ = w.Write(b)
	_, _ = w.WriteString("\n\n")
	if err := w.Flush(); err != nil {
		return clientGone(err)
	}
	if s.ttft == 0 && len(c.Choices) > 0 && (c.Choices[0].Delta.Content != nil && *c.Choices[0].Delta.Content != "" ||
		len(c.Choices[0].Delta.ToolCalls) > 0 || c.Choices[0].Delta.ReasoningContent != "") {
		s.ttft = time.Since(s.start)
	}
	return nil
}
