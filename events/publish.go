package events

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrConflict means the object changed since it was read: the expected last
// sequence of its subject did not match. The writer must re-read and retry,
// or report a conflict; it must never overwrite blindly.
var ErrConflict = errors.New("events: object changed concurrently")

// Publisher appends events to the policy stream.
type Publisher struct {
	JS jetstream.JetStream
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AuditWait, when > 0, makes a change to an existing object wait (up
	// to AuditWait) until the audit stream has sourced the message it
	// replaces. The policy stream keeps one message per subject and the
	// audit sources it asynchronously, so without the wait two quick
	// changes to one object can drop the first from the audit trail for
	// good (point-in-time state and why depend on every event). When the
	// wait runs out the change is published anyway and Published says so:
	// an audit that lags must not stop revocations.
	AuditWait time.Duration

	audit atomic.Pointer[jetstream.Stream]
}

// Change is one event to publish.
type Change struct {
	Type   string
	Actor  string
	Object any // *Model, *Key, ... or *Tombstone for deletes
	// ExpectSeq is the sequence of the last message on the object's subject
	// that the change was computed from (0: the subject must be empty). Nil
	// skips the check; only idempotent writes (config sync) may do that.
	ExpectSeq *uint64
	// ID is the event id and Nats-Msg-Id; empty means a new random id. A
	// caller that retries the same change must reuse the id so the stream
	// drops the duplicate.
	ID string
}

// Published is what the stream acknowledged.
type Published struct {
	ID      string
	Subject string
	Seq     uint64
	// AuditLagged: the audit had not sourced the replaced message within
	// AuditWait; it may be missing from the audit trail.
	AuditLagged bool
}

// NewID returns a random event id.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Publish appends one change and waits for the stream's ack.
func (p *Publisher) Publish(ctx context.Context, c Change) (Published, error) {
	ti, ok := Lookup(c.Type)
	if !ok {
		return Published{}, fmt.Errorf("%w: %q", ErrUnknownType, c.Type)
	}
	id := ObjectID(c.Object)
	if id == "" {
		return Published{}, fmt.Errorf("events: %s without object id", c.Type)
	}
	if c.ID == "" {
		c.ID = NewID()
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	data, err := json.Marshal(c.Object)
	if err != nil {
		return Published{}, fmt.Errorf("events: encode %s: %w", c.Type, err)
	}
	env, err := json.Marshal(Envelope{ID: c.ID, Type: c.Type, Time: now().UTC(), Actor: c.Actor, Data: data})
	if err != nil {
		return Published{}, fmt.Errorf("events: encode envelope: %w", err)
	}
	subject := Subject(ti.Kind, id)
	lagged := false
	if p.AuditWait > 0 && c.ExpectSeq != nil && *c.ExpectSeq > 0 {
		lagged = !p.waitAudited(ctx, subject, *c.ExpectSeq)
	}
	msg := &nats.Msg{Subject: subject, Data: env, Header: nats.Header{}}
	opts := []jetstream.PublishOpt{jetstream.WithMsgID(c.ID), jetstream.WithExpectStream(PolicyStream)}
	if c.ExpectSeq != nil {
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(*c.ExpectSeq))
	}
	ack, err := p.JS.PublishMsg(ctx, msg, opts...)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return Published{}, fmt.Errorf("%w: %s", ErrConflict, subject)
		}
		return Published{}, fmt.Errorf("events: publish %s: %w", c.Type, err)
	}
	return Published{ID: c.ID, Subject: subject, Seq: ack.Sequence, AuditLagged: lagged}, nil
}

// waitAudited reports whether the audit stream holds policy sequence seq
// of subject, polling until AuditWait runs out. No audit stream counts as
// audited (nothing to lose).
func (p *Publisher) waitAudited(ctx context.Context, subject string, seq uint64) bool {
	s := p.audit.Load()
	if s == nil {
		st, err := p.JS.Stream(ctx, AuditStream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return true
		}
		if err != nil {
			return false
		}
		p.audit.Store(&st)
		s = &st
	}
	deadline := time.Now().Add(p.AuditWait)
	if d, ok := ctx.Deadline(); ok {
		// Leave the publish itself half of the caller's time: a wait that
		// ate it all would turn a lagging audit into a failed write.
		if half := time.Now().Add(time.Until(d) / 2); half.Before(deadline) {
			deadline = half
		}
	}
	wait := time.Millisecond
	for {
		m, err := (*s).GetLastMsgForSubject(ctx, subject)
		if err == nil {
			if got, ok := OriginSeq(m.Header); ok && got >= seq {
				return true
			}
		}
		if time.Now().Add(wait).After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(wait)
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// Current is the last event stored for one object.
type Current struct {
	Event Event
	// Seq is the subject's last sequence (0 when the subject is empty).
	Seq uint64
	// Exists is false when the subject is empty or ends in a tombstone.
	Exists bool
}

// Get reads the authoritative current state of one object straight from the
// stream (not from a projection that may lag), with the sequence to pass as
// ExpectSeq when writing a change computed from it.
func Get(ctx context.Context, s jetstream.Stream, kind Kind, id string) (Current, error) {
	raw, err := s.GetLastMsgForSubject(ctx, Subject(kind, id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Current{}, nil
	}
	if err != nil {
		return Current{}, fmt.Errorf("events: read %s %s: %w", kind, id, err)
	}
	ev, err := Decode(raw.Data)
	if err != nil {
		return Current{Seq: raw.Sequence}, err
	}
	ev.Seq, ev.Subject = raw.Sequence, raw.Subject
	return Current{Event: ev, Seq: raw.Sequence, Exists: ev.Info.Action != ActionDeleted}, nil
}
