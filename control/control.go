// Package control runs a control-plane replica: the admin API over the
// policy stream. A replica holds no state of its own: at start it replays
// the stream into its read model, then syncs the deployments of its
// config.yaml (idempotently: unchanged entries publish nothing).
//
// It owns the wiring of one replica (NATS connection, streams, store,
// admin API, edge tracker, budget tracker and user upsert consumer, spend
// queries). It guarantees that the API starts serving only once the read
// model has replayed the stream (or returns an error after ReadyTimeout),
// and, the stream being the only state, that any number of replicas may
// run at once.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"reflect"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/auth/jwtauth"
	"github.com/gatehouse/gatehouse/control/api"
	"github.com/gatehouse/gatehouse/control/budget"
	"github.com/gatehouse/gatehouse/control/config"
	"github.com/gatehouse/gatehouse/control/edges"
	"github.com/gatehouse/gatehouse/control/processor"
	"github.com/gatehouse/gatehouse/control/store"
	"github.com/gatehouse/gatehouse/control/upsert"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/obs"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/schema"
)

// Options configure a replica.
type Options struct {
	// NATSURL of the JetStream server or cluster (comma-separated).
	NATSURL string
	// JSDomain: see gateway.Options.JSDomain.
	JSDomain string
	// Listen address of the admin API, e.g. "127.0.0.1:4001".
	Listen string
	// Config is the parsed config.yaml (nil: no config models).
	Config *config.File
	// MasterKey overrides general_settings.master_key when set; without
	// it, the config's key is used, else LITELLM_MASTER_KEY
	// (config.ResolveMasterKey).
	MasterKey string
	// Replicas of the streams (3 on a JetStream cluster).
	Replicas int
	// SyncTimeout bounds how long a write waits for edges; default 2s.
	SyncTimeout time.Duration
	// ReadyTimeout bounds the initial replay; default 60s.
	ReadyTimeout time.Duration
	Log          *slog.Logger
	// ClickHouse is the native address of the spend store for
	// /spend/logs and /global/spend/report ("" disables them); the schema is
	// migrated at start.
	ClickHouse         string
	ClickHouseDatabase string
	// FailoverWindow is how long an admin write keeps retrying while the
	// policy stream has no leader (a JetStream node is being replaced);
	// default 30s. After it the write is a 503.
	FailoverWindow time.Duration
	// SnapshotEvery is how many events past the stored policy snapshot
	// make the control plane write a new one (edges start from it instead
	// of replaying the whole stream); default 10,000, negative disables.
	SnapshotEvery int
	// Listener, if set, is used instead of Listen (tests pass port 0).
	Listener net.Listener
	// Ready is closed once the API is serving.
	Ready chan<- string
	// AccessLog logs one line per request at Info.
	AccessLog bool
	// Metrics is the registry for this replica's series (nil: a new one
	// with the Go and process collectors), served on /metrics.
	Metrics *prometheus.Registry
	// MetricsAddr, if set, serves /metrics there instead of on Listen.
	MetricsAddr string
	// BudgetLeaseFraction is the share of a budget's remainder each edge
	// may spend while cut from NATS (budget.Tracker.LeaseFraction; 0: 0.1).
	BudgetLeaseFraction float64
}

// auditWait bounds how long a change to an object waits for the audit
// stream to record the event it replaces (events.Publisher.AuditWait).
const auditWait = time.Second

// Run serves until ctx ends.
func Run(ctx context.Context, o Options) error {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "control")
	// -master-key/MASTER_KEY, else general_settings.master_key, else
	// LITELLM_MASTER_KEY (LiteLLM's order after gatehouse's override).
	mk, err := config.ResolveMasterKey(o.Config, o.MasterKey, config.FromEnv, nil, "")
	if err != nil {
		return err
	}
	masterKey := mk.Key
	if masterKey == "" {
		return errors.New("control: no master key: set general_settings.master_key in config.yaml, MASTER_KEY or LITELLM_MASTER_KEY")
	}
	if o.MasterKey == "" {
		log.Info("master key", "key", mk.Shown(), "source", mk.Describe(""))
	}
	nc, js, err := events.Connect(o.NATSURL, events.ConnControl, events.WithJSDomain(o.JSDomain))
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	defer nc.Drain()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	stream, err := events.EnsureStreams(sctx, js, events.StreamOptions{Replicas: o.Replicas})
	if err == nil {
		_, err = events.EnsureSpendStream(sctx, js, events.StreamOptions{Replicas: o.Replicas})
	}
	if err == nil {
		_, err = events.EnsureUpsertStream(sctx, js, events.StreamOptions{Replicas: o.Replicas})
	}
	var totals jetstream.KeyValue
	if err == nil {
		totals, err = budget.EnsureBucket(sctx, js, o.Replicas)
	}
	cancel()
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	jwtMgr := &jwtauth.Manager{Log: log}
	live := &policy.Live{JS: js, Log: log, OnPublish: func(s *policy.Snapshot) {
		if _, err := jwtMgr.Update(s.JWT()); err != nil {
			log.Error("JWT settings rejected; JWT calls fail until fixed", "err", err)
		}
	}, Seed: func(ctx context.Context) (*policy.Snapshot, error) { return policy.LoadSnapshot(ctx, js, nil) }}
	liveErr := make(chan error, 1)
	go func() { liveErr <- live.Run(ctx) }()
	if o.SnapshotEvery >= 0 {
		sn := &policy.Snapshotter{JS: js, Live: live, Every: uint64(o.SnapshotEvery), Replicas: o.Replicas, Log: log}
		go sn.Run(ctx)
	}
	tracker := edges.New()
	if _, err := tracker.Subscribe(nc); err != nil {
		return err
	}
	st := &store.Store{Stream: stream, Pub: &events.Publisher{JS: js, AuditWait: auditWait}, Live: live, Edges: tracker, Log: log, SyncTimeout: o.SyncTimeout,
		FailoverWindow: o.FailoverWindow}

	readyTimeout := o.ReadyTimeout
	if readyTimeout <= 0 {
		readyTimeout = 60 * time.Second
	}
	if err := waitReady(ctx, live, liveErr, readyTimeout); err != nil {
		return err
	}
	log.Info("read model replayed", "seq", live.Load().Seq(), "keys", live.Load().NumKeys())
	if o.Config != nil {
		if err := SyncConfig(ctx, st, o.Config, log); err != nil {
			return err
		}
		for _, w := range o.Config.Warnings() {
			log.Warn("config: " + w)
		}
	}
	for _, w := range policy.MissingEnvWarnings(st.Snapshot(), nil) {
		log.Warn("model_list: " + w + " (in the control plane's environment; edges resolve their own)")
	}
	reg := o.Metrics
	if reg == nil {
		reg = obs.NewRegistry()
	}
	// The processors: one Watermill router for every consumer of a topic
	// that produces effects (see control/processor).
	procs, err := processor.New(ctx, processor.Options{JS: js, Log: log, Metrics: reg, Replicas: o.Replicas})
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	upsert.Register(procs, st)
	budgets := &budget.Tracker{KV: totals, Store: st, Log: log.With("part", "budget"), LeaseFraction: o.BudgetLeaseFraction}
	budgets.Register(procs)
	go budgets.RunSweeper(ctx)
	procErr := make(chan error, 1)
	go func() { procErr <- procs.Run(ctx) }()
	bodyLimit := 0
	if o.Config != nil && o.Config.GeneralSettings.MaxRequestSizeMB > 0 {
		bodyLimit = int(o.Config.GeneralSettings.MaxRequestSizeMB * (1 << 20))
	}
	var spendStore *api.SpendStore
	if o.ClickHouse != "" {
		conn, err := schema.Open(ctx, o.ClickHouse)
		if err == nil {
			err = schema.Migrate(ctx, conn, o.ClickHouseDatabase)
		}
		if err != nil {
			return fmt.Errorf("control: clickhouse %s: %w", o.ClickHouse, err)
		}
		defer conn.Close()
		db := o.ClickHouseDatabase
		if db == "" {
			db = schema.DefaultDatabase
		}
		spendStore = &api.SpendStore{Conn: conn, Database: db}
	}
	reg.MustRegister(tracker.Collector(func(ctx context.Context) (uint64, error) {
		info, err := stream.Info(ctx)
		if err != nil {
			return 0, err
		}
		return info.State.LastSeq, nil
	}))
	// The budget tracker decodes every spend message; one the fast path
	// cannot read (a producer with another encoding) costs several times
	// the CPU, so the fallbacks are counted where an operator sees them.
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "gatehouse_spend_decode_fallbacks_total",
		Help: "Spend messages decoded by encoding/json because the fast decoder did not recognise their encoding (0 for edges of this version).",
	}, func() float64 { return float64(events.SpendDecodeFallbacks()) }))
	var keyDefaults, keyBound *api.KeyParams
	var userDefaults *api.UserParams
	var keyGeneration *api.KeyGenerationSettings
	var allowUserTeams, noAutoAddAdmin bool
	if o.Config != nil {
		allowUserTeams, noAutoAddAdmin = o.Config.GeneralSettings.AllowUserTeamCreation, o.Config.GeneralSettings.DisableAutoAddProxyAdminToTeams
		s := &o.Config.LiteLLMSettings
		keyDefaults, keyBound = keyParams(s.DefaultKeyGenerateParams), keyParams(s.UpperboundKeyGenerateParams)
		kg, err := o.Config.KeyGeneration()
		if err != nil {
			return err
		}
		keyGeneration = keyGenerationSettings(kg)
		if u := o.Config.UserDefaults(); u != nil || s.MaxInternalUserBudget != nil {
			userDefaults = &api.UserParams{InternalUserMaxBudget: s.MaxInternalUserBudget}
			if u != nil {
				userDefaults.UserRole, userDefaults.Models, userDefaults.MaxBudget, userDefaults.BudgetDuration = u.UserRole, u.Models, u.MaxBudget, u.BudgetDuration
			}
		}
	}
	app := api.New(st, api.Options{KeyDefaults: keyDefaults, KeyUpperBound: keyBound, KeyGeneration: keyGeneration, UserDefaults: userDefaults, Spend: spendStore, MasterKey: masterKey, Log: log, BodyLimit: bodyLimit, ValidateModel: config.ValidateModel,
		ValidateJWTSettings: config.ValidateJWTSettings, JWT: jwtMgr, Totals: totals, JS: js,
		AccessLog: o.AccessLog, Metrics: reg, ServeMetrics: o.MetricsAddr == "", DryRunConfig: dryRunConfig,
		AllowUserTeamCreation: allowUserTeams, DisableAutoAddProxyAdminToTeams: noAutoAddAdmin})
	ln, serveErr, stopMetrics, err := obs.Serve(ctx, app, o.Listener, "control", o.Listen, o.MetricsAddr, reg, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	log.Info("admin API serving", "addr", ln.Addr().String())
	if o.Ready != nil {
		o.Ready <- ln.Addr().String()
	}
	select {
	case <-ctx.Done():
		_ = app.ShutdownWithTimeout(5 * time.Second)
		return nil
	case err := <-serveErr:
		return err
	case err := <-procErr:
		_ = app.ShutdownWithTimeout(5 * time.Second)
		return fmt.Errorf("control: processors stopped: %w", err)
	case err := <-liveErr:
		_ = app.ShutdownWithTimeout(5 * time.Second)
		return fmt.Errorf("control: read model stopped: %w", err)
	}
}

func waitReady(ctx context.Context, live *policy.Live, liveErr <-chan error, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !live.Ready() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-liveErr:
			return fmt.Errorf("control: replay failed: %w", err)
		case <-deadline.C:
			return fmt.Errorf("control: replay not done after %s", timeout)
		case <-tick.C:
		}
	}
	return nil
}

// SyncConfigModels makes the stream's config deployments equal to the
// config file's: new or changed entries are upserted, entries that left the
// file are deleted, unchanged ones publish nothing (so restarts are free and
// every replica can run it). Deployments created through /model/new are
// never touched.
func SyncConfigModels(ctx context.Context, st *store.Store, f *config.File, log *slog.Logger) error {
	models, err := f.Models(st.Now())
	if err != nil {
		return err
	}
	want := map[string]bool{}
	changed := 0
	for _, m := range models {
		want[m.ID] = true
		res, err := st.Put(ctx, "config", m, func(cur any) bool { return sameDeployment(cur.(*events.Model), m) })
		if err != nil {
			return fmt.Errorf("control: sync model %s (%s): %w", m.ModelName, m.ID, err)
		}
		if !res.Noop {
			changed++
		}
	}
	removed := 0
	for _, m := range st.Snapshot().Models() {
		if m.Source == "config" && !want[m.ID] {
			if _, _, err := st.Delete(ctx, "config", events.KindModel, m.ID); err != nil {
				return fmt.Errorf("control: remove model %s: %w", m.ID, err)
			}
			removed++
		}
	}
	log.Info("config models synced", "models", len(models), "published", changed, "removed", removed)
	return nil
}

// SyncConfig writes what a config.yaml says about the policy (its
// model_list, JWT, router and litellm settings) through st: at start, and
// into a sandbox store for a dry run of a new config.
func SyncConfig(ctx context.Context, st *store.Store, f *config.File, log *slog.Logger) error {
	if err := SyncConfigModels(ctx, st, f, log); err != nil {
		return err
	}
	if err := SyncJWTSettings(ctx, st, f, os.Getenv, log); err != nil {
		return err
	}
	if err := SyncRoutingSettings(ctx, st, f, log); err != nil {
		return err
	}
	return SyncLiteLLMSettings(ctx, st, f.LiteLLMSettings.MaxEndUserBudget, log)
}

// dryRunConfig applies a config.yaml to a sandbox store (api.Options.DryRunConfig).
func dryRunConfig(ctx context.Context, st *store.Store, yaml []byte) error {
	f, err := config.Parse(yaml)
	if err != nil {
		return err
	}
	return SyncConfig(ctx, st, f, slog.New(slog.DiscardHandler))
}

// SyncJWTSettings publishes the config file's JWT settings (with the
// JWT_* environment) when they differ from the stream's. A config without
// JWT settings leaves the stream alone, so settings changed through
// /jwt/settings survive a restart with such a config.
func SyncJWTSettings(ctx context.Context, st *store.Store, f *config.File, getenv func(string) string, log *slog.Logger) error {
	s, err := f.JWTSettings(getenv, st.Now())
	if err != nil || s == nil {
		return err
	}
	published, err := syncSettings(ctx, st, s, func(c *events.JWTSettings) *time.Time { return &c.UpdatedAt }, "JWT settings")
	if err != nil {
		return err
	}
	log.Info("JWT settings synced", "enabled", s.Enabled, "published", published)
	return nil
}

// SyncRoutingSettings publishes the config file's router_settings when they
// differ from the stream's; a config without them leaves the stream alone,
// but for general_settings.allowed_ips and use_x_forwarded_for, which a
// config that dropped them must clear: a stale list would keep refusing
// clients and the admin API itself.
func SyncRoutingSettings(ctx context.Context, st *store.Store, f *config.File, log *slog.Logger) error {
	s, err := f.RoutingSettingsEvent(st.Now())
	if err != nil {
		return err
	}
	if s == nil {
		cur := st.Snapshot().RoutingSettings()
		if cur == nil || (cur.AllowedIPs == nil && !cur.UseXForwardedFor) {
			return nil
		}
		c := *cur
		c.AllowedIPs, c.UseXForwardedFor, c.UpdatedAt = nil, false, st.Now()
		s = &c
	}
	published, err := syncSettings(ctx, st, s, func(c *events.RoutingSettings) *time.Time { return &c.UpdatedAt }, "router settings")
	if err != nil {
		return err
	}
	log.Info("router settings synced", "strategy", s.Strategy(), "published", published)
	return nil
}

// syncSettings publishes a settings object from the config file unless
// the stream's equals it but for the time it was updated (updatedAt
// points at it), and says whether it published.
func syncSettings[T any](ctx context.Context, st *store.Store, s *T, updatedAt func(*T) *time.Time, what string) (bool, error) {
	res, err := st.Put(ctx, "config", s, func(cur any) bool {
		c := *cur.(*T)
		*updatedAt(&c) = *updatedAt(s)
		return jsonEqual(&c, s)
	})
	if err != nil {
		return false, fmt.Errorf("control: sync %s: %w", what, err)
	}
	return !res.Noop, nil
}

func sameDeployment(a, b *events.Model) bool {
	if a.ModelName != b.ModelName || a.Source != b.Source {
		return false
	}
	return jsonEqual(a.LiteLLMParams, b.LiteLLMParams) && jsonEqual(a.ModelInfo, b.ModelInfo)
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	var va, vb any
	_ = json.Unmarshal(ja, &va)
	_ = json.Unmarshal(jb, &vb)
	return reflect.DeepEqual(va, vb)
}

// keyGenerationSettings hands key_generation_settings to the admin API.
func keyGenerationSettings(s *config.KeyGenerationSettings) *api.KeyGenerationSettings {
	if s == nil {
		return nil
	}
	rule := func(r *config.KeyGenerationRule) *api.KeyGenerationRule {
		if r == nil {
			return nil
		}
		return &api.KeyGenerationRule{AllowedRoles: r.AllowedRoles, RequiredParams: r.RequiredParams}
	}
	return &api.KeyGenerationSettings{Team: rule(s.Team), Personal: rule(s.Personal)}
}

// keyParams converts litellm_settings' key parameters for the admin API.
func keyParams(k *config.KeyGenerateParams) *api.KeyParams {
	if k == nil {
		return nil
	}
	return &api.KeyParams{Models: k.Models, MaxBudget: k.MaxBudget, BudgetDuration: k.BudgetDuration, Duration: k.Duration,
		TPMLimit: k.TPMLimit, RPMLimit: k.RPMLimit, MaxParallelRequests: k.MaxParallelRequests, Metadata: k.Metadata, TeamID: k.TeamID}
}
