package e2e

// Helpers for the fault tests and the soak: NATS as a process that can be
// killed, a misbehaving upstream, process introspection through the debug
// listener, and a load generator that keeps the books (sent, accepted,
// failed by status, the call ids of accepted requests).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/gatehouse/gatehouse/internal/chtest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// natsProc is `gatehouse nats` as its own process, so a fault can SIGKILL
// it (no clean shutdown, no final flush) and start it again on the same
// port and store.
type natsProc struct {
	p   *proc
	url string
}

func startNATS(t *testing.T) *natsProc {
	t.Helper()
	port := testutil.FreePort(t)
	n := &natsProc{url: fmt.Sprintf("nats://127.0.0.1:%d", port)}
	n.p = start(t, "nats", nil, "nats", "-port", strconv.Itoa(port), "-store", t.TempDir())
	n.wait(t)
	return n
}

func (n *natsProc) wait(t *testing.T) {
	t.Helper()
	addr := strings.TrimPrefix(n.url, "nats://")
	err := n.p.cur.WaitReady(20*time.Second, func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		// The INFO line is sent once the server accepts clients.
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "INFO ") {
			return fmt.Errorf("nats not serving: %q %v", line, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// kill is SIGKILL: the server gets no chance to flush or say goodbye.
func (n *natsProc) kill() { n.p.signal(syscall.SIGKILL) }

func (n *natsProc) restart(t *testing.T) {
	t.Helper()
	n.p.run()
	n.wait(t)
}

// goroutines reads the process's goroutine count from its debug listener
// (the first line of /debug/pprof/goroutine?debug=1).
func goroutines(t *testing.T, p *proc) int {
	t.Helper()
	n, err := goroutineCount(p)
	if err != nil {
		t.Fatalf("%s: %v", p.name, err)
	}
	return n
}

func goroutineCount(p *proc) (int, error) {
	addr := p.arg("-debug-addr")
	if addr == "" {
		return 0, fmt.Errorf("%s has no -debug-addr", p.name)
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	var n int
	if _, err := fmt.Sscanf(line, "goroutine profile: total %d", &n); err != nil {
		return 0, fmt.Errorf("goroutine profile %q: %v", line, err)
	}
	return n, nil
}

// rssKB is VmRSS from /proc/<pid>/status.
func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// waitGoroutines waits until p is back to at most base+slack goroutines:
// the fault left nothing running behind.
func waitGoroutines(t *testing.T, p *proc, base, slack int) int {
	t.Helper()
	var n int
	testutil.Eventually(t, 20*time.Second, func() error {
		n = goroutines(t, p)
		if n > base+slack {
			return fmt.Errorf("%s: %d goroutines, baseline %d (+%d allowed)", p.name, n, base, slack)
		}
		return nil
	})
	return n
}

// ---------------------------------------------------------------------------
// A misbehaving upstream.

// faultUpstream is an OpenAI-compatible mock whose behaviour is chosen by
// the upstream model name:
//
//	ok           answers at once (JSON, or a short SSE stream with usage)
//	slow         waits slowDelay before answering (or until the caller leaves)
//	hang-stream  sends two chunks, then nothing, until the caller leaves
//	hang-quiet   the same (deployed with a long stream_timeout)
//	drip         a chunk every 20ms for ~20s (a long generation)
//	reset        resets the TCP connection without answering
//	reset-stream sends two chunks, then resets the connection
//
// It records when callers went away, so a test can check that a cancel
// reached the upstream, and counts handlers still running.
type faultUpstream struct {
	addr      string
	slowDelay time.Duration
	active    atomic.Int64
	requests  atomic.Int64
	// resetEvery > 0 makes every n-th "ok" request a reset instead, before
	// the answer or, for a stream, after two chunks (the soak's injected
	// upstream failures); switched at run time.
	resetEvery atomic.Int64

	mu      sync.Mutex
	cancels []upstreamCancel
}

type upstreamCancel struct {
	Model    string
	Chunks   int           // chunks sent before the caller left
	Lifetime time.Duration // from request to noticing the caller left
	At       time.Time
}

// faultID is the id of the fault upstream's completions.
const faultID = "chatcmpl-f"

func startFaultUpstream(t *testing.T) *faultUpstream {
	t.Helper()
	u := &faultUpstream{slowDelay: 5 * time.Second}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/chat/completions", u.handle)
	u.addr = serveMock(t, mux)
	return u
}

func (u *faultUpstream) cancelsFor(model string) []upstreamCancel {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []upstreamCancel
	for _, c := range u.cancels {
		if c.Model == model {
			out = append(out, c)
		}
	}
	return out
}

func (u *faultUpstream) recordCancel(model string, chunks int, start time.Time) {
	u.mu.Lock()
	u.cancels = append(u.cancels, upstreamCancel{Model: model, Chunks: chunks, Lifetime: time.Since(start), At: time.Now()})
	u.mu.Unlock()
}

func (u *faultUpstream) handle(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	u.active.Add(1)
	defer u.active.Add(-1)
	n := u.requests.Add(1)
	var req struct {
		Model  string `json:"model"`
		Stream bool   `json:"stream"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	mode := req.Model
	if mode == "ok" {
		if e := u.resetEvery.Load(); e > 0 && n%e == 0 {
			mode = "reset"
			if req.Stream {
				mode = "reset-stream"
			}
		}
	}
	ctx := r.Context()
	switch mode {
	case "reset":
		resetConn(w, "")
		return
	case "reset-stream":
		resetConn(w, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"+chunk(req.Model, "partial ")+chunk(req.Model, "answer "))
		return
	case "slow":
		select {
		case <-time.After(u.slowDelay):
		case <-ctx.Done():
			u.recordCancel(req.Model, 0, start)
			return
		}
	}
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, completionBody(faultID, req.Model, "fine", 5, 2))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	send := func(s string) bool {
		if _, err := io.WriteString(w, s); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	switch mode {
	case "hang-stream", "hang-quiet":
		send(chunk(req.Model, "first ") + chunk(req.Model, "second "))
		<-ctx.Done()
		u.recordCancel(req.Model, 2, start)
		return
	case "drip":
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < 1000; i++ {
			select {
			case <-ctx.Done():
				u.recordCancel(req.Model, i, start)
				return
			case <-tick.C:
			}
			if !send(chunk(req.Model, "tok ")) {
				u.recordCancel(req.Model, i, start)
				return
			}
		}
	default:
		send(chunk(req.Model, "fine ") + chunk(req.Model, "stream"))
	}
	send(stopChunk(faultID, req.Model) +
		fmt.Sprintf("data: {\"id\":\"chatcmpl-f\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":%q,\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n", req.Model) +
		"data: [DONE]\n\n")
}

// chunk is a stream chunk of the fault upstream's.
func chunk(model, text string) string { return textChunk(faultID, model, text) }

// resetConn writes raw (if any) on the bare connection and then resets it
// (RST, not FIN: SO_LINGER 0), like a crashing upstream or a middlebox.
func resetConn(w http.ResponseWriter, raw string) {
	c, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	if raw != "" {
		_, _ = buf.WriteString(raw)
		_ = buf.Flush()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// ---------------------------------------------------------------------------
// Load with bookkeeping.

// books counts what a load generator saw. Accepted means the edge forwarded
// the request (the answer carries x-litellm-call-id, 2xx or an upstream
// failure): exactly those must have a spend row.
type books struct {
	mu       sync.Mutex
	sent     int
	status   map[int]int
	errs     map[string]int // transport errors (no HTTP answer)
	accepted map[string]bool
	retried  int // refused connections resent to another edge
}

func newBooks() *books {
	return &books{status: map[int]int{}, errs: map[string]int{}, accepted: map[string]bool{}}
}

func (b *books) snapshot() (sent, ok, accepted int, status map[int]int, errs map[string]int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	status, errs = map[int]int{}, map[string]int{}
	for k, v := range b.status {
		status[k] = v
	}
	for k, v := range b.errs {
		errs[k] = v
	}
	return b.sent, b.status[200], len(b.accepted), status, errs
}

func (b *books) String() string {
	sent, _, acc, st, errs := b.snapshot()
	return fmt.Sprintf("sent %d, accepted %d, status %v, other failures %v, retried on another edge %d", sent, acc, st, errs, b.retried)
}

// failures is every answer other than 200 and every transport error.
func (b *books) failures() int {
	sent, ok, _, _, _ := b.snapshot()
	return sent - ok
}

var loadClient = &http.Client{
	Timeout: 60 * time.Second,
	Transport: &http.Transport{
		MaxIdleConnsPerHost: 256,
		MaxConnsPerHost:     0,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	},
}

// send posts one chat completion to edges[0] (and, if that edge refuses the
// connection, to the next: what a load balancer does for an edge that is
// restarting), reads the whole answer and books it.
func (b *books) send(edges []*proc, key, model string, stream bool) {
	body := fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"fault test"}],"stream":%v}`, model, stream)
	var resp *http.Response
	var err error
	for i, e := range edges {
		if e.addr == "" {
			continue
		}
		var req *http.Request
		req, err = http.NewRequest("POST", e.url("/v1/chat/completions"), strings.NewReader(body))
		if err != nil {
			panic(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err = loadClient.Do(req)
		if err == nil && resp.StatusCode == 503 && i < len(edges)-1 {
			// Refused before forwarding (policy_not_ready; its answer names
			// its denial row): safe to send elsewhere, as a load balancer
			// watching readiness would. Any other 503 is the answer.
			raw, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(raw))
			if rerr != nil || !strings.Contains(string(raw), "policy_not_ready") {
				break
			}
			b.mu.Lock()
			b.retried++
			b.mu.Unlock()
			continue
		}
		if err == nil || !refused(err) {
			break
		}
		if i < len(edges)-1 {
			b.mu.Lock()
			b.retried++
			b.mu.Unlock()
		}
	}
	if err != nil {
		b.mu.Lock()
		b.sent++
		b.errs[errClass(err)]++
		b.mu.Unlock()
		return
	}
	raw, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	id := resp.Header.Get("x-litellm-call-id")
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sent++
	if id != "" {
		b.accepted[id] = true
	}
	if rerr != nil {
		b.errs["body: "+errClass(rerr)]++
		return
	}
	if resp.StatusCode == 200 && stream && strings.Contains(string(raw), `data: {"error":`) {
		// A stream cut after it started: 200, but the answer is lost.
		b.errs["stream ended by an error event"]++
		return
	}
	b.status[resp.StatusCode]++
}

func refused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

func errClass(err error) string {
	switch {
	case refused(err):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, context.DeadlineExceeded), strings.Contains(err.Error(), "Timeout"):
		return "timeout"
	}
	return err.Error()
}

// steady sends requests at rate per second, round-robin over edges (each
// falls back to the others if refused), alternating streaming, until stop
// is closed; it returns once every request has finished.
func steady(b *books, edges []*proc, key string, models []string, rate int, stop <-chan struct{}) {
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	sem := make(chan struct{}, 512) // bounds goroutines if the edges stall
	for i := 0; ; i++ {
		select {
		case <-stop:
			wg.Wait()
			return
		case <-tick.C:
		}
		order := make([]*proc, 0, len(edges))
		for j := range edges {
			order = append(order, edges[(i+j)%len(edges)])
		}
		model := models[i%len(models)]
		stream := i%2 == 1
		select {
		case sem <- struct{}{}:
		default:
			b.mu.Lock()
			b.sent++
			b.errs["client backlog full"]++
			b.mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			b.send(order, key, model, stream)
		}()
	}
}

// ---------------------------------------------------------------------------
// A full system on a killable NATS with ClickHouse and the sink.

type faultSystem struct {
	nats    *natsProc
	ch      *chtest.Server
	control *proc
	edges   []*proc
	sink    *proc
	db      string
	conn    driver.Conn
}

func startFaultSystem(t *testing.T, config string, nEdges int, env ...string) *faultSystem {
	t.Helper()
	fs := &faultSystem{db: "spend_faults"}
	fs.ch = chtest.Start(t)
	fs.nats = startNATS(t)
	cfg := t.TempDir() + "/config.yaml"
	writeFile(t, cfg, config)
	env = append([]string{"MASTER_KEY=" + masterKey}, env...)
	fs.control = start(t, "control", env, "control", "-nats", fs.nats.url, "-listen", testutil.FreeAddr(t), "-config", cfg,
		"-clickhouse", fs.ch.Addr(), "-clickhouse-db", fs.db, "-debug-addr", testutil.FreeAddr(t))
	for i := range nEdges {
		id := fmt.Sprintf("edge-%c", 'a'+i)
		fs.edges = append(fs.edges, start(t, id, env, "edge", "-nats", fs.nats.url, "-listen", testutil.FreeAddr(t),
			"-control", "http://"+fs.control.addr, "-id", id, "-spill-dir", t.TempDir(), "-debug-addr", testutil.FreeAddr(t)))
	}
	waitEdges(t, fs.control, nEdges)
	fs.sink = start(t, "sink", env, "sink", "-nats", fs.nats.url, "-clickhouse", fs.ch.Addr(), "-database", fs.db, "-debug-addr", testutil.FreeAddr(t))
	return fs
}

// spendIDs returns the request ids of served requests in ClickHouse and
// how many rows hold them.
func (fs *faultSystem) spendIDs(t *testing.T) (map[string]int, int) {
	return fs.ledgerIDs(t, "outcome != 'denied'")
}

// ledgerIDs returns the request ids of the rows matching where and how
// many rows hold them.
func (fs *faultSystem) ledgerIDs(t *testing.T, where string) (map[string]int, int) {
	t.Helper()
	if fs.conn == nil {
		// One pool for the test: a pool per poll would exhaust the
		// server's connection limit (it survives restarts).
		fs.conn = fs.ch.Conn(t)
	}
	conn := fs.conn
	rows, err := conn.Query(context.Background(), "SELECT request_id, count() FROM "+fs.db+".spend_events WHERE "+where+" GROUP BY request_id")
	if err != nil {
		t.Logf("spend query: %v", err)
		return nil, 0
	}
	defer rows.Close()
	ids, total := map[string]int{}, 0
	for rows.Next() {
		var id string
		var n uint64
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		ids[id] = int(n)
		total += int(n)
	}
	return ids, total
}

// checkSpend waits until ClickHouse holds exactly one row per accepted
// request (a served row, or the denial row of a refusal) and no served row
// besides, and returns the count of served rows.
func (fs *faultSystem) checkSpend(t *testing.T, b *books, wait time.Duration) int {
	t.Helper()
	b.mu.Lock()
	want := make(map[string]bool, len(b.accepted))
	for id := range b.accepted {
		want[id] = true
	}
	b.mu.Unlock()
	var total int
	testutil.Eventually(t, wait, func() error {
		ids, n := fs.spendIDs(t)
		total = n
		// A refusal's answer carries the id of its denial row: accepted
		// too, its row is that denial.
		denied, _ := fs.ledgerIDs(t, "outcome = 'denied'")
		missing, extra, dup := 0, 0, 0
		for id := range want {
			if ids[id] == 0 && denied[id] != 1 {
				missing++
			}
		}
		for id, c := range ids {
			if !want[id] {
				extra++
			}
			if c > 1 {
				dup++
			}
		}
		if missing+extra+dup > 0 {
			return fmt.Errorf("%d accepted, %d rows: %d missing, %d unexpected, %d doubled", len(want), n, missing, extra, dup)
		}
		return nil
	})
	return total
}
