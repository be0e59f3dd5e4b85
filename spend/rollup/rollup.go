// Package rollup owns the daily spend rollups in ClickHouse (tables
// spend_rollup*, schema migration 0005) and the guarantee that they are
// exact: a rollup never counts a request twice or misses one, through sink
// restarts, ClickHouse restarts and redelivery, on 18.16 and current
// releases.
//
// How (no insert-time materialized view: on 18.16 it is not atomic with
// the insert into spend_events, and a lost rollup block can never be
// repaired by a sink that rightly skips stored request ids):
//
//   - A rollup row is never an increment. Rolling a day computes every
//     group of the day from the ledger (INSERT ... SELECT ... FROM
//     spend_events WHERE date = D GROUP BY ...) and inserts the rows with a
//     version (the roller's clock, ns) in ReplacingMergeTree(version);
//     readers use FINAL. Rolling a day twice yields the same rows, so
//     redelivery, retries and rebuilds are idempotent. Groups of a day only
//     grow (ledger rows are never deleted), so a newer roll replaces every
//     row of an older one.
//   - spend_rollup_days marks days: 'rolling' before a roll starts, 'done'
//     after it finished. Readers (the finance views, Report) take 'done'
//     days from the rollups and all other days from spend_events, reading
//     the done days once per query (Source): a day marked done between two
//     reads of them would be in neither half or in both.
//   - The sink, after a batch's insert succeeded and before acking it,
//     rolls again every day of the batch (inserted or skipped as already
//     stored) that is marked in any state or is over (before today, UTC).
//     Consider the roll R with the highest version of a day: every row r of
//     that day was either stored before the day was marked (then R, which
//     started after the mark, sees it) or its sink saw the mark and rolled
//     after storing r, with a version below R's, so R started after r was
//     stored. A crash between insert and roll leaves the batch unacked: the
//     redelivery skips the stored rows but still rolls their days.
//   - The sink's Roller rolls the days that are over and not yet done (a
//     minute's work per new day), so the views stay cheap without anyone
//     running rebuild-rollups.
//
// On a ClickHouse cluster (schema's cluster form) the same statements go
// through the Distributed tables: a roll aggregates the day over every
// shard and inserts with insert_distributed_sync (schema.InsertContext),
// so it fails, to be retried, while a shard is down; subqueries become
// GLOBAL IN. Rebuild leaves merging to the shards (OPTIMIZE does not pass
// through a Distributed table).
//
// Versions come from the clocks of the processes that roll; with several
// sink hosts, keep their clocks synchronised (NTP) – skew larger than the
// gap between two rolls of one day could let an older roll win until the
// next roll of that day.
package rollup

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/gatehouse/gatehouse/schema"
)

// Table is one rollup table: spend per day and Dims, with Extra columns
// carried as any() of the group (a key's alias, a team's org).
type Table struct {
	Name  string
	Dims  []string
	Extra []string
}

// Tables are the rollups, as created by migration 0005.
var Tables = []Table{
	{"spend_rollup", []string{"team_id", "key_hash", "user_id", "org_id", "model_group", "model", "provider"}, []string{"key_alias"}},
	{"spend_rollup_team", []string{"team_id"}, []string{"org_id"}},
	{"spend_rollup_key", []string{"key_hash"}, []string{"key_alias", "team_id", "user_id"}},
	{"spend_rollup_user", []string{"user_id"}, []string{"team_id"}},
	{"spend_rollup_model", []string{"model_group", "model", "provider"}, nil},
	{"spend_rollup_org", []string{"org_id"}, nil},
	{"spend_rollup_end_user", []string{"end_user"}, nil},
}

// Lookup returns the rollup table named name.
func Lookup(name string) (Table, bool) {
	i := slices.IndexFunc(Tables, func(t Table) bool { return t.Name == name })
	if i < 0 {
		return Table{}, false
	}
	return Tables[i], true
}

// Measures are the summed columns of every rollup.
const Measures = schema.RollupMeasures

func (t Table) cols() string { return strings.Join(append(slices.Clone(t.Dims), t.Extra...), ", ") }

// rollSQL is the INSERT ... SELECT that rolls day (a Date literal) into t.
func (t Table) rollSQL(db, day string, version uint64) string {
	var sel strings.Builder
	sel.WriteString("date, " + strings.Join(t.Dims, ", "))
	for _, e := range t.Extra {
		sel.WriteString(", any(" + e + ")")
	}
	return "INSERT INTO " + db + "." + t.Name + " (date, " + t.cols() + ", " + Measures + ", version) SELECT " +
		sel.String() + ", sum(cost), sum(prompt_tokens), sum(completion_tokens), sum(total_tokens), count(), " +
		"countIf(outcome != 'ok'), toUInt64(" + strconv.FormatUint(version, 10) + ") FROM " + db +
		".spend_events WHERE date = " + day + " GROUP BY date, " + strings.Join(t.Dims, ", ")
}

// Source is schema.Rolled for t: a subquery with the columns date, t's
// dims and extras and the Measures, one row per day and group, for the
// days where holds; cluster is schema.Cluster's answer. The finance views
// (migration 0008) are this query.
func (t Table) Source(db, cluster, where string) string {
	q := schema.Rolled(db, t.Name, t.Dims, t.Extra, where)
	if cluster != "" {
		q = schema.Global(q)
	}
	return q
}

// DateLit is t's UTC day as a ClickHouse Date literal.
func DateLit(t time.Time) string { return "toDate('" + t.UTC().Format(time.DateOnly) + "')" }

// last is the newest version handed out: versions are strictly
// increasing within a process, so two rolls of one process never tie.
var last atomic.Uint64

func version() uint64 {
	for {
		l := last.Load()
		v := max(uint64(time.Now().UnixNano()), l+1)
		if last.CompareAndSwap(l, v) {
			return v
		}
	}
}

// Mark records days in spend_rollup_days with state ("rolling", "done").
func Mark(ctx context.Context, conn driver.Conn, db string, days []time.Time, state string) error {
	if len(days) == 0 {
		return nil
	}
	b, err := conn.PrepareBatch(schema.InsertContext(ctx), "INSERT INTO "+db+".spend_rollup_days (date, state, version) VALUES")
	if err != nil {
		return fmt.Errorf("rollup: mark: %w", err)
	}
	v := uint64(time.Now().UnixNano())
	for _, d := range days {
		if err := b.Append(d.UTC(), state, v); err != nil {
			_ = b.Abort()
			return fmt.Errorf("rollup: mark: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("rollup: mark: %w", err)
	}
	return nil
}

// Roll rolls each day into every rollup table. It does not mark the days;
// Rebuild does.
func Roll(ctx context.Context, conn driver.Conn, db string, days []time.Time) error {
	ctx = schema.InsertContext(ctx)
	for _, d := range days {
		v := version()
		for _, t := range Tables {
			if err := conn.Exec(ctx, t.rollSQL(db, DateLit(d), v)); err != nil {
				return fmt.Errorf("rollup: roll %s into %s: %w", d.Format(time.DateOnly), t.Name, err)
			}
		}
	}
	return nil
}

// Rebuild marks the days of spend_events within [from, to] (zero: no
// bound) 'rolling', rolls each and marks it 'done'; it returns the days.
// Idempotent, and safe while sinks write (see the package doc). A day in
// the range that has no requests is left alone.
func Rebuild(ctx context.Context, conn driver.Conn, db string, from, to time.Time) ([]time.Time, error) {
	if err := schema.ValidDatabase(db); err != nil {
		return nil, err
	}
	where := "1"
	if !from.IsZero() {
		where += " AND date >= " + DateLit(from)
	}
	if !to.IsZero() {
		where += " AND date <= " + DateLit(to)
	}
	days, err := Days(ctx, conn, "SELECT DISTINCT date FROM "+db+".spend_events WHERE "+where+" ORDER BY date")
	if err != nil {
		return nil, err
	}
	cluster, err := schema.Cluster(ctx, conn, db)
	if err != nil {
		return nil, err
	}
	var months []string
	for _, d := range days {
		if err := RollMarked(ctx, conn, db, []time.Time{d}); err != nil {
			return nil, err
		}
		if m := d.Format("200601"); !slices.Contains(months, m) {
			months = append(months, m)
		}
	}
	// A roll writes a part per table and day; merge each rebuilt month to
	// one part per table now, so that FINAL reads (which merge on the fly,
	// one thread per partition on 18.16) find one sorted run. The sink's
	// few rolls per day are left to background merges.
	// On a cluster the parts are the shards' (OPTIMIZE does not go
	// through a Distributed table): background merges do it there.
	for _, m := range months {
		for _, t := range Tables {
			if cluster != "" {
				break
			}
			if err := conn.Exec(ctx, "OPTIMIZE TABLE "+db+"."+t.Name+" PARTITION "+m+" FINAL"); err != nil {
				return nil, fmt.Errorf("rollup: optimize %s partition %s: %w", t.Name, m, err)
			}
		}
	}
	return days, nil
}

// RollMarked marks days 'rolling', rolls them and marks them 'done'.
func RollMarked(ctx context.Context, conn driver.Conn, db string, days []time.Time) error {
	if err := Mark(ctx, conn, db, days, "rolling"); err != nil {
		return err
	}
	if err := Roll(ctx, conn, db, days); err != nil {
		return err
	}
	return Mark(ctx, conn, db, days, "done")
}

// Pending returns the days before today (UTC) that have requests and are
// not done: what the Roller rolls.
func Pending(ctx context.Context, conn driver.Conn, db string, now time.Time) ([]time.Time, error) {
	cluster, err := schema.Cluster(ctx, conn, db)
	if err != nil {
		return nil, err
	}
	return Days(ctx, conn, "SELECT DISTINCT date FROM "+db+".spend_events WHERE date < "+DateLit(now)+
		" AND date "+schema.NotIn(cluster)+" (SELECT date FROM "+db+".spend_rollup_days WHERE state = 'done') ORDER BY date")
}

// Stale returns which of days (distinct, UTC midnights) must be rolled
// again after rows of theirs were stored at now: those before today and
// those marked in any state.
func Stale(ctx context.Context, conn driver.Conn, db string, days []time.Time, now time.Time) ([]time.Time, error) {
	today := time.Date(now.UTC().Year(), now.UTC().Month(), now.UTC().Day(), 0, 0, 0, 0, time.UTC)
	var out, ask []time.Time
	for _, d := range days {
		if d.Before(today) {
			out = append(out, d)
		} else {
			ask = append(ask, d)
		}
	}
	if len(ask) == 0 {
		return out, nil
	}
	lits := make([]string, len(ask))
	for i, d := range ask {
		lits[i] = DateLit(d)
	}
	marked, err := Days(ctx, conn, "SELECT DISTINCT date FROM "+db+".spend_rollup_days WHERE date IN ("+strings.Join(lits, ", ")+")")
	if err != nil {
		return nil, err
	}
	return append(out, marked...), nil
}

// Days runs q, which selects one Date column.
func Days(ctx context.Context, conn driver.Conn, q string) ([]time.Time, error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("rollup: %w", err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var d time.Time
		if err := rows.Scan(&d); err != nil {
			return nil, fmt.Errorf("rollup: %w", err)
		}
		out = append(out, d.UTC())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rollup: %w", err)
	}
	return out, nil
}

// Roller rolls the Pending days every interval until ctx ends; errors are
// passed to onErr and retried at the next tick.
func Roller(ctx context.Context, conn driver.Conn, db string, every time.Duration, onErr func(error)) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		days, err := Pending(ctx, conn, db, time.Now())
		if err == nil {
			for _, d := range days {
				if err = RollMarked(ctx, conn, db, []time.Time{d}); err != nil {
					break
				}
			}
		}
		if err != nil && ctx.Err() == nil && onErr != nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
