// Package allinone runs the whole system in one process for `make run`: an
// embedded JetStream server, a control-plane replica and an edge, talking to
// each other over real NATS and HTTP exactly as separate processes would.
package allinone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/control"
	"github.com/gatehouse/gatehouse/control/config"
	"github.com/gatehouse/gatehouse/edge/gateway"
	"github.com/gatehouse/gatehouse/internal/embednats"
	"github.com/gatehouse/gatehouse/spend/sink"
)

// reachable reports whether something accepts TCP connections at addr.
func reachable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Options for Run.
type Options struct {
	ConfigPath  string // empty: built-in example with mock models
	DataDir     string
	NATSPort    int
	ControlAddr string
	EdgeAddr    string
	// MasterKey is the -master-key flag or MASTER_KEY ("": the config's
	// general_settings.master_key, else LITELLM_MASTER_KEY, else the
	// demo key config.DemoMasterKey); MasterKeyFrom says which of the
	// two (config.FromFlag or config.FromEnv).
	MasterKey     string
	MasterKeyFrom string
	// ClickHouse is tried at start; when it answers, spend goes there and
	// /spend/logs works, otherwise spend stays in JetStream.
	ClickHouse string
	Log        *slog.Logger
	// AccessLog logs one line per request (edge and control) at Info.
	AccessLog bool
	// MaxStaleness and StaleMode: the edge's staleness bound (see
	// gateway.Options).
	MaxStaleness time.Duration
	StaleMode    string
	// UseXForwardedFor is the edge's gateway.Options.UseXForwardedFor.
	UseXForwardedFor bool
}

// Run starts everything and blocks until ctx ends.
func Run(ctx context.Context, o Options) error {
	log := o.Log
	var (
		cfg *config.File
		err error
	)
	if o.ConfigPath == "" {
		cfg, err = config.Parse(config.Default())
	} else {
		cfg, err = config.Load(o.ConfigPath)
	}
	if err != nil {
		return err
	}
	if err := cfg.ApplyEnvironment(os.Setenv); err != nil {
		return err
	}
	from := o.MasterKeyFrom
	if from == "" {
		from = config.FromEnv
	}
	// The built-in example's master_key is os.environ/MASTER_KEY, which
	// o.MasterKey has read already: without it, the demo key.
	keyFile := cfg
	if o.ConfigPath == "" {
		keyFile = nil
	}
	mk, err := config.ResolveMasterKey(keyFile, o.MasterKey, from, nil, config.DemoMasterKey)
	if err != nil {
		return err
	}
	storeDir := filepath.Join(o.DataDir, "jetstream")
	if err := os.MkdirAll(storeDir, 0o755); err != nil {
		return err
	}
	ns, err := embednats.Start(embednats.Options{Port: o.NATSPort, StoreDir: storeDir, Name: "gatehouse-dev"})
	if err != nil {
		return err
	}
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	natsURL := ns.ClientURL()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chStatus := "not reachable at " + o.ClickHouse + ": spend stays in JetStream (start ClickHouse and restart to record it)"
	chAddr := ""
	if o.ClickHouse != "" && reachable(o.ClickHouse) {
		chAddr = o.ClickHouse
		chStatus = o.ClickHouse + " (database gatehouse; spend sink running)"
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	// start runs a part and waits for the address it reports once ready
	// (false: it failed, with err, or ctx ended, with a nil err).
	start := func(run func(ready chan<- string) error) (addr string, ok bool, err error) {
		ready := make(chan string, 1)
		wg.Add(1)
		go func() { defer wg.Done(); errs <- run(ready) }()
		select {
		case addr = <-ready:
			return addr, true, nil
		case err = <-errs:
			return "", false, err
		case <-ctx.Done():
			return "", false, nil
		}
	}
	controlAddr, ok, err := start(func(ready chan<- string) error {
		return control.Run(ctx, control.Options{NATSURL: natsURL, Listen: o.ControlAddr, Config: cfg, MasterKey: mk.Key, Log: log, Ready: ready,
			ClickHouse: chAddr, AccessLog: o.AccessLog})
	})
	if !ok {
		return err
	}
	edgeAddr, ok, err := start(func(ready chan<- string) error {
		return gateway.Run(ctx, gateway.Options{NATSURL: natsURL, Listen: o.EdgeAddr, ControlURL: "http://" + controlAddr,
			MasterKey: mk.Key, EdgeID: "edge-local", Region: "local", Log: log, Ready: ready,
			SpillDir: filepath.Join(o.DataDir, "spend-spill"), AccessLog: o.AccessLog,
			MaxStaleness: o.MaxStaleness, StaleMode: o.StaleMode, UseXForwardedFor: o.UseXForwardedFor})
	})
	if !ok {
		return err
	}
	if chAddr != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- sink.Serve(ctx, sink.ServeOptions{NATSURL: natsURL, ClickHouse: chAddr, Database: "gatehouse", Log: log})
		}()
	}
	// The curl examples carry the key only when it is the public demo
	// key; any other key is printed only by its prefix.
	curlKey := mk.Key
	if mk.From != config.FromDemoDefault {
		curlKey = "<master key>"
	}
	source := o.ConfigPath
	if source == "" {
		source = "built-in example (mock models, no network needed)"
	}
	fmt.Printf(`
gatehouse is running
  edge (OpenAI-compatible API)  http://%[1]s      /v1/chat/completions  /v1/embeddings  /v1/completions  /v1/responses  /v1/messages  /v1/models
  control (admin API)           http://%[2]s      /key/generate  /team/new  /model/info
                                (management routes also work on the edge port)
  metrics (Prometheus)          http://%[1]s/metrics  http://%[2]s/metrics
  JetStream (embedded)          %[3]s  data in %[4]s
  master key                    %[8]s (%[9]s)
  config                        %[6]s
  ClickHouse                    %[7]s

try:
  curl -s http://%[1]s/v1/chat/completions -H 'Authorization: Bearer %[5]s' \
    -H 'Content-Type: application/json' \
    -d '{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}'
  curl -s http://%[1]s/v1/embeddings -H 'Authorization: Bearer %[5]s' \
    -H 'Content-Type: application/json' \
    -d '{"model":"text-embedding-3-small","input":"hello","dimensions":8}'
  curl -s http://%[1]s/v1/responses -H 'Authorization: Bearer %[5]s' \
    -H 'Content-Type: application/json' -d '{"model":"gpt-4o","input":"hello"}'
  curl -s http://%[1]s/v1/messages -H 'x-api-key: %[5]s' -H 'anthropic-version: 2023-06-01' \
    -H 'Content-Type: application/json' \
    -d '{"model":"gpt-4o","max_tokens":100,"messages":[{"role":"user","content":"hello"}]}'

Ctrl-C stops everything.
`, edgeAddr, controlAddr, natsURL, storeDir, curlKey, source, chStatus, mk.Shown(), mk.Describe(o.ConfigPath))
	var first error
	select {
	case <-ctx.Done():
	case first = <-errs:
		cancel()
	}
	wg.Wait()
	if errors.Is(first, context.Canceled) {
		first = nil
	}
	return first
}
