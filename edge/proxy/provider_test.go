package proxy

import (
	"testing"

	"github.com/gatehouse/gatehouse/policy"
)

// TestProviderFor pins which implementation serves each provider prefix:
// a registered one, the OpenAI one for OpenAI-compatible servers, none
// for providers not implemented yet (refused with a 400 by the
// forwarder).
func TestProviderFor(t *testing.T) {
	cases := []struct {
		provider string
		want     Provider
	}{
		{policy.ProviderOpenAI, viaHTTP{openAI{}}},
		{policy.ProviderHostedVLLM, viaHTTP{openAI{}}},
		{"groq", viaHTTP{openAI{}}},
		{policy.ProviderAzure, viaHTTP{azure{}}},
		{policy.ProviderAnthropic, viaHTTP{anthropic{}}},
		{policy.ProviderMock, mock{}},
		{policy.ProviderBedrock, viaHTTP{bedrock{}}},
		{policy.ProviderGemini, viaHTTP{gemini{}}},
		{policy.ProviderVertex, viaHTTP{vertex{}}},
		{"sagemaker", nil},
		{"", nil},
	}
	for _, c := range cases {
		if got := providerFor(c.provider); got != c.want {
			t.Errorf("%q: got %#v, want %#v", c.provider, got, c.want)
		}
	}
}
