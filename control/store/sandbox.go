package store

import (
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
)

// Sandbox is an in-memory policy a Store can write to instead of the
// stream: the admin API's handlers and the config sync run unchanged
// against it, and the events they would have published are applied to a
// copy of the snapshot and kept, never published. It is what a policy dry
// run proposes.
type Sandbox struct {
	mu     sync.Mutex
	b      *policy.Builder
	snap   *policy.Snapshot
	seq    uint64
	events []events.Change
}

// NewSandbox starts a sandbox from a snapshot (which it does not change).
func NewSandbox(base *policy.Snapshot) *Sandbox {
	return &Sandbox{b: base.Edit(nil), snap: base, seq: base.Seq()}
}

// DryRun is a Store that reads and writes sb and nothing else: no stream,
// no edges, no publisher.
func DryRun(sb *Sandbox, clock func() time.Time) *Store {
	return &Store{Sandbox: sb, Clock: clock}
}

// Snapshot is the sandbox's policy with every change applied so far.
func (sb *Sandbox) Snapshot() *policy.Snapshot {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.snap
}

// Changes are the events the sandbox received, in order.
func (sb *Sandbox) Changes() []events.Change {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return append([]events.Change(nil), sb.events...)
}

func (sb *Sandbox) get(kind events.Kind, id string) (any, uint64) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.snap.Object(kind, id), sb.seq
}

// apply takes one change as the stream would (a new sequence) and builds
// the next snapshot from it.
func (sb *Sandbox) apply(c events.Change) (events.Published, error) {
	ti, ok := events.Lookup(c.Type)
	if !ok {
		return events.Published{}, events.ErrUnknownType
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.seq++
	ev := events.Event{Envelope: events.Envelope{ID: c.ID, Type: c.Type, Actor: c.Actor}, Seq: sb.seq, Info: ti, Object: c.Object}
	if err := sb.b.Apply(ev); err != nil {
		sb.seq--
		return events.Published{}, err
	}
	sb.snap = sb.b.Snapshot()
	sb.events = append(sb.events, c)
	return events.Published{ID: c.ID, Subject: events.Subject(ti.Kind, events.ObjectID(c.Object)), Seq: sb.seq}, nil
}
