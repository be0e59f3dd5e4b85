package dryrun

import (
	"sort"
	"time"
)

// Flip is one request whose outcome the proposal changes.
type Flip struct {
	RequestID string    `json:"request_id"`
	Time      time.Time `json:"time"`
	KeyHash   string    `json:"key_hash,omitempty"`
	TeamID    string    `json:"team_id,omitempty"`
	Model     string    `json:"model"`
	Cost      float64   `json:"cost"`
	Current   Decision  `json:"current"`
	Proposed  Decision  `json:"proposed"`
}

// Group totals the flips of one key or team.
type Group struct {
	ID string `json:"id"`
	// NowRefused are requests the current policy allows and the proposal
	// refuses; Cost is what they cost when they were served.
	NowRefused     int     `json:"now_refused"`
	NowRefusedCost float64 `json:"now_refused_cost"`
	// NowAllowed are requests the current policy refuses and the proposal
	// allows; their cost is known only for requests that were served.
	NowAllowed     int     `json:"now_allowed"`
	NowAllowedCost float64 `json:"now_allowed_cost"`
}

// Report is the result of a dry run.
type Report struct {
	From, To time.Time `json:"-"`
	// Rows replayed, and rows skipped (refused for reasons no policy
	// changes, e.g. a malformed body).
	Rows    int `json:"rows"`
	Skipped int `json:"skipped"`
	// Total sums every flip (its ID is empty).
	Total  Group   `json:"total"`
	ByKey  []Group `json:"by_key"`
	ByTeam []Group `json:"by_team"`
	// Flips are the first MaxFlips changed requests, in time order.
	Flips []Flip `json:"flips"`
}

// MaxFlips bounds the requests a report lists one by one.
const MaxFlips = 200

// Compare replays requests, in time order, through the current and the
// proposed policy.
type Compare struct {
	cur, prop *Evaluator
	r         Report
	byKey     map[string]*Group
	byTeam    map[string]*Group
}

// NewCompare starts a comparison of two evaluators.
func NewCompare(current, proposed *Evaluator) *Compare {
	return &Compare{cur: current, prop: proposed, byKey: map[string]*Group{}, byTeam: map[string]*Group{}}
}

// Add replays one request.
func (c *Compare) Add(r Request) {
	if !Replayable(r) {
		c.r.Skipped++
		return
	}
	c.r.Rows++
	a, b := c.cur.Decide(r), c.prop.Decide(r)
	if a.Allowed == b.Allowed {
		return
	}
	groups := []*Group{&c.r.Total}
	if r.KeyHash != "" {
		groups = append(groups, group(c.byKey, r.KeyHash))
	}
	if r.TeamID != "" {
		groups = append(groups, group(c.byTeam, r.TeamID))
	}
	for _, g := range groups {
		if b.Allowed {
			g.NowAllowed++
			g.NowAllowedCost += r.Cost
		} else {
			g.NowRefused++
			g.NowRefusedCost += r.Cost
		}
	}
	if len(c.r.Flips) < MaxFlips {
		c.r.Flips = append(c.r.Flips, Flip{RequestID: r.RequestID, Time: r.Time, KeyHash: r.KeyHash, TeamID: r.TeamID, Model: r.ModelGroup, Cost: r.Cost, Current: a, Proposed: b})
	}
}

func group(m map[string]*Group, id string) *Group {
	g := m[id]
	if g == nil {
		g = &Group{ID: id}
		m[id] = g
	}
	return g
}

// Report returns the totals, groups ordered by the money they move.
func (c *Compare) Report() Report {
	r := c.r
	r.ByKey, r.ByTeam = sorted(c.byKey), sorted(c.byTeam)
	if r.Flips == nil {
		r.Flips = []Flip{}
	}
	return r
}

func sorted(m map[string]*Group) []Group {
	out := make([]Group, 0, len(m))
	for _, g := range m {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		mi, mj := out[i].NowRefusedCost+out[i].NowAllowedCost, out[j].NowRefusedCost+out[j].NowAllowedCost
		if mi != mj {
			return mi > mj
		}
		return out[i].ID < out[j].ID
	})
	return out
}
