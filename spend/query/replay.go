package query

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/gatehouse/gatehouse/schema"
)

// Decision is one recorded request as a policy decision reads it.
type Decision struct {
	RequestID                                 string
	Time                                      time.Time
	Auth                                      string
	KeyHash, TeamID, UserID, OrgID, EndUserID string
	ModelGroup                                string
	TotalTokens                               int64
	Cost                                      float64
	Outcome, DenyReason                       string
}

// Decisions streams the requests of [from, to) in time order to fn, one
// row at a time as ClickHouse sends its blocks: a week of a busy gateway
// is never held in memory, here or in ClickHouse (no LIMIT 1 BY, whose
// set of request ids would grow with the window). A duplicate row that got
// past the sink has its original's time, so it arrives right after it and
// is passed once. fn's error stops the stream.
func Decisions(ctx context.Context, conn driver.Conn, db string, from, to time.Time, fn func(Decision) error) error {
	if err := schema.ValidDatabase(db); err != nil {
		return err
	}
	q := "SELECT request_id, event_time, event_ms, auth, key_hash, team_id, user_id, org_id, end_user, model_group, total_tokens, cost, outcome, deny_reason FROM " +
		db + ".spend_events WHERE 1" + timeFrom(from) + timeBefore(to) +
		" ORDER BY event_time, event_ms, request_id"
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("spend decisions: %w", err)
	}
	defer rows.Close()
	var last string
	for rows.Next() {
		var (
			d      Decision
			t      time.Time
			ms     uint16
			tokens uint64
		)
		if err := rows.Scan(&d.RequestID, &t, &ms, &d.Auth, &d.KeyHash, &d.TeamID, &d.UserID, &d.OrgID, &d.EndUserID, &d.ModelGroup,
			&tokens, &d.Cost, &d.Outcome, &d.DenyReason); err != nil {
			return fmt.Errorf("spend decisions: %w", err)
		}
		if d.RequestID == last {
			continue
		}
		last = d.RequestID
		d.Time = t.UTC().Add(time.Duration(ms) * time.Millisecond)
		d.TotalTokens = int64(tokens)
		if err := fn(d); err != nil {
			return err
		}
	}
	return rows.Err()
}
