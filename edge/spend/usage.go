package spend

import (
	"time"

	"github.com/gatehouse/gatehouse/edge/proxy"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
)

// Apply sets the fields of ev that come from the forwarder's report of one
// request (proxy.Usage) and from the deployment that served it: tokens,
// Estimated, Status, Outcome, TTFTMS, LatencyMS, and Cost, priced by
// d.Cost (estimated tokens are priced too). Deployment and Provider are taken from d when empty; Model
// (the model sent upstream) is left to the caller, and is the upstream's
// reported model only when the caller set none.
func Apply(ev *events.SpendEvent, d *policy.Deployment, u proxy.Usage, latency time.Duration) {
	ev.PromptTokens, ev.CompletionTokens, ev.TotalTokens = u.PromptTokens, u.CompletionTokens, u.TotalTokens
	ev.CachedTokens, ev.CacheCreationTokens = u.CachedTokens, u.CacheCreationTokens
	ev.Estimated = u.Estimated
	ev.Status, ev.Outcome = u.Status, u.Outcome
	ev.ResponseID = u.ID
	ev.LatencyMS = float64(latency) / float64(time.Millisecond)
	ev.TTFTMS = float64(u.TTFT) / float64(time.Millisecond)
	if d != nil {
		ev.Cost = d.Cost(u.PromptTokens, u.CachedTokens, u.CacheCreationTokens, u.CompletionTokens)
		if ev.Deployment == "" {
			ev.Deployment = d.ID
		}
		if ev.Provider == "" {
			ev.Provider = d.Provider
		}
	}
	if ev.Model == "" {
		ev.Model = u.Model
	}
}
