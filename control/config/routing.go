package config

import (
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
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
	// ContextWindowFallbacks is LiteLLM's context_window_fallbacks (also
	// accepted under litellm_settings). Gatehouse falls back on provider
	// failures only, so these become ordinary fallbacks of groups that
	// have none of their own (with a warning saying so).
	ContextWindowFallbacks []map[string][]string `yaml:"context_window_fallbacks"`
	// ModelGroupAlias maps a name clients send to a model group:
	// "gpt-4": "gpt-4o", or "gpt-4": {model: gpt-4o, hidden: true}.
	ModelGroupAlias map[string]events.GroupAlias `yaml:"model_group_alias"`
	// EnableTagFiltering routes requests with tags to the deployments
	// carrying one of them (litellm_params.tags).
	EnableTagFiltering bool `yaml:"enable_tag_filtering"`
	// StreamTimeout is the stream_timeout, in seconds, of every config
	// deployment that sets none (LiteLLM: "the default timeout for a
	// streaming request"). Edges read it from the deployment; it is not
	// part of the routing settings event.
	StreamTimeout float64 `yaml:"stream_timeout"`
}

func (f *File) validateRouting(v *validator) {
	r := &f.RoutingSettings
	const p = "router_settings."
	switch r.RoutingStrategy {
	case "", events.RoutingSimpleShuffle, events.RoutingLeastBusy:
	case "usage-based-routing", "usage-based-routing-v2", "latency-based-routing", "cost-based-routing", "free-key-optimization":
		// Every deployment still serves; only the spread differs
		// (free-key-optimization: LiteLLM's cheapest deployment under its
		// limits, from its tests' free_key_optimization_config.yaml).
		v.warn(p+"routing_strategy", "%s is not implemented: requests are spread by simple-shuffle instead (weighted by litellm_params weight, else rpm, else tpm); deployment rpm/tpm are weights, not limits", r.RoutingStrategy)
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
	nonNegative(v, p+"stream_timeout", r.StreamTimeout)
	if ips := f.GeneralSettings.AllowedIPs; ips != nil {
		for i, e := range *ips {
			if err := policy.CheckIPEntry(e); err != nil {
				v.add("general_settings.allowed_ips["+strconv.Itoa(i)+"]", "%v", err)
			}
		}
		if len(*ips) == 0 {
			v.warn("general_settings.allowed_ips", "an empty list allows no address: as in LiteLLM, every request to the edges and the admin API is refused (403) whatever its address; the health probes stay reachable")
		}
	}
	checkFallbacks(v, p+"fallbacks", r.Fallbacks)
	checkFallbacks(v, p+"context_window_fallbacks", r.ContextWindowFallbacks)
	if len(r.ContextWindowFallbacks) > 0 {
		v.warn(p+"context_window_fallbacks", "gatehouse falls back on provider failures (connect errors, timeouts, 429, 5xx), not on a context-window error (a 400, returned to the client); these groups are used as ordinary fallbacks of groups without fallbacks of their own")
	}
	names := map[string]bool{}
	wildcard := false
	for _, e := range f.ModelList {
		names[e.ModelName] = true
		wildcard = wildcard || strings.Contains(e.ModelName, "*")
	}
	aliases := slices.Sorted(maps.Keys(r.ModelGroupAlias))
	for _, a := range aliases {
		ap := p + "model_group_alias." + a
		to := r.ModelGroupAlias[a].Model
		switch {
		case a == "" || to == "":
			v.add(ap, "maps a model name to a model group; both must be non-empty")
		case names[a]:
			v.add(ap, "%q is a model_name already; the alias could never apply", a)
		case len(f.ModelList) > 0 && !names[to] && !wildcard:
			// Every request for the alias would fail.
			v.add(ap, "%q is not a model_name in model_list", to)
		}
	}
}

func checkFallbacks(v *validator, p string, fbs []map[string][]string) {
	for i, m := range fbs {
		path := p + "[" + strconv.Itoa(i) + "]"
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
	r.StreamTimeout = 0 // a deployment default (Models), not an edge setting
	g := f.GeneralSettings
	rejectTags := g.RejectClientsideMetadataTags
	if reflect.ValueOf(r).IsZero() && !rejectTags && g.AllowedIPs == nil && !g.UseXForwardedFor {
		return nil, nil
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	fallbacks := r.Fallbacks
	for _, m := range r.ContextWindowFallbacks {
		for g, fbs := range m {
			if fallbackOf(fallbacks, g) == nil {
				fallbacks = append(fallbacks, map[string][]string{g: fbs})
			}
		}
	}
	strategy := r.RoutingStrategy
	if strategy != events.RoutingLeastBusy {
		strategy = "" // simple-shuffle, also for the strategies it stands in for
		if r.RoutingStrategy == events.RoutingSimpleShuffle {
			strategy = r.RoutingStrategy
		}
	}
	return &events.RoutingSettings{ID: events.RoutingSettingsID, RoutingStrategy: strategy,
		NumRetries: r.NumRetries, AllowedFails: r.AllowedFails, CooldownTime: r.CooldownTime,
		Fallbacks: fallbacks, ModelGroupAlias: r.ModelGroupAlias, EnableTagFiltering: r.EnableTagFiltering,
		RejectClientsideMetadataTags: rejectTags, AllowedIPs: g.AllowedIPs, UseXForwardedFor: g.UseXForwardedFor, UpdatedAt: now}, nil
}

func fallbackOf(fbs []map[string][]string, g string) []string {
	for _, m := range fbs {
		if fb, ok := m[g]; ok {
			return fb
		}
	}
	return nil
}
