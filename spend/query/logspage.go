package query

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/gatehouse/gatehouse/schema"
)

// LogSorts are the orders of LogsPage: LiteLLM's sort_by names and the
// expression each sorts by.
var LogSorts = map[string]string{
	"startTime":           "toUInt64(event_time) * 1000 + event_ms",
	"endTime":             "toUInt64(event_time) * 1000 + event_ms + latency_ms",
	"spend":               "cost",
	"total_tokens":        "total_tokens",
	"request_duration_ms": "latency_ms",
	"ttft_ms":             "ttft_ms",
	"model":               "model",
}

// LogsPage returns the page of f's requests in [f.Start, f.End) (both
// required) that starts at offset, sorted by sortBy (a LogSorts name,
// then by request id), and how many requests f selects in all: LiteLLM's
// /spend/logs/v2.
func LogsPage(ctx context.Context, conn driver.Conn, db string, f Filter, offset, limit int, sortBy string, asc bool) ([]Row, uint64, error) {
	if err := schema.ValidDatabase(db); err != nil {
		return nil, 0, err
	}
	key, ok := LogSorts[sortBy]
	if !ok || f.Start.IsZero() || f.End.IsZero() {
		return nil, 0, fmt.Errorf("spend logs page: sort %q, range %v-%v", sortBy, f.Start, f.End)
	}
	cond, args := f.where()
	where := " WHERE 1" + timeFrom(f.Start) + timeBefore(f.End) + cond
	var total uint64
	if err := conn.QueryRow(ctx, "SELECT uniqExact(request_id) FROM "+db+".spend_events"+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("spend logs: %w", err)
	}
	dir := " DESC"
	if asc {
		dir = " ASC"
	}
	q := "SELECT " + logColumns + " FROM " + db + ".spend_events" + where + " ORDER BY " + key + dir + ", request_id" + dir +
		" LIMIT 1 BY request_id LIMIT " + strconv.Itoa(max(offset, 0)) + ", " + strconv.Itoa(max(limit, 0))
	rows, err := scanLogs(ctx, conn, q, args)
	return rows, total, err
}

// SummaryRow is the spend of one key, user and upstream model on one UTC
// day.
type SummaryRow struct {
	Date                 time.Time
	KeyHash, User, Model string
	Cost                 float64
}

// Summary sums f's requests in [f.Start, f.End) per UTC day, key, user
// and upstream model, by day: LiteLLM's summarized /spend/logs.
func Summary(ctx context.Context, conn driver.Conn, db string, f Filter) ([]SummaryRow, error) {
	if err := schema.ValidDatabase(db); err != nil {
		return nil, err
	}
	cond, args := f.where()
	q := "SELECT date, key_hash, user_id, model, sum(cost) FROM " + db + ".spend_events WHERE 1" + timeFrom(f.Start) +
		timeBefore(f.End) + cond + " GROUP BY date, key_hash, user_id, model ORDER BY date, key_hash, user_id, model"
	return collect(ctx, conn, "spend summary", q, args, func(rows driver.Rows, r *SummaryRow) error {
		err := rows.Scan(&r.Date, &r.KeyHash, &r.User, &r.Model, &r.Cost)
		r.Date = r.Date.UTC()
		return err
	})
}

// EndUserSpend is one end user's requests and spend.
type EndUserSpend struct {
	EndUser  string  `json:"end_user"`
	Requests uint64  `json:"total_count"`
	Cost     float64 `json:"total_spend"`
}

// EndUsers returns the limit end users that spent the most on the UTC
// days from start to end (both included), highest first: from the end
// user rollup, or, for one key (keyHash; the rollup has no key), from
// spend_events.
func EndUsers(ctx context.Context, conn driver.Conn, db string, start, end time.Time, keyHash string, limit int) ([]EndUserSpend, error) {
	if err := schema.ValidDatabase(db); err != nil {
		return nil, err
	}
	days := "date >= " + dateLit(start) + " AND date <= " + dateLit(end)
	var from string
	var args []any
	if keyHash == "" {
		cluster, err := schema.Cluster(ctx, conn, db)
		if err != nil {
			return nil, fmt.Errorf("spend end users: %w", err)
		}
		from = source(db, cluster, "spend_rollup_end_user", days)
	} else {
		from = db + ".spend_events WHERE " + days + " AND key_hash = ?"
		args = append(args, keyHash)
	}
	// The rollup's rows count requests; a ledger row is one.
	count := "sum(requests)"
	if keyHash != "" {
		count = "count()"
	}
	q := "SELECT end_user, " + count + ", sum(cost) AS spend FROM " + from + " GROUP BY end_user ORDER BY spend DESC, end_user LIMIT " +
		strconv.Itoa(limit)
	out, err := collect(ctx, conn, "spend end users", q, args, func(rows driver.Rows, r *EndUserSpend) error {
		return rows.Scan(&r.EndUser, &r.Requests, &r.Cost)
	})
	if out == nil && err == nil {
		out = []EndUserSpend{} // an empty list, not null
	}
	return out, err
}
