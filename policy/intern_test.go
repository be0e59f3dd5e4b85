package policy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/gatehouse/gatehouse/events"
)

// TestShapeOf: keys whose shape fields are equal share one shape, whatever
// strings and lists they were decoded into; keys that differ in any of
// them never do, whether their hashes differ or (forced) collide.
func TestShapeOf(t *testing.T) {
	// fresh copies, so equal strings never share memory.
	cp := func(s string) string { return strings.Clone(s) }
	i64 := func(v int64) *int64 { return &v }
	f64 := func(v float64) *float64 { return &v }
	base := func() *events.Key {
		return &events.Key{TeamID: cp("t"), UserID: cp("u"), OrganizationID: cp("o"), CreatedBy: cp("admin"), BudgetDuration: cp("30d"),
			Models: []string{cp("gpt-4o"), cp("beta")}, AllowedRoutes: []string{cp("llm_api_routes")},
			TPMLimit: i64(1), RPMLimit: i64(2), MaxParallelRequests: i64(3), MaxBudget: f64(1.5)}
	}
	with := func(f func(k *events.Key)) *events.Key { k := base(); f(k); return k }
	for _, tc := range []struct {
		name string
		a    func() *events.Key // base when nil
		b    *events.Key
		same bool
	}{
		{"equal copies", nil, base(), true},
		{"equal, fields not in the shape differ", nil, with(func(k *events.Key) { k.KeyName, k.KeyAlias, k.Blocked = "n", "a", true }), true},
		{"team", nil, with(func(k *events.Key) { k.TeamID = "t2" }), false},
		{"user", nil, with(func(k *events.Key) { k.UserID = "" }), false},
		{"org", nil, with(func(k *events.Key) { k.OrganizationID = "o2" }), false},
		{"created by", nil, with(func(k *events.Key) { k.CreatedBy = "admin2" }), false},
		{"budget duration", nil, with(func(k *events.Key) { k.BudgetDuration = "1d" }), false},
		{"models order", nil, with(func(k *events.Key) { k.Models = []string{"beta", "gpt-4o"} }), false},
		{"models joined", nil, with(func(k *events.Key) { k.Models = []string{"gpt-4obeta"} }), false},
		{"models split elsewhere", nil, with(func(k *events.Key) { k.Models = []string{"gpt-4ob", "eta"} }), false},
		{"models one more", nil, with(func(k *events.Key) { k.Models = append(k.Models, "") }), false},
		{"models nil", nil, with(func(k *events.Key) { k.Models = nil }), false},
		{"models empty", nil, with(func(k *events.Key) { k.Models = []string{} }), false},
		{"models nil, empty", func() *events.Key { return with(func(k *events.Key) { k.Models = nil }) },
			with(func(k *events.Key) { k.Models = []string{} }), false},
		{"routes nil, empty", func() *events.Key { return with(func(k *events.Key) { k.AllowedRoutes = nil }) },
			with(func(k *events.Key) { k.AllowedRoutes = []string{} }), false},
		{"models nil, nil", func() *events.Key { return with(func(k *events.Key) { k.Models = nil }) },
			with(func(k *events.Key) { k.Models = nil }), true},
		{"routes nil", nil, with(func(k *events.Key) { k.AllowedRoutes = nil }), false},
		{"routes empty", nil, with(func(k *events.Key) { k.AllowedRoutes = []string{} }), false},
		{"team moved to user", nil, with(func(k *events.Key) { k.TeamID, k.UserID = "", "tu" }), false},
		{"tpm unset", nil, with(func(k *events.Key) { k.TPMLimit = nil }), false},
		{"tpm zero", nil, with(func(k *events.Key) { k.TPMLimit = i64(0) }), false},
		{"rpm", nil, with(func(k *events.Key) { k.RPMLimit = i64(1) }), false},
		{"tpm and rpm swapped", nil, with(func(k *events.Key) { k.TPMLimit, k.RPMLimit = i64(2), i64(1) }), false},
		{"parallel unset", nil, with(func(k *events.Key) { k.MaxParallelRequests = nil }), false},
		{"budget unset", nil, with(func(k *events.Key) { k.MaxBudget = nil }), false},
		{"budget", nil, with(func(k *events.Key) { k.MaxBudget = f64(2) }), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mk := tc.a
			if mk == nil {
				mk = base
			}
			in := newInterner()
			a := mk()
			ha, hb := in.shapeHash(a), in.shapeHash(tc.b)
			if (ha == hb) != tc.same {
				t.Errorf("hashes equal: %v, want %v", ha == hb, tc.same)
			}
			sa := in.shapeOf(a, ha)
			if sb := in.shapeOf(tc.b, hb); (sa == sb) != tc.same {
				t.Errorf("shared shape: %v, want %v", sa == sb, tc.same)
			}
			// The same keys with one forced hash: only equal ones share.
			in = newInterner()
			a, b := mk(), tc.b
			sa = in.shapeOf(a, 1)
			sb := in.shapeOf(b, 1)
			if (sa == sb) != tc.same {
				t.Errorf("colliding hash: shared shape: %v, want %v", sa == sb, tc.same)
			}
			// Both are found again (the second from the colliding list).
			if in.shapeOf(mk(), 1) != sa || in.shapeOf(b, 1) != sb {
				t.Error("colliding hash: a shape was not found again")
			}
			if !sb.is(b) || !sa.is(mk()) {
				t.Error("a shape does not hold its key's fields")
			}
		})
	}
}

// TestShapeBudgetSignedZero: -0 and 0 are different budgets (they encode
// differently), so they never share a shape.
func TestShapeBudgetSignedZero(t *testing.T) {
	in := newInterner()
	zero, neg := 0.0, math.Copysign(0, -1)
	a, b := &events.Key{MaxBudget: &zero}, &events.Key{MaxBudget: &neg}
	if in.shapeOf(a, in.shapeHash(a)) == in.shapeOf(b, in.shapeHash(b)) {
		t.Fatal("0 and -0 share a shape")
	}
}

// TestShapeInternsOnlyNewShapes: a new shape interns its strings, so
// shapes of one team share the team's string and equal model lists share
// one array.
func TestShapeInternsOnlyNewShapes(t *testing.T) {
	in := newInterner()
	a := &events.Key{TeamID: strings.Clone("team"), UserID: "u1", Models: []string{strings.Clone("gpt-4o")}}
	b := &events.Key{TeamID: strings.Clone("team"), UserID: "u2", Models: []string{strings.Clone("gpt-4o")}}
	sa, sb := in.shapeOf(a, in.shapeHash(a)), in.shapeOf(b, in.shapeHash(b))
	if sa == sb {
		t.Fatal("different users share a shape")
	}
	if unsafe.StringData(sa.team) != unsafe.StringData(sb.team) || &sa.models[0] != &sb.models[0] {
		t.Error("the team id or the model list is not shared between the shapes")
	}
}

// TestListsNeverMerge: lists are interned by their elements, so a list
// never stands in for another whose elements join to the same text, and
// a key keeps its own models through its shape.
func TestListsNeverMerge(t *testing.T) {
	in := newInterner()
	for _, models := range [][]string{{"a", "b"}, {"a\x00b"}, {"a\x00", "b"}, {"a", "\x00b"}, {"ab"}, {"a", "b", ""}} {
		k := &events.Key{TeamID: "team", Models: append([]string(nil), models...)}
		sh := in.shapeOf(k, in.shapeHash(k))
		if !slices.Equal(sh.models, models) {
			t.Errorf("key with models %q got a shape with %q", models, sh.models)
		}
		if again := in.knownShape(k, in.shapeHash(k)); again != nil && again != sh {
			t.Errorf("models %q: knownShape found another shape", models)
		}
	}
}

// TestShapeTableGrows: shapes stay findable, by the applier and by
// knownShape, as the table grows past its first size, including hashes
// that probe into each other's slots.
func TestShapeTableGrows(t *testing.T) {
	in := newInterner()
	const n = 5000
	key := func(i int) *events.Key { return &events.Key{TeamID: fmt.Sprint("team-", i)} }
	// Every third key's hash shares its low bits with the others', so
	// they fill runs of neighbouring slots.
	hash := func(i int) uint64 {
		if i%3 == 0 {
			return uint64(i) << 32
		}
		return in.shapeHash(key(i))
	}
	shapes := map[*keyShape]int{}
	for i := range n {
		sh := in.shapeOf(key(i), hash(i))
		if j, dup := shapes[sh]; dup {
			t.Fatalf("keys %d and %d share a shape", j, i)
		}
		shapes[sh] = i
	}
	for sh, i := range shapes {
		if in.shapeOf(key(i), hash(i)) != sh || in.knownShape(key(i), hash(i)) != sh {
			t.Fatalf("key %d: shape not found again", i)
		}
		if in.knownShape(key(i+1), hash(i)) != nil {
			t.Fatalf("key %d: another key's shape returned", i)
		}
	}
	if in.nshapes != n {
		t.Fatalf("nshapes %d, want %d", in.nshapes, n)
	}
}

// TestKnownShapeConcurrent: decoders look shapes up while the applier adds
// them (run with -race); whatever they find is the key's own shape.
func TestKnownShapeConcurrent(t *testing.T) {
	in := newInterner()
	const n = 3000
	key := func(i int) *events.Key { return &events.Key{TeamID: fmt.Sprint("team-", i), Models: []string{"m"}} }
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				k := key(i)
				if sh := in.knownShape(k, in.shapeHash(k)); sh != nil && !sh.is(k) {
					t.Errorf("key %d: found another key's shape", i)
				}
			}
		}()
	}
	for i := range n {
		k := key(i)
		in.shapeOf(k, in.shapeHash(k))
	}
	wg.Wait()
	for i := range n {
		if k := key(i); in.knownShape(k, in.shapeHash(k)) == nil {
			t.Fatalf("key %d: shape not found after the applier stored it", i)
		}
	}
}

// TestShapeOfMatchesFieldEquality compares shape sharing with a reference:
// random keys from few values share a shape exactly when their shape
// fields are equal, with real hashes and with hashes cut to 3 bits (most
// keys then collide).
func TestShapeOfMatchesFieldEquality(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(vals ...string) string { return strings.Clone(vals[rng.IntN(len(vals))]) }
	list := func() []string {
		switch n := rng.IntN(4); n {
		case 0:
			return nil
		default:
			l := make([]string, n-1)
			for i := range l {
				l[i] = pick("a", "b", "ab")
			}
			return l
		}
	}
	limit := func() *int64 {
		if rng.IntN(2) == 0 {
			return nil
		}
		v := int64(rng.IntN(2))
		return &v
	}
	// ref is a canonical text of the shape fields.
	ref := func(k *events.Key) string {
		lim := func(p *int64) string {
			if p == nil {
				return "-"
			}
			return fmt.Sprint(*p)
		}
		b := "-"
		if k.MaxBudget != nil {
			b = fmt.Sprint(math.Float64bits(*k.MaxBudget))
		}
		return fmt.Sprintf("%q %q %q %q %q %#v %#v %s %s %s %s", k.TeamID, k.UserID, k.OrganizationID, k.CreatedBy, k.BudgetDuration,
			k.Models, k.AllowedRoutes, lim(k.TPMLimit), lim(k.RPMLimit), lim(k.MaxParallelRequests), b)
	}
	for _, mask := range []uint64{math.MaxUint64, 7} {
		in := newInterner()
		byRef := map[string]*keyShape{}
		for range 3000 {
			k := &events.Key{TeamID: pick("", "t1", "t2"), UserID: pick("", "u"), OrganizationID: pick("", "o"), CreatedBy: pick("", "c"),
				BudgetDuration: pick("", "1d"), Models: list(), AllowedRoutes: list(), TPMLimit: limit(), RPMLimit: limit(),
				MaxParallelRequests: limit()}
			if rng.IntN(3) == 0 {
				f := []float64{0, math.Copysign(0, -1), 1}[rng.IntN(3)]
				k.MaxBudget = &f
			}
			r := ref(k)
			sh := in.shapeOf(k, in.shapeHash(k)&mask)
			if want, ok := byRef[r]; ok && sh != want {
				t.Fatalf("mask %x: %s: a second shape for equal fields", mask, r)
			}
			byRef[r] = sh
		}
		seen := map[*keyShape]bool{}
		for r, sh := range byRef {
			if seen[sh] {
				t.Fatalf("mask %x: %s: shares a shape with different fields", mask, r)
			}
			seen[sh] = true
		}
		if len(byRef) < 100 {
			t.Fatalf("only %d distinct shapes: the test draws too few", len(byRef))
		}
	}
}
