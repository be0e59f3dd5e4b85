package query

import (
	"context"
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

// SpendByTag sums spend per request tag over [start, end) (a zero bound
// is open), highest spend first, then by tag. tags, when not empty, keeps
// only those tags. Untagged rows are not read past their (empty) array,
// and a duplicate row that got past the sink counts once (LIMIT 1 BY).
func SpendByTag(ctx context.Context, conn driver.Conn, db string, start, end time.Time, tags []string) ([]TagSpend, error) {
	if err := schema.ValidDatabase(db); err != nil {
		return nil, err
	}
	inner := "SELECT request_tags, cost FROM " + db + ".spend_events WHERE notEmpty(request_tags)"
	if !start.IsZero() {
		inner += timeFrom(start)
	}
	if !end.IsZero() {
		inner += timeBefore(end)
	}
	inner += " LIMIT 1 BY request_id"
	q := "SELECT tag, count(), sum(cost) FROM (SELECT arrayJoin(request_tags) AS tag, cost FROM (" + inner + "))"
	var args []any
	if len(tags) > 0 {
		q += " WHERE has(?, tag)" // IN (?) gets the array as one value on 18.16
		args = append(args, tags)
	}
	q += " GROUP BY tag ORDER BY sum(cost) DESC, tag"
	return collect(ctx, conn, "spend by tag", q, args, func(rows driver.Rows, r *TagSpend) error {
		return rows.Scan(&r.Tag, &r.Requests, &r.Spend)
	})
}
