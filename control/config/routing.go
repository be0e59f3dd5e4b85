package config

import (
	"reflect"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// RoutingSettings is router_settings: load balancing across the
// deployments of a model group. Only the settings gatehouse implements are
// accepted; LiteLLM's others (redis_host, other strategies, ...) are
// errors naming the field, not silently different behaviour.
type RoutingSettings struct {
	// RoutingStrategy: simple-shuffle (default; honours litellm_params
	// weight, else rpm, else tpm) or least-busy (fewest in-flight requests
	// at this edge).
	RoutingStrategy string `yaml:"routing_strategy"`
	// NumRetries: further attempts after a failure (default 2).
	NumRetries *int `yaml:"num_retries"`
	// AllowedFails: failures per minute before a deployment is cooled
	// down (default 3).
	AllowedFails *int `yaml:"allowed_fails"`
	// CooldownTime: seconds a failing deployment gets no traffic (default 5).
	CooldownTime *float64 `yaml:"cooldown_time"`
	// Fallbacks: [{"model-group": ["fallback-group", ...]}].
	Fallbacks []map[string][]string `yaml:"fallbacks"`
}

func (f *File) validateRouting(v *validator) {
	r := &f.RoutingSettings
	const p = "router_settings."
	switch r.RoutingStrategy {
	case "", events.RoutingSimpleShuffle, events.RoutingLeastBusy:
	default:
		v.add(p+"routing_strategy", "%q is not supported; use %s or %s", r.RoutingStrategy, events.RoutingSimpleShuffle, events.RoutingLeastBusy)
	}
	if r.NumRetries != nil && *r.NumRetries < 0 {
		v.add(p+"num_retries", "must be >= 0")
	}
	if r.AllowedFails != nil && *r.AllowedFails < 0 {
		v.add(p+"allowed_fails", "must be >= 0")
	}
	if c := r.CooldownTime; c != nil && (*c < 0 || *c != *c || *c > 86400) {
		v.add(p+"cooldown_time", "must be between 0 and 86400 seconds")
	}
	for i, m := range r.Fallbacks {
		path := p + "fallbacks[" + strconv.Itoa(i) + "]"
		if len(m) != 1 {
			v.add(path, "each entry maps one model group to its fallbacks")
		}
		for g, fbs := range m {
			if g == "" || len(fbs) == 0 {
				v.add(path, "each entry maps one model group to its fallbacks")
			}
		}
	}
}

// RoutingSettingsEvent is router_settings as the event every edge applies;
// nil when the file has none, so settings already in the stream stay.
func (f *File) RoutingSettingsEvent(now time.Time) (*events.RoutingSettings, error) {
	r := f.RoutingSettings
	if reflect.ValueOf(r).IsZero() {
		return nil, nil
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &events.RoutingSettings{ID: events.RoutingSettingsID, RoutingStrategy: r.RoutingStrategy,
		NumRetries: r.NumRetries, AllowedFails: r.AllowedFails, CooldownTime: r.CooldownTime,
		Fallbacks: r.Fallbacks, UpdatedAt: now}, nil
}
