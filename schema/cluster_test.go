package schema_test

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/schema"
)

// The one-server form is the files as written (the sharding directive
// dropped); the cluster form runs every statement ON CLUSTER, replicates
// every table per shard under a Distributed table of the plain name and
// alters both.
func TestClusterMigrations(t *testing.T) {
	one, err := schema.Migrations("gh")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range one {
		for _, s := range m.Statements {
			if strings.Contains(s, "{") || strings.Contains(s, "ON CLUSTER") || strings.Contains(s, "GLOBAL") {
				t.Errorf("%s, one server: %.80s", m.Name, s)
			}
		}
	}
	migs, err := schema.ClusterMigrations("gh", "ledger")
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, m := range migs {
		for _, s := range m.Statements {
			if !strings.Contains(s, " ON CLUSTER ledger") || strings.Contains(s, "{sharded") {
				t.Errorf("%s: %.80s", m.Name, s)
			}
			all = append(all, s)
		}
	}
	joined := strings.Join(all, "\n;\n")
	for _, want := range []string{
		"CREATE TABLE IF NOT EXISTS gh.spend_events_local ON CLUSTER ledger\n(",
		"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/gh.spend_events_local', '{replica}', inserted_at)",
		"CREATE TABLE IF NOT EXISTS gh.spend_events ON CLUSTER ledger AS gh.spend_events_local ENGINE = Distributed(ledger, gh, spend_events_local, cityHash64(request_id))",
		"ALTER TABLE gh.spend_events_local ON CLUSTER ledger ADD COLUMN client_request_id",
		"ALTER TABLE gh.spend_events_local ON CLUSTER ledger ADD COLUMN client_request_id String DEFAULT ''\n;\nDROP TABLE IF EXISTS gh.spend_events ON CLUSTER ledger\n;\nCREATE TABLE IF NOT EXISTS gh.spend_events ON CLUSTER ledger AS gh.spend_events_local ENGINE = Distributed(",
		"ALTER TABLE gh.spend_events_local ON CLUSTER ledger ADD COLUMN response_id String DEFAULT ''\n;\nDROP TABLE IF EXISTS gh.spend_events ON CLUSTER ledger\n;\nCREATE TABLE IF NOT EXISTS gh.spend_events ON CLUSTER ledger AS gh.spend_events_local ENGINE = Distributed(",
		"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/gh.spend_rollup_key_local', '{replica}', version)",
		"Distributed(ledger, gh, spend_rollup_days_local, toYYYYMMDD(date))",
		"CREATE VIEW IF NOT EXISTS gh.v_daily_key_spend ON CLUSTER ledger AS",
		"WHERE date GLOBAL IN (",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("cluster form lacks %q", want)
		}
	}
	// Views read Distributed tables: no subquery may run per shard.
	rest := strings.NewReplacer("GLOBAL IN (SELECT", "", "GLOBAL NOT IN (SELECT", "").Replace(joined)
	if strings.Contains(rest, "IN (SELECT") {
		t.Errorf("cluster form has a plain IN subquery")
	}
	for _, bad := range []string{"", "a-b", "x ON CLUSTER y"} {
		if _, err := schema.ClusterMigrations("gh", bad); bad != "" && err == nil {
			t.Errorf("cluster %q accepted", bad)
		}
	}
}
