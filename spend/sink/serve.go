package sink

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/backoff"
	"github.com/gatehouse/gatehouse/schema"
)

// ServeOptions configure a standalone sink process (`gatehouse sink`).
type ServeOptions struct {
	// NATSURL of the JetStream server or cluster (comma-separated).
	NATSURL string
	// JSDomain: see gateway.Options.JSDomain.
	JSDomain string
	// ClickHouse is host:port of the native protocol, or a DSN (see
	// schema.Options).
	ClickHouse string
	// Database (schema.DefaultDatabase if empty).
	Database string
	// Replicas of the spend stream, if the sink has to create it.
	Replicas int
	// BatchSize and FlushInterval: see Options.
	BatchSize     int
	FlushInterval time.Duration
	// RollEvery: see Options.
	RollEvery time.Duration
	Log       *slog.Logger
}

// Serve connects to NATS and ClickHouse (waiting for either while it is
// unreachable), makes sure the spend stream exists, migrates the schema
// and runs the sink until ctx ends.
func Serve(ctx context.Context, o ServeOptions) error {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "clickhouse-sink")
	if o.Database == "" {
		o.Database = schema.DefaultDatabase
	}
	if err := schema.ValidDatabase(o.Database); err != nil {
		return err
	}
	if _, err := schema.Options(o.ClickHouse); err != nil {
		return err
	}
	nc, js, err := events.Connect(o.NATSURL, events.ConnSink, events.WithJSDomain(o.JSDomain))
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	defer nc.Close()
	if err := retry(ctx, log, "spend stream", func(ctx context.Context) error {
		_, err := events.EnsureSpendStream(ctx, js, events.StreamOptions{Replicas: o.Replicas})
		return err
	}); err != nil {
		return err
	}
	var conn driver.Conn
	if err := retry(ctx, log, "ClickHouse "+o.ClickHouse, func(ctx context.Context) error {
		c, err := schema.Open(ctx, o.ClickHouse)
		if err != nil {
			return err
		}
		if err := schema.Migrate(ctx, c, o.Database); err != nil {
			_ = c.Close()
			return err
		}
		conn = c
		return nil
	}); err != nil {
		return err
	}
	defer conn.Close()
	err = Run(ctx, Options{JS: js, CH: conn, Database: o.Database, BatchSize: o.BatchSize,
		FlushInterval: o.FlushInterval, RollEvery: o.RollEvery, Log: o.Log})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// retry runs f (each attempt bounded to 30s) until it succeeds or ctx
// ends, backing off up to 5s and logging each failure.
func retry(ctx context.Context, log *slog.Logger, what string, f func(context.Context) error) error {
	return backoff.Retry(ctx, backoff.Policy{Initial: 250 * time.Millisecond, Max: DefaultMaxBackoff},
		func(ctx context.Context) error {
			actx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			return f(actx)
		}, nil, func(err error, _ int, wait time.Duration) {
			log.Warn("waiting for "+what, "err", err, "retry_in", wait)
		})
}
