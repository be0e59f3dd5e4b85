package api

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/control/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// Organizations and end users get budget_reset_at from budget_duration as
// keys, teams and users do (LiteLLM's get_budget_reset_time): at creation,
// and again only when budget_duration changes; an empty one clears it.
func TestBudgetResetAtOrgsAndEndUsers(t *testing.T) {
	_, js := testutil.NewJetStream(t)
	st := storetest.New(t, js)
	app := New(st, Options{MasterKey: testMaster})
	y, m, d := time.Now().UTC().Date()
	tomorrow := time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	table := func(out map[string]any) any {
		b, _ := out["litellm_budget_table"].(map[string]any)
		return b["budget_reset_at"]
	}
	call := func(path string, body map[string]any) map[string]any {
		t.Helper()
		code, out := do(t, app, "POST", path, testMaster, body)
		if code != 200 {
			t.Fatalf("%s: %d %v", path, code, out)
		}
		return out
	}
	org := call("/organization/new", map[string]any{"organization_id": "o1", "organization_alias": "o1", "max_budget": 5, "budget_duration": "1d"})
	if got := table(org); got != tomorrow {
		t.Errorf("/organization/new budget_reset_at %v, want %s", got, tomorrow)
	}
	call("/customer/new", map[string]any{"user_id": "eu1", "max_budget": 5, "budget_duration": "1d"})
	info := func() any {
		_, out := do(t, app, "GET", "/customer/info?end_user_id=eu1", testMaster, nil)
		return table(out)
	}
	if got := info(); got != tomorrow {
		t.Errorf("/customer/info budget_reset_at %v, want %s", got, tomorrow)
	}
	call("/customer/update", map[string]any{"user_id": "eu1", "budget_duration": "1d", "max_budget": 6})
	if got := info(); got != tomorrow {
		t.Errorf("same budget_duration again: budget_reset_at %v, want %s (recomputed from now)", got, tomorrow)
	}
	call("/customer/update", map[string]any{"user_id": "eu1", "budget_duration": ""})
	if got := info(); got != nil {
		t.Errorf("no budget_duration: budget_reset_at %v, want null", got)
	}
}
