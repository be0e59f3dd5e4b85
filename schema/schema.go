// Package schema owns gatehouse's ClickHouse schema: embedded SQL
// migrations (migrations/NNNN_name.sql), applied in order and recorded in
// <database>.schema_migrations.
//
// Every statement must be idempotent (CREATE ... IF NOT EXISTS and the
// like): a migrator that dies half-way through a file re-runs all of it,
// and two control replicas starting at once may both apply it. The SQL
// must run on ClickHouse 18.16 (Debian's package) and on current releases.
//
// ALTER TABLE ... ADD COLUMN is the one exception, written without IF NOT
// EXISTS (18.16 lacks it): Exec treats its column existing as done, and
// such a statement must add exactly one column.
//
// In the files, {db} stands for the database; statements end with a ';' at
// the end of a line; lines starting with "--" are comments. Every CREATE
// TABLE ends with "{sharded by EXPR}": its sharding key on a cluster,
// dropped for one server. "{FORM TABLE by DIMS with EXTRAS}" is a rollup
// of TABLE per day and DIMS written by FORM (rolled.go: the rollup tables,
// the finance views, Rolled), so that the columns and sums of every rollup
// are written once; expanded per statement, not in comments.
//
// # Cluster form
//
// `gatehouse migrate -cluster NAME` (MigrateCluster) renders the same
// files for the ClickHouse cluster NAME (remote_servers, with ZooKeeper,
// macros {shard} and {replica}, internal_replication): no second copy of
// any file.
//
//   - Every statement runs ON CLUSTER NAME, so every node gets it (and the
//     command fails, to be run again, while a node is down).
//   - CREATE TABLE db.T ... ENGINE = XMergeTree(args) creates db.T_local
//     with ReplicatedXMergeTree('/clickhouse/tables/{shard}/db.T_local',
//     '{replica}', args) on every node, and db.T as a Distributed table over
//     them, sharded by the file's key. Readers and writers keep using db.T:
//     the sink, control plane and edges need no cluster setting.
//   - spend_events is sharded by cityHash64(request_id): every copy of a
//     request (a redelivery, a resend) meets its original on one shard,
//     where the sink's pre-check and ReplacingMergeTree see it. The
//     rollups and spend_rollup_days are sharded by day: every version of a
//     rollup row is on one shard, so FINAL (which runs per shard) keeps the
//     newest.
//   - ALTER TABLE db.T ADD COLUMN alters db.T_local and creates db.T again
//     over it (18.16 refuses ALTER ... ON CLUSTER of a table that is not
//     replicated on a cluster whose shards are; the Distributed table
//     holds no rows, see InsertContext).
//   - Views get GLOBAL IN for their subqueries: run once on the node asked,
//     the result sent to the shards.
//   - schema_migrations is sharded and distributed like the rest, so a
//     migrate through any node sees every applied version; and Migrate
//     without a cluster (a sink's or control plane's start-up) finds the
//     database's cluster (Cluster) and keeps to the cluster form.
package schema

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DefaultDatabase is used when no database is given.
const DefaultDatabase = "gatehouse"

//go:embed migrations/*.sql
var files embed.FS

// Migration is one embedded migration file.
type Migration struct {
	Version    uint32
	Name       string // file name
	Statements []string
}

var (
	fileRE = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)
	dbRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
)

// Migrations returns the embedded migrations in version order, with {db}
// replaced by database, for one server.
func Migrations(database string) ([]Migration, error) { return ClusterMigrations(database, "") }

// ClusterMigrations returns the embedded migrations rendered for the
// ClickHouse cluster named cluster (see the package doc); "" renders them
// for one server, as Migrations does.
func ClusterMigrations(database, cluster string) ([]Migration, error) {
	if err := ValidDatabase(database); err != nil {
		return nil, err
	}
	r, err := newRenderer(database, cluster)
	if err != nil {
		return nil, err
	}
	ents, err := fs.ReadDir(files, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	seen := map[uint32]string{}
	for _, e := range ents {
		m := fileRE.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("schema: migration file %q: want NNNN_name.sql", e.Name())
		}
		v, _ := strconv.ParseUint(m[1], 10, 32)
		if prev, dup := seen[uint32(v)]; dup {
			return nil, fmt.Errorf("schema: migrations %s and %s have the same version", prev, e.Name())
		}
		seen[uint32(v)] = e.Name()
		b, err := files.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		// Placeholders are expanded per statement: comments name them too.
		stmts := Split(strings.ReplaceAll(string(b), "{db}", database))
		for i := range stmts {
			stmts[i] = expand(stmts[i], database)
		}
		if len(stmts) == 0 {
			return nil, fmt.Errorf("schema: migration %s has no statement", e.Name())
		}
		out = append(out, Migration{Version: uint32(v), Name: e.Name(), Statements: stmts})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	// Rendered in version order: an ALTER in cluster form needs to know
	// which earlier CREATE made its table sharded.
	for i := range out {
		if out[i].Statements, err = r.render(out[i].Statements); err != nil {
			return nil, fmt.Errorf("schema: migration %s: %w", out[i].Name, err)
		}
	}
	return out, nil
}

// Split cuts a migration file into statements: each ends with a ';' at
// the end of a line. Comment lines ("--") and blank lines are dropped.
func Split(sql string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(strings.TrimRight(line, " \t\r"))
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			s := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			if s != "" {
				out = append(out, s)
			}
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// ValidDatabase checks that name is a plain identifier (it is pasted into
// SQL unquoted).
func ValidDatabase(name string) error {
	if !dbRE.MatchString(name) {
		return fmt.Errorf("schema: invalid database name %q (want [A-Za-z_][A-Za-z0-9_]*)", name)
	}
	return nil
}

// Migrate creates database (DefaultDatabase if empty) if missing and
// applies the migrations it has not recorded yet. Running it again is a
// no-op; concurrent runs (several control replicas) are safe.
func Migrate(ctx context.Context, conn driver.Conn, database string) error {
	return MigrateCluster(ctx, conn, database, "", nil)
}

// MigrateCluster is Migrate for the cluster named cluster ("" : one
// server), through conn to any node of it, logging each applied migration
// to log (nil: no log). Every statement runs ON CLUSTER, so every node
// gets it; the bookkeeping table is sharded and distributed like the
// ledger, so a migrate through any node sees what another applied.
func MigrateCluster(ctx context.Context, conn driver.Conn, database, cluster string, log *slog.Logger) (err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if database == "" {
		database = DefaultDatabase
	}
	if err := ValidDatabase(database); err != nil {
		return err
	}
	if cluster == "" {
		// A database migrated for a cluster stays in cluster form, even
		// when a sink or control plane (which know no cluster) migrates
		// it at start-up: a new migration then reaches every node.
		if cluster, err = Cluster(ctx, conn, database); err != nil {
			return err
		}
	}
	migs, err := ClusterMigrations(database, cluster)
	if err != nil {
		return err
	}
	r, err := newRenderer(database, cluster)
	if err != nil {
		return err
	}
	// ReplacingMergeTree on version: two migrators recording the same
	// version at once leave one row after merges (reads use DISTINCT).
	boot, err := r.render([]string{"CREATE DATABASE IF NOT EXISTS " + database, `CREATE TABLE IF NOT EXISTS ` + database + `.schema_migrations
(
    version    UInt32,
    name       String,
    applied_at DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree
ORDER BY version
{sharded by version}`})
	if err != nil {
		return err
	}
	for _, s := range boot {
		if err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("schema: %.60s: %w", s, err)
		}
	}
	applied, err := Applied(ctx, conn, database)
	if err != nil {
		return err
	}
	done := map[uint32]bool{}
	for _, v := range applied {
		done[v] = true
	}
	for _, m := range migs {
		if done[m.Version] {
			continue
		}
		t0 := time.Now()
		for i, s := range m.Statements {
			if err := Exec(ctx, conn, s); err != nil {
				return fmt.Errorf("schema: migration %s, statement %d: %w", m.Name, i+1, err)
			}
		}
		// 18.16 takes inserts only as data blocks after a named column
		// list, hence a batch for one row.
		b, err := conn.PrepareBatch(InsertContext(ctx), "INSERT INTO "+database+".schema_migrations (version, name) VALUES")
		if err != nil {
			return fmt.Errorf("schema: record migration %s: %w", m.Name, err)
		}
		if err := b.Append(m.Version, m.Name); err != nil {
			return fmt.Errorf("schema: record migration %s: %w", m.Name, err)
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("schema: record migration %s: %w", m.Name, err)
		}
		log.Info("clickhouse migration applied", "database", database, "cluster", cluster, "migration", m.Name, "took", time.Since(t0))
	}
	return nil
}

// addColumnRE matches ALTER TABLE ... [ON CLUSTER c] ADD COLUMN, which
// 18.16 cannot write with IF NOT EXISTS.
var addColumnRE = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+\S+(?:\s+ON\s+CLUSTER\s+\S+)?\s+ADD\s+COLUMN\s`)

// Codes of "column with this name already exists": ILLEGAL_COLUMN on
// 18.16 and current releases, DUPLICATE_COLUMN in some paths.
const (
	illegalColumn   = 44
	duplicateColumn = 15
)

// Exec runs one migration statement idempotently. Statements carry their
// own IF NOT EXISTS, except ADD COLUMN: ClickHouse 18.16 has no ADD COLUMN
// IF NOT EXISTS, so the one ADD COLUMN per statement that finds its column
// already there counts as done.
func Exec(ctx context.Context, conn driver.Conn, stmt string) error {
	err := conn.Exec(ctx, stmt)
	var ex *clickhouse.Exception
	if err != nil && errors.As(err, &ex) && (ex.Code == illegalColumn || ex.Code == duplicateColumn) &&
		strings.Contains(ex.Message, "already exists") && addColumnRE.MatchString(stmt) {
		return nil
	}
	return err
}

// Applied returns the versions recorded in database.schema_migrations, in
// order.
func Applied(ctx context.Context, conn driver.Conn, database string) ([]uint32, error) {
	if err := ValidDatabase(database); err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, "SELECT DISTINCT version FROM "+database+".schema_migrations ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("schema: read schema_migrations: %w", err)
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Options turns addr into client options: either host:port (several
// comma-separated) of the native protocol, or a DSN
// clickhouse://user:password@host:9000/database?dial_timeout=5s (the
// database in a DSN is only the default of the session; gatehouse names
// its database in every query).
func Options(addr string) (*clickhouse.Options, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return nil, errors.New("schema: empty ClickHouse address")
	}
	if strings.Contains(addr, "://") {
		o, err := clickhouse.ParseDSN(addr)
		if err != nil {
			return nil, fmt.Errorf("schema: ClickHouse DSN: %w", err)
		}
		if o.Protocol != clickhouse.Native {
			return nil, errors.New("schema: only the native protocol is supported (clickhouse://host:9000)")
		}
		return o, nil
	}
	return &clickhouse.Options{
		Addr:        strings.Split(addr, ","),
		Protocol:    clickhouse.Native,
		DialTimeout: 5 * time.Second,
		Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
	}, nil
}

// Open connects to ClickHouse at addr (see Options) and checks that it
// answers.
func Open(ctx context.Context, addr string) (driver.Conn, error) {
	o, err := Options(addr)
	if err != nil {
		return nil, err
	}
	conn, err := clickhouse.Open(o)
	if err != nil {
		return nil, fmt.Errorf("schema: open ClickHouse %s: %w", addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("schema: ClickHouse %s: %w", addr, err)
	}
	return conn, nil
}

// Run is `gatehouse migrate`: connect to addr, apply the migrations to
// database (DefaultDatabase if empty) and disconnect.
func Run(ctx context.Context, addr, database string) error {
	return RunLog(ctx, addr, database, "", slog.Default())
}

// RunLog is Run for cluster ("" : one server) logging each applied
// migration to log.
func RunLog(ctx context.Context, addr, database, cluster string, log *slog.Logger) error {
	if database == "" {
		database = DefaultDatabase
	}
	if err := ValidDatabase(database); err != nil {
		return err
	}
	conn, err := Open(ctx, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	return MigrateCluster(ctx, conn, database, cluster, log)
}
