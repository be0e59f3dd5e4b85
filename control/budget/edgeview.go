package budget

import (
	"maps"
	"time"
)

// What the tracker writes for the edges' local budget views (edge/budget):
// the cost it has counted per edge instance, the window's end, and the
// lease an edge may spend while cut from NATS.

const defaultLeaseFraction = 0.1

// edgeForgetAfter: an edge instance whose cost was last counted this long
// ago is dropped from an object's totals; it outlasts the spend stream's
// dedupe window, within which a spilled event can still arrive.
const edgeForgetAfter = 24 * time.Hour

// addEdge counts an event's cost against the edge instance that served it.
func (d *delta) addEdge(instance string, cost float64) {
	if instance == "" || cost == 0 {
		return
	}
	if d.edges == nil {
		d.edges = map[string]float64{}
	}
	d.edges[instance] += cost
}

// annotate completes totals the delta was just added to. Edges is
// cumulative across windows (it is not reset with Spend): an edge compares
// it with its own cumulative count, so it must only ever grow.
func (t *Tracker) annotate(cur *Totals, d *delta, maxBudget *float64, end time.Time, now time.Time) {
	if len(d.edges) > 0 {
		m := make(map[string]float64, len(cur.Edges)+len(d.edges))
		at := make(map[string]int64, len(cur.Edges)+len(d.edges))
		maps.Copy(m, cur.Edges)
		maps.Copy(at, cur.EdgesAt)
		for inst, c := range d.edges {
			m[inst] += c
			at[inst] = now.Unix()
		}
		for inst := range m {
			if now.Unix()-at[inst] > int64(edgeForgetAfter/time.Second) {
				delete(m, inst) // a dead edge process (see events.SpendTotals)
				delete(at, inst)
			}
		}
		cur.Edges, cur.EdgesAt = m, at
	}
	if !end.IsZero() {
		cur.WindowEnd = &end
	} else {
		cur.WindowEnd = nil
	}
	cur.Lease = nil
	if maxBudget != nil {
		f := t.LeaseFraction
		if f <= 0 {
			f = defaultLeaseFraction
		}
		lease := f * max(0, *maxBudget-cur.Spend)
		cur.Lease = &lease
	}
}
