package budget

import (
	"testing"
	"time"
)

// TestAnnotate: per-instance counts add up across batches and survive
// until the instance has been silent for edgeForgetAfter; the lease is a
// tenth of what is left.
func TestAnnotate(t *testing.T) {
	tr := &Tracker{}
	t0 := time.Unix(1_000_000, 0)
	maxBudget := 1.0
	var cur Totals
	apply := func(now time.Time, inst string, cost float64) {
		d := &delta{cost: cost}
		d.addEdge(inst, cost)
		cur.Spend += cost
		tr.annotate(&cur, d, &maxBudget, time.Time{}, now)
	}
	apply(t0, "a", 0.25)
	apply(t0.Add(time.Hour), "b", 0.25)
	apply(t0.Add(2*time.Hour), "a", 0.25)
	if cur.Edges["a"] != 0.5 || cur.Edges["b"] != 0.25 {
		t.Fatalf("edges %v", cur.Edges)
	}
	if cur.Lease == nil || *cur.Lease != 0.025 {
		t.Fatalf("lease %v, want 0.025", cur.Lease)
	}
	apply(t0.Add(edgeForgetAfter+90*time.Minute), "a", 0.1)
	if _, ok := cur.Edges["b"]; ok || cur.Edges["a"] != 0.6 {
		t.Fatalf("after a day: edges %v (b silent since t0+1h must be forgotten)", cur.Edges)
	}
	if _, ok := cur.EdgesAt["b"]; ok {
		t.Fatalf("edges_at %v", cur.EdgesAt)
	}
}
