package budget

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	ctlbudget "github.com/gatehouse/gatehouse/control/budget"
	"github.com/gatehouse/gatehouse/control/processor"
	"github.com/gatehouse/gatehouse/control/store/storetest"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// TestViewsFollowTracker: two edges' views and the real tracker, spend
// served at both edges and published on the spend stream: each edge sees
// the other's spend before the tracker counts it (gossip), and once the
// tracker has counted everything both views equal its total exactly: no
// request counted twice.
func TestViewsFollowTracker(t *testing.T) {
	nc, js := testutil.NewJetStream(t)
	st := storetest.New(t, js)
	st.Clock = time.Now
	live := st.Live
	testutil.EnsureStream(t, js, events.EnsureSpendStream)
	ctx := t.Context()
	kv, err := ctlbudget.EnsureBucket(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	budget := 100.0
	tok := events.HashKey("sk-view-key-0000000000")
	if _, err := st.Put(ctx, "t", &events.Key{Token: tok, MaxBudget: &budget}, nil); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, func() error {
		if live.Load().KeyByToken(tok) == nil {
			return fmt.Errorf("key not applied")
		}
		return nil
	})
	tr := &ctlbudget.Tracker{KV: kv, Store: st, Log: slog.Default(), SweepEvery: time.Hour}

	views := []*View{New(Options{EdgeID: "a"}), New(Options{EdgeID: "b"})}
	for _, v := range views {
		go func() { _ = v.Run(ctx, nc, js) }()
	}
	var s Scopes
	s.Add(events.KindKey, tok, &budget, "")
	seq := 0 // request ids unique across calls: the stream drops repeats
	serve := func(v *View, n int, cost float64) {
		for range n {
			seq++
			i := seq
			r, err := v.Reserve(&s, 0)
			if err != nil {
				t.Fatal(err)
			}
			v.Commit(&r, cost)
			ev := events.SpendEvent{Type: events.SpendV1, RequestID: fmt.Sprint(v.Instance(), i), Time: time.Now().UTC(), KeyHash: tok,
				Cost: cost, EdgeID: v.o.EdgeID, EdgeInstance: v.Instance()}
			data, _ := json.Marshal(ev)
			if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: events.SpendSubjectPrefix + "." + v.o.EdgeID, Data: data,
				Header: nats.Header{"Nats-Msg-Id": []string{ev.RequestID}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Tracker stopped: only gossip carries the other edge's spend.
	serve(views[0], 10, 0.25)
	serve(views[1], 4, 0.5)
	want := 10*0.25 + 4*0.5
	agree := func(wantTracker bool) func() error {
		return func() error {
			for i, v := range views {
				if got := v.Used(events.KindKey, tok); !near(got, want) {
					return fmt.Errorf("edge %d view %.4f, want %.4f", i, got, want)
				}
			}
			if wantTracker {
				tot, err := tr.Get(ctx, events.KindKey, tok)
				if err != nil || !near(tot.Spend, want) {
					return fmt.Errorf("tracker %.4f (%v), want %.4f", tot.Spend, err, want)
				}
			}
			return nil
		}
	}
	testutil.Eventually(t, 5*time.Second, agree(false))
	// The tracker starts late, as the control plane's processor does.
	procs, err := processor.New(ctx, processor.Options{JS: js, Log: slog.Default(), Metrics: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	tr.Register(procs)
	testutil.Go(t, procs.Run)
	testutil.Eventually(t, 5*time.Second, agree(true))
	// And again with the tracker running alongside.
	serve(views[1], 6, 0.5)
	want += 6 * 0.5
	testutil.Eventually(t, 5*time.Second, agree(true))
	tot, _ := tr.Get(ctx, events.KindKey, tok)
	if !near(tot.Edges[views[0].Instance()], 2.5) || !near(tot.Edges[views[1].Instance()], 5) {
		t.Fatalf("per-instance counts %v", tot.Edges)
	}
}

// TestGossipFollowsChanges: gossip is driven by spend, not by a clock. The
// first change after a quiet spell goes out at once, even with an hour's
// interval; a change within the interval waits for it, so a busy edge
// still sends one message per interval and an idle one sends (and wakes
// for) nothing.
func TestGossipFollowsChanges(t *testing.T) {
	nc, js := testutil.NewJetStream(t)
	ctx := t.Context()
	got := make(chan *events.BudgetGossip, 16)
	sub, err := nc.Subscribe(events.BudgetGossipPrefix+".>", func(m *nats.Msg) {
		var g events.BudgetGossip
		if err := json.Unmarshal(m.Data, &g); err != nil {
			t.Error(err)
		}
		got <- &g
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe() //nolint:errcheck
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	v := New(Options{EdgeID: "g", GossipInterval: time.Hour})
	go func() { _ = v.Run(ctx, nc, js) }()
	s := keyScope(100)
	serve := func(cost float64) {
		r, err := v.Reserve(&s, 0)
		if err != nil {
			t.Fatal(err)
		}
		v.Commit(&r, cost)
	}
	serve(0.25)
	select {
	case g := <-got:
		if len(g.Objects) != 1 || !near(g.Objects[0].Spend, 0.25) || g.Instance != v.Instance() {
			t.Fatalf("gossip %+v", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first change was not gossiped at once")
	}
	serve(0.5)
	select {
	case g := <-got:
		t.Fatalf("a second message within the interval: %+v", g)
	case <-time.After(300 * time.Millisecond):
	}
}
