package policy

import "strings"

// Endpoint is an LLM API a client calls (chat completions, embeddings,
// ...). Every endpoint goes through the edge's one request path; the
// endpoint decides which deployments may answer and which upstream path
// the provider calls.
type Endpoint uint8

const (
	EndpointChat Endpoint = iota
	EndpointEmbeddings
	EndpointCompletions
	// EndpointResponses is OpenAI's Responses API (/v1/responses).
	EndpointResponses
	// EndpointMessages is Anthropic's Messages API (/v1/messages).
	EndpointMessages
	// EndpointCountTokens is the Messages API's /v1/messages/count_tokens.
	EndpointCountTokens
	numEndpoints
)

var endpointNames = [numEndpoints]string{EndpointChat: "chat", EndpointEmbeddings: "embeddings", EndpointCompletions: "completions",
	EndpointResponses: "responses", EndpointMessages: "messages", EndpointCountTokens: "count_tokens"}

// String is the endpoint's name as /v1/models lists it.
func (e Endpoint) String() string {
	if e < numEndpoints {
		return endpointNames[e]
	}
	return "unknown"
}

// Deployment modes (model_info.mode) the edge serves. "" is LiteLLM's
// default, chat.
const (
	ModeChat       = "chat"
	ModeEmbedding  = "embedding"
	ModeCompletion = "completion"
)

// ServedMode reports whether the edge serves deployments of model_info.mode
// m (config refuses the others).
func ServedMode(m string) bool {
	return m == "" || m == ModeChat || m == ModeEmbedding || m == ModeCompletion
}

// ProviderServes reports whether the edge can call provider's API for e
// (edge/proxy keeps its providers in step with this, by test). Every
// provider the edge calls serves chat; the OpenAI wire format ones also
// have /embeddings and /completions next to /chat/completions.
func ProviderServes(provider string, e Endpoint) bool {
	switch e {
	case EndpointChat:
		return CanServe(provider)
	case EndpointEmbeddings, EndpointCompletions, EndpointResponses:
		return provider == ProviderAzure || provider == ProviderMock || openAICompatible[provider]
	case EndpointMessages:
		// Anthropic's own API is passed through; every other provider is
		// reached through the chat completion translation.
		return CanServe(provider)
	case EndpointCountTokens:
		return provider == ProviderAnthropic
	}
	return false
}

// inferMode is a deployment's mode when model_info.mode is unset: an
// OpenAI embedding model (text-embedding-*) is an embedding deployment,
// as in LiteLLM's model map; everything else is chat, LiteLLM's default.
func inferMode(mode, upstream string) string {
	if mode == "" && strings.HasPrefix(upstream, "text-embedding-") {
		return ModeEmbedding
	}
	return mode
}

// Serves reports whether d answers requests to e: its provider must have
// the API, and its mode must fit. A deployment without a mode (LiteLLM's
// default, chat) serves every endpoint its provider has, so an
// OpenAI-compatible server's model can be called for embeddings or text
// completions without declaring it; an explicit mode serves that endpoint
// only (chat and completion deployments both also serve text
// completions, which chat models of OpenAI-compatible servers answer; a
// chat deployment also serves the Responses and Messages APIs, which are
// chat in another shape).
func (d *Deployment) Serves(e Endpoint) bool {
	p := d.Provider
	if d.MockResponse != "" {
		// mock_response answers in-process, whatever the provider.
		p = ProviderMock
	}
	// For chat the provider is not checked here: a deployment the edge
	// cannot call (config refuses those) fails in edge/proxy with the
	// reason (misconfigured, unsupported provider), not as "not served".
	if e != EndpointChat && !ProviderServes(p, e) {
		return false
	}
	switch d.Mode {
	case "":
		return true
	case ModeEmbedding:
		return e == EndpointEmbeddings
	case ModeChat:
		return e != EndpointEmbeddings
	case ModeCompletion:
		return e == EndpointCompletions
	}
	return false
}

// Endpoints lists the endpoints d serves, for /v1/models.
func (d *Deployment) Endpoints() []string {
	out := make([]string, 0, numEndpoints)
	for e := Endpoint(0); e < numEndpoints; e++ {
		if d.Serves(e) {
			out = append(out, e.String())
		}
	}
	return out
}
