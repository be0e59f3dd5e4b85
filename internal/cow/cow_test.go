package cow

import (
	"sync"
	"testing"
)

func TestMap(t *testing.T) {
	var m Map[string, *int]
	if _, ok := m.Load("a"); ok {
		t.Fatal("zero Map has a value")
	}
	calls := 0
	newV := func() *int { calls++; n := calls; return &n }
	a := m.Add("a", newV)
	if got := m.Add("a", newV); got != a || calls != 1 {
		t.Fatalf("second Add: %p (want %p), newV ran %d times", got, a, calls)
	}
	b := m.Add("b", newV)
	if v, ok := m.Load("a"); !ok || v != a {
		t.Fatal("adding b lost a")
	}
	if v, ok := m.Load("b"); !ok || v != b || *b != 2 {
		t.Fatalf("b = %v %v", v, ok)
	}
}

// TestMapConcurrent: racing first uses of a key agree on one value.
func TestMapConcurrent(t *testing.T) {
	var m Map[int, *int]
	var wg sync.WaitGroup
	got := make([][]*int, 8)
	for g := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 50 {
				got[g] = append(got[g], m.Add(k, func() *int { return new(int) }))
			}
		}()
	}
	wg.Wait()
	for g := range got {
		for k, v := range got[g] {
			if v != got[0][k] {
				t.Fatalf("goroutine %d key %d: %p, goroutine 0: %p", g, k, v, got[0][k])
			}
		}
	}
}

func TestLoadAllocs(t *testing.T) {
	var m Map[string, *int]
	m.Add("route", func() *int { return new(int) })
	if n := testing.AllocsPerRun(100, func() { m.Load("route") }); n != 0 {
		t.Fatalf("%v allocs on a hit, want 0", n)
	}
}
