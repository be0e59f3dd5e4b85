package api

import (
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/spend/query"
)

// Why is /gatehouse/why/<request id>: the request's ledger row (spend or
// denial; the id may be gatehouse's, the client's x-request-id or the
// answer's id, as on /spend/logs), the policy objects it depended on as they were at the row's
// policy sequence, and a sentence saying why it was allowed or denied.
type Why struct {
	Request     query.Row `json:"request"`
	Policy      *Involved `json:"policy"`
	Explanation string    `json:"explanation"`
	// Others are further requests the id names: a client may send one
	// x-request-id twice, and an upstream's answer id is its own choice.
	Others []string `json:"other_request_ids,omitempty"`
}

func (a *API) why(c *fiber.Ctx) error {
	st, err := a.spendStore()
	if err != nil {
		return err
	}
	id := strings.TrimSpace(c.Params("id"))
	if id == "" {
		return httpx.Required("request_id")
	}
	rows, err := query.Logs(c.UserContext(), st.Conn, st.Database, query.Filter{RequestID: id, Limit: 20})
	if err != nil {
		return apierror.Unavailable.Wrap(err, "spend store unavailable")
	}
	if len(rows) == 0 {
		e := apierror.NotFound.With("no request with request id, x-request-id or response id %q in the ledger", id)
		e.Param = "request_id"
		return e
	}
	// The edge's own id beats a client's or an upstream's id that another
	// request shares.
	pick := 0
	for i, r := range rows {
		if r.RequestID == id {
			pick = i
		}
	}
	out := Why{Request: rows[pick]}
	for i, r := range rows {
		if i != pick {
			out.Others = append(out.Others, r.RequestID)
		}
	}
	r := &out.Request
	r.Cost = Money(r.Cost)
	if r.PolicySeq == 0 {
		out.Explanation = fmt.Sprintf("Request %s was recorded without a policy sequence (before decision provenance, or before the edge had a policy snapshot), so the policy it was decided at cannot be named. %s",
			r.RequestID, outcomeSentence(r))
		return c.JSON(out)
	}
	at := fmt.Sprint(r.PolicySeq)
	past, err := a.pastSnapshot(c.UserContext(), at, events.AuditStop{Seq: r.PolicySeq})
	if err != nil {
		return err
	}
	in := involvedAt(past.Snapshot, r.KeyHash, r.TeamID, r.UserID, r.OrgID, r.EndUserID, r.ModelGroup)
	in.Time, in.Missing = past.Time, past.Bounds.Missing
	out.Policy = &in
	out.Explanation = explain(past.Snapshot, r, &in)
	return c.JSON(out)
}

// outcomeSentence says what happened to a request, from its row alone.
func outcomeSentence(r *query.Row) string {
	if r.Outcome == events.OutcomeDenied {
		s := fmt.Sprintf("It was denied (%s", firstOf(r.DenyReason, "no reason recorded"))
		if r.DenyRule != "" {
			s += ", rule " + r.DenyRule
		}
		return s + ")."
	}
	return fmt.Sprintf("It was allowed and served by %s with outcome %s (status %d), %d tokens, cost %s USD.",
		firstOf(r.Deployment, r.Model, r.ModelGroup), r.Outcome, r.Status, r.TotalTokens, fmt.Sprint(Money(r.Cost)))
}

// explain is the paragraph of /gatehouse/why: who called, at which policy,
// the outcome, and the rule or the objects that decided it.
func explain(s *policy.Snapshot, r *query.Row, in *Involved) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Request %s at %s asked for model %q ", r.RequestID, r.Time.UTC().Format("2006-01-02T15:04:05.000Z"), r.ModelGroup)
	switch {
	case in.Key != nil:
		fmt.Fprintf(&b, "with key %s", keyName(in.Key))
	case r.KeyHash != "":
		fmt.Fprintf(&b, "with key %s…, which did not exist at that policy", r.KeyHash[:min(12, len(r.KeyHash))])
	default:
		fmt.Fprintf(&b, "as a %s caller", firstOf(r.Auth, "non-key"))
	}
	if in.Team != nil {
		fmt.Fprintf(&b, " of team %s", in.Team.TeamID)
	}
	fmt.Fprintf(&b, "; the edge decided at policy sequence %d (made %s). %s", r.PolicySeq, in.Time.Format("2006-01-02T15:04:05Z"), outcomeSentence(r))
	if r.Outcome == events.OutcomeDenied {
		if d := ruleDetail(r.DenyRule, in); d != "" {
			b.WriteString(" " + d)
		}
		return b.String()
	}
	if in.Key != nil {
		// The same decision the edge ran, on the rebuilt snapshot.
		if _, err := s.CheckKey(in.Key, r.ModelGroup, r.Time); err != nil {
			fmt.Fprintf(&b, " Re-checked on the rebuilt policy the access rules refuse it now (%s): the request was decided on a newer local view or by an edge whose view differed.", apierror.From(err).Message)
			return b.String()
		}
		fmt.Fprintf(&b, " The key's models %s", listOrAll(in.Key.Models))
		if in.Team != nil {
			fmt.Fprintf(&b, " and its team's models %s", listOrAll(in.Team.Models))
		}
		fmt.Fprintf(&b, " allow %q, no key, team, org or user in the chain was blocked or over budget at that sequence", r.ModelGroup)
		if lim := limitsOf(in); lim != "" {
			b.WriteString(", and the request fitted " + lim)
		}
		b.WriteString(".")
	}
	if n := len(in.Missing); n > 0 {
		fmt.Fprintf(&b, " Note: the audit trail misses %d range(s) of policy sequences before this one; objects changed only then may be shown wrongly.", n)
	}
	return b.String()
}

func keyName(k *events.Key) string {
	if k.KeyAlias != "" {
		return fmt.Sprintf("%q (%s…)", k.KeyAlias, k.Token[:12])
	}
	return k.Token[:12] + "…"
}

func listOrAll(l []string) string {
	if len(l) == 0 {
		return "(all)"
	}
	return "[" + strings.Join(l, ", ") + "]"
}

func limitsOf(in *Involved) string {
	var parts []string
	add := func(who string, maxBudget *float64, rpm, tpm *int64) {
		if maxBudget != nil {
			parts = append(parts, fmt.Sprintf("%s max_budget %g USD", who, *maxBudget))
		}
		if rpm != nil {
			parts = append(parts, fmt.Sprintf("%s rpm_limit %d", who, *rpm))
		}
		if tpm != nil {
			parts = append(parts, fmt.Sprintf("%s tpm_limit %d", who, *tpm))
		}
	}
	if in.Key != nil {
		add("key", in.Key.MaxBudget, in.Key.RPMLimit, in.Key.TPMLimit)
	}
	if in.Team != nil {
		add("team", in.Team.MaxBudget, in.Team.RPMLimit, in.Team.TPMLimit)
	}
	return strings.Join(parts, ", ")
}

// ruleDetail names the object a deny rule ("team:<id>:max_budget",
// "key:<hash>:rpm", ...) points at, with the setting as it was.
func ruleDetail(rule string, in *Involved) string {
	kind, rest, _ := strings.Cut(rule, ":")
	id, _, _ := strings.Cut(rest, ":")
	switch kind {
	case "team":
		if in.Team != nil && in.Team.TeamID == id {
			return fmt.Sprintf("At that sequence team %s had models %s, max_budget %s, rpm_limit %s, tpm_limit %s, blocked %v.",
				id, listOrAll(in.Team.Models), numOr(in.Team.MaxBudget), intOr(in.Team.RPMLimit), intOr(in.Team.TPMLimit), in.Team.Blocked)
		}
	case "key":
		if in.Key != nil && strings.HasPrefix(in.Key.Token, id) {
			return fmt.Sprintf("At that sequence the key had models %s, max_budget %s, rpm_limit %s, tpm_limit %s, blocked %v.",
				listOrAll(in.Key.Models), numOr(in.Key.MaxBudget), intOr(in.Key.RPMLimit), intOr(in.Key.TPMLimit), in.Key.Blocked)
		}
	case "org":
		if in.Org != nil {
			return fmt.Sprintf("At that sequence organization %s had models %s, max_budget %s, blocked %v.", in.Org.OrganizationID, listOrAll(in.Org.Models), numOr(in.Org.MaxBudget), in.Org.Blocked)
		}
	}
	return ""
}

func numOr(v *float64) string {
	if v == nil {
		return "(none)"
	}
	return fmt.Sprint(*v)
}

func intOr(v *int64) string {
	if v == nil {
		return "(none)"
	}
	return fmt.Sprint(*v)
}
