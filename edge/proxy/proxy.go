// Package proxy forwards authorized chat completions to the upstream model
// and writes the answer to the client.
//
// Each provider is one file with one type: openai.go (and every
// OpenAI-compatible server), azure.go, anthropic.go, mock.go. An HTTP
// provider implements HTTPProvider (build the upstream request, set its
// credentials, map its errors, turn a body or a stream into the client's
// answer and its usage); provider.go's exchange is the one round trip,
// error-answer and redaction path they all share. The Forwarder only picks
// the provider by the deployment's prefix, so a new provider (Bedrock,
// Gemini) is a new file, not a case in a switch.
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
	"sync"
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
	userAgent               = "gatehouse"
)

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
		// The most recently used connection goes out first: a hot socket
		// and read buffer are in cache, and idle ones age out. fasthttp's
		// default (FIFO) rotates every request through the whole pool.
		ConnPoolStrategy: fasthttp.LIFO,
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

// Call is one request for Forward: a chat completion, or another
// endpoint's request (Endpoint), which goes the same way.
type Call struct {
	// Endpoint is the API called; the provider picks the upstream path by
	// it. The zero value is chat completions.
	Endpoint      policy.Endpoint
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
	// IDSuffix (Responses API) is appended to the upstream's response id
	// in what the client sees (see ResponseIDSuffix).
	IDSuffix string
	// PassHeaders are client headers the endpoint sends on upstream
	// (anthropic-version, anthropic-beta on a Messages API passthrough);
	// the deployment's extra_headers still win.
	PassHeaders map[string]string
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
		// d.Err may quote config; only the model name and, for an unset
		// os.environ/ reference, the variable's name (never a value)
		// reach the client, so the operator knows what to set.
		if me := d.MissingEnvOf(); me != nil {
			return u, false, apierror.Internal.Wrap(d.Err, "deployment %s is misconfigured: %s references os.environ/%s, which is not set on this edge", d.ModelName, me.Field, me.Name)
		}
		return u, false, apierror.Internal.Wrap(d.Err, "deployment %s is misconfigured", d.ModelName)
	}
	upstreamModel := c.UpstreamModel
	if upstreamModel == "" {
		upstreamModel = d.UpstreamModel
	}
	p := providerFor(d.Provider)
	if d.MockResponse != "" {
		// A deployment of any provider with mock_response answers with
		// it and never calls the provider, as in LiteLLM.
		p = providerFor(policy.ProviderMock)
	}
	if p == nil {
		return u, false, apierror.BadRequest.With("provider %s is not supported yet", d.Provider)
	}
	if c.Endpoint != policy.EndpointChat && !d.Serves(c.Endpoint) {
		// The edge routes only to deployments that serve the endpoint;
		// this guards a caller that did not.
		return u, false, NotServed(d, c.Endpoint)
	}
	// Pooled: an interface call would move a fresh Exchange to the heap on
	// every request. Nothing keeps x after Chat returns (a stream writer
	// copies what it needs).
	x := exchangePool.Get().(*Exchange)
	*x = Exchange{Call: *c, Deployment: d, Model: upstreamModel, Start: start}
	if c.Endpoint == policy.EndpointMessages && p != providers[policy.ProviderAnthropic] {
		// Anthropic's Messages API to a provider that speaks chat:
		// the provider answers a chat completion, translated back.
		body, terr := ChatFromMessages(c.Body, d)
		if terr != nil {
			*x = Exchange{}
			exchangePool.Put(x)
			return u, false, terr
		}
		x.Call.Body, x.Call.Endpoint, x.Call.Valid, x.asMessages = body, policy.EndpointChat, true, true
		if done := x.Call.Done; done != nil {
			// A stream's writer reports the chat chunks' id; the client
			// got it as a message id.
			x.Call.Done = func(u Usage, err error) {
				u.ID = clientMessageID(u.ID)
				done(u, err)
			}
		}
	}
	u, async, err = p.Chat(f, rc, x)
	if !async {
		u.ID = redactID(u.ID, d)
	}
	if err == nil && !async && x.asMessages {
		err = messagesAnswer(rc)
		u.ID = clientMessageID(u.ID)
	}
	*wait = x.waited
	*x = Exchange{}
	exchangePool.Put(x)
	return u, async, err
}

var exchangePool = sync.Pool{New: func() any { return new(Exchange) }}

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
	} else if v := resp.Header.Peek("X-Amzn-Requestid"); len(v) > 0 && len(v) <= 200 && scrub(string(v), d) == string(v) {
		// AWS's: what AWS support asks for about a Bedrock call.
		rc.Response.Header.SetBytesV("X-Upstream-Request-Id", v)
	}
	if v := resp.Header.Peek("Openai-Processing-Ms"); len(v) > 0 && len(v) <= 12 && allDigits(v) {
		rc.Response.Header.SetBytesV("Openai-Processing-Ms", v)
	}
	copyRateLimitHeaders(&rc.Response.Header, &resp.Header)
}

// copyRateLimitHeaders passes on the upstream's own rate limits as LiteLLM
// does (get_response_headers): every x-ratelimit-* header prefixed
// llm_provider-, and OpenAI's four (x-ratelimit-{limit,remaining}-{requests,tokens})
// also as they are. LiteLLM forwards every upstream header so; only these
// are, for the reasons copySafeHeaders gives, and only short values of
// digits, letters and dots ("59", "1.2s", "6m0s"). Names are written in
// canonical form (SetCanonical), which spares fasthttp normalizing them.
func copyRateLimitHeaders(dst *fasthttp.ResponseHeader, src *fasthttp.ResponseHeader) {
	var buf [64]byte
	for k, v := range src.All() {
		if !hasPrefixFold(k, "x-ratelimit-") || len(k) > len(buf)-len(providerHeaderPrefix) || len(v) == 0 || len(v) > 32 || !rateValue(v) {
			continue
		}
		name := append(append(buf[:0], providerHeaderPrefix...), k...)
		upper := false
		for i := len(providerHeaderPrefix); i < len(name); i++ {
			c := name[i]
			switch {
			case upper && 'a' <= c && c <= 'z':
				name[i] = c - ('a' - 'A')
			case !upper && 'A' <= c && c <= 'Z':
				name[i] = c + ('a' - 'A')
			}
			upper = c == '-'
		}
		name[len(providerHeaderPrefix)] = 'X'
		dst.SetCanonical(name, v)
		switch string(name[len(providerHeaderPrefix):]) {
		case "X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests", "X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Tokens":
			dst.SetCanonical(name[len(providerHeaderPrefix):], v)
		}
	}
}

// providerHeaderPrefix is LiteLLM's prefix of an upstream header passed
// on, canonical.
const providerHeaderPrefix = "Llm_provider-"

func rateValue(b []byte) bool {
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && c != '.' {
			return false
		}
	}
	return true
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
	return readBodyTo(nil, resp, max, truncate)
}

// readBodyTo is readBody into buf's storage when it is large enough.
func readBodyTo(buf []byte, resp *fasthttp.Response, max int, truncate bool) ([]byte, error) {
	r := resp.BodyStream()
	if r == nil {
		b := resp.Body()
		if len(b) > max {
			if !truncate {
				return nil, errTooLarge
			}
			b = b[:max]
		}
		return append(buf[:0], b...), nil
	}
	size := 16 << 10
	if cl := resp.Header.ContentLength(); cl >= 0 {
		size = cl + 1 // +1 so EOF is seen without growing
	}
	if size > max+1 {
		size = max + 1
	}
	if cap(buf) < size {
		buf = make([]byte, 0, size)
	}
	buf = buf[:0]
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
