package processor_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/control/processor"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

const (
	testStream  = "PROCESSOR_TEST"
	testSubject = "processor.test"
	testDurable = "processor-test"
)

// rig is a real JetStream server, a stream, and a router running one
// handler whose behaviour the test sets per message body.
type rig struct {
	js  jetstream.JetStream
	reg *prometheus.Registry

	mu       sync.Mutex
	behave   func(body string, attempt int) error
	attempts map[string]int
	done     map[string]int // successful handlings per body
	corr     map[string]string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	_, js := testutil.NewJetStream(t)
	ctx := t.Context()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: testStream, Subjects: []string{testSubject + ".>"}}); err != nil {
		t.Fatal(err)
	}
	r := &rig{js: js, reg: prometheus.NewRegistry(), attempts: map[string]int{}, done: map[string]int{}, corr: map[string]string{}}
	p, err := processor.New(ctx, processor.Options{JS: js, Log: slog.Default(), Metrics: r.reg, MaxRetries: 3,
		InitialInterval: 5 * time.Millisecond, MaxInterval: 20 * time.Millisecond, MaxRedeliveryDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	p.Handle("test", processor.Source{Stream: testStream, Durable: testDurable, Filter: testSubject + ".>", AckWait: 2 * time.Second},
		func(ctx context.Context, msg *message.Message) error {
			body := string(msg.Payload)
			r.mu.Lock()
			r.attempts[body]++
			n := r.attempts[body]
			r.corr[body] = middleware.MessageCorrelationID(msg)
			f := r.behave
			r.mu.Unlock()
			if err := f(body, n); err != nil {
				return err
			}
			r.mu.Lock()
			r.done[body]++
			r.mu.Unlock()
			return nil
		})
	testutil.Go(t, p.Run)
	testutil.Receive(t, p.Running(), 10*time.Second, "router not running")
	return r
}

func (r *rig) set(f func(body string, attempt int) error) {
	r.mu.Lock()
	r.behave = f
	r.mu.Unlock()
}

func (r *rig) publish(t *testing.T, body, requestID string) {
	t.Helper()
	m := &nats.Msg{Subject: testSubject + ".a", Data: []byte(body), Header: nats.Header{}}
	if requestID != "" {
		m.Header.Set(events.HeaderRequestID, requestID)
	}
	if _, err := r.js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) handled(body string) (attempts, done int, corr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts[body], r.done[body], r.corr[body]
}

func (r *rig) poisoned(t *testing.T) float64 {
	v, _, _ := testutil.Metric(t, r.reg, "gatehouse_processor_poisoned_total", "consumer", testDurable)
	return v
}

func (r *rig) list(t *testing.T) []events.Poisoned {
	l, err := events.ListPoison(context.Background(), r.js, 0)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var errTransient = errors.New("kv unavailable")

func TestProcessorOutcomes(t *testing.T) {
	r := newRig(t)
	broken := atomic.Bool{}
	broken.Store(true)
	r.set(func(body string, attempt int) error {
		switch body {
		case "flaky": // fails more often than the in-process retries: nak'ed and redelivered
			if attempt <= 6 {
				return errTransient
			}
		case "bad":
			if broken.Load() {
				return processor.Permanent(errors.New("cannot decode"))
			}
		case "panic":
			if broken.Load() {
				panic("handler bug")
			}
		}
		return nil
	})

	// ok: handled once, correlation id from x-request-id.
	r.publish(t, "ok", "req-1")
	// flaky: retried in process, then redelivered by JetStream, until done;
	// never poisoned.
	r.publish(t, "flaky", "")
	testutil.Eventually(t, 10*time.Second, func() error {
		if a, d, _ := r.handled("flaky"); d != 1 {
			return fmt.Errorf("flaky: %d attempts, %d done", a, d)
		}
		if _, d, _ := r.handled("ok"); d != 1 {
			return fmt.Errorf("ok not handled")
		}
		return nil
	})
	if a, _, _ := r.handled("flaky"); a != 7 {
		t.Errorf("flaky handled after %d attempts, want 7 (4 in process, then redelivered)", a)
	}
	if _, _, c := r.handled("ok"); c != "req-1" {
		t.Errorf("correlation id %q, want the request id", c)
	}
	if _, _, c := r.handled("flaky"); c == "" {
		t.Errorf("no correlation id without a request id header")
	}

	// bad and panic: poisoned once each (no retries), counted, listed.
	r.publish(t, "bad", "req-bad")
	r.publish(t, "panic", "")
	var list []events.Poisoned
	testutil.Eventually(t, 10*time.Second, func() error {
		if list = r.list(t); len(list) != 2 || r.poisoned(t) != 2 {
			return fmt.Errorf("poison list %v, metric %v", list, r.poisoned(t))
		}
		return nil
	})
	if a, _, _ := r.handled("bad"); a != 1 {
		t.Errorf("a permanent error was retried: %d attempts", a)
	}
	byBody := map[string]events.Poisoned{}
	for _, p := range list {
		byBody[p.Data] = p
		if p.Consumer != testDurable || p.Stream != testStream || p.Subject != testSubject+".a" || p.Seq == 0 {
			t.Errorf("poison record %+v", p)
		}
	}
	if p := byBody["bad"]; p.RequestID != "req-bad" || p.Reason != "cannot decode" {
		t.Errorf("bad: %+v", p)
	}
	if p := byBody["panic"]; p.Reason == "" {
		t.Errorf("panic: %+v", p)
	}

	// The fix ships; replay both: handled, gone from the poison queue.
	broken.Store(false)
	for _, p := range list {
		if _, err := events.ReplayPoison(context.Background(), r.js, p.ID); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 10*time.Second, func() error {
		_, b, _ := r.handled("bad")
		_, p, _ := r.handled("panic")
		if b != 1 || p != 1 {
			return fmt.Errorf("after replay: bad %d, panic %d", b, p)
		}
		return nil
	})
	if l := r.list(t); len(l) != 0 {
		t.Errorf("replayed messages still listed: %v", l)
	}
	if _, err := events.ReplayPoison(context.Background(), r.js, list[0].ID); !errors.Is(err, events.ErrPoisonNotFound) {
		t.Errorf("second replay: %v", err)
	}
	if _, d, _ := r.handled("ok"); d != 1 {
		t.Errorf("ok handled %d times", d)
	}
	if v := r.poisoned(t); v != 2 {
		t.Errorf("poisoned metric %v after replay, want 2", v)
	}
}

// A replay is for the consumer that refused the message: another durable
// on the same stream, which handled the original, acks it unread.
func TestReplayOnlyReachesTheRefusingConsumer(t *testing.T) {
	r := newRig(t)
	r.set(func(string, int) error { return nil })
	ctx := context.Background()
	other, err := r.js.CreateOrUpdateConsumer(ctx, testStream, jetstream.ConsumerConfig{Durable: "other", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	if err := events.Poison(ctx, r.js, events.PoisonSource{Consumer: "other", Stream: testStream, Subject: testSubject + ".a", Seq: 99,
		Data: []byte("for-other")}, "test"); err != nil {
		t.Fatal(err)
	}
	l := r.list(t)
	if len(l) != 1 {
		t.Fatalf("list %v", l)
	}
	if _, err := events.ReplayPoison(ctx, r.js, l[0].ID); err != nil {
		t.Fatal(err)
	}
	r.publish(t, "after", "")
	testutil.Eventually(t, 5*time.Second, func() error {
		if _, d, _ := r.handled("after"); d != 1 {
			return errors.New("not handled yet")
		}
		return nil
	})
	if a, _, _ := r.handled("for-other"); a != 0 {
		t.Errorf("test handler saw a replay meant for another consumer")
	}
	b, err := other.Fetch(1, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range b.Messages() {
		n++
		if string(m.Data()) != "for-other" || m.Headers().Get(events.HeaderReplayFor) != "other" {
			t.Errorf("other got %q %v", m.Data(), m.Headers())
		}
	}
	if n != 1 {
		t.Errorf("other consumer got %d messages, want the replay", n)
	}
}

// A poison record that names the policy stream (written by someone with
// NATS access, not by a processor) is not replayed into it, and a record
// whose subject left its stream is not published anywhere.
func TestReplayRefusesPolicyAndForeignSubjects(t *testing.T) {
	r := newRig(t)
	r.set(func(string, int) error { return nil })
	ctx := context.Background()
	testutil.EnsureStreams(t, r.js)
	for _, src := range []events.PoisonSource{
		{Consumer: "x", Stream: events.PolicyStream, Subject: events.Subject(events.KindKey, "abc"), Seq: 1, Data: []byte("{}")},
		{Consumer: "x", Stream: testStream, Subject: events.Subject(events.KindKey, "abc"), Seq: 2, Data: []byte("{}")},
	} {
		if err := events.Poison(ctx, r.js, src, "test"); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range r.list(t) {
		_, err := events.ReplayPoison(ctx, r.js, p.ID)
		if p.Stream == events.PolicyStream && !errors.Is(err, events.ErrNotReplayable) || err == nil {
			t.Errorf("replay of %+v: %v", p, err)
		}
	}
	if n := testutil.StreamState(t, r.js, events.PolicyStream).Msgs; n != 0 {
		t.Fatalf("policy stream holds %d messages after refused replays", n)
	}
	if l := r.list(t); len(l) != 2 {
		t.Errorf("refused replays left the poison queue: %v", l)
	}
}
