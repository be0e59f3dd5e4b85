package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/control/budget"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/childproc"
	"github.com/gatehouse/gatehouse/internal/chtest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// clusterConfig has mock models only: the cluster test is about NATS.
const clusterConfig = `
general_settings:
  master_key: os.environ/MASTER_KEY
model_list:
  - model_name: gpt-4o
    litellm_params: {model: mock/gpt-4o}
  - model_name: gpt-4o-mini
    litellm_params: {model: mock/gpt-4o-mini}
`

var (
	officialOnce sync.Once
	officialNATS string
	officialErr  error
)

// officialServer builds the upstream nats-server command (the same module
// version gatehouse embeds), so the deploy/cluster files are proven with
// the official binary, not only with `gatehouse nats -config`.
func officialServer(t *testing.T) string {
	t.Helper()
	officialOnce.Do(func() {
		officialNATS = filepath.Join(filepath.Dir(binary), "nats-server")
		out, err := exec.Command("go", "build", "-o", officialNATS, "github.com/nats-io/nats-server/v2").CombinedOutput()
		if err != nil {
			officialErr = fmt.Errorf("build nats-server: %v\n%s", err, out)
		}
	})
	if officialErr != nil {
		t.Fatal(officialErr)
	}
	return officialNATS
}

// natsNode is one nats-server process run from a deploy/cluster file.
type natsNode struct {
	t       *testing.T
	name    string
	exe     string
	args    []string
	client  string // host:port for clients
	monitor string // host:port of the monitoring endpoint
	cur     *childproc.Proc
	log     childproc.LockedBuffer
}

func (n *natsNode) start() {
	n.t.Helper()
	c, err := childproc.Start(childproc.Spec{Name: n.name, Path: n.exe, Args: n.args, Log: &n.log})
	if err != nil {
		n.t.Fatal(err)
	}
	n.cur = c
}

// kill is a hard node loss: no shutdown, no leadership handoff.
func (n *natsNode) kill() {
	if n.cur != nil {
		_ = n.cur.Signal(syscall.SIGKILL)
		n.cur = nil
	}
}

func (n *natsNode) stop() {
	_ = n.cur.Stop()
	n.cur = nil
}

// waitHealthy polls the monitoring /healthz, which on a cluster node
// answers 200 only once its JetStream state is current.
func (n *natsNode) waitHealthy() {
	n.t.Helper()
	if err := n.healthy(); err != nil {
		n.t.Fatal(err)
	}
}

func (n *natsNode) healthy() error {
	return n.cur.WaitReady(60*time.Second, childproc.HTTPReady("http://"+n.monitor+"/healthz"))
}

// rewrite turns a deploy/cluster file into one for loopback: every
// replacement must apply, so a change in the shipped files that this test
// no longer exercises fails here.
func rewrite(t *testing.T, file string, repl [][2]string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "cluster", file))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for _, r := range repl {
		if !strings.Contains(s, r[0]) {
			t.Fatalf("deploy/cluster/%s no longer contains %q", file, r[0])
		}
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}

// testCluster is the deploy/cluster layout on loopback: three hub nodes
// and one leaf node per region.
type testCluster struct {
	nodes  []*natsNode
	leaves map[string]*natsNode
}

func (c *testCluster) clientURLs() string {
	var urls []string
	for _, n := range c.nodes {
		urls = append(urls, "nats://"+n.client)
	}
	return strings.Join(urls, ",")
}

func (c *testCluster) node(name string) *natsNode {
	for _, n := range c.nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

// startCluster runs nats-1 and nats-2 and leaf-eu with `gatehouse nats
// -config`, nats-3 and leaf-us with the official nats-server: the same
// files, both servers, one cluster.
//
// Ports are picked free and then handed to five processes, so another
// test may take one in between; a node that exits because its port was
// taken makes the whole cluster start again on fresh ports.
func startCluster(t *testing.T) *testCluster {
	t.Helper()
	official := officialServer(t)
	for attempt := 1; ; attempt++ {
		c, err := tryCluster(t, t.TempDir(), official)
		if err == nil {
			return c
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
		t.Logf("cluster start %d: %v; starting again on fresh ports", attempt, err)
	}
}

// tryCluster starts the cluster once; on an error every node it started
// is stopped again, and the error carries the failed node's log.
func tryCluster(t *testing.T, dir, official string) (*testCluster, error) {
	routes, leafs := make([]string, 3), make([]string, 3)
	for i := range 3 {
		routes[i], leafs[i] = testutil.FreeAddr(t), testutil.FreeAddr(t)
	}
	c := &testCluster{leaves: map[string]*natsNode{}}
	for i := range 3 {
		name := fmt.Sprintf("nats-%d", i+1)
		n := &natsNode{t: t, name: name, client: testutil.FreeAddr(t), monitor: testutil.FreeAddr(t)}
		repl := [][2]string{
			{"0.0.0.0:4222", n.client}, {"0.0.0.0:8222", n.monitor},
			{"0.0.0.0:6222", routes[i]}, {"0.0.0.0:7422", leafs[i]},
			{"/var/lib/gatehouse/nats", filepath.Join(dir, name)},
		}
		for j := range 3 {
			repl = append(repl, [2]string{fmt.Sprintf("nats-%d:6222", j+1), routes[j]})
		}
		conf := filepath.Join(dir, name+".conf")
		writeFile(t, conf, rewrite(t, name+".conf", repl))
		if i < 2 {
			n.exe, n.args = binary, []string{"nats", "-config", conf}
		} else {
			n.exe, n.args = official, []string{"-c", conf}
		}
		c.nodes = append(c.nodes, n)
	}
	for _, region := range []string{"eu", "us"} {
		name := "leaf-" + region
		n := &natsNode{t: t, name: name, client: testutil.FreeAddr(t), monitor: testutil.FreeAddr(t)}
		repl := [][2]string{{"0.0.0.0:4222", n.client}, {"0.0.0.0:8222", n.monitor}}
		for j := range 3 {
			repl = append(repl, [2]string{fmt.Sprintf("nats-%d:7422", j+1), leafs[j]})
		}
		conf := filepath.Join(dir, name+".conf")
		writeFile(t, conf, rewrite(t, name+".conf", repl))
		if region == "eu" {
			n.exe, n.args = binary, []string{"nats", "-config", conf}
		} else {
			n.exe, n.args = official, []string{"-c", conf}
		}
		c.leaves[region] = n
	}
	all := append(append([]*natsNode{}, c.nodes...), c.leaves["eu"], c.leaves["us"])
	for _, n := range all {
		n.start()
	}
	for _, n := range all {
		if err := n.healthy(); err != nil {
			for _, m := range all {
				m.stop()
			}
			return nil, fmt.Errorf("%w\n--- %s log (last 8 KiB) ---\n%s", err, n.name, tail(n.log.String(), 8<<10))
		}
	}
	for _, n := range all {
		t.Cleanup(func() {
			n.stop()
			if t.Failed() {
				t.Logf("--- %s log (last 8 KiB) ---\n%s", n.name, tail(n.log.String(), 8<<10))
			}
		})
	}
	// A leaf is only useful once its hub connection is up.
	for _, n := range c.leaves {
		testutil.Eventually(t, 30*time.Second, func() error {
			var lz struct {
				Leafs int `json:"leafnodes"`
			}
			if err := getJSON("http://"+n.monitor+"/leafz", &lz); err != nil {
				return err
			}
			if lz.Leafs == 0 {
				return fmt.Errorf("%s: no hub connection yet", n.name)
			}
			return nil
		})
	}
	return c, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func getJSON(url string, out any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// TestClusterFailover: the deploy/cluster layout with real processes. A key
// created through control works at edges in two regions (each behind its
// own leaf node); the node leading the policy stream is killed; writes made
// during the failover still reach both edges, spend published meanwhile
// is all in the spend stream and in ClickHouse (through the sink) exactly
// once, and the restarted node catches up.
func TestClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five NATS servers")
	}
	c := startCluster(t)
	nc, err := nats.Connect(c.clientURLs(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}

	// Streams made by an earlier single-replica setup: control with
	// -replicas 3 scales them up in place.
	testutil.EnsureStreams(t, js)
	testutil.EnsureStream(t, js, events.EnsureSpendStream)
	{
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if _, err := budget.EnsureBucket(ctx, js, 0); err != nil {
			t.Fatal(err)
		}
		cancel()
	}

	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, cfgPath, clusterConfig)
	env := []string{"MASTER_KEY=" + masterKey, "LOG_LEVEL=debug"}
	ctlAddr := testutil.FreeAddr(t)
	control := start(t, "control", env, "control", "-nats", c.clientURLs(), "-listen", ctlAddr, "-config", cfgPath, "-replicas", "3")
	edges := map[string]*proc{}
	for _, region := range []string{"eu", "us"} {
		edges[region] = start(t, "edge-"+region, env, "edge", "-nats", "nats://"+c.leaves[region].client,
			"-js-domain", "hub", "-listen", testutil.FreeAddr(t), "-control", "http://"+ctlAddr, "-id", "edge-"+region, "-region", region,
			"-spill-dir", filepath.Join(t.TempDir(), "spill-"+region))
	}
	waitEdges(t, control, 2)
	eu, us := edges["eu"], edges["us"]
	// The spend sink, on the hub like control, into a private ClickHouse.
	ch := chtest.Start(t)
	start(t, "sink", env, "sink", "-nats", c.clientURLs(), "-clickhouse", ch.Addr(), "-database", "cluster_e2e")

	// Every stream (the upsert queue and poison queue too) and the totals bucket are now R3.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, name := range []string{events.PolicyStream, events.AuditStream, events.SpendStream, events.UpsertStream, events.PoisonStream, events.KVStream(events.TotalsBucket)} {
		info := streamInfo(t, ctx, js, name)
		if info.Config.Replicas != 3 {
			t.Fatalf("%s: %d replicas, want 3", name, info.Config.Replicas)
		}
	}

	// A key made through control works in both regions.
	k1 := generateKey(t, control, map[string]any{"models": []string{"gpt-4o"}})
	expectChat(t, eu, k1, "gpt-4o", 200, "")
	expectChat(t, us, k1, "gpt-4o", 200, "")
	expectChat(t, us, k1, "gpt-4o-mini", 403, "key_model_access_denied")

	// The node to kill leads the policy stream; move the spend stream's
	// leadership there too, so the kill interrupts spend publishing as well.
	leader := streamInfo(t, ctx, js, events.PolicyStream).Cluster.Leader
	testutil.Eventually(t, 30*time.Second, func() error {
		cur := streamInfo(t, ctx, js, events.SpendStream).Cluster.Leader
		if cur == leader {
			return nil
		}
		body, _ := json.Marshal(map[string]any{"placement": map[string]any{"preferred": leader}})
		_, _ = nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+events.SpendStream, body, 5*time.Second)
		return fmt.Errorf("spend leader %s, policy leader %s", cur, leader)
	})
	victim := c.node(leader)
	if victim == nil {
		t.Fatalf("policy leader %q is not one of the nodes", leader)
	}

	// Traffic at both edges throughout the kill, with its own key so its
	// spend events can be counted.
	loadKey := generateKey(t, control, map[string]any{"models": []string{"gpt-4o"}})
	sum := sha256.Sum256([]byte(loadKey))
	loadToken := hex.EncodeToString(sum[:])
	var accepted, refused atomic.Int64
	stopLoad := make(chan struct{})
	var wg sync.WaitGroup
	for _, e := range []*proc{eu, us} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Paced (about 100 requests/s per edge): the point is traffic
			// spanning the failover, not load on a shared machine.
			pace := time.NewTicker(10 * time.Millisecond)
			defer pace.Stop()
			for {
				select {
				case <-stopLoad:
					return
				case <-pace.C:
				}
				if postChat(e, loadKey, "gpt-4o") == 200 {
					accepted.Add(1)
				} else {
					refused.Add(1)
				}
			}
		}()
	}
	testutil.Eventually(t, 10*time.Second, func() error {
		if accepted.Load() < 20 {
			return fmt.Errorf("%d requests so far", accepted.Load())
		}
		return nil
	})

	killed := time.Now()
	victim.kill()
	t.Logf("killed %s (policy and spend leader) after %d requests", leader, accepted.Load())

	// Writes during the failover: block k1, create k2, narrow k2's models.
	if code, raw := callRaw(t, "POST", control.url("/key/block"), masterKey, map[string]any{"key": k1}); code != 200 {
		t.Fatalf("/key/block during failover: %d %s", code, raw)
	}
	blockedAfter := time.Since(killed)
	k2 := generateKey(t, control, map[string]any{"models": []string{"gpt-4o", "gpt-4o-mini"}})
	if code, raw := callRaw(t, "POST", control.url("/key/update"), masterKey, map[string]any{"key": k2, "models": []string{"gpt-4o-mini"}}); code != 200 {
		t.Fatalf("/key/update during failover: %d %s", code, raw)
	}
	for _, e := range []*proc{eu, us} {
		testutil.Eventually(t, 30*time.Second, func() error {
			if code := postChat(e, k1, "gpt-4o"); code != 401 {
				return fmt.Errorf("%s: blocked key got %d", e.name, code)
			}
			if code := postChat(e, k2, "gpt-4o"); code != 403 {
				return fmt.Errorf("%s: k2 on a model it lost got %d", e.name, code)
			}
			if code := postChat(e, k2, "gpt-4o-mini"); code != 200 {
				return fmt.Errorf("%s: k2 got %d", e.name, code)
			}
			return nil
		})
	}
	t.Logf("block committed %s after the kill; both edges enforce all three writes %s after it", blockedAfter.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))

	// A little more traffic on the new leaders, then stop and count.
	n0 := accepted.Load()
	testutil.Eventually(t, 30*time.Second, func() error {
		if accepted.Load() < n0+20 {
			return fmt.Errorf("%d requests since the writes", accepted.Load()-n0)
		}
		return nil
	})
	close(stopLoad)
	wg.Wait()
	if refused.Load() != 0 {
		t.Fatalf("%d load requests refused during the failover (the edge authorizes locally)", refused.Load())
	}
	want := accepted.Load()
	counter := newSpendCounter(ctx, t, js, loadToken)
	testutil.Eventually(t, 60*time.Second, func() error {
		if err := counter.poll(ctx); err != nil {
			return err
		}
		if counter.events != want || int64(len(counter.request)) != want {
			return fmt.Errorf("spend stream has %d events (%d distinct requests) for %d accepted requests", counter.events, len(counter.request), want)
		}
		return nil
	})
	t.Logf("%d requests accepted during the failover; %d spend events, %d distinct", want, counter.events, len(counter.request))
	// The sink rode out the failover too: one row per request.
	conn := ch.Conn(t)
	testutil.Eventually(t, 60*time.Second, func() error {
		var rows, ids uint64
		r := conn.QueryRow(context.Background(), "SELECT count(), uniqExact(request_id) FROM cluster_e2e.spend_events WHERE key_hash = ? AND outcome != 'denied'", loadToken)
		if err := r.Scan(&rows, &ids); err != nil {
			return err
		}
		if rows != uint64(want) || ids != uint64(want) {
			return fmt.Errorf("ClickHouse has %d rows (%d distinct) for %d requests", rows, ids, want)
		}
		return nil
	})

	// The restarted node rejoins and catches up on every stream.
	victim.start()
	victim.waitHealthy()
	for _, name := range []string{events.PolicyStream, events.AuditStream, events.SpendStream} {
		testutil.Eventually(t, 60*time.Second, func() error {
			info, err := js.Stream(ctx, name)
			if err != nil {
				return err
			}
			si, err := info.Info(ctx)
			if err != nil {
				return err
			}
			if si.Cluster == nil {
				return errors.New("no cluster info")
			}
			names := []string{si.Cluster.Leader}
			for _, r := range si.Cluster.Replicas {
				if !r.Current || r.Lag != 0 || r.Offline {
					return fmt.Errorf("%s: replica %s current=%v lag=%d offline=%v", name, r.Name, r.Current, r.Lag, r.Offline)
				}
				names = append(names, r.Name)
			}
			if !slices.Contains(names, leader) || len(names) != 3 {
				return fmt.Errorf("%s: peers %v, want %s back among 3", name, names, leader)
			}
			return nil
		})
	}
	// And it serves the current state itself: read k1 straight from it.
	direct, err := nats.Connect("nats://" + victim.client)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	djs, _ := jetstream.New(direct)
	ps, err := djs.Stream(ctx, events.PolicyStream)
	if err != nil {
		t.Fatal(err)
	}
	sum1 := sha256.Sum256([]byte(k1))
	cur, err := events.Get(ctx, ps, events.KindKey, hex.EncodeToString(sum1[:]))
	if err != nil || !cur.Exists {
		t.Fatalf("k1 via the restarted node: %+v %v", cur, err)
	}
	if k, ok := cur.Event.Object.(*events.Key); !ok || !k.Blocked {
		t.Fatalf("k1 via the restarted node is not blocked: %#v", cur.Event.Object)
	}
	// The edges still follow: one more write reaches both.
	if code := call(t, "POST", control.url("/key/unblock"), masterKey, map[string]any{"key": k1}, nil); code != 200 {
		t.Fatalf("/key/unblock: %d", code)
	}
	expectChat(t, eu, k1, "gpt-4o", 200, "")
	expectChat(t, us, k1, "gpt-4o", 200, "")
}

func streamInfo(t *testing.T, ctx context.Context, js jetstream.JetStream, name string) *jetstream.StreamInfo {
	t.Helper()
	var info *jetstream.StreamInfo
	testutil.Eventually(t, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var err error
		if info, err = events.StreamInfo(ctx, js, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if info.Cluster == nil {
			return fmt.Errorf("%s: no cluster info", name)
		}
		if info.Cluster.Leader == "" {
			return fmt.Errorf("%s: no leader yet", name)
		}
		return nil
	})
	return info
}

// spendCounter reads the spend stream incrementally and counts the
// events of one key.
type spendCounter struct {
	r       *testutil.SpendReader
	key     string
	events  int64
	request map[string]bool
}

func newSpendCounter(ctx context.Context, t *testing.T, js jetstream.JetStream, keyHash string) *spendCounter {
	t.Helper()
	r, err := testutil.NewSpendReader(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	return &spendCounter{r: r, key: keyHash, request: map[string]bool{}}
}

// poll reads up to the stream's current last sequence.
func (c *spendCounter) poll(ctx context.Context) error {
	return c.r.Read(ctx, func(_ jetstream.Msg, _ string, evs []events.SpendEvent) error {
		for _, ev := range evs {
			if ev.KeyHash == c.key {
				c.events++
				c.request[ev.RequestID] = true
			}
		}
		return nil
	})
}
