package policy_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/policy"
)

func token(i int) string {
	sum := sha256.Sum256([]byte(fmt.Sprint("sk-", i)))
	return hex.EncodeToString(sum[:])
}

// follow runs a Live until it is ready and returns it.
func follow(t *testing.T, js jetstream.JetStream, seed bool) *policy.Live {
	t.Helper()
	l := &policy.Live{JS: js}
	if seed {
		l.Seed = func(ctx context.Context) (*policy.Snapshot, error) { return policy.LoadSnapshot(ctx, js, nil) }
	}
	testutil.Go(t, l.Run)
	testutil.Eventually(t, 10*time.Second, l.Check)
	return l
}

// A Live seeded from a snapshot and following the stream after it holds
// exactly what a full replay holds, deletions and regenerations included.
func TestSnapshotPlusTailEqualsReplay(t *testing.T) {
	_, js := testutil.NewJetStream(t)
	testutil.EnsureStreams(t, js)
	ctx := context.Background()
	pub := &events.Publisher{JS: js}
	put := func(typ string, obj any) {
		t.Helper()
		if _, err := pub.Publish(ctx, events.Change{Type: typ, Actor: "test", Object: obj}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	put(events.ModelUpserted, &events.Model{ID: "m1", ModelName: "gpt-4o", LiteLLMParams: events.ModelParams{Model: "mock/gpt-4o"}})
	put(events.RouterSettingsUpserted, &events.RoutingSettings{ID: events.RoutingSettingsID, RoutingStrategy: "least-busy"})
	put(events.JWTSettingsUpserted, &events.JWTSettings{ID: events.JWTSettingsID, Enabled: true, PublicKeyURLs: []string{"https://idp.example/jwks"}})
	for i := range 50 {
		put(events.TeamUpserted, &events.Team{TeamID: fmt.Sprint("team-", i%5), Models: []string{"gpt-4o"}})
		put(events.KeyUpserted, &events.Key{Token: token(i), Models: []string{"gpt-4o"}, TeamID: fmt.Sprint("team-", i%5), CreatedAt: now, UpdatedAt: now})
	}
	put(events.KeyDeleted, &events.Tombstone{ID: token(3)})

	writer := follow(t, js, false)
	if _, err := policy.SaveSnapshot(ctx, js, writer.Load(), 1); err != nil {
		t.Fatal(err)
	}
	// After the snapshot: changes a seeded Live must pick up from the stream.
	put(events.KeyDeleted, &events.Tombstone{ID: token(4)})
	put(events.KeyUpserted, &events.Key{Token: token(100), Models: []string{"gpt-4o"}, RegeneratedFrom: token(5), CreatedAt: now, UpdatedAt: now})
	put(events.TeamUpserted, &events.Team{TeamID: "team-1", Blocked: true})

	if snap, err := policy.LoadSnapshot(ctx, js, nil); err != nil || snap.NumKeys() != 49 {
		t.Fatalf("LoadSnapshot: %v", err)
	}
	replayed := follow(t, js, false)
	seeded := follow(t, js, true)
	testutil.Eventually(t, 5*time.Second, func() error {
		if a, b := seeded.Load().Seq(), replayed.Load().Seq(); a != b {
			return fmt.Errorf("seeded at %d, replayed at %d", a, b)
		}
		return nil
	})
	if a, b := policy.Export(seeded.Load()), policy.Export(replayed.Load()); !reflect.DeepEqual(a, b) {
		t.Fatalf("seeded state differs from the replay:\nseeded   %+v\nreplayed %+v", a, b)
	}
	s := seeded.Load()
	if s.NumKeys() != 48 || s.KeyByToken(token(4)) != nil || s.KeyByToken(token(5)) != nil || s.KeyByToken(token(100)) == nil || !s.Team("team-1").Blocked {
		t.Fatalf("seeded state: %d keys, team-1 %+v", s.NumKeys(), s.Team("team-1"))
	}
}

// A snapshot of a stream that was deleted and created again is not used:
// its sequence numbers mean nothing in the new stream.
func TestSnapshotOfAnotherStreamIsIgnored(t *testing.T) {
	_, js := testutil.NewJetStream(t)
	testutil.EnsureStreams(t, js)
	ctx := context.Background()
	pub := &events.Publisher{JS: js}
	if _, err := pub.Publish(ctx, events.Change{Type: events.KeyUpserted, Object: &events.Key{Token: token(1)}}); err != nil {
		t.Fatal(err)
	}
	l := follow(t, js, false)
	if _, err := policy.SaveSnapshot(ctx, js, l.Load(), 1); err != nil {
		t.Fatal(err)
	}
	if s, err := policy.LoadSnapshot(ctx, js, nil); err != nil || s.NumKeys() != 1 {
		t.Fatalf("LoadSnapshot = %v", err)
	}
	if err := js.DeleteStream(ctx, events.PolicyStream); err != nil {
		t.Fatal(err)
	}
	testutil.EnsureStreams(t, js)
	if _, err := policy.LoadSnapshot(ctx, js, nil); !errors.Is(err, policy.ErrNoSnapshot) {
		t.Fatalf("LoadSnapshot after the stream was recreated = %v, want ErrNoSnapshot", err)
	}
}

// A load is not bounded by the JetStream client's default API timeout,
// which the client applies to every call, the object download included,
// when the context has no deadline: with a million keys the load takes
// longer than the default 5 s, and it failed half-way into a full replay.
// Here that timeout is 1 ns, so any call it bounds fails.
func TestSnapshotLoadOutlivesClientTimeout(t *testing.T) {
	ns := testutil.RunJetStream(t)
	nc, js := testutil.Connect(t, ns.ClientURL())
	testutil.EnsureStreams(t, js)
	ctx := context.Background()
	pub := &events.Publisher{JS: js}
	for i := range 3 {
		if _, err := pub.Publish(ctx, events.Change{Type: events.KeyUpserted, Object: &events.Key{Token: token(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := policy.SaveSnapshot(ctx, js, follow(t, js, false).Load(), 1); err != nil {
		t.Fatal(err)
	}
	impatient, err := jetstream.New(nc, jetstream.WithDefaultTimeout(time.Nanosecond))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []policy.KeyRecords{policy.FullKeys, policy.CompactKeys} {
		if s, err := policy.LoadSnapshotOf(ctx, impatient, nil, m); err != nil || s.NumKeys() != 3 {
			t.Fatalf("LoadSnapshotOf(%v) = %v", m, err)
		}
	}
}

// A line longer than the reader's buffer (a key with large metadata) is
// read whole, in both modes.
func TestSnapshotLongLine(t *testing.T) {
	big := strings.Repeat("x", 3<<20)
	s, err := policy.SnapshotOf(nil, &events.Key{Token: token(1), Metadata: map[string]any{"note": big}}, &events.Key{Token: token(2)})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := policy.WriteSnapshot(&buf, s, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, m := range []policy.KeyRecords{policy.FullKeys, policy.CompactKeys} {
		got, _, err := policy.ReadSnapshotOf(bytes.NewReader(buf.Bytes()), nil, m)
		if err != nil || got.NumKeys() != 2 || got.KeyByToken(token(1)).Metadata["note"] != big {
			t.Fatalf("ReadSnapshotOf(%v): %v", m, err)
		}
	}
}

// BenchmarkReadSnapshot: the cost per key of starting from a snapshot
// (decode on every CPU, apply on one).
func BenchmarkReadSnapshot(b *testing.B) {
	now := time.Now().UTC()
	objs := []any{&events.Model{ID: "m1", ModelName: "gpt-4o", LiteLLMParams: events.ModelParams{Model: "mock/gpt-4o"}}}
	const n = 100_000
	for i := range n {
		objs = append(objs, &events.Key{Token: token(i), KeyName: "sk-...abcd", KeyAlias: fmt.Sprint("key-", i), Models: []string{"gpt-4o"},
			TeamID: fmt.Sprint("team-", i%1000), UserID: fmt.Sprint("user-", i%5000), CreatedAt: now, UpdatedAt: now})
	}
	s, err := policy.SnapshotOf(nil, objs...)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := policy.WriteSnapshot(&buf, s, now); err != nil {
		b.Fatal(err)
	}
	for _, m := range []struct {
		name string
		keys policy.KeyRecords
	}{{"full", policy.FullKeys}, {"compact", policy.CompactKeys}} {
		b.Run(m.name, func(b *testing.B) {
			b.SetBytes(int64(buf.Len()))
			for b.Loop() {
				got, _, err := policy.ReadSnapshotOf(bytes.NewReader(buf.Bytes()), nil, m.keys)
				if err != nil || got.NumKeys() != n {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/key")
		})
	}
}

// The stored snapshot is S2-compressed (every edge downloads it whole),
// and a snapshot reads the same plain (a file, an object stored before)
// or compressed; a damaged compressed stream is an error, so the edge
// replays instead of starting from half a state.
func TestSnapshotCompressedAndPlainReadAlike(t *testing.T) {
	_, js := testutil.NewJetStream(t)
	testutil.EnsureStreams(t, js)
	ctx := context.Background()
	pub := &events.Publisher{JS: js}
	const n = 500
	for i := range n {
		if _, err := pub.Publish(ctx, events.Change{Type: events.KeyUpserted,
			Object: &events.Key{Token: token(i), KeyAlias: fmt.Sprint("key-", i), TeamID: "team-1", Models: []string{"gpt-4o"}}}); err != nil {
			t.Fatal(err)
		}
	}
	want := follow(t, js, false).Load()
	info, err := policy.SaveSnapshot(ctx, js, want, 1)
	if err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	if err := policy.WriteSnapshot(&plain, want, time.Now()); err != nil {
		t.Fatal(err)
	}
	if info.Metadata["encoding"] != "s2" || info.Size*3 > uint64(plain.Len()) {
		t.Fatalf("stored object: encoding %q, %d bytes; plain snapshot %d bytes: want s2, a third or less",
			info.Metadata["encoding"], info.Size, plain.Len())
	}

	store, err := js.ObjectStore(ctx, events.SnapshotBucket)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := store.GetBytes(ctx, events.SnapshotObject)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
	}{{"compressed", stored}, {"plain", plain.Bytes()}} {
		got, h, err := policy.ReadSnapshotOf(bytes.NewReader(c.data), nil, policy.CompactKeys)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if h.Format != policy.SnapshotFormat || got.NumKeys() != n || got.Seq() != want.Seq() ||
			!reflect.DeepEqual(got.KeyByToken(token(7)), want.KeyByToken(token(7))) {
			t.Fatalf("%s: read %d keys at seq %d, want %d at %d", c.name, got.NumKeys(), got.Seq(), n, want.Seq())
		}
	}

	damaged := bytes.Clone(stored)
	damaged[len(damaged)/2] ^= 0xff
	if _, _, err := policy.ReadSnapshotOf(bytes.NewReader(damaged), nil, policy.CompactKeys); err == nil {
		t.Fatal("a damaged compressed snapshot was read without an error")
	}
	if _, _, err := policy.ReadSnapshotOf(bytes.NewReader(stored[:len(stored)/2]), nil, policy.CompactKeys); err == nil {
		t.Fatal("a truncated compressed snapshot was read without an error")
	}
}
