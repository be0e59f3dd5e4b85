package e2e

import (
	"encoding/json"
	"testing"
	"time"
)

// TestTeamMemberDefaults drives LiteLLM's team member defaults through
// the binary and two edges: team_member_rpm_limit holds for each member
// across both edges (429 naming LiteLLM's team_member limit), a member's
// own rpm_limit (/team/member_update) wins over it, team_member_budget
// stops a member over it at every edge and nobody else, and a member's key
// without a duration gets team_member_key_duration.
func TestTeamMemberDefaults(t *testing.T) {
	sys := startSystem(t, orgConfig, 2)
	a, b := sys.edges[0], sys.edges[1]
	mustAdmin := func(path string, body any) []byte {
		t.Helper()
		code, raw := callRaw(t, "POST", a.url(path), masterKey, body)
		if code != 200 {
			t.Fatalf("%s: %d %s", path, code, raw)
		}
		return raw
	}
	mustAdmin("/team/new", map[string]any{"team_id": "ml", "team_member_rpm_limit": 2, "team_member_budget": 0.0002,
		"team_member_key_duration": "1h", "members_with_roles": []map[string]any{{"user_id": "alice", "role": "user"}, {"user_id": "bob", "role": "user"}}})
	mustAdmin("/team/member_add", map[string]any{"team_id": "ml", "member": map[string]any{"user_id": "carol"}})
	mustAdmin("/team/member_update", map[string]any{"team_id": "ml", "user_id": "bob", "rpm_limit": 100})
	// carol's own rpm limit lets her reach the default budget before the
	// default rpm limit (refused by the rate limit first otherwise).
	mustAdmin("/team/member_update", map[string]any{"team_id": "ml", "user_id": "carol", "rpm_limit": 100})
	var key struct {
		Key     string     `json:"key"`
		Expires *time.Time `json:"expires"`
	}
	if err := json.Unmarshal(mustAdmin("/key/generate", map[string]any{"team_id": "ml", "user_id": "alice"}), &key); err != nil ||
		key.Expires == nil || time.Until(*key.Expires) > time.Hour || time.Until(*key.Expires) < 50*time.Minute {
		t.Fatalf("alice's key: expires %v (%v), want in team_member_key_duration 1h", key.Expires, err)
	}
	alice := key.Key
	bob := generateKey(t, a, map[string]any{"team_id": "ml", "user_id": "bob"})
	carol := generateKey(t, a, map[string]any{"team_id": "ml", "user_id": "carol"})

	// Two requests, one at each edge, then alice is limited everywhere.
	for _, e := range sys.edges {
		if code, raw := callRaw(t, "POST", e.url("/v1/chat/completions"), alice, chat("cheap")); code != 200 {
			t.Fatalf("%s: alice within team_member_rpm_limit: %d %s", e.name, code, raw)
		}
	}
	refusedEverywhere(t, sys.edges, alice, chat("cheap"), 429, "rate_limit_error", "", "Rate limit exceeded for team_member:ml:alice")
	for i := range 4 {
		if code, raw := callRaw(t, "POST", b.url("/v1/chat/completions"), bob, chat("cheap")); code != 200 {
			t.Fatalf("bob (his own rpm_limit 100), request %d: %d %s", i, code, raw)
		}
	}

	// carol spends the team's member default; bob is not stopped.
	for range 100 {
		code, raw := callRaw(t, "POST", a.url("/v1/chat/completions"), carol, chat("priced"))
		if code == 400 {
			break
		}
		if code != 200 {
			t.Fatalf("carol: %d %s", code, raw)
		}
	}
	refusedEverywhere(t, sys.edges, carol, chat("cheap"), 400, "budget_exceeded", "", "User=carol in Team=ml")
	if code, raw := callRaw(t, "POST", b.url("/v1/chat/completions"), bob, chat("priced")); code != 200 {
		t.Fatalf("bob after carol's budget: %d %s", code, raw)
	}
}
