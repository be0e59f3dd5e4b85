// Package budget is an edge's local view of every budget (max_budget of
// keys, users, teams, organizations, end users and team members'
// max_budget_in_team), so that an edge refuses
// a request as soon as the spend it knows of reaches the budget, without
// waiting for the control plane's budget_exceeded event.
//
// The view of one object is
//
//	tracker total + what this edge served that the total does not cover
//	              + what other edges gossiped that the total does not cover
//	              + reservations of this edge's requests in flight
//
// The tracker (control/budget) stays the authority: its totals, watched in
// the events.SpendTotalsBucket KV bucket, replace the total and carry the
// cost counted per edge instance (SpendTotals.Edges); every edge instance
// keeps its own cumulative served cost per object and adds only the part
// beyond what the tracker counted from it, so a request is never counted
// twice (and a tracker overcount after a crash only makes the view
// conservative). Other edges' uncounted spend arrives by gossip (core NATS,
// every GossipInterval) with the same rule.
//
// Guarantees (docs/spend.md has the measurements):
//   - One edge: a request is admitted only while the view is below the
//     budget, and reserves an estimate (the last request's cost for that
//     object, or the caller's hint, at least Floor) until its cost is known; spend above a budget
//     is at most the cost of the requests in flight when it was crossed,
//     plus what other edges served within one propagation interval.
//   - Partition: while the edge is cut from NATS it may spend, per object,
//     at most the lease of the last totals it received (a slice of the
//     remaining budget the tracker grants with every write) beyond what
//     the tracker counted, then refuses that object until it reconnects.
//     Across edges the overshoot is at most the sum of outstanding leases.
//   - Streams count as they go (Charge: their reservation grows with the
//     text generated so far, priced as completion tokens) and are charged
//     exactly when they end; a stream admitted under the budget finishes
//     even if it crosses it.
package budget

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// Options configure a View.
type Options struct {
	// EdgeID prefixes the instance name (unique per process start).
	EdgeID string
	// Floor is the least a request reserves (USD); default 0: an object's
	// first request reserves nothing, later ones the previous cost.
	Floor float64
	// LeaseFraction is the lease assumed for an object the tracker has no
	// totals for yet (share of max_budget); default 0.1, as the tracker's.
	LeaseFraction float64
	// GossipInterval is the least time between two gossip messages, which
	// carry this edge's uncounted spend to the others; default 10ms. The
	// first change after a quiet spell goes at once.
	GossipInterval time.Duration
	// Connected reports whether the edge reaches NATS (nil: always).
	Connected func() bool
	Now       func() time.Time
	Log       *slog.Logger
}

type objKey struct {
	kind events.Kind
	id   string
}

// obj is the view of one budgeted object; guarded by View.mu.
type obj struct {
	key       objKey
	total     float64
	windowEnd time.Time
	lease     float64
	hasLease  bool
	counted   map[string]float64 // tracker's cost per edge instance
	mine      float64            // this instance's cumulative served cost
	peers     map[string]float64 // other instances' cumulative cost (gossip)
	reserved  float64
	est       float64 // the last request's cost: the next reservation
	dirty     bool    // mine changed since the last gossip
}

// View is one edge's view of all budgets; safe for concurrent use. A nil
// View admits everything.
type View struct {
	o        Options
	instance string
	mu       sync.Mutex
	objs     map[objKey]*obj
	dirty    []*obj // objects whose mine changed since the last gossip
	// changed wakes Run when dirty stops being empty. Run waits on it
	// rather than on a ticker so that an idle edge does not wake every
	// GossipInterval (a ticker at 10ms cost an idle edge ~500 thread
	// wake-ups a second).
	changed chan struct{}
}

// New returns an empty view; Run fills it.
func New(o Options) *View {
	if o.LeaseFraction <= 0 {
		o.LeaseFraction = 0.1
	}
	if o.GossipInterval <= 0 {
		o.GossipInterval = 10 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	inst := o.EdgeID + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	return &View{o: o, instance: inst, objs: map[objKey]*obj{}, changed: make(chan struct{}, 1)}
}

// Instance names this edge process in spend events (EdgeInstance).
func (v *View) Instance() string {
	if v == nil {
		return ""
	}
	return v.instance
}

// Scope is one budget a request touches.
type Scope struct {
	Kind events.Kind
	ID   string
	Max  float64
	// Duration is the object's budget_duration, named in a refusal.
	Duration string
	// Team and User name a team membership (KindTeamMember, whose ID is
	// the membership's budget_id) in a refusal, Org and User an org
	// membership (KindOrgMember).
	Team, Org, User string
}

// Scopes are the budgets of one request (at most one per kind).
type Scopes struct {
	n int
	s [7]Scope
}

// Add adds a budget; objects without max_budget are skipped.
func (s *Scopes) Add(kind events.Kind, id string, maxBudget *float64, duration string) {
	if id == "" || maxBudget == nil || s.n == len(s.s) {
		return
	}
	s.s[s.n] = Scope{Kind: kind, ID: id, Max: *maxBudget, Duration: duration}
	s.n++
}

// Len is the number of budgets.
func (s *Scopes) Len() int { return s.n }

// ScopesOf collects the budgets a request touches from the snapshot it was
// authorized with: its key (nil for JWT and master key), user, team, the
// user's membership of the team (max_budget_in_team, else the team's
// team_member_budget), organization, the user's membership of it
// (max_budget_in_organization) and end user (own max_budget, else max_end_user_budget).
func ScopesOf(snap *policy.Snapshot, key *events.Key, userID, teamID, orgID, endUser string) Scopes {
	var s Scopes
	if key != nil {
		s.Add(events.KindKey, key.Token, key.MaxBudget, key.BudgetDuration)
	}
	if userID != "" {
		if u := snap.User(userID); u != nil {
			s.Add(events.KindUser, userID, u.MaxBudget, u.BudgetDuration)
		}
	}
	if teamID != "" {
		if t := snap.Team(teamID); t != nil {
			s.Add(events.KindTeam, teamID, t.MaxBudget, t.BudgetDuration)
			if l := snap.MemberLimits(t, userID); l.Member != nil && l.Member.BudgetID != "" && l.MaxBudget != nil && s.n < len(s.s) {
				s.Add(events.KindTeamMember, l.Member.BudgetID, l.MaxBudget, l.Duration)
				s.s[s.n-1].Team, s.s[s.n-1].User = teamID, userID
			}
		}
	}
	if orgID != "" {
		if o := snap.Org(orgID); o != nil {
			s.Add(events.KindOrg, orgID, o.MaxBudget, o.BudgetDuration)
			if m := snap.OrgMemberBudget(orgID, userID); m != nil && s.n < len(s.s) {
				s.Add(events.KindOrgMember, events.OrgMemberBudgetID(orgID, userID, m), m.MaxBudgetInOrg, "")
				s.s[s.n-1].Org, s.s[s.n-1].User = orgID, userID
			}
		}
	}
	if endUser != "" {
		b := snap.MaxEndUserBudget()
		if c := snap.Customer(endUser); c != nil && c.MaxBudget != nil {
			b = c.MaxBudget
		}
		s.Add(events.KindCustomer, endUser, b, "")
	}
	return s
}

// Reservation is what an admitted request holds until Commit.
type Reservation struct {
	n    int
	objs [7]*obj
	amt  [7]float64
}

// used is the object's view; v.mu held.
func (v *View) used(o *obj, now time.Time) float64 {
	u := o.reserved + v.uncountedMine(o)
	if o.windowEnd.IsZero() || now.Before(o.windowEnd) {
		u += o.total
	}
	for inst, c := range o.peers {
		u += max(0, c-o.counted[inst])
	}
	return u
}

func (v *View) uncountedMine(o *obj) float64 { return max(0, o.mine-o.counted[v.instance]) }

func (v *View) get(k objKey) *obj {
	o := v.objs[k]
	if o == nil {
		o = &obj{key: k}
		v.objs[k] = o
	}
	return o
}

// Reserve admits a request under every budget it touches and reserves its
// estimated cost (the largest of Floor, the object's last request's cost
// and hint, the caller's lower bound for this request), or refuses it (400 budget_exceeded) when the view of one
// of them has reached its budget, or, while the edge is cut from NATS, when
// this edge's uncounted spend has used up the object's lease.
func (v *View) Reserve(s *Scopes, hint float64) (Reservation, error) {
	var r Reservation
	if v == nil || s.n == 0 {
		return r, nil
	}
	now := v.o.Now()
	partitioned := v.o.Connected != nil && !v.o.Connected()
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := 0; i < s.n; i++ {
		sc := &s.s[i]
		o := v.get(objKey{sc.Kind, sc.ID})
		// A budget of 0 admits until something is spent: LiteLLM's model
		// access walkthrough (the seed docs) calls with a max_budget 0 key.
		if u := v.used(o, now); u > 0 && u >= sc.Max {
			return Reservation{}, exceeded(sc, u, o.windowEnd)
		}
		if partitioned {
			lease := sc.Max * v.o.LeaseFraction
			if o.hasLease {
				lease = o.lease
			}
			if v.uncountedMine(o)+o.reserved >= lease {
				return Reservation{}, apierror.BudgetExceeded.With("Budget has been exceeded! %s=%s: this gateway is cut from the control plane and has spent its budget lease of %.6f USD (of max_budget %g USD); retry shortly",
					sc.Kind, sc.ID, lease, sc.Max).By((&policy.BudgetRefusal{Kind: sc.Kind, ID: sc.ID}).Rule() + ":lease")
			}
		}
		r.objs[i] = o
	}
	r.n = s.n
	for i := 0; i < r.n; i++ {
		o := r.objs[i]
		r.amt[i] = max(v.o.Floor, o.est, hint)
		o.reserved += r.amt[i]
	}
	return r, nil
}

// exceeded is the refusal of scope sc whose spend, as this edge counts
// it, has reached its budget (the policy's wording: LiteLLM's texts and
// the window).
func exceeded(sc *Scope, used float64, windowEnd time.Time) error {
	var reset *time.Time
	if !windowEnd.IsZero() {
		reset = &windowEnd
	}
	return (&policy.BudgetRefusal{Kind: sc.Kind, ID: sc.ID, Team: sc.Team, Org: sc.Org, User: sc.User, Max: sc.Max, Duration: sc.Duration, ResetAt: reset}).Refusal(used)
}

// Commit releases a reservation and counts the request's actual cost; call
// it once per admitted request, whatever its outcome (cost may be 0).
func (v *View) Commit(r *Reservation, cost float64) {
	if v == nil || r.n == 0 {
		return
	}
	v.mu.Lock()
	for i := 0; i < r.n; i++ {
		o := r.objs[i]
		o.reserved -= r.amt[i]
		if cost > 0 {
			o.mine += cost
			o.est = cost
			if !o.dirty {
				o.dirty = true
				v.dirty = append(v.dirty, o)
				if len(v.dirty) == 1 {
					select {
					case v.changed <- struct{}{}:
					default: // Run is already due to gossip
					}
				}
			}
		}
	}
	v.mu.Unlock()
	r.n = 0
}

// Charge raises a reservation to what its request has cost so far (a
// stream, as it goes), so the view counts a long stream before it ends;
// Commit then replaces it with the actual cost. It never lowers it.
func (v *View) Charge(r *Reservation, soFar float64) {
	if v == nil || r.n == 0 {
		return
	}
	v.mu.Lock()
	for i := 0; i < r.n; i++ {
		if soFar > r.amt[i] {
			r.objs[i].reserved += soFar - r.amt[i]
			r.amt[i] = soFar
		}
	}
	v.mu.Unlock()
}

// Held reports whether the reservation holds any budget.
func (r *Reservation) Held() bool { return r.n > 0 }

// Apply replaces an object's total with the tracker's.
func (v *View) Apply(t *events.SpendTotals) {
	v.mu.Lock()
	defer v.mu.Unlock()
	o := v.get(objKey{events.Kind(t.Kind), t.ID})
	o.total = t.Spend
	o.windowEnd = time.Time{}
	if t.WindowEnd != nil {
		o.windowEnd = *t.WindowEnd
	}
	o.hasLease = t.Lease != nil
	if t.Lease != nil {
		o.lease = *t.Lease
	}
	// Keep the highest count the tracker reported for this instance: the
	// count only grows, and an entry the tracker dropped (EdgesAt) must
	// not make this edge count its whole history again.
	mineCounted := max(o.counted[v.instance], t.Edges[v.instance])
	o.counted = t.Edges
	if mineCounted > t.Edges[v.instance] {
		o.counted = maps.Clone(t.Edges)
		if o.counted == nil {
			o.counted = map[string]float64{}
		}
		o.counted[v.instance] = mineCounted
	}
	for inst, c := range o.peers {
		if c <= o.counted[inst] {
			delete(o.peers, inst) // fully counted by the tracker
		}
	}
}

// Used is an object's current view (tests and diagnostics).
func (v *View) Used(kind events.Kind, id string) float64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	o := v.objs[objKey{kind, id}]
	if o == nil {
		return 0
	}
	return v.used(o, v.o.Now())
}

// gossip returns this instance's cumulative cost of the objects that
// changed since the previous call (nil when none did).
func (v *View) gossip() *events.BudgetGossip {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.dirty) == 0 {
		return nil
	}
	g := &events.BudgetGossip{Instance: v.instance, Objects: make([]events.BudgetGossipEntry, 0, len(v.dirty))}
	for _, o := range v.dirty {
		o.dirty = false
		g.Objects = append(g.Objects, events.BudgetGossipEntry{Kind: string(o.key.kind), ID: o.key.id, Spend: o.mine})
	}
	clear(v.dirty)
	v.dirty = v.dirty[:0]
	return g
}

// heard merges another instance's gossip (cumulative, so the larger wins
// and a reordered or repeated message changes nothing).
func (v *View) heard(g *events.BudgetGossip) {
	if g.Instance == v.instance {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, e := range g.Objects {
		o := v.get(objKey{events.Kind(e.Kind), e.ID})
		if e.Spend <= o.counted[g.Instance] || e.Spend <= o.peers[g.Instance] {
			continue
		}
		if o.peers == nil {
			o.peers = map[string]float64{}
		}
		o.peers[g.Instance] = e.Spend
	}
}

// Run watches the tracker's totals and exchanges gossip until ctx ends.
func (v *View) Run(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) error {
	sub, err := nc.Subscribe(events.BudgetGossipPrefix+".>", func(m *nats.Msg) {
		var g events.BudgetGossip
		if json.Unmarshal(m.Data, &g) == nil {
			v.heard(&g)
		}
	})
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	go v.watch(ctx, js)
	subject := events.BudgetGossipPrefix + "." + v.o.EdgeID
	pause := time.NewTimer(v.o.GossipInterval)
	pause.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-v.changed:
		}
		if g := v.gossip(); g != nil {
			data, _ := json.Marshal(g)
			_ = nc.Publish(subject, data) // lost: the tracker's total still arrives
		}
		// At most one message per interval: changes made meanwhile wait
		// and go together.
		pause.Reset(v.o.GossipInterval)
		select {
		case <-ctx.Done():
			return nil
		case <-pause.C:
		}
	}
}

// watch follows the totals bucket, waiting for it to exist and starting
// over when a watch ends.
func (v *View) watch(ctx context.Context, js jetstream.JetStream) {
	for ctx.Err() == nil {
		if err := v.watchOnce(ctx, js); err != nil && ctx.Err() == nil {
			v.o.Log.Debug("budget totals watch", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (v *View) watchOnce(ctx context.Context, js jetstream.JetStream) error {
	kv, err := js.KeyValue(ctx, events.SpendTotalsBucket)
	if err != nil {
		return err
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watch ended")
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			var t events.SpendTotals
			if err := json.Unmarshal(e.Value(), &t); err != nil {
				v.o.Log.Warn("budget totals unreadable", "key", e.Key(), "err", err)
				continue
			}
			v.Apply(&t)
		}
	}
}
