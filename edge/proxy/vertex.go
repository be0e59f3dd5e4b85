package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// vertex is Vertex AI: Gemini models through generateContent (the Gemini
// translation), Anthropic models (vertex_ai/claude-...) through
// rawPredict and streamRawPredict (the Anthropic translation, with the
// model in the URL and anthropic_version in the body). Calls carry an
// OAuth access token from the deployment's service account
// (vertex_credentials) or Application Default Credentials, cached and
// refreshed before it expires.
type vertex struct{}

func init() { registerProvider(policy.ProviderVertex, viaHTTP{vertex{}}) }

// vertexAnthropicVersion is the Messages API version Vertex's Anthropic
// endpoint takes in the body.
const vertexAnthropicVersion = "vertex-2023-10-16"

const cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

func isVertexAnthropic(model string) bool { return strings.HasPrefix(model, "claude") }

func (vertex) Prepare(x *Exchange) error {
	d := x.Deployment
	c, err := vertexCredsFor(d)
	if err != nil {
		return err
	}
	project := d.Vertex.Project
	if project == "" {
		project = c.project
	}
	if project == "" {
		return apierror.Internal.With("deployment %s is misconfigured: vertex_ai needs vertex_project", d.ModelName)
	}
	location := d.Vertex.Location
	if location == "" {
		location = "us-central1"
	}
	base := d.APIBase
	switch {
	case base != "":
	case location == "global":
		base = "https://aiplatform.googleapis.com"
	default:
		base = "https://" + location + "-aiplatform.googleapis.com"
	}
	if err := httpBase(d, base); err != nil {
		return err
	}
	prefix := strings.TrimRight(base, "/") + "/v1/projects/" + url.PathEscape(project) + "/locations/" + url.PathEscape(location) + "/publishers/"
	if !isVertexAnthropic(x.Model) {
		x.Target = prefix + "google/models/" + url.PathEscape(x.Model) + geminiMethod(x.Call.Stream)
		return prepareGemini(x)
	}
	method := ":rawPredict"
	if x.Call.Stream {
		method = ":streamRawPredict"
	}
	x.Target = prefix + "anthropic/models/" + url.PathEscape(x.Model) + method
	return prepareFromAnthropic(x, x.Call.Stream, func(a *anthropicRequest) (*anthropicRequest, error) {
		a.Model, a.AnthropicVersion = "", vertexAnthropicVersion
		return a, nil
	})
}

func (vertex) Authorize(*fasthttp.Request, *policy.Deployment) {}

// Sign sets the access token; the token source refreshes it when it is
// about to expire, so only the first call and one call an hour wait for
// Google's token endpoint.
func (vertex) Sign(req *fasthttp.Request, x *Exchange) error {
	d := x.Deployment
	c, err := vertexCredsFor(d)
	if err != nil {
		return err
	}
	tok, err := c.tokens.Token()
	if err != nil {
		return noUpstreamCreds(d, "a Google access token", err)
	}
	req.Header.Set(fasthttp.HeaderAuthorization, "Bearer "+tok.AccessToken)
	return nil
}

func (vertex) MapError(d *policy.Deployment, status int, body []byte, retryAfter string) *apierror.Error {
	if isVertexAnthropic(d.UpstreamModel) {
		return mapAnthropicError(d, status, body, retryAfter)
	}
	return mapUpstreamError(d, status, body, retryAfter)
}

func (vertex) Answer(f *Forwarder, rc *fasthttp.RequestCtx, x *Exchange, b []byte) (Usage, error) {
	if isVertexAnthropic(x.Model) {
		return anthropic{}.Answer(f, rc, x, b)
	}
	return geminiAnswer(f, rc, x, b)
}

func (vertex) Stream(f *Forwarder, rc *fasthttp.RequestCtx, x *Exchange) (StreamWriter, error) {
	if isVertexAnthropic(x.Model) {
		return anthropic{}.Stream(f, rc, x)
	}
	return geminiStream(f, rc, x)
}

// vertexCreds is one credentials setting's token source and the project
// its credentials name.
type vertexCreds struct {
	tokens  oauth2.TokenSource
	project string
}

// vertexCache holds the token source of every vertex_credentials value
// seen (ADC under ""), so tokens are shared across deployments and
// snapshots, and refreshed once for all of them.
var vertexCache sync.Map // string -> *vertexCreds

// tokenClient fetches tokens; a token endpoint that hangs fails the call
// instead of holding it.
var tokenClient = &http.Client{Timeout: 15 * time.Second}

func vertexCredsFor(d *policy.Deployment) (*vertexCreds, error) {
	key := d.Vertex.Credentials
	if c, ok := vertexCache.Load(key); ok {
		return c.(*vertexCreds), nil
	}
	c, err := loadVertex(key)
	if err != nil {
		// The credentials themselves never reach the message.
		return nil, apierror.Internal.Wrap(err, "deployment %s is misconfigured: its Google credentials cannot be used", d.ModelName)
	}
	got, _ := vertexCache.LoadOrStore(key, c)
	return got.(*vertexCreds), nil
}

// loadVertex reads vertex_credentials: a JSON document (service account
// or authorized user), or a path to one; empty means Application Default
// Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud, the metadata
// server).
func loadVertex(creds string) (*vertexCreds, error) {
	// The context is kept by the token source for every refresh.
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, tokenClient)
	if creds == "" {
		c, err := google.FindDefaultCredentials(ctx, cloudPlatformScope)
		if err != nil {
			return nil, err
		}
		return &vertexCreds{tokens: c.TokenSource, project: c.ProjectID}, nil
	}
	data := []byte(creds)
	if !strings.HasPrefix(strings.TrimSpace(creds), "{") {
		b, err := os.ReadFile(creds)
		if err != nil {
			return nil, errors.New("vertex_credentials is neither JSON nor a readable file")
		}
		data = b
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, errors.New("vertex_credentials is not a JSON credentials document")
	}
	c, err := google.CredentialsFromJSONWithType(ctx, data, google.CredentialsType(head.Type), cloudPlatformScope)
	if err != nil {
		return nil, err
	}
	return &vertexCreds{tokens: c.TokenSource, project: c.ProjectID}, nil
}
