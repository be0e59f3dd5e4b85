package store_test

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/control/store"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
)

// A dry-run store takes writes as the stream would (reads see them, each
// gets the next sequence) on a copy: the base snapshot is unchanged and
// the events are kept, not published (the store has no stream at all).
func TestSandbox(t *testing.T) {
	base, err := policy.SnapshotOf(nil, &events.Team{TeamID: "t1", Models: []string{"a"}}, &events.Team{TeamID: "gone"})
	if err != nil {
		t.Fatal(err)
	}
	sb := store.NewSandbox(base)
	st := store.DryRun(sb, nil)
	ctx := context.Background()
	res, err := st.Mutate(ctx, "test", events.KindTeam, "t1", func(cur any) (string, any, error) {
		t1 := *cur.(*events.Team)
		t1.Models = []string{"b"}
		return events.TeamUpserted, &t1, nil
	})
	if err != nil || res.Seq != base.Seq()+1 {
		t.Fatalf("mutate: %+v %v", res, err)
	}
	if _, err := st.Put(ctx, "test", &events.Team{TeamID: "t2"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, existed, err := st.Delete(ctx, "test", events.KindTeam, "gone"); err != nil || !existed {
		t.Fatalf("delete: %v %v", existed, err)
	}
	got := st.Snapshot()
	if m := got.Team("t1").Models; len(m) != 1 || m[0] != "b" || got.Team("t2") == nil || got.Team("gone") != nil || got.Seq() != base.Seq()+3 {
		t.Fatalf("sandbox snapshot: t1 %v t2 %v gone %v seq %d", got.Team("t1"), got.Team("t2"), got.Team("gone"), got.Seq())
	}
	if base.Team("t1").Models[0] != "a" || base.Team("t2") != nil || base.Team("gone") == nil {
		t.Fatal("the base snapshot changed")
	}
	if ch := sb.Changes(); len(ch) != 3 || ch[2].Type != events.TeamDeleted {
		t.Fatalf("changes: %+v", ch)
	}
	if obj, _, _ := st.Get(ctx, events.KindTeam, "gone"); obj != nil {
		t.Fatalf("get of a deleted team: %v", obj)
	}
}
