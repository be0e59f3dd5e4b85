package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testutil"
)

// TestSoak drives a fixed request rate through two edges for SOAK_DURATION
// while faults are injected on a schedule (NATS SIGKILLed and restarted,
// ClickHouse stopped and started, an edge restarted, the upstream
// resetting connections), then checks that every accepted request has
// exactly one spend row (by request id) and that goroutines and heap of
// every gatehouse process are back near where they started. It runs only
// when SOAK_DURATION is set: `make soak` (10m by default), or e.g.
// SOAK_DURATION=1m SOAK_RPS=200 go test ./e2e -run TestSoak -v.
func TestSoak(t *testing.T) {
	durEnv := os.Getenv("SOAK_DURATION")
	if durEnv == "" {
		t.Skip("set SOAK_DURATION (make soak) to run the soak")
	}
	dur, err := time.ParseDuration(durEnv)
	if err != nil || dur < 30*time.Second {
		t.Fatalf("SOAK_DURATION %q: want a duration of at least 30s", durEnv)
	}
	rate := 200
	if v := os.Getenv("SOAK_RPS"); v != "" {
		if rate, err = strconv.Atoi(v); err != nil || rate <= 0 {
			t.Fatalf("SOAK_RPS %q", v)
		}
	}

	up := startFaultUpstream(t)
	fs := startFaultSystem(t, faultConfig(up.addr), 2, "FAULT_UPSTREAM_KEY="+faultUpstreamKey)
	var keys []string
	for range 4 {
		keys = append(keys, generateKey(t, fs.control, map[string]any{}))
	}
	procs := append([]*proc{fs.control, fs.sink}, fs.edges...)
	models := []string{"ok", "mock", "ok", "ok"}

	// Warm up (pools, caches, connections), then take the baseline at rest.
	warm := newBooks()
	runLoad(warm, fs.edges, keys, models, rate, 10*time.Second)
	loadClient.CloseIdleConnections()
	start := measureAll(t, procs, fs.nats.p)

	// The run: faults one after another in equal slots, each active for
	// a few seconds, then time to recover before the next.
	slots := 4 * max(1, int(dur/(5*time.Minute)))
	slot := dur / time.Duration(slots)
	active := min(5*time.Second, slot/3)
	type injected struct {
		name, command string
		n, failed     int
	}
	faults := []*injected{
		{name: "NATS killed (SIGKILL) and restarted", command: "kill -9 <nats pid>; gatehouse nats -port P -store D"},
		{name: "ClickHouse stopped and started", command: "SIGTERM clickhouse-server; start it again"},
		{name: "edge restarted (SIGINT, graceful)", command: "kill -INT <edge pid>; gatehouse edge ..."},
		{name: "upstream resets every 10th request (streams after 2 chunks)", command: "mock upstream: SO_LINGER 0 + close"},
	}
	b := newBooks()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { steadyKeys(b, fs.edges, keys, models, rate, stop); close(done) }()
	began := time.Now()
	for i := range slots {
		f := faults[i%len(faults)]
		slotStart := began.Add(time.Duration(i) * slot)
		waitUntil(slotStart.Add(slot / 4))
		before := b.failures()
		switch i % len(faults) {
		case 0:
			fs.nats.kill()
			waitUntil(time.Now().Add(active))
			fs.nats.restart(t)
		case 1:
			fs.ch.Stop()
			waitUntil(time.Now().Add(active))
			fs.ch.Restart(t)
		case 2:
			e := fs.edges[(i/len(faults))%len(fs.edges)]
			e.restart() // waits until ready again
		case 3:
			up.resetEvery.Store(10)
			waitUntil(time.Now().Add(active))
			up.resetEvery.Store(0)
		}
		f.n++
		waitUntil(slotStart.Add(slot - time.Second)) // recovery counts toward the fault
		f.failed += b.failures() - before
	}
	waitUntil(began.Add(dur))
	close(stop)
	<-done
	elapsed := time.Since(began)

	// The warm-up's requests have their rows too.
	b.mu.Lock()
	for id := range warm.accepted {
		b.accepted[id] = true
	}
	b.mu.Unlock()
	rows := fs.checkSpend(t, b, 3*time.Minute)
	sent, ok, accepted, status, errs := b.snapshot()
	loadClient.CloseIdleConnections()
	client.CloseIdleConnections()
	end := settleAll(t, procs, fs.nats.p, start)

	var sb strings.Builder
	fmt.Fprintf(&sb, "\nSOAK SUMMARY: %s at %d rps (%.0f rps achieved), 2 edges, %d faults injected\n", elapsed.Round(time.Second), rate, float64(sent)/elapsed.Seconds(), slots)
	wsent, _, _, _, _ := warm.snapshot()
	fmt.Fprintf(&sb, "requests sent %d (+%d warm-up), 200 OK %d, accepted (forwarded, x-litellm-call-id; warm-up included) %d, spend rows %d, spend rows lost %d\n",
		sent, wsent, ok, accepted, rows, accepted-rows)
	fmt.Fprintf(&sb, "status %v, other failures %v, resent to the other edge (refused / 503 not ready) %d\n", status, errs, b.retried)
	sb.WriteString("| fault | injected | requests failed (window) | spend rows lost |\n|---|---|---|---|\n")
	for _, f := range faults {
		fmt.Fprintf(&sb, "| %s | %d | %d | 0 |\n", f.name, f.n, f.failed)
	}
	sb.WriteString("| process | goroutines start -> end | heap in use MiB start -> end | RSS MiB start -> end |\n|---|---|---|---|\n")
	for _, p := range append(procs, fs.nats.p) {
		s, e := start[p.name], end[p.name]
		fmt.Fprintf(&sb, "| %s | %d -> %d | %.1f -> %.1f | %.1f -> %.1f |\n", p.name, s.goroutines, e.goroutines,
			mib(s.heap), mib(e.heap), float64(s.rssKB)/1024, float64(e.rssKB)/1024)
	}
	t.Log(sb.String())
	if rows != accepted {
		t.Fatalf("spend rows %d != accepted %d", rows, accepted)
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// runLoad is steady for a fixed time.
func runLoad(b *books, edges []*proc, keys, models []string, rate int, d time.Duration) {
	stop := make(chan struct{})
	go func() { <-time.After(d); close(stop) }()
	steadyKeys(b, edges, keys, models, rate, stop)
}

// steadyKeys spreads the load over several keys (one steady stream each).
func steadyKeys(b *books, edges []*proc, keys, models []string, rate int, stop <-chan struct{}) {
	per := max(1, rate/len(keys))
	done := make(chan struct{}, len(keys))
	for i, k := range keys {
		// Rotate models per key so each key sees all of them.
		ms := append(append([]string{}, models[i%len(models):]...), models[:i%len(models)]...)
		go func() { steady(b, edges, k, ms, per, stop); done <- struct{}{} }()
	}
	for range keys {
		<-done
	}
}

type procStats struct {
	goroutines int
	heap       int64 // HeapInuse bytes
	rssKB      int64
}

func measure(p *proc) (procStats, error) {
	s := procStats{rssKB: rssKB(p.pid())}
	if p.arg("-debug-addr") == "" {
		return s, nil // NATS: RSS only
	}
	n, err := goroutineCount(p)
	if err != nil {
		return s, err
	}
	s.goroutines = n
	s.heap, err = heapInuse(p)
	return s, err
}

func measureAll(t *testing.T, procs []*proc, nats *proc) map[string]procStats {
	t.Helper()
	out := map[string]procStats{}
	for _, p := range append(procs, nats) {
		testutil.Eventually(t, 10*time.Second, func() error {
			s, err := measure(p)
			out[p.name] = s
			return err
		})
	}
	return out
}

// settleAll waits for every process to return near its start: goroutines
// within +20, heap in use within 2x + 16 MiB (a GC cycle's worth of slack;
// a leak of per-request state grows past that over a soak). RSS is
// reported, not bounded: the Go runtime returns freed memory to the OS
// lazily.
func settleAll(t *testing.T, procs []*proc, nats *proc, start map[string]procStats) map[string]procStats {
	t.Helper()
	out := map[string]procStats{}
	for _, p := range procs {
		s0 := start[p.name]
		testutil.Eventually(t, 60*time.Second, func() error {
			// Force a collection so heap in use reflects live data.
			if resp, err := http.Get("http://" + p.arg("-debug-addr") + "/debug/pprof/heap?gc=1"); err == nil {
				resp.Body.Close()
			}
			s, err := measure(p)
			if err != nil {
				return err
			}
			out[p.name] = s
			if s.goroutines > s0.goroutines+20 {
				return fmt.Errorf("%s: %d goroutines, %d at the start", p.name, s.goroutines, s0.goroutines)
			}
			if s.heap > 2*s0.heap+16<<20 {
				return fmt.Errorf("%s: heap in use %.1f MiB, %.1f at the start", p.name, mib(s.heap), mib(s0.heap))
			}
			return nil
		})
	}
	s, _ := measure(nats)
	out[nats.name] = s
	return out
}

// heapInuse reads HeapInuse from the heap profile's MemStats trailer.
func heapInuse(p *proc) (int64, error) {
	resp, err := http.Get("http://" + p.arg("-debug-addr") + "/debug/pprof/heap?debug=1")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapInuse = "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no HeapInuse in the heap profile", p.name)
}
