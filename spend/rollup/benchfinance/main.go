// Command benchfinance is `make bench-finance`: it builds a synthetic
// ledger of -rows requests in a fresh database (made by the project's
// migrations, filled inside ClickHouse with INSERT ... SELECT FROM
// numbers), rebuilds the rollups, runs every SQL block of docs/finance.md
// and the report routes' queries, checks that the views' totals equal a
// GROUP BY over spend_events, and writes the table of times, rows and bytes
// read into docs/finance.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/gatehouse/gatehouse/schema"
	"github.com/gatehouse/gatehouse/spend/query"
	"github.com/gatehouse/gatehouse/spend/rollup"
)

func main() {
	rows := flag.Uint64("rows", 100_000_000, "requests in the synthetic ledger")
	days := flag.Int("days", 120, "days the ledger spans, ending today (UTC)")
	addr := flag.String("clickhouse", envOr("CLICKHOUSE_ADDR", "127.0.0.1:9000"), "ClickHouse native address")
	db := flag.String("database", "gatehouse_bench", "database to (re)create; the docs' \"gatehouse.\" is replaced by it")
	doc := flag.String("doc", "docs/finance.md", "document whose SQL blocks are run and where the table is written")
	runs := flag.Int("runs", 3, "runs per query (the table shows the fastest and the slowest)")
	keep := flag.Bool("keep", false, "keep the database afterwards")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *addr, *db, *doc, *rows, *days, *runs, *keep); err != nil {
		log.Fatal(err)
	}
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

var sqlBlock = regexp.MustCompile("(?s)## ([^\n]*)\n.*?```sql\n(.*?)```")

const begin, end = "<!-- bench-finance -->", "<!-- /bench-finance -->"

type result struct {
	name                string
	best, worst         time.Duration
	readRows, readBytes uint64
}

func run(ctx context.Context, addr, db, doc string, n uint64, days, runs int, keep bool) error {
	if err := schema.ValidDatabase(db); err != nil {
		return err
	}
	text, err := os.ReadFile(doc)
	if err != nil {
		return err
	}
	conn, err := schema.Open(ctx, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		return err
	}
	if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
		return err
	}
	if !keep {
		defer func() { _ = conn.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+db) }()
	}
	if err := schema.Migrate(ctx, conn, db); err != nil {
		return err
	}
	t0 := time.Now()
	if err := rollup.Load(ctx, conn, db, rollup.Synth{Rows: n, Days: days}); err != nil {
		return err
	}
	loadTook := time.Since(t0)
	log.Printf("loaded %d rows in %v", n, loadTook.Round(time.Millisecond))
	t0 = time.Now()
	if _, err := rollup.Rebuild(ctx, conn, db, time.Time{}, time.Time{}); err != nil {
		return err
	}
	rebuildTook := time.Since(t0)
	log.Printf("rebuilt rollups in %v", rebuildTook.Round(time.Millisecond))
	if err := exact(ctx, conn, db); err != nil {
		return err
	}

	var results []result
	measure := func(name string, q func(ctx context.Context) error) error {
		r := result{name: name, best: time.Duration(math.MaxInt64)}
		for range runs {
			// The server's progress packets count the rows and bytes each
			// query read (deltas); a route may run several queries.
			var rowsRead, bytesRead atomic.Uint64
			qctx := clickhouse.Context(ctx, clickhouse.WithProgress(func(p *clickhouse.Progress) {
				rowsRead.Add(p.Rows)
				bytesRead.Add(p.Bytes)
			}))
			t := time.Now()
			if err := q(qctx); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			d := time.Since(t)
			r.best, r.worst = min(r.best, d), max(r.worst, d)
			r.readRows, r.readBytes = max(r.readRows, rowsRead.Load()), max(r.readBytes, bytesRead.Load())
		}
		results = append(results, r)
		log.Printf("%-40s %v .. %v", name, r.best.Round(time.Millisecond), r.worst.Round(time.Millisecond))
		return nil
	}
	for _, m := range sqlBlock.FindAllStringSubmatch(string(text), -1) {
		q := strings.TrimSuffix(strings.TrimSpace(strings.ReplaceAll(m[2], "gatehouse.", db+".")), ";")
		if err := measure("SQL: "+m[1], func(ctx context.Context) error { return drain(conn.Query(ctx, q)) }); err != nil {
			return err
		}
	}
	today := time.Now().UTC()
	for _, g := range []string{"team", "key", "user", "model", "org"} {
		if err := measure("/global/spend/report?group_by="+g+" (30 days)", func(ctx context.Context) error {
			_, err := query.Report(ctx, conn, db, today.AddDate(0, 0, -30), today, g)
			return err
		}); err != nil {
			return err
		}
	}
	if err := measure("/spend/logs?api_key=..&limit=100 (30 days)", func(ctx context.Context) error {
		_, err := query.Logs(ctx, conn, db, query.Filter{KeyHash: "hash-7", Start: today.AddDate(0, 0, -30), Limit: 100})
		return err
	}); err != nil {
		return err
	}
	if err := measure("/spend/logs?limit=100 (newest)", func(ctx context.Context) error {
		_, err := query.Logs(ctx, conn, db, query.Filter{Start: today.Add(-time.Hour), Limit: 100})
		return err
	}); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n`make bench-finance BENCH_FINANCE_ARGS='-rows %d'` on %s (ClickHouse %s, %d cores shared with other work): "+
		"%d synthetic requests over %d days loaded in %v, `rebuild-rollups` (every day) took %v; views' totals checked equal to a GROUP BY "+
		"over spend_events. Fastest and slowest of %d runs; rows and bytes read as the server reported them (progress packets; the most of any run).\n\n",
		begin, n, time.Now().UTC().Format(time.DateOnly), version, runtime.NumCPU(), n, days, loadTook.Round(time.Second),
		rebuildTook.Round(time.Second), runs)
	b.WriteString("| query | fastest | slowest | rows read | bytes read |\n|---|---:|---:|---:|---:|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %d ms | %d ms | %s | %s |\n", r.name, r.best.Milliseconds(), r.worst.Milliseconds(),
			thousands(r.readRows), mib(r.readBytes))
	}
	b.WriteString(end)
	s := string(text)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		return errors.New(doc + ": no " + begin + " ... " + end + " section")
	}
	s = s[:i] + b.String() + s[j+len(end):]
	if err := os.WriteFile(doc, []byte(s), 0o644); err != nil {
		return err
	}
	fmt.Println(b.String())
	if slow := slices.IndexFunc(results, func(r result) bool { return r.worst >= time.Second }); slow >= 0 {
		return fmt.Errorf("%s took %v, over 1 s", results[slow].name, results[slow].worst)
	}
	return nil
}

func drain(rows driver.Rows, err error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}

// exact checks every view's totals against spend_events.
func exact(ctx context.Context, conn driver.Conn, db string) error {
	var n, errs uint64
	var cost float64
	if err := conn.QueryRow(ctx, "SELECT count(), countIf(outcome != 'ok'), sum(cost) FROM "+db+".spend_events").Scan(&n, &errs, &cost); err != nil {
		return err
	}
	for _, v := range []string{"spend_daily", "v_daily_team_spend", "v_daily_key_spend", "v_daily_user_spend",
		"v_daily_model_spend", "v_monthly_org_spend", "v_daily_end_user_spend"} {
		var vn, verrs uint64
		var vcost float64
		if err := conn.QueryRow(ctx, "SELECT sum(requests), sum(errors), sum(cost) FROM "+db+"."+v).Scan(&vn, &verrs, &vcost); err != nil {
			return err
		}
		if vn != n || verrs != errs || math.Abs(vcost-cost) > 1e-9*cost {
			return fmt.Errorf("%s: %d requests, %d errors, cost %v; spend_events: %d, %d, %v", v, vn, verrs, vcost, n, errs, cost)
		}
	}
	return nil
}

func thousands(v uint64) string {
	s := fmt.Sprint(v)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func mib(v uint64) string { return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20)) }
