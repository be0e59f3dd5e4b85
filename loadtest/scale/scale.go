// Package scale measures an edge holding a large policy: it writes N
// virtual keys and M teams to a real JetStream policy stream, then times a
// real edge process from start to ready (replaying the stream), reads its
// memory, and times key lookups on the same state built in-process.
package scale

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/childproc"
	"github.com/gatehouse/gatehouse/loadtest/harness"
	"github.com/gatehouse/gatehouse/policy"
)

// Config of a scale run.
type Config struct {
	Root         string // repository root, for go build
	Keys, Teams  int
	WorkDir      string
	Log          *slog.Logger
	SkipInProc   bool // skip the in-process replay and lookup benchmark
	EdgeStartups int  // edge start-ups to time (median reported)
	// CPUProfile, if set, receives a CPU profile of the in-process replay.
	CPUProfile string
}

// Result of a run.
type Result struct {
	Keys, Teams     int
	StreamBytes     uint64
	PublishTime     time.Duration
	EdgeReplay      time.Duration // start to ready replaying the whole stream
	EdgeRSSReplay   int64         // KiB, 5 s after ready by replay
	SnapshotWrite   time.Duration // control start to the snapshot stored
	SnapshotBytes   uint64
	EdgeReady       []time.Duration // each start-up from the snapshot, process start to readiness 200
	EdgeRSSReady    int64           // KiB, right after ready
	EdgeRSSSettled  int64           // KiB, 5 s later
	InProcReplay    time.Duration
	InProcHeapBytes uint64 // live heap after replay and GC
	LookupNs        float64
	LookupAllocs    int64
	CheckKeyNs      float64
	CheckKeyAllocs  int64
	Started         time.Time
}

// Run performs the measurement.
func Run(ctx context.Context, c Config) (*Result, error) {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.EdgeStartups <= 0 {
		c.EdgeStartups = 3
	}
	work := c.WorkDir
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "gatehouse-scale-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(work)
	}
	bin := filepath.Join(work, "gatehouse")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/gatehouse")
	cmd.Dir = c.Root
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build: %v\n%s", err, out)
	}
	natsAddr, err := childproc.FreeAddr()
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(natsAddr)
	ns, err := childproc.Start(childproc.Spec{Name: "nats", Path: bin, Args: []string{"nats", "-host", host, "-port", port, "-store", filepath.Join(work, "nats")},
		Log: os.Stderr})
	if err != nil {
		return nil, err
	}
	defer ns.Stop()
	natsURL := "nats://" + natsAddr
	var nc *nats.Conn
	for i := 0; ; i++ {
		if nc, err = nats.Connect(natsURL); err == nil {
			break
		}
		if i > 100 {
			return nil, err
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return nil, err
	}
	if _, err := events.EnsureStreams(ctx, js, events.StreamOptions{}); err != nil {
		return nil, err
	}
	res := &Result{Keys: c.Keys, Teams: c.Teams, Started: time.Now()}
	c.Log.Info("publishing", "keys", c.Keys, "teams", c.Teams)
	t0 := time.Now()
	if err := publish(ctx, js, c.Keys, c.Teams); err != nil {
		return nil, err
	}
	res.PublishTime = time.Since(t0)
	info, err := events.StreamInfo(ctx, js, events.PolicyStream)
	if err != nil {
		return nil, err
	}
	res.StreamBytes = info.State.Bytes
	c.Log.Info("published", "in", res.PublishTime, "msgs", info.State.Msgs, "bytes", info.State.Bytes)

	// Without a snapshot: the whole stream.
	if res.EdgeReplay, _, res.EdgeRSSReplay, err = startEdge(ctx, bin, natsURL, work, true); err != nil {
		return nil, err
	}
	c.Log.Info("edge ready by replay", "in", res.EdgeReplay, "rss_kib_5s_later", res.EdgeRSSReplay)
	// In process before the snapshot step, which a busy machine can fail
	// (object store acks time out).
	if !c.SkipInProc {
		if err := inProc(ctx, js, c.Keys, c.CPUProfile, res); err != nil {
			return nil, err
		}
		c.Log.Info("in-process replay", "in", res.InProcReplay, "heap_mib", res.InProcHeapBytes>>20, "lookup_ns", res.LookupNs, "checkkey_ns", res.CheckKeyNs)
	}
	// The control plane writes a snapshot once it has caught up.
	t1 := time.Now()
	ctlAddr, err := childproc.FreeAddr()
	if err != nil {
		return nil, err
	}
	ctl, err := childproc.Start(childproc.Spec{Name: "control", Path: bin, Args: []string{"control", "-nats", natsURL, "-listen", ctlAddr, "-ready-timeout", "10m"},
		Env: []string{"MASTER_KEY=sk-scale-master", "LOG_LEVEL=warn"}, Log: os.Stderr})
	if err != nil {
		return nil, err
	}
	defer ctl.Stop()
	for {
		if oi, err := policy.StoredSnapshot(ctx, js); err == nil && oi.Metadata["seq"] == strconv.FormatUint(info.State.LastSeq, 10) {
			res.SnapshotWrite, res.SnapshotBytes = time.Since(t1), oi.Size
			break
		}
		if time.Since(t1) > 10*time.Minute {
			return nil, fmt.Errorf("no snapshot after 10 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.Log.Info("snapshot written", "in", res.SnapshotWrite, "bytes", res.SnapshotBytes)
	for i := range c.EdgeStartups {
		ready, rss, settled, err := startEdge(ctx, bin, natsURL, work, i == 0)
		if err != nil {
			return nil, err
		}
		res.EdgeReady = append(res.EdgeReady, ready)
		if i == 0 {
			res.EdgeRSSReady, res.EdgeRSSSettled = rss, settled
		}
		c.Log.Info("edge ready from snapshot", "in", ready, "rss_kib", rss)
	}
	return res, nil
}

// Token is the key hash of the i-th synthetic key.
func Token(i int) string {
	sum := sha256.Sum256([]byte("sk-scale-" + strconv.Itoa(i)))
	return hex.EncodeToString(sum[:])
}

// TeamID is the id of the i-th synthetic team.
func TeamID(i int) string { return fmt.Sprintf("team-%05d", i) }

// TeamObject is the i-th synthetic team.
func TeamObject(i int, now time.Time) *events.Team {
	return &events.Team{TeamID: TeamID(i), TeamAlias: "Team " + strconv.Itoa(i), Models: []string{"gpt-4o", "gpt-4o-mini"}, CreatedAt: now, UpdatedAt: now}
}

// KeyObject is the i-th synthetic key, of team i mod teams.
func KeyObject(i, teams int, now time.Time) *events.Key {
	return &events.Key{Token: Token(i), KeyName: "sk-...x" + strconv.Itoa(i%1000), KeyAlias: "key-" + strconv.Itoa(i),
		Models: []string{"gpt-4o"}, TeamID: TeamID(i % teams), UserID: "user-" + strconv.Itoa(i%50000),
		CreatedBy: "scale", CreatedAt: now, UpdatedAt: now}
}

// publish writes the teams and keys as the control plane would (full-state
// upsert events on their own subjects), with async publishes.
func publish(ctx context.Context, js jetstream.JetStream, keys, teams int) error {
	now := time.Now().UTC()
	sent := 0
	send := func(kind events.Kind, id string, obj any) (jetstream.PubAckFuture, error) {
		data, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		evID := events.NewID()
		env, err := json.Marshal(events.Envelope{ID: evID, Type: events.TypeFor(kind, events.ActionUpserted), Time: now, Actor: "scale", Data: data})
		if err != nil {
			return nil, err
		}
		sent++
		if sent%2048 == 0 {
			// Window the async publishes: the client refuses more than its
			// max pending outright once the server falls behind.
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(time.Minute):
				return nil, fmt.Errorf("publishes not acknowledged (%d pending)", js.PublishAsyncPending())
			}
		}
		return js.PublishMsgAsync(&nats.Msg{Subject: events.Subject(kind, id), Data: env}, jetstream.WithMsgID(evID))
	}
	for i := range teams {
		if _, err := send(events.KindTeam, TeamID(i), TeamObject(i, now)); err != nil {
			return err
		}
	}
	for i := range keys {
		k := KeyObject(i, teams, now)
		if _, err := send(events.KindKey, k.Token, k); err != nil {
			return err
		}
		if i%100000 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
	}
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("publishes not acknowledged after 5 minutes (%d pending)", js.PublishAsyncPending())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startEdge runs an edge process and times it from start to ready.
func startEdge(ctx context.Context, bin, natsURL, work string, measureRSS bool) (ready time.Duration, rss, settled int64, err error) {
	addr, err := childproc.FreeAddr()
	if err != nil {
		return 0, 0, 0, err
	}
	start := time.Now()
	edge, err := childproc.Start(childproc.Spec{Name: "edge", Path: bin, Args: []string{"edge", "-nats", natsURL, "-listen", addr, "-control", "", "-spill-dir", filepath.Join(work, "spill")},
		Env: []string{"EDGE_ID=scale-edge", "LOG_LEVEL=info"}, LogFile: filepath.Join(work, "edge.log")})
	if err != nil {
		return 0, 0, 0, err
	}
	defer edge.Stop()
	// Polled every 5ms rather than with WaitReady's backoff: the time to
	// ready is what this measures.
	client := &http.Client{Timeout: time.Second}
	for {
		if ctx.Err() != nil {
			return 0, 0, 0, ctx.Err()
		}
		resp, err := client.Get("http://" + addr + "/health/readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Since(start) > 5*time.Minute {
			return 0, 0, 0, fmt.Errorf("edge not ready after 5 minutes")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ready = time.Since(start)
	if measureRSS {
		rss, _ = harness.RSS(edge.Pid())
		time.Sleep(5 * time.Second)
		settled, _ = harness.RSS(edge.Pid())
	}
	return ready, rss, settled, nil
}

// inProc replays the stream into a policy.Live in this process and times
// lookups on the result.
func inProc(ctx context.Context, js jetstream.JetStream, keys int, profile string, res *Result) error {
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	live := &policy.Live{JS: js, Keys: policy.CompactKeys, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t0 := time.Now()
	go live.Run(lctx) //nolint:errcheck
	for !live.Ready() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(time.Millisecond)
	}
	res.InProcReplay = time.Since(t0)
	snap := live.Load()
	cancel()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	res.InProcHeapBytes = after.HeapAlloc - before.HeapAlloc
	if snap.NumKeys() != keys {
		return fmt.Errorf("in-process replay has %d keys, want %d", snap.NumKeys(), keys)
	}
	hashes := make([]policy.KeyHash, 4096)
	for i := range hashes {
		h, err := policy.ParseKeyHash(Token(rand.IntN(keys)))
		if err != nil {
			return err
		}
		hashes[i] = h
	}
	now := time.Now()
	lookup := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if snap.Key(hashes[i&4095]) == nil {
				b.Fatal("key missing")
			}
		}
	})
	res.LookupNs, res.LookupAllocs = float64(lookup.NsPerOp()), lookup.AllocsPerOp()
	check := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			k := snap.Key(hashes[i&4095])
			if _, err := snap.CheckKey(k, "gpt-4o", now); err == nil {
				_ = err // no model deployed: the decision runs, the route is empty
			}
		}
	})
	res.CheckKeyNs, res.CheckKeyAllocs = float64(check.NsPerOp()), check.AllocsPerOp()
	return nil
}
