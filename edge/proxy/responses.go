package proxy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// OpenAI's Responses API (POST /v1/responses, GET and DELETE
// /v1/responses/{id}) to OpenAI-format and Azure deployments. The body is
// the client's with the model replaced and the answer is relayed as is,
// except for the response id.
//
// A stored response lives at the deployment (the provider account) that
// created it, and any edge may get the GET that follows. So the id the
// client sees names the deployment, statelessly: the upstream id, then
// ResponseIDMark, then base64url of the requested model and the
// deployment id. An edge reading it back resolves that model, checks that
// the caller may use it, and relays to that deployment with the upstream
// id. The token is opaque, not secret: a forged one can only name a
// deployment the caller may use anyway.

// ResponseIDMark separates the upstream id from the deployment token.
// "." is not in base64url, so the last mark is the separator.
const ResponseIDMark = ".gh1"

// ResponseIDSuffix is what the client's response id carries after the
// upstream's, for a response of deploymentID reached as model requested.
func ResponseIDSuffix(requested, deploymentID string) string {
	return ResponseIDMark + base64.RawURLEncoding.EncodeToString([]byte(requested+"\x00"+deploymentID))
}

// ParseResponseID splits a client's response id. ok is false for an id
// that is not one of the gateway's.
func ParseResponseID(id string) (upstream, requested, deploymentID string, ok bool) {
	i := strings.LastIndex(id, ResponseIDMark)
	if i <= 0 {
		return "", "", "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(id[i+len(ResponseIDMark):])
	if err != nil {
		return "", "", "", false
	}
	requested, deploymentID, ok = strings.Cut(string(raw), "\x00")
	if !ok || requested == "" || deploymentID == "" {
		return "", "", "", false
	}
	return id[:i], requested, deploymentID, true
}

// responsesTarget is d's Responses API URL plus path ("" or "/{id}").
// Azure's is the resource's /openai/responses with an api-version that
// has it (the chat default predates it).
func responsesTarget(d *policy.Deployment, path string) (string, error) {
	if d.Provider == policy.ProviderAzure {
		base, version, err := azureResource(d)
		if err != nil {
			return "", err
		}
		if version < azureResponsesVersion { // API versions are dates
			version = azureResponsesVersion
		}
		return base + "/openai/responses" + path + "?api-version=" + url.QueryEscape(version), nil
	}
	t, err := endpoint(d, policy.EndpointResponses)
	if err != nil {
		return "", err
	}
	return t + path, nil
}

// azureResponsesVersion is the first Azure OpenAI API version with the
// Responses API.
const azureResponsesVersion = "2025-03-01-preview"

// prepareResponses is Prepare for POST /v1/responses: the model replaced,
// and a previous_response_id of the gateway's turned back into the
// upstream's.
func prepareResponses(x *Exchange) error {
	target, err := responsesTarget(x.Deployment, "")
	if err != nil {
		return err
	}
	payload, err := RewriteModel(x.Call.Body, x.Model)
	if err != nil {
		return apierror.InvalidJSON.Wrap(err, "request body must be a JSON object with a string \"model\"")
	}
	x.Target, x.Payload = target, unwrapPreviousID(payload)
	return nil
}

// unwrapPreviousID replaces the gateway's previous_response_id with the
// upstream's (the gateway routed the request to its deployment).
func unwrapPreviousID(body []byte) []byte {
	var p struct {
		Prev string `json:"previous_response_id"`
	}
	if json.Unmarshal(body, &p) != nil || p.Prev == "" {
		return body
	}
	up, _, _, ok := ParseResponseID(p.Prev)
	if !ok {
		return body
	}
	old, _ := json.Marshal(p.Prev)
	repl, _ := json.Marshal(up)
	return bytes.ReplaceAll(body, old, repl)
}

// responsesAPIUsage is the Responses API's usage object.
type responsesAPIUsage struct {
	InputTokens        int64 `json:"input_tokens"`
	OutputTokens       int64 `json:"output_tokens"`
	TotalTokens        int64 `json:"total_tokens"`
	InputTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
}

// usage is the spend of a response: input tokens include the cached
// ones and output tokens the reasoning ones, as OpenAI bills them.
func (r *responsesAPIUsage) usage(model string) Usage {
	t := r.TotalTokens
	if t == 0 {
		t = r.InputTokens + r.OutputTokens
	}
	u := Usage{Model: model}
	u.set(tokens{prompt: r.InputTokens, completion: r.OutputTokens, total: t, cached: min(r.InputTokensDetails.CachedTokens, r.InputTokens)})
	return u
}

type responseObject struct {
	ID    string             `json:"id"`
	Model string             `json:"model"`
	Usage *responsesAPIUsage `json:"usage"`
}

// withResponseID rewrites every occurrence of the upstream response id
// (a JSON string) in b to the client's.
func withResponseID(b []byte, upstream, suffix string) []byte {
	if upstream == "" || suffix == "" {
		return b
	}
	old, _ := json.Marshal(upstream)
	repl, _ := json.Marshal(upstream + suffix)
	return bytes.ReplaceAll(b, old, repl)
}

// answerResponses relays a response object with the client's id and
// reads its usage.
func answerResponses(rc *fasthttp.RequestCtx, x *Exchange, b []byte) (Usage, error) {
	var r responseObject
	var u Usage
	if json.Unmarshal(b, &r) == nil && r.Usage != nil {
		u = r.Usage.usage(r.Model)
	} else {
		u.Estimated = true
		u.PromptTokens = EstimateTokens(responsesInputChars(x.Payload))
		u.TotalTokens = u.PromptTokens
	}
	if r.ID != "" && len(r.ID)+len(x.Call.IDSuffix) <= maxIDLen {
		u.ID = r.ID + x.Call.IDSuffix // the id withResponseID gives the client
	}
	return answerNative(rc, x, withResponseID(b, r.ID, x.Call.IDSuffix), u)
}

// responsesInputChars is the text of a Responses request's input (a
// string, or messages) for the estimate when no usage came back.
func responsesInputChars(payload []byte) int64 {
	var p struct {
		Input        json.RawMessage `json:"input"`
		Instructions string          `json:"instructions"`
	}
	_ = json.Unmarshal(payload, &p)
	n := int64(len([]rune(p.Instructions)))
	if len(p.Input) > 0 && p.Input[0] == '"' {
		return n + int64(len([]rune(inputText(p.Input))))
	}
	var msgs []struct {
		Content json.RawMessage `json:"content"`
	}
	_ = json.Unmarshal(p.Input, &msgs)
	for _, m := range msgs {
		n += int64(len([]rune(inputText(m.Content))))
	}
	return n
}

// responsesFrames reads the Responses API's typed events: the id from
// the first event that carries the response, generated text from the
// deltas, the usage from the final response.completed (or .incomplete,
// .failed), and rewrites the id in every event.
type responsesFrames struct {
	suffix   string
	upstream string
	model    string
}

// responsesEvent is what responsesFrames reads of an event.
type responsesEvent struct {
	Type     string          `json:"type"`
	Delta    string          `json:"delta"`
	Response *responseObject `json:"response"`
}

func (r *responsesFrames) read(ev []byte) (frameInfo, []byte) {
	var fi frameInfo
	e, ok := sseJSON[responsesEvent](ev)
	if !ok {
		return fi, nil
	}
	if e.Response != nil {
		if r.upstream == "" {
			r.upstream = e.Response.ID
			if r.upstream != "" {
				fi.id = keptID(r.upstream + r.suffix) // the client's, as withResponseID rewrites it
			}
		}
		if e.Response.Model != "" {
			r.model = e.Response.Model
		}
		if e.Response.Usage != nil {
			u := e.Response.Usage.usage(r.model)
			fi.hasUsage, fi.tokens = true, tokens{prompt: u.PromptTokens, completion: u.CompletionTokens, total: u.TotalTokens, cached: u.CachedTokens}
		}
	}
	if strings.HasSuffix(e.Type, ".delta") {
		fi.chars = int64(len([]rune(e.Delta)))
	}
	if r.model != "" {
		fi.model = []byte(r.model)
	}
	return fi, withResponseID(ev, r.upstream, r.suffix)
}

// RelayResponse relays GET or DELETE /v1/responses/{id} (and its
// sub-paths: input_items, cancel) to the deployment that created the
// response: upstreamPath is what follows /responses, with the upstream
// id; query is the client's query string. The answer has the client's
// ids.
func (f *Forwarder) RelayResponse(rc *fasthttp.RequestCtx, d *policy.Deployment, method, upstreamID, upstreamPath, suffix string, query []byte) error {
	if !d.Serves(policy.EndpointResponses) {
		return NotServed(d, policy.EndpointResponses)
	}
	hp, ok := providerFor(d.Provider).(viaHTTP)
	if !ok || d.MockResponse != "" {
		return apierror.NotFound.With("response %s not found: the mock provider does not store responses", upstreamID+suffix)
	}
	target, err := responsesTarget(d, upstreamPath)
	if err != nil {
		return err
	}
	if len(query) > 0 {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + string(query)
	}
	p := hp.HTTPProvider
	req := upstreamRequest(target, false)
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(method)
	p.Authorize(req, d)
	resp, err := f.roundTrip(req, &Call{Deployment: d}, nil)
	if err != nil {
		return err
	}
	defer func() {
		_ = resp.CloseBodyStream()
		fasthttp.ReleaseResponse(resp)
	}()
	if s := resp.StatusCode(); s < 200 || s >= 300 {
		return statusError(d, resp, p.MapError)
	}
	b, err := readBody(resp, f.opts.MaxResponseBodySize, false)
	if err != nil {
		return streamError(d, err)
	}
	rc.SetStatusCode(resp.StatusCode())
	rc.Response.Header.SetContentType("application/json")
	rc.Response.SetBodyRaw(redactDeployment(withResponseID(b, upstreamID, suffix), d))
	copySafeHeaders(rc, resp, d)
	return nil
}
