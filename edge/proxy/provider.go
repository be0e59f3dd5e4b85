package proxy

import (
	"bufio"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/bufpool"
	"github.com/gatehouse/gatehouse/policy"
)

// Provider serves one chat call for deployments of one provider. The
// forwarder picks it by the deployment's provider prefix and does nothing
// provider-specific itself. Most providers are HTTP APIs and implement
// HTTPProvider instead, through viaHTTP, which gives them the shared
// round trip, error mapping and credential scrubbing; only a provider that
// answers in-process (the mock) implements Provider directly.
type Provider interface {
	// Chat answers x.Call, writing the response to rc. It follows
	// Forward's contract: a non-nil error means nothing was written to rc;
	// async reports that a stream writer took over calling x.Call.Done; u
	// is the usage of an answer that was not streamed.
	Chat(f *Forwarder, rc *fasthttp.RequestCtx, x *Exchange) (u Usage, async bool, err error)
}

// HTTPProvider is an upstream HTTP API: what differs between providers,
// with everything else (sending, timeouts, reading bounded bodies, error
// answers, safe response headers, redaction) done once in exchange.
// Adding a provider is a file with a type implementing this and a
// registerProvider call.
type HTTPProvider interface {
	// Prepare builds the upstream request body for x (x.Model is the
	// upstream model name) and sets x.Target, x.Payload and x.ClientUsage.
	// The payload must be the provider's own copy: a stream keeps it after
	// the client's body has been reused. Errors are *apierror.Error.
	Prepare(x *Exchange) error
	// Authorize sets the deployment's credentials (and any fixed headers
	// the API requires) on the upstream request.
	Authorize(req *fasthttp.Request, d *policy.Deployment)
	// MapError turns an upstream error answer into the client's error.
	MapError(d *policy.Deployment, status int, body []byte, retryAfter string) *apierror.Error
	// Answer writes a complete (not streamed) 2xx answer b to rc: status,
	// content type and body, translated to a chat completion if need be,
	// with the deployment's secrets redacted. It reports the usage.
	Answer(f *Forwarder, rc *fasthttp.RequestCtx, x *Exchange, b []byte) (Usage, error)
	// Stream starts relaying an SSE answer: it reads up to the first
	// event while the handler still runs (so an early failure can still
	// be answered with a status, or retried elsewhere), sets rc's status
	// and content type, and returns the writer that relays the rest,
	// translating frames into chat.completion.chunk events if need be.
	// The writer owns x.Response and calls x.Call.Done when it ends.
	Stream(f *Forwarder, rc *fasthttp.RequestCtx, x *Exchange) (StreamWriter, error)
}

// callSigner is an HTTPProvider whose credentials depend on the request
// or must be fetched (AWS SigV4 signs the body; Google tokens are
// refreshed): exchange calls Sign after Authorize, with the payload
// already set as the body. A failure answers the client and sends nothing.
type callSigner interface {
	Sign(req *fasthttp.Request, x *Exchange) error
}

// StreamWriter relays a started stream to the client from fasthttp's
// stream-writer goroutine.
type StreamWriter interface {
	run(w *bufio.Writer)
}

// Exchange is one call to one deployment, as the shared path and a
// provider see it.
type Exchange struct {
	Call       Call
	Deployment *policy.Deployment
	// Model is the upstream model name.
	Model string
	// Start is when the call started, for time to first token.
	Start time.Time
	// Set by Prepare.
	Target  string
	Payload []byte
	// ClientUsage: the client asked for a stream's usage chunk
	// (stream_options.include_usage); the upstream is asked for it either
	// way, and the chunk is kept from a client that did not ask.
	ClientUsage bool
	// Response is the upstream's answer (status 2xx) for Answer and
	// Stream.
	Response *fasthttp.Response
	// waited is the time spent on the upstream (the forwarder reports it).
	waited time.Duration
	// asMessages: a Messages API request sent as a chat completion; the
	// answer is translated back (messages.go).
	asMessages bool
}

// providers holds every provider by its litellm_params.model prefix; each
// provider's file registers itself.
var providers = map[string]Provider{}

func registerProvider(name string, p Provider) {
	if _, dup := providers[name]; dup {
		panic("proxy: provider " + name + " registered twice")
	}
	providers[name] = p
}

// providerFor finds a deployment's provider: a registered one, else the
// OpenAI one for a provider that speaks its wire format (vLLM, groq, ...).
func providerFor(name string) Provider {
	if p := providers[name]; p != nil {
		return p
	}
	if policy.IsOpenAICompatible(name) {
		return providers[policy.ProviderOpenAI]
	}
	return nil
}

// viaHTTP serves an HTTPProvider through the shared exchange.
type viaHTTP struct{ HTTPProvider }

func (v viaHTTP) Chat(f *Forwarder, rc *fasthttp.RequestCtx, x *Exchange) (Usage, bool, error) {
	return f.exchange(rc, v.HTTPProvider, x)
}

// exchange is the one round trip every HTTP provider shares: prepare,
// authorize, send (with the request id and extra_headers), map an error
// answer, then hand a 2xx answer to the provider as a stream or a body.
func (f *Forwarder) exchange(rc *fasthttp.RequestCtx, p HTTPProvider, x *Exchange) (u Usage, async bool, err error) {
	c, d := &x.Call, x.Deployment
	if err := p.Prepare(x); err != nil {
		return u, false, err
	}
	req := upstreamRequest(x.Target, c.Stream)
	defer fasthttp.ReleaseRequest(req)
	p.Authorize(req, d)
	if s, ok := p.(callSigner); ok {
		req.SetBodyRaw(x.Payload)
		if err := s.Sign(req, x); err != nil {
			return u, false, err
		}
	}
	sent := time.Now()
	defer func() { x.waited = time.Since(sent) }()
	resp, err := f.roundTrip(req, c, x.Payload)
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
	x.Response = resp

	status := resp.StatusCode()
	u.UpstreamStatus = status
	if status < 200 || status >= 300 {
		return u, false, statusError(d, resp, p.MapError)
	}

	if ct := resp.Header.ContentType(); hasPrefixFold(ct, "text/event-stream") || hasPrefixFold(ct, amzEventStream) {
		s, err := p.Stream(f, rc, x)
		if err != nil {
			return u, false, err
		}
		rc.Response.Header.Set(fasthttp.HeaderCacheControl, "no-cache")
		rc.Response.Header.Set("X-Accel-Buffering", "no")
		copySafeHeaders(rc, resp, d)
		// The writer goroutine starts inside SetBodyStreamWriter and owns
		// resp from here on; nothing below may touch it.
		if x.asMessages {
			s = messagesStream{inner: s}
		}
		rc.SetBodyStreamWriter(s.run)
		return u, true, nil
	}

	// The body is read into a recycled buffer: Answer copies what the
	// client gets into rc (SetBody, never SetBodyRaw of b) and keeps
	// nothing of b, so it goes back to the pool as soon as Answer returns.
	bp := answerBufs.Get()
	defer answerBufs.Put(bp)
	b, err := readBodyTo(*bp, resp, f.opts.MaxResponseBodySize, false)
	if err != nil {
		if err == errTooLarge {
			return u, false, apierror.UpstreamError.Wrap(err, "upstream response for model %s is too large", d.ModelName)
		}
		return u, false, streamError(d, err)
	}
	*bp = b
	u, err = p.Answer(f, rc, x, b)
	u.UpstreamStatus = status
	if err != nil {
		return u, false, err
	}
	copySafeHeaders(rc, resp, d)
	return u, false, nil
}

// answerBufs holds the buffers whole upstream answers are read into (about
// a third of the bytes the edge allocated per request); a rare huge
// answer's buffer (past 256 KiB) is not kept.
var answerBufs = bufpool.Pool{Max: 256 << 10}

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
// id, the client headers the endpoint passes on, then the deployment's
// extra_headers, so a deployment can override
// anything, e.g. a gateway upstream that wants its key in another header),
// sends it and returns the response head; the body is read by the caller,
// which releases resp.
func (f *Forwarder) roundTrip(req *fasthttp.Request, c *Call, payload []byte) (*fasthttp.Response, error) {
	d := c.Deployment
	if c.RequestID != "" {
		req.Header.Set("X-Request-Id", c.RequestID)
	}
	for k, v := range c.PassHeaders {
		req.Header.Set(k, v)
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
