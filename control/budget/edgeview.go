package budget

import "maps"

// What the tracker writes for the edges' local budget views (edge/budget):
// the cost it has counted per edge instance, the window's end, and the
// lease an edge may spend while cut from NATS.

const defaultLeaseFraction = 0.1

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
func (t *Tracker) annotate(cur *Totals, d *delta, maxBudget *float64, duration string) {
	if len(d.edges) > 0 {
		m := make(map[string]float64, len(cur.Edges)+len(d.edges))
		maps.Copy(m, cur.Edges)
		for inst, c := range d.edges {
			m[inst] += c
		}
		cur.Edges = m
	}
	if end := windowEnd(cur.WindowStart, duration); !end.IsZero() {
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
