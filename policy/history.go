package policy

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
)

// Past is the policy as it was at a point in the past, rebuilt from the
// audit trail by the same Builder the edges run.
type Past struct {
	Snapshot *Snapshot
	// Time is when the last event applied was made (zero when the point
	// is before the first event).
	Time time.Time
	// Bounds describe the audit trail the state was rebuilt from.
	Bounds events.AuditBounds
}

// At rebuilds the snapshot as of stop: every event up to policy sequence
// stop.Seq (or stored at or before stop.Time) applied in order.
func At(ctx context.Context, js jetstream.JetStream, env Env, stop events.AuditStop) (Past, error) {
	b := Empty(env).Edit(env)
	var last time.Time
	bounds, err := events.ReplayAudit(ctx, js, stop, func(ev events.Event) error {
		last = ev.Time
		return b.Apply(ev)
	})
	if err != nil {
		return Past{Bounds: bounds}, err
	}
	return Past{Snapshot: b.Snapshot(), Time: last, Bounds: bounds}, nil
}
