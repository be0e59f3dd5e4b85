package policy

import (
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// Strategy is how a model group's requests are spread over its
// deployments.
type Strategy uint8

const (
	// SimpleShuffle picks at random, weighted by weight, else rpm, else tpm.
	SimpleShuffle Strategy = iota
	// LeastBusy picks the deployment with the fewest requests in flight at
	// this edge.
	LeastBusy
)

// Routing is router_settings compiled for the request path, as the
// catalog is for deployments: defaults applied, the strategy an enum, the
// fallbacks indexed by model group. Built when the settings event is
// applied; immutable and never nil in a snapshot.
type Routing struct {
	Strategy Strategy
	// Retries is num_retries; RetriesExplicit says it was configured, which
	// is what allows retrying a group of one deployment.
	Retries         int
	RetriesExplicit bool
	// AllowedFails is how many failures a minute a deployment may have
	// before it is cooled down for Cooldown.
	AllowedFails int
	Cooldown     time.Duration
	// TagFiltering is enable_tag_filtering: requests with tags go to the
	// deployments carrying one of them.
	TagFiltering bool
	// RejectClientTags is reject_clientside_metadata_tags: a request body
	// with metadata.tags is refused.
	RejectClientTags bool
	// IPAllow is general_settings.allowed_ips, parsed once here so that
	// a request costs a prefix scan; nil when there is none.
	IPAllow *IPAllowlist
	// UseXFF is general_settings.use_x_forwarded_for.
	UseXFF    bool
	fallbacks map[string][]string
}

// defaultRouting is LiteLLM's behaviour without router_settings.
var defaultRouting = CompileRouting(nil)

// CompileRouting compiles a settings event (nil: the defaults); snapshots
// do it when the event is applied. Of two
// fallback entries for one group the first wins, as it did when the list
// was searched per request.
func CompileRouting(rs *events.RoutingSettings) *Routing {
	r := &Routing{AllowedFails: rs.Fails(), Cooldown: rs.Cooldown()}
	if rs != nil {
		r.TagFiltering = rs.EnableTagFiltering
		r.RejectClientTags = rs.RejectClientsideMetadataTags
		r.UseXFF = rs.UseXForwardedFor
		if rs.AllowedIPs != nil {
			r.IPAllow = CompileIPAllowlist(*rs.AllowedIPs)
		}
	}
	r.Retries, r.RetriesExplicit = rs.Retries()
	if rs.Strategy() == events.RoutingLeastBusy {
		r.Strategy = LeastBusy
	}
	if rs != nil && len(rs.Fallbacks) > 0 {
		r.fallbacks = make(map[string][]string)
		for _, m := range rs.Fallbacks {
			for group, fbs := range m {
				if _, seen := r.fallbacks[group]; !seen {
					r.fallbacks[group] = fbs
				}
			}
		}
	}
	return r
}

// GenericFallback is the fallbacks key that applies to every model group
// without fallbacks of its own (LiteLLM's {"*": [...]}).
const GenericFallback = "*"

// FallbacksFor lists the model groups tried, in order, once a group's own
// deployments failed. As LiteLLM's get_fallback_model_group: the group's
// own entry, else the entry of its name without a known provider prefix
// ("openai/gpt-3.5-turbo" takes the fallbacks of "gpt-3.5-turbo", which is
// how a wildcard deployment's requests find theirs), else the generic "*"
// entry.
func (r *Routing) FallbacksFor(group string) []string { return FallbacksIn(r.fallbacks, group) }

// FallbacksIn is group's list in fallbacks by FallbacksFor's lookup
// order; a request's router-config shaped "fallbacks" are read so too.
func FallbacksIn(fallbacks map[string][]string, group string) []string {
	if fbs, ok := fallbacks[group]; ok {
		return fbs
	}
	if i := strings.IndexByte(group, '/'); i > 0 && IsKnownProvider(group[:i]) {
		if fbs, ok := fallbacks[group[i+1:]]; ok {
			return fbs
		}
	}
	return fallbacks[GenericFallback]
}
