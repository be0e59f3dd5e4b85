package proxy

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

type embeddingList struct {
	Object string `json:"object"`
	Model  string `json:"model"`
	Data   []struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Usage struct {
		PromptTokens int64 `json:"prompt_tokens"`
		TotalTokens  int64 `json:"total_tokens"`
	} `json:"usage"`
}

func mockEmbed(t *testing.T, body string) (embeddingList, Usage, error) {
	t.Helper()
	var rc fasthttp.RequestCtx
	u, err := mockEmbeddings(&rc, "emb-model", []byte(body))
	var out embeddingList
	if err == nil {
		if jerr := json.Unmarshal(rc.Response.Body(), &out); jerr != nil {
			t.Fatalf("%v: %s", jerr, rc.Response.Body())
		}
	}
	return out, u, err
}

func vectorOf(t *testing.T, raw json.RawMessage) []float32 {
	t.Helper()
	var v []float32
	if raw[0] == '"' {
		var s string
		_ = json.Unmarshal(raw, &s)
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b)%4 != 0 {
			t.Fatalf("base64 embedding: %v (%d bytes)", err, len(b))
		}
		for i := 0; i < len(b); i += 4 {
			v = append(v, math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))
		}
		return v
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMockEmbeddings: one unit vector per input of the requested length,
// the same for the same input whatever else the request holds, in float
// or base64, with the usage it reports in the body.
func TestMockEmbeddings(t *testing.T) {
	for _, tc := range []struct {
		name, body  string
		n, dims     int
		tokens      int64
		sameAsFirst []int // items whose vector equals item 0's
	}{
		{"string", `{"input":"hello there world"}`, 1, MockEmbeddingDimensions, 3, nil},
		{"strings with dimensions", `{"input":["a b","c","a b"],"dimensions":8}`, 3, 8, 5, []int{2}},
		{"token array", `{"input":[1,2,3,4],"dimensions":3}`, 1, 3, 4, nil},
		{"token arrays", `{"input":[[1,2],[1,2],[5]],"dimensions":5,"encoding_format":"base64"}`, 3, 5, 5, []int{1}},
		{"base64", `{"input":"x","dimensions":16,"encoding_format":"base64"}`, 1, 16, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, u, err := mockEmbed(t, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if out.Object != "list" || out.Model != "emb-model" || len(out.Data) != tc.n {
				t.Fatalf("response %+v", out)
			}
			if out.Usage.PromptTokens != tc.tokens || out.Usage.TotalTokens != tc.tokens || u.PromptTokens != tc.tokens || u.TotalTokens != tc.tokens || u.CompletionTokens != 0 {
				t.Fatalf("usage: body %+v, reported %+v, want %d", out.Usage, u, tc.tokens)
			}
			var first []float32
			for i, d := range out.Data {
				v := vectorOf(t, d.Embedding)
				if d.Index != i || d.Object != "embedding" || len(v) != tc.dims {
					t.Fatalf("item %d: index %d object %q len %d", i, d.Index, d.Object, len(v))
				}
				var norm float64
				for _, x := range v {
					norm += float64(x) * float64(x)
				}
				if math.Abs(norm-1) > 1e-3 {
					t.Fatalf("item %d: |v|^2 = %f, want 1", i, norm)
				}
				if i == 0 {
					first = v
				} else if same := fmtVec(v) == fmtVec(first); same != contains(tc.sameAsFirst, i) {
					t.Fatalf("item %d equals item 0: %v", i, same)
				}
			}
		})
	}
	// The same input gives the same vector in another request.
	a, _, _ := mockEmbed(t, `{"input":"same words","dimensions":4}`)
	b, _, _ := mockEmbed(t, `{"model":"other","input":["other","same words"],"dimensions":4}`)
	if fmtVec(vectorOf(t, a.Data[0].Embedding)) != fmtVec(vectorOf(t, b.Data[1].Embedding)) {
		t.Fatal("same input, different vectors")
	}
	for body, param := range map[string]string{
		`{"input":""}`:                      "input",
		`{"input":[]}`:                      "input",
		`{"input":[""]}`:                    "input",
		`{"input":[{"a":1}]}`:               "input",
		`{}`:                                "input",
		`{"input":"x","dimensions":0}`:      "dimensions",
		`{"input":"x","dimensions":100000}`: "dimensions",
		`{"input":"x","encoding_format":"float16"}`: "encoding_format",
		`{"input":"x","dimensions":"eight"}`:        "input", // does not decode
	} {
		_, _, err := mockEmbed(t, body)
		e, ok := err.(*apierror.Error)
		if !ok || e.Status != 400 || e.Param != param {
			t.Errorf("%s: %v, want a 400 naming %s", body, err, param)
		}
	}
}

func fmtVec(v []float32) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// TestMockCompletions: legacy text completions, one choice per prompt,
// streamed word by word with the usage chunk only when asked, and the
// reported usage equal to the body's.
func TestMockCompletions(t *testing.T) {
	d := &policy.Deployment{ModelName: "g", Provider: "mock", UpstreamModel: "tm"}
	var rc fasthttp.RequestCtx
	u, err := mockCompletions(&rc, d, "tm", []byte(`{"prompt":["one two","three"]}`), false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Object  string `json:"object"`
		Choices []struct {
			Text         string `json:"text"`
			Index        int    `json:"index"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage chatUsage `json:"usage"`
	}
	if err := json.Unmarshal(rc.Response.Body(), &out); err != nil {
		t.Fatal(err)
	}
	want0 := "This is a mock response from tm. You said: one two"
	if out.Object != "text_completion" || len(out.Choices) != 2 || out.Choices[0].Text != want0 || out.Choices[1].Index != 1 || out.Choices[1].FinishReason != "stop" {
		t.Fatalf("%s", rc.Response.Body())
	}
	if out.Usage.PromptTokens != 3 || u.PromptTokens != 3 || out.Usage.CompletionTokens != u.CompletionTokens || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Fatalf("usage body %+v reported %+v", out.Usage, u)
	}
	for _, withUsage := range []bool{false, true} {
		body := `{"prompt":"hi you","stream":true}`
		if withUsage {
			body = `{"prompt":"hi you","stream":true,"stream_options":{"include_usage":true}}`
		}
		var rc fasthttp.RequestCtx
		u, err := mockCompletions(&rc, d, "tm", []byte(body), true, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		text, usageChunks, done := "", 0, false
		for _, line := range strings.Split(string(rc.Response.Body()), "\n") {
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok {
				continue
			}
			if data == "[DONE]" {
				done = true
				continue
			}
			var ch struct {
				Choices []struct{ Text string } `json:"choices"`
				Usage   *chatUsage              `json:"usage"`
			}
			if err := json.Unmarshal([]byte(data), &ch); err != nil {
				t.Fatal(err)
			}
			for _, c := range ch.Choices {
				text += c.Text
			}
			if ch.Usage != nil {
				usageChunks++
				if ch.Usage.PromptTokens != u.PromptTokens || ch.Usage.CompletionTokens != u.CompletionTokens {
					t.Fatalf("usage chunk %+v, reported %+v", ch.Usage, u)
				}
			}
		}
		if want := "This is a mock response from tm. You said: hi you"; text != want || !done || (usageChunks == 1) != withUsage {
			t.Fatalf("include_usage %v: text %q, %d usage chunks, done %v", withUsage, text, usageChunks, done)
		}
		if string(rc.Response.Header.ContentType()) != "text/event-stream" || u.PromptTokens != 2 {
			t.Fatalf("content type %s, usage %+v", rc.Response.Header.ContentType(), u)
		}
	}
}

// TestEndpointUsageEstimates: without an upstream usage, a text
// completion's prompt and choices[].text and an embedding's input are
// what the estimate counts.
func TestEndpointUsageEstimates(t *testing.T) {
	u := bodyUsage([]byte(`{"choices":[{"text":"abcdefgh","index":0}]}`), []byte(`{"model":"m","prompt":"abcdefghijkl"}`), 200)
	if !u.Estimated || u.PromptTokens != 3 || u.CompletionTokens != 2 {
		t.Fatalf("completion estimate %+v", u)
	}
	u = bodyUsage([]byte(`{"object":"list","data":[]}`), []byte(`{"model":"m","input":["abcd","efgh"]}`), 200)
	if !u.Estimated || u.PromptTokens != 2 || u.CompletionTokens != 0 {
		t.Fatalf("embedding estimate %+v", u)
	}
	u = bodyUsage([]byte(`{"data":[],"usage":{"prompt_tokens":9,"total_tokens":9}}`), nil, 200)
	if u.Estimated || u.PromptTokens != 9 || u.TotalTokens != 9 {
		t.Fatalf("embedding usage %+v", u)
	}
	if f := inspectFrame([]byte(`data: {"choices":[{"text":"abcdefgh","index":0,"finish_reason":null}]}`)); f.chars != 8 {
		t.Fatalf("completion chunk chars %d", f.chars)
	}
}

// TestProvidersServeWhatPolicySays: every provider policy says serves
// embeddings, completions, the Responses API or count_tokens is one whose
// Prepare builds that path (the Messages API is Anthropic's own path, or
// the chat translation).
func TestProvidersServeWhatPolicySays(t *testing.T) {
	paths := map[policy.Endpoint]string{policy.EndpointEmbeddings: "/embeddings", policy.EndpointCompletions: "/completions",
		policy.EndpointResponses: "/responses", policy.EndpointCountTokens: "/v1/messages/count_tokens"}
	for name := range providers {
		for _, e := range []policy.Endpoint{policy.EndpointEmbeddings, policy.EndpointCompletions, policy.EndpointResponses, policy.EndpointCountTokens} {
			if !policy.ProviderServes(name, e) || name == policy.ProviderMock {
				continue
			}
			d := &policy.Deployment{ModelName: "g", Provider: name, UpstreamModel: "u", APIBase: "https://h.example", APIKey: "k"}
			x := &Exchange{Call: Call{Endpoint: e, Body: []byte(`{"model":"g","input":"x"}`)}, Deployment: d, Model: "u"}
			hp, ok := providers[name].(viaHTTP)
			if !ok {
				t.Fatalf("%s: not an HTTP provider", name)
			}
			if err := hp.Prepare(x); err != nil || !strings.Contains(x.Target, paths[e]) {
				t.Errorf("%s %s: target %q, %v", name, e, x.Target, err)
			}
		}
	}
}
