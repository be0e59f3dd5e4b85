// Package proxy forwards authorized chat completions to the upstream model
// and writes the answer to the client.
//
// It talks to upstreams with a fasthttp client in body-streaming mode:
// fasthttp (and fiber's proxy middleware) otherwise buffer the whole
// response, which turns a token stream into one late blob. Everything the
// client may see is either the upstream's success body, passed through
// byte for byte, or an *apierror.Error whose message has been scrubbed of
// credentials.
package proxy

import (
	"crypto/tls"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// Options tune the upstream client. Zero values get production defaults.
type Options struct {
	// DialTimeout bounds TCP connect (TLS handshake included) to an
	// upstream. Default 10s.
	DialTimeout time.Duration
	// ResponseHeaderTimeout is the default upper bound of a non-streaming
	// request and of the wait for the first streamed byte, for deployments
	// without timeout / stream_timeout. Default 600s, LiteLLM's default:
	// long completions from large models legitimately take minutes.
	ResponseHeaderTimeout time.Duration
	// MaxConnsPerHost bounds connections to one upstream host. Every
	// in-flight stream holds one for its whole life, so this is the number
	// of concurrent streams per upstream. Default 2048.
	MaxConnsPerHost int
	// StreamIdleTimeout aborts a stream whose upstream sent nothing for
	// this long after the first byte. Default ResponseHeaderTimeout.
	StreamIdleTimeout time.Duration
	// StreamKeepAlive is how long an upstream may be silent mid-stream
	// before the edge writes an SSE comment to the client, which is how a
	// client that left is noticed (and the upstream request aborted) while
	// no tokens flow. Default 1s; negative disables.
	StreamKeepAlive time.Duration
	// MaxResponseBodySize bounds a buffered (non-streaming) upstream body.
	// Default 64 MiB.
	MaxResponseBodySize int
	// TLSConfig is for upstreams behind private CAs; nil uses the system
	// roots.
	TLSConfig *tls.Config
}

const (
	defaultDialTimeout      = 10 * time.Second
	defaultHeaderTimeout    = 600 * time.Second
	defaultMaxConnsPerHost  = 2048
	defaultMaxResponseBytes = 64 << 20
	defaultStreamKeepAlive  = time.Second
	defaultOpenAIBase       = "https://api.openai.com/v1"
	userAgent               = "gatehouse"
	// DefaultAzureAPIVersion is LiteLLM's AZURE_DEFAULT_API_VERSION, used
	// when an azure/ deployment sets no api_version, so a migrated config
	// calls the same API version it did under LiteLLM.
	DefaultAzureAPIVersion = "2025-02-01-preview"
)

// defaultAPIBase is where hosted OpenAI-compatible providers live when a
// deployment sets no api_base. Self-hosted ones (hosted_vllm, openai_like,
// ...) have no default on purpose: falling back to api.openai.com would
// send their key to OpenAI.
var defaultAPIBase = map[string]string{
	policy.ProviderOpenAI: defaultOpenAIBase,
	"groq":                "https://api.groq.com/openai/v1",
	"together_ai":         "https://api.together.xyz/v1",
	"deepseek":            "https://api.deepseek.com/v1",
	"fireworks_ai":        "https://api.fireworks.ai/inference/v1",
	"mistral":             "https://api.mistral.ai/v1",
	"xai":                 "https://api.x.ai/v1",
	"openrouter":          "https://openrouter.ai/api/v1",
	"perplexity":          "https://api.perplexity.ai",
	"deepinfra":           "https://api.deepinfra.com/v1/openai",
}

// Forwarder sends chat completions upstream. One per edge: it owns the
// upstream connection pools, which is what makes keep-alive work across
// requests. Safe for concurrent use.
type Forwarder struct {
	opts   Options
	client *fasthttp.Client
	// now stamps translated responses ("created"); tests pin it.
	now func() time.Time
}

// New returns a Forwarder with o's zero fields defaulted.
func New(o Options) *Forwarder {
	if o.DialTimeout <= 0 {
		o.DialTimeout = defaultDialTimeout
	}
	if o.ResponseHeaderTimeout <= 0 {
		o.ResponseHeaderTimeout = defaultHeaderTimeout
	}
	if o.MaxConnsPerHost <= 0 {
		o.MaxConnsPerHost = defaultMaxConnsPerHost
	}
	if o.StreamIdleTimeout <= 0 {
		o.StreamIdleTimeout = o.ResponseHeaderTimeout
	}
	if o.StreamKeepAlive == 0 {
		o.StreamKeepAlive = defaultStreamKeepAlive
	}
	if o.MaxResponseBodySize <= 0 {
		o.MaxResponseBodySize = defaultMaxResponseBytes
	}
	f := &Forwarder{opts: o, now: time.Now}
	f.client = &fasthttp.Client{
		Name:               userAgent,
		DialTimeout:        f.dial,
		TLSConfig:          o.TLSConfig,
		MaxConnsPerHost:    o.MaxConnsPerHost,
		MaxConnWaitTimeout: o.DialTimeout,
		// OpenAI's response headers (rate limits, ids, cf-*) outgrow the
		// 4 KiB default, which fasthttp reports as a failed request.
		ReadBufferSize:     16 << 10,
		StreamResponseBody: true,
		RetryIfErr:         retryStale,
		// Send api_base's path as configured, as LiteLLM does; fasthttp
		// would otherwise rewrite it (e.g. collapse "//").
		DisablePathNormalizing: true,
	}
	return f
}

// ChatCompletionDone forwards body to d with its top-level "model"
// replaced by upstreamModel and writes the answer to rc.
//
// A non-nil error means nothing was written to rc; it is an
// *apierror.Error for the caller to render. A nil error means rc holds the
// response; for a stream that response is produced after the handler
// returns, which is why there is a completion hook for logging and
// accounting: a streamed response's failures cannot be returned.
//
// done, if not nil, is called exactly once with what the request consumed
// (see Usage) and how it ended: before ChatCompletionDone returns (with
// the same error) when the response is not streamed or failed before
// streaming, or from the stream's writer goroutine when the stream ends,
// with nil for a complete stream and otherwise the reason it stopped
// (ErrClientGone, upstream timeout, ...). It must not touch rc, body or
// the fiber.Ctx, which belong to another request by then, and it should
// not block: it runs on the connection's goroutine.
//
// For a streaming request the upstream is asked for the final usage chunk
// (stream_options.include_usage); if the client did not ask for it, that
// chunk is removed from what the client receives.
func (f *Forwarder) ChatCompletionDone(rc *fasthttp.RequestCtx, d *policy.Deployment, upstreamModel string,
	body []byte, stream bool, done func(Usage, error)) error {
	_, err := f.Forward(rc, Call{Deployment: d, UpstreamModel: upstreamModel, Body: body, Stream: stream, Done: done})
	return err
}

// Call is one chat completion for Forward.
type Call struct {
	Deployment    *policy.Deployment
	UpstreamModel string // "" means the deployment's
	Body          []byte
	Stream        bool
	// RequestID, if not empty, is sent upstream as x-request-id, so the
	// provider's logs can be joined with the gateway's.
	RequestID string
	// Done is ChatCompletionDone's done.
	Done func(Usage, error)
	// Valid says Body was validated as JSON (ParseChatRequest), so it is
	// not validated again.
	Valid bool
	// Progress, if set, is called by a stream's writer after each event
	// carrying generated text, with the characters generated so far (a
	// running cost estimate for budgets; Done still reports the usage).
	Progress func(chars int64)
}

// Forward is ChatCompletionDone for a Call. It also returns how long the
// request path waited on the upstream: connect, send, the response head
// and, when not streamed, the body; for a stream, up to its first bytes.
// The caller's time minus this is the gateway's own overhead.
func (f *Forwarder) Forward(rc *fasthttp.RequestCtx, c Call) (upstream time.Duration, err error) {
	start := time.Now()
	u, async, err := f.chat(rc, &c, start, &upstream)
	if !async && c.Done != nil {
		if err != nil {
			u = failure(u, err)
		}
		c.Done(u, err)
	}
	return upstream, err
}

// failure is the Usage of a request that failed before any answer reached
// the client, keeping the upstream's status when it gave one (for the
// error metrics).
func failure(u Usage, err error) Usage {
	f := errorUsage(err)
	f.UpstreamStatus = u.UpstreamStatus
	return f
}

// TryChatCompletion is Forward for callers that may retry another
// deployment: when it fails before anything was written to rc, c.Done is
// not called; failed is the usage to report once the caller gives up.
// Otherwise c.Done is called as by Forward.
func (f *Forwarder) TryChatCompletion(rc *fasthttp.RequestCtx, c Call) (upstream time.Duration, failed Usage, err error) {
	u, async, err := f.chat(rc, &c, time.Now(), &upstream)
	if err != nil {
		return upstream, failure(u, err), err
	}
	if !async && c.Done != nil {
		c.Done(u, nil)
	}
	return upstream, Usage{}, nil
}

// ErrorUsage is the Usage of a request that failed before any answer
// reached the client.
func ErrorUsage(err error) Usage { return errorUsage(err) }

// chat reports async when a stream writer took over calling done; u is
// the usage of a response that was not streamed (meaningless with err,
// except UpstreamStatus).
func (f *Forwarder) chat(rc *fasthttp.RequestCtx, c *Call, start time.Time, wait *time.Duration) (u Usage, async bool, err error) {
	d := c.Deployment
	if d.Err != nil {
		// d.Err may quote config; only the model name reaches the client.
		return u, false, apierror.Internal.Wrap(d.Err, "deployment %s is misconfigured", d.ModelName)
	}
	upstreamModel := c.UpstreamModel
	if upstreamModel == "" {
		upstreamModel = d.UpstreamModel
	}
	switch {
	case d.Provider == policy.ProviderMock:
		// The mock stands in for an upstream: its time is upstream time.
		u, err = f.mock(rc, d, upstreamModel, c.Body, c.Stream, start)
		*wait = time.Since(start)
		return u, false, err
	case policy.IsOpenAICompatible(d.Provider), d.Provider == policy.ProviderAzure:
		return f.openAI(rc, c, upstreamModel, start, wait)
	case d.Provider == policy.ProviderAnthropic:
		return f.anthropic(rc, c, upstreamModel, start, wait)
	}
	return u, false, apierror.BadRequest.With("provider %s is not supported yet", d.Provider)
}

// endpoint is the chat completions URL. Like LiteLLM it appends the path
// to api_base as given, so bases without /v1 (some vLLM and proxy setups)
// work.
func endpoint(d *policy.Deployment) (string, *apierror.Error) {
	base := d.APIBase
	if base == "" {
		base = defaultAPIBase[d.Provider]
		if base == "" {
			return "", apierror.Internal.With("deployment %s is misconfigured: provider %s needs an api_base", d.ModelName, d.Provider)
		}
	}
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		// The base itself may hold credentials; do not echo it.
		return "", apierror.Internal.With("deployment %s is misconfigured: api_base must be an http(s) URL", d.ModelName)
	}
	return strings.TrimRight(base, "/") + "/chat/completions", nil
}

// azureEndpoint is Azure OpenAI's chat completions URL for a deployment:
// the deployment is in the path and the API version in the query, as the
// openai SDK's AzureOpenAI client (which LiteLLM uses) builds it. Azure
// has no default host: every resource has its own.
func azureEndpoint(d *policy.Deployment, deployment string) (string, *apierror.Error) {
	base := d.APIBase
	if base == "" {
		return "", apierror.Internal.With("deployment %s is misconfigured: provider azure needs an api_base", d.ModelName)
	}
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return "", apierror.Internal.With("deployment %s is misconfigured: api_base must be an http(s) URL", d.ModelName)
	}
	version := d.APIVersion
	if version == "" {
		version = DefaultAzureAPIVersion
	}
	// An api_base copied from the Azure portal sometimes already ends in
	// /openai; the SDK would not double it either.
	base = strings.TrimSuffix(strings.TrimRight(base, "/"), "/openai")
	return base + "/openai/deployments/" + url.PathEscape(deployment) + "/chat/completions?api-version=" + url.QueryEscape(version), nil
}

// timeout follows LiteLLM: stream_timeout governs streams, timeout the
// rest and streams without stream_timeout.
func (f *Forwarder) timeout(d *policy.Deployment, stream bool) time.Duration {
	switch {
	case stream && d.StreamTimeout > 0:
		return d.StreamTimeout
	case d.Timeout > 0:
		return d.Timeout
	}
	return f.opts.ResponseHeaderTimeout
}

func (f *Forwarder) openAI(rc *fasthttp.RequestCtx, c *Call, upstreamModel string,
	start time.Time, wait *time.Duration) (u Usage, async bool, err error) {
	d, body, stream, done := c.Deployment, c.Body, c.Stream, c.Done
	var (
		target string
		aerr   *apierror.Error
	)
	if d.Provider == policy.ProviderAzure {
		target, aerr = azureEndpoint(d, upstreamModel)
	} else {
		target, aerr = endpoint(d)
	}
	if aerr != nil {
		return u, false, aerr
	}
	// payload is a fresh copy the forwarder owns, so a stream can keep it
	// for the prompt estimate after the handler (and body) are gone.
	rewrite := rewriteRequest
	if c.Valid {
		rewrite = rewriteValid
	}
	payload, strip, err := rewrite(body, upstreamModel, stream)
	if err != nil {
		return u, false, apierror.InvalidJSON.Wrap(err, "request body must be a JSON object with a string \"model\"")
	}

	req := upstreamRequest(target, stream)
	defer fasthttp.ReleaseRequest(req)
	switch {
	case d.APIKey == "":
	case d.Provider == policy.ProviderAzure:
		// Azure takes its key in api-key; a Bearer header would be read
		// as an Entra ID token and refused.
		req.Header.Set("api-key", d.APIKey)
	default:
		req.Header.Set(fasthttp.HeaderAuthorization, "Bearer "+d.APIKey)
	}
	if d.Organization != "" {
		req.Header.Set("OpenAI-Organization", d.Organization)
	}
	sent := time.Now()
	defer func() { *wait = time.Since(sent) }()
	resp, err := f.roundTrip(req, c, payload)
	if err != nil {
		return u, false, err
	}
	defer func() {
		if !async {
			// Closing an unread stream closes the connection, which is the
			// only way to stop an upstream that is still generating.
			_ = resp.CloseBodyStream()
			fasthttp.ReleaseResponse(resp)
		}
	}()

	status := resp.StatusCode()
	u.UpstreamStatus = status
	if status < 200 || status >= 300 {
		return u, false, statusError(d, resp, mapUpstreamError)
	}

	ct := resp.Header.ContentType()
	if hasPrefixFold(ct, "text/event-stream") {
		s, err := f.startStream(d, resp, done)
		if err != nil {
			return u, false, err
		}
		s.start, s.status, s.strip, s.payload, s.progress = start, status, strip, payload, c.Progress
		rc.SetStatusCode(status)
		rc.Response.Header.SetContentTypeBytes(ct)
		rc.Response.Header.Set(fasthttp.HeaderCacheControl, "no-cache")
		rc.Response.Header.Set("X-Accel-Buffering", "no")
		copySafeHeaders(rc, resp, d)
		// The writer goroutine starts inside SetBodyStreamWriter and owns
		// resp from here on; nothing below may touch it.
		rc.SetBodyStreamWriter(s.run)
		return u, true, nil
	}

	b, err := readBody(resp, f.opts.MaxResponseBodySize, false)
	if err != nil {
		if err == errTooLarge {
			return u, false, apierror.UpstreamError.Wrap(err, "upstream response for model %s is too large", d.ModelName)
		}
		return u, false, streamError(d, err)
	}
	u = bodyUsage(b, payload, status)
	u.UpstreamStatus = status
	rc.SetStatusCode(status)
	if len(ct) == 0 {
		rc.Response.Header.SetContentType("application/json")
	} else {
		rc.Response.Header.SetContentTypeBytes(ct)
	}
	copySafeHeaders(rc, resp, d)
	rc.Response.SetBodyRaw(redactSecrets(b, secretsOf(d)))
	return u, false, nil
}

// upstreamRequest starts a provider request: a JSON POST to target that
// accepts SSE for a stream. The caller adds its credentials and releases it.
func upstreamRequest(target string, stream bool) *fasthttp.Request {
	req := fasthttp.AcquireRequest()
	req.SetRequestURI(target)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	if stream {
		req.Header.Set(fasthttp.HeaderAccept, "text/event-stream")
	} else {
		req.Header.Set(fasthttp.HeaderAccept, "application/json")
	}
	return req
}

// roundTrip adds what every provider's request carries last (the request
// id, then the deployment's extra_headers, so a deployment can override
// anything, e.g. a gateway upstream that wants its key in another header),
// sends it and returns the response head; the body is read by the caller,
// which releases resp.
func (f *Forwarder) roundTrip(req *fasthttp.Request, c *Call, payload []byte) (*fasthttp.Response, error) {
	d := c.Deployment
	if c.RequestID != "" {
		req.Header.Set("X-Request-Id", c.RequestID)
	}
	for k, v := range d.ExtraHeaders {
		req.Header.Set(k, v)
	}
	req.SetBodyRaw(payload)
	resp := fasthttp.AcquireResponse()
	// Without this fasthttp reports a missing Content-Type as text/plain
	// and the JSON default never applies.
	resp.Header.SetNoDefaultContentType(true)
	if err := f.client.DoTimeout(req, resp, f.timeout(d, c.Stream)); err != nil {
		fasthttp.ReleaseResponse(resp)
		return nil, transportError(d, err)
	}
	return resp, nil
}

// statusError reads an error answer (bounded) and maps it with the
// provider's mapper.
func statusError(d *policy.Deployment, resp *fasthttp.Response,
	mapErr func(d *policy.Deployment, status int, body []byte, retryAfter string) *apierror.Error) error {
	b, rerr := readBody(resp, maxErrorBody, true)
	if rerr != nil && len(b) == 0 {
		return streamError(d, rerr)
	}
	return mapErr(d, resp.StatusCode(), b, string(resp.Header.Peek(fasthttp.HeaderRetryAfter)))
}

// bodyUsage is the usage of a non-streaming answer: the upstream's own
// when the body has a "usage" object, else estimated from the request's
// messages and the choices' messages.
func bodyUsage(b, payload []byte, status int) Usage {
	r := scanResponse(b)
	u := Usage{Status: status, Outcome: OutcomeOK, Model: string(r.model)}
	if r.hasUsage {
		u.PromptTokens, u.CompletionTokens, u.TotalTokens = r.prompt, r.completion, r.total
		return u
	}
	u.Estimated = true
	u.PromptTokens = EstimateTokens(promptChars(payload))
	if r.choicesEnd > r.choicesStart {
		chars, _, _ := choicesText(b[:r.choicesEnd], r.choicesStart, "message")
		u.CompletionTokens = EstimateTokens(chars)
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// copySafeHeaders passes on the upstream headers that help debugging.
// Nothing else is copied: upstream headers can carry cookies, internal
// hosts or account identifiers the client has no business seeing.
// Even those are checked: an upstream can echo anything in a header,
// credentials included.
func copySafeHeaders(rc *fasthttp.RequestCtx, resp *fasthttp.Response, d *policy.Deployment) {
	if v := resp.Header.Peek("X-Request-Id"); len(v) > 0 && len(v) <= 200 && scrub(string(v), d) == string(v) {
		rc.Response.Header.SetBytesV("X-Upstream-Request-Id", v)
	} else if v := resp.Header.Peek("Request-Id"); len(v) > 0 { // Anthropic's name
		rc.Response.Header.SetBytesV("X-Upstream-Request-Id", v)
	}
	if v := resp.Header.Peek("Openai-Processing-Ms"); len(v) > 0 && len(v) <= 12 && allDigits(v) {
		rc.Response.Header.SetBytesV("Openai-Processing-Ms", v)
	}
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

// hasPrefixFold matches an ASCII lower-case prefix case-insensitively
// without allocating.
func hasPrefixFold(b []byte, prefix string) bool {
	if len(b) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

var errTooLarge = &tooLargeError{}

type tooLargeError struct{}

func (*tooLargeError) Error() string { return "upstream response body exceeds the size limit" }

// readBody reads an upstream body up to max bytes. With truncate, a longer
// body is cut at max (error bodies are only parsed for a message);
// otherwise it is an error, because a cut success body is corrupt JSON.
// When the upstream declares Content-Length the buffer is sized once.
func readBody(resp *fasthttp.Response, max int, truncate bool) ([]byte, error) {
	r := resp.BodyStream()
	if r == nil {
		b := resp.Body()
		if len(b) > max {
			if !truncate {
				return nil, errTooLarge
			}
			b = b[:max]
		}
		return append([]byte(nil), b...), nil
	}
	size := 16 << 10
	if cl := resp.Header.ContentLength(); cl >= 0 {
		size = cl + 1 // +1 so EOF is seen without growing
	}
	if size > max+1 {
		size = max + 1
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > max {
			if truncate {
				return buf[:max], nil
			}
			return nil, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
