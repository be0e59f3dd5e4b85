package query

import (
	"context"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/gatehouse/gatehouse/schema"
)

// TagSpend is the spend of one request tag: its requests (rows whose
// request_tags hold it) and their cost. A request with several tags
// counts once under each, as LiteLLM's jsonb_array_elements_text does.
type TagSpend struct {
	Tag      string
	Requests uint64
	Spend    float64
}

// TagFilter selects the rows SpendByTag sums.
type TagFilter struct {
	// Start and End bound the request time, [Start, End); zero is open.
	Start, End time.Time
	// Tags, when not empty, keeps only those tags.
	Tags []string
	// UserID and KeyHash, when set, keep that user's (key's) rows: a
	// caller that is not an admin sees its own spend only.
	UserID, KeyHash string
	// Offset and Limit page the tags; Limit 0 is no limit.
	Offset, Limit int
}

// SpendByTag sums spend per request tag over f's rows, highest spend
// first, then by tag. Untagged rows are not read past their (empty)
// array, and a duplicate row that got past the sink counts once (LIMIT 1
// BY request_id).
func SpendByTag(ctx context.Context, conn driver.Conn, db string, f TagFilter) ([]TagSpend, error) {
	if err := schema.ValidDatabase(db); err != nil {
		return nil, err
	}
	inner := "SELECT request_tags, cost FROM " + db + ".spend_events WHERE notEmpty(request_tags)"
	if !f.Start.IsZero() {
		inner += timeFrom(f.Start)
	}
	if !f.End.IsZero() {
		inner += timeBefore(f.End)
	}
	var args []any
	for _, c := range []struct{ col, v string }{{"user_id", f.UserID}, {"key_hash", f.KeyHash}} {
		if c.v != "" {
			inner += " AND " + c.col + " = ?"
			args = append(args, c.v)
		}
	}
	inner += " LIMIT 1 BY request_id"
	q := "SELECT tag, count(), sum(cost) FROM (SELECT arrayJoin(request_tags) AS tag, cost FROM (" + inner + "))"
	if len(f.Tags) > 0 {
		q += " WHERE has(?, tag)" // IN (?) gets the array as one value on 18.16
		args = append(args, f.Tags)
	}
	q += " GROUP BY tag ORDER BY sum(cost) DESC, tag"
	if f.Limit > 0 {
		q += " LIMIT " + strconv.Itoa(max(f.Offset, 0)) + ", " + strconv.Itoa(f.Limit)
	}
	return collect(ctx, conn, "spend by tag", q, args, func(rows driver.Rows, r *TagSpend) error {
		return rows.Scan(&r.Tag, &r.Requests, &r.Spend)
	})
}
