package policy

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// BenchmarkSnapshotMemoryPerKey reports the heap an edge holds per virtual
// key (a typical key: a team, two models, an alias, limits), for sizing
// edge memory (docs/operations.md): full keys as the control plane keeps
// them, compact ones as an edge does. Each iteration builds a 100k-key
// snapshot through the same Apply path the follower uses.
func BenchmarkSnapshotMemoryPerKey(b *testing.B) {
	b.Run("full", func(b *testing.B) { benchSnapshotMemory(b, FullKeys) })
	b.Run("compact", func(b *testing.B) { benchSnapshotMemory(b, CompactKeys) })
}

func benchSnapshotMemory(b *testing.B, mode KeyRecords) {
	const n = 100_000
	rpm := int64(100)
	now := time.Now().UTC()
	// Keys are made inside the measured window: the snapshot keeps the
	// decoded objects, as an edge does.
	event := func(i int) events.Event {
		k := &events.Key{Token: events.HashKey(fmt.Sprintf("sk-mem-%08d", i)), KeyName: "sk-...abcd", KeyAlias: fmt.Sprintf("svc-%d", i),
			Models: []string{"gpt-4o", "gpt-4o-mini"}, TeamID: fmt.Sprintf("team-%d", i%500), RPMLimit: &rpm, CreatedAt: now, UpdatedAt: now}
		ev := events.Event{Seq: uint64(i + 1), Info: events.TypeInfo{Kind: events.KindKey, Action: events.ActionUpserted}, Object: k}
		ev.Type = events.KeyUpserted
		return ev
	}
	var perKey float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		bld := EmptyOf(nil, mode).Edit(nil)
		for i := range n {
			if err := bld.Apply(event(i)); err != nil {
				b.Fatal(err)
			}
		}
		s := bld.Snapshot()
		runtime.GC()
		runtime.ReadMemStats(&after)
		if s.NumKeys() != n {
			b.Fatalf("%d keys", s.NumKeys())
		}
		perKey = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(s)
	}
	b.ReportMetric(perKey, "heap-B/key")
}
