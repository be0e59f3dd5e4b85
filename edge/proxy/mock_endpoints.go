package proxy

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"math"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/jsonw"
	"github.com/gatehouse/gatehouse/policy"
)

// MockEmbeddingDimensions is the length of the mock's vectors when the
// request sets no "dimensions": text-embedding-3-small's.
const MockEmbeddingDimensions = 1536

// maxMockDimensions bounds what a request may ask the mock for (OpenAI's
// largest model has 3072).
const maxMockDimensions = 4096

type mockEmbeddingRequest struct {
	Input          json.RawMessage `json:"input"`
	Dimensions     *int            `json:"dimensions"`
	EncodingFormat string          `json:"encoding_format"`
}

// mockEmbeddings answers like OpenAI's /embeddings: one unit vector per
// input, derived from the input alone (same input, same vector, whatever
// the request around it), so retrieval demos and tests are repeatable.
// Tokens are words for text and the array's length for a token array.
func mockEmbeddings(rc *fasthttp.RequestCtx, model string, body []byte) (Usage, error) {
	var req mockEmbeddingRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return Usage{}, mockParamError("input", "request body does not match the embeddings request: %v", err)
	}
	items, tokens, err := embeddingInputs(req.Input)
	if err != nil {
		return Usage{}, err
	}
	dims := MockEmbeddingDimensions
	if req.Dimensions != nil {
		if dims = *req.Dimensions; dims < 1 || dims > maxMockDimensions {
			return Usage{}, mockParamError("dimensions", "dimensions must be between 1 and %d, got %d", maxMockDimensions, dims)
		}
	}
	b64 := false
	switch req.EncodingFormat {
	case "", "float":
	case "base64":
		b64 = true
	default:
		return Usage{}, mockParamError("encoding_format", "encoding_format must be \"float\" or \"base64\", got %q", req.EncodingFormat)
	}
	vec := make([]float32, dims)
	per := 16 * dims
	if b64 {
		per = dims*4*4/3 + 8
	}
	out := make([]byte, 0, 128+len(model)+len(items)*(per+64))
	out = append(out, `{"object":"list","data":[`...)
	var raw []byte
	for i, it := range items {
		mockVector(it, vec)
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"object":"embedding","index":`...)
		out = strconv.AppendInt(out, int64(i), 10)
		out = append(out, `,"embedding":`...)
		if b64 {
			// OpenAI's base64: the little-endian float32s.
			raw = raw[:0]
			for _, v := range vec {
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
			}
			out = append(out, '"')
			out = base64.StdEncoding.AppendEncode(out, raw)
			out = append(out, '"')
		} else {
			out = append(out, '[')
			for j, v := range vec {
				if j > 0 {
					out = append(out, ',')
				}
				out = strconv.AppendFloat(out, float64(v), 'g', -1, 32)
			}
			out = append(out, ']')
		}
		out = append(out, '}')
	}
	out = append(out, `],"model":`...)
	out = jsonw.AppendString(out, model, false)
	out = append(out, `,"usage":{"prompt_tokens":`...)
	out = strconv.AppendInt(out, tokens, 10)
	out = append(out, `,"total_tokens":`...)
	out = strconv.AppendInt(out, tokens, 10)
	out = append(out, "}}"...)
	rc.SetStatusCode(fasthttp.StatusOK)
	rc.Response.Header.SetContentType("application/json")
	rc.Response.SetBodyRaw(out)
	return Usage{PromptTokens: tokens, TotalTokens: tokens, Status: fasthttp.StatusOK, Outcome: OutcomeOK, Model: model,
		UpstreamStatus: fasthttp.StatusOK}, nil
}

// embeddingInputs splits an embeddings "input" into its items (each the
// JSON of one string or token array, which seeds its vector) and counts
// their tokens. Like OpenAI it refuses an empty input.
func embeddingInputs(raw json.RawMessage) (items [][]byte, tokens int64, err error) {
	invalid := func() error {
		return mockParamError("input", "input must be a non-empty string, an array of non-empty strings, an array of tokens or an array of token arrays")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil, 0, invalid()
		}
		return [][]byte{raw}, int64(countWords(s)), nil
	}
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) != nil || len(arr) == 0 {
		return nil, 0, invalid()
	}
	var toks []int64
	if json.Unmarshal(raw, &toks) == nil {
		// One token array is one input.
		return [][]byte{raw}, int64(len(toks)), nil
	}
	for _, it := range arr {
		switch {
		case json.Unmarshal(it, &s) == nil && s != "":
			tokens += int64(countWords(s))
		case json.Unmarshal(it, &toks) == nil && len(toks) > 0:
			tokens += int64(len(toks))
		default:
			return nil, 0, invalid()
		}
		items = append(items, it)
	}
	return items, tokens, nil
}

// mockVector fills v with a unit vector derived from seed (splitmix64 over
// its FNV hash).
func mockVector(seed []byte, v []float32) {
	h := fnv.New64a()
	_, _ = h.Write(seed)
	x := h.Sum64()
	var norm float64
	for i := range v {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		f := float64(z>>11)/float64(1<<53)*2 - 1
		v[i] = float32(f)
		norm += f * f
	}
	if norm == 0 {
		return
	}
	inv := 1 / math.Sqrt(norm)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
}

func mockParamError(param, format string, args ...any) *apierror.Error {
	e := apierror.BadRequest.With(format, args...)
	e.Param = param
	return e
}

type mockCompletionRequest struct {
	Prompt        json.RawMessage `json:"prompt"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

type mockTextChoice struct {
	Text         string  `json:"text"`
	Index        int     `json:"index"`
	Logprobs     any     `json:"logprobs"`
	FinishReason *string `json:"finish_reason"`
}

type mockTextCompletion struct {
	ID      string           `json:"id"`
	Object  string           `json:"object"`
	Created int64            `json:"created"`
	Model   string           `json:"model"`
	Choices []mockTextChoice `json:"choices"`
	Usage   *chatUsage       `json:"usage,omitempty"`
}

// mockCompletions answers a legacy text completion like OpenAI's
// /completions: one choice per prompt, echoing it (or mock_response),
// streamed word by word when asked, with the usage chunk under
// stream_options.include_usage.
func mockCompletions(rc *fasthttp.RequestCtx, d *policy.Deployment, model string, body []byte, stream bool,
	start time.Time) (Usage, error) {
	var req mockCompletionRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return Usage{}, mockParamError("prompt", "request body does not match the completions request: %v", err)
	}
	var prompts []string
	var one string
	if json.Unmarshal(req.Prompt, &one) == nil {
		prompts = []string{one}
	} else if json.Unmarshal(req.Prompt, &prompts) != nil || len(prompts) == 0 {
		return Usage{}, mockParamError("prompt", "prompt must be a string or a non-empty array of strings (the mock does not read token arrays)")
	}
	var usage chatUsage
	texts := make([]string, len(prompts))
	for i, p := range prompts {
		texts[i] = d.MockResponse
		if texts[i] == "" {
			texts[i] = "This is a mock response from " + model + ". You said: " + p
		}
		usage.PromptTokens += int64(countWords(p))
		usage.CompletionTokens += int64(countWords(texts[i]))
	}
	usage.TotalTokens = usage.PromptTokens + usage.CompletionTokens
	h := fnv.New64a()
	_, _ = h.Write(body)
	resp := mockTextCompletion{ID: "cmpl-mock-" + strconv.FormatUint(h.Sum64(), 16), Object: "text_completion",
		Created: time.Now().Unix(), Model: model}
	u := Usage{PromptTokens: usage.PromptTokens, CompletionTokens: usage.CompletionTokens, TotalTokens: usage.TotalTokens,
		Status: fasthttp.StatusOK, Outcome: OutcomeOK, Model: model, UpstreamStatus: fasthttp.StatusOK, ID: resp.ID}
	stop := "stop"
	rc.SetStatusCode(fasthttp.StatusOK)
	if !stream {
		for i, t := range texts {
			resp.Choices = append(resp.Choices, mockTextChoice{Text: t, Index: i, FinishReason: &stop})
		}
		resp.Usage = &usage
		out, _ := json.Marshal(resp)
		rc.Response.Header.SetContentType("application/json")
		rc.Response.SetBodyRaw(out)
		return u, nil
	}
	var out []byte
	frame := func(r mockTextCompletion) {
		b, _ := json.Marshal(r)
		out = append(out, "data: "...)
		out = append(out, b...)
		out = append(out, "\n\n"...)
	}
	for i, t := range texts {
		for rest := t; rest != ""; {
			w := nextWord(rest)
			resp.Choices = []mockTextChoice{{Text: rest[:w], Index: i}}
			frame(resp)
			rest = rest[w:]
		}
		resp.Choices = []mockTextChoice{{Index: i, FinishReason: &stop}}
		frame(resp)
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		resp.Choices, resp.Usage = []mockTextChoice{}, &usage
		frame(resp)
	}
	out = append(out, "data: [DONE]\n\n"...)
	rc.Response.Header.SetContentType("text/event-stream")
	rc.Response.Header.Set(fasthttp.HeaderCacheControl, "no-cache")
	rc.Response.SetBodyRaw(out)
	u.TTFT = time.Since(start)
	return u, nil
}
