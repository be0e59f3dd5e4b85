package policy

import "strings"

// Providers the gateway forwards to. "mock" answers locally.
const (
	ProviderOpenAI    = "openai"
	ProviderAzure     = "azure"
	ProviderAnthropic = "anthropic"
	ProviderMock      = "mock"
	ProviderBedrock   = "bedrock"
	ProviderGemini    = "gemini"
	ProviderVertex    = "vertex_ai"
	// ProviderHostedVLLM and friends are OpenAI-compatible servers.
	ProviderHostedVLLM = "hosted_vllm"
)

// openAICompatible lists providers spoken to with the OpenAI chat wire format.
var openAICompatible = map[string]bool{
	ProviderOpenAI: true, "openai_like": true, "custom_openai": true, ProviderHostedVLLM: true,
	"vllm": true, "ollama_chat": true, "lm_studio": true, "together_ai": true, "groq": true,
	"deepseek": true, "fireworks_ai": true, "mistral": true, "xai": true, "openrouter": true,
	"perplexity": true, "deepinfra": true, "llamafile": true,
	// OpenAI-compatible servers LiteLLM names by their own prefix; they
	// have no default endpoint here, so their deployments set api_base.
	"nvidia_nim": true, "cerebras": true, "sambanova": true, "litellm_proxy": true, "github": true,
}

// hostedDefaults are the OpenAI-compatible providers edge/proxy knows the
// public endpoint of (its defaultAPIBase; a test there keeps the two
// equal). The others need an api_base.
var hostedDefaults = map[string]bool{
	ProviderOpenAI: true, "groq": true, "together_ai": true, "deepseek": true, "fireworks_ai": true,
	"mistral": true, "xai": true, "openrouter": true, "perplexity": true, "deepinfra": true,
}

// HostedDefaults lists the providers with a default api_base, for the
// test that keeps edge/proxy in step.
func HostedDefaults() []string {
	out := make([]string, 0, len(hostedDefaults))
	for p := range hostedDefaults {
		out = append(out, p)
	}
	return out
}

// knownProviders are the prefixes recognised in litellm_params.model and in
// requested model names. A prefix not in this set is part of the model name.
var knownProviders = map[string]bool{
	ProviderAzure: true, ProviderAnthropic: true, ProviderMock: true, "bedrock": true,
	"vertex_ai": true, "gemini": true, "cohere": true, "azure_ai": true, "sagemaker": true,
	"huggingface": true, "replicate": true, "ollama": true,
}

func init() {
	for p := range openAICompatible {
		knownProviders[p] = true
	}
}

// IsOpenAICompatible reports whether a provider speaks the OpenAI wire format.
func IsOpenAICompatible(provider string) bool { return openAICompatible[provider] }

// IsKnownProvider reports whether p is a provider prefix.
func IsKnownProvider(p string) bool { return knownProviders[p] }

// SplitProvider splits "openai/gpt-4o" into ("openai", "gpt-4o"). A model
// without a known provider prefix gets the provider inferred from its name
// ("gpt-4o" -> "openai"), or "" when none can be inferred.
func SplitProvider(model string) (provider, name string) {
	if i := strings.IndexByte(model, '/'); i > 0 && knownProviders[model[:i]] {
		return model[:i], model[i+1:]
	}
	return InferProvider(model), model
}

// InferProvider guesses the provider of a bare model name the way LiteLLM's
// get_llm_provider does for the common families, so "gpt-4" matches an
// "openai/*" pattern and "claude-3-5-sonnet" matches "anthropic/*".
func InferProvider(model string) string {
	switch {
	case strings.HasPrefix(model, "gpt-"), strings.HasPrefix(model, "chatgpt-"),
		strings.HasPrefix(model, "o1"), strings.HasPrefix(model, "o3"), strings.HasPrefix(model, "o4"),
		strings.HasPrefix(model, "text-embedding-"), strings.HasPrefix(model, "dall-e"),
		strings.HasPrefix(model, "whisper"), strings.HasPrefix(model, "tts-"),
		strings.HasPrefix(model, "davinci"), strings.HasPrefix(model, "babbage"),
		strings.HasPrefix(model, "omni-moderation"), strings.HasPrefix(model, "text-moderation"):
		return ProviderOpenAI
	case strings.HasPrefix(model, "claude"):
		return ProviderAnthropic
	case strings.HasPrefix(model, "gemini"):
		return "gemini"
	case strings.HasPrefix(model, "command"):
		return "cohere"
	case strings.HasPrefix(model, "mistral-"), strings.HasPrefix(model, "mixtral-"),
		strings.HasPrefix(model, "codestral"), strings.HasPrefix(model, "open-mistral"):
		return "mistral"
	}
	return ""
}

// globMatch reports whether s matches pattern, where '*' matches any run of
// characters (including '/') and every other byte is literal. LiteLLM turns
// '*' into '.*' inside a regex, which also makes '.' a wildcard; a literal
// dot is what users mean by "bedrock/us.*", so it stays literal here.
// prefix is matched as if it were prepended to s, which lets callers test
// "provider/model" without building the string.
func globMatch(pattern, prefix, s string) bool {
	// Iterative matcher with single-star backtracking; no allocation.
	n := len(prefix) + len(s)
	at := func(i int) byte {
		if i < len(prefix) {
			return prefix[i]
		}
		return s[i-len(prefix)]
	}
	p, i := 0, 0
	star, mark := -1, 0
	for i < n {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == at(i):
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchModel reports whether a pattern (with '*') matches a requested model,
// either as given or as "<inferred provider>/<model>".
func matchModel(pattern, model string) bool {
	if globMatch(pattern, "", model) {
		return true
	}
	if strings.IndexByte(model, '/') < 0 || !knownProviders[model[:strings.IndexByte(model, '/')]] {
		if p := InferProvider(model); p != "" && len(pattern) > len(p) && pattern[len(p)] == '/' && pattern[:len(p)] == p {
			return globMatch(pattern[len(p)+1:], "", model)
		}
	}
	return false
}

// CanServe reports whether the edge can forward chat completions to a
// provider: the OpenAI-compatible family, Azure OpenAI, Anthropic, AWS
// Bedrock, Gemini, Vertex AI and the mock. Other providers LiteLLM knows
// (huggingface, ollama, ...) have no client in the edge.
func CanServe(provider string) bool {
	switch provider {
	case ProviderAzure, ProviderAnthropic, ProviderBedrock, ProviderGemini, ProviderVertex, ProviderMock:
		return true
	}
	return openAICompatible[provider]
}

// NeedsAPIBase reports whether a provider's deployments must set api_base:
// Azure (every resource has its own host) and OpenAI-compatible providers
// without a known public endpoint (self-hosted ones: edge/proxy has no
// default for them, so that their key never goes to api.openai.com).
func NeedsAPIBase(provider string) bool {
	return provider == ProviderAzure || (openAICompatible[provider] && !hostedDefaults[provider])
}

// ProviderKeyEnv is the environment variable LiteLLM reads a provider's
// key from when a deployment sets no api_key.
func ProviderKeyEnv(provider string) string {
	switch provider {
	case ProviderOpenAI:
		return "OPENAI_API_KEY"
	case ProviderAzure:
		return "AZURE_API_KEY"
	case ProviderAnthropic:
		return "ANTHROPIC_API_KEY"
	case "groq", "together_ai", "deepseek", "fireworks_ai", "mistral", "xai", "openrouter", "perplexity", "deepinfra":
		name := strings.ToUpper(provider)
		if provider == "together_ai" {
			name = "TOGETHERAI"
		}
		if provider == "fireworks_ai" {
			name = "FIREWORKS_AI"
		}
		return name + "_API_KEY"
	}
	return ""
}
