package api

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/spend/query"
)

// SpendStore is where finance reads spend: ClickHouse, filled by the sink.
type SpendStore struct {
	Conn     driver.Conn
	Database string
}

func (a *API) spendStore() (*SpendStore, error) {
	if a.spend == nil || a.spend.Conn == nil {
		return nil, apierror.Unavailable.With("spend reporting needs ClickHouse: start the control plane with -clickhouse")
	}
	return a.spend, nil
}

// dateParam reads YYYY-MM-DD (or LiteLLM's "YYYY-MM-DD HH:MM:SS", UTC,
// or RFC 3339) query parameters.
func dateParam(c *fiber.Ctx, name string) (time.Time, error) {
	return parseDate(name, c.Query(name))
}

// exclusiveEnd is end_date's instant end as an exclusive bound: a date
// includes its whole day, a date with a time its whole second.
func exclusiveEnd(c *fiber.Ctx, end time.Time) time.Time {
	switch len(c.Query("end_date")) {
	case len(time.DateOnly):
		return end.Add(24 * time.Hour)
	case len(dateTimeLayout):
		return end.Add(time.Second)
	}
	return end
}

// dateTimeLayout is LiteLLM's time of day in /spend/logs/v2's dates.
const dateTimeLayout = "2006-01-02 15:04:05"

// parseDate reads field name's date (zero when v is empty).
func parseDate(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.DateOnly, dateTimeLayout, time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, httpx.Param(name, "%q is not a date (YYYY-MM-DD, YYYY-MM-DD HH:MM:SS or RFC 3339)", v)
}

// spendLogs is LiteLLM's /spend/logs: recent requests, newest first, in
// LiteLLM's row shape (format=gatehouse: our spend event shape); with
// both start_date and end_date, LiteLLM's summary per day unless
// summarize=false.
func (a *API) spendLogs(c *fiber.Ctx) error {
	if err := checkQuery(c, "api_key", "key", "user_id", "team_id", "request_id", "start_date", "end_date", "summarize",
		"outcome", "reason", "limit", "format"); err != nil {
		return err
	}
	summarize := true
	if v := c.Query("summarize"); v != "" {
		var err error
		if summarize, err = strconv.ParseBool(v); err != nil {
			return httpx.Param("summarize", "%q is not a boolean (true or false)", v)
		}
	}
	format := c.Query("format", "litellm")
	if summarize && format == "litellm" && c.Query("start_date") != "" && c.Query("end_date") != "" {
		return a.spendSummary(c)
	}
	rows, err := a.logs(c)
	if err != nil {
		return err
	}
	switch format {
	case "litellm":
		out := make([]spendLog, 0, len(rows))
		for _, r := range rows {
			out = append(out, liteLLMSpendLog(r))
		}
		return c.JSON(out)
	case "gatehouse":
		return gatehouseRows(c, rows)
	}
	return httpx.Param("format", "must be litellm (the default) or gatehouse")
}

// gatehouseRows renders ledger rows in our event shape, as published and
// stored.
func gatehouseRows(c *fiber.Ctx, rows []query.Row) error {
	for i := range rows {
		rows[i].Cost = Money(rows[i].Cost)
	}
	if rows == nil {
		rows = []query.Row{}
	}
	return c.JSON(rows)
}

// outcomes a ledger row may have (the outcome filter).
var outcomes = []string{"ok", "client_aborted", "upstream_error", "timeout", events.OutcomeDenied}

// spendFilter reads the filters /spend/logs and /gatehouse/decisions
// share: api_key (or key), team_id, user_id, request_id, outcome, reason,
// start_date, end_date, limit.
//
// request_id is LiteLLM's: there it is the answer's id ("chatcmpl-…"),
// which is how its users find the row of a completion. It matches that
// (response_id), gatehouse's own id (x-litellm-call-id) or the client's
// x-request-id.
func spendFilter(c *fiber.Ctx) (query.Filter, error) {
	var err error
	f := query.Filter{TeamID: c.Query("team_id"), UserID: c.Query("user_id"), Limit: c.QueryInt("limit", query.DefaultLimit),
		Outcome: c.Query("outcome"), DenyReason: c.Query("reason"), RequestID: strings.TrimSpace(c.Query("request_id"))}
	if f.Outcome != "" && !slices.Contains(outcomes, f.Outcome) {
		return f, httpx.Param("outcome", "%q is not an outcome: want one of %s", f.Outcome, strings.Join(outcomes, ", "))
	}
	if f.DenyReason != "" && !slices.Contains(events.DenyReasons, f.DenyReason) {
		return f, httpx.Param("reason", "%q is not a denial reason: want one of %s", f.DenyReason, strings.Join(events.DenyReasons, ", "))
	}
	if k := c.Query("api_key", c.Query("key")); k != "" {
		if f.KeyHash, err = tokenOf("api_key", k); err != nil {
			return f, err
		}
	}
	if f.Start, err = dateParam(c, "start_date"); err != nil {
		return f, err
	}
	if f.End, err = dateParam(c, "end_date"); err != nil {
		return f, err
	}
	f.End = exclusiveEnd(c, f.End)
	if f.Limit <= 0 || f.Limit > query.MaxLimit {
		return f, httpx.Param("limit", "must be between 1 and %d", query.MaxLimit)
	}
	return f, nil
}

// decisions is /gatehouse/decisions: the ledger's rows, served and
// refused, newest first, in our event shape (policy_seq, deny_reason,
// deny_rule included), for security and finance; filters as /spend/logs
// (outcome=denied for refusals only).
func (a *API) decisions(c *fiber.Ctx) error {
	rows, err := a.logs(c)
	if err != nil {
		return err
	}
	return gatehouseRows(c, rows)
}

// filtered is the spend store and the request's filters (spendFilter).
func (a *API) filtered(c *fiber.Ctx) (*SpendStore, query.Filter, error) {
	st, err := a.spendStore()
	if err != nil {
		return nil, query.Filter{}, err
	}
	f, err := spendFilter(c)
	return st, f, err
}

// logs reads the ledger rows the request's filters select.
func (a *API) logs(c *fiber.Ctx) ([]query.Row, error) {
	st, f, err := a.filtered(c)
	if err != nil {
		return nil, err
	}
	rows, err := query.Logs(c.UserContext(), st.Conn, st.Database, f)
	if err != nil {
		return nil, apierror.Unavailable.Wrap(err, "spend store unavailable")
	}
	return rows, nil
}

// globalSpendReport is LiteLLM's /global/spend/report: spend per day and
// team (or key, user, model, org per month).
func (a *API) globalSpendReport(c *fiber.Ctx) error {
	if _, err := a.spendStore(); err != nil {
		return err
	}
	start, err := dateParam(c, "start_date")
	if err != nil {
		return err
	}
	end, err := dateParam(c, "end_date")
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	if end.IsZero() {
		end = now
	}
	if start.IsZero() {
		start = end.AddDate(0, 0, -30)
	}
	if end.Before(start) {
		return httpx.Param("end_date", "is before start_date")
	}
	groupBy := c.Query("group_by", "team")
	switch groupBy {
	case "api_key":
		groupBy = "key"
	case "customer":
		groupBy = "user"
	}
	switch groupBy {
	case "team", "key", "user", "model", "org":
	default:
		return httpx.Param("group_by", "must be team, key (api_key), user, model or org")
	}
	rows, err := a.report(c, start, end, groupBy)
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []query.ReportRow{}
	}
	for i := range rows {
		rows[i].Cost = Money(rows[i].Cost)
	}
	return c.JSON(fiber.Map{"group_by": groupBy, "start_date": start.Format("2006-01-02"), "end_date": end.Format("2006-01-02"), "data": rows})
}

// report reads query.Report; a ClickHouse failure is a 503.
func (a *API) report(c *fiber.Ctx, start, end time.Time, groupBy string) ([]query.ReportRow, error) {
	st, err := a.spendStore()
	if err != nil {
		return nil, err
	}
	rows, err := query.Report(c.UserContext(), st.Conn, st.Database, start, end, groupBy)
	if err != nil {
		return nil, apierror.Unavailable.Wrap(err, "spend store unavailable")
	}
	return rows, nil
}
