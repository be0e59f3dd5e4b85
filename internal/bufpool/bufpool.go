// Package bufpool recycles the byte buffers hot paths encode into or read
// into (the edge's spend messages, whole upstream answers), so a warm
// process allocates none per request. It owns only that; it guarantees a
// buffer comes back empty, and that a buffer grown past the pool's Max is
// left to the garbage collector rather than kept, so one huge message
// does not pin its memory for the life of the process.
package bufpool

import "sync"

// Pool is a pool of *[]byte. The zero value with Max set is ready to use.
type Pool struct {
	// Max is the largest capacity Put keeps.
	Max int
	p   sync.Pool
}

// Get returns an empty buffer, recycled when one is free.
func (p *Pool) Get() *[]byte {
	if b, ok := p.p.Get().(*[]byte); ok {
		return b
	}
	return new([]byte)
}

// Put gives b back (nil is ignored). The caller must not use it after.
func (p *Pool) Put(b *[]byte) {
	if b == nil || cap(*b) > p.Max {
		return
	}
	*b = (*b)[:0]
	p.p.Put(b)
}
