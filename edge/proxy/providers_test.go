package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/policy"
)

// update rewrites the golden files: go test ./edge/proxy -run Provider -update
var update = flag.Bool("update", false, "rewrite testdata/golden files")

// fixedNow pins "created" in translated answers so golden files are stable.
var fixedNow = time.Unix(1732000000, 0)

func newTestForwarder() *Forwarder {
	f := New(Options{})
	f.now = func() time.Time { return fixedNow }
	return f
}

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden compares got with testdata/golden/name (JSON is compared
// indented, so diffs are readable).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	if strings.HasSuffix(name, ".json") {
		var buf bytes.Buffer
		if err := json.Indent(&buf, got, "", "  "); err != nil {
			t.Fatalf("%s: not JSON: %v\n%s", name, err, got)
		}
		buf.WriteByte('\n')
		got = buf.Bytes()
	}
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

type recorded struct {
	method, path, query string
	header              http.Header
	body                []byte
}

// replay is an upstream that records each request and answers with a
// recorded body. SSE bodies are sent one event per write and flush, the
// way providers send them.
func replay(t *testing.T, status int, contentType string, body []byte) (*recordingUpstream, string) {
	t.Helper()
	ru := &recordingUpstream{reqs: make(chan recorded, 16)}
	srv := startUpstream(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		b, _ := io.ReadAll(r.Body)
		ru.reqs <- recorded{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, header: r.Header.Clone(), body: b}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Request-Id", "req_upstream_1")
		if status == 429 || status == 529 {
			w.Header().Set("Retry-After", "7")
		}
		w.WriteHeader(status)
		if !strings.HasPrefix(contentType, "text/event-stream") {
			_, _ = w.Write(body)
			return
		}
		rc := http.NewResponseController(w)
		sep := []byte("\n\n")
		if bytes.Contains(body, []byte("\r\n\r\n")) {
			sep = []byte("\r\n\r\n") // Google's framing
		}
		for _, ev := range bytes.SplitAfter(body, sep) {
			if _, err := w.Write(ev); err != nil {
				return
			}
			_ = rc.Flush()
			if ru.gate != nil {
				select {
				case <-ru.gate:
				case <-stop:
					return
				}
			}
		}
	})
	return ru, srv.URL
}

type recordingUpstream struct {
	reqs chan recorded
	// gate, if set, holds every event after the first until the test lets
	// it go, which proves frames reach the client one by one.
	gate chan struct{}
}

func (ru *recordingUpstream) next(t *testing.T) recorded {
	t.Helper()
	return testutil.Receive(t, ru.reqs, waitLimit, "upstream was not called")
}

func (ru *recordingUpstream) none(t *testing.T) {
	t.Helper()
	select {
	case r := <-ru.reqs:
		t.Fatalf("upstream was called: %s %s", r.path, r.body)
	default:
	}
}

func azureDeployment(base, version string) *policy.Deployment {
	return &policy.Deployment{ID: "az-1", ModelName: "gpt-4o", Provider: policy.ProviderAzure, UpstreamModel: "my-gpt4o",
		APIBase: base, APIKey: testKey, APIVersion: version}
}

func anthropicDeployment(base string) *policy.Deployment {
	return &policy.Deployment{ID: "an-1", ModelName: "claude", Provider: policy.ProviderAnthropic,
		UpstreamModel: "claude-3-5-sonnet-20240620", APIBase: base, APIKey: testKey, Model: &events.Model{}}
}

func TestProviderAzureNonStream(t *testing.T) {
	for _, tc := range []struct{ version, want string }{
		{"2024-10-21", "api-version=2024-10-21"},
		{"", "api-version=" + DefaultAzureAPIVersion},
	} {
		up, base := replay(t, 200, "application/json", testdata(t, "azure_chat.json"))
		d := azureDeployment(base+"/", tc.version)
		e := startEdge(t, newTestForwarder(), d)
		resp := post(t, e.url, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, map[string]string{"Authorization": "Bearer " + clientKey})
		body := readAll(t, resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		r := up.next(t)
		if r.path != "/openai/deployments/my-gpt4o/chat/completions" || r.query != tc.want {
			t.Errorf("upstream URL %s?%s, want /openai/deployments/my-gpt4o/chat/completions?%s", r.path, r.query, tc.want)
		}
		if r.header.Get("api-key") != testKey || r.header.Get("Authorization") != "" {
			t.Errorf("auth headers: api-key=%q Authorization=%q; want the key in api-key only", r.header.Get("api-key"), r.header.Get("Authorization"))
		}
		if !bytes.Equal(r.body, []byte(`{"model":"my-gpt4o","messages":[{"role":"user","content":"hi"}]}`)) {
			t.Errorf("upstream body %s", r.body)
		}
		if body != string(testdata(t, "azure_chat.json")) {
			t.Errorf("the answer was not passed through byte for byte: %s", body)
		}
		res := e.waitResult(t)
		if res.err != nil || res.u.PromptTokens != 12 || res.u.CompletionTokens != 9 || res.u.Estimated {
			t.Errorf("usage %+v err %v, want 12 prompt / 9 completion from the body", res.u, res.err)
		}
	}
}

func TestProviderAzureStreamAsksForUsage(t *testing.T) {
	up, base := replay(t, 200, "text/event-stream", testdata(t, "azure_chat_stream.sse"))
	e := startEdge(t, newTestForwarder(), azureDeployment(base, "2024-10-21"))
	resp := post(t, e.url, `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`, nil)
	got := readAll(t, resp.Body)
	r := up.next(t)
	if !bytes.Contains(r.body, []byte(`"stream_options":{"include_usage":true}`)) {
		t.Errorf("the upstream was not asked for the usage chunk: %s", r.body)
	}
	golden(t, "azure_stream_client.sse", []byte(got))
	if strings.Contains(got, `"usage":{`) {
		t.Error("the usage chunk the client did not ask for reached it")
	}
	res := e.waitResult(t)
	if res.err != nil || res.u.PromptTokens != 12 || res.u.CompletionTokens != 3 || res.u.TotalTokens != 15 || res.u.Estimated {
		t.Errorf("usage %+v err %v, want 12/3/15 from the usage chunk", res.u, res.err)
	}
}

func TestProviderAzureErrors(t *testing.T) {
	_, base := replay(t, 429, "application/json", testdata(t, "azure_error_429.json"))
	e := startEdge(t, newTestForwarder(), azureDeployment(base, ""))
	resp := post(t, e.url, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, nil)
	be := decodeError(t, readAll(t, resp.Body))
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" || be.Type != "rate_limit_error" || !strings.Contains(be.Message, "exceeded token rate limit") {
		t.Errorf("got %d %+v (Retry-After %q)", resp.StatusCode, be, resp.Header.Get("Retry-After"))
	}
	e.waitResult(t)

	// Azure has no default host: a deployment without api_base is a
	// configuration error, never a call to somebody else's endpoint.
	e = startEdge(t, newTestForwarder(), azureDeployment("", ""))
	resp = post(t, e.url, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, nil)
	if be := decodeError(t, readAll(t, resp.Body)); resp.StatusCode != 500 || !strings.Contains(be.Message, "needs an api_base") {
		t.Errorf("no api_base: %d %+v", resp.StatusCode, be)
	}
	e.waitResult(t)
}

func TestProviderAnthropicRequestTranslation(t *testing.T) {
	up, base := replay(t, 200, "text/event-stream", testdata(t, "anthropic_stream.sse"))
	d := anthropicDeployment(base)
	d.ExtraHeaders = map[string]string{"anthropic-beta": "prompt-caching-2024-07-31"}
	e := startEdge(t, newTestForwarder(), d)
	postOK(t, e.url, string(testdata(t, "chat_request_rich.json")), map[string]string{"Authorization": "Bearer " + clientKey})
	r := up.next(t)
	if r.method != "POST" || r.path != "/v1/messages" {
		t.Errorf("upstream %s %s, want POST /v1/messages", r.method, r.path)
	}
	checkHeaders(t, r.header, map[string]string{"X-Api-Key": testKey, "Anthropic-Version": "2023-06-01", "Authorization": "",
		"Anthropic-Beta": "prompt-caching-2024-07-31", "Content-Type": "application/json", "Accept": "text/event-stream"})
	golden(t, "anthropic_request_rich.json", r.body)
	e.waitResult(t)

	// Without max_tokens: model_info.max_output_tokens, else LiteLLM's 4096.
	for _, tc := range []struct {
		maxOut int64
		want   string
	}{{0, `"max_tokens":4096`}, {8192, `"max_tokens":8192`}} {
		d := anthropicDeployment("http://unused")
		d.Model.ModelInfo.MaxOutputTokens = tc.maxOut
		x := &Exchange{Call: Call{Body: []byte(`{"model":"x","messages":[{"role":"user","content":"hi"}]}`)}, Deployment: d, Model: "claude-x"}
		err := prepareFromAnthropic(x, false, messagesAsIs)
		out := x.Payload
		if err != nil || !bytes.Contains(out, []byte(tc.want)) {
			t.Errorf("max_output_tokens %d: %s %v, want %s", tc.maxOut, out, err, tc.want)
		}
	}
}

func TestProviderAnthropicUnsupportedParams(t *testing.T) {
	up, base := replay(t, 200, "application/json", testdata(t, "anthropic_message.json"))
	e := startEdge(t, newTestForwarder(), anthropicDeployment(base))
	for _, tc := range []struct{ extra, param string }{
		{`"n":2`, "n"},
		{`"logprobs":true`, "logprobs"},
		{`"frequency_penalty":0.5`, "frequency_penalty"},
		{`"response_format":{"type":"json_object"}`, "response_format"},
		{`"functions":[{"name":"f"}]`, "functions"},
		{`"tools":[{"type":"code_interpreter"}]`, "tools[0]"},
		{`"messages":[{"role":"function","name":"f","content":"x"}]`, "messages[0].role"},
		{`"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]`, "messages[0].content[0].type"},
	} {
		body := `{"model":"claude","messages":[{"role":"user","content":"hi"}],` + tc.extra + `}`
		if strings.HasPrefix(tc.extra, `"messages"`) {
			body = `{"model":"claude",` + tc.extra + `}`
		}
		resp := post(t, e.url, body, nil)
		be := decodeError(t, readAll(t, resp.Body))
		if resp.StatusCode != 400 || be.Param == nil || *be.Param != tc.param || be.Type != "invalid_request_error" {
			t.Errorf("%s: got %d %+v, want 400 naming %s", tc.extra, resp.StatusCode, be, tc.param)
		}
		e.waitResult(t)
	}
	up.none(t)
}

func TestProviderAnthropicResponses(t *testing.T) {
	for _, tc := range []struct {
		file                     string
		prompt, completion       int64
		wantFinish, wantInGolden string
	}{
		{"anthropic_message.json", 12, 10, "stop", ""},
		{"anthropic_tool_use.json", 384 + 1024 + 2048, 64, "tool_calls", `"cached_tokens": 2048`},
		{"anthropic_max_tokens.json", 9, 5, "length", ""},
	} {
		up, base := replay(t, 200, "application/json", testdata(t, tc.file))
		e := startEdge(t, newTestForwarder(), anthropicDeployment(base))
		resp := post(t, e.url, `{"model":"claude","messages":[{"role":"user","content":"hi"}]}`, nil)
		body := readAll(t, resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("X-Upstream-Request-Id") != "req_upstream_1" {
			t.Fatalf("%s: status %d (request id %q): %s", tc.file, resp.StatusCode, resp.Header.Get("X-Upstream-Request-Id"), body)
		}
		up.next(t)
		if res := checkCompletion(t, e, tc.file, body, tc.wantFinish, tc.prompt, tc.completion); res.u.TotalTokens != tc.prompt+tc.completion {
			t.Errorf("%s: usage %+v, want total %d", tc.file, res.u, tc.prompt+tc.completion)
		}
	}
}

// readFrames reads SSE events until EOF, one data payload per element.
func readFrames(t *testing.T, r io.Reader) []string {
	t.Helper()
	br := bufio.NewReader(r)
	var out []string
	for {
		ev, err := readEvent(br)
		if ev != "" {
			out = append(out, ev)
		}
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// postOK posts body to url and reads the answer, which must be a 200: the
// request translation tests look at the upstream's side once it is over.
func postOK(t *testing.T, url, body string, hdr map[string]string) {
	t.Helper()
	resp := post(t, url, body, hdr)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, readAll(t, resp.Body))
	}
	readAll(t, resp.Body)
}

// checkCompletion checks a translated (non-streamed) chat completion
// against the golden file named after the recorded answer file, its one
// choice's finish_reason, and that e's forwarder reported the provider's
// own usage (not an estimate), which it returns.
func checkCompletion(t *testing.T, e *edge, file, body, finish string, prompt, completion int64) result {
	t.Helper()
	golden(t, strings.TrimSuffix(file, ".json")+".openai.json", []byte(body))
	var cc struct {
		Choices []struct {
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.Unmarshal([]byte(body), &cc); err != nil || len(cc.Choices) != 1 || cc.Choices[0].FinishReason != finish {
		t.Errorf("%s: finish_reason %+v, want %s", file, cc, finish)
	}
	res := e.waitResult(t)
	if res.err != nil || res.u.PromptTokens != prompt || res.u.CompletionTokens != completion || res.u.Estimated {
		t.Errorf("%s: usage %+v err %v, want %d/%d", file, res.u, res.err, prompt, completion)
	}
	return res
}

// streamCase is one recorded provider stream and the usage its spend
// event must carry.
type streamCase struct {
	file               string
	includeUsage       bool
	prompt, completion int64
}

// checkStream posts a streamed chat for model to e, whose upstream holds
// back all but the first frame until release. The first frame must
// arrive before release (frames are translated as they come, not after
// the stream ends); reached checks the upstream's request. The client's
// frames must match the golden file named after tc.file without ext,
// end with [DONE], carry a usage chunk exactly when asked, and the spend
// result must carry the provider's usage (not estimated) and a TTFT.
func checkStream(t *testing.T, e *edge, tc streamCase, model, ext string, reached, release func()) {
	t.Helper()
	opts := ""
	if tc.includeUsage {
		opts = `,"stream_options":{"include_usage":true}`
	}
	resp := post(t, e.url, `{"model":"`+model+`","stream":true,"messages":[{"role":"user","content":"hi"}]`+opts+`}`, nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%s: status %d %s", tc.file, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	reached()
	br := bufio.NewReader(resp.Body)
	first, err := readEvent(br)
	if err != nil || !strings.Contains(first, `"role":"assistant"`) {
		t.Fatalf("%s: first frame %q %v", tc.file, first, err)
	}
	release()
	frames := append([]string{first}, readFrames(t, br)...)
	var all bytes.Buffer
	for _, f := range frames {
		all.WriteString(f + "\n")
	}
	name := strings.TrimSuffix(tc.file, ext)
	if tc.includeUsage {
		name += "_usage"
	}
	golden(t, name+".openai.txt", all.Bytes())
	if frames[len(frames)-1] != "[DONE]" {
		t.Errorf("%s: stream does not end with [DONE]", tc.file)
	}
	if hasUsage := strings.Contains(all.String(), `"usage":{`); hasUsage != tc.includeUsage {
		t.Errorf("%s: usage chunk present=%v, client asked %v", tc.file, hasUsage, tc.includeUsage)
	}
	res := e.waitResult(t)
	if res.err != nil || res.u.PromptTokens != tc.prompt || res.u.CompletionTokens != tc.completion || res.u.Estimated || res.u.TTFT <= 0 {
		t.Errorf("%s: usage %+v err %v, want %d/%d from the provider's usage", tc.file, res.u, res.err, tc.prompt, tc.completion)
	}
}

func TestProviderAnthropicStream(t *testing.T) {
	for _, tc := range []streamCase{
		{"anthropic_stream.sse", false, 25, 15},
		{"anthropic_stream.sse", true, 25, 15},
		{"anthropic_stream_tools.sse", true, 472, 89},
	} {
		up, base := replay(t, 200, "text/event-stream; charset=utf-8", testdata(t, tc.file))
		up.gate = make(chan struct{})
		e := startEdge(t, newTestForwarder(), anthropicDeployment(base))
		checkStream(t, e, tc, "claude", ".sse", func() { up.next(t) }, func() { close(up.gate) })
	}
}

func TestProviderAnthropicStreamErrorEvent(t *testing.T) {
	_, base := replay(t, 200, "text/event-stream", testdata(t, "anthropic_stream_error.sse"))
	e := startEdge(t, newTestForwarder(), anthropicDeployment(base))
	resp := post(t, e.url, `{"model":"claude","stream":true,"messages":[{"role":"user","content":"hi"}]}`, nil)
	frames := readFrames(t, resp.Body)
	if len(frames) < 2 || !strings.Contains(frames[1], `"Hel"`) {
		t.Fatalf("frames before the error missing: %q", frames)
	}
	last := frames[len(frames)-1]
	if be := decodeError(t, last); be.Message != "Overloaded" || be.Type != "overloaded_error" {
		t.Errorf("last frame %q, want the upstream's error in the OpenAI envelope", last)
	}
	for _, f := range frames {
		if f == "[DONE]" {
			t.Error("a broken stream must not end with [DONE]")
		}
	}
	res := e.waitResult(t)
	if res.err == nil || res.u.Outcome != OutcomeUpstreamError || res.u.PromptTokens != 25 {
		t.Errorf("done: %+v %v, want an upstream error with the prompt tokens seen", res.u, res.err)
	}
}

func TestProviderAnthropicErrors(t *testing.T) {
	keyEcho := []byte(`{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key ` + testKey + `"}}`)
	firstEventError := []byte("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n")
	for _, tc := range []struct {
		name        string
		status      int
		ct          string
		body        []byte
		wantStatus  int
		wantType    string
		wantMessage string
	}{
		{"invalid", 400, "application/json", testdata(t, "anthropic_error_invalid.json"), 400, "invalid_request_error", "roles must alternate"},
		{"rate limit", 429, "application/json", testdata(t, "anthropic_error_rate_limit.json"), 429, "rate_limit_error", "per-minute rate limit"},
		{"overloaded", 529, "application/json", testdata(t, "anthropic_error_overloaded.json"), 503, "overloaded_error", "Overloaded"},
		{"auth", 401, "application/json", testdata(t, "anthropic_error_auth.json"), 502, "upstream_error", "rejected the gateway's credentials"},
		{"api error", 500, "application/json", []byte(`{"type":"error","error":{"type":"api_error","message":"Internal server error"}}`), 502, "upstream_error", "Internal server error"},
		{"key echoed", 400, "application/json", keyEcho, 400, "authentication_error", "[REDACTED]"},
		{"error as first stream event", 200, "text/event-stream", firstEventError, 503, "overloaded_error", "Overloaded"},
	} {
		_, base := replay(t, tc.status, tc.ct, tc.body)
		e := startEdge(t, newTestForwarder(), anthropicDeployment(base))
		resp := post(t, e.url, `{"model":"claude","stream":`+map[bool]string{true: "true", false: "false"}[tc.ct == "text/event-stream"]+`,"messages":[{"role":"user","content":"hi"}]}`, nil)
		raw := readAll(t, resp.Body)
		be := decodeError(t, raw)
		if resp.StatusCode != tc.wantStatus || be.Type != tc.wantType || !strings.Contains(be.Message, tc.wantMessage) {
			t.Errorf("%s: got %d %+v, want %d %s %q", tc.name, resp.StatusCode, be, tc.wantStatus, tc.wantType, tc.wantMessage)
		}
		if strings.Contains(raw, testKey) {
			t.Errorf("%s: the provider key reached the client: %s", tc.name, raw)
		}
		if res := e.waitResult(t); res.err == nil {
			t.Errorf("%s: done reported success", tc.name)
		}
	}
}

// A client that goes away mid-stream closes the Anthropic connection (at
// the next event, as on the OpenAI path), so the provider stops
// generating, and the usage seen so far is reported.
func TestProviderAnthropicClientGone(t *testing.T) {
	upstreamGone := make(chan struct{})
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		_, _ = w.Write([]byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"model\":\"claude-x\",\"content\":[],\"usage\":{\"input_tokens\":7,\"output_tokens\":1}}}\n\n" +
			"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello there\"}}\n\n"))
		_ = rc.Flush()
		// A model generating tokens until the connection goes away.
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				close(upstreamGone)
				return
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := w.Write([]byte("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" more\"}}\n\n")); err != nil {
				close(upstreamGone)
				return
			}
			_ = rc.Flush()
		}
	})
	e := startEdge(t, newTestForwarder(), anthropicDeployment(up.URL))
	resp := post(t, e.url, `{"model":"claude","stream":true,"messages":[{"role":"user","content":"hi"}]}`, nil)
	br := bufio.NewReader(resp.Body)
	for range 2 {
		if _, err := readEvent(br); err != nil {
			t.Fatal(err)
		}
	}
	resp.Body.Close()
	waitFor(t, upstreamGone, "the upstream connection to close")
	res := e.waitResult(t)
	if res.u.Outcome != OutcomeClientAborted || res.u.PromptTokens != 7 || res.u.CompletionTokens < 3 || !res.u.Estimated {
		t.Errorf("done: %+v %v, want client_aborted with 7 prompt tokens and an estimate of the text sent", res.u, res.err)
	}
}
