package policy

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

// BudgetRefusal is an object over its budget. It words the 400
// budget_exceeded exactly as LiteLLM does, so the clients and scripts that
// parse LiteLLM's text ("Current cost: X, Max budget: Y", "ExceededBudget:
// User=... Spend=X, Budget=Y") read gatehouse's too; gatehouse appends the
// budget's window, which LiteLLM does not name.
//
// Both places that refuse for a budget use it: the policy, from the budget
// tracker's budget_exceeded flag (which carries no spend: the edge fills in
// what its budget view counted, see Refusal), and the edge's budget view.
type BudgetRefusal struct {
	Kind events.Kind
	// ID is the object's id: a key's sha256, a membership's budget_id.
	ID string
	// Team and User name a team membership (events.KindTeamMember), Org
	// and User an org membership (events.KindOrgMember).
	Team, Org, User string
	Max             float64
	// Duration and ResetAt are the budget's window, when it has one.
	Duration string
	ResetAt  *time.Time
}

// Error makes a refusal the cause of its *apierror.Error (never
// rendered), so the edge can find it and word it again with a spend.
func (b *BudgetRefusal) Error() string { return "budget exceeded: " + b.Rule() }

// Rule is the decision ledger's rule: "<kind>:<id>:max_budget".
func (b *BudgetRefusal) Rule() string {
	kind := string(b.Kind)
	if b.Kind == events.KindCustomer {
		kind = "end_user"
	}
	return Rule(kind, b.ID, "max_budget")
}

// Refusal is the 400 budget_exceeded for the object having spent spend. A
// negative spend is unknown (the tracker's flag without a count at this
// edge): the budget itself is shown, which the spend has reached.
func (b *BudgetRefusal) Refusal(spend float64) *apierror.Error {
	if spend < 0 {
		spend = b.Max
	}
	cost, max := PyFloat(spend), PyFloat(b.Max)
	var w strings.Builder
	switch b.Kind {
	case events.KindUser:
		w.WriteString("ExceededBudget: User=" + b.ID + " over budget. Spend=" + cost + ", Budget=" + max)
	case events.KindCustomer:
		w.WriteString("ExceededBudget: End User=" + b.ID + " over budget. Spend=" + cost + ", Budget=" + max)
	default:
		w.WriteString("Budget has been exceeded! ")
		switch b.Kind {
		case events.KindTeam:
			w.WriteString("Team=" + b.ID + " ")
		case events.KindOrg:
			w.WriteString("Organization=" + b.ID + " ")
		case events.KindTeamMember:
			w.WriteString("User=" + b.User + " in Team=" + b.Team + " ")
		case events.KindOrgMember:
			w.WriteString("User=" + b.User + " in Organization=" + b.Org + " ")
		}
		w.WriteString("Current cost: " + cost + ", Max budget: " + max)
	}
	WriteWindow(&w, b.Duration, b.ResetAt)
	e := apierror.BudgetExceeded.With("%s", w.String()).By(b.Rule())
	e.Err = b
	if b.Kind == events.KindCustomer {
		e.Param = "user" // the request field naming the end user
	}
	return e
}

// PyFloat formats f as Python's repr does (LiteLLM's texts are f-strings
// of floats, its numeric headers str(float)): the shortest form that reads
// back as f, "5.0" rather than "5", exponents only below 1e-4 and from
// 1e16 on ("1e-05").
func PyFloat(f float64) string { return string(AppendPyFloat(nil, f)) }

// AppendPyFloat appends PyFloat(f) to b, without allocating when b has room
// (the edge writes numeric headers into stack buffers).
func AppendPyFloat(b []byte, f float64) []byte {
	if a := math.Abs(f); f != 0 && (a < 1e-4 || a >= 1e16) || math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.AppendFloat(b, f, 'e', -1, 64)
	}
	n := len(b)
	b = strconv.AppendFloat(b, f, 'f', -1, 64)
	if !bytes.ContainsRune(b[n:], '.') {
		b = append(b, ".0"...)
	}
	return b
}
