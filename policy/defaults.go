package policy

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/gatehouse/gatehouse/events"
)

// DefaultParam is one default request parameter of a deployment
// (litellm_params.temperature, ...), rendered once when the snapshot is
// built so the request path only copies bytes.
type DefaultParam struct {
	Key  string
	JSON []byte
}

func compileDefaults(p events.ModelParams) []DefaultParam {
	var out []DefaultParam
	addSet(&out, "temperature", p.Temperature)
	addSet(&out, "top_p", p.TopP)
	addSet(&out, "max_tokens", p.MaxTokens)
	addSet(&out, "max_completion_tokens", p.MaxCompletionTokens)
	addSet(&out, "seed", p.Seed)
	addSet(&out, "frequency_penalty", p.FrequencyPenalty)
	addSet(&out, "presence_penalty", p.PresencePenalty)
	if len(p.Stop) > 0 {
		addParam(&out, "stop", p.Stop)
	}
	if p.ReasoningEffort != "" {
		addParam(&out, "reasoning_effort", p.ReasoningEffort)
	}
	addSet(&out, "top_k", p.TopK)
	if p.Thinking != nil {
		addParam(&out, "thinking", p.Thinking)
	}
	// extra_body last and in key order; a parameter set by its own
	// field above wins.
	for _, k := range slices.Sorted(maps.Keys(p.ExtraBody)) {
		if !slices.ContainsFunc(out, func(d DefaultParam) bool { return d.Key == k }) {
			addParam(&out, k, p.ExtraBody[k])
		}
	}
	return out
}

// addSet adds the parameter key when v is set (not nil).
func addSet[T any](out *[]DefaultParam, key string, v *T) {
	if v != nil {
		addParam(out, key, *v)
	}
}

// addParam adds the parameter key with v rendered as JSON (left out if
// it does not render).
func addParam(out *[]DefaultParam, key string, v any) {
	b, err := json.Marshal(v)
	if err == nil {
		*out = append(*out, DefaultParam{Key: key, JSON: b})
	}
}

// HasTag reports whether d carries tag.
func (d *Deployment) HasTag(tag string) bool {
	for _, t := range d.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// FilterByTags is LiteLLM's tag routing: a request with tags goes only to
// deployments carrying one of them; a request without tags goes to the
// deployments tagged "default" when there are any, else to all. It
// returns nil when tags are given and no deployment has one.
func FilterByTags(ds []*Deployment, tags []string) []*Deployment {
	if len(tags) == 0 {
		var def []*Deployment
		for _, d := range ds {
			if d.HasTag("default") {
				def = append(def, d)
			}
		}
		if def != nil {
			return def
		}
		return ds
	}
	var out []*Deployment
	for _, d := range ds {
		for _, t := range tags {
			if d.HasTag(t) {
				out = append(out, d)
				break
			}
		}
	}
	return out
}
