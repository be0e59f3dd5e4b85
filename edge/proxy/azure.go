package proxy

import (
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// azure is Azure OpenAI: OpenAI's wire format and answers, with the
// deployment in the URL path, the API version in the query and the key in
// api-key.
type azure struct{ openAI }

func init() { registerProvider(policy.ProviderAzure, viaHTTP{azure{}}) }

// DefaultAzureAPIVersion is LiteLLM's AZURE_DEFAULT_API_VERSION, used when
// an azure/ deployment sets no api_version, so a migrated config calls the
// same API version it did under LiteLLM.
const DefaultAzureAPIVersion = "2025-02-01-preview"

func (azure) Prepare(x *Exchange) error {
	if x.Call.Endpoint == policy.EndpointResponses {
		return prepareResponses(x)
	}
	target, err := azureEndpoint(x.Deployment, x.Model, x.Call.Endpoint)
	if err != nil {
		return err
	}
	x.Target = target
	return openAIPayload(x)
}

func (azure) Authorize(req *fasthttp.Request, d *policy.Deployment) {
	if d.APIKey != "" {
		// Azure takes its key in api-key; a Bearer header would be read
		// as an Entra ID token and refused.
		req.Header.Set("api-key", d.APIKey)
	}
	if d.Organization != "" {
		req.Header.Set("OpenAI-Organization", d.Organization)
	}
}

// azureEndpoint is Azure OpenAI's URL of e's API for a deployment:
// the deployment is in the path and the API version in the query, as the
// openai SDK's AzureOpenAI client (which LiteLLM uses) builds it. Azure
// has no default host: every resource has its own.
func azureEndpoint(d *policy.Deployment, deployment string, e policy.Endpoint) (string, *apierror.Error) {
	base, version, err := azureResource(d)
	if err != nil {
		return "", err
	}
	return base + "/openai/deployments/" + url.PathEscape(deployment) + openAIPaths[e] + "?api-version=" + url.QueryEscape(version), nil
}

// azureResource is d's Azure resource URL (without /openai) and API
// version.
func azureResource(d *policy.Deployment) (base, version string, err *apierror.Error) {
	base = d.APIBase
	if base == "" {
		return "", "", apierror.Internal.With("deployment %s is misconfigured: provider azure needs an api_base", d.ModelName)
	}
	if err := httpBase(d, base); err != nil {
		return "", "", err
	}
	version = d.APIVersion
	if version == "" {
		version = DefaultAzureAPIVersion
	}
	// An api_base copied from the Azure portal sometimes already ends in
	// /openai; the SDK would not double it either.
	return strings.TrimSuffix(strings.TrimRight(base, "/"), "/openai"), version, nil
}
