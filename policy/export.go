package policy

import (
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/events"
)

// State is a canonical, ordered dump of a snapshot: what golden tests
// compare and what /gatehouse/state returns, so the edge's and the control
// plane's views can be checked for equality.
type State struct {
	Seq          uint64                  `json:"seq"`
	Models       []*events.Model         `json:"models"`
	Keys         []*events.Key           `json:"keys"`
	Teams        []*events.Team          `json:"teams"`
	Users        []*events.User          `json:"users"`
	Orgs         []*events.Org           `json:"orgs"`
	AccessGroups []*events.AccessGroup   `json:"access_groups"`
	JWT          *events.JWTSettings     `json:"jwt_settings"`
	Routing      *events.RoutingSettings `json:"router_settings"`
	// Added with end users; omitted when empty so older dumps compare.
	Customers []*events.Customer      `json:"customers,omitempty"`
	LiteLLM   *events.LiteLLMSettings `json:"litellm_settings,omitempty"`
}

// Export dumps s. Literal provider secrets are redacted.
func Export(s *Snapshot) State {
	models := s.Models()
	for i, m := range models {
		if p, changed := RedactParams(m.LiteLLMParams); changed {
			cp := *m
			cp.LiteLLMParams = p
			models[i] = &cp
		}
	}
	return State{Seq: s.Seq(), Models: models, Keys: s.Keys(), Teams: s.Teams(), Users: s.Users(), Orgs: s.Orgs(), AccessGroups: s.AccessGroups(), JWT: s.JWT(), Routing: s.RoutingSettings(),
		Customers: s.Customers(), LiteLLM: s.LiteLLMSettings()}
}

// RedactParams hides a deployment's literal secrets (api_key, the AWS
// secret key and session token, a service account's JSON in
// vertex_credentials) for anything that shows litellm_params; os.environ/
// references, paths and other settings stay visible. changed reports
// whether anything was hidden.
func RedactParams(p events.ModelParams) (_ events.ModelParams, changed bool) {
	for _, v := range []*string{&p.APIKey, &p.AWSSecretAccessKey, &p.AWSSessionToken} {
		if *v != "" && !hasEnvPrefix(*v) {
			*v, changed = "[REDACTED]", true
		}
	}
	if strings.HasPrefix(strings.TrimSpace(p.VertexCredentials), "{") {
		p.VertexCredentials, changed = "[REDACTED]", true
	}
	return p, changed
}

func hasEnvPrefix(v string) bool { return len(v) >= len(EnvPrefix) && v[:len(EnvPrefix)] == EnvPrefix }

// WithinModels reports whether granting entry (a model name, a wildcard
// pattern, an access group or a sentinel) to a key stays within bound, a
// team's models list. A team with no list (or "*", all-proxy-models,
// all-team-models) bounds nothing; otherwise the entry must be listed by
// the team, or be a concrete model the team may call, or a group all of
// whose models the team may call.
func WithinModels(s *Snapshot, entry string, bound []string) bool {
	if len(bound) == 0 || slices.Contains(bound, AnyModel) || slices.Contains(bound, AllProxyModels) || slices.Contains(bound, AllTeamModels) {
		return true
	}
	// The sentinels are bounded again by the team check of every request.
	if entry == AllTeamModels || entry == AllOrgModels || slices.Contains(bound, entry) {
		return true
	}
	switch {
	case entry == AnyModel || entry == AllProxyModels:
		return false
	case s.catalog.IsGroup(entry):
		members := s.catalog.GroupModels(entry)
		if len(members) == 0 {
			return false
		}
		for _, m := range members {
			if !s.Allowed(bound, m) {
				return false
			}
		}
		return true
	case containsStar(entry):
		return false // a pattern is only within bound if the team lists it
	}
	return s.Allowed(bound, entry)
}

func containsStar(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '*' {
			return true
		}
	}
	return false
}
