package proxy

import (
	"encoding/json"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// The Messages API to anthropic/ deployments: the client's body with the
// model replaced, and the answer (JSON or SSE) relayed byte for byte, so
// everything Anthropic adds (thinking signatures, citations, server
// tools, beta fields) reaches the client. The usage is read on the way.

// anthropicTarget is the Messages API URL of d plus path ("" or
// "/count_tokens"), for chat completions and the Messages API alike, so
// the two cannot disagree on an api_base. LiteLLM accepts an api_base
// with or without /v1/messages.
func anthropicTarget(d *policy.Deployment, path string) (string, error) {
	base := d.APIBase
	if base == "" {
		base = DefaultAPIBase(d.Provider)
	}
	if err := httpBase(d, base); err != nil {
		return "", err
	}
	t := strings.TrimRight(base, "/")
	if path == "" && strings.HasSuffix(t, "/v1/messages") {
		// Every request to Anthropic comes here: a base that already is
		// the URL is used as is, not copied.
		return t, nil
	}
	return strings.TrimSuffix(t, "/v1/messages") + "/v1/messages" + path, nil
}

// prepareNativeMessages is Prepare for a Messages API call (or its
// count_tokens) to Anthropic.
func prepareNativeMessages(x *Exchange, path string) error {
	target, err := anthropicTarget(x.Deployment, path)
	if err != nil {
		return err
	}
	payload, err := RewriteModel(x.Call.Body, x.Model)
	if err != nil {
		return apierror.InvalidJSON.Wrap(err, "request body must be a JSON object with a string \"model\"")
	}
	x.Target, x.Payload = target, payload
	return nil
}

// answerNative relays a complete answer of another API's shape as is
// (redacted), with the usage read by usage.
func answerNative(rc *fasthttp.RequestCtx, x *Exchange, b []byte, u Usage) (Usage, error) {
	status := x.Response.StatusCode()
	u.Status, u.Outcome = status, OutcomeOK
	rc.SetStatusCode(status)
	rc.Response.Header.SetContentType("application/json")
	rc.Response.SetBody(redactDeployment(b, x.Deployment)) // a copy: b is recycled (exchange)
	return u, nil
}

// nativeMessageUsage is the usage of a Message body. Cache reads and
// writes are prompt tokens, as on the chat path (anthropicUsage.chat).
func nativeMessageUsage(b []byte, payload []byte) Usage {
	var m struct {
		ID    string          `json:"id"`
		Model string          `json:"model"`
		Usage *anthropicUsage `json:"usage"`
	}
	if json.Unmarshal(b, &m) != nil || m.Usage == nil {
		p := EstimateTokens(promptChars(payload))
		return Usage{Estimated: true, PromptTokens: p, TotalTokens: p, ID: m.ID}
	}
	u := Usage{Model: m.Model, ID: m.ID}
	u.set(m.Usage.tokens())
	return u
}

// streamNative relays an SSE answer of another API's shape with frames
// reading its accounting.
func (f *Forwarder) streamNative(rc *fasthttp.RequestCtx, x *Exchange, frames frameReader) (StreamWriter, error) {
	s, err := f.startStream(x.Deployment, x.Response, x.Call.Done)
	if err != nil {
		return nil, err
	}
	status := x.Response.StatusCode()
	s.start, s.status, s.payload, s.progress, s.frames = x.Start, status, x.Payload, x.Call.Progress, frames
	rc.SetStatusCode(status)
	rc.Response.Header.SetContentType("text/event-stream")
	return s, nil
}

// anthropicFrames reads Anthropic's stream events: input counts from
// message_start, generated text from the deltas, the final counts from
// message_delta.
type anthropicFrames struct {
	usage anthropicUsage
	model string
}

func (a *anthropicFrames) read(ev []byte) (frameInfo, []byte) {
	var fi frameInfo
	e, ok := sseJSON[streamEvent](ev)
	if !ok {
		return fi, nil
	}
	switch e.Type {
	case "message_start":
		a.usage, a.model = e.Message.Usage, e.Message.Model
		fi.id = keptID(e.Message.ID)
	case "content_block_start":
		fi.chars = int64(len(e.Block.Name) + len([]rune(e.Block.Text)))
	case "content_block_delta":
		fi.chars = int64(len([]rune(e.Delta.Text)) + len(e.Delta.PartialJSON) + len([]rune(e.Delta.Thinking)))
	case "message_delta":
		if e.Usage != nil {
			a.usage.update(e.Usage)
			fi.hasUsage, fi.tokens = true, a.usage.tokens()
		}
	}
	if a.model != "" {
		fi.model = []byte(a.model)
	}
	return fi, nil
}

// sseJSON decodes the data of the SSE event ev as a T; false for an event
// without data (nothing allocated) or with data that is not a T.
func sseJSON[T any](ev []byte) (*T, bool) {
	ds, ok := sseData(ev)
	if !ok {
		return nil, false
	}
	v := new(T)
	return v, json.Unmarshal(firstLine(ev[ds:]), v) == nil
}

// firstLine is an SSE data value up to its line end.
func firstLine(b []byte) []byte {
	for i, c := range b {
		if c == '\n' || c == '\r' {
			return b[:i]
		}
	}
	return b
}
