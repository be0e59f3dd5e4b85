package sink

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/chtest"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/schema"
	"github.com/gatehouse/gatehouse/spend/query"
	"github.com/gatehouse/gatehouse/spend/rollup"
)

// The ledger on a two-shard ClickHouse cluster (ZooKeeper and two
// clickhouse-server processes, schema from `gatehouse migrate -cluster`),
// written by a sink through shard 1's Distributed table. Shard 2 is
// stopped mid-traffic: the sink keeps its batch unacked and retries, and
// once the shard is back every request is stored once, and the rollups
// and finance views, read through the Distributed tables, equal the
// ledger.
func TestClusterShardDown(t *testing.T) {
	c := chtest.StartCluster(t, 2)
	e := newNATSEnv(t)
	// Longer than e.ctx(): two servers, ZooKeeper and an outage, on a
	// machine that may be busy.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	shard1, shard2 := c.Shards[0], c.Shards[1]
	if err := schema.RunLog(ctx, shard1.Addr(), db, chtest.ClusterName, testLog(t)); err != nil {
		t.Fatal(err)
	}
	e.ch, e.conn = shard1, shard1.Conn(t)
	if cl, err := schema.Cluster(ctx, e.conn, db); err != nil || cl != chtest.ClusterName {
		t.Fatalf("schema.Cluster = %q, %v; want %q", cl, err, chtest.ClusterName)
	}
	// Migrating again, through the other shard, finds everything applied;
	// so does a start-up migration that names no cluster (a sink's).
	if err := schema.RunLog(ctx, shard2.Addr(), db, chtest.ClusterName, testLog(t)); err != nil {
		t.Fatal(err)
	}
	conn2 := shard2.Conn(t)
	if err := schema.Migrate(ctx, conn2, db); err != nil {
		t.Fatal(err)
	}
	// Every statement of the cluster form is idempotent, as a migrate
	// that died half-way re-runs its migration whole.
	migs, err := schema.ClusterMigrations(db, chtest.ClusterName)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migs {
		for i, st := range m.Statements {
			if err := schema.Exec(ctx, conn2, st); err != nil {
				t.Fatalf("%s, statement %d again: %v", m.Name, i+1, err)
			}
		}
	}
	s := e.startSink(Options{FlushInterval: 20 * time.Millisecond, MaxBackoff: 300 * time.Millisecond})

	const n = 300
	if err := e.publish(ctx, 0, n/3); err != nil {
		t.Fatal(err)
	}
	e.waitDone(n/3, 60*time.Second)
	// Both shards hold a share of the requests.
	for i, sh := range c.Shards {
		var local uint64
		if err := sh.Conn(t).QueryRow(ctx, "SELECT count() FROM "+db+".spend_events"+schema.LocalSuffix).Scan(&local); err != nil {
			t.Fatal(err)
		}
		if local == 0 || local == n/3 {
			t.Fatalf("shard %d holds %d of %d requests", i+1, local, n/3)
		}
	}

	shard2.Stop()
	if err := e.publish(ctx, n/3, 2*n/3); err != nil {
		t.Fatal(err)
	}
	// The sink fails while shard 2 is down, and once it has failed, no
	// batch commits and the messages stay unacked until the shard is back.
	errs0 := s.Stats().Errors
	testutil.Eventually(t, 30*time.Second, func() error {
		if got := s.Stats().Errors; got <= errs0 {
			return fmt.Errorf("sink errors %d: no failed attempt yet", got)
		}
		return nil
	})
	batches, errs1 := s.Stats().Batches, s.Stats().Errors
	testutil.Eventually(t, 30*time.Second, func() error {
		if got := s.Stats().Errors; got < errs1+3 {
			return fmt.Errorf("sink errors %d: want 3 more retries while shard 2 is down", got)
		}
		return nil
	})
	if got := s.Stats().Batches; got != batches {
		t.Fatalf("%d batches committed while shard 2 was down", got-batches)
	}
	// The insert itself (without the pre-check, which fails first) fails
	// too: insert_distributed_sync, rather than rows queued on shard 1
	// for later while the batch is acked. Shard 1 may keep its part of
	// these rows; the sink's retry skips them as stored.
	rows := make([]*row, 0, 20)
	for i := n / 3; i < n/3+20; i++ {
		r := &row{}
		if err := r.set(e.event(i), nil); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	if err := s.write(ctx, rows); err == nil {
		t.Fatal("insert through the Distributed table succeeded while shard 2 was down")
	}
	ci := consumerInfo(t, e.js)
	if ci.NumAckPending == 0 && ci.NumPending == 0 {
		t.Fatalf("consumer has nothing pending while shard 2 is down: %+v", ci)
	}

	shard2.Restart(t)
	if err := e.publish(ctx, 2*n/3, n); err != nil {
		t.Fatal(err)
	}
	e.waitDone(n, 90*time.Second)
	if st := s.Stats(); st.Rows > n || st.Rows < n-20 {
		t.Errorf("sink stats %+v: want %d rows, less those the test wrote itself", st, n)
	}
	// rebuild-rollups on a cluster (no OPTIMIZE through Distributed
	// tables) leaves every reader exact.
	if _, err := rollup.Rebuild(ctx, e.conn, db, time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	e.checkExact(n)
	checkRoutes(t, e, n)
	// The rollups of the closed days, group by group, are a GROUP BY of
	// the ledger (checkExact compares totals).
	for _, q := range []string{
		"SELECT count() FROM (SELECT date, team_id, sum(cost) AS c, count() AS r FROM " + db + ".spend_events WHERE date < today() GROUP BY date, team_id) " +
			"ALL FULL OUTER JOIN (SELECT date, team_id, cost AS c2, requests AS r2 FROM " + db + ".spend_rollup_team FINAL WHERE date < today()) USING (date, team_id) " +
			"WHERE abs(c - c2) > 1e-9 OR r != r2",
	} {
		var bad uint64
		if err := e.conn.QueryRow(ctx, q).Scan(&bad); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if bad != 0 {
			t.Errorf("%d groups of spend_rollup_team differ from the ledger", bad)
		}
	}
}

// The routes' queries, through shard 1, see both shards.
func checkRoutes(t *testing.T, e *env, n int) {
	t.Helper()
	ctx := e.ctx()
	logs, err := query.Logs(ctx, e.conn, db, query.Filter{Limit: n + 10})
	if err != nil || len(logs) != n {
		t.Fatalf("spend logs: %d rows, %v; want %d", len(logs), err, n)
	}
	rep, err := query.Report(ctx, e.conn, db, e.base.AddDate(0, 0, -3), e.base, "team")
	if err != nil {
		t.Fatal(err)
	}
	var reqs uint64
	for _, r := range rep {
		reqs += r.Requests
	}
	if reqs != uint64(n) {
		t.Fatalf("spend report: %d requests, want %d", reqs, n)
	}
}

func consumerInfo(t *testing.T, js jetstream.JetStream) *jetstream.ConsumerInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, events.SpendStream, events.SinkDurable)
	if err != nil {
		t.Fatal(err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ci
}
