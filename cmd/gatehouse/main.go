// Command gatehouse is the LLM gateway: one binary, a subcommand per role.
//
//	gatehouse run      everything in one process (embedded JetStream, control, edge)
//	gatehouse control  an admin API replica
//	gatehouse edge     an edge proxy
//	gatehouse nats     a NATS server (standalone, or a cluster/leaf node from a config file)
//	gatehouse check    a config.yaml's warnings and errors, without starting anything
//
// Run "gatehouse <command> -h" for flags. Logic lives in the packages; this
// file only parses flags.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/gatehouse/gatehouse/cmd/internal/allinone"
	"github.com/gatehouse/gatehouse/control"
	"github.com/gatehouse/gatehouse/control/config"
	"github.com/gatehouse/gatehouse/edge/gateway"
	"github.com/gatehouse/gatehouse/internal/debugserver"
	"github.com/gatehouse/gatehouse/internal/embednats"
	"github.com/gatehouse/gatehouse/internal/gcfloor"
	"github.com/gatehouse/gatehouse/internal/obs"
	"github.com/gatehouse/gatehouse/schema"
	"github.com/gatehouse/gatehouse/spend/rollup"
	"github.com/gatehouse/gatehouse/spend/sink"
)

// commands are the subcommands that run until ctx ends or they fail
// (check and help answer and exit: main handles them).
var commands = map[string]func(ctx context.Context, args []string) error{
	"run":             runAll,
	"control":         runControl,
	"edge":            runEdge,
	"nats":            runNATS,
	"sink":            runSink,
	"migrate":         runMigrate,
	"rebuild-rollups": runRebuildRollups,
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch run, ok := commands[os.Args[1]]; {
	case ok:
		err = run(ctx, os.Args[2:])
	case os.Args[1] == "check":
		ok, cerr := runCheck(os.Args[2:], os.Stdout)
		if cerr != nil {
			fmt.Fprintln(os.Stderr, "gatehouse:", cerr)
			os.Exit(2)
		}
		if !ok {
			os.Exit(1)
		}
		return
	case os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help":
		usage()
		return
	default:
		fmt.Fprintf(os.Stderr, "gatehouse: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: gatehouse <command> [flags]

commands:
  run       everything in one process: embedded JetStream, control plane, edge
  control   admin API replica (state rebuilt from the JetStream policy stream)
  edge      edge proxy (authorizes locally, forwards to upstream models)
  nats      a NATS server: standalone JetStream, or -config <nats-server.conf> for a
            cluster node or leaf node (deploy/cluster)
  sink      spend events from JetStream into ClickHouse
  migrate   apply the ClickHouse schema (idempotent)
  check     check a config.yaml without starting anything: every warning and
            error with its line; exit 1 if it would not start (-strict: warnings too)
  rebuild-rollups
            recompute the daily spend rollups from spend_events for
            -from/-to (YYYY-MM-DD, both included; none: every day); idempotent
`)
}

// logFlags are the logging flags every long-running command takes.
type logFlags struct{ format, level string }

func addLogFlags(fs *flag.FlagSet) *logFlags {
	l := &logFlags{}
	fs.StringVar(&l.format, "log-format", env("LOG_FORMAT", "json"), "log format: json or text (env LOG_FORMAT)")
	fs.StringVar(&l.level, "log-level", env("LOG_LEVEL", "info"), "log level: debug, info, warn or error (env LOG_LEVEL)")
	return l
}

func (l *logFlags) logger() (*slog.Logger, error) { return obs.NewLogger(os.Stderr, l.format, l.level) }

// accessLogFlag: per-request log lines at Info; off with -access-log=false
// (or a level above info).
func accessLogFlag(fs *flag.FlagSet, v *bool) {
	fs.BoolVar(v, "access-log", env("ACCESS_LOG", "true") != "false", "log one line per request at info: request id, route, status, duration (env ACCESS_LOG=false disables)")
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	return envParse(name, def, time.ParseDuration, "a duration")
}

func envInt(name string, def int) int { return envParse(name, def, strconv.Atoi, "a number") }

// envParse reads a typed setting from the environment; a value that does
// not parse stops the process before it starts with a setting it ignored.
func envParse[T any](name string, def T, parse func(string) (T, error), what string) T {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	x, err := parse(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gatehouse: %s=%q is not %s\n", name, v, what)
		os.Exit(2)
	}
	return x
}

func loadConfig(path string) (*config.File, error) {
	if path == "" {
		return config.Parse(config.Default())
	}
	return config.Load(path)
}

func runAll(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	lf := addLogFlags(fs)
	o := allinone.Options{}
	accessLogFlag(fs, &o.AccessLog)
	fs.StringVar(&o.ConfigPath, "config", os.Getenv("CONFIG"), "config.yaml (LiteLLM format); empty: the built-in example with mock models (env CONFIG)")
	fs.StringVar(&o.DataDir, "data", env("DATA_DIR", "./data"), "directory for the embedded JetStream store (env DATA_DIR)")
	fs.IntVar(&o.NATSPort, "nats-port", 4290, "embedded NATS port (4222 is usually the system NATS)")
	fs.StringVar(&o.ControlAddr, "control", env("CONTROL_ADDR", "127.0.0.1:4001"), "admin API listen address (env CONTROL_ADDR)")
	fs.StringVar(&o.EdgeAddr, "edge", env("EDGE_ADDR", "127.0.0.1:4000"), "edge listen address (env EDGE_ADDR)")
	fs.StringVar(&o.MasterKey, "master-key", os.Getenv("MASTER_KEY"), "admin key (env MASTER_KEY); empty: general_settings.master_key, else LITELLM_MASTER_KEY, else the demo key "+config.DemoMasterKey)
	fs.StringVar(&o.ClickHouse, "clickhouse", env("CLICKHOUSE_ADDR", "127.0.0.1:9000"), "ClickHouse native address; used when reachable (env CLICKHOUSE_ADDR)")
	var eo gateway.Options
	staleFlags(fs, &eo)
	xffFlag(fs, &o.UseXForwardedFor)
	floorMB := gcFloorFlag(fs, 64)
	_ = fs.Parse(args)
	o.MasterKeyFrom = config.FromEnv
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "master-key" {
			o.MasterKeyFrom = config.FromFlag
		}
	})
	defer gcfloor.Start(*floorMB << 20).Stop()
	if err := gateway.ValidStaleMode(eo.StaleMode); err != nil {
		return err
	}
	o.MaxStaleness, o.StaleMode = eo.MaxStaleness, eo.StaleMode
	log, err := lf.logger()
	if err != nil {
		return err
	}
	o.Log = log
	return allinone.Run(ctx, o)
}

// role is the setup control, edge and sink share: a flag set with the
// logging, NATS, JetStream-domain and debug-listener flags; start parses
// it, builds the logger and starts the debug listener.
type role struct {
	fs      *flag.FlagSet
	lf      *logFlags
	debug   *string
	floorMB *int64
}

func newRole(name string, natsURL, jsDomain *string) *role {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	floor := int64(64)
	if name == "control" {
		floor = controlGCFloorMB
	}
	r := &role{fs: fs, lf: addLogFlags(fs), debug: debugFlag(fs), floorMB: gcFloorFlag(fs, floor)}
	fs.StringVar(natsURL, "nats", env("NATS_URL", "nats://127.0.0.1:4222"), "NATS URL(s), comma-separated (env NATS_URL)")
	fs.StringVar(jsDomain, "js-domain", os.Getenv("NATS_JS_DOMAIN"), "JetStream domain of the hub cluster, for a process connected to a leaf node (env NATS_JS_DOMAIN)")
	return r
}

// httpFlags are the flags of a role that serves HTTP: the access log and
// the metrics listener.
func (r *role) httpFlags(accessLog *bool, metricsAddr *string) {
	accessLogFlag(r.fs, accessLog)
	r.fs.StringVar(metricsAddr, "metrics-addr", os.Getenv("METRICS_ADDR"), "serve /metrics on this address instead of the main listener (env METRICS_ADDR; empty: /metrics on the main listener, unauthenticated)")
}

func (r *role) start(ctx context.Context, args []string) (*slog.Logger, error) {
	_ = r.fs.Parse(args)
	log, err := r.lf.logger()
	if err != nil {
		return nil, err
	}
	if _, err := debugserver.Start(ctx, *r.debug, log); err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, gcfloor.Start(*r.floorMB<<20).Stop)
	return log, nil
}

func runControl(ctx context.Context, args []string) error {
	o := control.Options{}
	r := newRole("control", &o.NATSURL, &o.JSDomain)
	r.httpFlags(&o.AccessLog, &o.MetricsAddr)
	fs := r.fs
	cfgPath := fs.String("config", os.Getenv("CONFIG"), "config.yaml (LiteLLM format) (env CONFIG)")
	fs.StringVar(&o.Listen, "listen", env("CONTROL_ADDR", "127.0.0.1:4001"), "admin API listen address (env CONTROL_ADDR)")
	fs.Float64Var(&o.BudgetLeaseFraction, "budget-lease-fraction", 0.1, "share of a budget's remainder each edge may spend while cut from NATS")
	fs.IntVar(&o.Replicas, "replicas", envInt("STREAM_REPLICAS", 0), "replicas of the policy, audit and spend streams and the totals bucket: 3 on a JetStream cluster; "+
		"0 keeps what exists and creates with 1 (env STREAM_REPLICAS)")
	fs.StringVar(&o.ClickHouse, "clickhouse", os.Getenv("CLICKHOUSE_ADDR"), "ClickHouse native address for /spend/logs and /global/spend/report (env CLICKHOUSE_ADDR)")
	fs.StringVar(&o.ClickHouseDatabase, "clickhouse-db", env("CLICKHOUSE_DB", "gatehouse"), "ClickHouse database (env CLICKHOUSE_DB)")
	fs.DurationVar(&o.SyncTimeout, "sync-timeout", 2*time.Second, "how long a write waits for live edges to apply it")
	fs.DurationVar(&o.ReadyTimeout, "ready-timeout", 60*time.Second, "how long the initial replay of the policy stream may take before start-up fails")
	fs.DurationVar(&o.FailoverWindow, "failover-window", envDuration("FAILOVER_WINDOW", 30*time.Second), "how long an admin write retries while the policy stream has no leader, then 503 (env FAILOVER_WINDOW)")
	fs.IntVar(&o.SnapshotEvery, "snapshot-every", 10000, "write a policy snapshot for edge start-up every N events (negative: never)")
	log, err := r.start(ctx, args)
	if err != nil {
		return err
	}
	o.MasterKey = os.Getenv("MASTER_KEY")
	if *cfgPath != "" {
		f, err := config.Load(*cfgPath)
		if err != nil {
			return err
		}
		o.Config = f
	}
	o.Log = log
	return control.Run(ctx, o)
}

func runEdge(ctx context.Context, args []string) error {
	o := gateway.Options{}
	r := newRole("edge", &o.NATSURL, &o.JSDomain)
	r.httpFlags(&o.AccessLog, &o.MetricsAddr)
	fs := r.fs
	fs.StringVar(&o.Listen, "listen", env("EDGE_ADDR", "127.0.0.1:4000"), "listen address (env EDGE_ADDR)")
	fs.StringVar(&o.ControlURL, "control", env("CONTROL_URL", "http://127.0.0.1:4001"), "control plane URL for management routes (env CONTROL_URL)")
	fs.StringVar(&o.EdgeID, "id", os.Getenv("EDGE_ID"), "edge id in status reports (env EDGE_ID; default host-pid)")
	fs.StringVar(&o.Region, "region", os.Getenv("EDGE_REGION"), "region label (env EDGE_REGION)")
	mb := fs.Float64("max-request-size-mb", 10, "largest request body accepted, in MiB")
	fs.StringVar(&o.SpillDir, "spill-dir", os.Getenv("SPILL_DIR"), "spend events wait here while NATS is unreachable; one per edge (env SPILL_DIR; default under the temp dir)")
	fs.DurationVar(&o.SpendBatchWindow, "spend-batch-window", envDuration("SPEND_BATCH_WINDOW", 0),
		"how long spend events gather into one JetStream message (at most 256 each) before they are published; 0: the default, 2ms (env SPEND_BATCH_WINDOW)")
	compress := fs.Bool("spend-compress", envParse("SPEND_COMPRESS", true, strconv.ParseBool, "true or false"),
		"publish spend messages S2-compressed; false while sinks and control planes older than compressed spend messages still run (env SPEND_COMPRESS)")
	fs.Float64Var(&o.Budget.Floor, "budget-floor", 0, "USD every request reserves at least against its budgets until its cost is known")
	fs.Float64Var(&o.Budget.LeaseFraction, "lease-fraction", 0.1, "while cut from NATS: share of each rpm/tpm limit this edge may admit, and of a budget it has no lease for")
	staleFlags(fs, &o)
	xffFlag(fs, &o.UseXForwardedFor)
	log, err := r.start(ctx, args)
	if err != nil {
		return err
	}
	if err := gateway.ValidStaleMode(o.StaleMode); err != nil {
		return err
	}
	o.BodyLimit = int(*mb * (1 << 20))
	o.SpendPlain = !*compress
	o.MasterKey = os.Getenv("MASTER_KEY")
	o.Log = log
	return gateway.Run(ctx, o)
}

// gcFloorFlag is -gc-heap-floor-mb: the heap size below which the
// garbage collector does not start a cycle (internal/gcfloor). Every role
// (edge, control plane, sink) and run take it: each handles every
// request's spend event, allocating as it goes, on a live heap that is
// small until the policy is large. defMB is the role's default.
func gcFloorFlag(fs *flag.FlagSet, defMB int64) *int64 {
	return fs.Int64("gc-heap-floor-mb", int64(envInt("GC_HEAP_FLOOR_MB", int(defMB))),
		"MiB of heap below which the garbage collector waits: GOGC is raised while the live heap is small, so a small process under load collects less often; 0: plain GOGC (env GC_HEAP_FLOOR_MB)")
}

// controlGCFloorMB is the control plane's default floor. It decodes every
// edge's spend into events it drops at once; with a 64 MiB floor each GC
// cycle's heap is fresh pages the kernel must fault in (a fifth of its
// profile under load), and a smaller heap stays in cache. 16 MiB cost it
// 4.9-6.3 µs per edge request at saturation against 7.3-10.2 µs at 64,
// and less CPU at one connection (docs/benchmarks.md, Issue 17, seventh
// pass).
const controlGCFloorMB = 16

// xffFlag is -use-x-forwarded-for, LiteLLM's use_x_forwarded_for: where
// an edge reads the client address allowed_ips are checked against. The
// config's general_settings.use_x_forwarded_for, which reaches edges in
// the stream, turns it on too.
func xffFlag(fs *flag.FlagSet, v *bool) {
	fs.BoolVar(v, "use-x-forwarded-for", envParse("USE_X_FORWARDED_FOR", false, strconv.ParseBool, "true or false"),
		"check keys' and general_settings' allowed_ips against X-Forwarded-For's leftmost address (set by a load balancer in front of the edge) instead of the peer's; a client can write the header too; general_settings.use_x_forwarded_for in the config turns it on as well (env USE_X_FORWARDED_FOR)")
}

// staleFlags are the edge's staleness bound: -max-staleness and
// -stale-mode (fail-closed by default).
func staleFlags(fs *flag.FlagSet, o *gateway.Options) {
	fs.DurationVar(&o.MaxStaleness, "max-staleness", envDuration("MAX_STALENESS", gateway.DefaultMaxStaleness),
		"longest time the edge decides on a policy it has not confirmed is current with the stream (NATS unreachable); 0: no bound (env MAX_STALENESS)")
	fs.StringVar(&o.StaleMode, "stale-mode", env("STALE_MODE", gateway.StaleClosed),
		"past -max-staleness: closed (refuse model requests with 503, readiness 503) or static (serve, with the x-gatehouse-policy-stale header) (env STALE_MODE)")
}

// debugFlag is -debug-addr (also accepted as --debug-addr): pprof on its
// own listener, off unless set.
func debugFlag(fs *flag.FlagSet) *string {
	return fs.String("debug-addr", os.Getenv("DEBUG_ADDR"), "serve net/http/pprof here (e.g. 127.0.0.1:6060); empty: off. Keep it private: not the public port (env DEBUG_ADDR)")
}

func runSink(ctx context.Context, args []string) error {
	o := sink.ServeOptions{}
	r := newRole("sink", &o.NATSURL, &o.JSDomain)
	fs := r.fs
	fs.StringVar(&o.ClickHouse, "clickhouse", env("CLICKHOUSE_ADDR", "127.0.0.1:9000"), "ClickHouse native address (env CLICKHOUSE_ADDR)")
	fs.StringVar(&o.Database, "database", env("CLICKHOUSE_DB", "gatehouse"), "ClickHouse database (env CLICKHOUSE_DB)")
	fs.IntVar(&o.Replicas, "replicas", envInt("STREAM_REPLICAS", 0), "spend stream replicas; 0 keeps what exists and creates with 1 (env STREAM_REPLICAS)")
	fs.DurationVar(&o.RollEvery, "roll-every", sink.DefaultRollEvery, "how often to roll the finished days not yet in the spend rollups; negative: never (another sink or rebuild-rollups does it)")
	log, err := r.start(ctx, args)
	if err != nil {
		return err
	}
	o.Log = log
	return sink.Serve(ctx, o)
}

func runMigrate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ExitOnError)
	lf := addLogFlags(fs)
	addr := fs.String("clickhouse", env("CLICKHOUSE_ADDR", "127.0.0.1:9000"), "ClickHouse native address (env CLICKHOUSE_ADDR)")
	db := fs.String("database", env("CLICKHOUSE_DB", "gatehouse"), "database (env CLICKHOUSE_DB)")
	cluster := fs.String("cluster", os.Getenv("CLICKHOUSE_CLUSTER"), "ClickHouse cluster (a remote_servers name): create the ledger and rollups replicated per shard "+
		"and Distributed over the shards, every statement ON CLUSTER; empty: one server (env CLICKHOUSE_CLUSTER). See docs/operations.md")
	_ = fs.Parse(args)
	log, err := lf.logger()
	if err != nil {
		return err
	}
	return schema.RunLog(ctx, *addr, *db, *cluster, log)
}

func runRebuildRollups(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rebuild-rollups", flag.ExitOnError)
	addr := fs.String("clickhouse", env("CLICKHOUSE_ADDR", "127.0.0.1:9000"), "ClickHouse native address (env CLICKHOUSE_ADDR)")
	db := fs.String("database", env("CLICKHOUSE_DB", "gatehouse"), "database (env CLICKHOUSE_DB)")
	fromS := fs.String("from", "", "first UTC day to rebuild, YYYY-MM-DD (default: the first day with spend)")
	toS := fs.String("to", "", "last UTC day to rebuild, YYYY-MM-DD, included (default: the last day with spend)")
	_ = fs.Parse(args)
	var from, to time.Time
	for _, d := range []struct {
		flag string
		v    string
		t    *time.Time
	}{{"from", *fromS, &from}, {"to", *toS, &to}} {
		if d.v == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d.v)
		if err != nil {
			return fmt.Errorf("-%s %q: want YYYY-MM-DD", d.flag, d.v)
		}
		*d.t = t
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return fmt.Errorf("-to %s is before -from %s", *toS, *fromS)
	}
	if err := schema.ValidDatabase(*db); err != nil {
		return err
	}
	conn, err := schema.Open(ctx, *addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	t0 := time.Now()
	days, err := rollup.Rebuild(ctx, conn, *db, from, to)
	if err != nil {
		return err
	}
	slog.Info("rollups rebuilt", "database", *db, "days", len(days), "took", time.Since(t0).Round(time.Millisecond))
	return nil
}

func runNATS(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("nats", flag.ExitOnError)
	o := embednats.Options{}
	fs.StringVar(&o.Host, "host", "127.0.0.1", "listen host")
	fs.IntVar(&o.Port, "port", 4290, "listen port (-1: any free port, printed)")
	fs.StringVar(&o.StoreDir, "store", "./data/nats", "JetStream store directory")
	cfg := fs.String("config", os.Getenv("NATS_CONFIG"), "nats-server configuration file (cluster node, leaf node); when set, -host, -port and -store are ignored (env NATS_CONFIG)")
	fs.BoolVar(&o.Logs, "logs", false, "server logs on stderr (on with -config unless -logs=false)")
	_ = fs.Parse(args)
	var s *server.Server
	var err error
	if *cfg != "" {
		logs := true
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "logs" {
				logs = o.Logs
			}
		})
		s, err = embednats.StartConfig(*cfg, logs)
	} else {
		s, err = embednats.Start(o)
	}
	if err != nil {
		return err
	}
	fmt.Println(s.ClientURL())
	<-ctx.Done()
	s.Shutdown()
	s.WaitForShutdown()
	return nil
}
