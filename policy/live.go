package policy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/backoff"
)

// publishEvery bounds how many events a live (already caught-up) follower
// applies before publishing a snapshot during a burst, so one large burst
// does not hold back every change in it.
const publishEvery = 4096

// Live keeps a Snapshot current by following the policy stream. One
// goroutine (Run) applies events; any number of readers call Load.
//
// Before the first catch-up Ready is false and callers must fail closed. If
// an event cannot be applied (unknown type from a newer control plane,
// corrupt data) Live stops advancing, reports it through Stalled, and stays
// not ready: serving on with a state that silently skipped a revocation would
// be a security hole.
type Live struct {
	JS  jetstream.JetStream
	Env Env
	Log *slog.Logger
	// Keys is what the state keeps per key when it starts empty (a Seed
	// decides for the snapshot it returns); edges keep CompactKeys.
	Keys KeyRecords
	// OnPublish is called (on the applier goroutine) after each snapshot is
	// published; edges use it to report their sequence.
	OnPublish func(s *Snapshot)
	// Seed, if set, gives the state to start from (a stored snapshot);
	// the stream is then followed from the sequence after it. An error
	// means a full replay.
	Seed func(ctx context.Context) (*Snapshot, error)

	cur     atomic.Pointer[Snapshot]
	ready   atomic.Bool
	stalled atomic.Pointer[string]
	// confirmed is when (unix ns) the published snapshot was last known
	// to hold everything the stream held: the staleness bound's clock.
	confirmed atomic.Int64

	mu      sync.Mutex
	waiters []waiter
}

type waiter struct {
	seq uint64
	ch  chan struct{}
}

// Load returns the current snapshot (never nil once Run started).
func (l *Live) Load() *Snapshot {
	if s := l.cur.Load(); s != nil {
		return s
	}
	return EmptyOf(l.Env, l.Keys)
}

// Ready reports whether the snapshot has caught up with the stream and the
// follower is not stalled.
func (l *Live) Ready() bool { return l.ready.Load() && l.stalled.Load() == nil }

// Stalled returns why the follower stopped, or "".
func (l *Live) Stalled() string {
	if p := l.stalled.Load(); p != nil {
		return *p
	}
	return ""
}

// WaitSeq blocks until the published snapshot has applied seq (or ctx ends).
func (l *Live) WaitSeq(ctx context.Context, seq uint64) error {
	l.mu.Lock()
	if l.Load().Seq() >= seq {
		l.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	l.waiters = append(l.waiters, waiter{seq, ch})
	l.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *Live) publish(s *Snapshot) {
	l.mu.Lock()
	l.cur.Store(s)
	kept := l.waiters[:0]
	for _, w := range l.waiters {
		if s.Seq() >= w.seq {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	l.waiters = kept
	l.mu.Unlock()
	if l.OnPublish != nil {
		l.OnPublish(s)
	}
}

// Run follows the stream until ctx ends or an event stalls the follower.
// Transport errors are retried with backoff, resuming after the last applied
// sequence.
func (l *Live) Run(ctx context.Context) error {
	log := l.Log
	if log == nil {
		log = slog.Default()
	}
	if l.cur.Load() == nil && l.Seed != nil {
		t0 := time.Now()
		if s, err := l.Seed(ctx); err == nil {
			l.cur.Store(s)
			log.Info("policy snapshot loaded", "seq", s.Seq(), "keys", s.NumKeys(), "took", time.Since(t0))
		} else {
			log.Info("no policy snapshot used; replaying the stream", "reason", err)
		}
	}
	if l.cur.Load() == nil {
		l.cur.Store(EmptyOf(l.Env, l.Keys))
	}
	b := l.Load().Edit(l.Env)
	// Jittered: every edge follows the same server and would otherwise
	// reconnect in step after an outage.
	retry := backoff.Policy{Initial: 100 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.2}.Start()
	for {
		since := 0
		f := &events.Follower{
			JS:   l.JS,
			From: b.Seq() + 1,
			Apply: func(ev events.Event, pending uint64) error {
				if err := b.Apply(ev); err != nil {
					return err
				}
				since++
				if pending == 0 || (l.ready.Load() && since >= publishEvery) {
					current := time.Now() // the stream held nothing more
					first := pending == 0 && !l.ready.Load()
					if first {
						releaseMemory()
					}
					l.publish(b.Snapshot())
					since = 0
					if pending == 0 {
						l.confirm(current)
						if first {
							l.ready.Store(true)
							log.Info("policy caught up", "seq", b.Seq(), "keys", l.Load().NumKeys())
						}
					}
				}
				retry.Reset()
				return nil
			},
			CaughtUp: func(last uint64) {
				current := time.Now()
				first := !l.ready.Load()
				if first {
					releaseMemory()
				}
				if since > 0 {
					l.publish(b.Snapshot())
				}
				l.confirm(current)
				if first {
					l.ready.Store(true)
					l.publish(l.Load())
					log.Info("policy caught up", "seq", b.Seq(), "stream_last_seq", last)
				}
			},
		}
		err := f.Run(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var stall *events.StallError
		if errors.As(err, &stall) {
			msg := stall.Error()
			l.stalled.Store(&msg)
			log.Error("policy follower stopped: not applying further events; edge fails closed", "err", err)
			if l.OnPublish != nil {
				l.OnPublish(l.Load())
			}
			return err
		}
		wait := retry.Next()
		log.Warn("policy follower interrupted, retrying", "err", err, "after", wait)
		if err := backoff.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// releaseMemory hands the start-up's garbage back to the OS on the first
// catch-up: replaying a million keys decodes a million envelopes (or a
// snapshot of hundreds of MB), more than the state it leaves, and the
// runtime would otherwise keep those pages for minutes, counted in the
// process's RSS. It runs before the caught-up state is published and the
// follower turns ready, so the edge serves with the RSS of its state (the
// cost is one collection of the state's heap: a fraction of a second at a
// million keys), and a caller that sees that state sees it ready.
func releaseMemory() { debug.FreeOSMemory() }

// ErrStalled is returned by Check when the follower has stopped.
var ErrStalled = errors.New("policy: follower stalled")

// Check returns nil when requests may be authorized from the snapshot.
func (l *Live) Check() error {
	if s := l.Stalled(); s != "" {
		return fmt.Errorf("%w: %s", ErrStalled, s)
	}
	if !l.ready.Load() {
		return errors.New("policy: not caught up with the event stream yet")
	}
	return nil
}

// confirm records that the published snapshot was current at t.
func (l *Live) confirm(t time.Time) {
	n := t.UnixNano()
	for {
		old := l.confirmed.Load()
		if old >= n || l.confirmed.CompareAndSwap(old, n) {
			return
		}
	}
}

// Confirmed returns when the published snapshot was last known to be
// current with the policy stream (zero before the first catch-up).
// Time since then is how stale the edge may be: a change published after
// it may not have been applied.
func (l *Live) Confirmed() time.Time {
	n := l.confirmed.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Confirm asks the stream for its last sequence; if the published
// snapshot has applied it, the snapshot was current when the question was
// asked. A quiet stream delivers nothing, so without this an edge could
// not tell "nothing changed" from "cut off".
func (l *Live) Confirm(ctx context.Context) error {
	t0 := time.Now()
	info, err := events.StreamInfo(ctx, l.JS, events.PolicyStream)
	if err != nil {
		return err
	}
	if !l.Ready() {
		return errors.New("policy: not caught up")
	}
	if seq := l.Load().Seq(); seq < info.State.LastSeq {
		return fmt.Errorf("policy: applied %d of the stream's %d", seq, info.State.LastSeq)
	}
	l.confirm(t0)
	return nil
}

// KeepConfirmed calls Confirm every interval until ctx ends; each check
// is bounded by the interval, so a partition cannot hold one open.
func (l *Live) KeepConfirmed(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cctx, cancel := context.WithTimeout(ctx, every)
			_ = l.Confirm(cctx)
			cancel()
		}
	}
}
