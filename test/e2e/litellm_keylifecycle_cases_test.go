package e2e

import (
	"testing"
)

// TestLiteLLMKeyLifecycleCases ports the edge side of LiteLLM's
// test_key_regeneration_grace_period.py: LiteLLM keeps a regenerated key's
// old token working for grace_period; gatehouse refuses grace_period (a
// deliberate difference, README "Coming from LiteLLM"), so these rows show
// at two edges what happens instead: a refused regenerate changes nothing,
// and a regenerate stops the old key at every edge when it returns. The
// admin-side rows are control/api/litellm_budgetroutes_cases_test.go.
func TestLiteLLMKeyLifecycleCases(t *testing.T) {
	sys := startSystem(t, seedConfig("127.0.0.1:1"), 2)
	a, b := sys.edges[0], sys.edges[1]
	regenerate := func(t *testing.T, body map[string]any, want int) string {
		t.Helper()
		var out struct {
			Key string `json:"key"`
		}
		if code := call(t, "POST", sys.control.url("/key/regenerate"), masterKey, body, &out); code != want {
			t.Fatalf("/key/regenerate %v: %d, want %d", body, code, want)
		}
		return out.Key
	}
	t.Run("test_grace_period_from_request_takes_precedence", func(t *testing.T) {
		// Refused whole: the old key keeps serving at every edge and no
		// new key exists.
		key := generateKey(t, a, map[string]any{})
		regenerate(t, map[string]any{"key": key, "grace_period": "60m"}, 400)
		expectChat(t, a, key, "gpt-4", 200, "")
		expectChat(t, b, key, "gpt-4", 200, "")
	})
	t.Run("test_zero_grace_period_is_valid", func(t *testing.T) {
		// No grace period: the old key stops at both edges the moment
		// the answer is back, and the new one serves at both.
		key := generateKey(t, a, map[string]any{})
		expectChat(t, b, key, "gpt-4", 200, "")
		nk := regenerate(t, map[string]any{"key": key, "grace_period": nil}, 200)
		for _, e := range []*proc{a, b} {
			expectChat(t, e, key, "gpt-4", 401, "auth_error")
			expectChat(t, e, nk, "gpt-4", 200, "")
		}
	})
	t.Run("regenerate_twice_leaves_only_the_last_key", func(t *testing.T) {
		// LiteLLM's previous_token is one token deep; here no earlier
		// token works at all.
		k0 := generateKey(t, a, map[string]any{})
		k1 := regenerate(t, map[string]any{"key": k0}, 200)
		k2 := regenerate(t, map[string]any{"key": k1}, 200)
		for _, e := range []*proc{a, b} {
			expectChat(t, e, k0, "gpt-4", 401, "auth_error")
			expectChat(t, e, k1, "gpt-4", 401, "auth_error")
			expectChat(t, e, k2, "gpt-4", 200, "")
		}
	})
}
