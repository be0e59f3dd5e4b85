// Command gatehouse is the LLM gateway: one binary, a subcommand per role.
//
//	gatehouse run      everything in one process (embedded JetStream, control, edge)
//	gatehouse control  an admin API replica
//	gatehouse edge     an edge proxy
//	gatehouse nats     a standalone embedded JetStream server
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
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/control"
	"github.com/gatehouse/gatehouse/edge/gateway"
	"github.com/gatehouse/gatehouse/internal/allinone"
	"github.com/gatehouse/gatehouse/internal/debugserver"
	"github.com/gatehouse/gatehouse/internal/embednats"
	"github.com/gatehouse/gatehouse/schema"
	"github.com/gatehouse/gatehouse/spend/sink"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()}))
	var err error
	switch os.Args[1] {
	case "run":
		err = runAll(ctx, os.Args[2:], log)
	case "control":
		err = runControl(ctx, os.Args[2:], log)
	case "edge":
		err = runEdge(ctx, os.Args[2:], log)
	case "nats":
		err = runNATS(ctx, os.Args[2:])
	case "sink":
		err = runSink(ctx, os.Args[2:], log)
	case "migrate":
		err = runMigrate(ctx, os.Args[2:], log)
	case "-h", "--help", "help":
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
  nats      standalone embedded JetStream server
  sink      spend events from JetStream into ClickHouse
  migrate   apply the ClickHouse schema (idempotent)
`)
}

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(env("LOG_LEVEL", "info"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func loadConfig(path string) (*config.File, error) {
	if path == "" {
		return config.Parse(config.Default())
	}
	return config.Load(path)
}

func runAll(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	o := allinone.Options{}
	fs.StringVar(&o.ConfigPath, "config", os.Getenv("CONFIG"), "config.yaml (LiteLLM format); empty: the built-in example with mock models (env CONFIG)")
	fs.StringVar(&o.DataDir, "data", env("DATA_DIR", "./data"), "directory for the embedded JetStream store (env DATA_DIR)")
	fs.IntVar(&o.NATSPort, "nats-port", 4290, "embedded NATS port (4222 is usually the system NATS)")
	fs.StringVar(&o.ControlAddr, "control", env("CONTROL_ADDR", "127.0.0.1:4001"), "admin API listen address (env CONTROL_ADDR)")
	fs.StringVar(&o.EdgeAddr, "edge", env("EDGE_ADDR", "127.0.0.1:4000"), "edge listen address (env EDGE_ADDR)")
	fs.StringVar(&o.MasterKey, "master-key", env("MASTER_KEY", "sk-1234"), "admin key (env MASTER_KEY)")
	fs.StringVar(&o.ClickHouse, "clickhouse", env("CLICKHOUSE_ADDR", "127.0.0.1:9000"), "ClickHouse native address; used when reachable (env CLICKHOUSE_ADDR)")
	_ = fs.Parse(args)
	o.Log = log
	return allinone.Run(ctx, o)
}

func runControl(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("control", flag.ExitOnError)
	cfgPath := fs.String("config", os.Getenv("CONFIG"), "config.yaml (LiteLLM format) (env CONFIG)")
	o := control.Options{}
	fs.StringVar(&o.NATSURL, "nats", env("NATS_URL", "nats://127.0.0.1:4222"), "NATS URL(s), comma-separated (env NATS_URL)")
	fs.StringVar(&o.Listen, "listen", env("CONTROL_ADDR", "127.0.0.1:4001"), "admin API listen address (env CONTROL_ADDR)")
	fs.IntVar(&o.Replicas, "replicas", 1, "stream replicas (3 on a JetStream cluster)")
	fs.StringVar(&o.ClickHouse, "clickhouse", os.Getenv("CLICKHOUSE_ADDR"), "ClickHouse native address for /spend/logs and /global/spend/report (env CLICKHOUSE_ADDR)")
	fs.StringVar(&o.ClickHouseDatabase, "clickhouse-db", env("CLICKHOUSE_DB", "gatehouse"), "ClickHouse database (env CLICKHOUSE_DB)")
	fs.DurationVar(&o.SyncTimeout, "sync-timeout", 2*time.Second, "how long a write waits for live edges to apply it")
	debugAddr := debugFlag(fs)
	_ = fs.Parse(args)
	if _, err := debugserver.Start(ctx, *debugAddr, log); err != nil {
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

func runEdge(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("edge", flag.ExitOnError)
	o := gateway.Options{}
	fs.StringVar(&o.NATSURL, "nats", env("NATS_URL", "nats://127.0.0.1:4222"), "NATS URL(s), comma-separated (env NATS_URL)")
	fs.StringVar(&o.Listen, "listen", env("EDGE_ADDR", "127.0.0.1:4000"), "listen address (env EDGE_ADDR)")
	fs.StringVar(&o.ControlURL, "control", env("CONTROL_URL", "http://127.0.0.1:4001"), "control plane URL for management routes (env CONTROL_URL)")
	fs.StringVar(&o.EdgeID, "id", os.Getenv("EDGE_ID"), "edge id in status reports (env EDGE_ID; default host-pid)")
	fs.StringVar(&o.Region, "region", os.Getenv("EDGE_REGION"), "region label (env EDGE_REGION)")
	mb := fs.Float64("max-request-size-mb", 10, "largest request body accepted, in MiB")
	fs.StringVar(&o.SpillDir, "spill-dir", os.Getenv("SPILL_DIR"), "spend events wait here while NATS is unreachable; one per edge (env SPILL_DIR; default under the temp dir)")
	debugAddr := debugFlag(fs)
	_ = fs.Parse(args)
	if _, err := debugserver.Start(ctx, *debugAddr, log); err != nil {
		return err
	}
	o.BodyLimit = int(*mb * (1 << 20))
	o.MasterKey = os.Getenv("MASTER_KEY")
	o.Log = log
	return gateway.Run(ctx, o)
}

// debugFlag is -debug-addr (also accepted as --debug-addr): pprof on its
// own listener, off unless set.
func debugFlag(fs *flag.FlagSet) *string {
	return fs.String("debug-addr", os.Getenv("DEBUG_ADDR"), "serve net/http/pprof here (e.g. 127.0.0.1:6060); empty: off. Keep it private: not the public port (env DEBUG_ADDR)")
}

func runSink(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("sink", flag.ExitOnError)
	o := sink.ServeOptions{Log: log}
	fs.StringVar(&o.NATSURL, "nats", env("NATS_URL", "nats://127.0.0.1:4222"), "NATS URL(s) (env NATS_URL)")
	fs.StringVar(&o.ClickHouse, "clickhouse", env("CLICKHOUSE_ADDR", "127.0.0.1:9000"), "ClickHouse native address (env CLICKHOUSE_ADDR)")
	fs.StringVar(&o.Database, "database", env("CLICKHOUSE_DB", "gatehouse"), "ClickHouse database (env CLICKHOUSE_DB)")
	fs.IntVar(&o.Replicas, "replicas", 1, "spend stream replicas")
	debugAddr := debugFlag(fs)
	_ = fs.Parse(args)
	if _, err := debugserver.Start(ctx, *debugAddr, log); err != nil {
		return err
	}
	return sink.Serve(ctx, o)
}

func runMigrate(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("migrate", flag.ExitOnError)
	addr := fs.String("clickhouse", env("CLICKHOUSE_ADDR", "127.0.0.1:9000"), "ClickHouse native address (env CLICKHOUSE_ADDR)")
	db := fs.String("database", env("CLICKHOUSE_DB", "gatehouse"), "database (env CLICKHOUSE_DB)")
	_ = fs.Parse(args)
	return schema.RunLog(ctx, *addr, *db, log)
}

func runNATS(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("nats", flag.ExitOnError)
	o := embednats.Options{}
	fs.StringVar(&o.Host, "host", "127.0.0.1", "listen host")
	fs.IntVar(&o.Port, "port", 4290, "listen port (-1: any free port, printed)")
	fs.StringVar(&o.StoreDir, "store", "./data/nats", "JetStream store directory")
	_ = fs.Parse(args)
	s, err := embednats.Start(o)
	if err != nil {
		return err
	}
	fmt.Println(s.ClientURL())
	<-ctx.Done()
	s.Shutdown()
	s.WaitForShutdown()
	return nil
}
