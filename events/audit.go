package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// HeaderStreamSource is the header nats-server puts on every message a
// stream sourced from another: "<origin stream> <origin seq> <filter>
// <transform> <subject>" (older servers: the origin's ack reply subject).
// The audit stream numbers its messages itself, so this header is the only
// link from an audit entry back to the PolicyStream sequence that edges
// report (x-gatehouse-policy-seq) and spend rows store.
const HeaderStreamSource = "Nats-Stream-Source"

// ErrNoAudit means the audit stream does not exist (NoAudit) or is empty.
var ErrNoAudit = errors.New("events: no audit trail")

// ErrAuditIncomplete means the audit stream no longer starts at the first
// policy event (AuditMaxAge dropped the oldest ones), so no past state can
// be rebuilt exactly from it.
var ErrAuditIncomplete = errors.New("events: audit trail incomplete")

// OriginSeq reads the PolicyStream sequence of a sourced audit message from
// its Nats-Stream-Source header; ok is false when the header is missing or
// names another stream.
func OriginSeq(h nats.Header) (seq uint64, ok bool) {
	v := h.Get(HeaderStreamSource)
	if v == "" {
		return 0, false
	}
	if rest, isAck := strings.CutPrefix(v, "$JS.ACK."); isAck {
		// $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>... (v1), or with
		// <domain>.<account hash> in front (v2).
		t := strings.Split(rest, ".")
		off := 0
		if len(t) >= 9 {
			off = 2
		}
		if len(t) < off+5 || t[off] != PolicyStream {
			return 0, false
		}
		n, err := strconv.ParseUint(t[off+3], 10, 64)
		return n, err == nil
	}
	f := strings.Fields(v)
	if len(f) < 2 || f[0] != PolicyStream {
		return 0, false
	}
	n, err := strconv.ParseUint(f[1], 10, 64)
	return n, err == nil
}

// AuditStop says where a replay of the audit trail ends: it delivers the
// events up to and including policy sequence Seq (0: no bound), made at or
// before Time (zero: no bound; the envelope's time, i.e. when the control
// plane made the change, not when the audit sourced it).
type AuditStop struct {
	Seq  uint64
	Time time.Time
}

// AuditBounds describe the audit trail at the start of a replay.
type AuditBounds struct {
	// FirstSeq and LastSeq are policy sequences, FirstTime and LastTime
	// the times of those changes.
	FirstSeq, LastSeq   uint64
	FirstTime, LastTime time.Time
	// Missing lists the policy sequences up to the replay's stop that the
	// audit does not hold (each [from, to]): events overwritten in the
	// policy stream before the audit sourced them. The state of an object
	// is wrong only if its last change before the point is among them.
	Missing [][2]uint64
}

// ReplayAudit delivers the policy events of the audit trail in order, each
// with its policy sequence in Seq, until stop (or the end of the trail as
// it was when the replay started). It uses one ordered consumer: the
// events flow, nothing is fetched one by one.
func ReplayAudit(ctx context.Context, js jetstream.JetStream, stop AuditStop, apply func(ev Event) error) (AuditBounds, error) {
	stream, b, lastAudit, err := auditRange(ctx, js)
	if err != nil {
		return b, err
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return b, fmt.Errorf("events: consumer on %s: %w", AuditStream, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return b, fmt.Errorf("events: messages: %w", err)
	}
	defer it.Stop()
	stopIt := context.AfterFunc(ctx, it.Stop)
	defer stopIt()
	next := uint64(1)
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return b, ctx.Err()
			}
			return b, fmt.Errorf("events: next on %s: %w", AuditStream, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return b, fmt.Errorf("events: %s metadata: %w", AuditStream, err)
		}
		seq, ok := OriginSeq(msg.Headers())
		if !ok {
			return b, fmt.Errorf("events: %s message %d has no %s header naming %s", AuditStream, md.Sequence.Stream, HeaderStreamSource, PolicyStream)
		}
		if stop.Seq != 0 && seq > stop.Seq {
			b.missing(next, stop.Seq)
			return b, nil
		}
		ev, err := Decode(msg.Data())
		if err != nil {
			return b, fmt.Errorf("events: audit entry for policy sequence %d: %w", seq, err)
		}
		if !stop.Time.IsZero() && ev.Time.After(stop.Time) {
			return b, nil
		}
		b.missing(next, seq-1)
		next = max(next, seq+1)
		ev.Seq, ev.Subject = seq, msg.Subject()
		if err := apply(ev); err != nil {
			return b, err
		}
		if md.Sequence.Stream >= lastAudit {
			if stop.Seq > seq {
				b.missing(next, stop.Seq)
			}
			return b, nil
		}
	}
}

func (b *AuditBounds) missing(from, to uint64) {
	if from <= to {
		b.Missing = append(b.Missing, [2]uint64{from, to})
	}
}

// Audit describes the audit trail: its first and last policy sequences and
// when they were made. The errors are ErrNoAudit and ErrAuditIncomplete
// (with the bounds), or a transport error.
func Audit(ctx context.Context, js jetstream.JetStream) (AuditBounds, error) {
	_, b, _, err := auditRange(ctx, js)
	return b, err
}

func auditRange(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, AuditBounds, uint64, error) {
	var b AuditBounds
	stream, err := js.Stream(ctx, AuditStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, b, 0, fmt.Errorf("%w: stream %s does not exist (control plane started without it)", ErrNoAudit, AuditStream)
	}
	if err != nil {
		return nil, b, 0, fmt.Errorf("events: open %s: %w", AuditStream, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, b, 0, fmt.Errorf("events: info %s: %w", AuditStream, err)
	}
	if info.State.Msgs == 0 {
		return nil, b, 0, fmt.Errorf("%w: no policy event was recorded yet", ErrNoAudit)
	}
	for _, end := range []struct {
		seq  uint64
		pseq *uint64
		t    *time.Time
	}{{info.State.FirstSeq, &b.FirstSeq, &b.FirstTime}, {info.State.LastSeq, &b.LastSeq, &b.LastTime}} {
		m, err := stream.GetMsg(ctx, end.seq)
		if err != nil {
			return nil, b, 0, fmt.Errorf("events: read %s message %d: %w", AuditStream, end.seq, err)
		}
		*end.pseq, _ = OriginSeq(m.Header)
		*end.t = m.Time.UTC()
		if ev, err := Decode(m.Data); err == nil && !ev.Time.IsZero() {
			*end.t = ev.Time.UTC()
		}
	}
	if b.FirstSeq != 1 && info.Config.MaxAge > 0 {
		return nil, b, 0, fmt.Errorf("%w: it starts at policy sequence %d (%s), the events before are past the audit's max age (%s)",
			ErrAuditIncomplete, b.FirstSeq, b.FirstTime.Format(time.RFC3339), info.Config.MaxAge)
	}
	return stream, b, info.State.LastSeq, nil
}
