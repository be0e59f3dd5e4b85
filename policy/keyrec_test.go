package policy

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/gatehouse/gatehouse/events"
)

// oddKeys covers every field of events.Key and the values a compact record
// stores differently (times that are zero, not UTC or pack to the
// sentinel, nil against empty lists, an upper-case token).
func oddKeys() []any {
	at := time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.UTC)
	paris := time.FixedZone("CEST", 2*3600)
	n, f := int64(7), 1.5
	return []any{
		&events.Team{TeamID: "t", Models: []string{"gpt-4o"}},
		&events.User{UserID: "u", Models: []string{"gpt-4o"}},
		&events.Key{Token: events.HashKey("sk-plain"), KeyName: "sk-...lain", TeamID: "t", Models: []string{"gpt-4o"}, CreatedAt: at, UpdatedAt: at},
		&events.Key{Token: events.HashKey("sk-same-shape"), KeyName: "sk-...hape", TeamID: "t", Models: []string{"gpt-4o"}, CreatedAt: at, UpdatedAt: at.Add(time.Second)},
		&events.Key{Token: events.HashKey("sk-empty-models"), Models: []string{}, UserID: "u"},
		&events.Key{Token: events.HashKey("sk-zero")},
		&events.Key{Token: strings.ToUpper(events.HashKey("sk-upper")), Models: []string{"gpt-4o"}},
		&events.Key{Token: events.HashKey("sk-everything"), KeyName: "sk-...hing", KeyAlias: "all", Models: []string{"gpt-4o", "beta"},
			TeamID: "t", UserID: "u", OrganizationID: "o", Blocked: true, Expires: &at, MaxBudget: &f, BudgetDuration: "30d",
			TPMLimit: &n, RPMLimit: &n, MaxParallelRequests: &n, Aliases: map[string]string{"fast": "gpt-4o"},
			Metadata: map[string]any{"env": "prod"}, AllowedRoutes: []string{"llm_api_routes"}, AllowedIPs: []string{"10.0.0.0/8"}, AccessGroupIDs: []string{"g1"}, RegeneratedFrom: events.HashKey("sk-gone"),
			CreatedBy: "admin", CreatedAt: at.In(paris), UpdatedAt: time.Unix(0, noTime).UTC(), BudgetFlag: events.BudgetFlag{BudgetExceeded: true, BudgetResetAt: &at}},
	}
}

func bothModes(t *testing.T, objs ...any) (full, compact *Snapshot) {
	t.Helper()
	var err error
	if full, err = EmptyOf(nil, FullKeys).With(nil, decoded(t, objs)...); err != nil {
		t.Fatal(err)
	}
	if compact, err = EmptyOf(nil, CompactKeys).With(nil, decoded(t, objs)...); err != nil {
		t.Fatal(err)
	}
	return full, compact
}

// decoded copies objs through JSON, as events arrive: applying interns
// them in place, and two snapshots must not share what they were built
// from.
func decoded(t *testing.T, objs []any) []any {
	out := make([]any, len(objs))
	for i, o := range objs {
		raw, _ := json.Marshal(o)
		out[i] = reflect.New(reflect.TypeOf(o).Elem()).Interface()
		if err := json.Unmarshal(raw, out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func exportJSON(s *Snapshot) string {
	b, _ := json.Marshal(Export(s))
	return string(b)
}

// TestCompactKeysLossless: a compact snapshot gives back every key exactly
// as a full one does, through lookups, the export an edge serves and a
// written snapshot read back compact.
func TestCompactKeysLossless(t *testing.T) {
	full, compact := bothModes(t, oddKeys()...)
	if a, b := exportJSON(full), exportJSON(compact); a != b {
		t.Fatalf("compact export differs:\nfull    %s\ncompact %s", a, b)
	}
	for _, k := range full.Keys() {
		h, err := ParseKeyHash(k.Token)
		if err != nil {
			t.Fatal(err)
		}
		if got := compact.Key(h); !reflect.DeepEqual(got, k) {
			t.Errorf("key %s:\nfull    %+v\ncompact %+v", k.KeyName, k, got)
		}
	}
	var buf bytes.Buffer
	if err := WriteSnapshot(&buf, compact, time.Now()); err != nil {
		t.Fatal(err)
	}
	read, _, err := ReadSnapshotOf(&buf, nil, CompactKeys)
	if err != nil {
		t.Fatal(err)
	}
	if read.KeyRecords() != CompactKeys || exportJSON(read) != exportJSON(full) {
		t.Fatalf("snapshot written and read compact differs:\n%s", exportJSON(read))
	}
}

// TestCompactKeysGolden replays every golden stream both ways: same state.
func TestCompactKeysGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.jsonl")
	for _, in := range files {
		full, compact := replayFileOf(t, in, false, FullKeys), replayFileOf(t, in, true, CompactKeys)
		if a, b := exportJSON(full), exportJSON(compact); a != b {
			t.Errorf("%s: compact state differs:\nfull    %s\ncompact %s", in, a, b)
		}
	}
}

// TestCompactKeysDecide: every decision is the same on both kinds of
// record.
func TestCompactKeysDecide(t *testing.T) {
	objs := append([]any{dep("gpt-4o", "mock/gpt-4o"), dep("beta", "mock/beta", "beta-group")}, oddKeys()...)
	full, compact := bothModes(t, objs...)
	now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	for _, k := range full.Keys() {
		h, _ := ParseKeyHash(k.Token)
		for _, model := range []string{"", "gpt-4o", "fast", "beta", "nope"} {
			a, errA := full.CheckKey(k, model, now)
			b, errB := compact.CheckKey(compact.Key(h), model, now)
			a.Key, b.Key = nil, nil
			if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(errA, errB) {
				t.Errorf("key %s model %q: full %+v %v, compact %+v %v", k.KeyName, model, a, errA, b, errB)
			}
		}
	}
}

// TestCompactKeyKept: the key rebuilt on the first lookup is kept, so the
// request path allocates nothing for a key in use; a new version of the
// key is rebuilt, and an old snapshot keeps its own.
func TestCompactKeyKept(t *testing.T) {
	s, err := EmptyOf(nil, CompactKeys).With(nil, oddKeys()...)
	if err != nil {
		t.Fatal(err)
	}
	h := KeyHash(sha256Sum("sk-plain"))
	first := s.Key(h)
	if allocs := testing.AllocsPerRun(100, func() { s.Key(h) }); allocs != 0 || s.Key(h) != first {
		t.Fatalf("lookup of a looked-up key allocates %v times or returns another key", allocs)
	}
	s2, err := s.With(nil, &events.Key{Token: events.HashKey("sk-plain"), KeyName: "sk-...lain", TeamID: "t", Blocked: true})
	if err != nil {
		t.Fatal(err)
	}
	if !s2.Key(h).Blocked || s.Key(h).Blocked || s.Key(h) != first {
		t.Fatal("an update did not reach the new snapshot, or changed the old one")
	}
	if s.Key(KeyHash(sha256Sum("sk-missing"))) != nil {
		t.Fatal("missing key found")
	}
}

// TestKeyRecSize: the compact record stays within 64 bytes, the size
// class a million of them are sized for.
func TestKeyRecSize(t *testing.T) {
	if n := unsafe.Sizeof(keyRec{}); n > 64 {
		t.Fatalf("keyRec is %d bytes, over the 64-byte size class", n)
	}
}

// TestCompactKeyConcurrentLookups: request handlers racing on a key's first
// lookup all get one and the same key (go test -race).
func TestCompactKeyConcurrentLookups(t *testing.T) {
	s, err := EmptyOf(nil, CompactKeys).With(nil, oddKeys()...)
	if err != nil {
		t.Fatal(err)
	}
	h := KeyHash(sha256Sum("sk-plain"))
	got := make([]*events.Key, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = s.Key(h) }()
	}
	wg.Wait()
	for _, k := range got {
		if k == nil || k != s.Key(h) {
			t.Fatal("concurrent first lookups returned different keys")
		}
	}
}

// TestIsLowerHex: every byte, alone and inside a valid token.
func TestIsLowerHex(t *testing.T) {
	if !isLowerHex("") || !isLowerHex("0123456789abcdef") {
		t.Fatal("lower-case hex rejected")
	}
	for c := 0; c < 256; c++ {
		want := c >= '0' && c <= '9' || c >= 'a' && c <= 'f'
		if got := isLowerHex("0a" + string([]byte{byte(c)}) + "f9"); got != want {
			t.Errorf("%q: %v, want %v", rune(c), got, want)
		}
	}
}
