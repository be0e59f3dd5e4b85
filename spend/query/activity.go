package query

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/gatehouse/gatehouse/schema"
)

// ActivityFilter selects the rows of LiteLLM's daily activity routes
// (/user/daily/activity, /team/daily/activity).
type ActivityFilter struct {
	// By is the entity: "user" (user_id), "team" (team_id) or "tag" (each
	// of request_tags: a request counts once under each of its tags).
	By string
	// IDs keeps those entities: nil keeps every one, an empty non-nil
	// slice none (a caller with no teams sees nothing, not everything).
	IDs []string
	// Exclude leaves those entities out.
	Exclude []string
	// Start and End are UTC days, both included.
	Start, End time.Time
	// Model is the upstream model (LiteLLM's "model" column); KeyHash the
	// key's sha256. Empty does not filter.
	Model, KeyHash string
	// Offset and Limit page the rows, newest day first.
	Offset, Limit int
}

// ActivityRow is one row of LiteLLM's daily spend tables: a UTC day,
// entity, key, model, model group, provider and endpoint, with the sums of
// its requests.
type ActivityRow struct {
	Date                                                     time.Time
	Entity, KeyHash, KeyAlias, TeamID, UserID                string
	Model, ModelGroup, Provider, Endpoint                    string
	Cost                                                     float64
	PromptTokens, CompletionTokens, CacheRead, CacheCreation uint64
	Requests, Successful, Failed                             uint64
}

var activityEntity = map[string]string{"user": "user_id", "team": "team_id", "tag": "tag"}

// Activity returns a page of f's rows and how many rows f selects in all.
// It reads spend_events: the rollups hold neither the prompt cache token
// counts nor the endpoint these routes answer. A request counts as
// successful when its outcome is "ok", as failed otherwise (refusals
// included), like the rollups' errors.
func Activity(ctx context.Context, conn driver.Conn, db string, f ActivityFilter) ([]ActivityRow, uint64, error) {
	if err := schema.ValidDatabase(db); err != nil {
		return nil, 0, err
	}
	ent, ok := activityEntity[f.By]
	if !ok {
		return nil, 0, fmt.Errorf("spend activity: by %q: want user, team or tag", f.By)
	}
	days := "date >= " + dateLit(f.Start) + " AND date <= " + dateLit(f.End)
	where, src := days, db+".spend_events"
	if f.By == "tag" {
		// The days' tagged rows, one per tag (the date bounds inside
		// too: 18.16 does not push them into a subquery).
		src = "(SELECT *, arrayJoin(request_tags) AS tag FROM " + db + ".spend_events WHERE " + days + ")"
	}
	var args []any
	if f.IDs != nil {
		if len(f.IDs) == 0 {
			return nil, 0, nil
		}
		where += " AND has(?, " + ent + ")" // IN (?) gets the array as one value on 18.16
		args = append(args, f.IDs)
	}
	if len(f.Exclude) > 0 {
		where += " AND NOT has(?, " + ent + ")"
		args = append(args, f.Exclude)
	}
	for _, c := range []struct{ col, v string }{{"model", f.Model}, {"key_hash", f.KeyHash}} {
		if c.v != "" {
			where += " AND " + c.col + " = ?"
			args = append(args, c.v)
		}
	}
	group := "date, " + ent + ", key_hash, model, model_group, provider, endpoint"
	var total uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM (SELECT 1 FROM "+src+" WHERE "+where+" GROUP BY "+group+")",
		args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("spend activity: %w", err)
	}
	q := "SELECT " + group + ", any(key_alias), any(team_id), any(user_id), sum(cost), sum(prompt_tokens), sum(completion_tokens), " +
		"sum(cached_tokens), sum(cache_creation_tokens), count(), countIf(outcome = 'ok'), countIf(outcome != 'ok') FROM " +
		src + " WHERE " + where + " GROUP BY " + group + " ORDER BY date DESC, " + ent +
		", key_hash, model, model_group, provider, endpoint LIMIT " + strconv.Itoa(max(f.Offset, 0)) + ", " + strconv.Itoa(max(f.Limit, 0))
	out, err := collect(ctx, conn, "spend activity", q, args, func(rows driver.Rows, r *ActivityRow) error {
		err := rows.Scan(&r.Date, &r.Entity, &r.KeyHash, &r.Model, &r.ModelGroup, &r.Provider, &r.Endpoint, &r.KeyAlias, &r.TeamID,
			&r.UserID, &r.Cost, &r.PromptTokens, &r.CompletionTokens, &r.CacheRead, &r.CacheCreation,
			&r.Requests, &r.Successful, &r.Failed)
		r.Date = r.Date.UTC()
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}
