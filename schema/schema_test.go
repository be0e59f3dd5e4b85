package schema_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/chtest"
	"github.com/gatehouse/gatehouse/schema"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSplit(t *testing.T) {
	got := schema.Split("-- c1\nCREATE TABLE a\n(\n  x String -- inline; kept\n);\n\n-- c2;\nCREATE VIEW b AS SELECT 1;\nSELECT 2")
	want := []string{"CREATE TABLE a\n(\n  x String -- inline; kept\n)", "CREATE VIEW b AS SELECT 1", "SELECT 2"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Split = %q, want %q", got, want)
	}
}

func TestMigrationsParse(t *testing.T) {
	migs, err := schema.Migrations("gh")
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) < 3 || migs[0].Version != 1 {
		t.Fatalf("migrations = %+v", migs)
	}
	for _, m := range migs {
		for _, s := range m.Statements {
			if strings.Contains(s, "{db}") {
				t.Fatalf("%s: unreplaced {db}", m.Name)
			}
			// A migration that dies half-way is re-run whole (a view is
			// replaced by DROP ... IF EXISTS, CREATE ... IF NOT EXISTS). ADD COLUMN
			// is made idempotent by Exec instead (18.16 has no IF NOT
			// EXISTS for it); one column per statement.
			if strings.Contains(s, "ADD COLUMN") {
				if strings.Count(s, "ADD COLUMN") != 1 {
					t.Errorf("%s: one ADD COLUMN per statement: %.60s", m.Name, s)
				}
				continue
			}
			if !strings.Contains(s, "IF NOT EXISTS") && !strings.Contains(s, "IF EXISTS") {
				t.Errorf("%s: statement not idempotent: %.60s", m.Name, s)
			}
		}
	}
	for _, bad := range []string{"", "a-b", "1x", "x;DROP", strings.Repeat("a", 65)} {
		if _, err := schema.Migrations(bad); err == nil {
			t.Errorf("database %q accepted", bad)
		}
	}
}

func tables(t *testing.T, ctx context.Context, s *chtest.Server, db string) []string {
	t.Helper()
	rows, err := s.Conn(t).Query(ctx, "SELECT name FROM system.tables WHERE database = ? ORDER BY name", db)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

func TestMigrateTwice(t *testing.T) {
	ctx := ctxT(t)
	srv := chtest.Start(t)
	conn := srv.Conn(t)
	v, err := conn.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ClickHouse %s", v.Version)

	if err := schema.Migrate(ctx, conn, "gh"); err != nil {
		t.Fatal(err)
	}
	first := tables(t, ctx, srv, "gh")
	for _, want := range []string{"schema_migrations", "spend_events", "spend_daily",
		"v_daily_team_spend", "v_daily_key_spend", "v_daily_user_spend", "v_daily_model_spend", "v_monthly_org_spend"} {
		if !slices.Contains(first, want) {
			t.Errorf("table %s missing after Migrate: %v", want, first)
		}
	}
	applied, err := schema.Applied(ctx, conn, "gh")
	if err != nil {
		t.Fatal(err)
	}
	migs, _ := schema.Migrations("gh")
	if len(applied) != len(migs) {
		t.Fatalf("applied %v, want %d migrations", applied, len(migs))
	}

	if err := schema.Migrate(ctx, conn, "gh"); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM gh.schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != uint64(len(migs)) {
		t.Fatalf("second Migrate recorded again: %d rows, want %d", n, len(migs))
	}
	if second := tables(t, ctx, srv, "gh"); !reflect.DeepEqual(first, second) {
		t.Fatalf("tables changed: %v -> %v", first, second)
	}

	// Each statement is idempotent on its own: a migration that died
	// half-way can be re-run.
	for _, m := range migs {
		for i, s := range m.Statements {
			if err := schema.Exec(ctx, conn, s); err != nil {
				t.Fatalf("%s statement %d re-run: %v", m.Name, i+1, err)
			}
		}
	}
}

func TestRun(t *testing.T) {
	ctx := ctxT(t)
	srv := chtest.Start(t)
	if err := schema.Run(ctx, srv.Addr(), "gh_run"); err != nil {
		t.Fatal(err)
	}
	if err := schema.Run(ctx, "clickhouse://default:@"+srv.Addr()+"/default", "gh_run"); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tables(t, ctx, srv, "gh_run"), "spend_events") {
		t.Fatal("spend_events missing")
	}
	if err := schema.Run(ctx, srv.Addr(), "bad-name"); err == nil {
		t.Fatal("bad database name accepted")
	}
}

// The views feed the summing tables, and the finance views sum them, on
// the installed server.
func TestAggregates(t *testing.T) {
	ctx := ctxT(t)
	srv := chtest.Start(t)
	conn := srv.Conn(t)
	if err := schema.Migrate(ctx, conn, "gh"); err != nil {
		t.Fatal(err)
	}
	day := time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC)
	insert := func(ids []string, teams []string, orgs []string, costs []float64, outcomes []string) {
		t.Helper()
		b, err := conn.PrepareBatch(ctx, "INSERT INTO gh.spend_events (request_id, event_time, date, team_id, org_id, key_hash, user_id, model_group, model, provider, cost, total_tokens, outcome) VALUES")
		if err != nil {
			t.Fatal(err)
		}
		for i := range ids {
			if err := b.Append(ids[i], day.Add(time.Duration(i)*time.Hour), day, teams[i], orgs[i], "k-"+teams[i], "u1", "gpt", "gpt-4o", "openai", costs[i], uint64(10), outcomes[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	// Two inserts: the rollup holds two partial rows for t1/k-t1/o1.
	insert([]string{"a", "b", "c"}, []string{"t1", "t1", "t2"}, []string{"o1", "o1", "o1"}, []float64{1, 2, 4}, []string{"ok", "timeout", "ok"})
	insert([]string{"d"}, []string{"t1"}, []string{"o2"}, []float64{8}, []string{"ok"})

	type agg struct {
		Group    string
		Cost     float64
		Requests uint64
		Errors   uint64
	}
	read := func(q string) []agg {
		t.Helper()
		rows, err := conn.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []agg
		for rows.Next() {
			var a agg
			if err := rows.Scan(&a.Group, &a.Cost, &a.Requests, &a.Errors); err != nil {
				t.Fatal(err)
			}
			out = append(out, a)
		}
		return out
	}
	if got, want := read("SELECT team_id, cost, requests, errors FROM gh.v_daily_team_spend ORDER BY team_id"),
		[]agg{{"t1", 11, 3, 1}, {"t2", 4, 1, 0}}; !reflect.DeepEqual(got, want) {
		t.Errorf("team = %+v, want %+v", got, want)
	}
	if got, want := read("SELECT key_hash, cost, requests, errors FROM gh.v_daily_key_spend ORDER BY key_hash"),
		[]agg{{"k-t1", 11, 3, 1}, {"k-t2", 4, 1, 0}}; !reflect.DeepEqual(got, want) {
		t.Errorf("key = %+v, want %+v", got, want)
	}
	if got, want := read("SELECT user_id, cost, requests, errors FROM gh.v_daily_user_spend"),
		[]agg{{"u1", 15, 4, 1}}; !reflect.DeepEqual(got, want) {
		t.Errorf("user = %+v, want %+v", got, want)
	}
	if got, want := read("SELECT model_group, cost, requests, errors FROM gh.v_daily_model_spend"),
		[]agg{{"gpt", 15, 4, 1}}; !reflect.DeepEqual(got, want) {
		t.Errorf("model = %+v, want %+v", got, want)
	}
	if got, want := read("SELECT org_id, cost, requests, errors FROM gh.v_monthly_org_spend WHERE month = toDate('2025-03-01') ORDER BY org_id"),
		[]agg{{"o1", 7, 3, 1}, {"o2", 8, 1, 0}}; !reflect.DeepEqual(got, want) {
		t.Errorf("org = %+v, want %+v", got, want)
	}
	// The rollup holds one row per combination.
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM gh.spend_daily").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("spend_daily has %d rows, want 3", n)
	}
}
