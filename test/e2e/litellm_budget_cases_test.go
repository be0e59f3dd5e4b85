package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testutil"
)

// TestLiteLLMBudgetCases ports the cases of LiteLLM's budget checks
// (tests/test_litellm/proxy/auth/test_user_budget_team_key.py,
// test_team_member_budget.py, test_organization_member_budget.py,
// test_auth_model_budget_bypass.py) that need real spend: each subtest,
// named after the LiteLLM test, spends through an edge until the budget
// tracker and the edge's budget view refuse, and asserts LiteLLM's
// outcome. LiteLLM's tests hand common_checks a spend; here the mock
// provider's priced answers make it. The flag-only cases and the
// skipped ones are in policy/litellm_budget_cases_test.go.
func TestLiteLLMBudgetCases(t *testing.T) {
	sys := startSystem(t, spendConfig, 1)
	e := sys.edges[0]
	admin := func(path string, body any) {
		t.Helper()
		if code, raw := callRaw(t, "POST", e.url(path), masterKey, body); code != 200 {
			t.Fatalf("%s %v: %d %s", path, body, code, raw)
		}
	}
	// spendUntilRefused calls until the first refusal (the crossing
	// request is served: a budget refuses once its spend reached it).
	spendUntilRefused := func(t *testing.T, key string) {
		t.Helper()
		for i := 0; i < 50; i++ {
			if _, ok := chatUsage(t, e, key, false, i); !ok {
				return
			}
		}
		t.Fatalf("key %s never refused", key)
	}
	// refused waits for the edge's refusal of key and checks its envelope.
	refused := func(t *testing.T, key string, body map[string]any, param, want string) {
		t.Helper()
		refusedEverywhere(t, sys.edges, key, body, 400, "budget_exceeded", param, want)
	}
	served := func(t *testing.T, key string, body map[string]any) {
		t.Helper()
		if code, raw := callRaw(t, "POST", e.url("/v1/chat/completions"), key, body); code != 200 {
			t.Fatalf("refused: %d %s", code, raw)
		}
	}

	t.Run("test_user_budget_enforced_with_team_key", func(t *testing.T) {
		// LiteLLM issue 27394: the user's max_budget holds for its keys of
		// a team too.
		admin("/user/new", map[string]any{"user_id": "ub-user-1", "max_budget": 0.00002})
		admin("/team/new", map[string]any{"team_id": "ub-team-1"})
		key := generateKey(t, e, map[string]any{"user_id": "ub-user-1", "team_id": "ub-team-1"})
		spendUntilRefused(t, key)
		refused(t, key, chat("priced"), "", "ExceededBudget: User=ub-user-1 over budget.")
	})
	t.Run("test_user_under_budget_with_team_key_passes", func(t *testing.T) {
		admin("/user/new", map[string]any{"user_id": "ub-user-2", "max_budget": 100.0})
		admin("/team/new", map[string]any{"team_id": "ub-team-2"})
		served(t, generateKey(t, e, map[string]any{"user_id": "ub-user-2", "team_id": "ub-team-2"}), chat("priced"))
	})
	t.Run("test_user_budget_still_enforced_without_team", func(t *testing.T) {
		admin("/user/new", map[string]any{"user_id": "ub-user-3", "max_budget": 0.00002})
		key := generateKey(t, e, map[string]any{"user_id": "ub-user-3"})
		spendUntilRefused(t, key)
		refused(t, key, chat("priced"), "", "ExceededBudget: User=ub-user-3 over budget.")
	})

	t.Run("test_team_member_budget_check_exceeds_budget", func(t *testing.T) {
		admin("/team/new", map[string]any{"team_id": "tmb-team-1"})
		admin("/team/member_add", map[string]any{"team_id": "tmb-team-1", "member": map[string]any{"user_id": "tmb-user-1", "role": "user"}, "max_budget_in_team": 0.00002})
		admin("/team/member_add", map[string]any{"team_id": "tmb-team-1", "member": map[string]any{"user_id": "tmb-user-2", "role": "user"}})
		key := generateKey(t, e, map[string]any{"user_id": "tmb-user-1", "team_id": "tmb-team-1"})
		spendUntilRefused(t, key)
		refused(t, key, chat("priced"), "", "Budget has been exceeded! User=tmb-user-1 in Team=tmb-team-1")

		// test_team_member_budget_check_blocks_regenerated_key_after_old_key_exhausts_budget:
		// the budget is the membership's, so a new key of the same user
		// and team starts over budget.
		admin("/key/delete", map[string]any{"keys": []string{key}})
		again := generateKey(t, e, map[string]any{"user_id": "tmb-user-1", "team_id": "tmb-team-1"})
		refused(t, again, chat("priced"), "", "Budget has been exceeded! User=tmb-user-1 in Team=tmb-team-1")

		// test_team_member_budget_check_no_budget_set: another member of
		// the team, without a budget, is served.
		served(t, generateKey(t, e, map[string]any{"user_id": "tmb-user-2", "team_id": "tmb-team-1"}), chat("priced"))
		// test_team_member_budget_check_personal_key_not_team: the user's
		// key outside the team is not the membership's.
		served(t, generateKey(t, e, map[string]any{"user_id": "tmb-user-1"}), chat("priced"))
	})

	t.Run("test_organization_member_budget_check_exceeds_budget", func(t *testing.T) {
		admin("/organization/new", map[string]any{"organization_id": "omb-org-1", "organization_alias": "OMB"})
		admin("/team/new", map[string]any{"team_id": "omb-team-1", "organization_id": "omb-org-1"})
		admin("/organization/member_add", map[string]any{"organization_id": "omb-org-1",
			"member": []map[string]any{{"user_id": "omb-user-1", "role": "internal_user"}}, "max_budget_in_organization": 0.00002})
		admin("/organization/member_add", map[string]any{"organization_id": "omb-org-1",
			"member": []map[string]any{{"user_id": "omb-user-2", "role": "internal_user"}}})
		key := generateKey(t, e, map[string]any{"user_id": "omb-user-1", "team_id": "omb-team-1"})
		spendUntilRefused(t, key)
		refused(t, key, chat("priced"), "", "Budget has been exceeded! User=omb-user-1 in Organization=omb-org-1")
		// The tracker follows the edge: the member's flag on the org.
		testutil.Eventually(t, 10*time.Second, func() error {
			var info struct {
				Members []struct {
					UserID         string `json:"user_id"`
					BudgetExceeded bool   `json:"budget_exceeded"`
				} `json:"members"`
			}
			call(t, "GET", e.url("/organization/info?organization_id=omb-org-1"), masterKey, nil, &info)
			for _, m := range info.Members {
				if m.UserID == "omb-user-1" && m.BudgetExceeded {
					return nil
				}
			}
			return fmt.Errorf("member not flagged: %+v", info.Members)
		})
		// Removing the member and adding it again is a new membership,
		// whose spend starts from zero (LiteLLM deletes the row).
		if code, raw := callRaw(t, "DELETE", e.url("/organization/member_delete"), masterKey, map[string]any{"organization_id": "omb-org-1", "user_id": "omb-user-1"}); code != 200 {
			t.Fatalf("member_delete: %d %s", code, raw)
		}
		admin("/organization/member_add", map[string]any{"organization_id": "omb-org-1",
			"member": []map[string]any{{"user_id": "omb-user-1", "role": "internal_user"}}, "max_budget_in_organization": 0.00002})
		testutil.Eventually(t, 10*time.Second, func() error {
			if code, raw := callRaw(t, "POST", e.url("/v1/chat/completions"), key, chat("priced")); code != 200 {
				return fmt.Errorf("re-added member refused: %d %s", code, raw)
			}
			return nil
		})
		// test_organization_member_budget_check_no_budget_set: a member
		// without max_budget_in_organization is served.
		served(t, generateKey(t, e, map[string]any{"user_id": "omb-user-2", "team_id": "omb-team-1"}), chat("priced"))
		// test_organization_member_budget_check_skipped_without_org_context:
		// the same user's key outside the org is served.
		served(t, generateKey(t, e, map[string]any{"user_id": "omb-user-1"}), chat("priced"))
	})
	t.Run("test_organization_member_budget_check_within_budget", func(t *testing.T) {
		admin("/organization/new", map[string]any{"organization_id": "omb-org-2", "organization_alias": "OMB2"})
		admin("/team/new", map[string]any{"team_id": "omb-team-2", "organization_id": "omb-org-2"})
		admin("/organization/member_add", map[string]any{"organization_id": "omb-org-2",
			"member": []map[string]any{{"user_id": "omb-user-3", "role": "internal_user"}}, "max_budget_in_organization": 100.0})
		served(t, generateKey(t, e, map[string]any{"user_id": "omb-user-3", "team_id": "omb-team-2"}), chat("priced"))
	})

	// The skipped files' features (policy/litellm_budget_cases_test.go):
	// asking for one is a 400 naming the field, never a setting kept and
	// not enforced.
	t.Run("unsupported budget features are refused", func(t *testing.T) {
		windows := []map[string]any{{"budget_duration": "24h", "max_budget": 10.0}, {"budget_duration": "30d", "max_budget": 100.0}}
		key := generateKey(t, e, map[string]any{"max_budget": 2.0})
		for _, c := range []struct {
			name, path string
			body       map[string]any
			param      string
		}{
			{"test_multi_budget_windows.py", "/key/generate", map[string]any{"budget_limits": windows}, "budget_limits"},
			{"test_user_multi_budget_windows.py", "/user/new", map[string]any{"user_id": "mbw-user", "budget_limits": windows}, "budget_limits"},
			{"test_auth_model_budget_bypass.py", "/key/generate", map[string]any{"model_max_budget": map[string]any{"gpt-4": map[string]any{"budget_limit": 10.0, "time_period": "1d"}}}, "model_max_budget"},
			{"test_temp_budget_increase_caching.py", "/key/update", map[string]any{"key": key, "temp_budget_increase": 100.0}, "temp_budget_increase"},
			{"test_temp_budget_increase_caching.py", "/key/update", map[string]any{"key": key, "temp_budget_expiry": time.Now().Add(24 * time.Hour).Format(time.RFC3339)}, "temp_budget_expiry"},
		} {
			code, raw := callRaw(t, "POST", e.url(c.path), masterKey, c.body)
			expectError(t, c.name, code, raw, 400, "bad_request", c.param, "LiteLLM field "+c.param+" is not supported by gatehouse")
		}
	})

	t.Run("test_should_enforce_end_user_model_budget_on_master_key", func(t *testing.T) {
		// LiteLLM's case is the end user's model_max_budget (not
		// supported, see the policy file); the master key path enforces
		// the end user's max_budget the same way.
		admin("/customer/new", map[string]any{"user_id": "eu-over", "max_budget": 0.00002})
		for i := 0; i < 50; i++ {
			if code, _ := callRaw(t, "POST", e.url("/v1/chat/completions"), masterKey, chatAs("priced", "eu-over")); code != 200 {
				break
			}
		}
		refused(t, masterKey, chatAs("priced", "eu-over"), "user", "ExceededBudget: End User=eu-over over budget.")
		// test_should_pass_master_key_when_no_end_user_budget.
		served(t, masterKey, chat("priced"))
		served(t, masterKey, chatAs("priced", "eu-other"))
	})
}
