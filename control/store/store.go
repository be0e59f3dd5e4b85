// Package store is the control plane's write path and read model. Writes are
// read-modify-write cycles against the stream itself: read the object's last
// event straight from JetStream, compute the next state, publish it with the
// expected last subject sequence. A concurrent writer makes the publish fail
// with events.ErrConflict and the cycle re-runs on fresh state, so patches to
// one object are serialised and none is lost. Reads come from a policy.Live
// projection, the same code the edges run.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/control/edges"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/backoff"
	"github.com/gatehouse/gatehouse/policy"
)

// maxAttempts bounds conflict retries of one write. Every round of racing
// writers has a winner, so n concurrent writers need at most n attempts;
// jittered backoff spreads them out.
const maxAttempts = 24

// Store is the control plane's access to the policy stream.
type Store struct {
	Stream jetstream.Stream
	Pub    *events.Publisher
	Live   *policy.Live
	Edges  *edges.Tracker
	Log    *slog.Logger
	// SyncTimeout bounds how long a write waits for live edges to apply it.
	SyncTimeout time.Duration
	// Clock is the time source; nil means time.Now.
	Clock func() time.Time
	// FailoverWindow is how long a read or publish keeps retrying while
	// the stream has no leader (a JetStream node was lost and the others
	// are electing one: raft election timeouts are 4-9s, and a lost node
	// may have led the meta group too); default 30s.
	FailoverWindow time.Duration
	// Sandbox, when set, replaces the stream: a dry run (see DryRun).
	Sandbox *Sandbox
}

func (s *Store) failoverWindow() time.Duration {
	if s.FailoverWindow > 0 {
		return s.FailoverWindow
	}
	return 30 * time.Second
}

// transient reports errors that a leader election or a reconnect produce
// and that a retry after it resolves; anything else (a conflict, a
// malformed event) is an answer, not an outage.
func transient(err error) bool {
	if errors.Is(err, events.ErrConflict) || errors.Is(err, events.ErrMalformed) || errors.Is(err, events.ErrUnknownType) {
		return false
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		// 503 (no leader, cluster not available) and 500 (stream
		// catching up) come and go with elections; 4xx are answers.
		return apiErr.Code >= 500
	}
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrDisconnected) ||
		errors.Is(err, nats.ErrConnectionReconnecting)
}

// retry runs try with a per-try timeout until it succeeds, fails with a
// non-transient error, or the failover window (or ctx) ends. The per-try
// timeout is short because a request sent while the connection was down
// is usually lost, and waiting it out is the retry's latency.
func (s *Store) retry(ctx context.Context, try func(ctx context.Context) error) error {
	deadline := time.Now().Add(s.failoverWindow())
	b := backoff.Policy{Initial: 50 * time.Millisecond, Max: time.Second}.Start()
	for {
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := try(tctx)
		cancel()
		if err == nil || !transient(err) || ctx.Err() != nil || time.Now().Add(b.Peek()).After(deadline) {
			return err
		}
		if backoff.Sleep(ctx, b.Next()) != nil {
			return err
		}
	}
}

// Snapshot is the read model.
func (s *Store) Snapshot() *policy.Snapshot {
	if s.Sandbox != nil {
		return s.Sandbox.Snapshot()
	}
	return s.Live.Load()
}

// Now is the store's clock, in UTC.
func (s *Store) Now() time.Time {
	if s.Clock != nil {
		return s.Clock().UTC()
	}
	return time.Now().UTC()
}

// Get reads one object's authoritative state. obj is nil when it does not
// exist (never created, or deleted).
func (s *Store) Get(ctx context.Context, kind events.Kind, id string) (obj any, seq uint64, err error) {
	if s.Sandbox != nil {
		obj, seq = s.Sandbox.get(kind, id)
		return obj, seq, nil
	}
	var cur events.Current
	err = s.retry(ctx, func(ctx context.Context) (err error) {
		cur, err = events.Get(ctx, s.Stream, kind, id)
		return err
	})
	if err != nil {
		return nil, 0, apierror.Unavailable.Wrap(err, "policy store unavailable")
	}
	if !cur.Exists {
		return nil, cur.Seq, nil
	}
	return cur.Event.Object, cur.Seq, nil
}

// Op decides a change from the current object (nil if absent). It returns
// the event type and the new object (or *events.Tombstone), or nil type to
// write nothing. It must not mutate cur, and may run more than once.
type Op func(cur any) (typ string, next any, err error)

// Result is one committed write.
type Result struct {
	Seq    uint64
	Object any
	// Lagging lists edges that had not applied the write when SyncTimeout
	// ran out.
	Lagging []string
	// Noop is set when the op decided nothing needed writing.
	Noop bool
}

// Mutate runs op against the object's current state and commits the result,
// re-reading and re-running op when another writer got there first.
func (s *Store) Mutate(ctx context.Context, actor string, kind events.Kind, id string, op Op) (Result, error) {
	id0 := events.NewID()
	for attempt := 1; ; attempt++ {
		cur, seq, err := s.Get(ctx, kind, id)
		if err != nil {
			return Result{}, err
		}
		typ, next, err := op(cur)
		if err != nil {
			return Result{}, err
		}
		if typ == "" {
			return Result{Object: cur, Noop: true, Seq: seq}, nil
		}
		// Same id across retries of the same computed change is wrong (the
		// change differs); a fresh id per attempt, reused only for the
		// transport-level retry inside one attempt.
		evID := fmt.Sprintf("%s-%d", id0, attempt)
		pub, err := s.publish(ctx, events.Change{ID: evID, Type: typ, Actor: actor, Object: next, ExpectSeq: &seq})
		if errors.Is(err, events.ErrConflict) && attempt < maxAttempts {
			// Up to attempt ms, all of it jitter: writers that collided
			// should not collide again.
			if err := backoff.Sleep(ctx, backoff.Jitter(time.Duration(attempt)*time.Millisecond, 1)); err != nil {
				return Result{}, err
			}
			continue
		}
		if errors.Is(err, events.ErrConflict) {
			return Result{}, apierror.Conflict.With("%s %q is being changed concurrently; retry", kind, id)
		}
		if err != nil {
			return Result{}, err
		}
		return s.settle(ctx, pub.Seq, next), nil
	}
}

// publish retries transport failures with the same event id, so a publish
// whose ack was lost (the leader died after storing it) is deduplicated by
// the stream instead of applied twice.
func (s *Store) publish(ctx context.Context, c events.Change) (events.Published, error) {
	if s.Sandbox != nil {
		return s.Sandbox.apply(c)
	}
	var pub events.Published
	err := s.retry(ctx, func(ctx context.Context) (err error) {
		pub, err = s.Pub.Publish(ctx, c)
		return err
	})
	if err == nil && pub.AuditLagged && s.Log != nil {
		s.Log.Warn("audit stream had not recorded the replaced event in time; the audit trail may miss it", "subject", pub.Subject, "replaced_seq", *c.ExpectSeq)
	}
	if err == nil || errors.Is(err, events.ErrConflict) {
		return pub, err
	}
	return events.Published{}, apierror.Unavailable.Wrap(err, "could not commit the change to the policy stream; nothing was applied")
}

// settle waits until this replica's read model and every live edge have
// applied seq, so the caller's next request, here or at any edge, sees it.
func (s *Store) settle(ctx context.Context, seq uint64, obj any) Result {
	res := Result{Seq: seq, Object: obj}
	if s.Sandbox != nil {
		return res // nothing was published: nobody to wait for
	}
	timeout := s.SyncTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := s.Live.WaitSeq(wctx, seq); err != nil && s.Log != nil {
		s.Log.Warn("read model did not reach committed sequence in time", "seq", seq)
	}
	if s.Edges != nil {
		res.Lagging = s.Edges.Wait(wctx, seq)
		if len(res.Lagging) > 0 && s.Log != nil {
			s.Log.Warn("edges had not applied a committed change within the sync timeout", "seq", seq, "edges", res.Lagging)
		}
	}
	return res
}

// Put publishes an object without reading it first, skipping the write when
// the stored state already equals it (equal reports that). It is for
// idempotent syncs such as config models at start.
func (s *Store) Put(ctx context.Context, actor string, obj any, equal func(cur any) bool) (Result, error) {
	kind := events.KindOf(obj)
	return s.Mutate(ctx, actor, kind, events.ObjectID(obj), func(cur any) (string, any, error) {
		if cur != nil && equal != nil && equal(cur) {
			return "", nil, nil
		}
		return events.TypeFor(kind, events.ActionUpserted), obj, nil
	})
}

// Delete writes a tombstone for an object if it exists.
func (s *Store) Delete(ctx context.Context, actor string, kind events.Kind, id string) (Result, bool, error) {
	existed := false
	res, err := s.Mutate(ctx, actor, kind, id, func(cur any) (string, any, error) {
		existed = cur != nil
		if cur == nil {
			return "", nil, nil
		}
		return events.TypeFor(kind, events.ActionDeleted), &events.Tombstone{ID: id}, nil
	})
	return res, existed, err
}
