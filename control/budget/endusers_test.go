package budget

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// TestOrgAndEndUserBudgets: spend rolls up to the org and the end user of
// each event; an org, a customer with its own budget, and an end user
// with no record under litellm_settings.max_end_user_budget are flagged
// once they cross, and the flag clears when the default is raised.
func TestOrgAndEndUserBudgets(t *testing.T) {
	now := time.Now().UTC()
	e := newTrackerEnv(t, func() time.Time { return now })
	ctx, live, st, tr := e.ctx, e.live, e.st, e.tr

	one, half := 1.0, 0.5
	for _, o := range []any{
		&events.Org{OrganizationID: "org-1", MaxBudget: &one, BudgetDuration: "30d"},
		&events.Customer{UserID: "cust-own", MaxBudget: &half},
		&events.LiteLLMSettings{ID: events.LiteLLMSettingsID, MaxEndUserBudget: &half},
	} {
		if _, err := st.Put(ctx, "t", o, nil); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	spend := func(org, endUser string, cost float64) {
		n++
		e.publishEvent(events.SpendEvent{Type: events.SpendV1, RequestID: fmt.Sprint("req-", n), Time: now, OrgID: org, EndUserID: endUser, Cost: cost, EdgeID: "e"})
	}
	spend("org-1", "cust-own", 0.4)
	spend("org-1", "cust-new", 0.4)
	testutil.Eventually(t, 5*time.Second, func() error {
		if tot, _ := tr.Get(ctx, events.KindOrg, "org-1"); tot.Requests != 2 {
			return fmt.Errorf("org totals: %+v", tot)
		}
		return nil
	})
	s := live.Load()
	if s.Org("org-1").BudgetExceeded || s.Customer("cust-own").BudgetExceeded || s.Customer("cust-new") != nil {
		t.Fatal("flagged below every budget")
	}
	spend("org-1", "cust-own", 0.2) // org 1.0, cust-own 0.6: both cross
	spend("", "cust-new", 0.2)      // no record, 0.6 of the 0.5 default
	testutil.Eventually(t, 5*time.Second, func() error {
		s := live.Load()
		switch {
		case !s.Org("org-1").BudgetExceeded:
			return fmt.Errorf("org not flagged")
		case !s.Customer("cust-own").BudgetExceeded:
			return fmt.Errorf("customer not flagged")
		case s.Customer("cust-new") == nil || !s.Customer("cust-new").BudgetExceeded:
			return fmt.Errorf("end user without a record not flagged: %+v", s.Customer("cust-new"))
		}
		return nil
	})
	if o := live.Load().Org("org-1"); o.BudgetResetAt == nil || !o.BudgetResetAt.Equal(now.Add(30*24*time.Hour)) {
		t.Errorf("org reset time %v", o.BudgetResetAt)
	}
	if err := live.Load().CheckEndUser("cust-new", "m", "m"); err == nil {
		t.Error("edge check passes a flagged end user")
	}
	// Raising the default above the spend clears the end user without a
	// budget of its own, not the one with its own.
	more := 5.0
	if _, err := st.Put(ctx, "t", &events.LiteLLMSettings{ID: events.LiteLLMSettingsID, MaxEndUserBudget: &more}, nil); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() error {
		if b := live.Load().MaxEndUserBudget(); b == nil || *b != more {
			return fmt.Errorf("settings not applied")
		}
		return nil
	})
	tr.Sweep(ctx)
	s = live.Load()
	if s.Customer("cust-new").BudgetExceeded {
		t.Error("still flagged after max_end_user_budget was raised")
	}
	if !s.Customer("cust-own").BudgetExceeded {
		t.Error("own budget cleared by the default")
	}
}
