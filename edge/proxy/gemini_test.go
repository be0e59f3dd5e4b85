package proxy

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
)

func geminiDeployment(base string) *policy.Deployment {
	return &policy.Deployment{ID: "gm-1", ModelName: "gemini", Provider: policy.ProviderGemini,
		UpstreamModel: "gemini-2.5-flash", APIBase: base, APIKey: testKey, Model: &events.Model{}}
}

func TestProviderGeminiRequestTranslation(t *testing.T) {
	for _, tc := range []struct{ suffix, wantPath string }{
		{"", "/v1beta/models/gemini-2.5-flash:streamGenerateContent"},
		{"/v1beta", "/v1beta/models/gemini-2.5-flash:streamGenerateContent"},
	} {
		up, base := replay(t, 200, "text/event-stream", testdata(t, "gemini_stream.sse"))
		e := startEdge(t, newTestForwarder(), geminiDeployment(base+tc.suffix))
		postOK(t, e.url, string(testdata(t, "chat_request_rich.json")), nil)
		r := up.next(t)
		if r.method != "POST" || r.path != tc.wantPath || r.query != "alt=sse" {
			t.Errorf("upstream %s %s?%s, want %s?alt=sse", r.method, r.path, r.query, tc.wantPath)
		}
		checkHeaders(t, r.header, map[string]string{"X-Goog-Api-Key": testKey, "Authorization": "", "Content-Type": "application/json"})
		golden(t, "gemini_request_rich.json", r.body)
		e.waitResult(t)
	}

	// Schema keywords Gemini refuses are dropped; a tool result must
	// answer a call the history holds (Gemini matches them by name).
	got := geminiSchema(json.RawMessage(`{"$schema":"x","type":"object","additionalProperties":false,"properties":{"a":{"type":"object","additionalProperties":{"type":"string"}}}}`))
	if string(got) != `{"properties":{"a":{"type":"object"}},"type":"object"}` {
		t.Errorf("schema: %s", got)
	}
	_, base := replay(t, 200, "application/json", testdata(t, "gemini_generate.json"))
	e := startEdge(t, newTestForwarder(), geminiDeployment(base))
	resp := post(t, e.url, `{"model":"gemini","messages":[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"call_9","content":"x"}]}`, nil)
	body := readAll(t, resp.Body)
	if be := decodeError(t, body); resp.StatusCode != 400 || be.Param == nil || *be.Param != "messages" || !strings.Contains(be.Message, "call_9") {
		t.Errorf("orphan tool result: %d %s", resp.StatusCode, body)
	}
	e.waitResult(t)
}

func TestProviderGeminiResponses(t *testing.T) {
	for _, tc := range []struct {
		file               string
		prompt, completion int64
		finish             string
	}{
		{"gemini_generate.json", 1030, 10, "stop"},
		{"gemini_generate_tools.json", 96, 34 + 48, "tool_calls"},
		{"gemini_blocked.json", 14, 0, "content_filter"},
		{"gemini_max_tokens.json", 9, 5, "length"},
	} {
		up, base := replay(t, 200, "application/json; charset=UTF-8", testdata(t, tc.file))
		e := startEdge(t, newTestForwarder(), geminiDeployment(base))
		resp := post(t, e.url, `{"model":"gemini","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}],"max_tokens":100}`, nil)
		body := readAll(t, resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d: %s", tc.file, resp.StatusCode, body)
		}
		r := up.next(t)
		if r.path != "/v1beta/models/gemini-2.5-flash:generateContent" || r.query != "" ||
			string(r.body) != `{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"systemInstruction":{"parts":[{"text":"Be brief."}]},"generationConfig":{"maxOutputTokens":100}}` {
			t.Errorf("%s: upstream %s?%s %s", tc.file, r.path, r.query, r.body)
		}
		checkCompletion(t, e, tc.file, body, tc.finish, tc.prompt, tc.completion)
	}
}

func TestProviderGeminiStream(t *testing.T) {
	for _, tc := range []streamCase{
		{"gemini_stream.sse", false, 25, 15},
		{"gemini_stream.sse", true, 25, 15},
		{"gemini_stream_tools.sse", true, 472, 41 + 48},
	} {
		up, base := replay(t, 200, "text/event-stream", testdata(t, tc.file))
		up.gate = make(chan struct{})
		e := startEdge(t, newTestForwarder(), geminiDeployment(base))
		checkStream(t, e, tc, "gemini", ".sse", func() { up.next(t) }, func() { close(up.gate) })
	}
}

func TestProviderGeminiErrors(t *testing.T) {
	for _, tc := range []struct {
		file                  string
		status, wantStatus    int
		wantType, wantCode    string
		wantInMsg, notInReply string
	}{
		{"gemini_error_key.json", 400, 502, "upstream_error", "upstream_auth_error", "rejected the gateway's credentials", testKey},
		{"gemini_error_429.json", 429, 429, "rate_limit_error", "429", "exceeded your current quota", ""},
	} {
		up, base := replay(t, tc.status, "application/json; charset=UTF-8", testdata(t, tc.file))
		e := startEdge(t, newTestForwarder(), geminiDeployment(base))
		resp := post(t, e.url, `{"model":"gemini","messages":[{"role":"user","content":"hi"}]}`, nil)
		body := readAll(t, resp.Body)
		up.next(t)
		be := decodeError(t, body)
		if resp.StatusCode != tc.wantStatus || be.Type != tc.wantType || be.Code != tc.wantCode || !strings.Contains(be.Message, tc.wantInMsg) {
			t.Errorf("%s: %d %s", tc.file, resp.StatusCode, body)
		}
		if tc.notInReply != "" && strings.Contains(body, tc.notInReply) {
			t.Errorf("%s: reply holds the key", tc.file)
		}
		if e.waitDone(t) == nil {
			t.Errorf("%s: reported as a success", tc.file)
		}
	}

	// A stream that ends without a finishReason was cut: an error event,
	// no [DONE].
	up, base := replay(t, 200, "text/event-stream", testdata(t, "gemini_stream_cut.sse"))
	e := startEdge(t, newTestForwarder(), geminiDeployment(base))
	resp := post(t, e.url, `{"model":"gemini","stream":true,"messages":[{"role":"user","content":"hi"}]}`, nil)
	body := readAll(t, resp.Body)
	up.next(t)
	if !strings.Contains(body, `"content":" there"`) || !strings.Contains(body, `"error"`) || strings.Contains(body, "[DONE]") {
		t.Errorf("cut stream: %s", body)
	}
	if e.waitDone(t) == nil {
		t.Error("cut stream reported as a success")
	}
}

// fakeVertex is Vertex AI and Google's token endpoint in one server: the
// service account's token_uri points at /token, which hands out one
// access token; every other path answers with the recorded body.
type fakeVertex struct {
	reqs   chan recorded
	tokens atomic.Int32
}

const vertexTestToken = "ya29.c.vertex-test-access-token"

func startFakeVertex(t *testing.T, contentType string, body []byte) (*fakeVertex, string) {
	t.Helper()
	fv := &fakeVertex{reqs: make(chan recorded, 16)}
	srv := startUpstream(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/token" {
			// The JWT-bearer grant of a service account.
			if r.FormValue("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" && !bytes.Contains(b, []byte("jwt-bearer")) {
				w.WriteHeader(400)
				return
			}
			fv.tokens.Add(1)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"` + vertexTestToken + `","expires_in":3599,"token_type":"Bearer"}`))
			return
		}
		fv.reqs <- recorded{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, header: r.Header.Clone(), body: b}
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(body)
	})
	return fv, srv.URL
}

// serviceAccount is a service-account key file whose token endpoint is
// the fake's.
func serviceAccount(t *testing.T, tokenURI string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sa, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "sa-project", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "gateway@sa-project.iam.gserviceaccount.com", "client_id": "1", "token_uri": tokenURI,
	})
	return string(sa)
}

func TestProviderVertex(t *testing.T) {
	t.Run("gemini", func(t *testing.T) {
		fv, base := startFakeVertex(t, "application/json", testdata(t, "gemini_generate.json"))
		d := &policy.Deployment{ID: "vx-1", ModelName: "gemini-pro", Provider: policy.ProviderVertex, UpstreamModel: "gemini-2.5-pro",
			APIBase: base, Model: &events.Model{},
			Vertex: policy.VertexParams{Project: "my-proj", Location: "europe-west4", Credentials: serviceAccount(t, base+"/token")}}
		e := startEdge(t, newTestForwarder(), d)
		for i := 0; i < 2; i++ {
			resp := post(t, e.url, `{"model":"gemini-pro","messages":[{"role":"user","content":"hi"}]}`, nil)
			body := readAll(t, resp.Body)
			if resp.StatusCode != 200 || !strings.Contains(body, "Hello! How can I help you today?") {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			r := <-fv.reqs
			if r.path != "/v1/projects/my-proj/locations/europe-west4/publishers/google/models/gemini-2.5-pro:generateContent" ||
				r.header.Get("Authorization") != "Bearer "+vertexTestToken || r.header.Get("X-Goog-Api-Key") != "" ||
				string(r.body) != `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}` {
				t.Errorf("upstream %s %q %s", r.path, r.header.Get("Authorization"), r.body)
			}
			if res := e.waitResult(t); res.err != nil || res.u.PromptTokens != 1030 {
				t.Errorf("usage %+v %v", res.u, res.err)
			}
		}
		// The token is cached: two calls, one token request.
		if n := fv.tokens.Load(); n != 1 {
			t.Errorf("%d token requests for 2 calls", n)
		}
	})

	t.Run("claude by credentials file", func(t *testing.T) {
		fv, base := startFakeVertex(t, "text/event-stream", testdata(t, "anthropic_stream.sse"))
		file := filepath.Join(t.TempDir(), "sa.json")
		if err := os.WriteFile(file, []byte(serviceAccount(t, base+"/token")), 0o600); err != nil {
			t.Fatal(err)
		}
		// No vertex_project: the service account's project_id.
		d := &policy.Deployment{ID: "vx-2", ModelName: "claude-vx", Provider: policy.ProviderVertex, UpstreamModel: "claude-sonnet-4@20250514",
			APIBase: base, Model: &events.Model{}, Vertex: policy.VertexParams{Location: "us-east5", Credentials: file}}
		e := startEdge(t, newTestForwarder(), d)
		resp := post(t, e.url, `{"model":"claude-vx","stream":true,"max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`, nil)
		body := readAll(t, resp.Body)
		if resp.StatusCode != 200 || !strings.HasSuffix(strings.TrimSpace(body), "[DONE]") {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		r := <-fv.reqs
		if r.path != "/v1/projects/sa-project/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:streamRawPredict" ||
			r.header.Get("Authorization") != "Bearer "+vertexTestToken {
			t.Errorf("upstream %s %q", r.path, r.header.Get("Authorization"))
		}
		golden(t, "vertex_anthropic_request.json", r.body)
		if res := e.waitResult(t); res.err != nil || res.u.PromptTokens != 25 || res.u.CompletionTokens != 15 {
			t.Errorf("usage %+v %v", res.u, res.err)
		}
	})
}
