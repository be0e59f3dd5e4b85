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
