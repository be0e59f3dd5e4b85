package budget

import (
	"math"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

func f(v float64) *float64 { return &v }

func keyScope(max float64) Scopes {
	var s Scopes
	s.Add(events.KindKey, "k", f(max), "")
	return s
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestNeverDoubleCounts: the view adds to the tracker's total only the
// spend the total does not cover, per edge instance, whatever the order in
// which local commits, gossip and totals arrive.
func TestNeverDoubleCounts(t *testing.T) {
	type step struct {
		commit float64             // this edge served a request of this cost
		peer   float64             // gossip: peer's cumulative cost
		total  *events.SpendTotals // tracker totals arrive
		want   float64             // view after the step
	}
	tot := func(spend, mine, peer float64) *events.SpendTotals {
		return &events.SpendTotals{Kind: "key", ID: "k", Spend: spend, Edges: map[string]float64{"me": mine, "peer": peer}}
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"local then counted", []step{
			{commit: 0.1, want: 0.1}, {commit: 0.2, want: 0.3},
			{total: tot(0.1, 0.1, 0), want: 0.3}, // total covers the first only
			{total: tot(0.3, 0.3, 0), want: 0.3},
			{commit: 0.1, want: 0.4},
		}},
		{"counted before local commit lands", []step{
			{total: tot(0.2, 0.2, 0), want: 0.2}, // tracker was faster than this view
			{commit: 0.2, want: 0.2},
		}},
		{"peer gossip then counted", []step{
			{peer: 0.5, want: 0.5}, {commit: 0.1, want: 0.6},
			{total: tot(0.3, 0, 0.3), want: 0.3 + 0.1 + 0.2},
			{total: tot(0.6, 0.1, 0.5), want: 0.6},
			{peer: 0.4, want: 0.6}, // stale, reordered gossip changes nothing
		}},
		{"spend from instances this edge never heard of", []step{
			{total: &events.SpendTotals{Kind: "key", ID: "k", Spend: 0.7, Edges: map[string]float64{"old": 0.7}}, want: 0.7},
			{commit: 0.1, want: 0.8},
		}},
		{"tracker forgot this instance", []step{
			{commit: 0.2, want: 0.2},
			{total: tot(0.2, 0.2, 0), want: 0.2},
			{total: &events.SpendTotals{Kind: "key", ID: "k", Spend: 0.2}, want: 0.2},
			{commit: 0.1, want: 0.3},
		}},
		{"ended window", []step{
			{commit: 0.1, want: 0.1},
			{total: &events.SpendTotals{Kind: "key", ID: "k", Spend: 5, WindowEnd: ptime(time.Now().Add(-time.Second)), Edges: map[string]float64{"me": 0.1}}, want: 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := New(Options{})
			v.instance = "me"
			s := keyScope(100)
			for i, st := range tc.steps {
				switch {
				case st.commit > 0:
					r, err := v.Reserve(&s, 0)
					if err != nil {
						t.Fatal(err)
					}
					v.Commit(&r, st.commit)
				case st.peer > 0:
					v.heard(&events.BudgetGossip{Instance: "peer", Objects: []events.BudgetGossipEntry{{Kind: "key", ID: "k", Spend: st.peer}}})
				case st.total != nil:
					v.Apply(st.total)
				}
				if got := v.Used(events.KindKey, "k"); !near(got, st.want) {
					t.Fatalf("step %d: view %.4f, want %.4f", i, got, st.want)
				}
			}
		})
	}
}

func ptime(t time.Time) *time.Time { return &t }

// TestReservationsBoundInFlight: requests in flight reserve the last cost,
// so concurrent admissions stop once their reservations reach the budget.
func TestReservationsBoundInFlight(t *testing.T) {
	for _, tc := range []struct {
		name        string
		floor, max  float64
		first, want int // want: admitted while none has finished
	}{
		{"reserve last cost", 0, 1.0, 1, 1 + 3}, // first costs 0.3 (committed): 0.3+3*0.3=1.2 >= 1 after the 3rd
		{"floor", 0.5, 1.0, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := New(Options{Floor: tc.floor})
			s := keyScope(tc.max)
			admitted := 0
			for range tc.first {
				r, err := v.Reserve(&s, 0)
				if err != nil {
					t.Fatal(err)
				}
				v.Commit(&r, 0.3)
				admitted++
			}
			var held []Reservation
			for range 100 {
				r, err := v.Reserve(&s, 0)
				if err != nil {
					break
				}
				held = append(held, r)
				admitted++
			}
			if admitted != tc.want {
				t.Fatalf("admitted %d, want %d", admitted, tc.want)
			}
			for i := range held {
				v.Commit(&held[i], 0)
			}
			if _, err := v.Reserve(&s, 0); err != nil {
				t.Fatalf("refused after reservations were released: %v", err)
			}
		})
	}
}

// TestPartitionLease: cut from NATS, an edge spends at most the lease
// beyond what the tracker counted, then refuses until it reconnects.
func TestPartitionLease(t *testing.T) {
	connected := true
	v := New(Options{Connected: func() bool { return connected }})
	v.instance = "me"
	v.Apply(&events.SpendTotals{Kind: "key", ID: "k", Spend: 0.5, Lease: f(0.05), Edges: map[string]float64{"me": 0.5}})
	v.mu.Lock()
	v.objs[objKey{events.KindKey, "k"}].mine = 0.5
	v.mu.Unlock()
	s := keyScope(1.0)
	connected = false
	spent := 0.0
	for range 100 {
		r, err := v.Reserve(&s, 0)
		if err != nil {
			break
		}
		v.Commit(&r, 0.01)
		spent += 0.01
	}
	if spent > 0.05+0.01+1e-9 || spent < 0.05-1e-9 {
		t.Fatalf("spent %.3f through the partition, lease 0.05", spent)
	}
	connected = true
	if _, err := v.Reserve(&s, 0); err != nil {
		t.Fatalf("refused after reconnecting: %v", err)
	}
}

func TestNilViewAdmits(t *testing.T) {
	var v *View
	s := keyScope(0)
	r, err := v.Reserve(&s, 0)
	if err != nil {
		t.Fatal(err)
	}
	v.Commit(&r, 1)
}

// BenchmarkReserveCommit: the per-request cost on the hot path, a key and
// a team budget (no allocations).
func BenchmarkReserveCommit(b *testing.B) {
	v := New(Options{})
	var s Scopes
	s.Add(events.KindKey, "k", f(1e12), "")
	s.Add(events.KindTeam, "t", f(1e12), "")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, err := v.Reserve(&s, 0.001)
			if err != nil {
				b.Fatal(err)
			}
			v.Commit(&r, 0.001)
		}
	})
}

// TestChargeAsItGoes: a stream's reservation grows with its cost so far,
// so other requests see it before it ends, and Commit replaces it with the
// actual cost (counted once).
func TestChargeAsItGoes(t *testing.T) {
	v := New(Options{})
	s := keyScope(1.0)
	stream, err := v.Reserve(&s, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ soFar, want float64 }{{0.05, 0.1}, {0.4, 0.4}, {0.3, 0.4}, {0.9, 0.9}} {
		v.Charge(&stream, c.soFar)
		if got := v.Used(events.KindKey, "k"); !near(got, c.want) {
			t.Fatalf("after charging %.2f: view %.2f, want %.2f", c.soFar, got, c.want)
		}
	}
	v.Charge(&stream, 1.0)
	if _, err := v.Reserve(&s, 0); err == nil {
		t.Fatal("admitted while a stream in flight has used the budget")
	}
	v.Commit(&stream, 0.95)
	if got := v.Used(events.KindKey, "k"); !near(got, 0.95) {
		t.Fatalf("after commit: view %.2f, want 0.95", got)
	}
}
