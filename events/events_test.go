package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

func TestDecode(t *testing.T) {
	cases := []struct {
		name string
		in   string
		err  error
	}{
		{"team", `{"id":"1","type":"gatehouse.team.v1.upserted","time":"2026-01-01T00:00:00Z","actor":"a","data":{"team_id":"t1","models":[]}}`, nil},
		{"tombstone", `{"id":"1","type":"gatehouse.key.v1.deleted","data":{"id":"abc"}}`, nil},
		{"router settings", `{"id":"1","type":"gatehouse.router_settings.v1.upserted","data":{"id":"router","routing_strategy":"least-busy","num_retries":0}}`, nil},
		{"unknown type", `{"id":"1","type":"gatehouse.key.v9.exploded","data":{}}`, events.ErrUnknownType},
		{"not json", `{"id":`, events.ErrMalformed},
		{"no id", `{"type":"gatehouse.team.v1.upserted","data":{"team_id":"t"}}`, events.ErrMalformed},
		{"no data", `{"id":"1","type":"gatehouse.team.v1.upserted"}`, events.ErrMalformed},
		{"no object id", `{"id":"1","type":"gatehouse.team.v1.upserted","data":{"models":[]}}`, events.ErrMalformed},
		{"wrong data type", `{"id":"1","type":"gatehouse.team.v1.upserted","data":{"team_id":5}}`, events.ErrMalformed},
	}
	for _, c := range cases {
		_, err := events.Decode([]byte(c.in))
		if c.err == nil && err != nil || c.err != nil && !errors.Is(err, c.err) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.err)
		}
	}
}

func TestSubjectsAreValidTokens(t *testing.T) {
	for _, id := range []string{"team.with.dots", "a b", "*", ">", "ünï"} {
		s := events.Subject(events.KindTeam, id)
		if strings.ContainsAny(s[len("gatehouse.policy.team."):], ". *>") {
			t.Errorf("subject %q for id %q is not a single token", s, id)
		}
	}
	if events.Subject(events.KindTeam, "a") == events.Subject(events.KindTeam, "b") {
		t.Error("distinct ids must get distinct subjects")
	}
}

func TestTypeStringsAreVersionedAndUnique(t *testing.T) {
	seen := map[events.TypeInfo]string{}
	for _, typ := range []string{events.ModelUpserted, events.ModelDeleted, events.KeyUpserted, events.KeyDeleted,
		events.KeyBlocked, events.KeyUnblocked, events.KeyRegenerated, events.TeamUpserted, events.TeamDeleted,
		events.TeamBlocked, events.TeamUnblocked, events.TeamMemberAdded, events.UserUpserted, events.UserDeleted,
		events.OrgUpserted, events.OrgDeleted, events.AccessGroupUpserted, events.AccessGroupDeleted,
		events.JWTSettingsUpserted, events.RouterSettingsUpserted, events.CustomerUpserted, events.CustomerDeleted,
		events.CustomerBlocked, events.CustomerUnblocked, events.LiteLLMSettingsUpserted} {
		ti, ok := events.Lookup(typ)
		if !ok || !strings.HasPrefix(typ, "gatehouse.") || !strings.Contains(typ, ".v1.") {
			t.Errorf("%s: not a registered versioned type", typ)
		}
		if prev, dup := seen[ti]; dup {
			t.Errorf("%s and %s mean the same", typ, prev)
		}
		seen[ti] = typ
	}
}

func TestPublishConcurrencyAndDedupe(t *testing.T) {
	_, js := testutil.NewJetStream(t)
	stream := testutil.EnsureStreams(t, js)
	ctx := context.Background()
	p := &events.Publisher{JS: js}
	zero := uint64(0)

	first, err := p.Publish(ctx, events.Change{Type: events.TeamUpserted, Object: &events.Team{TeamID: "t1"}, ExpectSeq: &zero})
	if err != nil {
		t.Fatal(err)
	}
	// Creating again on an existing subject must conflict.
	if _, err := p.Publish(ctx, events.Change{Type: events.TeamUpserted, Object: &events.Team{TeamID: "t1"}, ExpectSeq: &zero}); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("second create: got %v, want ErrConflict", err)
	}
	// Two writers computing from the same read: exactly one wins.
	var wg sync.WaitGroup
	results := make([]error, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seq := first.Seq
			_, results[i] = p.Publish(ctx, events.Change{Type: events.TeamBlocked, Object: &events.Team{TeamID: "t1", Blocked: true}, ExpectSeq: &seq})
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range results {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, events.ErrConflict):
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d racing writers won, want exactly 1", wins)
	}
	// A retried publish with the same id is dropped by the stream.
	id := events.NewID()
	a, err := p.Publish(ctx, events.Change{ID: id, Type: events.UserUpserted, Object: &events.User{UserID: "u1"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Publish(ctx, events.Change{ID: id, Type: events.UserUpserted, Object: &events.User{UserID: "u1"}})
	if err != nil || b.Seq != a.Seq {
		t.Fatalf("duplicate publish: seq %d vs %d, err %v", b.Seq, a.Seq, err)
	}
	cur, err := events.Get(ctx, stream, events.KindTeam, "t1")
	if err != nil || !cur.Exists || !cur.Event.Object.(*events.Team).Blocked {
		t.Fatalf("Get: %+v %v", cur, err)
	}
	// Keep-last-per-subject: the stream holds one message per object.
	info, _ := stream.Info(ctx)
	if info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages, want 2 (one per object)", info.State.Msgs)
	}
}

func TestFollowerStopsAtUnknownType(t *testing.T) {
	nc, js := testutil.NewJetStream(t)
	testutil.EnsureStreams(t, js)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := &events.Publisher{JS: js}
	if _, err := p.Publish(ctx, events.Change{Type: events.UserUpserted, Object: &events.User{UserID: "u1"}}); err != nil {
		t.Fatal(err)
	}
	// A newer control plane writes a type this build does not know...
	future, _ := json.Marshal(events.Envelope{ID: "x", Type: "gatehouse.team.v2.upserted", Data: json.RawMessage(`{"team_id":"t2"}`)})
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: events.Subject(events.KindTeam, "t2"), Data: future}); err != nil {
		t.Fatal(err)
	}
	// ...followed by a revocation that must not be applied out of order.
	if _, err := p.Publish(ctx, events.Change{Type: events.TeamBlocked, Object: &events.Team{TeamID: "t1", Blocked: true}}); err != nil {
		t.Fatal(err)
	}
	_ = nc
	var applied []uint64
	f := &events.Follower{JS: js, Apply: func(ev events.Event, _ uint64) error {
		applied = append(applied, ev.Seq)
		return nil
	}}
	err := f.Run(ctx)
	var stall *events.StallError
	if !errors.As(err, &stall) || !errors.Is(err, events.ErrUnknownType) {
		t.Fatalf("Run: got %v, want a StallError wrapping ErrUnknownType", err)
	}
	if len(applied) != 1 || stall.Seq != 2 {
		t.Fatalf("applied %v, stalled at %d; want [1] and 2", applied, stall.Seq)
	}
}
