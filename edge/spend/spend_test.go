package spend

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/edge/proxy"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/policy"
)

const waitLimit = 30 * time.Second

// natsEnv is an embedded JetStream with the spend stream, restartable on
// the same port and store.
type natsEnv struct {
	srv  *server.Server
	dir  string
	port int
	nc   *nats.Conn
	js   jetstream.JetStream
}

func startNATS(t testing.TB) *natsEnv {
	t.Helper()
	e := &natsEnv{dir: t.TempDir()}
	e.srv = testutil.RunJetStreamAt(t, -1, e.dir)
	e.port = e.srv.Addr().(*net.TCPAddr).Port
	e.nc, e.js = testutil.Connect(t, e.srv.ClientURL())
	testutil.EnsureStream(t, e.js, events.EnsureSpendStream)
	return e
}

// stop shuts the server down and waits until the client noticed.
func (e *natsEnv) stop(t testing.TB) {
	t.Helper()
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	testutil.Eventually(t, waitLimit, func() error {
		if e.nc.Status() == nats.CONNECTED {
			return fmt.Errorf("client still connected")
		}
		return nil
	})
}

// restart brings the server back on the same port and store.
func (e *natsEnv) restart(t testing.TB) {
	t.Helper()
	e.srv = testutil.RunJetStreamAt(t, e.port, e.dir)
	testutil.Eventually(t, waitLimit, func() error {
		if e.nc.Status() != nats.CONNECTED {
			return fmt.Errorf("client status %v", e.nc.Status())
		}
		return nil
	})
}

// readAll reads every stored message with an ordered consumer and checks
// each against its Nats-Msg-Id and subject; it returns the request ids of
// the events in them with how often each is stored.
func (e *natsEnv) readAll(t testing.TB) map[string]int {
	t.Helper()
	ids, err := e.events()
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// events reads the stream's events (messages hold one or a batch) and
// checks each message's Nats-Msg-Id, subject and event type.
func (e *natsEnv) events() (map[string]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	r, err := testutil.NewSpendReader(ctx, e.js)
	if err != nil {
		return nil, err
	}
	ids := map[string]int{}
	err = r.Read(ctx, func(m jetstream.Msg, id string, evs []events.SpendEvent) error {
		if h := m.Headers().Get(jetstream.MsgIDHeader); h != id || id == "" {
			return fmt.Errorf("Nats-Msg-Id %q for message %q", h, id)
		}
		for _, ev := range evs {
			if want := events.SpendSubjectPrefix + "." + ev.EdgeID; (ev.EdgeID != "" && m.Subject() != want) || ev.Type != events.SpendV1 {
				return fmt.Errorf("subject %s, type %s, edge %s", m.Subject(), ev.Type, ev.EdgeID)
			}
			ids[ev.RequestID]++
		}
		return nil
	})
	return ids, err
}

// numEvents is how many events the stream holds (duplicates counted).
func numEvents(ids map[string]int) (n uint64) {
	for _, c := range ids {
		n += uint64(c)
	}
	return n
}

func spendEvent(i int) events.SpendEvent {
	return events.SpendEvent{
		RequestID: fmt.Sprintf("req-%07d", i), Time: time.Unix(1700000000, 0).UTC(),
		KeyHash: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", TeamID: "team-1",
		Auth: "key", ModelGroup: "gpt-4o", Model: "gpt-4o-2024-08-06", Deployment: "dep-1", Provider: "openai",
		PromptTokens: 120, CompletionTokens: 30, TotalTokens: 150, Cost: 0.00123, LatencyMS: 812.5,
		Status: 200, Stream: true, Outcome: "ok",
	}
}

func options(e *natsEnv, spillDir string) Options {
	return Options{JS: e.js, EdgeID: "edge-1", Region: "eu", SpillDir: spillDir,
		SyncInterval: 20 * time.Millisecond, ResendInterval: 20 * time.Millisecond, AckTimeout: 2 * time.Second}
}

// newP starts a publisher with o. Closing it is left to the test
// (closeP): most check the stats Close leaves, at a point of their own.
func newP(t testing.TB, o Options) *Publisher {
	t.Helper()
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func closeP(t testing.TB, p *Publisher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// segments lists the spill files in dir with the events their lines hold.
func segments(t testing.TB, dir string) (files, lines int) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), segSuffix) {
			continue
		}
		files++
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if os.IsNotExist(err) {
			files-- // resent and deleted since the listing
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			if _, evs, err := events.DecodeSpend(sc.Bytes()); err == nil {
				lines += len(evs)
			}
		}
		f.Close()
	}
	return files, lines
}

func waitStream(t testing.TB, e *natsEnv, n uint64) {
	t.Helper()
	testutil.Eventually(t, waitLimit, func() error {
		ids, err := e.events()
		if err != nil {
			return err
		}
		if got := numEvents(ids); got != n {
			return fmt.Errorf("stream has %d events, want %d", got, n)
		}
		return nil
	})
}

func checkAccounting(t testing.TB, s Stats) {
	t.Helper()
	if s.Pending != 0 || s.Recorded != s.Published+s.Spilled+s.Dropped {
		t.Fatalf("stats do not add up: %+v", s)
	}
}

func TestPublishesEveryEventOnce(t *testing.T) {
	e := startNATS(t)
	p := newP(t, options(e, t.TempDir()))
	const n = 5000
	for i := range n {
		p.Record(spendEvent(i))
	}
	waitStream(t, e, n)
	closeP(t, p)
	s := p.Stats()
	if s.Published != n || s.Spilled != 0 || s.Dropped != 0 {
		t.Fatalf("stats %+v", s)
	}
	checkAccounting(t, s)
	ids := e.readAll(t)
	if len(ids) != n {
		t.Fatalf("%d unique request ids, want %d", len(ids), n)
	}
}

// TestBatchesAtMostMaxBatch: events recorded within one batch window are
// all published, as several messages of at most MaxBatch events when more
// are queued (a multiple of MaxBatch included: no empty message).
func TestBatchesAtMostMaxBatch(t *testing.T) {
	for _, n := range []int{1, 6, 7, 21, 23} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			e := startNATS(t)
			o := options(e, t.TempDir())
			o.MaxBatch, o.BatchDelay = 7, 200*time.Millisecond
			p := newP(t, o)
			for i := range n {
				p.Record(spendEvent(i))
			}
			waitStream(t, e, uint64(n))
			closeP(t, p)
			if s := p.Stats(); s.Published != uint64(n) {
				t.Fatalf("stats %+v", s)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			r, err := testutil.NewSpendReader(ctx, e.js)
			if err != nil {
				t.Fatal(err)
			}
			msgs := 0
			if err := r.Read(ctx, func(_ jetstream.Msg, _ string, evs []events.SpendEvent) error {
				msgs++
				if len(evs) == 0 || len(evs) > o.MaxBatch {
					return fmt.Errorf("a message of %d events", len(evs))
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			// More only if the recording loop was descheduled for a window.
			if want := (n + o.MaxBatch - 1) / o.MaxBatch; msgs < want {
				t.Fatalf("%d messages, want at least %d", msgs, want)
			}
		})
	}
}

// TestMessagesCompressed: a batch goes to the stream compressed
// (events.CompressSpend) unless Options.Plain says JSON; a lone event is
// JSON either way (compressing it saves a fifth of its bytes for more CPU
// than reading it). Every message decodes to its events.
func TestMessagesCompressed(t *testing.T) {
	for _, plain := range []bool{false, true} {
		t.Run(fmt.Sprintf("plain=%v", plain), func(t *testing.T) {
			e := startNATS(t)
			o := options(e, t.TempDir())
			o.BatchDelay, o.Plain = 100*time.Millisecond, plain
			p := newP(t, o)
			for i := range 20 {
				p.Record(spendEvent(i))
			}
			waitStream(t, e, 20)
			p.Record(spendEvent(20))
			waitStream(t, e, 21)
			closeP(t, p)
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			r, err := testutil.NewSpendReader(ctx, e.js)
			if err != nil {
				t.Fatal(err)
			}
			sizes := []int{}
			if err := r.Read(ctx, func(m jetstream.Msg, _ string, evs []events.SpendEvent) error {
				sizes = append(sizes, len(evs))
				if want := len(evs) > 1 && !plain; events.CompressedSpend(m.Data()) != want {
					return fmt.Errorf("a message of %d events: compressed %v, want %v", len(evs), !want, want)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if n := len(sizes); n < 2 || sizes[n-1] != 1 {
				t.Fatalf("messages of %v events: want batches, then the lone last event", sizes)
			}
		})
	}
}

// NATS goes away mid-stream and comes back on the same port and store:
// every event is stored exactly once (spilled ones are resent, and any
// resent event that had been stored after all is deduplicated).
func TestNATSRestartMidStream(t *testing.T) {
	e := startNATS(t)
	p := newP(t, options(e, t.TempDir()))
	const n = 3000
	for i := range n {
		switch i {
		case n / 3:
			e.srv.Shutdown() // not waiting for the client: publishes race the shutdown
			e.srv.WaitForShutdown()
		case 2 * n / 3:
			e.restart(t)
		}
		p.Record(spendEvent(i))
		if i%20 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	waitStream(t, e, n)
	testutil.Eventually(t, waitLimit, func() error {
		if s := p.Stats(); s.Pending != 0 || s.SpillBytes != 0 || s.Resent != s.Spilled {
			return fmt.Errorf("not settled: %+v", s)
		}
		return nil
	})
	closeP(t, p)
	s := p.Stats()
	checkAccounting(t, s)
	if s.Dropped != 0 || s.Spilled == 0 || s.Published == 0 {
		t.Fatalf("stats %+v: want both published and spilled-then-resent events, none dropped", s)
	}
	ids := e.readAll(t)
	if len(ids) != n {
		t.Fatalf("%d unique request ids, want %d", len(ids), n)
	}
	for id, c := range ids {
		if c != 1 {
			t.Fatalf("%s stored %d times", id, c)
		}
	}
	t.Logf("published %d, spilled and resent %d", s.Published, s.Resent)
}

// Closed while NATS is down, the publisher leaves its events on disk; the
// next publisher on that dir resends them once NATS is up and empties it.
// Resending the same segments again stores nothing new.
func TestSpillSurvivesRestart(t *testing.T) {
	e := startNATS(t)
	e.stop(t)
	spillDir := t.TempDir()
	p := newP(t, options(e, spillDir))
	const n = 2000
	for i := range n {
		p.Record(spendEvent(i))
	}
	closeP(t, p)
	if s := p.Stats(); s.Spilled != n || s.Published != 0 {
		t.Fatalf("stats %+v", s)
	}
	if files, lines := segments(t, spillDir); files == 0 || lines != n {
		t.Fatalf("spill dir has %d files, %d lines; want %d lines", files, lines, n)
	}
	// Keep a copy to resend twice.
	backup := t.TempDir()
	copyDir(t, spillDir, backup)

	e.restart(t)
	p2 := newP(t, options(e, spillDir))
	waitStream(t, e, n)
	testutil.Eventually(t, waitLimit, func() error {
		if files, _ := segments(t, spillDir); files != 0 {
			return fmt.Errorf("%d spill files left", files)
		}
		if s := p2.Stats(); s.Resent != n || s.SpillBytes != 0 || s.SpillSegments != 0 {
			return fmt.Errorf("stats %+v", s)
		}
		return nil
	})
	closeP(t, p2)

	copyDir(t, backup, spillDir)
	p3 := newP(t, options(e, spillDir))
	testutil.Eventually(t, waitLimit, func() error {
		if s := p3.Stats(); s.Resent != n {
			return fmt.Errorf("stats %+v", s)
		}
		return nil
	})
	closeP(t, p3)
	if got := numEvents(e.readAll(t)); got != n {
		t.Fatalf("a resend of stored events added events: %d, want %d", got, n)
	}
	if ids := e.readAll(t); len(ids) != n {
		t.Fatalf("%d unique ids, want %d", len(ids), n)
	}
}

func copyDir(t testing.TB, from, to string) {
	t.Helper()
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// Record with NATS down, a tiny queue and a slow disk: a million calls
// return at once, and every event is accounted for as spilled or dropped.
func TestRecordNeverBlocks(t *testing.T) {
	e := startNATS(t)
	e.stop(t)
	o := options(e, t.TempDir())
	o.QueueSize, o.OverflowSize = 8, 8
	o.writeDelay = func() { time.Sleep(50 * time.Microsecond) }
	p := newP(t, o)
	const n = 1_000_000
	ev := spendEvent(1)
	var worst time.Duration
	start := time.Now()
	for range n {
		t0 := time.Now()
		p.Record(ev)
		worst = max(worst, time.Since(t0))
	}
	elapsed := time.Since(start)
	s := p.Stats()
	t.Logf("%d Records in %v (%v/op, worst %v): %+v", n, elapsed, elapsed/n, worst, s)
	// Generous for -race on a loaded machine; a blocking Record would
	// take n x 50µs = 50s.
	if elapsed > 15*time.Second {
		t.Fatalf("Record blocked: %v for %d calls", elapsed, n)
	}
	if s.Recorded != n || s.DroppedQueueFull == 0 {
		t.Fatalf("stats %+v", s)
	}
	closeP(t, p)
	s = p.Stats()
	checkAccounting(t, s)
	if s.Spilled == 0 || s.Published != 0 {
		t.Fatalf("stats %+v", s)
	}
	// After Close, Record drops and counts.
	p.Record(ev)
	if s := p.Stats(); s.DroppedClosed != 1 {
		t.Fatalf("stats after close %+v", s)
	}
}

// A full spill queue refuses new events, counts them and says so.
func TestSpillMaxBytes(t *testing.T) {
	e := startNATS(t)
	e.stop(t)
	dir := t.TempDir()
	o := options(e, dir)
	o.SpillMaxBytes = 20 << 10
	p := newP(t, o)
	for i := range 500 {
		p.Record(spendEvent(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := p.Close(ctx); err == nil || !strings.Contains(err.Error(), "could not be spilled") {
		t.Fatalf("Close = %v, want the refused events reported", err)
	}
	s := p.Stats()
	checkAccounting(t, s)
	if s.DroppedSpillFull == 0 || s.Spilled == 0 || s.SpillBytes > o.SpillMaxBytes {
		t.Fatalf("stats %+v", s)
	}
	if _, lines := segments(t, dir); uint64(lines) != s.Spilled {
		t.Fatalf("%d lines on disk, %d spilled", lines, s.Spilled)
	}
}

// A line torn by a crash is skipped; the rest of its segment is resent.
func TestTornLineSkipped(t *testing.T) {
	e := startNATS(t)
	dir := t.TempDir()
	var b strings.Builder
	for i := range 3 {
		j, _ := json.Marshal(spendEvent(i))
		b.Write(j)
		b.WriteByte('\n')
	}
	b.WriteString(`{"type":"gatehouse.spend.v1.recorded","request_id":"req-tor`) // no newline: torn
	if err := os.WriteFile(filepath.Join(dir, "spend-00000000000000000007.jsonl"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newP(t, options(e, dir))
	waitStream(t, e, 3)
	testutil.Eventually(t, waitLimit, func() error {
		if s := p.Stats(); s.Resent != 3 || s.SpillCorrupt != 1 || s.SpillSegments != 0 {
			return fmt.Errorf("stats %+v", s)
		}
		return nil
	})
	// New segments continue after the recovered one.
	if p.spill.nextSeq != 8 {
		t.Fatalf("nextSeq %d", p.spill.nextSeq)
	}
	closeP(t, p)
}

func TestOptionsValidation(t *testing.T) {
	e := startNATS(t)
	for _, o := range []Options{
		{EdgeID: "e", SpillDir: t.TempDir()},
		{JS: e.js, EdgeID: "e"},
		{JS: e.js, EdgeID: "a.b", SpillDir: t.TempDir()},
		{JS: e.js, SpillDir: t.TempDir()},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}

func TestApply(t *testing.T) {
	d := &policy.Deployment{ID: "dep-9", Provider: "openai", InputCostPerToken: 2e-6, OutputCostPerToken: 8e-6}
	ev := events.SpendEvent{Model: "gpt-4o"}
	Apply(&ev, d, proxy.Usage{PromptTokens: 1000, CompletionTokens: 500, TotalTokens: 1500, Estimated: true,
		Status: 200, Outcome: proxy.OutcomeClientAborted, TTFT: 250 * time.Millisecond, Model: "gpt-4o-2024-08-06"}, 1500*time.Millisecond)
	want := events.SpendEvent{Model: "gpt-4o", Deployment: "dep-9", Provider: "openai", PromptTokens: 1000, CompletionTokens: 500,
		TotalTokens: 1500, Estimated: true, Cost: 1000*2e-6 + 500*8e-6, LatencyMS: 1500, TTFTMS: 250, Status: 200, Outcome: "client_aborted"}
	if !reflect.DeepEqual(ev, want) {
		t.Fatalf("got %+v\nwant %+v", ev, want)
	}
}
