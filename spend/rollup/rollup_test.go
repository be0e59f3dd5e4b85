package rollup_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/gatehouse/gatehouse/internal/chtest"
	"github.com/gatehouse/gatehouse/schema"
	"github.com/gatehouse/gatehouse/spend/rollup"
)

const db = "gh"

// table dumps q's rows as text, one line per row.
func table(t *testing.T, ctx context.Context, conn driver.Conn, q string) string {
	t.Helper()
	rows, err := conn.Query(ctx, q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	var b strings.Builder
	cols := rows.ColumnTypes()
	for rows.Next() {
		vals := make([]any, len(cols))
		for i, c := range cols {
			vals[i] = newOf(c.ScanType().String())
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			fmt.Fprintf(&b, "%v\t", deref(v))
		}
		b.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func newOf(typ string) any {
	switch typ {
	case "string":
		return new(string)
	case "time.Time":
		return new(time.Time)
	case "uint64":
		return new(uint64)
	case "float64":
		return new(float64)
	}
	panic("type " + typ)
}

func deref(v any) any {
	switch p := v.(type) {
	case *string:
		return *p
	case *time.Time:
		return p.UTC().Format(time.DateOnly)
	case *uint64:
		return *p
	case *float64:
		return *p
	}
	return v
}

// exactness compares, for every rollup table, what readers get (Source)
// with a GROUP BY over spend_events; it returns the first difference.
func exactness(t *testing.T, ctx context.Context, conn driver.Conn) string {
	t.Helper()
	for _, tb := range rollup.Tables {
		dims := strings.Join(tb.Dims, ", ")
		// Cost is compared in total (below), within float rounding.
		sums := "sum(prompt_tokens), sum(completion_tokens), sum(total_tokens)"
		got := table(t, ctx, conn, "SELECT date, "+dims+", "+sums+", sum(requests), sum(errors) FROM "+
			tb.Source(db, "", "1")+" GROUP BY date, "+dims+" ORDER BY date, "+dims)
		want := table(t, ctx, conn, "SELECT date, "+dims+", "+sums+", count(), countIf(outcome != 'ok') FROM "+
			db+".spend_events GROUP BY date, "+dims+" ORDER BY date, "+dims)
		if got != want {
			return fmt.Sprintf("%s: readers see %d lines, spend_events %d", tb.Name, strings.Count(got, "\n"), strings.Count(want, "\n"))
		}
	}
	// The finance views: totals equal the ledger's.
	want := table(t, ctx, conn, "SELECT count(), countIf(outcome != 'ok') FROM "+db+".spend_events")
	wantCost := cost(t, ctx, conn, "SELECT sum(cost) FROM "+db+".spend_events")
	for _, v := range []string{"spend_daily", "v_daily_team_spend", "v_daily_key_spend", "v_daily_user_spend",
		"v_daily_model_spend", "v_monthly_org_spend", "v_daily_end_user_spend"} {
		if got := table(t, ctx, conn, "SELECT sum(requests), sum(errors) FROM "+db+"."+v); got != want {
			return fmt.Sprintf("%s totals %q, spend_events %q", v, got, want)
		}
		if got := cost(t, ctx, conn, "SELECT sum(cost) FROM "+db+"."+v); math.Abs(got-wantCost) > 1e-9*wantCost {
			return fmt.Sprintf("%s cost %v, spend_events %v", v, got, wantCost)
		}
	}
	return ""
}

func cost(t *testing.T, ctx context.Context, conn driver.Conn, q string) float64 {
	t.Helper()
	var c float64
	if err := conn.QueryRow(ctx, q).Scan(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func rolledRows(t *testing.T, ctx context.Context, conn driver.Conn, tb string) string {
	return table(t, ctx, conn, "SELECT toUInt64(count()), sum(prompt_tokens), sum(requests) FROM "+db+"."+tb+" FINAL")
}

// migrated starts a server with the schema migrated into db. ctx bounds
// the whole test: a server that stops answering fails it, not hangs it.
func migrated(t *testing.T) (context.Context, driver.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	conn := chtest.Start(t).Conn(t)
	if err := schema.Migrate(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	return ctx, conn
}

func TestRollupsExact(t *testing.T) {
	ctx, conn := migrated(t)
	now := time.Now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	load := func(seed int, rows uint64, days int, end time.Time) {
		t.Helper()
		if err := rollup.Load(ctx, conn, db, rollup.Synth{Rows: rows, Days: days, End: end, Seed: seed, Keys: 40, EndUsers: 30}); err != nil {
			t.Fatal(err)
		}
	}
	load(1, 30_000, 10, today)

	steps := []struct {
		name string
		do   func(t *testing.T)
		// exact: whether readers must match the ledger after the step
		// (false proves that the check can fail).
		exact bool
	}{
		{"nothing rolled: views read spend_events", func(t *testing.T) {}, true},
		{"rebuild everything", func(t *testing.T) {
			days, err := rollup.Rebuild(ctx, conn, db, time.Time{}, time.Time{})
			if err != nil || len(days) != 10 {
				t.Fatalf("rebuilt %d days, %v; want 10", len(days), err)
			}
			if p, err := rollup.Pending(ctx, conn, db, now); err != nil || len(p) != 0 {
				t.Fatalf("pending after rebuild: %v %v", p, err)
			}
		}, true},
		{"late rows stored, days not rolled again", func(t *testing.T) { load(2, 999, 10, today) }, false},
		{"the sink's rule rolls the stale days again", func(t *testing.T) {
			var days []time.Time
			for d := 0; d < 10; d++ {
				days = append(days, today.AddDate(0, 0, -d))
			}
			stale, err := rollup.Stale(ctx, conn, db, days, now)
			if err != nil || len(stale) != 10 {
				t.Fatalf("stale %v, %v; want all 10 (9 over, today marked)", stale, err)
			}
			if err := rollup.Roll(ctx, conn, db, stale); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"rebuilding a range again changes nothing", func(t *testing.T) {
			before := rolledRows(t, ctx, conn, "spend_rollup")
			if _, err := rollup.Rebuild(ctx, conn, db, today.AddDate(0, 0, -3), today); err != nil {
				t.Fatal(err)
			}
			if after := rolledRows(t, ctx, conn, "spend_rollup"); after != before {
				t.Fatalf("rollup FINAL %q, before %q", after, before)
			}
		}, true},
		{"a new past day is pending and read from spend_events", func(t *testing.T) {
			load(3, 500, 1, today.AddDate(0, 0, -30))
			p, err := rollup.Pending(ctx, conn, db, now)
			if err != nil || len(p) != 1 || !p[0].Equal(today.AddDate(0, 0, -30)) {
				t.Fatalf("pending %v, %v", p, err)
			}
		}, true},
		{"the roller rolls it", func(t *testing.T) {
			rctx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { rollup.Roller(rctx, conn, db, time.Hour, func(err error) { t.Error(err) }); close(done) }()
			deadline := time.Now().Add(20 * time.Second)
			for {
				p, err := rollup.Pending(ctx, conn, db, now)
				if err == nil && len(p) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("still pending: %v %v", p, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			stop()
			<-done
		}, true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.do(t)
			diff := exactness(t, ctx, conn)
			if s.exact && diff != "" {
				t.Fatal(diff)
			}
			if !s.exact && diff == "" {
				t.Fatal("readers match spend_events, but the rollups should be stale here")
			}
		})
	}
}

// The finance views stay exact while days are marked done under them
// (the Roller after midnight, rebuild-rollups): 0006's views read the done
// days twice per query, and a day marked in between was in neither half
// or in both (sink TestMalformed once read 13 of 20 requests).
func TestViewsExactWhileDaysAreMarkedDone(t *testing.T) {
	ctx, conn := migrated(t)
	const days = 40
	now := time.Now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	if err := rollup.Load(ctx, conn, db, rollup.Synth{Rows: 20_000, Days: days, End: today, Keys: 40, EndUsers: 30}); err != nil {
		t.Fatal(err)
	}
	want := table(t, ctx, conn, "SELECT count() FROM "+db+".spend_events")
	views := []string{"spend_daily", "v_daily_team_spend", "v_daily_key_spend", "v_daily_user_spend",
		"v_daily_model_spend", "v_monthly_org_spend", "v_daily_end_user_spend"}
	var names, queries []string
	for _, v := range views {
		names, queries = append(names, v), append(queries, "SELECT sum(requests) FROM "+db+"."+v)
	}
	for _, tb := range rollup.Tables {
		names, queries = append(names, "Source "+tb.Name), append(queries, "SELECT sum(requests) FROM "+tb.Source(db, "", "1"))
	}
	// The 0006 form, read alongside: it shows that this test meets the
	// race (it got 3 and 6 wrong totals in about 150 rounds here), without
	// failing the test when it happens not to.
	old := "SELECT sum(requests) FROM (SELECT requests FROM " + db + ".spend_rollup_key FINAL WHERE date IN (SELECT date FROM " + db +
		".spend_rollup_days WHERE state = 'done') UNION ALL SELECT count() AS requests FROM " + db + ".spend_events WHERE date IN " +
		"(SELECT d FROM (SELECT toDate(number) AS d FROM system.numbers LIMIT 65536) WHERE d NOT IN (SELECT date FROM " + db +
		".spend_rollup_days WHERE state = 'done')) GROUP BY date, key_hash)"

	done := make(chan error, 1)
	go func() {
		var err error
		for d := days - 1; d >= 0 && err == nil; d-- {
			err = rollup.RollMarked(ctx, conn, db, []time.Time{today.AddDate(0, 0, -d)})
		}
		done <- err
	}()
	oldWrong, round := 0, 0
	for finished := false; !finished; round++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished = true
		default:
		}
		// One reader per round, in turn, so each meets many marks.
		i := round % len(queries)
		if got := table(t, ctx, conn, queries[i]); got != want {
			t.Errorf("round %d: %s = %s, spend_events %s", round, names[i], strings.TrimSpace(got), strings.TrimSpace(want))
		}
		if got := table(t, ctx, conn, old); got != want {
			oldWrong++
		}
	}
	if round < 2*len(queries) {
		t.Errorf("only %d rounds while days were marked: the readers barely met the marks", round)
	}
	t.Logf("%d rounds; the 0006 form was wrong %d times", round, oldWrong)
}
