// Package backoff owns how gatehouse paces a retry: every loop that waits
// between attempts (the policy follower, the spend sink, the control
// store, the JWKS fetch, test helpers) takes its delays from here.
//
// It guarantees that a wait never outlives its context (Wait and Sleep
// return as soon as ctx ends), that delays grow by Factor from Initial and
// never exceed Max, and that with Jitter j each delay is drawn uniformly
// from [d·(1−j), d], so processes retrying the same server spread out
// instead of arriving together. A Backoff is a value: starting one does
// not allocate.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy describes a delay sequence. The zero Policy waits 100ms, doubling
// up to 5s, without jitter.
type Policy struct {
	// Initial is the first delay (default 100ms).
	Initial time.Duration
	// Max caps every delay (default 5s; at least Initial).
	Max time.Duration
	// Factor multiplies the delay after each attempt (default 2; 1 keeps
	// it constant).
	Factor float64
	// Jitter, in [0,1], is the fraction of a delay that may be taken off
	// at random (0: none).
	Jitter float64
}

// Defaults of the zero Policy.
const (
	DefaultInitial = 100 * time.Millisecond
	DefaultMax     = 5 * time.Second
	DefaultFactor  = 2
)

// Backoff is one retry sequence of a Policy. Its zero value is not ready:
// start one with Policy.Start.
type Backoff struct {
	p    Policy
	next time.Duration
	n    int
}

// Start returns a sequence at its first delay, with p's unset fields at
// their defaults.
func (p Policy) Start() Backoff {
	if p.Initial <= 0 {
		p.Initial = DefaultInitial
	}
	if p.Max <= 0 {
		p.Max = DefaultMax
	}
	p.Max = max(p.Max, p.Initial)
	if p.Factor < 1 {
		p.Factor = DefaultFactor
	}
	p.Jitter = min(max(p.Jitter, 0), 1)
	return Backoff{p: p, next: p.Initial}
}

// Next returns the delay to wait before the next attempt and advances the
// sequence.
func (b *Backoff) Next() time.Duration {
	d := b.next
	b.n++
	grown := time.Duration(float64(b.next) * b.p.Factor)
	if grown < b.next || grown > b.p.Max { // overflow or past the cap
		grown = b.p.Max
	}
	b.next = grown
	return Jitter(d, b.p.Jitter)
}

// Jitter returns d less a random part of at most frac·d (frac clamped to
// [0,1]): a delay drawn uniformly from [d·(1−frac), d].
func Jitter(d time.Duration, frac float64) time.Duration {
	frac = min(max(frac, 0), 1)
	if frac == 0 || d <= 0 {
		return d
	}
	return d - time.Duration(frac*rand.Float64()*float64(d))
}

// Peek returns the delay Next would return before jitter, without
// advancing.
func (b *Backoff) Peek() time.Duration { return b.next }

// Attempts is how many delays Next has handed out since Start or Reset.
func (b *Backoff) Attempts() int { return b.n }

// Reset returns the sequence to its first delay, after progress.
func (b *Backoff) Reset() {
	b.next = b.p.Initial
	b.n = 0
}

// Wait sleeps the next delay; it returns ctx.Err() if ctx ends first and
// nil otherwise.
func (b *Backoff) Wait(ctx context.Context) error {
	return Sleep(ctx, b.Next())
}

// Sleep waits d or until ctx ends, whichever is first; it returns
// ctx.Err() when ctx ended (even if d was zero) and nil otherwise.
func Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Retry calls f until it returns nil, until retryable (nil: every error)
// says an error is final, or until ctx ends, waiting the Policy's delays
// between attempts. It returns f's last error, or ctx.Err() if ctx ended
// before f succeeded. onRetry, if set, sees each failure and the delay
// about to be waited (for logging).
func Retry(ctx context.Context, p Policy, f func(context.Context) error, retryable func(error) bool, onRetry func(err error, attempt int, wait time.Duration)) error {
	b := p.Start()
	for {
		err := f(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if retryable != nil && !retryable(err) {
			return err
		}
		d := b.Next()
		if onRetry != nil {
			onRetry(err, b.Attempts(), d)
		}
		if Sleep(ctx, d) != nil {
			return ctx.Err()
		}
	}
}
