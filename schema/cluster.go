package schema

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// LocalSuffix ends the name of a shard's own table in cluster form;
// the plain name is the Distributed table over all shards, which is what
// every reader and writer uses.
const LocalSuffix = "_local"

// ZooKeeperPath is where a sharded table's replicas meet in ZooKeeper;
// {shard} and {replica} are the server's macros.
func ZooKeeperPath(database, table string) string {
	return "/clickhouse/tables/{shard}/" + database + "." + table
}

var (
	clusterRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	shardedRE   = regexp.MustCompile(`\s*\{sharded by ([^{}]+)\}`)
	createRE    = regexp.MustCompile(`(?is)^CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+(\S+)`)
	engineRE    = regexp.MustCompile(`ENGINE\s*=\s*(\w*MergeTree)(?:\(([^()]*)\))?`)
	alterAddRE  = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+(\S+)(\s+ADD\s+COLUMN\s)`)
	ddlRE       = regexp.MustCompile(`(?is)^((?:CREATE\s+(?:TABLE|VIEW|DATABASE)(?:\s+IF\s+NOT\s+EXISTS)?|DROP\s+(?:TABLE|VIEW|DATABASE)(?:\s+IF\s+EXISTS)?|ALTER\s+TABLE)\s+)([A-Za-z0-9_.]+)`)
	subqueryINs = regexp.MustCompile(`(?i)\b((?:NOT\s+)?IN)\s*\(\s*SELECT\b`)
)

// ValidCluster checks that name is a plain identifier (pasted into SQL).
func ValidCluster(name string) error {
	if !clusterRE.MatchString(name) {
		return fmt.Errorf("schema: invalid cluster name %q (want [A-Za-z_][A-Za-z0-9_]*, as in remote_servers)", name)
	}
	return nil
}

// renderer turns migration statements into their one-server or cluster
// form.
type renderer struct {
	db, cluster string
	sharded     map[string]string // tables (db.name) created sharded so far: their sharding keys
}

func newRenderer(db, cluster string) (*renderer, error) {
	if cluster != "" {
		if err := ValidCluster(cluster); err != nil {
			return nil, err
		}
	}
	return &renderer{db: db, cluster: cluster, sharded: map[string]string{}}, nil
}

// render renders stmts. One server: "{sharded by EXPR}" is dropped.
// Cluster: see the package doc.
func (r *renderer) render(stmts []string) ([]string, error) {
	var out []string
	for _, s := range stmts {
		if r.cluster == "" {
			out = append(out, shardedRE.ReplaceAllString(s, ""))
			continue
		}
		cs, err := r.clusterForm(s)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

func (r *renderer) onCluster() string { return " ON CLUSTER " + r.cluster }

func (r *renderer) clusterForm(s string) ([]string, error) {
	if m := shardedRE.FindStringSubmatch(s); m != nil {
		key := strings.TrimSpace(m[1])
		s = shardedRE.ReplaceAllString(s, "")
		c := createRE.FindStringSubmatchIndex(s)
		if c == nil {
			return nil, fmt.Errorf("{sharded by} outside CREATE TABLE IF NOT EXISTS: %.60s", s)
		}
		name := s[c[2]:c[3]]
		table := strings.TrimPrefix(name, r.db+".")
		local := name + LocalSuffix
		s = s[:c[2]] + local + r.onCluster() + s[c[3]:]
		e := engineRE.FindStringSubmatchIndex(s)
		if e == nil {
			return nil, fmt.Errorf("table %s: no *MergeTree engine to replicate", name)
		}
		args := "'" + ZooKeeperPath(r.db, table+LocalSuffix) + "', '{replica}'"
		if e[4] >= 0 && strings.TrimSpace(s[e[4]:e[5]]) != "" {
			args += ", " + s[e[4]:e[5]]
		}
		s = s[:e[0]] + "ENGINE = Replicated" + s[e[2]:e[3]] + "(" + args + ")" + s[e[1]:]
		r.sharded[name] = key
		return []string{s, r.distributed(name, key)}, nil
	}
	if m := createRE.FindStringSubmatch(s); m != nil {
		return nil, fmt.Errorf("table %s has no {sharded by EXPR}: every table needs a sharding key in cluster form", m[1])
	}
	if m := alterAddRE.FindStringSubmatchIndex(s); m != nil {
		if key, ok := r.sharded[s[m[2]:m[3]]]; ok {
			// The shards' tables and the Distributed table each have their
			// own columns. 18.16 refuses ALTER ... ON CLUSTER of a table that
			// is not replicated on a cluster whose shards are (internal
			// replication), so the Distributed table, which holds no data
			// (inserts are synchronous), is created again over the altered
			// tables.
			name := s[m[2]:m[3]]
			return []string{
				s[:m[3]] + LocalSuffix + r.onCluster() + s[m[3]:],
				"DROP TABLE IF EXISTS " + name + r.onCluster(),
				r.distributed(name, key),
			}, nil
		}
	}
	m := ddlRE.FindStringSubmatchIndex(s)
	if m == nil {
		return nil, fmt.Errorf("statement has no cluster form: %.60s", s)
	}
	s = s[:m[5]] + r.onCluster() + s[m[5]:]
	if strings.HasPrefix(strings.ToUpper(s), "CREATE VIEW") {
		// A view reads Distributed tables: its subqueries run once, on the
		// node asked, and their result goes to the shards (plain IN would
		// run them on every shard, against Distributed tables again, which
		// ClickHouse refuses).
		s = Global(s)
	}
	return []string{s}, nil
}

// distributed is the CREATE of the Distributed table name over its
// shards' tables.
func (r *renderer) distributed(name, key string) string {
	table := strings.TrimPrefix(name, r.db+".")
	return "CREATE TABLE IF NOT EXISTS " + name + r.onCluster() + " AS " + name + LocalSuffix +
		" ENGINE = Distributed(" + r.cluster + ", " + r.db + ", " + table + LocalSuffix + ", " + key + ")"
}

// Global turns every "IN (SELECT" and "NOT IN (SELECT" of q into its
// GLOBAL form (for queries of Distributed tables).
func Global(q string) string { return subqueryINs.ReplaceAllString(q, "GLOBAL $1 (SELECT") }

// InsertContext is ctx with the settings every insert of gatehouse uses:
// insert_distributed_sync=1, so that an insert into a Distributed table
// returns only when every shard stored its rows, and fails (to be retried
// before anything is acked) while a shard is down, instead of queueing
// rows on the node for later. Ignored by other tables.
func InsertContext(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
}

// clusters caches Cluster per connection and database: migrated once,
// a database keeps its form.
var clusters sync.Map // clusterKey -> string

type clusterKey struct {
	conn driver.Conn
	db   string
}

// Cluster returns the cluster the database's spend_events is distributed
// over ("" when it is a table of this server), as migrated.
func Cluster(ctx context.Context, conn driver.Conn, db string) (string, error) {
	k := clusterKey{conn, db}
	if v, ok := clusters.Load(k); ok {
		return v.(string), nil
	}
	var engine, full string
	err := conn.QueryRow(ctx, "SELECT engine, engine_full FROM system.tables WHERE database = ? AND name = 'spend_events'", db).Scan(&engine, &full)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil // not migrated yet: nothing to cache
		}
		return "", fmt.Errorf("schema: table engine of %s.spend_events: %w", db, err)
	}
	cluster := ""
	if engine == "Distributed" {
		// Distributed(cluster, db, table, key); 18.16 quotes the name.
		args := strings.TrimPrefix(full, "Distributed(")
		cluster = strings.Trim(strings.TrimSpace(strings.SplitN(args, ",", 2)[0]), "'`\"")
	}
	clusters.Store(k, cluster)
	return cluster, nil
}

// In is "IN" for one server and "GLOBAL IN" on a cluster: the operator
// for a subquery filtering a read of a (possibly Distributed) table.
func In(cluster string) string {
	if cluster != "" {
		return "GLOBAL IN"
	}
	return "IN"
}

// NotIn is In for NOT IN.
func NotIn(cluster string) string {
	if cluster != "" {
		return "GLOBAL NOT IN"
	}
	return "NOT IN"
}
