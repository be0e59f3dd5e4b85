package events

import "time"

// RoutingSettingsID is the id of the one routing settings object. On the
// wire the object keeps LiteLLM's name, router_settings (KindRouterSettings,
// RouterSettingsUpserted); policy compiles it into policy.Routing.
const RoutingSettingsID = "router"

// Routing strategies (LiteLLM's router_settings.routing_strategy values
// that gatehouse implements).
const (
	RoutingSimpleShuffle = "simple-shuffle"
	RoutingLeastBusy     = "least-busy"
)

// RoutingSettings is LiteLLM's router_settings: how an edge spreads a model
// group's requests over its deployments, when it gives up on a failing
// deployment for a while, and where it falls back. It is an event, like
// the JWT settings, so every edge applies a change without a restart.
// Nil pointers mean LiteLLM's defaults (see the accessors), which
// policy.CompileRouting applies once per change, not per request.
type RoutingSettings struct {
	ID string `json:"id"`
	// RoutingStrategy is simple-shuffle (default) or least-busy.
	RoutingStrategy string `json:"routing_strategy,omitempty"`
	// NumRetries is how many more deployments (or the same one, for a
	// group of one) a request may try after a failure, before fallbacks.
	NumRetries *int `json:"num_retries,omitempty"`
	// AllowedFails is how many failures a deployment may have within a
	// minute before it is cooled down.
	AllowedFails *int `json:"allowed_fails,omitempty"`
	// CooldownTime is how long (seconds) a cooled-down deployment gets no
	// traffic.
	CooldownTime *float64 `json:"cooldown_time,omitempty"`
	// Fallbacks maps a model group to the groups tried, in order, once its
	// own deployments failed: [{"gpt-4o": ["gpt-4o-mini"]}].
	Fallbacks []map[string][]string `json:"fallbacks,omitempty"`
	UpdatedAt time.Time             `json:"updated_at"`
	// ModelGroupAlias maps a model name clients send to the model group
	// that serves it (LiteLLM's router_settings.model_group_alias).
	ModelGroupAlias map[string]GroupAlias `json:"model_group_alias,omitempty"`
	// EnableTagFiltering routes a request carrying tags only to
	// deployments with one of them (litellm_params.tags).
	EnableTagFiltering bool `json:"enable_tag_filtering,omitempty"`
	// RejectClientsideMetadataTags is general_settings'
	// reject_clientside_metadata_tags: an LLM request whose body has
	// metadata.tags is refused (400), as LiteLLM's common_checks does.
	RejectClientsideMetadataTags bool `json:"reject_clientside_metadata_tags,omitempty"`
	// AllowedIPs is general_settings.allowed_ips: when set, every request
	// from another address is refused (403) before it is authenticated.
	// Nil is no restriction; an empty list, as in LiteLLM, allows no
	// address.
	AllowedIPs *[]string `json:"allowed_ips,omitempty"`
	// UseXForwardedFor is general_settings.use_x_forwarded_for: the
	// client address (for AllowedIPs and keys' allowed_ips) is
	// X-Forwarded-For's leftmost entry rather than the peer's.
	UseXForwardedFor bool `json:"use_x_forwarded_for,omitempty"`
}

// GroupAlias is one model_group_alias entry.
type GroupAlias struct {
	// Model is the model group the alias stands for.
	Model string `json:"model" yaml:"model"`
	// Hidden keeps the alias out of /v1/models.
	Hidden bool `json:"hidden,omitempty" yaml:"hidden"`
}

// AliasFor returns the model group an alias stands for, or "".
func (r *RoutingSettings) AliasFor(model string) string {
	if r == nil || r.ModelGroupAlias == nil {
		return ""
	}
	return r.ModelGroupAlias[model].Model
}

// LiteLLM's defaults (DEFAULT_ALLOWED_FAILS, DEFAULT_COOLDOWN_TIME_SECONDS,
// and openai.DEFAULT_MAX_RETRIES for the router's num_retries).
const (
	DefaultAllowedFails = 3
	DefaultCooldownTime = 5 * time.Second
	DefaultNumRetries   = 2
)

// Retries is num_retries with its default; explicit reports whether it
// was set.
func (r *RoutingSettings) Retries() (n int, explicit bool) {
	if r == nil || r.NumRetries == nil {
		return DefaultNumRetries, false
	}
	return *r.NumRetries, true
}

// Fails is allowed_fails with its default.
func (r *RoutingSettings) Fails() int {
	if r == nil || r.AllowedFails == nil {
		return DefaultAllowedFails
	}
	return *r.AllowedFails
}

// Cooldown is cooldown_time with its default.
func (r *RoutingSettings) Cooldown() time.Duration {
	if r == nil || r.CooldownTime == nil {
		return DefaultCooldownTime
	}
	return time.Duration(*r.CooldownTime * float64(time.Second))
}

// Strategy is routing_strategy with its default.
func (r *RoutingSettings) Strategy() string {
	if r == nil || r.RoutingStrategy == "" {
		return RoutingSimpleShuffle
	}
	return r.RoutingStrategy
}

// FallbacksFor lists the fallback groups of a model group.
func (r *RoutingSettings) FallbacksFor(group string) []string {
	if r == nil {
		return nil
	}
	for _, m := range r.Fallbacks {
		if fb, ok := m[group]; ok {
			return fb
		}
	}
	return nil
}
