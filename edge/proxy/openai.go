package proxy

import (
	"errors"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/jsonscan"
	"github.com/gatehouse/gatehouse/policy"
)

// openAI is the OpenAI chat completions API and every server that speaks
// its wire format (vLLM, groq, together_ai, ...; see
// policy.IsOpenAICompatible). The request is the client's body with the
// model replaced, and the answer passes through byte for byte, apart from
// redaction and the usage chunk the client did not ask for.
type openAI struct{}

func init() { registerProvider(policy.ProviderOpenAI, viaHTTP{openAI{}}) }

const defaultOpenAIBase = "https://api.openai.com/v1"

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

// DefaultAPIBase is where a deployment of provider without api_base is
// sent; "" for providers without one fixed endpoint (Azure, Bedrock,
// Vertex AI, self-hosted servers, the mock).
func DefaultAPIBase(provider string) string {
	switch provider {
	case policy.ProviderAnthropic:
		return defaultAnthropicBase
	case policy.ProviderGemini:
		return defaultGeminiBase
	}
	return defaultAPIBase[provider]
}

func (openAI) Prepare(x *Exchange) error {
	if x.Call.Endpoint == policy.EndpointResponses {
		return prepareResponses(x)
	}
	target, err := endpoint(x.Deployment, x.Call.Endpoint)
	if err != nil {
		return err
	}
	x.Target = target
	return openAIPayload(x)
}

// openAIPayload rewrites the client's body for an OpenAI-format upstream:
// the upstream model, and include_usage for a stream. The payload is a
// fresh copy the forwarder owns, so a stream can keep it for the prompt
// estimate after the handler (and the body) are gone.
func openAIPayload(x *Exchange) error {
	rewrite := rewriteRequest
	if x.Call.Valid {
		rewrite = rewriteValid
	}
	payload, strip, err := rewrite(x.Call.Body, x.Model, x.Call.Stream)
	if errors.Is(err, ErrNoModel) {
		// Azure's routes name the deployment in the path, so a client
		// may send no "model"; the upstream body gets one all the same.
		payload, strip, err = rewrite(withModelKey(x.Call.Body), x.Model, x.Call.Stream)
	}
	if err != nil {
		return apierror.InvalidJSON.Wrap(err, "request body must be a JSON object with a string \"model\"")
	}
	x.Payload, x.ClientUsage = payload, !strip
	return nil
}

func (openAI) Authorize(req *fasthttp.Request, d *policy.Deployment) {
	if d.APIKey != "" {
		// Built on the stack: the header copies it, and "Bearer "+key
		// was an allocation per request.
		var buf [160]byte
		req.Header.SetBytesV(fasthttp.HeaderAuthorization, append(append(buf[:0], "Bearer "...), d.APIKey...))
	}
	if d.Organization != "" {
		req.Header.Set("OpenAI-Organization", d.Organization)
	}
}

func (openAI) MapError(d *policy.Deployment, status int, body []byte, retryAfter string) *apierror.Error {
	return mapUpstreamError(d, status, body, retryAfter)
}

func (openAI) Answer(_ *Forwarder, rc *fasthttp.RequestCtx, x *Exchange, b []byte) (Usage, error) {
	if x.Call.Endpoint == policy.EndpointResponses {
		return answerResponses(rc, x, b)
	}
	status := x.Response.StatusCode()
	u := bodyUsage(b, x.Payload, status)
	rc.SetStatusCode(status)
	if ct := x.Response.Header.ContentType(); len(ct) == 0 {
		rc.Response.Header.SetContentType("application/json")
	} else {
		rc.Response.Header.SetContentTypeBytes(ct)
	}
	rc.Response.SetBody(redactDeployment(b, x.Deployment)) // a copy: b is recycled (exchange)
	return u, nil
}

func (openAI) Stream(f *Forwarder, rc *fasthttp.RequestCtx, x *Exchange) (StreamWriter, error) {
	if x.Call.Endpoint == policy.EndpointResponses {
		return f.streamNative(rc, x, &responsesFrames{suffix: x.Call.IDSuffix})
	}
	s, err := f.startStream(x.Deployment, x.Response, x.Call.Done)
	if err != nil {
		return nil, err
	}
	status := x.Response.StatusCode()
	s.start, s.status, s.strip, s.payload, s.progress = x.Start, status, !x.ClientUsage, x.Payload, x.Call.Progress
	rc.SetStatusCode(status)
	rc.Response.Header.SetContentTypeBytes(x.Response.Header.ContentType())
	return s, nil
}

// endpoint is the URL of e's API (chat completions, embeddings, ...).
// Like LiteLLM it appends the path to api_base as given, so bases without
// /v1 (some vLLM and proxy setups) work.
func endpoint(d *policy.Deployment, e policy.Endpoint) (string, *apierror.Error) {
	base := d.APIBase
	if base == "" {
		base = DefaultAPIBase(d.Provider)
		if base == "" {
			return "", apierror.Internal.With("deployment %s is misconfigured: provider %s needs an api_base", d.ModelName, d.Provider)
		}
	}
	if err := httpBase(d, base); err != nil {
		return "", err
	}
	return strings.TrimRight(base, "/") + openAIPaths[e], nil
}

// bodyUsage is the usage of a non-streaming answer: the upstream's own
// when the body has a "usage" object, else estimated from the request's
// messages and the choices' messages.
func bodyUsage(b, payload []byte, status int) Usage {
	r := scanResponse(b)
	u := Usage{Status: status, Outcome: OutcomeOK}
	u.Model, u.ID = modelAndID(r.model, r.id)
	if r.hasUsage {
		u.set(r.tokens)
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

// AnswerUsage is the usage of a non-streaming chat completion answer as
// the edge counts it, request being the request's body: the answer's own
// "usage", else estimated (EstimateTokens) from the request's messages and
// the answer's choices. /spend/calculate prices it.
func AnswerUsage(answer, request []byte) Usage { return bodyUsage(answer, request, 200) }

// httpBase refuses a deployment's api_base that is not an http(s) URL.
// The base itself may hold credentials; the error does not echo it.
func httpBase(d *policy.Deployment, base string) *apierror.Error {
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return apierror.Internal.With("deployment %s is misconfigured: api_base must be an http(s) URL", d.ModelName)
	}
	return nil
}

// withModelKey is body (a JSON object without "model") with an empty
// "model" first, for the rewrite to fill in.
func withModelKey(body []byte) []byte {
	i := jsonscan.WS(body, 0)
	if i >= len(body) || body[i] != '{' {
		return body
	}
	sep := ","
	if j := jsonscan.WS(body, i+1); j < len(body) && body[j] == '}' {
		sep = ""
	}
	out := make([]byte, 0, len(body)+len(`"model":"",`))
	out = append(out, body[:i+1]...)
	out = append(out, `"model":""`+sep...)
	return append(out, body[i+1:]...)
}
