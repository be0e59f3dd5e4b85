package policy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/events"
)

var update = flag.Bool("update", false, "rewrite golden files")

// replayFile applies a .jsonl of envelopes, numbering them 1..n as the
// stream would.
func replayFile(t *testing.T, path string, twice bool) *Snapshot {
	t.Helper()
	return replayFileOf(t, path, twice, FullKeys)
}

func replayFileOf(t *testing.T, path string, twice bool, m KeyRecords) *Snapshot {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := EmptyOf(nil, m).Edit(nil)
	var evs []events.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for seq := uint64(1); sc.Scan(); seq++ {
		ev, err := events.Decode(sc.Bytes())
		if err != nil {
			t.Fatalf("%s line %d: %v", path, seq, err)
		}
		ev.Seq = seq
		evs = append(evs, ev)
	}
	for _, ev := range evs {
		if err := b.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	if twice { // redelivery of everything must change nothing
		for _, ev := range evs {
			if err := b.Apply(ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	return b.Snapshot()
}

// TestGolden replays each testdata/golden/*.jsonl and compares the exported
// state with the .golden.json beside it (go test -run TestGolden -update
// rewrites them; review the diff).
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.jsonl")
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			got, _ := json.MarshalIndent(Export(replayFile(t, in, false)), "", "  ")
			again, _ := json.MarshalIndent(Export(replayFile(t, in, true)), "", "  ")
			if !bytes.Equal(got, again) {
				t.Fatal("applying the events twice changed the state")
			}
			want := strings.TrimSuffix(in, ".jsonl") + ".golden.json"
			if *update {
				if err := os.WriteFile(want, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			exp, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(bytes.TrimSpace(exp), bytes.TrimSpace(got)) {
				t.Fatalf("state differs from %s:\n%s", want, got)
			}
		})
	}
}

// TestCopyOnWrite: a published snapshot never changes when later events are
// applied.
func TestCopyOnWrite(t *testing.T) {
	s1 := build(t, &events.Team{TeamID: "t"}, &events.Key{Token: events.HashKey("sk-1"), TeamID: "t"})
	before, _ := json.Marshal(Export(s1))
	b := s1.Edit(nil)
	for i, o := range []any{&events.Team{TeamID: "t", Blocked: true}, &events.Key{Token: events.HashKey("sk-2")}} {
		ev := events.Event{Seq: uint64(10 + i), Object: o}
		ev.Type = events.TypeFor(events.KindOf(o), events.ActionUpserted)
		ev.Info, _ = events.Lookup(ev.Type)
		if err := b.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	del := events.Event{Seq: 12, Object: &events.Tombstone{ID: events.HashKey("sk-1")}}
	del.Type = events.KeyDeleted
	del.Info, _ = events.Lookup(del.Type)
	if err := b.Apply(del); err != nil {
		t.Fatal(err)
	}
	s2 := b.Snapshot()
	after, _ := json.Marshal(Export(s1))
	if !bytes.Equal(before, after) {
		t.Fatal("an old snapshot changed")
	}
	if s1.KeyByToken(events.HashKey("sk-1")) == nil || s1.KeyByToken(events.HashKey("sk-2")) != nil || s1.Team("t").Blocked {
		t.Fatal("s1 changed")
	}
	if s2.KeyByToken(events.HashKey("sk-1")) != nil || s2.KeyByToken(events.HashKey("sk-2")) == nil || !s2.Team("t").Blocked || s2.NumKeys() != 1 {
		t.Fatal("s2 did not get the changes")
	}
}
