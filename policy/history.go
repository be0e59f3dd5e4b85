package policy

import (
	"context"
	"reflect"
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

// Object returns the object of a kind and id as the snapshot holds it (nil
// when it has none): what the stream's last message on its subject says,
// for a store that reads from a snapshot instead of the stream (a dry run).
func (s *Snapshot) Object(kind events.Kind, id string) any {
	var o any
	switch kind {
	case events.KindKey:
		o = s.KeyByToken(id)
	case events.KindTeam:
		o = s.teams[id]
	case events.KindUser:
		o = s.users[id]
	case events.KindOrg:
		o = s.orgs[id]
	case events.KindAccessGroup:
		o = s.groups[id]
	case events.KindModel:
		o = s.models[id]
	case events.KindCustomer:
		o = s.customers[id]
	case events.KindJWTSettings:
		o = s.jwt
	case events.KindRouterSettings:
		o = s.routingSettings
	case events.KindLiteLLMSettings:
		o = s.litellm
	}
	if isNil(o) {
		return nil
	}
	return o
}

// isNil sees through a typed nil pointer in an interface.
func isNil(o any) bool {
	if o == nil {
		return true
	}
	v := reflect.ValueOf(o)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
