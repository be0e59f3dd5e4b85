package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

const (
	e2eAWSKeyID   = "AKIAIOSFODNN7EXAMPLE"
	e2eAWSSecret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	e2eGeminiKey  = "AIzaSyD-e2e-gemini-provider-secret-0123456"
	e2eVertexTok  = "ya29.c.e2e-vertex-access-token"
	bedrockPath   = "/bedrock/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/"
	geminiPath    = "/gemini/v1beta/models/gemini-2.5-flash:"
	vertexPath    = "/vertex/v1/projects/e2e-proj/locations/us-central1/publishers/google/models/gemini-2.5-pro:"
	vertexTokPath = "/vertex-token"
)

// cloudMock is a local Bedrock runtime, Gemini API and Vertex AI (with
// its token endpoint) answering with the recorded bodies of
// edge/proxy/testdata. It checks each provider's credentials: the SigV4
// signature is re-computed with the SDK's signer.
type cloudMock struct {
	addr string
	mu   sync.Mutex
	bad  []string
}

func startCloudMock(t *testing.T) *cloudMock {
	m := &cloudMock{}
	var frames [][]byte
	enc := eventstream.NewEncoder()
	for _, line := range bytes.Split(bytes.TrimSpace(recordedBody(t, "bedrock_stream.jsonl")), []byte("\n")) {
		var rec struct {
			Headers map[string]string `json:"headers"`
			Payload json.RawMessage   `json:"payload"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatal(err)
		}
		var msg eventstream.Message
		for k, v := range rec.Headers {
			msg.Headers.Set(k, eventstream.StringValue(v))
		}
		var buf, compact bytes.Buffer
		_ = json.Compact(&compact, rec.Payload)
		msg.Payload = compact.Bytes()
		if err := enc.Encode(&buf, msg); err != nil {
			t.Fatal(err)
		}
		frames = append(frames, buf.Bytes())
	}
	sse := func(w http.ResponseWriter, name string) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for _, ev := range bytes.SplitAfter(recordedBody(t, name), []byte("\r\n\r\n")) {
			_, _ = w.Write(ev)
			_ = rc.Flush()
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fail := func(why string) {
			m.mu.Lock()
			m.bad = append(m.bad, r.URL.String()+": "+why)
			m.mu.Unlock()
			w.WriteHeader(400)
		}
		path := r.URL.EscapedPath()
		switch {
		case strings.HasPrefix(path, bedrockPath):
			if why := checkSignature(r, body); why != "" {
				fail(why)
				return
			}
			if strings.HasSuffix(path, "/converse-stream") {
				w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
				rc := http.NewResponseController(w)
				for _, f := range frames {
					_, _ = w.Write(f)
					_ = rc.Flush()
				}
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(recordedBody(t, "bedrock_converse.json"))
		case strings.HasPrefix(path, geminiPath):
			if r.Header.Get("x-goog-api-key") != e2eGeminiKey || r.URL.Query().Has("key") {
				fail("gemini key")
				return
			}
			if strings.HasSuffix(path, ":streamGenerateContent") && r.URL.Query().Get("alt") == "sse" {
				sse(w, "gemini_stream.sse")
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(recordedBody(t, "gemini_generate.json"))
		case path == vertexTokPath:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"` + e2eVertexTok + `","expires_in":3599,"token_type":"Bearer"}`))
		case strings.HasPrefix(path, vertexPath):
			if r.Header.Get("Authorization") != "Bearer "+e2eVertexTok {
				fail("vertex token")
				return
			}
			if strings.HasSuffix(path, ":streamGenerateContent") {
				sse(w, "gemini_stream.sse")
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(recordedBody(t, "gemini_generate.json"))
		default:
			fail("unexpected path")
		}
	})
	m.addr = serveMock(t, mux)
	return m
}

// checkSignature re-signs what arrived with the SDK's signer and
// compares; "" means it verifies.
func checkSignature(r *http.Request, body []byte) string {
	auth := r.Header.Get("Authorization")
	_, signed, _ := strings.Cut(auth, "SignedHeaders=")
	signed, _, _ = strings.Cut(signed, ",")
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || signed == "" {
		return "no SigV4 signature"
	}
	hr, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.EscapedPath(), nil)
	for _, h := range strings.Split(signed, ";") {
		if h != "host" && h != "x-amz-date" {
			hr.Header.Set(h, r.Header.Get(h))
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: e2eAWSKeyID, SecretAccessKey: e2eAWSSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, hr, hex.EncodeToString(sum[:]), "bedrock", "us-east-1", when); err != nil {
		return err.Error()
	}
	if hr.Header.Get("Authorization") != auth {
		return "signature does not verify"
	}
	return ""
}

func vertexServiceAccount(t *testing.T, tokenURI string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	sa, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "e2e-proj", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "gw@e2e-proj.iam.gserviceaccount.com", "client_id": "1", "token_uri": tokenURI,
	})
	return string(sa)
}

func cloudConfig(addr string) string {
	return fmt.Sprintf(`
general_settings:
  master_key: os.environ/MASTER_KEY
model_list:
  - model_name: bedrock-claude
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_access_key_id: os.environ/E2E_AWS_KEY_ID
      aws_secret_access_key: os.environ/E2E_AWS_SECRET
      aws_region_name: us-east-1
      aws_bedrock_runtime_endpoint: http://%[1]s/bedrock
  - model_name: gemini-flash
    litellm_params:
      model: gemini/gemini-2.5-flash
      api_key: os.environ/E2E_GEMINI_KEY
      api_base: http://%[1]s/gemini
  - model_name: vertex-pro
    litellm_params:
      model: vertex_ai/gemini-2.5-pro
      vertex_project: e2e-proj
      vertex_location: us-central1
      vertex_credentials: os.environ/E2E_VERTEX_SA
      api_base: http://%[1]s/vertex
`, addr)
}

// TestCloudProviders: the official OpenAI client talks to Bedrock, Gemini
// and Vertex AI deployments configured as in LiteLLM, plain and
// streaming; /v1/models lists them and their spend events name the
// provider.
func TestCloudProviders(t *testing.T) {
	mock := startCloudMock(t)
	sys := startSystem(t, cloudConfig(mock.addr), 1, "E2E_AWS_KEY_ID="+e2eAWSKeyID, "E2E_AWS_SECRET="+e2eAWSSecret,
		"E2E_GEMINI_KEY="+e2eGeminiKey, "E2E_VERTEX_SA="+vertexServiceAccount(t, "http://"+mock.addr+vertexTokPath))
	edge := sys.edges[0]

	providers := map[string]bool{}
	pmu := watchSpend(t, sys.natsURL, func(e events.SpendEvent) { providers[e.ModelGroup+"="+e.Provider] = true })

	c, ctx := sdkClient(t, edge, 60*time.Second)

	checkChats(t, ctx, c,
		chatCase{"bedrock-claude", "Hello! How can I help you today?", "Hello! How can I help you today?", 12, 10, 40},
		chatCase{"gemini-flash", "Hello! How can I help you today?", "Hello! How can I help you today?", 1030, 10, 40},
		chatCase{"vertex-pro", "Hello! How can I help you today?", "Hello! How can I help you today?", 1030, 10, 40})

	page, err := c.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, m := range page.Data {
		listed[m.ID] = true
	}
	for _, m := range []string{"bedrock-claude", "gemini-flash", "vertex-pro"} {
		if !listed[m] {
			t.Errorf("/v1/models does not list %s: %v", m, listed)
		}
	}

	testutil.Eventually(t, 10*time.Second, func() error {
		pmu.Lock()
		defer pmu.Unlock()
		for _, want := range []string{"bedrock-claude=bedrock", "gemini-flash=gemini", "vertex-pro=vertex_ai"} {
			if !providers[want] {
				return fmt.Errorf("no spend event %s yet (have %v)", want, providers)
			}
		}
		return nil
	})

	mock.mu.Lock()
	defer mock.mu.Unlock()
	if len(mock.bad) > 0 {
		t.Errorf("requests the providers would refuse: %v", mock.bad)
	}
}
