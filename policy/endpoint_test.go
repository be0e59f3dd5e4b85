package policy

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/events"
)

// TestServes: which deployments serve which endpoint, by provider and
// model_info.mode (inferred for OpenAI embedding models).
func TestServes(t *testing.T) {
	for _, tc := range []struct {
		model, mode, mockResponse string
		want                      string // endpoints served
	}{
		{"openai/gpt-4o", "", "", "chat,embeddings,completions,responses,messages"},
		{"openai/gpt-4o", "chat", "", "chat,completions,responses,messages"},
		{"openai/text-embedding-3-small", "", "", "embeddings"},
		{"openai/text-embedding-3-small", "chat", "", "chat,completions,responses,messages"}, // an explicit mode wins
		{"hosted_vllm/bge", "embedding", "", "embeddings"},
		{"azure/my-deploy", "completion", "", "completions"},
		{"mock/x", "", "", "chat,embeddings,completions,responses,messages"},
		{"anthropic/claude-3-5-sonnet", "", "", "chat,messages,count_tokens"},
		{"anthropic/claude-3-5-sonnet", "embedding", "", ""},
		{"bedrock/amazon.titan-embed-text-v2:0", "embedding", "", ""},
		{"bedrock/anthropic.claude-3-5-sonnet", "", "", "chat,messages"}, // Messages through the chat translation
		{"azure/my-deploy", "", "", "chat,embeddings,completions,responses,messages"},
		{"anthropic/claude-3-5-sonnet", "", "canned", "chat,embeddings,completions,responses,messages"}, // mock_response answers in-process
		{"openai/gpt-4o", "image_generation", "", ""},
	} {
		d := compileDeployment(&events.Model{ID: "d", ModelName: "g", LiteLLMParams: events.ModelParams{Model: tc.model, MockResponse: tc.mockResponse},
			ModelInfo: events.ModelInfo{Mode: tc.mode}}, func(string) (string, bool) { return "x", true })
		if got := strings.Join(d.Endpoints(), ","); got != tc.want {
			t.Errorf("%s mode %q: serves %q, want %q", tc.model, tc.mode, got, tc.want)
		}
	}
}
