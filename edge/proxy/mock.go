package proxy

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/jsonw"
	"github.com/gatehouse/gatehouse/policy"
)

// The mock provider answers like OpenAI without a network, for load tests
// of the gateway and for clients' integration tests. Its answer depends
// only on the deployment and the request body, so tests can assert on it.
//
// Token counts are whitespace-separated words (prompt: the text of every
// message; completion: the answer). They are not a tokenizer's counts, but
// they are deterministic and give spend tracking non-zero numbers.

// mock answers in-process: it implements Provider itself, not
// HTTPProvider, because there is no upstream to round-trip to.
type mock struct{}

func init() { registerProvider(policy.ProviderMock, mock{}) }

// Chat counts the mock's time as upstream time: it stands in for one.
func (mock) Chat(f *Forwarder, rc *fasthttp.RequestCtx, x *Exchange) (Usage, bool, error) {
	var u Usage
	var err error
	switch x.Call.Endpoint {
	case policy.EndpointEmbeddings:
		u, err = mockEmbeddings(rc, x.Model, x.Call.Body)
	case policy.EndpointResponses:
		u, err = mockResponses(rc, x)
	case policy.EndpointCompletions:
		u, err = mockCompletions(rc, x.Deployment, x.Model, x.Call.Body, x.Call.Stream, x.Start)
	default:
		u, err = f.mock(rc, x.Deployment, x.Model, x.Call.Body, x.Call.Stream, x.Start)
	}
	x.waited = time.Since(x.Start)
	return u, false, err
}

type mockRequest struct {
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

type mockPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// messageText is the text of a message content: the string itself, or the
// text parts of a multi-part content concatenated (images have no text).
func messageText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	case '[':
		var parts []mockPart
		_ = json.Unmarshal(raw, &parts)
		n := 0
		for _, p := range parts {
			n += len(p.Text)
		}
		b := make([]byte, 0, n)
		for _, p := range parts {
			if p.Type == "text" || p.Type == "" {
				b = append(b, p.Text...)
			}
		}
		return string(b)
	}
	return ""
}

// countWords counts whitespace-separated words like len(strings.Fields(s))
// without building the slice.
func countWords(s string) int {
	n, in := 0, false
	for _, r := range s {
		if unicode.IsSpace(r) {
			in = false
		} else if !in {
			in, n = true, n+1
		}
	}
	return n
}

// mock answers the request and reports the usage it put in the answer, so
// spend accounting works the same with the mock as with a real upstream.
// Like OpenAI it sends a stream's usage chunk only when the client set
// stream_options.include_usage; the usage is reported either way.
func (f *Forwarder) mock(rc *fasthttp.RequestCtx, d *policy.Deployment, model string, body []byte, stream bool,
	start time.Time) (Usage, error) {
	var req mockRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return Usage{}, apierror.InvalidJSON.Wrap(err, "request body is not valid JSON")
	}
	promptTokens := 0
	said := ""
	for _, m := range req.Messages {
		t := messageText(m.Content)
		promptTokens += countWords(t)
		if m.Role == "user" {
			said = t
		}
	}
	content := d.MockResponse
	if content == "" {
		content = "This is a mock response from " + model + ". You said: " + said
	}
	completionTokens := countWords(content)
	u := Usage{PromptTokens: int64(promptTokens), CompletionTokens: int64(completionTokens),
		TotalTokens: int64(promptTokens + completionTokens), Status: fasthttp.StatusOK, Outcome: OutcomeOK, Model: model,
		UpstreamStatus: fasthttp.StatusOK}

	h := fnv.New64a()
	_, _ = h.Write(body)
	var sum [8]byte
	binary.BigEndian.PutUint64(sum[:], h.Sum64())
	var id [len("chatcmpl-mock-") + 16]byte
	copy(id[:], "chatcmpl-mock-")
	hex.Encode(id[len("chatcmpl-mock-"):], sum[:])
	u.ID = string(id[:])
	created := time.Now().Unix()

	usage := func(b []byte) []byte {
		b = append(b, `"usage":{"prompt_tokens":`...)
		b = strconv.AppendInt(b, int64(promptTokens), 10)
		b = append(b, `,"completion_tokens":`...)
		b = strconv.AppendInt(b, int64(completionTokens), 10)
		b = append(b, `,"total_tokens":`...)
		b = strconv.AppendInt(b, int64(promptTokens+completionTokens), 10)
		return append(b, '}')
	}
	head := func(b []byte, object string) []byte {
		b = append(b, `{"id":"`...)
		b = append(b, id[:]...)
		b = append(b, `","object":"`...)
		b = append(b, object...)
		b = append(b, `","created":`...)
		b = strconv.AppendInt(b, created, 10)
		b = append(b, `,"model":`...)
		b = jsonw.AppendString(b, model, false)
		return append(b, `,"choices":`...)
	}

	if !stream {
		out := make([]byte, 0, 256+len(model)+2*len(content))
		out = head(out, "chat.completion")
		out = append(out, `[{"index":0,"message":{"role":"assistant","content":`...)
		out = jsonw.AppendString(out, content, false)
		out = append(out, `},"finish_reason":"stop"}],`...)
		out = usage(out)
		out = append(out, '}')
		rc.SetStatusCode(fasthttp.StatusOK)
		rc.Response.Header.SetContentType("application/json")
		rc.Response.SetBodyRaw(out)
		return u, nil
	}

	// The whole stream is known up front, so it is sent as one body rather
	// than through a stream-writer goroutine: SSE parsers see the same
	// frames, and a mock request stays cheap under load tests.
	//
	// With include_usage, OpenAI adds "usage":null to every chunk and ends
	// with a chunk of empty choices carrying the usage; so does the mock.
	withUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	end := "}\n\n"
	if withUsage {
		end = `,"usage":null}` + "\n\n"
	}
	words := countWords(content)
	frame := 160 + len(model)
	out := make([]byte, 0, (words+5)*frame+2*len(content))
	out = append(out, "data: "...)
	out = head(out, "chat.completion.chunk")
	out = append(out, `[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]`...)
	out = append(out, end...)
	for rest := content; rest != ""; {
		w := nextWord(rest)
		out = append(out, "data: "...)
		out = head(out, "chat.completion.chunk")
		out = append(out, `[{"index":0,"delta":{"content":`...)
		out = jsonw.AppendString(out, rest[:w], false)
		out = append(out, `},"finish_reason":null}]`...)
		out = append(out, end...)
		rest = rest[w:]
	}
	out = append(out, "data: "...)
	out = head(out, "chat.completion.chunk")
	out = append(out, `[{"index":0,"delta":{},"finish_reason":"stop"}]`...)
	out = append(out, end...)
	if withUsage {
		out = append(out, "data: "...)
		out = head(out, "chat.completion.chunk")
		out = append(out, "[],"...)
		out = usage(out)
		out = append(out, "}\n\n"...)
	}
	out = append(out, "data: [DONE]\n\n"...)
	rc.SetStatusCode(fasthttp.StatusOK)
	rc.Response.Header.SetContentType("text/event-stream")
	rc.Response.Header.Set(fasthttp.HeaderCacheControl, "no-cache")
	rc.Response.Header.Set("X-Accel-Buffering", "no")
	rc.Response.SetBodyRaw(out)
	// The whole answer is ready now; it reaches the client as one write.
	u.TTFT = time.Since(start)
	return u, nil
}

// nextWord returns the length of the leading whitespace plus the word after
// it; trailing whitespace at the end of s joins the last word. Chunks made
// this way concatenate back to s exactly.
func nextWord(s string) int {
	i := 0
	for i < len(s) { // leading space
		r, n := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			break
		}
		i += n
	}
	for i < len(s) { // the word
		r, n := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			break
		}
		i += n
	}
	if j := i; j < len(s) {
		// Only whitespace left: keep it with this word.
		for j < len(s) {
			r, n := utf8.DecodeRuneInString(s[j:])
			if !unicode.IsSpace(r) {
				return i
			}
			j += n
		}
		return j
	}
	return i
}
