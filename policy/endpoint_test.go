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
		{"openai/gpt-4o", "", "", "chat,embeddings,completions"},
		{"openai/gpt-4o", "chat", "", "chat,completions"},
		{"openai/text-embedding-3-small", "", "", "embeddings"},
		{"openai/text-embedding-3-small", "chat", "", "chat,completions"}, // an explicit mode wins
		{"hosted_vllm/bge", "embedding", "", "embeddings"},
		{"azure/my-deploy", "completion", "", "completions"},
		{"mock/x", "", "", "chat,embeddings,completions"},
		{"anthropic/claude-3-5-sonnet", "", "", "chat"},
		{"anthropic/claude-3-5-sonnet", "embedding", "", ""},
		{"bedrock/amazon.titan-embed-text-v2:0", "embedding", "", ""},
		{"anthropic/claude-3-5-sonnet", "", "canned", "chat,embeddings,completions"}, // mock_response answers in-process
		{"openai/gpt-4o", "image_generation", "", ""},
	} {
		d := compileDeployment(&events.Model{ID: "d", ModelName: "g", LiteLLMParams: events.ModelParams{Model: tc.model, MockResponse: tc.mockResponse},
			ModelInfo: events.ModelInfo{Mode: tc.mode}}, func(string) (string, bool) { return "x", true })
		if got := strings.Join(d.Endpoints(), ","); got != tc.want {
			t.Errorf("%s mode %q: serves %q, want %q", tc.model, tc.mode, got, tc.want)
		}
	}
}
