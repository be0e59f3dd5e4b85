package budget

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/policy"
)

// An object created with a budget_duration has LiteLLM's windows: the
// tracker's window ends at its budget_reset_at (not budget_duration after
// the first spend), the flag says so, and at that time the sweep clears
// the flag and moves budget_reset_at to the next standardized reset, as
// LiteLLM's reset job does; the totals then start again from zero.
func TestBudgetWindowEndsAtBudgetResetAt(t *testing.T) {
	var clock atomic.Pointer[time.Time]
	setNow := func(t time.Time) { clock.Store(&t) }
	setNow(time.Date(2026, 12, 5, 10, 20, 0, 0, time.UTC))
	e := newTrackerEnv(t, func() time.Time { return *clock.Load() })
	ctx, live, st, tr := e.ctx, e.live, e.st, e.tr

	reset, err := policy.NextBudgetReset("1h", *clock.Load())
	if err != nil || !reset.Equal(time.Date(2026, 12, 5, 11, 0, 0, 0, time.UTC)) {
		t.Fatalf("NextBudgetReset: %v %v", reset, err)
	}
	budget := 1.0
	tok := events.HashKey("sk-resetat-key-00000000")
	idle := events.HashKey("sk-resetat-idle-0000000")
	for _, k := range []string{tok, idle} {
		if _, err := st.Put(ctx, "t", &events.Key{Token: k, MaxBudget: &budget, BudgetDuration: "1h", BudgetFlag: events.BudgetFlag{BudgetResetAt: &reset}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	spend := func(i int, cost float64) {
		e.publishEvent(events.SpendEvent{Type: events.SpendV1, RequestID: fmt.Sprint("r-", i), Time: *clock.Load(), KeyHash: tok, Cost: cost, TotalTokens: 10, EdgeID: "e"})
	}
	key := func(k string) *events.Key { return live.Load().KeyByToken(k) }
	spend(0, 0.6)
	spend(1, 0.6)
	testutil.Eventually(t, 5*time.Second, func() error {
		if k := key(tok); !k.BudgetExceeded {
			return fmt.Errorf("not flagged: %+v", k.BudgetFlag)
		}
		return nil
	})
	if r := key(tok).BudgetResetAt; r == nil || !r.Equal(reset) {
		t.Fatalf("flagged with budget_reset_at %v, want %v (kept)", r, reset)
	}
	if tot, _ := tr.Get(ctx, events.KindKey, tok); tot.WindowEnd == nil || !tot.WindowEnd.Equal(reset) {
		t.Fatalf("totals window end %v, want %v", tot.WindowEnd, reset)
	}

	// Before the reset time nothing moves.
	setNow(reset.Add(-time.Second))
	tr.Sweep(ctx)
	if k := key(tok); !k.BudgetExceeded || !k.BudgetResetAt.Equal(reset) {
		t.Fatalf("before budget_reset_at: %+v", k.BudgetFlag)
	}
	// At the reset time: cleared, the next reset published, for the key
	// that spent and for the one that did not.
	setNow(reset)
	tr.Sweep(ctx)
	next := reset.Add(time.Hour)
	for _, k := range []string{tok, idle} {
		if f := key(k).BudgetFlag; f.BudgetExceeded || f.BudgetResetAt == nil || !f.BudgetResetAt.Equal(next) {
			t.Fatalf("after the reset: %+v, want reset at %v", f, next)
		}
	}
	spend(2, 0.25)
	testutil.Eventually(t, 5*time.Second, func() error {
		tot, _ := tr.Get(ctx, events.KindKey, tok)
		if tot.Spend != 0.25 || !tot.WindowStart.Equal(reset) || tot.WindowEnd == nil || !tot.WindowEnd.Equal(next) {
			return fmt.Errorf("new window totals: %+v", tot)
		}
		return nil
	})

	// Raising the budget above the spend clears the flag and keeps
	// budget_reset_at.
	spend(3, 1)
	testutil.Eventually(t, 5*time.Second, func() error {
		if !key(tok).BudgetExceeded {
			return fmt.Errorf("not flagged again")
		}
		return nil
	})
	e.setKeyBudget(tok, 10)
	tr.Sweep(ctx)
	if f := key(tok).BudgetFlag; f.BudgetExceeded || f.BudgetResetAt == nil || !f.BudgetResetAt.Equal(next) {
		t.Fatalf("after raising the budget: %+v", f)
	}

	// Flagged again; the window ends, and the next window's spend crosses
	// the budget before the sweep (the tracker does not flag what is
	// flagged): the reset moves budget_reset_at and keeps the flag.
	spend(4, 9)
	testutil.Eventually(t, 5*time.Second, func() error {
		if !key(tok).BudgetExceeded {
			return fmt.Errorf("not flagged at 10.25 of 10")
		}
		return nil
	})
	setNow(next)
	spend(5, 11)
	testutil.Eventually(t, 5*time.Second, func() error {
		if tot, _ := tr.Get(ctx, events.KindKey, tok); tot.Spend != 11 || !tot.WindowStart.Equal(next) {
			return fmt.Errorf("next window totals: %+v", tot)
		}
		return nil
	})
	tr.Sweep(ctx)
	if f := key(tok).BudgetFlag; !f.BudgetExceeded || f.BudgetResetAt == nil || !f.BudgetResetAt.Equal(next.Add(time.Hour)) {
		t.Fatalf("reset with the new window over budget: %+v", f)
	}
}
