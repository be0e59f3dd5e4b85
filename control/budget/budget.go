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
	// is the member's budget_id), or the org of an org membership's
	// (KindOrgMember); "" for the other kinds.
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
			switch kind {
			case events.KindTeamMember:
				d.team = ev.TeamID
			case events.KindOrgMember:
				d.team = ev.OrgID
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
		add(events.KindOrgMember, orgMemberBudgetID(snap, ev.OrgID, ev.UserID), ev)
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

// objBudget is an object's budget as the read model has it.
type objBudget struct {
	max      *float64
	duration string
	events.BudgetFlag
	// known: the object exists (or is an end user with the default budget).
	known bool
}

// budgetOf returns an object's budget settings from the read model (team:
// a membership's team, for KindTeamMember).
func (t *Tracker) budgetOf(kind events.Kind, id, team string) objBudget {
	s := t.Store.Snapshot()
	switch kind {
	case events.KindKey:
		if k := s.KeyByToken(id); k != nil {
			return objBudget{k.MaxBudget, k.BudgetDuration, k.BudgetFlag, true}
		}
	case events.KindTeam:
		if o := s.Team(id); o != nil {
			return objBudget{o.MaxBudget, o.BudgetDuration, o.BudgetFlag, true}
		}
	case events.KindUser:
		if o := s.User(id); o != nil {
			return objBudget{o.MaxBudget, o.BudgetDuration, o.BudgetFlag, true}
		}
	case events.KindOrg:
		if o := s.Org(id); o != nil {
			return objBudget{o.MaxBudget, o.BudgetDuration, o.BudgetFlag, true}
		}
	case events.KindCustomer:
		return customerBudget(s, id)
	case events.KindTeamMember:
		return memberBudget(s, team, id)
	case events.KindOrgMember:
		return orgMemberBudget(s, team, id)
	}
	return objBudget{}
}

// windowEnd is when a window that started at start ends (zero: never).
func windowEnd(start time.Time, duration string) time.Time {
	d, err := policy.ParseDuration(duration)
	if err != nil || d <= 0 {
		return time.Time{}
	}
	return start.Add(d)
}

// maxResetSteps bounds the walk from an old budget_reset_at to now (a
// tracker down for long with a short duration); past it the window is the
// one ending at the next standardized reset after now.
const maxResetSteps = 10_000

// window is the budget window running at now, [start, end) (zero end: it
// never ends), for totals whose window began at from.
//
// An object with a budget_reset_at (set when its budget_duration was, as
// LiteLLM does) has LiteLLM's windows: the one ending at budget_reset_at,
// then from each reset to the next standardized one
// (policy.NextBudgetReset); start is zero while budget_reset_at is ahead
// (the window began at the object's creation or its last reset). Without
// one (objects from before it was set), the window starts at the first
// spend and lasts budget_duration.
func (b objBudget) window(from time.Time, now time.Time) (start, end time.Time) {
	if r := b.BudgetResetAt; r != nil && b.duration != "" {
		end = *r
		for i := 0; !now.Before(end); i++ {
			next, err := policy.NextBudgetReset(b.duration, end)
			if err != nil {
				return time.Time{}, time.Time{}
			}
			if i == maxResetSteps {
				next, _ = policy.NextBudgetReset(b.duration, now)
			}
			start, end = end, next
		}
		return start, end
	}
	end = windowEnd(from, b.duration)
	if !end.IsZero() && !now.Before(end) {
		start = rollForward(from, b.duration, now)
		return start, windowEnd(start, b.duration)
	}
	return time.Time{}, end
}

// add adds a delta to an object's totals with compare-and-set, rolling
// the window over first if it ended, and returns the new totals.
func (t *Tracker) add(ctx context.Context, key string, d *delta) (Totals, error) {
	b := t.budgetOf(d.kind, d.id, d.team)
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
		start, end := b.window(cur.WindowStart, now)
		// With a budget_reset_at the totals' own window end counts too:
		// once the sweep has moved budget_reset_at on, the window running
		// is the next one, and these totals are the past one's.
		ended := b.BudgetResetAt != nil && cur.WindowEnd != nil && !now.Before(*cur.WindowEnd)
		if cur.WindowStart.Before(start) || ended {
			if start.IsZero() {
				start = *cur.WindowEnd
			}
			// Edges stays: it is cumulative across windows (see annotate).
			cur = Totals{Kind: string(d.kind), ID: d.id, WindowStart: start, Edges: cur.Edges, EdgesAt: cur.EdgesAt}
		}
		cur.Spend += d.cost
		cur.Requests += d.requests
		cur.Tokens += d.tokens
		t.annotate(&cur, d, b.max, end, now)
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
	b := t.budgetOf(d.kind, d.id, d.team)
	if b.known && !b.BudgetExceeded && b.max != nil && cur.Spend > 0 && cur.Spend >= *b.max {
		// cur's window end: the object's budget_reset_at, or the next one
		// when that has passed and the sweep has not moved it yet.
		return t.flag(ctx, d.kind, d.id, d.team, flagChange{to: events.BudgetFlag{BudgetExceeded: true, BudgetResetAt: cur.WindowEnd}, resetWas: b.BudgetResetAt})
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

// flagChange is a change of an object's budget flag: to is the new flag;
// it is made only if the object's budget_reset_at is still resetWas (the
// one it was decided on), so an admin's new budget_duration meanwhile is
// not overwritten.
type flagChange struct {
	to       events.BudgetFlag
	resetWas *time.Time
}

// apply is the change on an object's flag f (false: nothing to do).
func (ch flagChange) apply(f *events.BudgetFlag) bool {
	if !sameTime(f.BudgetResetAt, ch.resetWas) || (f.BudgetExceeded == ch.to.BudgetExceeded && sameTime(f.BudgetResetAt, ch.to.BudgetResetAt)) {
		return false
	}
	*f = ch.to
	return true
}

func sameTime(a, b *time.Time) bool {
	return a == b || (a != nil && b != nil && a.Equal(*b))
}

// flag sets budget_exceeded and budget_reset_at on an object through the
// normal write path (optimistic concurrency against admin edits). A
// membership's flag (KindTeamMember, id its budget_id) is on the member,
// so its team (team) is the object written.
func (t *Tracker) flag(ctx context.Context, kind events.Kind, id, team string, ch flagChange) error {
	objKind, objID := kind, id
	switch kind {
	case events.KindTeamMember:
		objKind, objID = events.KindTeam, team
	case events.KindOrgMember:
		objKind, objID = events.KindOrg, team
	}
	_, err := t.Store.Mutate(ctx, "budget-tracker", objKind, objID, func(cur any) (string, any, error) {
		switch o := cur.(type) {
		case *events.Key:
			return withFlag(o, events.KeyUpserted, ch, func(c *events.Key) *events.BudgetFlag { return &c.BudgetFlag })
		case *events.Team:
			if kind == events.KindTeamMember {
				return withMemberFlag(o, id, ch)
			}
			return withFlag(o, events.TeamUpserted, ch, func(c *events.Team) *events.BudgetFlag { return &c.BudgetFlag })
		case *events.User:
			return withFlag(o, events.UserUpserted, ch, func(c *events.User) *events.BudgetFlag { return &c.BudgetFlag })
		case *events.Org:
			if kind == events.KindOrgMember {
				return withOrgMemberFlag(t.Store.Snapshot(), o, id, ch)
			}
			return withFlag(o, events.OrgUpserted, ch, func(c *events.Org) *events.BudgetFlag { return &c.BudgetFlag })
		case *events.Customer:
			return withFlag(o, events.CustomerUpserted, ch, func(c *events.Customer) *events.BudgetFlag { return &c.BudgetFlag })
		case nil:
			return newExceededCustomer(kind, id, ch.to, t.Store.Now())
		}
		return "", nil, nil
	})
	if err == nil {
		t.Log.Info("budget state changed", "kind", kind, "exceeded", ch.to.BudgetExceeded)
	}
	return err
}

// withFlag is flag's change to one object: a copy of o with the change
// made to its flag (flagOf points at it), published as typ; nothing when
// the change does not apply.
func withFlag[T any](o *T, typ string, ch flagChange, flagOf func(*T) *events.BudgetFlag) (string, any, error) {
	c := *o
	if !ch.apply(flagOf(&c)) {
		return "", nil, nil
	}
	return typ, &c, nil
}

// Sweep does what LiteLLM's reset job does where a budget_reset_at has
// passed: the flag is cleared and budget_reset_at moves to the end of the
// window now running (the totals roll at their next spend; edges already
// count an ended window as zero). It also clears budget_exceeded where the
// budget was raised above the spend, and, on objects from before
// budget_reset_at was set at creation, where the window ended (their
// budget_reset_at, set when flagged, is cleared with it).
func (t *Tracker) Sweep(ctx context.Context) {
	s := t.Store.Snapshot()
	now := t.Store.Now()
	check := func(kind events.Kind, id, team string, b objBudget) {
		var ch flagChange
		switch r := b.BudgetResetAt; {
		case r != nil && !now.Before(*r):
			ch = flagChange{resetWas: r}
			start, end := b.window(time.Time{}, now)
			if !end.IsZero() {
				ch.to.BudgetResetAt = &end
			}
			// Spend of the new window may have crossed the budget already
			// (counted while the old window's flag was still set): it stays.
			tot, err := t.Get(ctx, kind, id)
			if err != nil {
				return
			}
			ch.to.BudgetExceeded = !end.IsZero() && b.max != nil && tot.Spend > 0 && tot.Spend >= *b.max && !tot.WindowStart.Before(start)
		case !b.BudgetExceeded:
			return
		default:
			tot, err := t.Get(ctx, kind, id)
			if err != nil || (b.max != nil && tot.Spend >= *b.max) {
				return
			}
			ch = flagChange{to: events.BudgetFlag{BudgetResetAt: r}, resetWas: r}
		}
		if err := t.flag(ctx, kind, id, team, ch); err != nil {
			t.Log.Warn("budget: reset", "err", err)
		}
	}
	for _, k := range s.Keys() {
		check(events.KindKey, k.Token, "", objBudget{k.MaxBudget, k.BudgetDuration, k.BudgetFlag, true})
	}
	for _, o := range s.Teams() {
		check(events.KindTeam, o.TeamID, "", objBudget{o.MaxBudget, o.BudgetDuration, o.BudgetFlag, true})
		for _, m := range o.MembersWithRoles {
			l := policy.LimitsOf(o, &m)
			check(events.KindTeamMember, m.BudgetID, o.TeamID, objBudget{l.MaxBudget, l.Duration, m.BudgetFlag, true})
		}
	}
	for _, o := range s.Users() {
		check(events.KindUser, o.UserID, "", objBudget{o.MaxBudget, o.BudgetDuration, o.BudgetFlag, true})
	}
	for _, o := range s.Orgs() {
		check(events.KindOrg, o.OrganizationID, "", objBudget{o.MaxBudget, o.BudgetDuration, o.BudgetFlag, true})
		for _, m := range o.Members {
			if id := countedAs(s, o.OrganizationID, &m); id != "" {
				check(events.KindOrgMember, id, o.OrganizationID, objBudget{m.MaxBudgetInOrg, "", m.BudgetFlag, true})
			}
		}
	}
	for _, o := range s.Customers() {
		check(events.KindCustomer, o.UserID, "", customerBudget(s, o.UserID))
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
