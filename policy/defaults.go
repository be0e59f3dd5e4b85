package policy

import (
	"encoding/json"

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
	add := func(key string, v any) {
		b, err := json.Marshal(v)
		if err == nil {
			out = append(out, DefaultParam{Key: key, JSON: b})
		}
	}
	if p.Temperature != nil {
		add("temperature", *p.Temperature)
	}
	if p.TopP != nil {
		add("top_p", *p.TopP)
	}
	if p.MaxTokens != nil {
		add("max_tokens", *p.MaxTokens)
	}
	if p.MaxCompletionTokens != nil {
		add("max_completion_tokens", *p.MaxCompletionTokens)
	}
	if p.Seed != nil {
		add("seed", *p.Seed)
	}
	if p.FrequencyPenalty != nil {
		add("frequency_penalty", *p.FrequencyPenalty)
	}
	if p.PresencePenalty != nil {
		add("presence_penalty", *p.PresencePenalty)
	}
	if len(p.Stop) > 0 {
		add("stop", p.Stop)
	}
	if p.ReasoningEffort != "" {
		add("reasoning_effort", p.ReasoningEffort)
	}
	return out
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
