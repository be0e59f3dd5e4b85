package api

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/policy"
)

// PastState is /gatehouse/state?at=...: the exported policy as it was, with
// the point it reflects (Seq: the last policy sequence applied; Time: when
// the audit stored it).
type PastState struct {
	At   string    `json:"at"`
	Time time.Time `json:"time"`
	// Missing are policy sequences up to the point that the audit trail
	// does not hold (see events.AuditBounds.Missing).
	Missing [][2]uint64 `json:"missing_seqs,omitempty"`
	policy.State
}

// Involved are the policy objects one request depended on, as they were at
// one sequence: what /gatehouse/state?at=..&key=.. and /gatehouse/why show.
// A nil object did not exist then.
type Involved struct {
	Seq      uint64                `json:"seq"`
	Time     time.Time             `json:"time"`
	Key      *events.Key           `json:"key"`
	Team     *events.Team          `json:"team"`
	Org      *events.Org           `json:"org"`
	User     *events.User          `json:"user"`
	Customer *events.Customer      `json:"end_user,omitempty"`
	Model    string                `json:"model,omitempty"`
	Models   []*events.Model       `json:"deployments,omitempty"`
	Groups   []*events.AccessGroup `json:"access_groups,omitempty"`
	Missing  [][2]uint64           `json:"missing_seqs,omitempty"`
}

// involvedAt collects from s the objects a request with these ids depended
// on: the key, its team (else teamID), that team's org (else orgID), the
// user, the end user, and the deployments and access groups of model.
func involvedAt(s *policy.Snapshot, keyToken, teamID, userID, orgID, endUser, model string) Involved {
	in := Involved{Seq: s.Seq(), Model: model}
	if keyToken != "" {
		in.Key = s.KeyByToken(keyToken)
	}
	if in.Key != nil {
		teamID, userID = firstOf(in.Key.TeamID, teamID), firstOf(in.Key.UserID, userID)
		orgID = firstOf(in.Key.OrganizationID, orgID)
	}
	if teamID != "" {
		in.Team = s.Team(teamID)
	}
	if in.Team != nil {
		orgID = firstOf(in.Team.OrganizationID, orgID)
	}
	if orgID != "" {
		in.Org = s.Org(orgID)
	}
	if userID != "" {
		in.User = s.User(userID)
	}
	if endUser != "" {
		in.Customer = s.Customer(endUser)
	}
	if model != "" {
		groups := map[string]bool{}
		for _, m := range s.Models() {
			if m.ModelName != model {
				continue
			}
			in.Models = append(in.Models, m)
			for _, g := range m.ModelInfo.AccessGroups {
				groups[g] = true
			}
		}
		for _, g := range s.AccessGroups() {
			if groups[g.AccessGroupID] || containsString(g.Models, model) {
				in.Groups = append(in.Groups, g)
			}
		}
		for i, m := range in.Models {
			if p, changed := policy.RedactParams(m.LiteLLMParams); changed {
				cp := *m
				cp.LiteLLMParams = p
				in.Models[i] = &cp
			}
		}
	}
	return in
}

// firstOf is the first non-empty string of vs.
func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func containsString(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// parseAt reads the at parameter: a policy sequence (digits) or an RFC 3339
// time.
func parseAt(v string) (events.AuditStop, error) {
	if v == "" {
		return events.AuditStop{}, httpx.Required("at")
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		if n == 0 {
			return events.AuditStop{}, httpx.Param("at", "policy sequences start at 1")
		}
		return events.AuditStop{Seq: n}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return events.AuditStop{}, httpx.Param("at", "%q is neither a policy sequence (digits) nor an RFC 3339 time (2026-01-02T15:04:05Z)", v)
	}
	return events.AuditStop{Time: t.UTC()}, nil
}

// pastSnapshot rebuilds the policy at stop from the audit trail, refusing
// points the trail cannot answer with an error naming at.
func (a *API) pastSnapshot(ctx context.Context, at string, stop events.AuditStop) (policy.Past, error) {
	if a.js == nil {
		return policy.Past{}, apierror.Unavailable.With("point-in-time state needs the control plane's JetStream connection")
	}
	b, err := events.Audit(ctx, a.js)
	if err != nil {
		return policy.Past{}, auditError(at, err)
	}
	switch {
	case stop.Seq > b.LastSeq:
		return policy.Past{}, httpx.Param("at", "policy sequence %d is after the last one in the audit trail (%d, stored %s)",
			stop.Seq, b.LastSeq, b.LastTime.Format(time.RFC3339Nano))
	case !stop.Time.IsZero() && stop.Time.Before(b.FirstTime):
		return policy.Past{}, httpx.Param("at", "%s is before the first policy event (sequence %d, stored %s): there was no policy then",
			stop.Time.Format(time.RFC3339Nano), b.FirstSeq, b.FirstTime.Format(time.RFC3339Nano))
	}
	past, err := policy.At(ctx, a.js, nil, stop)
	if err != nil {
		return past, auditError(at, err)
	}
	return past, nil
}

func auditError(at string, err error) error {
	switch {
	case errors.Is(err, events.ErrNoAudit):
		return apierror.NotFound.Wrap(err, "no state at %s: %v", at, err)
	case errors.Is(err, events.ErrAuditIncomplete):
		e := apierror.Conflict.Wrap(err, "cannot rebuild the policy at %s: %v", at, err)
		e.Param = "at"
		return e
	}
	return apierror.Unavailable.Wrap(err, "reading the audit trail: %v", err)
}

// pastState answers /gatehouse/state?at=: the whole exported state, or with
// key (token or sk-... key) and/or team only the objects they involve.
func (a *API) pastState(c *fiber.Ctx) error {
	at := c.Query("at")
	stop, err := parseAt(at)
	if err != nil {
		return err
	}
	past, err := a.pastSnapshot(c.UserContext(), at, stop)
	if err != nil {
		return err
	}
	key, team := c.Query("key"), c.Query("team_id", c.Query("team"))
	if key != "" || team != "" {
		token := ""
		if key != "" {
			if token, err = tokenOf("key", key); err != nil {
				return err
			}
		}
		in := involvedAt(past.Snapshot, token, team, "", "", "", "")
		in.Time, in.Missing = past.Time, past.Bounds.Missing
		return c.JSON(in)
	}
	return c.JSON(PastState{At: strings.TrimSpace(at), Time: past.Time, Missing: past.Bounds.Missing, State: policy.Export(past.Snapshot)})
}
