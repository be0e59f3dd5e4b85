// Package gcfloor keeps the garbage collector from running on a tiny heap.
//
// Go sets each cycle's heap goal to the live heap times 1+GOGC/100. An
// edge with few keys has a live heap of a few MiB while every request
// allocates a few KiB, so at thousands of requests a second the collector
// runs many times a second, and each cycle scans every goroutine's stack
// (two per client connection). A floor raises GOGC, after each cycle, just
// enough that the next goal is at least Floor bytes; once the live heap is
// large (a million keys), the configured GOGC applies unchanged, so the
// memory of a large edge is what it was. GOGC=off and GOMEMLIMIT keep
// their meaning: with GOGC off the floor does nothing, and the memory
// limit still bounds the heap.
//
// It owns nothing else; it guarantees that it only ever raises GOGC above
// the value the process started with, and restores that value on Stop.
package gcfloor

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// maxPercent bounds the GOGC the floor sets, so a nearly empty heap does
// not ask for an absurd ratio.
const maxPercent = 10000

// Floor adjusts GOGC after every GC cycle until Stop.
type Floor struct {
	floor   uint64
	base    int
	mu      sync.Mutex
	stopped bool
	set     int // the GOGC in force
	samples []metrics.Sample
}

// Start installs a floor of bytes (0 or less: nothing is done and nil is
// returned) over the GOGC the process runs with.
func Start(bytes int64) *Floor {
	if bytes <= 0 {
		return nil
	}
	f := &Floor{floor: uint64(bytes), samples: []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/heap/live:bytes"}}}
	metrics.Read(f.samples[:1])
	f.base = int(f.samples[0].Value.Uint64())
	if f.base <= 0 {
		return nil // GOGC=off: the memory limit decides
	}
	f.set = f.base
	f.adjust()
	f.arm()
	return f
}

// Stop restores the GOGC the process started with.
func (f *Floor) Stop() {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
	debug.SetGCPercent(f.base)
}

// Percent is the GOGC the floor set last (the base when none).
func (f *Floor) Percent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.set
}

// arm runs adjust after the next GC cycle: a cleanup of an unreachable
// object runs once the cycle that found it unreachable has swept.
func (f *Floor) arm() {
	runtime.AddCleanup(new([64]byte), func(f *Floor) {
		if f.adjust() {
			f.arm()
		}
	}, f)
}

// adjust sets GOGC for the live heap the last cycle marked; false once
// stopped.
func (f *Floor) adjust() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return false
	}
	metrics.Read(f.samples[1:])
	p := percentFor(f.samples[1].Value.Uint64(), f.floor, f.base)
	// Small changes are not worth the call; a change back to the base is.
	if p != f.set && (p == f.base || math.Abs(float64(p-f.set)) > float64(f.set)/20) {
		debug.SetGCPercent(p)
		f.set = p
	}
	return true
}

// percentFor is the GOGC that puts the next goal at floor for a live heap
// of live bytes, never below base nor above maxPercent.
func percentFor(live, floor uint64, base int) int {
	if live == 0 {
		return maxPercent
	}
	if live*uint64(100+base)/100 >= floor {
		return base
	}
	p := floor*100/live - 100
	if p > maxPercent {
		return maxPercent
	}
	return max(int(p), base)
}
