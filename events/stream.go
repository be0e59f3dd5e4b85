package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamOptions tune the streams; the zero value is a single-node setup.
type StreamOptions struct {
	// Replicas of each stream (1, or 3 on a JetStream cluster). 0 keeps
	// an existing stream's replicas and creates a missing one with 1, so a
	// process started without the setting never scales a cluster down.
	Replicas int
	// AuditMaxAge bounds how long the audit stream keeps events; 0 keeps them
	// forever.
	AuditMaxAge time.Duration
	// NoAudit skips the audit stream.
	NoAudit bool
}

// PolicyStreamConfig is the configuration of the source-of-truth stream.
func PolicyStreamConfig(o StreamOptions) jetstream.StreamConfig {
	c := streamConfig(PolicyStream, "gatehouse policy: current state of every model, key, team, user, org and access group", PolicySubjects, o)
	// Events carry full state, so the last one per subject is the
	// object: replay cost is bounded by the number of objects.
	c.MaxMsgsPerSubject = 1
	// Window for Nats-Msg-Id dedupe of retried publishes.
	c.Duplicates = 2 * time.Minute
	c.DenyDelete, c.DenyPurge, c.AllowDirect = true, true, true
	return c
}

// streamConfig is what every stream on subjects shares: file storage, at
// least one replica (ensure sets the number), limits retention, the
// oldest messages discarded at a limit. Each stream adds its own limits.
func streamConfig(name, description, subjects string, o StreamOptions) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        name,
		Description: description,
		Subjects:    []string{subjects},
		Storage:     jetstream.FileStorage,
		Replicas:    max(o.Replicas, 1),
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
	}
}

// AuditStreamConfig sources every policy event and keeps history.
func AuditStreamConfig(o StreamOptions) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        AuditStream,
		Description: "gatehouse audit trail: every policy event, in order",
		Storage:     jetstream.FileStorage,
		Replicas:    max(o.Replicas, 1),
		MaxAge:      o.AuditMaxAge,
		Sources:     []*jetstream.StreamSource{{Name: PolicyStream}},
		DenyDelete:  true,
	}
}

// EnsureStreams creates the streams or updates them to the wanted config. It
// is safe to call from every control replica at start.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, o StreamOptions) (jetstream.Stream, error) {
	s, err := ensure(ctx, js, PolicyStreamConfig(o), o.Replicas)
	if err != nil {
		return nil, err
	}
	if !o.NoAudit {
		if _, err := ensure(ctx, js, AuditStreamConfig(o), o.Replicas); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func ensure(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig, want int) (jetstream.Stream, error) {
	cur, err := js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		cfg.Replicas = max(want, 1)
		s, err := js.CreateStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Another replica created it meanwhile: converge on its config.
			return ensure(ctx, js, cfg, want)
		}
		if err != nil {
			return nil, ReplicasError(cfg.Name, 0, cfg.Replicas, err)
		}
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("events: stream %s: %w", cfg.Name, err)
	}
	have := cur.CachedInfo().Config.Replicas
	cfg.Replicas = have
	if want > 0 {
		cfg.Replicas = want
	}
	s, err := js.UpdateStream(ctx, cfg)
	if err != nil {
		return nil, ReplicasError(cfg.Name, have, cfg.Replicas, err)
	}
	return s, nil
}

// placementErrors are the server's answers to replicas it cannot place.
var placementErrors = map[jetstream.ErrorCode]bool{
	10074: true, // replicas > 1 not supported in non-clustered mode
	10005: true, // no suitable peers for placement
	10023: true, // insufficient resources
}

// ReplicasError explains a failed create or update of a stream (or KV
// bucket) that has have replicas (0: new) and was asked for want; a replica count the
// servers cannot hold is the common case after moving between a single
// server and a cluster, and the server's own message does not say which
// setting to change.
func ReplicasError(name string, have, want int, err error) error {
	var apiErr *jetstream.APIError
	if want > 1 && errors.As(err, &apiErr) && placementErrors[apiErr.ErrorCode] {
		return fmt.Errorf("events: stream %s: %d replicas requested (stream has %d) but the JetStream servers cannot place them; "+
			"use --replicas 1 (or STREAM_REPLICAS=1) on a single server, at most the number of cluster nodes otherwise: %w", name, want, have, err)
	}
	if have != 0 && have != want {
		return fmt.Errorf("events: stream %s: changing replicas %d -> %d: %w", name, have, want, err)
	}
	return fmt.Errorf("events: stream %s: %w", name, err)
}
