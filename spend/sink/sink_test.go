package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/chtest"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/schema"
	"github.com/gatehouse/gatehouse/spend/rollup"
)

const db = "gh"

// env is one test's JetStream and ClickHouse, both private.
type env struct {
	t        testing.TB
	ns       *server.Server
	natsDir  string
	natsPort int
	pub      jetstream.JetStream // the edges' connection
	js       jetstream.JetStream // the sink's connection
	ch       *chtest.Server
	conn     driver.Conn
	base     time.Time
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := newNATSEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.ch = chtest.Start(t)
	e.conn = e.ch.Conn(t)
	if err := schema.Migrate(ctx, e.conn, db); err != nil {
		t.Fatal(err)
	}
	return e
}

// newNATSEnv is an env with its JetStream and spend stream, without
// ClickHouse.
func newNATSEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, natsDir: t.TempDir(), base: time.Now().UTC().Truncate(time.Millisecond)}
	e.ns = testutil.RunJetStreamAt(t, -1, e.natsDir)
	e.natsPort = e.ns.Addr().(*net.TCPAddr).Port
	_, e.pub = testutil.Connect(t, e.ns.ClientURL())
	_, e.js = testutil.Connect(t, e.ns.ClientURL())
	testutil.EnsureStream(t, e.pub, events.EnsureSpendStream)
	return e
}

// restartNATS stops the JetStream server and starts it again on the same
// port with the same store.
func (e *env) restartNATS() {
	e.ns.Shutdown()
	e.ns.WaitForShutdown()
	e.ns = testutil.RunJetStreamAt(e.t, e.natsPort, e.natsDir)
}

func testLog(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// running is a sink started by startSink.
type running struct {
	*Sink
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	err    error
}

// stop cancels the sink and waits for Run to return.
func (r *running) stop(t testing.TB) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		if r.err != nil && !errors.Is(r.err, context.Canceled) {
			t.Fatalf("sink: %v", r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("sink did not stop")
	}
}

func (e *env) startSink(o Options) *running {
	e.t.Helper()
	o.JS, o.CH, o.Database = e.js, e.conn, db
	if o.RollEvery == 0 {
		// Roll the closed days (two of the three the events span) while
		// events flow, so the views read rollups and the sink rolls them
		// again after each batch.
		o.RollEvery = 200 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = testLog(e.t)
	}
	s, err := New(o)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Sink: s, cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = s.Run(ctx)
		close(r.done)
	}()
	e.t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// event i: spread over three UTC days, five teams, seven keys, three
// users, four models, two orgs.
func (e *env) event(i int) events.SpendEvent {
	return events.SpendEvent{
		Type:             events.SpendV1,
		RequestID:        fmt.Sprintf("req-%06d", i),
		Time:             e.base.Add(-time.Duration(i%3)*24*time.Hour - time.Duration(i)*time.Millisecond),
		KeyHash:          fmt.Sprintf("key-%d", i%7),
		KeyAlias:         fmt.Sprintf("alias-%d", i%7),
		UserID:           fmt.Sprintf("user-%d", i%3),
		TeamID:           fmt.Sprintf("team-%d", i%5),
		OrgID:            fmt.Sprintf("org-%d", i%2),
		Auth:             "key",
		ModelGroup:       fmt.Sprintf("model-%d", i%4),
		Model:            fmt.Sprintf("upstream-%d", i%4),
		Deployment:       "dep-1",
		Provider:         "openai",
		PromptTokens:     int64(10 + i%13),
		CompletionTokens: int64(20 + i%11),
		TotalTokens:      int64(30 + i%13 + i%11),
		Cost:             float64(i%97+1) / 1000,
		LatencyMS:        float64(i % 300),
		Status:           200,
		Stream:           i%2 == 0,
		Outcome:          "ok",
		EdgeID:           fmt.Sprintf("edge-%d", i%2),
		Region:           "eu",
	}
}

func (e *env) expectedCost(n int) float64 {
	var c float64
	for i := range n {
		c += e.event(i).Cost
	}
	return c
}

// publish sends events [from, to), retrying each until the stream has it
// (NATS may be restarting).
func (e *env) publish(ctx context.Context, from, to int) error {
	for i := from; i < to; i++ {
		for {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := Publish(pctx, e.pub, e.event(i))
			cancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("publish %d: %w", i, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	e.t.Cleanup(cancel)
	return ctx
}

// counts returns count() and uniqExact(request_id) of spend_events.
func (e *env) counts() (rows, uniq uint64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = e.conn.QueryRow(ctx, "SELECT count(), uniqExact(request_id) FROM "+db+".spend_events").Scan(&rows, &uniq)
	return rows, uniq, err
}

// waitDone waits until spend_events holds n rows and the consumer has
// nothing left to deliver or to be acked, then checks that every request
// is there exactly once, in spend_events and in the aggregates.
func (e *env) waitDone(n int, within time.Duration) {
	e.t.Helper()
	testutil.Eventually(e.t, within, func() error {
		rows, _, err := e.counts()
		if err != nil {
			return err
		}
		if rows < uint64(n) {
			return fmt.Errorf("%d rows, want %d", rows, n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := e.js.Consumer(ctx, events.SpendStream, events.SinkDurable)
		if err != nil {
			return err
		}
		ci, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if ci.NumPending != 0 || ci.NumAckPending != 0 || ci.NumRedelivered != 0 {
			return fmt.Errorf("consumer: %d pending, %d unacked, %d to redeliver", ci.NumPending, ci.NumAckPending, ci.NumRedelivered)
		}
		return nil
	})
	e.checkExact(n)
}

func (e *env) checkExact(n int) {
	e.t.Helper()
	rows, uniq, err := e.counts()
	if err != nil {
		e.t.Fatal(err)
	}
	if rows != uint64(n) || uniq != uint64(n) {
		e.t.Fatalf("spend_events: count() = %d, uniqExact(request_id) = %d, want %d", rows, uniq, n)
	}
	want := e.expectedCost(n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, q := range []string{
		"SELECT sum(cost), sum(requests) FROM (SELECT cost, toUInt64(1) AS requests FROM " + db + ".spend_events)",
		"SELECT sum(cost), sum(requests) FROM " + db + ".v_daily_team_spend",
		"SELECT sum(cost), sum(requests) FROM " + db + ".v_daily_key_spend",
		"SELECT sum(cost), sum(requests) FROM " + db + ".v_daily_user_spend",
		"SELECT sum(cost), sum(requests) FROM " + db + ".v_daily_model_spend",
		"SELECT sum(cost), sum(requests) FROM " + db + ".v_monthly_org_spend",
	} {
		var cost float64
		var reqs uint64
		if err := e.conn.QueryRow(ctx, q).Scan(&cost, &reqs); err != nil {
			e.t.Fatalf("%s: %v", q, err)
		}
		if math.Abs(cost-want) > 1e-6 || reqs != uint64(n) {
			e.t.Errorf("%s = cost %.6f, requests %d; want %.6f, %d", q, cost, reqs, want, n)
		}
	}
	// The rollup tables themselves, for the days that are over (the sink
	// rolls those again after every batch): equal to the ledger.
	closed := " WHERE date < " + rollup.DateLit(time.Now())
	var ledgerCost float64
	var ledgerReqs uint64
	if err := e.conn.QueryRow(ctx, "SELECT sum(cost), count() FROM "+db+".spend_events"+closed).Scan(&ledgerCost, &ledgerReqs); err != nil {
		e.t.Fatal(err)
	}
	if ledgerReqs == 0 {
		e.t.Fatal("no events on closed days: the rollups are not tested")
	}
	for _, tb := range rollup.Tables {
		var cost float64
		var reqs uint64
		if err := e.conn.QueryRow(ctx, "SELECT sum(cost), sum(requests) FROM "+db+"."+tb.Name+" FINAL"+closed).Scan(&cost, &reqs); err != nil {
			e.t.Fatal(err)
		}
		if math.Abs(cost-ledgerCost) > 1e-6 || reqs != ledgerReqs {
			e.t.Errorf("%s FINAL, closed days: cost %.6f, requests %d; spend_events %.6f, %d", tb.Name, cost, reqs, ledgerCost, ledgerReqs)
		}
	}
}

// A thousand events, with resends the stream drops, resends it does not
// drop (other Nats-Msg-Id, as after its dedupe window), naks, lost acks
// and messages a dead sink left unacked: each request is stored once.
func TestExactlyOnce(t *testing.T) {
	const n = 1000
	e := newEnv(t)
	ctx := e.ctx()

	// A sink that died holding messages: some nak'ed, some left unacked.
	o := Options{AckWait: 2 * time.Second, BatchSize: 100, FlushInterval: 50 * time.Millisecond}
	if err := e.publish(ctx, 0, 200); err != nil {
		t.Fatal(err)
	}
	cfg := ConsumerConfig(o)
	cons, err := e.js.CreateOrUpdateConsumer(ctx, events.SpendStream, cfg)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(60, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for m := range batch.Messages() {
		if got%2 == 0 {
			_ = m.Nak()
		} // else: left unacked, redelivered after AckWait
		got++
	}
	if got != 60 {
		t.Fatalf("fetched %d, want 60", got)
	}

	// Every 50th event's first ack is lost.
	var mu sync.Mutex
	lost := map[string]bool{}
	o.skipAck = func(ev *events.SpendEvent) bool {
		var i int
		fmt.Sscanf(ev.RequestID, "req-%d", &i)
		mu.Lock()
		defer mu.Unlock()
		if i%50 == 0 && !lost[ev.RequestID] {
			lost[ev.RequestID] = true
			return true
		}
		return false
	}
	s := e.startSink(o)

	if err := e.publish(ctx, 200, n); err != nil {
		t.Fatal(err)
	}
	// Resends within the dedupe window: dropped by the stream.
	if err := e.publish(ctx, 0, 100); err != nil {
		t.Fatal(err)
	}
	// Resends the stream cannot recognise: the sink must skip them.
	for i := 100; i < 150; i++ {
		data := fmt.Sprintf(`{"type":%q,"request_id":"req-%06d","time":%q,"cost":99}`, events.SpendV1, i, e.event(i).Time.Format(time.RFC3339Nano))
		if _, err := e.pub.Publish(ctx, events.SpendSubjectPrefix+".edge-9", []byte(data), jetstream.WithMsgID(fmt.Sprintf("other-%d", i))); err != nil {
			t.Fatal(err)
		}
	}

	e.waitDone(n, 40*time.Second)
	st := s.Stats()
	t.Logf("stats: %+v", st)
	if st.Rows != n {
		t.Errorf("Stats.Rows = %d, want %d", st.Rows, n)
	}
	// 50 resends + 20 lost acks (+ the unacked ones the dead sink held,
	// when they were redelivered after the sink stored them).
	if st.Duplicates < 50+20 {
		t.Errorf("Stats.Duplicates = %d, want >= 70", st.Duplicates)
	}
	mu.Lock()
	if len(lost) != n/50 {
		t.Errorf("%d acks lost, want %d", len(lost), n/50)
	}
	mu.Unlock()
}

// ClickHouse crashes while events flow and comes back 2.5s later: nothing
// is lost, nothing doubled.
func TestClickHouseOutage(t *testing.T) {
	const n = 1000
	e := newEnv(t)
	ctx := e.ctx()
	s := e.startSink(Options{BatchSize: 100, FlushInterval: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})

	pubDone := make(chan error, 1)
	go func() {
		// About 3 seconds of traffic.
		for i := 0; i < n; i += 10 {
			if err := e.publish(ctx, i, i+10); err != nil {
				pubDone <- err
				return
			}
			time.Sleep(30 * time.Millisecond)
		}
		pubDone <- nil
	}()
	testutil.Eventually(t, 20*time.Second, func() error {
		if r := s.Stats().Rows; r < 100 {
			return fmt.Errorf("%d rows", r)
		}
		return nil
	})
	e.ch.Kill()
	testutil.Eventually(t, 20*time.Second, func() error {
		if st := s.Stats(); st.Errors < 3 {
			return fmt.Errorf("sink saw %d errors", st.Errors)
		}
		return nil
	})
	<-time.After(2500 * time.Millisecond) // the rest of the outage
	e.ch.Restart(t)
	if err := <-pubDone; err != nil {
		t.Fatal(err)
	}
	e.waitDone(n, 40*time.Second)
	t.Logf("stats: %+v", s.Stats())
}

// The sink is stopped mid-stream (its batch in flight, its buffer full)
// three times and started again: each request is stored once.
func TestSinkRestart(t *testing.T) {
	const n = 3000
	e := newEnv(t)
	ctx := e.ctx()
	if err := e.publish(ctx, 0, n); err != nil {
		t.Fatal(err)
	}
	o := Options{BatchSize: 250, FlushInterval: 20 * time.Millisecond, AckWait: 5 * time.Second}
	var inserted uint64
	for _, at := range []uint64{300, 900, 1700} {
		s := e.startSink(o)
		testutil.Eventually(t, 20*time.Second, func() error {
			rows, _, err := e.counts()
			if err != nil {
				return err
			}
			if rows < at {
				return fmt.Errorf("%d rows", rows)
			}
			return nil
		})
		s.stop(t)
		inserted += s.Stats().Rows
	}
	s := e.startSink(o)
	e.waitDone(n, 30*time.Second)
	// A stopping sink finishes the insert under way: each row was
	// inserted, and counted, by exactly one of them.
	inserted += s.Stats().Rows
	if inserted != n {
		t.Errorf("sinks inserted %d rows in all, want %d", inserted, n)
	}
}

// The JetStream server restarts (same store) while events flow and the
// sink runs; acks sent during the outage are lost and the messages
// redelivered.
func TestNATSRestart(t *testing.T) {
	const n = 1000
	e := newEnv(t)
	ctx := e.ctx()
	s := e.startSink(Options{BatchSize: 100, FlushInterval: 50 * time.Millisecond, AckWait: 2 * time.Second})
	if err := e.publish(ctx, 0, 400); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, func() error {
		if r := s.Stats().Rows; r < 100 {
			return fmt.Errorf("%d rows", r)
		}
		return nil
	})
	t0 := time.Now()
	e.restartNATS()
	t.Logf("restarted in %s", time.Since(t0))
	if err := e.publish(ctx, 400, n); err != nil {
		t.Fatal(err)
	}
	e.waitDone(n, 40*time.Second)
	t.Logf("all stored and acked %s after the restart", time.Since(t0))
	t.Logf("stats: %+v", s.Stats())
}

// Malformed messages are moved to the poison queue and counted; the events
// around them are stored.
func TestMalformed(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx()
	s := e.startSink(Options{FlushInterval: 20 * time.Millisecond})
	if err := e.publish(ctx, 0, 10); err != nil {
		t.Fatal(err)
	}
	bad := []string{
		`not json`,
		`{"type":"gatehouse.spend.v9.recorded","request_id":"x1"}`,
		`{"type":"gatehouse.spend.v1.recorded","request_id":""}`,
		`{"request_id":"x2","time":"1969-12-31T00:00:00Z"}`,
		`{"request_id":"x3","cost":"free"}`,
	}
	for i, b := range bad {
		if _, err := e.pub.Publish(ctx, events.SpendSubjectPrefix+".edge-1", []byte(b), jetstream.WithMsgID(fmt.Sprintf("bad-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.publish(ctx, 10, 20); err != nil {
		t.Fatal(err)
	}
	e.waitDone(20, 20*time.Second)
	if st := s.Stats(); st.Malformed != uint64(len(bad)) {
		t.Errorf("Stats.Malformed = %d, want %d", st.Malformed, len(bad))
	}
	l, err := events.ListPoison(ctx, e.js, 0)
	if err != nil || len(l) != len(bad) {
		t.Fatalf("poison queue: %v, %v", l, err)
	}
	for i, p := range l {
		if p.Consumer != events.SinkDurable || p.Stream != events.SpendStream || p.Data != bad[i] || p.Reason == "" {
			t.Errorf("poisoned %d: %+v", i, p)
		}
	}
}

// A batch the sink cannot read (a newer format) is poisoned; once a sink
// that reads it runs, a replay stores its rows, exactly once.
func TestPoisonedBatchReplayedAfterFix(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx()
	old := e.startSink(Options{FlushInterval: 20 * time.Millisecond})
	ev1, ev2 := e.event(0), e.event(1)
	v2, _ := json.Marshal(events.SpendBatch{Type: "gatehouse.spend.v2.batch", BatchID: "batch-v2", EdgeID: "edge-1", Events: []events.SpendEvent{ev1, ev2}})
	if _, err := e.pub.Publish(ctx, events.SpendSubjectPrefix+".edge-1", v2, jetstream.WithMsgID("batch-v2")); err != nil {
		t.Fatal(err)
	}
	var poisoned []events.Poisoned
	// The sink counts a message as malformed just after storing it in the
	// poison queue: wait for both.
	testutil.Eventually(t, 20*time.Second, func() error {
		var err error
		if poisoned, err = events.ListPoison(ctx, e.js, 0); err != nil || len(poisoned) != 1 {
			return fmt.Errorf("poison queue: %v, %v", poisoned, err)
		}
		if st := old.Stats(); st.Malformed != 1 {
			return fmt.Errorf("stats %+v", st)
		}
		return nil
	})
	if rows, _, err := e.counts(); err != nil || rows != 0 {
		t.Fatalf("%d rows stored from a poisoned batch, %v", rows, err)
	}
	old.stop(t)

	// The fix: a sink that reads v2 batches (here, as v1 ones).
	fixed := e.startSink(Options{FlushInterval: 20 * time.Millisecond, upgrade: func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"gatehouse.spend.v2.batch"`), []byte(`"`+events.SpendBatchV1+`"`), 1)
	}})
	if _, err := events.ReplayPoison(ctx, e.js, poisoned[0].ID); err != nil {
		t.Fatal(err)
	}
	e.waitDone(2, 20*time.Second)
	if l, err := events.ListPoison(ctx, e.js, 0); err != nil || len(l) != 0 {
		t.Fatalf("poison queue after replay: %v, %v", l, err)
	}
	if st := fixed.Stats(); st.Rows != 2 || st.Malformed != 0 {
		t.Fatalf("fixed sink stats %+v", st)
	}
}

// A stored row reads back as the event that was published.
func TestRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx()
	s := e.startSink(Options{FlushInterval: 20 * time.Millisecond})
	ev := e.event(7)
	ev.Estimated, ev.TTFTMS, ev.EndUserID, ev.Status, ev.Outcome = true, 12.5, "end-1", 502, "upstream_error"
	ev.RequestID = `it's a "quoted" \ id`
	ev.ClientRequestID = "client-req-7"
	ev.ResponseID = "chatcmpl-abc123"
	ev.PolicySeq, ev.DenyReason, ev.DenyRule = 1<<40+3, events.DenyBudgetExceeded, "team:t-1:max_budget"
	ev.PromptTokens, ev.CachedTokens, ev.CacheCreationTokens = 1<<33+9, 1<<32+5, 7
	if err := Publish(ctx, e.pub, ev); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, func() error {
		if rows, _, err := e.counts(); err != nil || rows != 1 {
			return fmt.Errorf("%d rows, %v", rows, err)
		}
		return nil
	})
	// Resent: skipped, odd characters and all.
	r := row{ev: ev, sec: uint32(ev.Time.Unix()), ms: uint16(ev.Time.Nanosecond() / 1e6),
		date: time.Date(ev.Time.Year(), ev.Time.Month(), ev.Time.Day(), 0, 0, 0, 0, time.UTC)}
	if ins, skipped, err := s.insert(ctx, []*row{&r}); err != nil || ins != 0 || skipped != 1 {
		t.Fatalf("insert of a stored row: inserted %d, skipped %d, %v", ins, skipped, err)
	}
	var (
		id, edge, team, outcome, endUser, clientID string
		reason, rule, responseID                   string
		seq, prompt, cached, creation              uint64
		et                                         time.Time
		ms, status                                 uint16
		est                                        uint8
		ttft                                       float64
	)
	if err := e.conn.QueryRow(ctx, "SELECT request_id, edge_id, team_id, outcome, end_user, event_time, event_ms, status, estimated, ttft_ms, client_request_id, "+
		"policy_seq, deny_reason, deny_rule, prompt_tokens, cached_tokens, cache_creation_tokens, response_id FROM "+db+".spend_events").
		Scan(&id, &edge, &team, &outcome, &endUser, &et, &ms, &status, &est, &ttft, &clientID, &seq, &reason, &rule, &prompt, &cached, &creation, &responseID); err != nil {
		t.Fatal(err)
	}
	got := et.Add(time.Duration(ms) * time.Millisecond)
	if id != ev.RequestID || edge != ev.EdgeID || team != ev.TeamID || outcome != ev.Outcome || endUser != ev.EndUserID ||
		!got.Equal(ev.Time) || status != 502 || est != 1 || ttft != 12.5 || clientID != "client-req-7" || responseID != "chatcmpl-abc123" {
		t.Fatalf("row = %q %q %q %q %q %s %d %d %v %q %q, want %+v", id, edge, team, outcome, endUser, got, status, est, ttft, clientID, responseID, ev)
	}
	if seq != ev.PolicySeq || reason != ev.DenyReason || rule != ev.DenyRule {
		t.Fatalf("provenance = %d %q %q, want %d %q %q", seq, reason, rule, ev.PolicySeq, ev.DenyReason, ev.DenyRule)
	}
	if int64(prompt) != ev.PromptTokens || int64(cached) != ev.CachedTokens || int64(creation) != ev.CacheCreationTokens {
		t.Fatalf("prompt, cached, cache creation tokens = %d %d %d, want %d %d %d", prompt, cached, creation,
			ev.PromptTokens, ev.CachedTokens, ev.CacheCreationTokens)
	}
	if rows, _, _ := e.counts(); rows != 1 {
		t.Fatalf("%d rows, want 1", rows)
	}
}

// A row stores its request's tags; an untagged request's (and an older
// edge's event, which has none) stores an empty array.
func TestRequestTagsStored(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx()
	e.startSink(Options{FlushInterval: 20 * time.Millisecond})
	tagged, plain := e.event(1), e.event(2)
	tagged.RequestTags = []string{"prod", `o"dd\tag`, "é"}
	for _, ev := range []events.SpendEvent{tagged, plain} {
		if err := Publish(ctx, e.pub, ev); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 20*time.Second, func() error {
		if rows, _, err := e.counts(); err != nil || rows != 2 {
			return fmt.Errorf("%d rows, %v", rows, err)
		}
		return nil
	})
	for _, ev := range []events.SpendEvent{tagged, plain} {
		var got []string
		if err := e.conn.QueryRow(ctx, "SELECT request_tags FROM "+db+".spend_events WHERE request_id = ?", ev.RequestID).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, ev.RequestTags) {
			t.Errorf("%s: request_tags %q, want %q", ev.RequestID, got, ev.RequestTags)
		}
	}
}

// An upstream's id too long to keep is dropped; the request's spend is
// stored all the same.
func TestOddResponseIDDropped(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx()
	e.startSink(Options{FlushInterval: 20 * time.Millisecond})
	for i, id := range []string{strings.Repeat("x", maxIDLen+1), "msg_ok"} {
		ev := e.event(i)
		ev.ResponseID = id
		if err := Publish(ctx, e.pub, ev); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 20*time.Second, func() error {
		var n, empty, ok uint64
		if err := e.conn.QueryRow(ctx, "SELECT count(), countIf(response_id = ''), countIf(response_id = 'msg_ok') FROM "+db+".spend_events").
			Scan(&n, &empty, &ok); err != nil || n != 2 || empty != 1 || ok != 1 {
			return fmt.Errorf("%d rows, %d without a response id, %d with msg_ok, %v", n, empty, ok, err)
		}
		return nil
	})
}

// Edges publish batches: every event of a batch becomes a row, and an
// event that arrives again in another batch (a resend rebatched) is stored
// once.
func TestBatches(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx()
	e.startSink(Options{FlushInterval: 20 * time.Millisecond})
	batch := func(id string, from, to int) []byte {
		b := events.SpendBatch{Type: events.SpendBatchV1, BatchID: id, EdgeID: "edge-1"}
		for i := from; i < to; i++ {
			b.Events = append(b.Events, e.event(i))
		}
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	for _, m := range []struct {
		id       string
		from, to int
	}{{"b1", 0, 100}, {"b2", 100, 150}, {"b3", 140, 200}} { // b3 repeats 140..149
		if _, err := e.pub.Publish(ctx, events.SpendSubjectPrefix+".edge-1", batch(m.id, m.from, m.to), jetstream.WithMsgID(m.id)); err != nil {
			t.Fatal(err)
		}
	}
	e.waitDone(200, 20*time.Second)
	e.checkExact(200)
}

// A client may send the same x-request-id with two requests: they are two
// rows (the edge's request id is the identity), both findable by the
// client's id.
func TestClientRequestIDIsNotIdentity(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx()
	e.startSink(Options{FlushInterval: 20 * time.Millisecond})
	for i := range 2 {
		ev := e.event(i)
		ev.Time = e.base // same time too: only the edge's id differs
		ev.ClientRequestID = "same-client-id"
		if err := Publish(ctx, e.pub, ev); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 20*time.Second, func() error {
		var n uint64
		if err := e.conn.QueryRow(ctx, "SELECT count() FROM "+db+".spend_events FINAL WHERE client_request_id = 'same-client-id'").Scan(&n); err != nil || n != 2 {
			return fmt.Errorf("%d rows, %v", n, err)
		}
		return nil
	})
}
