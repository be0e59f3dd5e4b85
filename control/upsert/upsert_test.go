package upsert_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/control/processor"
	"github.com/gatehouse/gatehouse/control/store/storetest"
	"github.com/gatehouse/gatehouse/control/upsert"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// An upsert whose write fails (the policy stream takes no writes for a
// while) is retried and redelivered, then applied: not logged and dropped.
func TestUpsertRetriedUntilTheStoreTakesIt(t *testing.T) {
	_, js := testutil.NewJetStream(t)
	st := storetest.New(t, js)
	st.FailoverWindow = 50 * time.Millisecond
	live := st.Live
	testutil.EnsureStream(t, js, events.EnsureUpsertStream)
	ctx := t.Context()
	p, err := processor.New(ctx, processor.Options{JS: js, Log: slog.Default(), Metrics: prometheus.NewRegistry(), MaxRetries: 2,
		InitialInterval: 10 * time.Millisecond, MaxInterval: 20 * time.Millisecond, MaxRedeliveryDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	upsert.Register(p, st)
	testutil.Go(t, p.Run)
	<-p.Running()

	// The policy stream stops capturing its subjects: every write fails.
	cfg := events.PolicyStreamConfig(events.StreamOptions{})
	paused := cfg
	paused.Subjects = []string{events.Product + ".paused.>"}
	if _, err := js.UpdateStream(ctx, paused); err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: events.UpsertSubject, Header: nats.Header{},
		Data: []byte(`[{"kind":"team","team_id":"t-retry"},{"kind":"user","user_id":"u-retry"},{"kind":"team_member","team_id":"t-retry","user_id":"u-retry"}]`)}
	msg.Header.Set(events.HeaderRequestID, "req-upsert-1")
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	testutil.WaitRedelivered(t, ctx, js, events.UpsertStream, events.UpsertDurable)
	if live.Load().User("u-retry") != nil {
		t.Fatal("user created while the stream took no writes")
	}

	// Writes work again: the request is applied, in order, once.
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() error {
		s := live.Load()
		team := s.Team("t-retry")
		if s.User("u-retry") == nil || team == nil || len(team.MembersWithRoles) != 1 {
			return fmt.Errorf("user %v, team %v", s.User("u-retry"), team)
		}
		return nil
	})
	testutil.Eventually(t, 5*time.Second, func() error {
		s, err := js.Stream(ctx, events.UpsertStream)
		if err != nil {
			return err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		if n := info.State.Msgs; n != 0 {
			return fmt.Errorf("work queue still holds %d", n)
		}
		return nil
	})
	if l, err := events.ListPoison(ctx, js, 0); err != nil || len(l) != 0 {
		t.Fatalf("poisoned: %v, %v", l, err)
	}
}
