package policy

import (
	"testing"

	"github.com/gatehouse/gatehouse/events"
)

// The api_base a client is shown (x-litellm-model-api-base) carries no
// credential: not in userinfo, not in the query (Azure's ?api-key=), not
// in a fragment, and not from an os.environ/ reference resolved here.
func TestPublicAPIBase(t *testing.T) {
	env := func(name string) (string, bool) {
		if name == "BASE" {
			return "https://u:envsecret@env.example.com/v1?key=envsecret", true
		}
		return "", false
	}
	for _, tc := range []struct {
		name   string
		params events.ModelParams
		want   string
	}{
		{"plain", events.ModelParams{Model: "openai/gpt-4o", APIBase: "https://api.example.com/v1/"}, "https://api.example.com/v1"},
		{"userinfo", events.ModelParams{Model: "openai/gpt-4o", APIBase: "https://user:secret@api.example.com/v1"}, "https://api.example.com/v1"},
		{"azure query key", events.ModelParams{Model: "azure/gpt-4o", APIBase: "https://res.openai.azure.com/?api-key=secret&x=1", APIVersion: "2024-10-21"}, "https://res.openai.azure.com"},
		{"fragment", events.ModelParams{Model: "openai/gpt-4o", APIBase: "http://10.0.0.7:8000/v1#secret"}, "http://10.0.0.7:8000/v1"},
		{"env reference", events.ModelParams{Model: "openai/gpt-4o", APIBase: "os.environ/BASE"}, "https://env.example.com/v1"},
		{"not a URL", events.ModelParams{Model: "openai/gpt-4o", APIBase: "secret-host:8000"}, ""},
		{"unset", events.ModelParams{Model: "openai/gpt-4o"}, ""},
		{"bedrock endpoint", events.ModelParams{Model: "bedrock/anthropic.claude-3", AWSBedrockRuntimeEndpoint: "https://vpce.example.com/?sig=secret"}, "https://vpce.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := compileDeployment(&events.Model{ID: "m1", ModelName: "m", LiteLLMParams: tc.params}, env)
			if d.PublicAPIBase != tc.want {
				t.Errorf("PublicAPIBase = %q, want %q", d.PublicAPIBase, tc.want)
			}
		})
	}
}
