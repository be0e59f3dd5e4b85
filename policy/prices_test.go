package policy

import (
	"math"
	"testing"

	"github.com/gatehouse/gatehouse/events"
)

// TestDeploymentCost: cache reads and writes are priced at the
// deployment's cache prices (configured, else the family's ratio to the
// input price), never at a guessed discount for an unknown model.
func TestDeploymentCost(t *testing.T) {
	const in, out = 3e-6, 15e-6
	tests := []struct {
		name                                 string
		model                                string
		params                               events.ModelParams
		info                                 events.ModelInfo
		prompt, cached, creation, completion int64
		want                                 float64
	}{
		{name: "anthropic list price, reads and writes", model: "anthropic/claude-sonnet-4-20250514",
			prompt: 1000, cached: 600, creation: 300, completion: 50,
			want: 100*in + 600*in*0.1 + 300*in*1.25 + 50*out},
		{name: "bedrock claude id", model: "bedrock/us.anthropic.claude-3-7-sonnet-20250219-v1:0",
			prompt: 1000, cached: 1000, want: 1000 * in * 0.1},
		{name: "openai gpt-4o cached input is half price", model: "openai/gpt-4o-2024-08-06",
			prompt: 1000, cached: 400, completion: 10, want: 600*2.5e-6 + 400*2.5e-6*0.5 + 10*10e-6},
		{name: "openai o3", model: "openai/o3", prompt: 100, cached: 100, want: 100 * 2e-6 * 0.5},
		{name: "openai gpt-4.1 cached input is a quarter", model: "openai/gpt-4.1", prompt: 1000, cached: 400,
			want: 600*2e-6 + 400*2e-6*0.25},
		{name: "gemini", model: "gemini/gemini-1.5-pro-002", prompt: 1000, cached: 400, want: 600*1.25e-6 + 400*1.25e-6*0.25},
		{name: "unknown model with input price: cached at the input price", model: "openai/my-finetune",
			params: events.ModelParams{InputCostPerToken: 1e-6, OutputCostPerToken: 2e-6},
			prompt: 1000, cached: 400, creation: 100, completion: 10, want: 1000*1e-6 + 10*2e-6},
		{name: "known family with configured input price gets the family ratio", model: "anthropic/claude-3-5-haiku",
			info:   events.ModelInfo{InputCostPerToken: 1e-6, OutputCostPerToken: 5e-6},
			prompt: 1000, cached: 500, creation: 100, want: 400*1e-6 + 500*1e-6*0.1 + 100*1e-6*1.25},
		{name: "explicit cache prices win (model_info over litellm_params)", model: "openai/my-finetune",
			params: events.ModelParams{InputCostPerToken: 1e-6, CacheReadInputTokenCost: 9e-9, CacheCreationInputTokenCost: 8e-9},
			info:   events.ModelInfo{CacheReadInputTokenCost: 1e-7},
			prompt: 1000, cached: 500, creation: 100, want: 400*1e-6 + 500*1e-7 + 100*8e-9},
		{name: "counts that do not add up are uncached", model: "anthropic/claude-sonnet-4", prompt: 10, cached: 20,
			want: 10 * in},
		{name: "no cache tokens: the plain formula", model: "anthropic/claude-opus-4", prompt: 10, completion: 10,
			want: 10*15e-6 + 10*75e-6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.params.Model = tt.model
			d := compileDeployment(&events.Model{ID: "d", ModelName: "g", LiteLLMParams: tt.params, ModelInfo: tt.info},
				func(string) (string, bool) { return "", false })
			got := d.Cost(tt.prompt, tt.cached, tt.creation, tt.completion)
			if math.Abs(got-tt.want) > 1e-12*math.Max(1, math.Abs(tt.want)) || (tt.want != 0 && got == 0) {
				t.Fatalf("cost %.12g, want %.12g (deployment prices in %g out %g read %g write %g)", got, tt.want,
					d.InputCostPerToken, d.OutputCostPerToken, d.CacheReadCostPerToken, d.CacheCreationCostPerToken)
			}
		})
	}
}
