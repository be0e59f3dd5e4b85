package budget

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse/gatehouse/control/processor"
	"github.com/gatehouse/gatehouse/control/store"
	"github.com/gatehouse/gatehouse/control/store/storetest"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/policy"
)

func TestBudgetCrossingFlagsAndResets(t *testing.T) {
	now := time.Now().UTC()
	e := newTrackerEnv(t, func() time.Time { return now })
	ctx, live, st, tr := e.ctx, e.live, e.st, e.tr

	budget := 1.0
	tok := events.HashKey("sk-budget-key-000000000")
	if _, err := st.Put(ctx, "t", &events.Key{Token: tok, MaxBudget: &budget, BudgetDuration: "1h", TeamID: ""}, nil); err != nil {
		t.Fatal(err)
	}
	spend := func(i int, cost float64) {
		e.publishEvent(events.SpendEvent{Type: events.SpendV1, RequestID: fmt.Sprint("req-", i), Time: now, KeyHash: tok, Cost: cost, TotalTokens: 10, EdgeID: "e"})
	}
	exceeded := func() bool { return live.Load().KeyByToken(tok).BudgetExceeded }
	// A refusal is no request against the budget (and would be the 4th).
	e.publishEvent(events.SpendEvent{Type: events.SpendV1, RequestID: "req-denied", Time: now, KeyHash: tok, EdgeID: "e",
		Outcome: events.OutcomeDenied, DenyReason: events.DenyRateLimited, DenyRule: "key:" + tok + ":rpm"})
	for i := range 3 {
		spend(i, 0.3)
	}
	testutil.Eventually(t, 5*time.Second, func() error {
		if tot, _ := tr.Get(ctx, events.KindKey, tok); tot.Requests != 3 {
			return fmt.Errorf("totals: %+v", tot)
		}
		return nil
	})
	if exceeded() {
		t.Fatal("flagged at 0.9 of a 1.0 budget")
	}
	spend(3, 0.3)
	testutil.Eventually(t, 5*time.Second, func() error {
		if !exceeded() {
			return fmt.Errorf("not flagged after crossing")
		}
		return nil
	})
	if k := live.Load().KeyByToken(tok); k.BudgetResetAt == nil || !k.BudgetResetAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("reset time %v", k.BudgetResetAt)
	}
	// A duplicate spend event (same request id) is dropped by the stream.
	spend(3, 0.3)
	// Raising the budget above the spend clears the flag at the next sweep.
	e.setKeyBudget(tok, 10)
	tr.Sweep(ctx)
	if exceeded() {
		t.Fatal("still flagged after the budget was raised")
	}
	if tot, _ := tr.Get(ctx, events.KindKey, tok); tot.Requests != 4 {
		t.Fatalf("duplicate counted: %+v", tot)
	}
	// The window ends: spend starts again from zero.
	now = now.Add(61 * time.Minute)
	spend(10, 0.5)
	testutil.Eventually(t, 5*time.Second, func() error {
		if tot, _ := tr.Get(ctx, events.KindKey, tok); tot.Spend != 0.5 {
			return fmt.Errorf("new window totals: %+v", tot)
		}
		return nil
	})
}

// runProcessor runs the tracker as the control plane does: a processor
// router with its middleware, on the real stream.
func runProcessor(t *testing.T, ctx context.Context, js jetstream.JetStream, tr *Tracker) *processor.Router {
	t.Helper()
	p, err := processor.New(ctx, processor.Options{JS: js, Log: slog.Default(), Metrics: prometheus.NewRegistry(),
		InitialInterval: 10 * time.Millisecond, MaxInterval: 50 * time.Millisecond, MaxRedeliveryDelay: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tr.Register(p)
	testutil.Go(t, p.Run)
	testutil.Receive(t, p.Running(), 10*time.Second, "processor router not running")
	return p
}

// trackerEnv is a tracker running as in the control plane, on a private
// JetStream server.
type trackerEnv struct {
	t    *testing.T
	ctx  context.Context
	js   jetstream.JetStream
	kv   jetstream.KeyValue
	live *policy.Live
	st   *store.Store
	tr   *Tracker
	p    *processor.Router
}

// newTrackerEnv starts it; clock, if not nil, is the store's clock.
func newTrackerEnv(t *testing.T, clock func() time.Time) *trackerEnv {
	_, js := testutil.NewJetStream(t)
	testutil.EnsureStream(t, js, events.EnsureSpendStream)
	ctx := t.Context()
	kv, err := EnsureBucket(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.New(t, js)
	st.Clock = clock
	live := st.Live
	tr := &Tracker{KV: kv, Store: st, Log: slog.Default(), SweepEvery: time.Hour}
	return &trackerEnv{t: t, ctx: ctx, js: js, kv: kv, live: live, st: st, tr: tr, p: runProcessor(t, ctx, js, tr)}
}

// setKeyBudget is an admin's change of a key's max_budget.
func (e *trackerEnv) setKeyBudget(tok string, budget float64) {
	e.t.Helper()
	if _, err := e.st.Mutate(e.ctx, "admin", events.KindKey, tok, func(cur any) (string, any, error) {
		k := *cur.(*events.Key)
		k.MaxBudget = &budget
		return events.KeyUpserted, &k, nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

// publishEvent publishes one spend event, deduplicated by its request id
// as an edge's would be.
func (e *trackerEnv) publishEvent(ev events.SpendEvent) {
	e.t.Helper()
	data, _ := json.Marshal(ev)
	e.publish(ev.RequestID, data)
}

func (e *trackerEnv) publish(id string, data []byte) {
	e.t.Helper()
	if _, err := e.js.PublishMsg(e.ctx, &nats.Msg{Subject: events.SpendSubjectPrefix + ".e", Data: data,
		Header: nats.Header{events.HeaderMsgID: []string{id}}}); err != nil {
		e.t.Fatal(err)
	}
}

// Messages handled together are written together: 300 spend messages
// about one team count exactly, in far fewer KV writes than messages.
func TestBudgetGroupCommit(t *testing.T) {
	e := newTrackerEnv(t, nil)
	const n = 300
	for i := range n {
		e.publishEvent(events.SpendEvent{Type: events.SpendV1, RequestID: fmt.Sprint("g-", i), TeamID: "team-g", Cost: 0.01, TotalTokens: 3})
	}
	testutil.Eventually(t, 20*time.Second, func() error {
		tot, err := ReadTotals(e.ctx, e.kv, events.KindTeam, "team-g")
		if err != nil || tot.Requests != n || tot.Tokens != 3*n {
			return fmt.Errorf("totals %+v, %v", tot, err)
		}
		return nil
	})
	writes := testutil.StreamState(t, e.js, events.KVStream(events.TotalsBucket)).LastSeq
	if writes > n/3 {
		t.Errorf("%d KV writes for %d messages: not grouped", writes, n)
	}
	t.Logf("%d messages, %d KV writes", n, writes)
}

// A KV outage does not lose spend: the message is retried and redelivered
// until the bucket is back, then counted once. A spend message that cannot
// be decoded goes to the poison queue and is counted there.
func TestBudgetRetriesKVOutageAndPoisonsMalformed(t *testing.T) {
	e := newTrackerEnv(t, nil)
	ctx, js, kv, p, publish := e.ctx, e.js, e.kv, e.p, e.publish

	// The bucket disappears (a KV outage as the tracker sees it).
	if err := js.DeleteKeyValue(ctx, events.TotalsBucket); err != nil {
		t.Fatal(err)
	}
	batch, _ := json.Marshal(events.SpendBatch{Type: events.SpendBatchV1, BatchID: "b1", EdgeID: "e", Events: []events.SpendEvent{
		{RequestID: "r1", TeamID: "team-kv", Cost: 0.25, TotalTokens: 5}, {RequestID: "r2", TeamID: "team-kv", Cost: 0.5, TotalTokens: 5}}})
	publish("b1", batch)
	testutil.WaitRedelivered(t, ctx, js, events.SpendStream, events.BudgetDurable)
	if _, err := EnsureBucket(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() error {
		tot, err := ReadTotals(ctx, kv, events.KindTeam, "team-kv")
		if err != nil || tot.Requests != 2 || tot.Spend != 0.75 {
			return fmt.Errorf("totals %+v, %v", tot, err)
		}
		return nil
	})

	// Malformed: poisoned, counted, not counted in totals.
	publish("b2", []byte(`{"type":"gatehouse.spend.v9.batch","batch_id":"b2","events":[{"request_id":"r3","team_id":"team-kv","cost":9}]}`))
	testutil.Eventually(t, 10*time.Second, func() error {
		l, err := events.ListPoison(ctx, js, 0)
		if err != nil || len(l) != 1 {
			return fmt.Errorf("poison list %v, %v", l, err)
		}
		if l[0].Consumer != events.BudgetDurable || l[0].Stream != events.SpendStream {
			return fmt.Errorf("poisoned %+v", l[0])
		}
		// Counted just after the poison stream has the message: poll,
		// the list alone can be seen first.
		if v := promtest.ToFloat64(p.Poisoned().WithLabelValues(events.BudgetDurable)); v != 1 {
			return fmt.Errorf("poisoned counter %v", v)
		}
		return nil
	})
	if tot, _ := ReadTotals(ctx, kv, events.KindTeam, "team-kv"); tot.Requests != 2 {
		t.Errorf("malformed message counted: %+v", tot)
	}
}

// TestBudgetThroughput measures spend messages per second through the
// processor into the totals (GATEHOUSE_BUDGET_BENCH=1 to run it: it is a
// measurement, not a check).
func TestBudgetThroughput(t *testing.T) {
	if os.Getenv("GATEHOUSE_BUDGET_BENCH") == "" {
		t.Skip("set GATEHOUSE_BUDGET_BENCH=1")
	}
	e := newTrackerEnv(t, nil)
	const n = 5000
	msgs := make([][]byte, n)
	for i := range msgs {
		evs := make([]events.SpendEvent, 16)
		for j := range evs {
			evs[j] = events.SpendEvent{RequestID: fmt.Sprint("t-", i, "-", j), KeyHash: fmt.Sprint("k", j%8), TeamID: fmt.Sprint("team-", j%2), Cost: 0.001, TotalTokens: 1}
		}
		msgs[i], _ = json.Marshal(events.SpendBatch{Type: events.SpendBatchV1, BatchID: fmt.Sprint("tb-", i), EdgeID: "e", Events: evs})
	}
	start := time.Now()
	for i, m := range msgs {
		if i%1000 == 999 {
			<-e.js.PublishAsyncComplete()
		}
		if _, err := e.js.PublishMsgAsync(&nats.Msg{Subject: events.SpendSubjectPrefix + ".e", Data: m,
			Header: nats.Header{events.HeaderMsgID: []string{fmt.Sprint("tb-", i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	<-e.js.PublishAsyncComplete()
	published := time.Since(start)
	testutil.Eventually(t, 120*time.Second, func() error {
		tot, err := ReadTotals(e.ctx, e.kv, events.KindTeam, "team-0")
		if err != nil || tot.Requests != 8*n {
			return fmt.Errorf("totals %+v, %v", tot, err)
		}
		return nil
	})
	el := time.Since(start)
	t.Logf("%d messages (%d events) published in %s, all in the totals after %s: %.0f messages/s, %.0f events/s",
		n, 16*n, published.Round(time.Millisecond), el.Round(time.Millisecond), float64(n)/el.Seconds(), float64(16*n)/el.Seconds())
}
