// Package sink writes spend events from the GATEHOUSE_SPEND stream into
// ClickHouse (<database>.spend_events; see package schema), through the
// durable pull consumer "clickhouse-sink".
//
// Delivery is at least once and the table gets each request once:
//
//   - Messages are batched up to BatchSize rows or FlushInterval after the
//     batch's first message, whichever comes first.
//   - Before inserting, the sink asks ClickHouse which request ids of the
//     batch are already stored and leaves those out. A crash between the
//     insert and the acks, a lost ack (NATS restart), a redelivery after
//     AckWait, or a resend of an event after the stream's dedupe window
//     therefore never adds a second row (and the finance views, which
//     aggregate spend_events, never count one twice).
//   - Big batches are inserted as up to InsertWorkers concurrent blocks;
//     if one fails, the retry's check skips what the others stored.
//   - A batch is acked only after ClickHouse confirmed its insert. On a
//     ClickHouse error the batch is kept and retried (check + insert) with
//     exponential backoff capped at MaxBackoff, for as long as it takes;
//     its messages are marked in progress so the server does not redeliver
//     them meanwhile.
//   - A message that cannot be decoded (or has no request id) is moved to
//     the poison queue (events.PoisonStream), logged and counted; it never
//     blocks the stream, and `gatewayctl poison replay` brings it back to
//     the sink after a fix. A replay meant for another consumer of the
//     spend stream (the budget tracker) is acked unread.
//
// The sink stays on nats.go rather than the control plane's Watermill
// processors (control/processor): it inserts thousands of events per
// ClickHouse insert and acks them together, and Watermill hands a handler
// one message at a time with no batch API.
//   - On shutdown (ctx cancelled) an insert under way is finished (and
//     acked), not cut off: a cancelled insert can still land after the
//     next sink checked for its rows. The messages not yet inserted are
//     nak'ed, so the next sink gets them at once instead of after AckWait.
//   - After the insert and before the ack, the days of the batch that
//     are over or already rolled are rolled again, and a Roller rolls the
//     days that are over: the rollups stay exact (see spend/rollup).
//   - AckWait (60s) must exceed the longest insert: after a crash the
//     messages come back only then, when the insert has landed or failed.
//
// On a ClickHouse cluster (schema's cluster form, sharded by request id)
// the sink writes to the Distributed spend_events through any node, with
// insert_distributed_sync=1 (schema.InsertContext): an insert returns
// only when every shard stored its rows, and fails while a shard is down,
// so the batch stays unacked and is retried; rows queued on the node for
// later would be acked before they are stored anywhere else. The
// pre-check reads through the Distributed table too (GLOBAL IN: the ids
// go to the shards), and fails while a shard is down: the sink waits.
// A retry after a partial insert (one shard stored its part) skips that
// part, as on one server.
//
// Several sinks may share the durable consumer; the pre-check is then racy
// only for a message redelivered to one sink while another is inserting
// it, which ReplacingMergeTree cleans up in spend_events (a rollup
// would count such a duplicate until the next roll of its day after the
// merge).
package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/backoff"
	"github.com/gatehouse/gatehouse/internal/opt"
	"github.com/gatehouse/gatehouse/schema"
	"github.com/gatehouse/gatehouse/spend/rollup"
)

// Defaults of Options.
const (
	DefaultBatchSize     = 10_000
	DefaultFlushInterval = 200 * time.Millisecond
	DefaultAckWait       = 60 * time.Second
	DefaultMaxBackoff    = 5 * time.Second
	DefaultInsertTimeout = 30 * time.Second
	DefaultInsertWorkers = 2
	DefaultRollEvery     = time.Minute
)

// Options configure a sink.
type Options struct {
	JS jetstream.JetStream
	CH driver.Conn
	// Database holding spend_events (schema.DefaultDatabase if empty); the
	// schema must be migrated.
	Database string
	// BatchSize bounds the rows of one insert; default 10,000.
	BatchSize int
	// FlushInterval bounds how long an event waits for its batch to fill;
	// default 200ms.
	FlushInterval time.Duration
	Log           *slog.Logger

	// AckWait of the consumer: how long the server waits for an ack before
	// redelivering; default 60s. Long ClickHouse retries extend it with
	// InProgress.
	AckWait time.Duration
	// MaxAckPending of the consumer; default max(100,000, 4*BatchSize).
	MaxAckPending int
	// MaxBackoff caps the wait between retries of a failing batch;
	// default 5s.
	MaxBackoff time.Duration
	// InsertTimeout bounds one attempt (check + insert + rolling its
	// days again); default 30s.
	InsertTimeout time.Duration
	// RollEvery: how often the sink rolls the days that are over and not
	// yet rolled (rollup.Roller); default 1m, negative: never (another
	// sink or rebuild-rollups does it; the views are exact either way).
	RollEvery time.Duration
	// InsertWorkers: a batch of at least 2*10,000 rows is inserted as up
	// to this many concurrent blocks (ClickHouse writes a part per insert
	// and table at a fixed cost, which concurrent inserts overlap);
	// default 2.
	InsertWorkers int

	// skipAck, in tests, leaves an inserted message unacked (as if the ack
	// were lost) so the server redelivers it.
	skipAck func(*events.SpendEvent) bool
	// upgrade, in tests, rewrites a message before decoding: the "fixed
	// sink" that a replayed poisoned message meets.
	upgrade func([]byte) []byte
}

// Stats count what a sink did since it was created.
type Stats struct {
	Rows       uint64 // rows inserted
	Batches    uint64 // batches committed and acked
	Duplicates uint64 // events skipped: already stored, or twice in a batch
	Errors     uint64 // failed ClickHouse attempts (each one retried)
	Malformed  uint64 // messages moved to the poison queue because they could not be decoded
	Rerolls    uint64 // days rolled again after a batch (late rows, marked days)
}

// Sink is a running (or runnable) ClickHouse sink.
type Sink struct {
	o   Options
	log *slog.Logger
	db  string

	rows, batches, dups, errs, malformed, rerolls atomic.Uint64
}

// withDefaults fills in the zero fields.
func (o Options) withDefaults() Options {
	opt.Or(&o.Database, schema.DefaultDatabase)
	opt.Positive(&o.BatchSize, DefaultBatchSize)
	opt.Positive(&o.FlushInterval, DefaultFlushInterval)
	opt.Positive(&o.AckWait, DefaultAckWait)
	opt.Positive(&o.MaxAckPending, max(100_000, 4*o.BatchSize))
	opt.Positive(&o.MaxBackoff, DefaultMaxBackoff)
	opt.Positive(&o.InsertTimeout, DefaultInsertTimeout)
	opt.Positive(&o.InsertWorkers, DefaultInsertWorkers)
	if o.RollEvery == 0 {
		o.RollEvery = DefaultRollEvery
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return o
}

// New checks o and fills in the defaults.
func New(o Options) (*Sink, error) {
	if o.JS == nil || o.CH == nil {
		return nil, errors.New("sink: JS and CH are required")
	}
	o = o.withDefaults()
	if err := schema.ValidDatabase(o.Database); err != nil {
		return nil, err
	}
	return &Sink{o: o, log: o.Log.With("component", "clickhouse-sink"), db: o.Database}, nil
}

// Run is New(o) and Run.
func Run(ctx context.Context, o Options) error {
	s, err := New(o)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// Stats returns the counters so far.
func (s *Sink) Stats() Stats {
	return Stats{
		Rows: s.rows.Load(), Batches: s.batches.Load(), Duplicates: s.dups.Load(),
		Errors: s.errs.Load(), Malformed: s.malformed.Load(), Rerolls: s.rerolls.Load(),
	}
}

// ConsumerConfig is the sink's durable consumer (for o with defaults).
func ConsumerConfig(o Options) jetstream.ConsumerConfig {
	o = o.withDefaults()
	return jetstream.ConsumerConfig{
		Durable:       events.SinkDurable,
		Description:   "gatehouse: spend events into ClickHouse",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.AckWait,
		MaxAckPending: o.MaxAckPending,
		MaxDeliver:    -1,
		FilterSubject: events.SpendSubjects,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}

// Publish sends one spend event the way an edge does: on
// SpendSubjectPrefix.<edge id> with the request id as Nats-Msg-Id, so the
// stream drops a resend within its dedupe window.
func Publish(ctx context.Context, js jetstream.JetStream, ev events.SpendEvent) error {
	if ev.RequestID == "" {
		return errors.New("sink: spend event without request id")
	}
	opt.Or(&ev.Type, events.SpendV1)
	edge := ev.EdgeID
	opt.Or(&edge, "unknown")
	if strings.ContainsAny(edge, ".*> \t\r\n") {
		return fmt.Errorf("sink: edge id %q is not a subject token", edge)
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	_, err = js.Publish(ctx, events.SpendSubjectPrefix+"."+edge, data, jetstream.WithMsgID(ev.RequestID))
	return err
}

// item is a decoded message: one event, or an edge's batch.
type item struct {
	msg  jetstream.Msg
	rows []row
}

// row is a spend event as stored.
type row struct {
	ev   events.SpendEvent
	sec  uint32 // event_time, unix seconds
	ms   uint16
	date time.Time // UTC midnight
}

var (
	minTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

const maxIDLen = 256

// decode turns a message into rows; an error means the message is
// malformed for good.
func decode(msg jetstream.Msg, upgrade func([]byte) []byte) ([]row, error) {
	data := msg.Data()
	if upgrade != nil {
		data = upgrade(data)
	}
	_, evs, err := events.DecodeSpend(data)
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, errors.New("empty batch")
	}
	rows := make([]row, len(evs))
	for i, ev := range evs {
		if err := rows[i].set(ev, msg); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

func (r *row) set(ev events.SpendEvent, msg jetstream.Msg) error {
	r.ev = ev
	if r.ev.RequestID == "" {
		return errors.New("no request_id")
	}
	if len(r.ev.RequestID) > maxIDLen || !utf8.ValidString(r.ev.RequestID) {
		return errors.New("request_id too long or not UTF-8")
	}
	if len(r.ev.ClientRequestID) > maxIDLen || !utf8.ValidString(r.ev.ClientRequestID) {
		r.ev.ClientRequestID = "" // only a label: the spend itself still counts
	}
	if len(r.ev.ResponseID) > maxIDLen || !utf8.ValidString(r.ev.ResponseID) {
		r.ev.ResponseID = "" // an upstream's label, likewise
	}
	t := r.ev.Time
	if t.IsZero() {
		// An event without a time is stored at its publish time.
		md, err := msg.Metadata()
		if err != nil {
			return errors.New("no time")
		}
		t = md.Timestamp
	}
	t = t.UTC()
	if t.Before(minTime) || !t.Before(maxTime) {
		return fmt.Errorf("time %s out of range", t.Format(time.RFC3339))
	}
	r.ev.Time = t
	r.sec = uint32(t.Unix())
	r.ms = uint16(t.Nanosecond() / int(time.Millisecond))
	r.date = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return nil
}

// Run consumes until ctx ends, then returns ctx's error. It waits (and
// logs) while the stream does not exist or NATS is unreachable.
func (s *Sink) Run(ctx context.Context) error {
	cons, err := s.consumer(ctx)
	if err != nil {
		return err
	}
	s.log.Info("consuming", "stream", events.SpendStream, "durable", events.SinkDurable, "database", s.db,
		"batch", s.o.BatchSize, "flush", s.o.FlushInterval)

	items := make(chan item, s.o.BatchSize)
	go s.read(ctx, cons, items)
	if s.o.RollEvery > 0 {
		go rollup.Roller(ctx, s.o.CH, s.db, s.o.RollEvery, func(err error) {
			s.log.Warn("rolling up closed days failed; retrying", "err", err, "in", s.o.RollEvery)
		})
	}

	// BatchSize counts rows: an edge's message may hold a batch of events.
	batch := make([]item, 0, s.o.BatchSize)
	nrows := 0
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		// Wait for the first item of a batch.
		select {
		case it, ok := <-items:
			if !ok {
				return ctx.Err()
			}
			batch = append(batch, it)
			nrows = len(it.rows)
		case <-ctx.Done():
			s.shutdown(batch, items)
			return ctx.Err()
		}
		timer.Reset(s.o.FlushInterval)
	fill:
		for nrows < s.o.BatchSize {
			select {
			case it, ok := <-items:
				if !ok {
					break fill
				}
				batch = append(batch, it)
				nrows += len(it.rows)
			case <-timer.C:
				break fill
			case <-ctx.Done():
				break fill
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		if ctx.Err() != nil {
			s.shutdown(batch, items)
			return ctx.Err()
		}
		if err := s.commit(ctx, batch); err != nil {
			s.shutdown(batch, items)
			return ctx.Err()
		}
		clear(batch)
		batch = batch[:0]
	}
}

// shutdown naks what was not inserted (the current batch and everything
// the reader still hands over while it drains), so it is redelivered now
// rather than after AckWait.
func (s *Sink) shutdown(batch []item, items <-chan item) {
	n := 0
	for _, it := range batch {
		_ = it.msg.Nak()
		n++
	}
	for it := range items {
		_ = it.msg.Nak()
		n++
	}
	if nc := s.o.JS.Conn(); nc != nil && nc.IsConnected() {
		_ = nc.FlushTimeout(2 * time.Second)
	}
	s.log.Info("stopped", "nak", n)
}

// consumer creates or updates the durable consumer, retrying while the
// stream is missing or NATS is down.
func (s *Sink) consumer(ctx context.Context) (jetstream.Consumer, error) {
	var cons jetstream.Consumer
	err := backoff.Retry(ctx, backoff.Policy{Initial: 100 * time.Millisecond, Max: s.o.MaxBackoff, Jitter: 0.2},
		func(ctx context.Context) error {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			var err error
			cons, err = s.o.JS.CreateOrUpdateConsumer(cctx, events.SpendStream, ConsumerConfig(s.o))
			if err == nil {
				// Where malformed messages go (replicas 0: an existing
				// stream's replicas are kept).
				_, err = events.EnsurePoisonStream(cctx, s.o.JS, events.StreamOptions{})
			}
			return err
		}, nil, func(err error, _ int, wait time.Duration) {
			s.log.Warn("consumer not ready; retrying", "stream", events.SpendStream, "err", err, "in", wait)
		})
	return cons, err
}

// drainWait bounds how long a stopping sink waits for the messages its
// iterator still buffers (a drain needs the server: with NATS down they
// are left to be redelivered after AckWait).
const drainWait = 3 * time.Second

// poison moves a message that cannot be decoded to the poison queue and
// acks it; if the poison stream cannot take it, the message is nak'ed and
// comes back later (it is never dropped).
func (s *Sink) poison(ctx context.Context, msg jetstream.Msg, cause error) {
	md, err := msg.Metadata()
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = events.Poison(pctx, s.o.JS, events.PoisonSource{Consumer: events.SinkDurable, Stream: md.Stream, Subject: msg.Subject(),
			Seq: md.Sequence.Stream, Header: msg.Headers(), Data: msg.Data()}, cause.Error())
		cancel()
	}
	if err != nil {
		s.log.Warn("malformed spend message; poison queue unavailable, retrying later", "err", err, "cause", cause)
		_ = msg.NakWithDelay(5 * time.Second)
		return
	}
	s.malformed.Add(1)
	s.log.Warn("malformed spend message; moved to the poison queue", "err", cause, "subject", msg.Subject(),
		"seq", md.Sequence.Stream, "bytes", len(msg.Data()))
	_ = msg.Ack()
}

// read pulls messages, poisons malformed ones and hands the others to
// Run. When ctx ends it drains the iterator (its buffered messages still
// go to Run, which naks them) and closes items.
func (s *Sink) read(ctx context.Context, cons jetstream.Consumer, items chan<- item) {
	defer close(items)
	p := events.Pull{Batch: max(s.o.BatchSize, 100), DrainWait: drainWait, Log: s.log, Recreate: s.consumer}
	p.Run(ctx, cons, func(msg jetstream.Msg) {
		if events.ReplayedForOther(msg.Headers(), events.SinkDurable) {
			_ = msg.Ack() // replayed for the budget tracker; the sink stored the original
			return
		}
		rows, err := decode(msg, s.o.upgrade)
		if err != nil {
			s.poison(ctx, msg, err)
			return
		}
		items <- item{msg: msg, rows: rows}
	})
}

// commit inserts a batch, retrying until ClickHouse confirms it (or ctx
// ends), then acks it.
func (s *Sink) commit(ctx context.Context, batch []item) error {
	// One row per request id; the other messages are acked with it.
	rows := make([]*row, 0, len(batch))
	seen := make(map[string]struct{}, len(batch))
	inBatch := 0
	for i := range batch {
		for j := range batch[i].rows {
			r := &batch[i].rows[j]
			if _, dup := seen[r.ev.RequestID]; dup {
				inBatch++
				continue
			}
			seen[r.ev.RequestID] = struct{}{}
			rows = append(rows, r)
		}
	}

	retry := backoff.Policy{Initial: 50 * time.Millisecond, Max: s.o.MaxBackoff, Jitter: 0.2}.Start()
	lastProgress := time.Now()
	for attempt := 1; ; attempt++ {
		// A started attempt is not cancelled with ctx: an insert cut off
		// mid-way may still be stored after the next sink checked for it.
		// Stopping waits for it (at most InsertTimeout) instead.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.InsertTimeout)
		inserted, skipped, err := s.insert(actx, rows)
		if err == nil {
			// Before the ack: a crash here leaves the batch to be
			// redelivered, and the redelivery rolls its days again
			// although its rows are skipped as stored (see spend/rollup).
			err = s.reroll(actx, rows)
		}
		cancel()
		if err == nil {
			s.rows.Add(uint64(inserted))
			s.dups.Add(uint64(skipped + inBatch))
			s.batches.Add(1)
			if attempt > 1 {
				s.log.Info("ClickHouse insert succeeded after retries", "attempts", attempt, "rows", inserted, "skipped", skipped)
			}
			for _, it := range batch {
				if s.o.skipAck != nil && slices.ContainsFunc(it.rows, func(r row) bool { return s.o.skipAck(&r.ev) }) {
					continue
				}
				_ = it.msg.Ack()
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.errs.Add(1)
		wait := retry.Next()
		s.log.Warn("ClickHouse insert failed; retrying the batch", "attempt", attempt, "rows", len(rows), "err", err, "in", wait)
		if err := backoff.Sleep(ctx, wait); err != nil {
			return err
		}
		// Keep the server from redelivering the batch while we retry.
		if time.Since(lastProgress) >= s.o.AckWait/4 {
			for _, it := range batch {
				_ = it.msg.InProgress()
			}
			lastProgress = time.Now()
		}
	}
}

// reroll rolls again the days of rows (stored now, whether by this
// attempt or an earlier one) that are over or marked in
// spend_rollup_days, so that no rolled day misses a row.
func (s *Sink) reroll(ctx context.Context, rows []*row) error {
	var days []time.Time
	for _, r := range rows {
		if !slices.ContainsFunc(days, r.date.Equal) {
			days = append(days, r.date)
		}
	}
	stale, err := rollup.Stale(ctx, s.o.CH, s.db, days, time.Now())
	if err != nil || len(stale) == 0 {
		return err
	}
	if err := rollup.Roll(ctx, s.o.CH, s.db, stale); err != nil {
		return fmt.Errorf("roll again: %w", err)
	}
	s.rerolls.Add(uint64(len(stale)))
	return nil
}

// insert stores the rows whose request id is not stored yet; it returns
// how many it inserted and how many it skipped. The insert blocks are
// built while the existence check runs (duplicates are rare); when the
// check finds some, they are built again without them.
func (s *Sink) insert(ctx context.Context, rows []*row) (inserted, skipped int, err error) {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	prep := make(chan prepared, 1)
	go func() { prep <- s.prepare(pctx, rows) }()
	have, err := s.existing(ctx, rows)
	p := <-prep
	if err != nil {
		p.abort()
		return 0, 0, fmt.Errorf("check existing: %w", err)
	}
	if len(have) > 0 {
		p.abort()
		fresh := make([]*row, 0, len(rows)-len(have))
		for _, r := range rows {
			if _, ok := have[r.ev.RequestID]; !ok {
				fresh = append(fresh, r)
			}
		}
		skipped = len(rows) - len(fresh)
		rows = fresh
		if len(rows) == 0 {
			return 0, skipped, nil
		}
		p = s.prepare(ctx, rows)
	}
	if err := p.send(); err != nil {
		return 0, 0, err
	}
	return len(rows), skipped, nil
}

// existing returns the request ids of rows already in spend_events. The
// ids go to the server as an external table (a data block, not SQL text:
// parsing an IN list of 50,000 literals costs 18.16 more than the lookup).
// The date and time range narrow the lookup to the batch's part of the
// sorting key (date, event_time, request_id): a duplicate is the same
// event, so it has the same date and event_time.
func (s *Sink) existing(ctx context.Context, rows []*row) (map[string]struct{}, error) {
	ids, err := ext.NewTable("_batch_ids", ext.Column("request_id", "String"))
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if err := ids.Append(r.ev.RequestID); err != nil {
			return nil, err
		}
	}
	cluster, err := schema.Cluster(ctx, s.o.CH, s.db)
	if err != nil {
		return nil, err
	}
	res, err := s.o.CH.Query(clickhouse.Context(ctx, clickhouse.WithExternalTable(ids)), existsQuery(s.db, cluster, rows))
	if err != nil {
		return nil, err
	}
	defer res.Close()
	have := map[string]struct{}{}
	for res.Next() {
		var id string
		if err := res.Scan(&id); err != nil {
			return nil, err
		}
		have[id] = struct{}{}
	}
	return have, res.Err()
}

// On a cluster the ids go to the shards with the query (GLOBAL IN): an
// external table exists only on the node asked.
func existsQuery(db, cluster string, rows []*row) string {
	var dates []time.Time
	lo, hi := uint32(math.MaxUint32), uint32(0)
	for _, r := range rows {
		if !slices.ContainsFunc(dates, r.date.Equal) {
			dates = append(dates, r.date)
		}
		lo, hi = min(lo, r.sec), max(hi, r.sec)
	}
	var b strings.Builder
	b.WriteString("SELECT request_id FROM ")
	b.WriteString(db)
	b.WriteString(".spend_events WHERE date IN (")
	for i, d := range dates {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("toDate('")
		b.WriteString(d.Format(time.DateOnly))
		b.WriteString("')")
	}
	b.WriteString(") AND event_time >= toDateTime(")
	b.WriteString(strconv.FormatUint(uint64(lo), 10))
	b.WriteString(") AND event_time <= toDateTime(")
	b.WriteString(strconv.FormatUint(uint64(hi), 10))
	b.WriteString(") AND request_id " + schema.In(cluster) + " _batch_ids")
	return b.String()
}

// column is one column of spend_events as the sink writes it.
type column struct {
	name  string
	build func(rows []*row) any // the column's values, a typed slice
}

func col[T any](name string, get func(r *row) T) column {
	return column{name: name, build: func(rows []*row) any {
		out := make([]T, len(rows))
		for i, r := range rows {
			out[i] = get(r)
		}
		return out
	}}
}

// columns are written in this order (inserted_at is the server's default).
var columns = []column{
	col("request_id", func(r *row) string { return r.ev.RequestID }),
	col("event_time", func(r *row) time.Time { return time.Unix(int64(r.sec), 0).UTC() }),
	col("event_ms", func(r *row) uint16 { return r.ms }),
	col("date", func(r *row) time.Time { return r.date }),
	col("key_hash", func(r *row) string { return r.ev.KeyHash }),
	col("key_alias", func(r *row) string { return r.ev.KeyAlias }),
	col("user_id", func(r *row) string { return r.ev.UserID }),
	col("team_id", func(r *row) string { return r.ev.TeamID }),
	col("org_id", func(r *row) string { return r.ev.OrgID }),
	col("end_user", func(r *row) string { return r.ev.EndUserID }),
	col("auth", func(r *row) string { return r.ev.Auth }),
	col("model_group", func(r *row) string { return r.ev.ModelGroup }),
	col("model", func(r *row) string { return r.ev.Model }),
	col("deployment_id", func(r *row) string { return r.ev.Deployment }),
	col("provider", func(r *row) string { return r.ev.Provider }),
	col("prompt_tokens", func(r *row) uint64 { return nonNeg(r.ev.PromptTokens) }),
	col("completion_tokens", func(r *row) uint64 { return nonNeg(r.ev.CompletionTokens) }),
	col("total_tokens", func(r *row) uint64 { return nonNeg(r.ev.TotalTokens) }),
	col("estimated", func(r *row) uint8 { return b2u(r.ev.Estimated) }),
	col("cost", func(r *row) float64 { return finite(r.ev.Cost) }),
	col("latency_ms", func(r *row) float64 { return finite(r.ev.LatencyMS) }),
	col("ttft_ms", func(r *row) float64 { return finite(r.ev.TTFTMS) }),
	col("status", func(r *row) uint16 { return uint16(min(max(r.ev.Status, 0), math.MaxUint16)) }),
	col("stream", func(r *row) uint8 { return b2u(r.ev.Stream) }),
	col("outcome", func(r *row) string { return r.ev.Outcome }),
	col("edge_id", func(r *row) string { return r.ev.EdgeID }),
	col("region", func(r *row) string { return r.ev.Region }),
	col("client_request_id", func(r *row) string { return r.ev.ClientRequestID }),
	col("policy_seq", func(r *row) uint64 { return r.ev.PolicySeq }),
	col("deny_reason", func(r *row) string { return r.ev.DenyReason }),
	col("deny_rule", func(r *row) string { return r.ev.DenyRule }),
	col("cached_tokens", func(r *row) uint64 { return nonNeg(r.ev.CachedTokens) }),
	col("cache_creation_tokens", func(r *row) uint64 { return nonNeg(r.ev.CacheCreationTokens) }),
	col("endpoint", func(r *row) string { return r.ev.Endpoint }),
	col("response_id", func(r *row) string { return r.ev.ResponseID }),
	col("request_tags", func(r *row) []string { return r.ev.RequestTags }),
}

// insertQuery names its columns: 18.16 takes an insert only that way.
var insertQuery = func() string {
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = c.name
	}
	return ".spend_events (" + strings.Join(names, ", ") + ") VALUES"
}()

// minPart is the fewest rows worth a parallel insert of their own: each
// insert writes a part per table, which costs the server a fixed amount.
const minPart = 10_000

// prepared is a set of insert blocks ready to send, or the error that
// prevented building them.
type prepared struct {
	blocks []driver.Batch
	err    error
}

// prepare builds the insert of rows: InsertWorkers concurrent blocks when
// there are enough rows, else one.
func (s *Sink) prepare(ctx context.Context, rows []*row) prepared {
	parts := max(1, min(s.o.InsertWorkers, len(rows)/minPart))
	size := (len(rows) + parts - 1) / parts
	p := prepared{blocks: make([]driver.Batch, parts)}
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for i := range parts {
		chunk := rows[i*size : min((i+1)*size, len(rows))]
		wg.Go(func() { p.blocks[i], errs[i] = s.block(ctx, chunk) })
	}
	wg.Wait()
	if p.err = errors.Join(errs...); p.err != nil {
		p.abort()
	}
	return p
}

// send sends the blocks concurrently. The insert is not atomic: a failed
// send may have stored some blocks, which the retry's existence check then
// skips.
func (p prepared) send() error {
	if p.err != nil {
		return p.err
	}
	errs := make([]error, len(p.blocks))
	var wg sync.WaitGroup
	for i, b := range p.blocks {
		wg.Go(func() {
			if err := b.Send(); err != nil {
				errs[i] = fmt.Errorf("insert: %w", err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (p prepared) abort() {
	for _, b := range p.blocks {
		if b != nil && !b.IsSent() {
			_ = b.Abort()
		}
	}
}

// block builds one insert block of rows, column by column.
func (s *Sink) block(ctx context.Context, rows []*row) (driver.Batch, error) {
	b, err := s.o.CH.PrepareBatch(schema.InsertContext(ctx), "INSERT INTO "+s.db+insertQuery)
	if err != nil {
		return nil, fmt.Errorf("prepare insert: %w", err)
	}
	for i, c := range columns {
		if err := b.Column(i).Append(c.build(rows)); err != nil {
			_ = b.Abort()
			return nil, fmt.Errorf("insert column %s: %w", c.name, err)
		}
	}
	return b, nil
}

// write inserts rows (without the existence check).
func (s *Sink) write(ctx context.Context, rows []*row) error {
	return s.prepare(ctx, rows).send()
}

func nonNeg(v int64) uint64 {
	if v < 0 {
		return 0
	}
	return uint64(v)
}

func b2u(v bool) uint8 {
	if v {
		return 1
	}
	return 0
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}
