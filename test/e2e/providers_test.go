package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

const (
	azureKey     = "azure-provider-secret-0123456789"
	anthropicKey = "sk-ant-provider-secret-0123456789"
)

// providerMock serves the recorded Azure and Anthropic bodies of
// edge/proxy/testdata, checking each provider's auth headers, and has a
// broken Azure deployment that always answers 503.
type providerMock struct {
	addr string
	mu   sync.Mutex
	hits map[string]int
	bad  []string // requests with wrong credentials or URLs
}

func recordedBody(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "edge", "proxy", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func startProviderMock(t *testing.T) *providerMock {
	m := &providerMock{hits: map[string]int{}}
	bodies := map[string][]byte{}
	for _, n := range []string{"azure_chat.json", "azure_chat_stream.sse", "anthropic_message.json", "anthropic_stream.sse"} {
		bodies[n] = recordedBody(t, n)
	}
	serve := func(w http.ResponseWriter, name string) {
		if strings.HasSuffix(name, ".sse") {
			w.Header().Set("Content-Type", "text/event-stream")
			rc := http.NewResponseController(w)
			for _, ev := range bytes.SplitAfter(bodies[name], []byte("\n\n")) {
				_, _ = w.Write(ev)
				_ = rc.Flush()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(bodies[name])
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		stream := bytes.Contains(body, []byte(`"stream":true`))
		m.mu.Lock()
		m.hits[r.URL.Path]++
		m.mu.Unlock()
		fail := func(why string) {
			m.mu.Lock()
			m.bad = append(m.bad, r.URL.String()+": "+why)
			m.mu.Unlock()
			w.WriteHeader(400)
		}
		switch r.URL.Path {
		case "/azure/openai/deployments/gpt4o-eu/chat/completions":
			if r.Header.Get("api-key") != azureKey || r.Header.Get("Authorization") != "" || r.URL.Query().Get("api-version") != "2024-10-21" {
				fail("azure auth or api-version")
				return
			}
			if stream {
				serve(w, "azure_chat_stream.sse")
			} else {
				serve(w, "azure_chat.json")
			}
		case "/anthropic/v1/messages":
			if r.Header.Get("x-api-key") != anthropicKey || r.Header.Get("anthropic-version") != "2023-06-01" || r.Header.Get("Authorization") != "" {
				fail("anthropic auth headers")
				return
			}
			if stream {
				serve(w, "anthropic_stream.sse")
			} else {
				serve(w, "anthropic_message.json")
			}
		case "/broken/openai/deployments/gpt4o-us/chat/completions":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(503)
			_, _ = w.Write([]byte(`{"error":{"code":"ServiceUnavailable","message":"The service is temporarily unable to process your request."}}`))
		default:
			fail("unexpected path")
		}
	})
	m.addr = serveMock(t, mux)
	return m
}

func (m *providerMock) count(path string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits[path]
}

func providersConfig(addr string) string {
	return fmt.Sprintf(`
general_settings:
  master_key: os.environ/MASTER_KEY
model_list:
  - model_name: azure-gpt-4o
    litellm_params:
      model: azure/gpt4o-eu
      api_base: http://%[1]s/azure
      api_key: os.environ/AZURE_KEY
      api_version: "2024-10-21"
  - model_name: claude
    litellm_params:
      model: anthropic/claude-3-5-sonnet-20240620
      api_base: http://%[1]s/anthropic
      api_key: os.environ/ANTHROPIC_KEY
  # ha: the broken Azure deployment takes all traffic while healthy
  # (weight), the Anthropic one is the other half of the group.
  - model_name: ha
    litellm_params:
      model: azure/gpt4o-us
      api_base: http://%[1]s/broken
      api_key: os.environ/AZURE_KEY
      weight: 1
  - model_name: ha
    litellm_params:
      model: anthropic/claude-3-5-sonnet-20240620
      api_base: http://%[1]s/anthropic
      api_key: os.environ/ANTHROPIC_KEY
router_settings:
  routing_strategy: simple-shuffle
  allowed_fails: 0
  cooldown_time: 600
`, addr)
}

// chatCase is a model group's expected answer to "Say hi", plain and
// streamed (the stream's total tokens, with include_usage).
type chatCase struct {
	model, text, streamText string
	prompt, completion      int64
	streamTotal             int64
}

// checkChat asks tc.model through c, plain then streamed with usage, as
// the OpenAI SDK does, and checks both answers.
func checkChat(t *testing.T, ctx context.Context, c openai.Client, tc chatCase) {
	t.Helper()
	params := openai.ChatCompletionNewParams{Model: tc.model, Messages: []openai.ChatCompletionMessageParamUnion{
		openai.SystemMessage("Be brief."), openai.UserMessage("Say hi")}}
	resp, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatalf("%s: %v", tc.model, err)
	}
	if len(resp.Choices) != 1 || resp.Choices[0].Message.Content != tc.text || resp.Choices[0].FinishReason != "stop" ||
		resp.Usage.PromptTokens != tc.prompt || resp.Usage.CompletionTokens != tc.completion {
		t.Fatalf("%s: %+v usage %+v", tc.model, resp.Choices, resp.Usage)
	}
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	acc, chunks := sdkStream(t, ctx, c, params)
	if chunks < 3 || len(acc.Choices) != 1 || acc.Choices[0].Message.Content != tc.streamText ||
		acc.Choices[0].FinishReason != "stop" || acc.Usage.TotalTokens != tc.streamTotal {
		t.Fatalf("%s stream: %d chunks, %+v usage %+v", tc.model, chunks, acc.Choices, acc.Usage)
	}
}

// sdkClient is an OpenAI SDK client of edge (no retries) with a new key
// that may use every model, and a context for its calls that ends after
// wait, or with the test.
func sdkClient(t *testing.T, edge *proc, wait time.Duration) (openai.Client, context.Context) {
	t.Helper()
	key := generateKey(t, edge, map[string]any{})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return openai.NewClient(option.WithBaseURL(edge.url("/v1/")), option.WithAPIKey(key), option.WithMaxRetries(0)), ctx
}

// checkChats is checkChat for each case.
func checkChats(t *testing.T, ctx context.Context, c openai.Client, cases ...chatCase) {
	t.Helper()
	for _, tc := range cases {
		checkChat(t, ctx, c, tc)
	}
}

// sdkStream sends params streamed and returns the accumulated answer and
// how many chunks it came in.
func sdkStream(t *testing.T, ctx context.Context, c openai.Client, params openai.ChatCompletionNewParams) (openai.ChatCompletionAccumulator, int) {
	t.Helper()
	stream := c.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	chunks := 0
	for stream.Next() {
		acc.AddChunk(stream.Current())
		chunks++
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("%s stream: %v", params.Model, err)
	}
	return acc, chunks
}

// TestProviders: the official OpenAI client talks to Azure and Anthropic
// deployments through an edge, plain and streaming, and a model group
// whose preferred deployment is down is served by the healthy one, which
// keeps serving while the broken one cools down.
func TestProviders(t *testing.T) {
	mock := startProviderMock(t)
	sys := startSystem(t, providersConfig(mock.addr), 1, "AZURE_KEY="+azureKey, "ANTHROPIC_KEY="+anthropicKey)
	edge := sys.edges[0]
	c, ctx := sdkClient(t, edge, 60*time.Second)

	checkChats(t, ctx, c,
		chatCase{"azure-gpt-4o", "Hello! How can I help you today?", "Hello there!", 12, 9, 15},
		chatCase{"claude", "Hello! How can I help you today?", "Hello there!", 12, 10, 40})

	// Fallback: the broken deployment fails once, the request is served
	// by the healthy one; the broken one is then cooled down.
	const brokenPath = "/broken/openai/deployments/gpt4o-us/chat/completions"
	params := openai.ChatCompletionNewParams{Model: "ha", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hi")}}
	resp, err := c.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatalf("ha: %v", err)
	}
	if resp.Choices[0].Message.Content != "Hello! How can I help you today?" || resp.Model != "claude-3-5-sonnet-20240620" {
		t.Fatalf("ha answered by %s: %+v", resp.Model, resp.Choices)
	}
	if n := mock.count(brokenPath); n != 1 {
		t.Fatalf("broken deployment got %d requests, want 1", n)
	}
	for range 3 {
		if _, err := c.Chat.Completions.New(ctx, params); err != nil {
			t.Fatalf("ha while cooling: %v", err)
		}
		stream := c.Chat.Completions.NewStreaming(ctx, params)
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil || acc.Choices[0].Message.Content != "Hello there!" {
			t.Fatalf("ha stream while cooling: %v %+v", err, acc.Choices)
		}
	}
	if n := mock.count(brokenPath); n != 1 {
		t.Errorf("the cooled-down deployment got %d more requests", n-1)
	}
	mock.mu.Lock()
	defer mock.mu.Unlock()
	if len(mock.bad) > 0 {
		t.Errorf("requests the providers would refuse: %v", mock.bad)
	}
}
