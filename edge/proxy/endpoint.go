package proxy

import (
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// openAIPaths are the OpenAI wire format's paths of each endpoint, below
// api_base (and below an Azure deployment).
var openAIPaths = [...]string{
	policy.EndpointChat:        "/chat/completions",
	policy.EndpointEmbeddings:  "/embeddings",
	policy.EndpointCompletions: "/completions",
	policy.EndpointResponses:   "/responses",
}

// endpointRoutes name each endpoint's route in errors, so a client told
// "no" also reads where to go instead.
var endpointRoutes = [...]string{
	policy.EndpointChat:        "/v1/chat/completions",
	policy.EndpointEmbeddings:  "/v1/embeddings",
	policy.EndpointCompletions: "/v1/completions",
	policy.EndpointResponses:   "/v1/responses",
	policy.EndpointMessages:    "/v1/messages",
	policy.EndpointCountTokens: "/v1/messages/count_tokens",
}

// servedBy says which deployments serve each endpoint, for NotServed.
var servedBy = [...]string{
	policy.EndpointEmbeddings:  "OpenAI-compatible and azure/ deployments",
	policy.EndpointCompletions: "OpenAI-compatible and azure/ deployments",
	policy.EndpointResponses:   "OpenAI-compatible and azure/ deployments; call /v1/chat/completions for this model",
	policy.EndpointMessages:    "every provider",
	policy.EndpointCountTokens: "anthropic/ deployments",
}

// Route is the path clients call e on.
func Route(e policy.Endpoint) string { return endpointRoutes[e] }

// NotServed is the 400 for a request to an endpoint d does not serve:
// its provider has no such API, or its model_info.mode is another.
func NotServed(d *policy.Deployment, e policy.Endpoint) *apierror.Error {
	var err *apierror.Error
	p := d.Provider
	if d.MockResponse != "" {
		p = policy.ProviderMock
	}
	if !policy.ProviderServes(p, e) {
		err = apierror.BadRequest.With("model %s: its deployment's provider %s does not serve %s (%s); %s is served for %s",
			d.ModelName, d.Provider, e, endpointRoutes[e], e, servedBy[e])
	} else {
		err = apierror.BadRequest.With("model %s is a%s model (model_info.mode: %s) and does not serve %s (%s)%s",
			d.ModelName, article(d.Mode), d.Mode, e, endpointRoutes[e], modeHint(d.Mode))
	}
	err.Param = "model"
	return err
}

func article(mode string) string {
	if mode == policy.ModeEmbedding {
		return "n " + mode
	}
	return " " + mode
}

// modeHint says where a deployment of mode is called.
func modeHint(mode string) string {
	switch mode {
	case policy.ModeEmbedding:
		return "; call /v1/embeddings"
	case policy.ModeCompletion:
		return "; call /v1/completions"
	case policy.ModeChat:
		return "; call /v1/chat/completions"
	}
	return ""
}
