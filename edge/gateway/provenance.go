package gateway

// Decision provenance: every answer of a model route names the policy
// sequence it was decided at, and every refusal becomes a row of the spend
// ledger (outcome "denied", cost 0) with a reason code and the rule that
// decided, published through the same batching and spill path as spend.

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/edge/proxy"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/obs"
	"github.com/gatehouse/gatehouse/policy"
)

// PolicySeqHeader carries the sequence of the snapshot a request was
// decided at; the audit stream at that sequence is the policy that applied.
const PolicySeqHeader = "x-gatehouse-policy-seq"

// DefaultUnauthenticatedDenials bounds the denial rows an edge records per
// second for callers it could not identify (garbage or unknown keys): a
// flood of bad credentials must not become a flood of ledger rows. The
// rest are counted in gatehouse_edge_denials_unrecorded_total.
const DefaultUnauthenticatedDenials = 50

// setPolicySeq names the snapshot on the response; the digits go through
// a stack buffer, so the hot path does not allocate.
func setPolicySeq(c *fiber.Ctx, seq uint64) {
	var buf [20]byte
	c.Response().Header.SetBytesV(PolicySeqHeader, strconv.AppendUint(buf[:0], seq, 10))
}

// decision is what a model route knows about a request as it decides:
// the snapshot, the caller, and the ledger row being filled in. A refusal
// before the request was forwarded is recorded from it.
type decision struct {
	snap *policy.Snapshot
	id   auth.Identity
	ev   events.SpendEvent
	// forwarded: the request reached the upstream path, which records its
	// own row whatever the outcome.
	forwarded bool
	// granted: the caller passed the decision (its key, nil for the
	// master key and JWTs, in key); a later refusal costs 0 and says so.
	granted bool
	key     *events.Key
}

// denyReason maps a refusal to its reason code (policy.DenyReason, plus
// the edge's own staleness refusal); "" for an error that is not a policy
// decision.
func denyReason(e *apierror.Error) string {
	if e.Code == errStale.Code {
		return events.DenyPolicyStale
	}
	return policy.DenyReason(e)
}

// budgetSpend words a budget refusal decided from the budget tracker's
// flag again with the spend this edge's budget view counts: the policy
// carries the flag, not the amount, and LiteLLM's "Current cost: X" is
// what the caller (and the scripts that parse LiteLLM's text) read.
func (g *Gateway) budgetSpend(err error) error {
	var b *policy.BudgetRefusal
	if g.budgets == nil || !errors.As(err, &b) {
		return err
	}
	if used := g.budgets.Used(b.Kind, b.ID); used > 0 {
		return b.Refusal(used)
	}
	return err
}

// deny records a refusal of a model route as a ledger row. The row's
// request id is returned to the client as x-litellm-call-id, as for a
// served request, so the refusal can be looked up (gatewayctl why).
func (g *Gateway) deny(c *fiber.Ctx, d *decision, err error) {
	if g.spend == nil || d.forwarded {
		return
	}
	e := apierror.From(err)
	reason := denyReason(e)
	if reason == "" {
		return
	}
	ev := d.ev
	if ev.KeyHash == "" && ev.TeamID == "" && ev.UserID == "" {
		fillIdentity(&ev, d.id)
	}
	known := ev.KeyHash != "" || ev.TeamID != "" || ev.UserID != "" || d.id.Admin || d.id.JWT != nil
	if !known || reason == events.DenyInvalidCredential || reason == events.DenyExpired {
		if !g.denials.allow(g.nowFunc()) {
			g.denialsUnrecorded.Inc()
			return
		}
		if ev.KeyHash == "" {
			// The hash of a key the edge does not know (revoked, deleted,
			// guessed) says which one was tried; never the key itself.
			if cred, present := httpx.Credential(c); present && strings.HasPrefix(cred, "sk-") {
				ev.KeyHash = events.HashKey(cred)
			}
		}
	}
	if ev.ModelGroup == "" {
		// Refused before the body was read: the model it asked for, if
		// the body says.
		if req, err := proxy.ParseChatRequest(c.Body()); err == nil {
			ev.ModelGroup = req.Model
		}
	}
	if ev.RequestID == "" {
		ev.RequestID, ev.Time = events.NewID(), g.nowFunc().UTC()
		if cid := obs.ClientRequestID(c); cid != nil {
			ev.ClientRequestID = string(cid)
		}
	}
	if d.snap != nil {
		ev.PolicySeq = d.snap.Seq()
	}
	if ev.Auth == "" {
		ev.Auth = d.id.Method().String()
	}
	if ev.EdgeID == "" {
		ev.EdgeID = g.edgeID
	}
	ev.Outcome, ev.Status, ev.DenyReason, ev.DenyRule = events.OutcomeDenied, e.Status, reason, e.Rule
	if ev.DenyRule == "" {
		ev.DenyRule = fallbackRule(&ev, reason)
	}
	ev.Cost, ev.PromptTokens, ev.CompletionTokens, ev.TotalTokens, ev.CachedTokens, ev.CacheCreationTokens = 0, 0, 0, 0, 0, 0
	ev.LatencyMS = float64(g.nowFunc().Sub(ev.Time).Microseconds()) / 1000
	c.Set("x-litellm-call-id", ev.RequestID)
	if d.granted {
		// As LiteLLM's error answers after authentication.
		setString(&c.Response().Header, hdrResponseCost, errorCost)
		g.setKeySpend(&c.Response().Header, d.key)
	}
	g.spend.Record(ev)
}

// fillIdentity names the caller of a refusal from what authentication
// found, before a grant existed.
func fillIdentity(ev *events.SpendEvent, id auth.Identity) {
	switch {
	case id.Key != nil:
		ev.KeyHash, ev.KeyAlias, ev.TeamID, ev.UserID = id.Key.Token, id.Key.KeyAlias, id.Key.TeamID, id.Key.UserID
	case id.JWT != nil:
		ev.UserID, ev.TeamID, ev.OrgID, ev.EndUserID = id.JWT.UserID, id.JWT.TeamID, id.JWT.OrgID, id.JWT.EndUserID
	}
}

// fallbackRule names the decider when the refusal did not: the credential
// for an authentication failure, else the caller's narrowest object.
func fallbackRule(ev *events.SpendEvent, reason string) string {
	switch {
	case reason == events.DenyPolicyNotReady || reason == events.DenyPolicyStale:
		return "edge:" + ev.EdgeID + ":" + reason
	case reason == events.DenyModelNotFound:
		return "model:" + ev.ModelGroup
	case reason == events.DenyInvalidCredential && ev.KeyHash != "":
		return policy.Rule("key", ev.KeyHash, "unknown") // not in the policy: never created, or deleted
	case reason == events.DenyInvalidCredential:
		return "credential:invalid"
	case ev.KeyHash != "":
		return policy.Rule("key", ev.KeyHash, reason)
	case ev.TeamID != "":
		return policy.Rule("team", ev.TeamID, reason)
	case ev.UserID != "":
		return policy.Rule("user", ev.UserID, reason)
	}
	return "credential:" + reason
}

// denialLimiter admits at most max rows a second; the rest are counted.
type denialLimiter struct {
	max int
	mu  sync.Mutex
	sec int64
	n   int
}

func (l *denialLimiter) allow(now time.Time) bool {
	s := now.Unix()
	l.mu.Lock()
	defer l.mu.Unlock()
	if s != l.sec {
		l.sec, l.n = s, 0
	}
	if l.n >= l.max {
		return false
	}
	l.n++
	return true
}

func newDenialsUnrecorded(reg *prometheus.Registry) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_edge_denials_unrecorded_total",
		Help: "Refusals of unidentified callers not written to the decision ledger because this edge already recorded its per-second maximum of them.",
	})
	reg.MustRegister(c)
	return c
}
