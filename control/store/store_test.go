package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/policy"
)

// newStores returns two control replicas on one stream.
func newStores(t *testing.T) (*Store, *Store) {
	t.Helper()
	ns := testutil.RunJetStream(t)
	mk := func() *Store {
		_, js := testutil.Connect(t, ns.ClientURL())
		return newStore(t, js)
	}
	return mk(), mk()
}

// newStore is a store on the policy streams of js as storetest.New builds
// it (this package's own tests cannot import that), with a SyncTimeout of
// a second.
func newStore(t *testing.T, js jetstream.JetStream) *Store {
	t.Helper()
	stream := testutil.EnsureStreams(t, js)
	live := &policy.Live{JS: js}
	testutil.Follow(t, live)
	return &Store{Stream: stream, Pub: &events.Publisher{JS: js}, Live: live, SyncTimeout: time.Second}
}

// TestRacingAdminsNeitherWinsSilently: two replicas patching one team at
// once keep every patch; creating one id twice has exactly one winner.
func TestRacingAdminsNeitherWinsSilently(t *testing.T) {
	a, b := newStores(t)
	ctx := context.Background()
	if _, err := a.Put(ctx, "test", &events.Team{TeamID: "t"}, nil); err != nil {
		t.Fatal(err)
	}
	const n = 16
	// race runs n writers at once, alternating between the replicas, and
	// waits for all of them.
	race := func(write func(i int, st *Store)) {
		var wg sync.WaitGroup
		for i := range n {
			st := a
			if i%2 == 1 {
				st = b
			}
			wg.Go(func() { write(i, st) })
		}
		wg.Wait()
	}
	errs := make(chan error, n)
	race(func(i int, st *Store) {
		_, err := st.Mutate(ctx, "admin", events.KindTeam, "t", func(cur any) (string, any, error) {
			team := *cur.(*events.Team)
			team.MembersWithRoles = append(slices.Clone(team.MembersWithRoles), events.Member{UserID: fmt.Sprint("u", i), Role: "user"})
			return events.TeamMemberAdded, &team, nil
		})
		errs <- err
	})
	close(errs)
	for err := range errs {
		// Conflict after maxAttempts is allowed (reported, not silent), but
		// with 16 writers it should not happen.
		if err != nil {
			t.Fatal(err)
		}
	}
	obj, _, err := a.Get(ctx, events.KindTeam, "t")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(obj.(*events.Team).MembersWithRoles); got != n {
		t.Fatalf("team has %d members after %d concurrent adds: updates were lost", got, n)
	}

	wins := 0
	var mu sync.Mutex
	race(func(i int, st *Store) {
		_, err := st.Mutate(ctx, "admin", events.KindTeam, "new-team", func(cur any) (string, any, error) {
			if cur != nil {
				return "", nil, apierror.Conflict.With("exists")
			}
			return events.TeamUpserted, &events.Team{TeamID: "new-team", TeamAlias: fmt.Sprint(i)}, nil
		})
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, apierror.Conflict):
			t.Error(err)
		}
	})
	if wins != 1 {
		t.Fatalf("%d concurrent creates of one id succeeded, want 1", wins)
	}
	// Both replicas' read models converge.
	testutil.Eventually(t, 5*time.Second, func() error {
		if a.Snapshot().Seq() != b.Snapshot().Seq() || b.Snapshot().Team("new-team") == nil {
			return fmt.Errorf("replicas at %d and %d", a.Snapshot().Seq(), b.Snapshot().Seq())
		}
		return nil
	})
}

// TestWriteReturnsAfterReadModel: a write is visible in this replica's read
// model when Mutate returns.
func TestWriteReturnsAfterReadModel(t *testing.T) {
	a, _ := newStores(t)
	for i := range 20 {
		id := fmt.Sprint("k", i)
		res, err := a.Put(context.Background(), "test", &events.Team{TeamID: id}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if a.Snapshot().Team(id) == nil || a.Snapshot().Seq() < res.Seq {
			t.Fatalf("write %d not visible on return", i)
		}
	}
	// Put with an equal state writes nothing.
	res, err := a.Put(context.Background(), "test", &events.Team{TeamID: "k0"}, func(any) bool { return true })
	if err != nil || !res.Noop {
		t.Fatalf("idempotent put wrote: %+v %v", res, err)
	}
}
