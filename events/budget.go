package events

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Budget totals: the control plane's budget tracker keeps one SpendTotals
// per budgeted object in the SpendTotalsBucket KV bucket; edges watch the
// bucket to keep a local view of every budget (see edge/budget).
const (
	SpendTotalsBucket = "gatehouse_spend_totals"
	// BudgetGossipPrefix: edges publish the spend they served and the
	// tracker has not counted yet on <prefix>.<edge id> (core NATS), so the
	// other edges see it before the tracker's total does.
	BudgetGossipPrefix = Product + ".budget.gossip"
)

// KindTeamMember names the spend totals of a team membership's budget
// (Member.MaxBudgetInTeam), kept under its Member.BudgetID. It is no
// aggregate of its own: the budget and its budget_exceeded flag live on
// the member, in the team's events.
const KindTeamMember Kind = "team_member"

// KindOrgMember names the spend totals of an org membership's budget
// (OrgMember.MaxBudgetInOrg), kept under OrgMember.BudgetID, else
// OrgMemberID. Like KindTeamMember
// it is no aggregate of its own: its flag lives on the member, in the
// org's events.
const KindOrgMember Kind = "org_member"

// OrgMemberID is the id of user's org membership budget in org: org
// memberships have no budget_id, and the pair is unique.
func OrgMemberID(org, user string) string { return org + ":" + user }

// OrgMemberBudgetID is the id member m (user user's membership of org)
// is counted under.
func OrgMemberBudgetID(org, user string, m *OrgMember) string {
	if m.BudgetID != "" {
		return m.BudgetID
	}
	return OrgMemberID(org, user)
}

// SpendTotals is one object's spend in its current budget window, written
// by the tracker after each spend batch (full state, like every event).
type SpendTotals struct {
	Kind        string    `json:"kind"`
	ID          string    `json:"id"`
	WindowStart time.Time `json:"window_start"`
	// WindowEnd is when the window ends (absent: never); a reader treats
	// a record whose window ended as zero spend.
	WindowEnd *time.Time `json:"window_end,omitempty"`
	Spend     float64    `json:"spend"`
	Requests  int64      `json:"requests"`
	Tokens    int64      `json:"tokens"`
	// Edges is the cost the tracker has counted from each edge instance
	// (SpendEvent.EdgeInstance), cumulative over all windows: an edge adds
	// to its local view only what it served beyond this, so the tracker's
	// total and the local view never count the same request twice.
	Edges map[string]float64 `json:"edges,omitempty"`
	// EdgesAt is when each instance's cost was last counted (unix s); an
	// instance silent for a day is dropped from both maps (an edge keeps
	// the highest count it saw for itself, so only dead instances matter).
	EdgesAt map[string]int64 `json:"edges_at,omitempty"`
	// Lease is what one edge may spend beyond Spend while it is cut from
	// NATS (a slice of the remaining budget; absent when the object has
	// no budget). Each write renews it.
	Lease *float64 `json:"lease,omitempty"`
}

// SpendTotalsKey is where an object's totals live in the bucket (ids other
// than key tokens are hashed into a valid KV key).
func SpendTotalsKey(kind Kind, id string) string {
	if kind == KindKey {
		return string(kind) + "." + id
	}
	sum := sha256.Sum256([]byte(id))
	return string(kind) + "." + hex.EncodeToString(sum[:16])
}

// BudgetGossip is one edge instance's cumulative served cost per object,
// for the objects whose cost changed since its previous message.
type BudgetGossip struct {
	Instance string              `json:"instance"`
	Objects  []BudgetGossipEntry `json:"objects"`
}

// BudgetGossipEntry: Spend is cumulative over the instance's life.
type BudgetGossipEntry struct {
	Kind  string  `json:"kind"`
	ID    string  `json:"id"`
	Spend float64 `json:"spend"`
}
