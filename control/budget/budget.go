// Package budget tracks spend per key, team, user, organization, end user
// and team membership against their budgets.
//
// It is a processor (package control/processor): it consumes the spend
// stream through a durable consumer (replicas share it), adds each message's cost to per-object totals kept in a JetStream KV
// bucket (compare-and-set, so replicas can work concurrently), and when a
// total reaches max_budget publishes the object with budget_exceeded set:
// an ordinary policy event, so every edge refuses it once applied. When the
// budget_duration window ends the flag is cleared the same way.
//
// A spend message that does not decode goes to the poison queue (it never
// counts, and `gatewayctl poison replay` brings it back after a fix); a KV
// or store error is retried and the message redelivered until it counts.
//
// Totals are at-least-once: a tracker that dies after updating totals but
// before acking sees that message again, so a total can overcount by at
// most one message per crash (in-process retries skip the objects a
// message already added to). ClickHouse (the spend sink) is the exact ledger;
// the totals exist to enforce budgets quickly.
package budget

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/control/processor"
	"github.com/gatehouse/gatehouse/control/store"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
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
	if s, err := js.Stream(ctx, events.KVStream(events.TotalsBucket)); err == nil {
		have = s.CachedInfo().Config.Replicas
	}
	want := replicas
	if want <= 0 {
		want = max(have, 1)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: events.TotalsBucket, Description: "gatehouse spend totals per key/team/user and budget window",
		History: 1, Storage: jetstream.FileStorage, Replicas: want,
	})
	if err != nil {
		return nil, events.ReplicasError(events.KVStream(events.TotalsBucket), have, want, err)
	}
	return kv, nil
}

// Tracker is one replica's share of budget tracking: Handle is its
// processor (see Register), Sweep runs on a timer.
type Tracker struct {
	KV    jetstream.KeyValue
	Store *store.Store
	Log   *slog.Logger
	// SweepEvery is how often ended windows are reset; default 5s.
	SweepEvery time.Duration
	// FlushEvery is how long the spend messages being handled are
	// gathered into one write of the totals; default 20ms.
	FlushEvery time.Duration

	group groupCommit

	// LeaseFraction is the share of an object's remaining budget each edge
	// may spend while cut from NATS (Totals.Lease); default 0.1.
	LeaseFraction float64
}

// Source is where the tracker reads: the spend stream, through a durable
// consumer every control replica shares. Up to 256 messages are handled at
// a time, so that their totals are written together (see groupCommit);
// totals are updated with compare-and-set, so order does not matter.
var Source = processor.Source{Stream: events.SpendStream, Durable: events.BudgetDurable, Filter: events.SpendSubjects,
	AckWait: time.Minute, MaxAckPending: 100_000, Concurrency: 256}

// Register adds the tracker to a control process's processors.
func (t *Tracker) Register(p *processor.Router) {
	p.Handle("budget", Source, t.Handle)
}

type delta struct {
	kind events.Kind
	id   string
	// team is the team of a membership's budget (KindTeamMember, whose id
	// is the member's budget_id); "" for the other kinds.
	team     string
	cost     float64
	requests int64
	tokens   int64
	edges    map[string]float64 // cost per edge instance
}

// appliedPrefix marks, in a message's metadata, the totals it already
// added: an in-process retry after a later object failed does not add
// them twice (a redelivery after a crash still may; see the package doc).
const appliedPrefix = "budget-applied:"

// Handle adds one spend message (an event or a batch) to the totals and
// flags objects that crossed their budget. A message that does not decode
// is poisoned; a KV or store error is returned for retry.
func (t *Tracker) Handle(ctx context.Context, msg *message.Message) error {
	_, evs, err := events.DecodeSpend(msg.Payload)
	if err != nil {
		return processor.Permanent(fmt.Errorf("budget: malformed spend message: %w", err))
	}
	deltas := map[string]*delta{}
	snap := t.Store.Snapshot()
	add := func(kind events.Kind, id string, ev *events.SpendEvent) {
		if id == "" {
			return
		}
		k := KVKey(kind, id)
		d := deltas[k]
		if d == nil {
			d = &delta{kind: kind, id: id}
			if kind == events.KindTeamMember {
				d.team = ev.TeamID
			}
			deltas[k] = d
		}
		d.cost += ev.Cost
		d.requests++
		d.tokens += ev.TotalTokens
		d.addEdge(ev.EdgeInstance, ev.Cost)
	}
	for i := range evs {
		ev := &evs[i]
		if ev.Outcome == events.OutcomeDenied {
			continue // a refusal costs nothing and is no request against a budget
		}
		add(events.KindKey, ev.KeyHash, ev)
		add(events.KindTeam, ev.TeamID, ev)
		add(events.KindUser, ev.UserID, ev)
		add(events.KindOrg, ev.OrgID, ev)
		add(events.KindCustomer, ev.EndUserID, ev)
		add(events.KindTeamMember, memberBudgetID(snap, ev.TeamID, ev.UserID), ev)
	}
	pending := map[string]*delta{}
	for key, d := range deltas {
		if msg.Metadata.Get(appliedPrefix+key) == "" {
			pending[key] = d
		}
	}
	var f *flush
	if len(pending) > 0 {
		f = t.group.join(t, pending)
		// Not abandoned when ctx ends: the flush may still apply this
		// message's share, and a nak then would count it twice.
		<-f.done
	}
	var firstErr error
	for key, d := range deltas {
		var cur Totals
		if f != nil && pending[key] != nil {
			r := f.results[key]
			if r.err != nil {
				firstErr = cmp.Or(firstErr, fmt.Errorf("budget: update %s totals: %w", d.kind, r.err))
				continue
			}
			msg.Metadata.Set(appliedPrefix+key, "1")
			cur = r.totals
		} else if cur, err = ReadTotals(ctx, t.KV, d.kind, d.id); err != nil {
			firstErr = cmp.Or(firstErr, fmt.Errorf("budget: read %s totals: %w", d.kind, err))
			continue
		}
		if err := t.check(ctx, d, cur); err != nil {
			firstErr = cmp.Or(firstErr, fmt.Errorf("budget: flag %s: %w", d.kind, err))
		}
	}
	return firstErr
}

// groupCommit merges the deltas of the messages being handled at the same
// time and writes them together: one compare-and-set per object per flush
// instead of one per message. Edges send a spend message every few
// milliseconds, mostly about the same keys and teams, so this keeps the
// KV write rate near the number of objects, not the number of messages.
// Each message still returns only once its share is in the bucket, so it
// is acked after its effect, and retried (for the objects that failed)
// otherwise.
type groupCommit struct {
	mu  sync.Mutex
	cur *flush
}

// flush is one group write; results is valid once done is closed.
type flush struct {
	deltas  map[string]*delta
	results map[string]flushResult
	done    chan struct{}
}

type flushResult struct {
	totals Totals
	err    error
}

// join adds deltas to the next flush (starting its timer if it is the
// first) and returns it.
func (g *groupCommit) join(t *Tracker, deltas map[string]*delta) *flush {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cur == nil {
		f := &flush{deltas: map[string]*delta{}, done: make(chan struct{})}
		g.cur = f
		wait := t.FlushEvery
		if wait <= 0 {
			wait = 20 * time.Millisecond
		}
		time.AfterFunc(wait, func() {
			g.mu.Lock()
			g.cur = nil
			g.mu.Unlock()
			t.write(f)
		})
	}
	for key, d := range deltas {
		m := g.cur.deltas[key]
		if m == nil {
			m = &delta{kind: d.kind, id: d.id, team: d.team}
			g.cur.deltas[key] = m
		}
		m.cost += d.cost
		m.requests += d.requests
		m.tokens += d.tokens
		for inst, c := range d.edges {
			m.addEdge(inst, c)
		}
	}
	return g.cur
}

// write applies a flush, object by object.
func (t *Tracker) write(f *flush) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f.results = make(map[string]flushResult, len(f.deltas))
	for key, d := range f.deltas {
		cur, err := t.add(ctx, key, d)
		f.results[key] = flushResult{totals: cur, err: err}
	}
	close(f.done)
}

// RunSweeper resets ended windows every SweepEvery until ctx ends.
func (t *Tracker) RunSweeper(ctx context.Context) {
	every := t.SweepEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.Sweep(ctx)
		}
	}
}

// budgetOf returns an object's budget settings from the read model (team:
// a membership's team, for KindTeamMember).
func (t *Tracker) budgetOf(kind events.Kind, id, team string) (maxBudget *float64, duration string, exceeded bool, ok bool) {
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
	case events.KindTeamMember:
		return memberBudget(s, team, id)
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

// add adds a delta to an object's totals with compare-and-set, rolling
// the window over first if it ended, and returns the new totals.
func (t *Tracker) add(ctx context.Context, key string, d *delta) (Totals, error) {
	maxBudget, duration, _, _ := t.budgetOf(d.kind, d.id, d.team)
	now := t.Store.Now()
	var cur Totals
	for attempt := 0; ; attempt++ {
		entry, err := t.KV.Get(ctx, key)
		var rev uint64
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			cur = Totals{Kind: string(d.kind), ID: d.id, WindowStart: now}
		case err != nil:
			return cur, err
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
			return cur, nil
		}
		// A concurrent writer won: read again. After 10 conflicts in a row
		// the error goes to the processor, which retries with backoff.
		if attempt == 9 || (!errors.Is(err, jetstream.ErrKeyExists) && !isWrongSeq(err)) {
			return cur, err
		}
	}
}

// check flags the object if its totals crossed its budget.
func (t *Tracker) check(ctx context.Context, d *delta, cur Totals) error {
	maxBudget, duration, exceeded, known := t.budgetOf(d.kind, d.id, d.team)
	if known && !exceeded && maxBudget != nil && cur.Spend > 0 && cur.Spend >= *maxBudget {
		end := windowEnd(cur.WindowStart, duration)
		return t.flag(ctx, d.kind, d.id, d.team, true, end)
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
// write path (optimistic concurrency against admin edits). A membership's
// flag (KindTeamMember, id its budget_id) is on the member, so its team
// (team) is the object written.
func (t *Tracker) flag(ctx context.Context, kind events.Kind, id, team string, exceeded bool, resetAt time.Time) error {
	var reset *time.Time
	if !resetAt.IsZero() {
		reset = &resetAt
	}
	objKind, objID := kind, id
	if kind == events.KindTeamMember {
		objKind, objID = events.KindTeam, team
	}
	_, err := t.Store.Mutate(ctx, "budget-tracker", objKind, objID, func(cur any) (string, any, error) {
		switch o := cur.(type) {
		case *events.Key:
			return withFlag(o, events.KeyUpserted, exceeded, reset, func(c *events.Key) *events.BudgetFlag { return &c.BudgetFlag })
		case *events.Team:
			if kind == events.KindTeamMember {
				return withMemberFlag(o, id, exceeded, reset)
			}
			return withFlag(o, events.TeamUpserted, exceeded, reset, func(c *events.Team) *events.BudgetFlag { return &c.BudgetFlag })
		case *events.User:
			return withFlag(o, events.UserUpserted, exceeded, reset, func(c *events.User) *events.BudgetFlag { return &c.BudgetFlag })
		case *events.Org:
			return withFlag(o, events.OrgUpserted, exceeded, reset, func(c *events.Org) *events.BudgetFlag { return &c.BudgetFlag })
		case *events.Customer:
			return withFlag(o, events.CustomerUpserted, exceeded, reset, func(c *events.Customer) *events.BudgetFlag { return &c.BudgetFlag })
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

// withFlag is flag's change to one object: a copy of o with
// budget_exceeded and budget_reset_at set (flagOf points at them),
// published as typ; nothing when o is already flagged so.
func withFlag[T any](o *T, typ string, exceeded bool, reset *time.Time, flagOf func(*T) *events.BudgetFlag) (string, any, error) {
	if flagOf(o).BudgetExceeded == exceeded {
		return "", nil, nil
	}
	c := *o
	*flagOf(&c) = events.BudgetFlag{BudgetExceeded: exceeded, BudgetResetAt: reset}
	return typ, &c, nil
}

// Sweep clears budget_exceeded where the window ended or the budget was
// raised above the spend.
func (t *Tracker) Sweep(ctx context.Context) {
	s := t.Store.Snapshot()
	now := t.Store.Now()
	checkIn := func(kind events.Kind, id, team string, maxBudget *float64, resetAt *time.Time) {
		if resetAt != nil && !now.Before(*resetAt) {
			if err := t.flag(ctx, kind, id, team, false, time.Time{}); err != nil {
				t.Log.Warn("budget: reset", "err", err)
			}
			return
		}
		tot, err := t.Get(ctx, kind, id)
		if err == nil && (maxBudget == nil || tot.Spend < *maxBudget) {
			_ = t.flag(ctx, kind, id, team, false, time.Time{})
		}
	}
	check := func(kind events.Kind, id string, maxBudget *float64, resetAt *time.Time) {
		checkIn(kind, id, "", maxBudget, resetAt)
	}
	sweep(s.Keys(), events.KindKey, check, func(k *events.Key) (string, *float64, bool, *time.Time) {
		return k.Token, k.MaxBudget, k.BudgetExceeded, k.BudgetResetAt
	})
	sweep(s.Teams(), events.KindTeam, check, func(o *events.Team) (string, *float64, bool, *time.Time) {
		return o.TeamID, o.MaxBudget, o.BudgetExceeded, o.BudgetResetAt
	})
	sweep(s.Users(), events.KindUser, check, func(o *events.User) (string, *float64, bool, *time.Time) {
		return o.UserID, o.MaxBudget, o.BudgetExceeded, o.BudgetResetAt
	})
	sweep(s.Orgs(), events.KindOrg, check, func(o *events.Org) (string, *float64, bool, *time.Time) {
		return o.OrganizationID, o.MaxBudget, o.BudgetExceeded, o.BudgetResetAt
	})
	sweep(s.Customers(), events.KindCustomer, check, func(o *events.Customer) (string, *float64, bool, *time.Time) {
		b, _, _, _ := customerBudget(s, o.UserID)
		return o.UserID, b, o.BudgetExceeded, o.BudgetResetAt
	})
	for _, tm := range s.Teams() {
		sweep(memberPtrs(tm), events.KindTeamMember, func(kind events.Kind, id string, maxBudget *float64, resetAt *time.Time) {
			checkIn(kind, id, tm.TeamID, maxBudget, resetAt)
		}, func(m *events.Member) (string, *float64, bool, *time.Time) {
			return m.BudgetID, policy.LimitsOf(tm, m).MaxBudget, m.BudgetExceeded, m.BudgetResetAt
		})
	}
}

// sweep runs check on the objects of objs that are flagged; state reads
// an object's id, budget, flag and reset time.
func sweep[T any](objs []*T, kind events.Kind, check func(kind events.Kind, id string, maxBudget *float64, resetAt *time.Time),
	state func(*T) (id string, maxBudget *float64, exceeded bool, resetAt *time.Time)) {
	for _, o := range objs {
		if id, maxBudget, exceeded, resetAt := state(o); exceeded {
			check(kind, id, maxBudget, resetAt)
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
