package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/control/dryrun"
	"github.com/gatehouse/gatehouse/control/store"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/spend/query"
)

// DryRunRequest is the body of POST /gatehouse/policy/dry-run: a proposal
// (a config.yaml, or admin API calls) and the window of recorded traffic
// to replay through it.
type DryRunRequest struct {
	// Config is a LiteLLM config.yaml's text: its model_list, access
	// groups and settings as a restart with it would change the policy.
	Config string `json:"config,omitempty"`
	// Changes are admin API calls, applied in order.
	Changes []DryRunChange `json:"changes,omitempty"`
	// Since is how far back to replay ("7d", "12h"); default 7d. From and
	// To (RFC 3339) bound the window instead.
	Since string     `json:"since,omitempty"`
	From  *time.Time `json:"from,omitempty"`
	To    *time.Time `json:"to,omitempty"`
}

// DryRunChange is one admin API call of a proposal.
type DryRunChange struct {
	Method string          `json:"method"`
	Path   string          `json:"path"`
	Body   json.RawMessage `json:"body,omitempty"`
}

// DryRunResult is the answer: the events the proposal would publish (it
// publishes none), the window, and what would change.
type DryRunResult struct {
	From     time.Time     `json:"from"`
	To       time.Time     `json:"to"`
	BaseSeq  uint64        `json:"base_seq"`
	Events   []DryRunEvent `json:"events"`
	Report   dryrun.Report `json:"report"`
	Duration float64       `json:"duration_seconds"`
	Rate     float64       `json:"rows_per_second"`
	Note     string        `json:"note,omitempty"`
}

// DryRunEvent names one event the proposal would have published.
type DryRunEvent struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// dryRun computes a proposal's events into a sandbox copy of the current
// snapshot (through the same handlers and config sync that publish them
// for real, against a store that publishes nothing) and replays the
// window's recorded requests through the current and the proposed policy.
func (a *API) dryRun(c *fiber.Ctx) error {
	st, err := a.spendStore()
	if err != nil {
		return err
	}
	var req DryRunRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if (req.Config == "") == (len(req.Changes) == 0) {
		return httpx.Param("config", "give exactly one of config (a config.yaml) or changes (admin API calls)")
	}
	now := a.store.Now()
	to, from := now, time.Time{}
	if req.To != nil {
		to = req.To.UTC()
	}
	switch {
	case req.From != nil:
		from = req.From.UTC()
	default:
		since := req.Since
		if since == "" {
			since = "7d"
		}
		d, err := parseDuration("since", since)
		if err != nil {
			return err
		}
		if d <= 0 {
			return httpx.Param("since", "must be positive, got %q", since)
		}
		from = to.Add(-d)
	}
	if !from.Before(to) {
		return httpx.Param("from", "%s is not before to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	base := a.store.Snapshot()
	sb := store.NewSandbox(base)
	dry := store.DryRun(sb, a.store.Now)
	if req.Config != "" {
		if a.opts.DryRunConfig == nil {
			return apierror.Unavailable.With("config dry runs are not available on this control plane")
		}
		if err := a.opts.DryRunConfig(c.UserContext(), dry, []byte(req.Config)); err != nil {
			e := apierror.BadRequest.Wrap(err, "config: %v", err)
			e.Param = "config"
			return e
		}
	} else if err := a.applyChanges(dry, req.Changes); err != nil {
		return err
	}
	out := DryRunResult{From: from, To: to, BaseSeq: base.Seq(), Events: []DryRunEvent{}}
	for _, ch := range sb.Changes() {
		out.Events = append(out.Events, DryRunEvent{Type: ch.Type, ID: events.ObjectID(ch.Object)})
	}
	cmp := dryrun.NewCompare(dryrun.New(base), dryrun.New(sb.Snapshot()))
	t0 := time.Now()
	if err := query.Decisions(c.UserContext(), st.Conn, st.Database, from, to, func(d query.Decision) error {
		cmp.Add(d)
		return nil
	}); err != nil {
		return apierror.Unavailable.Wrap(err, "spend store unavailable")
	}
	out.Duration = time.Since(t0).Seconds()
	out.Report = cmp.Report()
	if rows := out.Report.Rows + out.Report.Skipped; out.Duration > 0 {
		out.Rate = float64(rows) / out.Duration
	}
	roundReport(&out.Report)
	if len(out.Events) == 0 {
		out.Note = "the proposal changes nothing in the current policy"
	}
	return c.JSON(out)
}

// applyChanges runs admin API calls against a sandbox store through this
// API's own handlers (a copy of the app with the same options, a master
// key of its own, and no JetStream, ClickHouse or budget bucket, so no
// route can reach anything but the sandbox).
func (a *API) applyChanges(dry *store.Store, changes []DryRunChange) error {
	o := a.opts
	o.MasterKey = events.NewID()
	o.JS, o.Spend, o.Totals, o.Metrics, o.ServeMetrics, o.AccessLog = nil, nil, nil, nil, false, false
	app := New(dry, o)
	for i, ch := range changes {
		field := fmt.Sprintf("changes[%d]", i)
		method := strings.ToUpper(ch.Method)
		switch method {
		case http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodPut:
		default:
			return httpx.Param(field+".method", "%q is not a change: use POST, PATCH or DELETE", ch.Method)
		}
		if !strings.HasPrefix(ch.Path, "/") || strings.HasPrefix(ch.Path, "/gatehouse/") {
			return httpx.Param(field+".path", "%q is not an admin API change (e.g. /key/update, /team/update, /model/new)", ch.Path)
		}
		body := ch.Body
		if len(body) == 0 {
			body = json.RawMessage("{}")
		}
		r := httptest.NewRequest(method, ch.Path, bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+o.MasterKey)
		r.Header.Set("Content-Type", "application/json")
		resp, err := app.Test(r, -1)
		if err != nil {
			return apierror.Internal.Wrap(err, "%s: could not apply", field)
		}
		msg, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode >= 300 {
			var env apierror.Body
			text := string(msg)
			if json.Unmarshal(msg, &env) == nil && env.Error.Message != "" {
				text = env.Error.Message
			}
			return httpx.Param(field, "%s %s answered %d: %s", method, ch.Path, resp.StatusCode, text)
		}
	}
	return nil
}

func roundReport(r *dryrun.Report) {
	round := func(g *dryrun.Group) {
		g.NowRefusedCost, g.NowAllowedCost = Money(g.NowRefusedCost), Money(g.NowAllowedCost)
	}
	round(&r.Total)
	for i := range r.ByKey {
		round(&r.ByKey[i])
	}
	for i := range r.ByTeam {
		round(&r.ByTeam[i])
	}
	for i := range r.Flips {
		r.Flips[i].Cost = Money(r.Flips[i].Cost)
	}
}
