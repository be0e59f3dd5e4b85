package policy

import "strings"

// price is USD per token.
type price struct{ in, out float64 }

// builtinPrices are list prices (USD per 1M tokens / 1e6) of common models,
// used when a deployment sets neither model_info nor litellm_params costs.
// Keys are model names without the provider; the longest matching prefix
// wins, so dated snapshots ("gpt-4o-2024-08-06") price as their family.
var builtinPrices = map[string]price{
	"gpt-4o":                {2.50e-6, 10.00e-6},
	"gpt-4o-mini":           {0.15e-6, 0.60e-6},
	"gpt-4.1":               {2.00e-6, 8.00e-6},
	"gpt-4.1-mini":          {0.40e-6, 1.60e-6},
	"gpt-4.1-nano":          {0.10e-6, 0.40e-6},
	"gpt-4-turbo":           {10.00e-6, 30.00e-6},
	"gpt-4":                 {30.00e-6, 60.00e-6},
	"gpt-3.5-turbo":         {0.50e-6, 1.50e-6},
	"o1":                    {15.00e-6, 60.00e-6},
	"o1-mini":               {1.10e-6, 4.40e-6},
	"o3":                    {2.00e-6, 8.00e-6},
	"o3-mini":               {1.10e-6, 4.40e-6},
	"o4-mini":               {1.10e-6, 4.40e-6},
	"claude-3-5-sonnet":     {3.00e-6, 15.00e-6},
	"claude-3-7-sonnet":     {3.00e-6, 15.00e-6},
	"claude-sonnet-4":       {3.00e-6, 15.00e-6},
	"claude-3-5-haiku":      {0.80e-6, 4.00e-6},
	"claude-3-haiku":        {0.25e-6, 1.25e-6},
	"claude-3-opus":         {15.00e-6, 75.00e-6},
	"claude-opus-4":         {15.00e-6, 75.00e-6},
	"gemini-1.5-pro":        {1.25e-6, 5.00e-6},
	"gemini-1.5-flash":      {0.075e-6, 0.30e-6},
	"gemini-2.0-flash":      {0.10e-6, 0.40e-6},
	"gemini-2.0-flash-lite": {0.075e-6, 0.30e-6},
	"gemini-2.5-pro":        {1.25e-6, 10.00e-6},
	"gemini-2.5-flash":      {0.30e-6, 2.50e-6},
	"gemini-2.5-flash-lite": {0.10e-6, 0.40e-6},
	"claude-sonnet-4-5":     {3.00e-6, 15.00e-6},
	"claude-haiku-4-5":      {1.00e-6, 5.00e-6},
	"claude-opus-4-1":       {15.00e-6, 75.00e-6},
	// Bedrock model ids, looked up without their vendor ("anthropic.")
	// and cross-region ("us.", "eu.", ...) prefixes; see bedrockBase.
	"nova-pro":              {0.80e-6, 3.20e-6},
	"nova-lite":             {0.06e-6, 0.24e-6},
	"nova-micro":            {0.035e-6, 0.14e-6},
	"nova-premier":          {2.50e-6, 12.50e-6},
	"llama3-1-8b-instruct":  {0.22e-6, 0.22e-6},
	"llama3-1-70b-instruct": {0.72e-6, 0.72e-6},
	"llama3-3-70b-instruct": {0.72e-6, 0.72e-6},
	"mistral-large-2402":    {4.00e-6, 12.00e-6},
	"titan-text-express":    {0.20e-6, 0.60e-6},
	"command-r-plus":        {3.00e-6, 15.00e-6},
	"command-r":             {0.50e-6, 1.50e-6},
	"mistral-large":         {2.00e-6, 6.00e-6},
	"mistral-small":         {0.20e-6, 0.60e-6},
}

// BuiltinPrice returns the list price of a model (by its name without the
// provider, longest known prefix), and whether one is known.
func BuiltinPrice(model string) (in, out float64, ok bool) {
	_, name := SplitProvider(model)
	best := longestPrefix(name)
	if best == "" && strings.Contains(name, ".") {
		// A Bedrock model id: its vendor and region prefixes are not
		// part of the model's name.
		best = longestPrefix(bedrockBase(name))
	}
	if best == "" {
		return 0, 0, false
	}
	p := builtinPrices[best]
	return p.in, p.out, true
}

func longestPrefix(name string) string {
	best := ""
	for k := range builtinPrices {
		if strings.HasPrefix(name, k) && len(k) > len(best) {
			best = k
		}
	}
	return best
}

// bedrockBase strips a Bedrock model id to the model's name:
// "us.anthropic.claude-3-5-sonnet-20240620-v1:0" -> "claude-3-5-sonnet-20240620-v1:0".
// Ids are [<region>.]<vendor>.<model>; an ARN keeps its last path element.
func bedrockBase(id string) string {
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		id = id[i+1:]
	}
	for _, r := range []string{"us.", "eu.", "apac.", "us-gov.", "global.", "jp.", "au.", "ca."} {
		if rest, ok := strings.CutPrefix(id, r); ok {
			id = rest
			break
		}
	}
	if _, rest, ok := strings.Cut(id, "."); ok {
		id = rest
	}
	return id
}

// cacheRatios are the cache prices of a model family as fractions of its
// input price (read, write), from the providers' price lists: Anthropic
// bills cache reads at 0.1x and writes at 1.25x, OpenAI cached input at
// 0.5x (gpt-4o, o-series) or 0.25x (gpt-4.1), Gemini at 0.25x. Unknown
// models get (1, 1): no discount is guessed.
func cacheRatios(model string) (read, write float64) {
	_, name := SplitProvider(model)
	if r, w, ok := familyCacheRatios(name); ok {
		return r, w
	}
	if r, w, ok := familyCacheRatios(bedrockBase(name)); ok && strings.Contains(name, ".") {
		return r, w
	}
	return 1, 1
}

func familyCacheRatios(name string) (read, write float64, ok bool) {
	switch {
	case strings.HasPrefix(name, "claude"):
		return 0.1, 1.25, true
	case strings.HasPrefix(name, "gpt-4.1"):
		return 0.25, 1, true
	case strings.HasPrefix(name, "gpt-4o"), strings.HasPrefix(name, "o1"), strings.HasPrefix(name, "o3"), strings.HasPrefix(name, "o4"):
		return 0.5, 1, true
	case strings.HasPrefix(name, "gemini"):
		return 0.25, 1, true
	}
	return 0, 0, false
}

// cachePrices are a deployment's cache prices per token: the configured
// ones (LiteLLM's cache_read_input_token_cost and
// cache_creation_input_token_cost), else the model family's ratio applied
// to the deployment's input price (configured or list).
func cachePrices(model string, input, read, write float64) (float64, float64) {
	rr, wr := cacheRatios(model)
	if read == 0 {
		read = input * rr
	}
	if write == 0 {
		write = input * wr
	}
	return read, write
}

// Cost is the price of a request's tokens on d. prompt counts all prompt
// tokens; cached (read from the provider's prompt cache) and creation
// (written to it) are parts of it, priced at the cache prices. Counts that
// do not add up are charged as uncached prompt tokens.
func (d *Deployment) Cost(prompt, cached, creation, completion int64) float64 {
	if cached < 0 || creation < 0 || cached+creation > prompt {
		cached, creation = 0, 0
	}
	return float64(prompt-cached-creation)*d.InputCostPerToken + float64(cached)*d.CacheReadCostPerToken +
		float64(creation)*d.CacheCreationCostPerToken + float64(completion)*d.OutputCostPerToken
}
