// Package dryrun replays recorded requests through a policy snapshot and
// says which would be refused: the decision half of a policy dry run
// (POST /gatehouse/policy/dry-run). It decides with the edge's own code
// (auth.Identity.Grant, policy.CheckKey, CheckEndUser, CheckOrgModel) on a
// Grant rebuilt from the ledger row, and adds what the edge counts across
// requests from the rows themselves, in time order: spend per budget
// window of key, team, user, org and end user, and requests and tokens per
// minute for rpm_limit and tpm_limit.
//
// What it cannot rebuild from a row: a JWT caller's claims (such rows are
// judged by their team, org and end user), and the budget windows' true
// starts before the replayed range (a window starts at the first replayed
// request that spends in it).
package dryrun

import (
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/auth/jwtauth"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/spend/query"
)

// Request is one recorded request, as much of it as the decision reads.
type Request = query.Decision

// Decision is what a policy says about one request.
type Decision struct {
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason,omitempty"` // an events.Deny* code
	Rule    string `json:"rule,omitempty"`
	Message string `json:"message,omitempty"`
}

// Replayable reports whether a recorded request's outcome came from rules
// a dry run models: served requests, and refusals for access, blocks,
// budgets and rate limits. Other refusals (a malformed body, an edge not
// ready) would be refused under any policy.
func Replayable(r Request) bool {
	if r.Outcome != events.OutcomeDenied {
		return true
	}
	switch r.DenyReason {
	case events.DenyModelNotAllowed, events.DenyModelNotFound, events.DenyKeyBlocked, events.DenyTeamBlocked, events.DenyOrgBlocked,
		events.DenyBudgetExceeded, events.DenyRateLimited, events.DenyInvalidCredential, events.DenyExpired, events.DenyEndUserBlocked, events.DenyForbidden:
		return true
	}
	return false
}

// Evaluator decides requests in time order against one snapshot, keeping
// the budget windows and minute counters the requests it allowed fill.
type Evaluator struct {
	snap    *policy.Snapshot
	windows map[counter]*window
	minutes map[counter]*minute
}

type window struct {
	start time.Time
	spent float64
}

type minute struct {
	at       int64 // unix minute
	requests int64
	tokens   int64
}

// New returns an evaluator over s. The budget_exceeded flags s carries are
// today's verdicts of the budget tracker; the replay recomputes budgets
// from the rows, so they are cleared on a copy first.
func New(s *policy.Snapshot) *Evaluator {
	return &Evaluator{snap: withoutBudgetFlags(s), windows: map[counter]*window{}, minutes: map[counter]*minute{}}
}

// clearFlags puts a copy without budget_exceeded of every object of objs
// that has it (flag points at it).
func clearFlags[T any](objs []*T, put func(any), flag func(*T) *bool) {
	for _, o := range objs {
		if *flag(o) {
			c := *o
			*flag(&c) = false
			put(&c)
		}
	}
}

func withoutBudgetFlags(s *policy.Snapshot) *policy.Snapshot {
	b := s.Edit(nil)
	put := func(obj any) {
		typ := events.TypeFor(events.KindOf(obj), events.ActionUpserted)
		info, _ := events.Lookup(typ)
		_ = b.Apply(events.Event{Envelope: events.Envelope{Type: typ}, Info: info, Object: obj})
	}
	clearFlags(s.Keys(), put, func(k *events.Key) *bool { return &k.BudgetExceeded })
	clearFlags(s.Teams(), put, func(t *events.Team) *bool { return &t.BudgetExceeded })
	clearFlags(s.Users(), put, func(u *events.User) *bool { return &u.BudgetExceeded })
	clearFlags(s.Orgs(), put, func(o *events.Org) *bool { return &o.BudgetExceeded })
	clearFlags(s.Customers(), put, func(c *events.Customer) *bool { return &c.BudgetExceeded })
	return b.Snapshot()
}

// Decide judges r and, when it is allowed, counts it against the budgets
// and limits that apply. Requests must come in time order.
func (e *Evaluator) Decide(r Request) Decision {
	g, err := e.grant(r)
	if err != nil {
		return refusal(err)
	}
	if g.Admin {
		return Decision{Allowed: true}
	}
	type budget struct {
		of       counter
		max      *float64
		duration string
	}
	var budgets [5]budget
	n := 0
	add := func(kind, id string, max *float64, duration string) {
		if max != nil {
			budgets[n] = budget{counter{kind, id}, max, duration}
			n++
		}
	}
	if g.Key != nil {
		add("key", g.KeyHash, g.Key.MaxBudget, g.Key.BudgetDuration)
	}
	if g.Team != nil {
		add("team", g.Team.TeamID, g.Team.MaxBudget, g.Team.BudgetDuration)
	}
	if g.User != nil {
		add("user", g.User.UserID, g.User.MaxBudget, g.User.BudgetDuration)
	}
	if o := e.snap.Org(g.OrgID); o != nil {
		add("org", o.OrganizationID, o.MaxBudget, o.BudgetDuration)
	}
	if r.EndUserID != "" {
		max, dur := e.snap.MaxEndUserBudget(), ""
		if c := e.snap.Customer(r.EndUserID); c != nil && c.MaxBudget != nil {
			max, dur = c.MaxBudget, c.BudgetDuration
		}
		add("end_user", r.EndUserID, max, dur)
	}
	var windows [5]*window
	for i, b := range budgets[:n] {
		w := e.window(b.of, b.duration, r.Time)
		if w.spent >= *b.max {
			return Decision{Reason: events.DenyBudgetExceeded, Rule: b.of.rule("max_budget"),
				Message: fmt.Sprintf("spend %.6g >= max_budget %g in the window from %s", w.spent, *b.max, w.start.Format(time.RFC3339))}
		}
		windows[i] = w
	}
	type limit struct {
		of       counter
		rpm, tpm *int64
	}
	var limits [2]limit
	nl := 0
	if g.Key != nil && (g.Key.RPMLimit != nil || g.Key.TPMLimit != nil) {
		limits[nl] = limit{counter{"key", g.KeyHash}, g.Key.RPMLimit, g.Key.TPMLimit}
		nl++
	}
	if g.Team != nil && (g.Team.RPMLimit != nil || g.Team.TPMLimit != nil) {
		limits[nl] = limit{counter{"team", g.Team.TeamID}, g.Team.RPMLimit, g.Team.TPMLimit}
		nl++
	}
	at := r.Time.Unix() / 60
	var minutes [2]*minute
	for i, l := range limits[:nl] {
		m := e.minute(l.of, at)
		if l.rpm != nil && m.requests >= *l.rpm {
			return Decision{Reason: events.DenyRateLimited, Rule: l.of.rule("rpm"), Message: fmt.Sprintf("%d requests this minute >= rpm_limit %d", m.requests, *l.rpm)}
		}
		if l.tpm != nil && m.tokens >= *l.tpm {
			return Decision{Reason: events.DenyRateLimited, Rule: l.of.rule("tpm"), Message: fmt.Sprintf("%d tokens this minute >= tpm_limit %d", m.tokens, *l.tpm)}
		}
		minutes[i] = m
	}
	for _, w := range windows[:n] {
		w.spent += r.Cost
	}
	for _, m := range minutes[:nl] {
		m.requests++
		m.tokens += r.TotalTokens
	}
	return Decision{Allowed: true}
}

// counter names what a budget window or minute bucket counts for: an
// object (no string built per request).
type counter struct{ kind, id string }

// rule is the ledger's deny_rule for a setting of the object.
func (c counter) rule(setting string) string { return policy.Rule(c.kind, c.id, setting) }

// grant runs the edge's decision for the caller the row names.
func (e *Evaluator) grant(r Request) (auth.Grant, error) {
	s := e.snap
	req := auth.Request{Request: jwtauth.Request{Model: r.ModelGroup}, Now: r.Time}
	var g auth.Grant
	switch {
	case r.Auth == auth.MethodMasterKey.String():
		return auth.Identity{Admin: true}.Grant(s, req)
	case r.KeyHash != "":
		k := s.KeyByToken(r.KeyHash)
		if k == nil {
			return g, apierror.Unauthenticated.With("the key does not exist in this policy").By(policy.Rule("key", r.KeyHash, "unknown"))
		}
		var err error
		if g, err = (auth.Identity{Key: k}).Grant(s, req); err != nil {
			return g, err
		}
	default:
		// A JWT caller: its claims are not in the ledger; judge the team,
		// org and user it was billed to.
		g = auth.Grant{Method: auth.MethodJWT, UserID: r.UserID, TeamID: r.TeamID, OrgID: r.OrgID, EndUserID: r.EndUserID}
		if r.TeamID != "" {
			t := s.Team(r.TeamID)
			switch {
			case t == nil:
				return g, apierror.Unauthenticated.With("team %s does not exist in this policy", r.TeamID).By(policy.Rule("team", r.TeamID, "exists"))
			case t.Blocked:
				return g, apierror.TeamBlocked.With("team %s is blocked", r.TeamID).By(policy.Rule("team", r.TeamID, "blocked"))
			case !s.TeamAllowed(t, r.ModelGroup):
				return g, apierror.TeamModelDenied.With("team %s may not call %s", r.TeamID, r.ModelGroup).By(policy.Rule("team", r.TeamID, "models"))
			}
			g.Team = t
			if g.OrgID == "" {
				g.OrgID = t.OrganizationID
			}
		}
		g.User = s.User(r.UserID)
		if err := s.CheckOrgStanding(g.OrgID); err != nil {
			return g, err
		}
		if err := s.CheckOrgMemberBudget(g.OrgID, r.UserID); err != nil {
			return g, err
		}
		if err := s.CheckOrgModel(g.OrgID, r.ModelGroup, r.ModelGroup); err != nil {
			return g, err
		}
		g.Route = s.Catalog().Resolve(r.ModelGroup)
	}
	if !g.Route.Found() {
		return g, apierror.ModelNotFound.With("no deployment serves model %s in this policy", r.ModelGroup).By("model:" + r.ModelGroup)
	}
	if err := s.CheckEndUser(r.EndUserID, r.ModelGroup, g.Route.Group); err != nil {
		return g, err
	}
	return g, nil
}

// refusal turns the edge's error into a Decision with the ledger's reason
// code.
func refusal(err error) Decision {
	e := apierror.From(err)
	d := Decision{Rule: e.Rule, Message: e.Message, Reason: policy.DenyReason(e)}
	if d.Reason == "" {
		d.Reason = events.DenyForbidden
	}
	return d
}

func (e *Evaluator) window(of counter, duration string, now time.Time) *window {
	w := e.windows[of]
	if w == nil {
		w = &window{start: now}
		e.windows[of] = w
		return w
	}
	if duration == "" {
		return w
	}
	if d, err := policy.ParseDuration(duration); err == nil && d > 0 && !now.Before(w.start.Add(d)) {
		w.start = w.start.Add(now.Sub(w.start) / d * d)
		w.spent = 0
	}
	return w
}

func (e *Evaluator) minute(of counter, at int64) *minute {
	m := e.minutes[of]
	if m == nil {
		m = &minute{at: at}
		e.minutes[of] = m
	}
	if m.at != at {
		*m = minute{at: at}
	}
	return m
}
