// Package cow owns the copy-on-write map the request path reads without a
// lock: per-deployment balancer state, per-route and per-provider metric
// handles. Reads are an atomic load and a map index; the first use of a
// key copies the map under a mutex, which is rare because keys are few
// and live as long as the process.
package cow

import (
	"sync"
	"sync/atomic"
)

// Map is a copy-on-write map from K to V. The zero Map is empty and ready
// to use. Entries are never removed.
type Map[K comparable, V any] struct {
	mu sync.Mutex // serialises adds
	p  atomic.Pointer[map[K]V]
}

// Load returns the value for k, without locking.
func (m *Map[K, V]) Load(k K) (v V, ok bool) {
	if p := m.p.Load(); p != nil {
		v, ok = (*p)[k]
	}
	return v, ok
}

// Add returns the value for k, storing newV() first if there is none:
// the slow path after Load missed (Load is inlined into the request path;
// a Load-or-add in one call would not be). newV runs at most once per
// key, under the mutex.
func (m *Map[K, V]) Add(k K, newV func() V) V {
	m.mu.Lock()
	defer m.mu.Unlock()
	var cur map[K]V
	if p := m.p.Load(); p != nil {
		cur = *p
	}
	if v, ok := cur[k]; ok {
		return v
	}
	next := make(map[K]V, len(cur)+1)
	for key, v := range cur {
		next[key] = v
	}
	v := newV()
	next[k] = v
	m.p.Store(&next)
	return v
}
