// Package budget tracks spend per key, team and user against their budgets.
//
// It consumes the spend stream through a durable consumer (replicas share
// it), adds each batch's cost to per-object totals kept in a JetStream KV
// bucket (compare-and-set, so replicas can work concurrently), and when a
// total reaches max_budget publishes the object with budget_exceeded set:
// an ordinary policy event, so every edge refuses it once applied. When the
// budget_duration window ends the flag is cleared the same way.
//
// Totals are at-least-once: a tracker that dies after updating totals but
// before acking sees that batch again, so a total can overcount by at most
// one batch after a crash. ClickHouse (the spend sink) is the exact ledger;
// the totals exist to enforce budgets quickly.
package budget

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/control/store"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
)

// Bucket holds the totals; Durable names the tracker's consumer.
const (
	Bucket  = events.SpendTotalsBucket
	Durable = "budget-tracker"
)

// Totals is one object's spend in its current budget window; edges read
// it too, so its shape is the contract's (events.SpendTotals).
type Totals = events.SpendTotals

// KVKey is where an object's totals live (ids are hashed into a valid key).
func KVKey(kind events.Kind, id string) string { return events.SpendTotalsKey(kind, id) }

// EnsureBucket creates the totals bucket or updates it; replicas 0 keeps
// an existing bucket's replicas (1 for a new one), as for the streams.
func EnsureBucket(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	have := 0
	if s, err := js.Stream(ctx, "KV_"+Bucket); err == nil {
		have = s.CachedInfo().Config.Replicas
	}
	want := replicas
	if want <= 0 {
		want = max(have, 1)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: Bucket, Description: "gatehouse spend totals per key/team/user and budget window",
		History: 1, Storage: jetstream.FileStorage, Replicas: want,
	})
	if err != nil {
		return nil, events.ReplicasError("KV_"+Bucket, have, want, err)
	}
	return kv, nil
}

// Tracker is one replica's share of budget tracking.
type Tracker struct {
	JS    jetstream.JetStream
	KV    jetstream.KeyValue
	Store *store.Store
	Log   *slog.Logger
	// BatchSize and MaxWait bound one batch; defaults 1000 and 100ms.
	BatchSize int
	MaxWait   time.Duration
	// SweepEvery is how often ended windows are reset; default 5s.
	SweepEvery time.Duration
	// LeaseFraction is the share of an object's remaining budget each edge
	// may spend while cut from NATS (Totals.Lease); default 0.1.
	LeaseFraction float64
}

type delta struct {
	kind     events.Kind
	id       string
	cost     float64
	requests int64
	tokens   int64
	edges    map[string]float64 // cost per edge instance
}

// Run tracks until ctx ends.
func (t *Tracker) Run(ctx context.Context) error {
	if t.BatchSize <= 0 {
		t.BatchSize = 1000
	}
	if t.MaxWait <= 0 {
		t.MaxWait = 100 * time.Millisecond
	}
	if t.SweepEvery <= 0 {
		t.SweepEvery = 5 * time.Second
	}
	cons, err := t.JS.CreateOrUpdateConsumer(ctx, events.SpendStream, jetstream.ConsumerConfig{
		Durable: Durable, AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: events.SpendSubjects,
		AckWait: time.Minute, MaxAckPending: 100_000, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("budget: consumer: %w", err)
	}
	lastSweep := time.Now()
	for ctx.Err() == nil {
		batch, err := cons.Fetch(t.BatchSize, jetstream.FetchMaxWait(t.MaxWait))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			t.Log.Warn("budget: fetch", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		var msgs []jetstream.Msg
		deltas := map[string]*delta{}
		add := func(kind events.Kind, id string, ev *events.SpendEvent) {
			if id == "" {
				return
			}
			k := KVKey(kind, id)
			d := deltas[k]
			if d == nil {
				d = &delta{kind: kind, id: id}
				deltas[k] = d
			}
			d.cost += ev.Cost
			d.requests++
			d.tokens += ev.TotalTokens
			d.addEdge(ev.EdgeInstance, ev.Cost)
		}
		for m := range batch.Messages() {
			_, evs, err := events.DecodeSpend(m.Data())
			if err != nil {
				t.Log.Warn("budget: malformed spend event; terminating it", "err", err)
				_ = m.Term()
				continue
			}
			msgs = append(msgs, m)
			for i := range evs {
				ev := &evs[i]
				add(events.KindKey, ev.KeyHash, ev)
				add(events.KindTeam, ev.TeamID, ev)
				add(events.KindUser, ev.UserID, ev)
				add(events.KindOrg, ev.OrgID, ev)
				add(events.KindCustomer, ev.EndUserID, ev)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && ctx.Err() == nil {
			t.Log.Debug("budget: batch", "err", err)
		}
		failed := false
		for key, d := range deltas {
			if err := t.apply(ctx, key, d); err != nil {
				t.Log.Warn("budget: update totals", "kind", d.kind, "err", err)
				failed = true
			}
		}
		for _, m := range msgs {
			if failed {
				_ = m.Nak() // redelivered later; totals may overcount (see package doc)
			} else {
				_ = m.Ack()
			}
		}
		if time.Since(lastSweep) >= t.SweepEvery {
			t.Sweep(ctx)
			lastSweep = time.Now()
		}
	}
	return ctx.Err()
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// budgetOf returns an object's budget settings from the read model.
func (t *Tracker) budgetOf(kind events.Kind, id string) (maxBudget *float64, duration string, exceeded bool, ok bool) {
	s := t.Store.Snapshot()
	switch kind {
	case events.KindKey:
		if k := s.KeyByToken(id); k != nil {
			return k.MaxBudget, k.BudgetDuration, k.BudgetExceeded, true
		}
	case events.KindTeam:
		if o := s.Team(id); o != nil {
			return o.MaxBudget, o.BudgetDuration, o.BudgetExceeded, true
		}
	case events.KindUser:
		if o := s.User(id); o != nil {
			return o.MaxBudget, o.BudgetDuration, o.BudgetExceeded, true
		}
	case events.KindOrg:
		if o := s.Org(id); o != nil {
			return o.MaxBudget, o.BudgetDuration, o.BudgetExceeded, true
		}
	case events.KindCustomer:
		return customerBudget(s, id)
	}
	return nil, "", false, false
}

// windowEnd is when a window that started at start ends (zero: never).
func windowEnd(start time.Time, duration string) time.Time {
	d, err := policy.ParseDuration(duration)
	if err != nil || d <= 0 {
		return time.Time{}
	}
	return start.Add(d)
}

// apply adds a delta to an object's totals with compare-and-set, rolling
// the window over first if it ended, then flags the object if it crossed
// its budget.
func (t *Tracker) apply(ctx context.Context, key string, d *delta) error {
	maxBudget, duration, exceeded, known := t.budgetOf(d.kind, d.id)
	now := t.Store.Now()
	var cur Totals
	for attempt := 0; attempt < 10; attempt++ {
		entry, err := t.KV.Get(ctx, key)
		var rev uint64
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			cur = Totals{Kind: string(d.kind), ID: d.id, WindowStart: now}
		case err != nil:
			return err
		default:
			rev = entry.Revision()
			if err := json.Unmarshal(entry.Value(), &cur); err != nil {
				cur = Totals{Kind: string(d.kind), ID: d.id, WindowStart: now}
			}
		}
		if end := windowEnd(cur.WindowStart, duration); !end.IsZero() && !now.Before(end) {
			// Edges stays: it is cumulative across windows (see annotate).
			cur = Totals{Kind: string(d.kind), ID: d.id, WindowStart: rollForward(cur.WindowStart, duration, now), Edges: cur.Edges, EdgesAt: cur.EdgesAt}
		}
		cur.Spend += d.cost
		cur.Requests += d.requests
		cur.Tokens += d.tokens
		t.annotate(&cur, d, maxBudget, duration, now)
		data, _ := json.Marshal(cur)
		if rev == 0 {
			_, err = t.KV.Create(ctx, key, data)
		} else {
			_, err = t.KV.Update(ctx, key, data, rev)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !isWrongSeq(err) {
			return err
		}
	}
	if known && !exceeded && maxBudget != nil && cur.Spend > 0 && cur.Spend >= *maxBudget {
		end := windowEnd(cur.WindowStart, duration)
		return t.flag(ctx, d.kind, d.id, true, end)
	}
	return nil
}

func isWrongSeq(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// rollForward returns the start of the window containing now, stepping by
// the duration from start (windows stay aligned to the first one).
func rollForward(start time.Time, duration string, now time.Time) time.Time {
	d, err := policy.ParseDuration(duration)
	if err != nil || d <= 0 {
		return now
	}
	n := now.Sub(start) / d
	return start.Add(n * d)
}

// flag sets or clears budget_exceeded on an object through the normal
// write path (optimistic concurrency against admin edits).
func (t *Tracker) flag(ctx context.Context, kind events.Kind, id string, exceeded bool, resetAt time.Time) error {
	var reset *time.Time
	if !resetAt.IsZero() {
		reset = &resetAt
	}
	_, err := t.Store.Mutate(ctx, "budget-tracker", kind, id, func(cur any) (string, any, error) {
		switch o := cur.(type) {
		case *events.Key:
			if o.BudgetExceeded == exceeded {
				return "", nil, nil
			}
			c := *o
			c.BudgetExceeded, c.BudgetResetAt = exceeded, reset
			return events.KeyUpserted, &c, nil
		case *events.Team:
			if o.BudgetExceeded == exceeded {
				return "", nil, nil
			}
			c := *o
			c.BudgetExceeded, c.BudgetResetAt = exceeded, reset
			return events.TeamUpserted, &c, nil
		case *events.User:
			if o.BudgetExceeded == exceeded {
				return "", nil, nil
			}
			c := *o
			c.BudgetExceeded, c.BudgetResetAt = exceeded, reset
			return events.UserUpserted, &c, nil
		case *events.Org:
			if o.BudgetExceeded == exceeded {
				return "", nil, nil
			}
			c := *o
			c.BudgetExceeded, c.BudgetResetAt = exceeded, reset
			return events.OrgUpserted, &c, nil
		case *events.Customer:
			if o.BudgetExceeded == exceeded {
				return "", nil, nil
			}
			c := *o
			c.BudgetExceeded, c.BudgetResetAt = exceeded, reset
			return events.CustomerUpserted, &c, nil
		case nil:
			return newExceededCustomer(kind, id, exceeded, reset, t.Store.Now())
		}
		return "", nil, nil
	})
	if err == nil {
		t.Log.Info("budget state changed", "kind", kind, "exceeded", exceeded)
	}
	return err
}

// Sweep clears budget_exceeded where the window ended or the budget was
// raised above the spend.
func (t *Tracker) Sweep(ctx context.Context) {
	s := t.Store.Snapshot()
	now := t.Store.Now()
	check := func(kind events.Kind, id string, maxBudget *float64, resetAt *time.Time) {
		if resetAt != nil && !now.Before(*resetAt) {
			if err := t.flag(ctx, kind, id, false, time.Time{}); err != nil {
				t.Log.Warn("budget: reset", "err", err)
			}
			return
		}
		tot, err := t.Get(ctx, kind, id)
		if err == nil && (maxBudget == nil || tot.Spend < *maxBudget) {
			_ = t.flag(ctx, kind, id, false, time.Time{})
		}
	}
	for _, k := range s.Keys() {
		if k.BudgetExceeded {
			check(events.KindKey, k.Token, k.MaxBudget, k.BudgetResetAt)
		}
	}
	for _, o := range s.Teams() {
		if o.BudgetExceeded {
			check(events.KindTeam, o.TeamID, o.MaxBudget, o.BudgetResetAt)
		}
	}
	for _, o := range s.Users() {
		if o.BudgetExceeded {
			check(events.KindUser, o.UserID, o.MaxBudget, o.BudgetResetAt)
		}
	}
	for _, o := range s.Orgs() {
		if o.BudgetExceeded {
			check(events.KindOrg, o.OrganizationID, o.MaxBudget, o.BudgetResetAt)
		}
	}
	for _, o := range s.Customers() {
		if o.BudgetExceeded {
			b, _, _, _ := customerBudget(s, o.UserID)
			check(events.KindCustomer, o.UserID, b, o.BudgetResetAt)
		}
	}
}

// Get returns an object's totals for its current window (zero if none).
func (t *Tracker) Get(ctx context.Context, kind events.Kind, id string) (Totals, error) {
	return ReadTotals(ctx, t.KV, kind, id)
}

// ReadTotals reads an object's totals from the bucket.
func ReadTotals(ctx context.Context, kv jetstream.KeyValue, kind events.Kind, id string) (Totals, error) {
	e, err := kv.Get(ctx, KVKey(kind, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Totals{Kind: string(kind), ID: id}, nil
	}
	if err != nil {
		return Totals{}, err
	}
	var tot Totals
	err = json.Unmarshal(e.Value(), &tot)
	return tot, err
}
