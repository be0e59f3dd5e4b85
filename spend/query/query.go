// Package query is the read side of spend in ClickHouse, for the admin
// API: request logs (/spend/logs, a time range newest first with a limit),
// reports from the daily rollups (/global/spend/report; package rollup)
// and totals since a point in time.
//
// Days and months are UTC. The queries run on ClickHouse 18.16 and current
// releases (no window functions, no read-in-order optimisation relied on).
package query

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/schema"
	"github.com/gatehouse/gatehouse/spend/rollup"
)

// Limits of Logs.
const (
	DefaultLimit = 100
	MaxLimit     = 10_000
)

// Filter selects request logs. Empty fields do not filter.
type Filter struct {
	KeyHash string
	TeamID  string
	UserID  string
	// Outcome ("ok", "denied", ...) and DenyReason (a events.Deny* code)
	// select decisions: refusals are rows of the ledger too.
	Outcome    string
	DenyReason string
	// RequestID matches the edge's request id, the client's x-request-id
	// (client_request_id) or the answer's id (response_id), which is
	// LiteLLM's request_id.
	RequestID string
	// Start and End bound the request time, [Start, End); zero means
	// the first (last) stored day.
	Start, End time.Time
	// Limit of rows, newest first; default 100, at most 10,000.
	Limit int
	// LiteLLM's /spend/logs/v2 filters: the upstream model, model group,
	// deployment (model_id), end user, a key alias substring, the
	// status ("success": outcome ok; "failure": any other), the HTTP
	// status of a failed request, and bounds on a request's cost. Empty
	// (nil) does not filter.
	Model, ModelGroup, Deployment, EndUser, KeyAliasLike, Status string
	ErrorCode                                                    uint16
	MinSpend, MaxSpend                                           *float64
}

// where is f's condition (without its time bounds) and its arguments.
func (f Filter) where() (string, []any) {
	q := ""
	var args []any
	for _, c := range []struct{ col, v string }{{"key_hash", f.KeyHash}, {"team_id", f.TeamID}, {"user_id", f.UserID},
		{"outcome", f.Outcome}, {"deny_reason", f.DenyReason}, {"model", f.Model}, {"model_group", f.ModelGroup},
		{"deployment_id", f.Deployment}, {"end_user", f.EndUser}} {
		if c.v != "" {
			q += " AND " + c.col + " = ?"
			args = append(args, c.v)
		}
	}
	if f.RequestID != "" {
		q += " AND (request_id = ? OR client_request_id = ? OR response_id = ?)"
		args = append(args, f.RequestID, f.RequestID, f.RequestID)
	}
	if f.KeyAliasLike != "" {
		q += " AND position(key_alias, ?) > 0"
		args = append(args, f.KeyAliasLike)
	}
	switch f.Status {
	case "success":
		q += " AND outcome = 'ok'"
	case "failure":
		q += " AND outcome != 'ok'"
	}
	if f.ErrorCode != 0 {
		q += " AND outcome != 'ok' AND status = " + strconv.Itoa(int(f.ErrorCode))
	}
	if f.MinSpend != nil {
		q += " AND cost >= ?"
		args = append(args, *f.MinSpend)
	}
	if f.MaxSpend != nil {
		q += " AND cost <= ?"
		args = append(args, *f.MaxSpend)
	}
	return q, args
}

// Row is one request as stored: the spend event that was published (Time
// at millisecond precision, UTC).
type Row = events.SpendEvent

const logColumns = "request_id, event_time, event_ms, key_hash, key_alias, user_id, team_id, org_id, end_user, auth, " +
	"model_group, model, deployment_id, provider, prompt_tokens, completion_tokens, total_tokens, estimated, cost, " +
	"latency_ms, ttft_ms, status, stream, outcome, edge_id, region, client_request_id, " +
	"policy_seq, deny_reason, deny_rule, cached_tokens, cache_creation_tokens, endpoint, response_id, request_tags"

// Logs returns the requests matching f, newest first.
//
// It pages backwards through time: the newest hour of the range first,
// then windows four times longer, until it has Limit rows or reached the
// range's start, so a query for the last 100 requests of a key reads the
// last hours of the ledger, not the month the range allows. A request's
// rows share their event time, so a duplicate that got past the sink is in
// the same window as its original (LIMIT 1 BY hides it).
func Logs(ctx context.Context, conn driver.Conn, db string, f Filter) ([]Row, error) {
	if err := schema.ValidDatabase(db); err != nil {
		return nil, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	lo, hi := f.Start, f.End
	if lo.IsZero() || hi.IsZero() {
		// The stored days bound an open end; the parts' metadata knows
		// them without reading the table.
		cluster, err := schema.Cluster(ctx, conn, db)
		if err != nil {
			return nil, fmt.Errorf("spend logs: %w", err)
		}
		q, args := "SELECT min(min_date), max(max_date) FROM system.parts WHERE database = ? AND table = 'spend_events' AND active", []any{db}
		if cluster != "" {
			// This node's system.parts knows only its shard: ask every
			// shard (a scan of the date column, the first of the key).
			q, args = "SELECT min(date), max(date) FROM "+db+".spend_events", nil
		}
		var first, last time.Time
		if err := conn.QueryRow(ctx, q, args...).Scan(&first, &last); err != nil {
			return nil, fmt.Errorf("spend logs: %w", err)
		}
		if lo.IsZero() {
			lo = first.UTC()
		}
		if hi.IsZero() {
			hi = last.UTC().Add(24 * time.Hour)
		}
	}
	var out []Row
	for window := time.Hour; hi.After(lo) && len(out) < limit; window *= 4 {
		from := hi.Add(-window)
		if from.Sub(lo) < window/2 {
			from = lo // the last step would be small: take the rest at once
		}
		rows, err := logsBetween(ctx, conn, db, f, from, hi, limit-len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
		hi = from
	}
	return out, nil
}

// logsBetween returns up to limit requests matching f in [from, to),
// newest first.
func logsBetween(ctx context.Context, conn driver.Conn, db string, f Filter, from, to time.Time, limit int) ([]Row, error) {
	cond, args := f.where()
	q := "SELECT " + logColumns + " FROM " + db + ".spend_events WHERE 1" + timeFrom(from) + timeBefore(to) + cond
	// LIMIT 1 BY: a duplicate that got past the sink shows once.
	q += " ORDER BY event_time DESC, event_ms DESC, request_id LIMIT 1 BY request_id LIMIT " + strconv.Itoa(limit)
	return scanLogs(ctx, conn, q, args)
}

// scanLogs runs q, a SELECT of logColumns, and reads its rows.
func scanLogs(ctx context.Context, conn driver.Conn, q string, args []any) ([]Row, error) {
	return collect(ctx, conn, "spend logs", q, args, func(rows driver.Rows, r *Row) error {
		var (
			t                         time.Time
			ms, status                uint16
			prompt, completion, total uint64
			cached, creation          uint64
			estimated, stream         uint8
		)
		if err := rows.Scan(&r.RequestID, &t, &ms, &r.KeyHash, &r.KeyAlias, &r.UserID, &r.TeamID, &r.OrgID, &r.EndUserID, &r.Auth,
			&r.ModelGroup, &r.Model, &r.Deployment, &r.Provider, &prompt, &completion, &total, &estimated, &r.Cost,
			&r.LatencyMS, &r.TTFTMS, &status, &stream, &r.Outcome, &r.EdgeID, &r.Region, &r.ClientRequestID,
			&r.PolicySeq, &r.DenyReason, &r.DenyRule, &cached, &creation, &r.Endpoint, &r.ResponseID, &r.RequestTags); err != nil {
			return err
		}
		if len(r.RequestTags) == 0 {
			r.RequestTags = nil // as the event was: untagged
		}
		r.Type = events.SpendV1
		r.Time = t.UTC().Add(time.Duration(ms) * time.Millisecond)
		r.PromptTokens, r.CompletionTokens, r.TotalTokens = int64(prompt), int64(completion), int64(total)
		r.CachedTokens, r.CacheCreationTokens = int64(cached), int64(creation)
		r.Estimated, r.Stream, r.Status = estimated != 0, stream != 0, int(status)
		return nil
	})
}

// ReportRow is the spend of one group on one day (one month for "org").
type ReportRow struct {
	// Date is the UTC day, or the first day of the month for "org".
	Date time.Time `json:"date"`
	// Group is the team id, key hash, user id, model group or org id.
	Group string `json:"group"`
	// Name is the key alias for "key", empty otherwise.
	Name             string  `json:"name,omitempty"`
	Cost             float64 `json:"spend"`
	PromptTokens     uint64  `json:"prompt_tokens"`
	CompletionTokens uint64  `json:"completion_tokens"`
	TotalTokens      uint64  `json:"total_tokens"`
	Requests         uint64  `json:"requests"`
	// Errors counts requests whose outcome was not "ok".
	Errors uint64 `json:"errors"`
}

// reports: the day expression, group column and name expression of each
// grouping, and the rollup table it reads.
var reports = map[string]struct{ table, day, group, name string }{
	"team":  {"spend_rollup_team", "date", "team_id", "''"},
	"key":   {"spend_rollup_key", "date", "key_hash", "any(key_alias)"},
	"user":  {"spend_rollup_user", "date", "user_id", "''"},
	"model": {"spend_rollup_model", "date", "model_group", "''"},
	"org":   {"spend_rollup_org", "toStartOfMonth(date)", "org_id", "''"},
}

// source is the rows of the rollup table for where (a condition on date):
// rollup rows for rolled days, requests for the others (rollup.Source).
func source(db, cluster, table, where string) string {
	t, ok := rollup.Lookup(table)
	if !ok {
		panic("spend query: no rollup table " + table)
	}
	return t.Source(db, cluster, where)
}

// Report returns spend per day and group for the UTC days from start to
// end, both included (time of day is ignored), read from the daily rollup;
// groupBy is "team", "key", "user", "model" (model group) or "org" (per
// month: the months overlapping the range). Rows are ordered by date, then
// by spend, highest first.
func Report(ctx context.Context, conn driver.Conn, db string, start, end time.Time, groupBy string) ([]ReportRow, error) {
	if err := schema.ValidDatabase(db); err != nil {
		return nil, err
	}
	r, ok := reports[groupBy]
	if !ok {
		return nil, fmt.Errorf("spend report: group by %q: want team, key, user, model or org", groupBy)
	}
	cluster, err := schema.Cluster(ctx, conn, db)
	if err != nil {
		return nil, fmt.Errorf("spend report: %w", err)
	}
	where := "date >= " + dateLit(start) + " AND date <= " + dateLit(end)
	if groupBy == "org" {
		where = "date >= toStartOfMonth(" + dateLit(start) + ") AND toStartOfMonth(date) <= toStartOfMonth(" + dateLit(end) + ")"
	}
	q := "SELECT " + r.day + " AS day, " + r.group + ", " + r.name + ", sum(cost), sum(prompt_tokens), sum(completion_tokens), " +
		"sum(total_tokens), sum(requests), sum(errors) FROM " + source(db, cluster, r.table, where) +
		" GROUP BY day, " + r.group + " ORDER BY day, sum(cost) DESC, " + r.group
	return collect(ctx, conn, "spend report", q, nil, func(rows driver.Rows, x *ReportRow) error {
		err := rows.Scan(&x.Date, &x.Group, &x.Name, &x.Cost, &x.PromptTokens, &x.CompletionTokens, &x.TotalTokens, &x.Requests, &x.Errors)
		x.Date = x.Date.UTC()
		return err
	})
}

// collect runs q and reads each row with scan: the read side's one loop
// over a result, its errors named by what was read.
func collect[T any](ctx context.Context, conn driver.Conn, what, q string, args []any, scan func(driver.Rows, *T) error) ([]T, error) {
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var r T
		if err := scan(rows, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

var totalsBy = map[string]string{"key": "key_hash", "team": "team_id", "user": "user_id"}

var totalsTable = map[string]string{"key": "spend_rollup_key", "team": "spend_rollup_team", "user": "spend_rollup_user"}

// Totals returns the spend per key hash, team id or user id (by is "key",
// "team" or "user") of the requests that started at or after since (zero:
// all time). Whole days come from the daily rollup; the part of the first
// day after since, if since is not a UTC midnight, from spend_events.
// Requests without that id are left out.
func Totals(ctx context.Context, conn driver.Conn, db string, since time.Time, by string) (map[string]float64, error) {
	if err := schema.ValidDatabase(db); err != nil {
		return nil, err
	}
	col, ok := totalsBy[by]
	if !ok {
		return nil, fmt.Errorf("spend totals: by %q: want key, team or user", by)
	}
	cluster, err := schema.Cluster(ctx, conn, db)
	if err != nil {
		return nil, fmt.Errorf("spend totals: %w", err)
	}
	out := map[string]float64{}
	days := "1"
	if !since.IsZero() {
		since = since.UTC()
		day := time.Date(since.Year(), since.Month(), since.Day(), 0, 0, 0, 0, time.UTC)
		if since.Equal(day) {
			days = "date >= " + dateLit(day)
		} else {
			days = "date > " + dateLit(day)
			partial := "SELECT " + col + ", sum(cost) FROM " + db + ".spend_events WHERE " + col + " != '' AND date = " +
				dateLit(day) + timeFrom(since) + " GROUP BY " + col
			if err := sumInto(ctx, conn, partial, out); err != nil {
				return nil, err
			}
		}
	}
	daily := "SELECT " + col + ", sum(cost) FROM " + source(db, cluster, totalsTable[by], days) + " WHERE " + col + " != '' GROUP BY " + col
	if err := sumInto(ctx, conn, daily, out); err != nil {
		return nil, err
	}
	return out, nil
}

func sumInto(ctx context.Context, conn driver.Conn, q string, out map[string]float64) error {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("spend totals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var cost float64
		if err := rows.Scan(&id, &cost); err != nil {
			return fmt.Errorf("spend totals: %w", err)
		}
		out[id] += cost
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("spend totals: %w", err)
	}
	return nil
}

// dateLit is t's UTC day as a Date literal.
func dateLit(t time.Time) string { return "toDate('" + clamp(t.UTC()).Format(time.DateOnly) + "')" }

var (
	minTime = time.Unix(0, 0).UTC()
	maxTime = time.Date(2105, 1, 1, 0, 0, 0, 0, time.UTC)
)

// clamp keeps t within what Date and DateTime hold.
func clamp(t time.Time) time.Time {
	if t.Before(minTime) {
		return minTime
	}
	if t.After(maxTime) {
		return maxTime
	}
	return t
}

// timeFrom is the condition event time >= t, to the millisecond; the
// date and second terms let ClickHouse prune by the sorting key.
func timeFrom(t time.Time) string {
	t = clamp(t)
	sec, ms := t.Unix(), t.UnixMilli()
	return " AND date >= " + dateLit(t) + " AND event_time >= toDateTime(" + strconv.FormatInt(sec, 10) +
		") AND toUInt64(event_time) * 1000 + event_ms >= " + strconv.FormatInt(ms, 10)
}

// timeBefore is the condition event time < t, to the millisecond.
func timeBefore(t time.Time) string {
	t = clamp(t)
	sec, ms := t.Unix(), t.UnixMilli()
	return " AND date <= " + dateLit(t) + " AND event_time <= toDateTime(" + strconv.FormatInt(sec, 10) +
		") AND toUInt64(event_time) * 1000 + event_ms < " + strconv.FormatInt(ms, 10)
}
