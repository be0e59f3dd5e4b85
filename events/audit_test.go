package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

func TestOriginSeq(t *testing.T) {
	cases := []struct {
		name, header string
		want         uint64
		ok           bool
	}{
		{"current server", "GATEHOUSE_POLICY 42 > > gatehouse.policy.team.abc 9lp85zGN", 42, true},
		{"no ident", "GATEHOUSE_POLICY 7 > > gatehouse.policy.team.abc", 7, true},
		{"ack reply v1", "$JS.ACK.GATEHOUSE_POLICY.src.1.17.3.1700000000.0", 17, true},
		{"ack reply v2", "$JS.ACK.dom.acchash.GATEHOUSE_POLICY.src.1.18.3.1700000000.0.tok", 18, true},
		{"other stream", "GATEHOUSE_SPEND 42 > > x", 0, false},
		{"garbage seq", "GATEHOUSE_POLICY x > > y", 0, false},
		{"missing", "", 0, false},
	}
	for _, c := range cases {
		h := nats.Header{}
		if c.header != "" {
			h.Set(events.HeaderStreamSource, c.header)
		}
		got, ok := events.OriginSeq(h)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: got %d %v, want %d %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// Quick rewrites of one object right after the streams are created (the
// audit's source consumer is not even running yet) all reach the audit
// trail when the publisher waits for it, and a replay delivers each with
// its policy sequence, stopping at a sequence or a time.
func TestAuditKeepsEveryRewrite(t *testing.T) {
	_, js := testutil.NewJetStream(t)
	testutil.EnsureStreams(t, js)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub := &events.Publisher{JS: js, AuditWait: 5 * time.Second}
	const n = 20
	var seq uint64
	var mid time.Time
	for i := range n {
		if i == n/2 {
			time.Sleep(5 * time.Millisecond)
			mid = time.Now()
			time.Sleep(5 * time.Millisecond)
		}
		expect := seq
		p, err := pub.Publish(ctx, events.Change{Type: events.TeamUpserted, Object: &events.Team{TeamID: "t1", MaxBudget: ptr(float64(i))}, ExpectSeq: &expect})
		if err != nil || p.AuditLagged {
			t.Fatalf("publish %d: %v (lagged %v)", i, err, p.AuditLagged)
		}
		seq = p.Seq
	}
	replay := func(stop events.AuditStop) ([]uint64, events.AuditBounds) {
		var got []uint64
		var b events.AuditBounds
		testutil.Eventually(t, 10*time.Second, func() error {
			got = got[:0]
			var err error
			b, err = events.ReplayAudit(ctx, js, stop, func(ev events.Event) error {
				got = append(got, ev.Seq)
				return nil
			})
			if err == nil && b.LastSeq < n {
				return context.DeadlineExceeded // the last rewrite is still being sourced
			}
			return err
		})
		return got, b
	}
	for _, c := range []struct {
		name string
		stop events.AuditStop
		want int
	}{
		{"all", events.AuditStop{}, n},
		{"to seq 7", events.AuditStop{Seq: 7}, 7},
		{"to a time", events.AuditStop{Time: mid}, n / 2},
	} {
		got, b := replay(c.stop)
		if len(got) != c.want || len(b.Missing) != 0 {
			t.Fatalf("%s: replayed %v, missing %v", c.name, got, b.Missing)
		}
		for i, s := range got {
			if s != uint64(i+1) {
				t.Fatalf("%s: replayed %v", c.name, got)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

// An audit that does not catch up delays a change by at most AuditWait, or
// half the caller's deadline, and never fails it: the change is published
// and says the audit lagged.
func TestAuditLagDoesNotBlockWrites(t *testing.T) {
	_, js := testutil.NewJetStream(t)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, events.PolicyStreamConfig(events.StreamOptions{})); err != nil {
		t.Fatal(err)
	}
	// An "audit" that sources nothing: it never holds the replaced event.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: events.AuditStream, Subjects: []string{"not-policy.>"}}); err != nil {
		t.Fatal(err)
	}
	pub := &events.Publisher{JS: js, AuditWait: time.Minute}
	first, err := pub.Publish(ctx, events.Change{Type: events.TeamUpserted, Object: &events.Team{TeamID: "t1"}, ExpectSeq: ptr(uint64(0))})
	if err != nil || first.AuditLagged {
		t.Fatalf("first write (nothing replaced): %+v %v", first, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 400*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	second, err := pub.Publish(wctx, events.Change{Type: events.TeamUpserted, Object: &events.Team{TeamID: "t1"}, ExpectSeq: &first.Seq})
	if err != nil || !second.AuditLagged || second.Seq != first.Seq+1 {
		t.Fatalf("second write: %+v %v", second, err)
	}
	if took := time.Since(t0); took > 350*time.Millisecond {
		t.Fatalf("the write waited %s for the audit, more than half its deadline", took)
	}
}
