package e2e

import (
	"testing"
	"time"
)

// TestLiteLLMKeyLifecycleCases ports the edge side of LiteLLM's
// test_key_regeneration_grace_period.py: with a grace_period on
// /key/regenerate the old key keeps working at every edge, as the new
// key, until the period ends, then stops everywhere; without one it stops
// at every edge by the time the regenerate answers. The admin-side rows
// are control/api/litellm_budgetroutes_cases_test.go.
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
		key := generateKey(t, a, map[string]any{})
		start := time.Now()
		nk := regenerate(t, map[string]any{"key": key, "grace_period": "3s"}, 200)
		for _, e := range []*proc{a, b} {
			expectChat(t, e, key, "gpt-4", 200, "")
			expectChat(t, e, nk, "gpt-4", 200, "")
		}
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Skipf("too slow to check inside the grace period (%v)", elapsed)
		}
		time.Sleep(time.Until(start.Add(3*time.Second + 200*time.Millisecond)))
		for _, e := range []*proc{a, b} {
			expectChat(t, e, key, "gpt-4", 401, "auth_error")
			expectChat(t, e, nk, "gpt-4", 200, "")
		}
	})
	t.Run("test_zero_grace_period_is_valid", func(t *testing.T) {
		// No grace period: the old key stops at both edges the moment
		// the answer is back, and the new one serves at both.
		key := generateKey(t, a, map[string]any{})
		expectChat(t, b, key, "gpt-4", 200, "")
		nk := regenerate(t, map[string]any{"key": key, "grace_period_minutes": 0}, 200)
		for _, e := range []*proc{a, b} {
			expectChat(t, e, key, "gpt-4", 401, "auth_error")
			expectChat(t, e, nk, "gpt-4", 200, "")
		}
	})
	t.Run("grace_period_ends_with_its_key", func(t *testing.T) {
		// The old token stands for the new key: deleting the new key,
		// or regenerating it again without a grace period, stops both.
		k0 := generateKey(t, a, map[string]any{})
		k1 := regenerate(t, map[string]any{"key": k0, "grace_period": "1h"}, 200)
		k2 := regenerate(t, map[string]any{"key": k1}, 200)
		for _, e := range []*proc{a, b} {
			expectChat(t, e, k0, "gpt-4", 401, "auth_error")
			expectChat(t, e, k1, "gpt-4", 401, "auth_error")
			expectChat(t, e, k2, "gpt-4", 200, "")
		}
		k3 := generateKey(t, a, map[string]any{})
		k4 := regenerate(t, map[string]any{"key": k3, "grace_period": "1h"}, 200)
		expectChat(t, b, k3, "gpt-4", 200, "")
		if code := call(t, "POST", sys.control.url("/key/delete"), masterKey, map[string]any{"keys": []string{k4}}, nil); code != 200 {
			t.Fatalf("/key/delete: %d", code)
		}
		for _, e := range []*proc{a, b} {
			expectChat(t, e, k3, "gpt-4", 401, "auth_error")
			expectChat(t, e, k4, "gpt-4", 401, "auth_error")
		}
	})
	t.Run("refused_grace_period_changes_nothing", func(t *testing.T) {
		key := generateKey(t, a, map[string]any{})
		regenerate(t, map[string]any{"key": key, "grace_period": "-1m"}, 400)
		expectChat(t, a, key, "gpt-4", 200, "")
		expectChat(t, b, key, "gpt-4", 200, "")
	})
}
