package gateway

import (
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/edge/proxy"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// embeddings is POST /v1/embeddings (and /embeddings, Azure's
// /openai/deployments/{d}/embeddings).
func (g *Gateway) embeddings(c *fiber.Ctx) error { return g.llmCall(c, policy.EndpointEmbeddings) }

// completions is POST /v1/completions, legacy text completions.
func (g *Gateway) completions(c *fiber.Ctx) error { return g.llmCall(c, policy.EndpointCompletions) }

// streams reports whether ep answers with SSE when the body says
// "stream": true. Embeddings never stream: the flag is left to the
// upstream to refuse, and the answer is read as one body.
func streams(ep policy.Endpoint) bool {
	return ep != policy.EndpointEmbeddings && ep != policy.EndpointCountTokens
}

// checkBody refuses a body without the field ep needs, naming it, before
// anything is charged or sent.
func checkBody(ep policy.Endpoint, r *proxy.ChatRequest) error {
	switch ep {
	case policy.EndpointEmbeddings:
		return stringOrArray("input", r.Input, "a string, an array of strings, or an array of token arrays")
	case policy.EndpointCompletions:
		return stringOrArray("prompt", r.Prompt, "a string, an array of strings, or an array of token arrays")
	case policy.EndpointResponses:
		if r.Prompt == '{' {
			return nil // a stored prompt template may stand for the input
		}
		return stringOrArray("input", r.Input, "a string or an array of input items")
	}
	if !r.Messages {
		e := apierror.MissingParam.With("messages must be a non-empty array")
		e.Param = "messages"
		return e
	}
	return nil
}

// litellmRoutes are the routes LiteLLM names in its refusal of a model no
// deployment serves.
var litellmRoutes = [...]string{policy.EndpointChat: "/chat/completions", policy.EndpointEmbeddings: "/embeddings",
	policy.EndpointCompletions: "/completions", policy.EndpointResponses: "/responses",
	policy.EndpointMessages: "/v1/messages", policy.EndpointCountTokens: "/v1/messages/count_tokens"}

// invalidModel is LiteLLM's answer to a model name no deployment serves
// (reached only by a caller whose access check passed: a restricted one
// is refused with the models it may use first).
func invalidModel(ep policy.Endpoint, model string) error {
	e := apierror.InvalidModel.With("%s: Invalid model name passed in model=%s. Call `/v1/models` to view available models for your key.", litellmRoutes[ep], model)
	e.Param = "model"
	return e
}

// stringOrArray checks a required field whose value starts with first
// (see proxy.ChatRequest.Input).
func stringOrArray(field string, first byte, want string) error {
	switch first {
	case '"', '[':
		return nil
	case 0, 'n':
		e := apierror.MissingParam.With("%s is required: %s", field, want)
		e.Param = field
		return e
	}
	e := apierror.BadRequest.With("field %q: expected %s", field, want)
	e.Param = field
	return e
}

// servingRoute keeps the deployments of r that serve ep. A group whose
// deployments all do (every chat group, the common case) is returned as
// is, without allocating; one where none does is a 400 saying why.
func servingRoute(r policy.Route, ep policy.Endpoint) (policy.Route, error) {
	n := 0
	for _, d := range r.Deployments {
		if d.Serves(ep) {
			n++
		}
	}
	switch n {
	case len(r.Deployments):
		return r, nil
	case 0:
		return r, proxy.NotServed(r.Deployments[0], ep)
	}
	ds := make([]*policy.Deployment, 0, n)
	for _, d := range r.Deployments {
		if d.Serves(ep) {
			ds = append(ds, d)
		}
	}
	r.Deployments = ds
	return r, nil
}
