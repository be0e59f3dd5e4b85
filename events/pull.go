package events

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/internal/backoff"
)

// Pull is how a durable pull consumer is read (the spend sink, the
// processors' subscriber): one iterator at a time, drained on shutdown so
// the messages it already pulled still reach the handler (which naks
// them: another replica gets them at once rather than after AckWait), and
// recreated when the server lost the consumer.
type Pull struct {
	// Batch bounds the messages one pull asks for.
	Batch int
	// DrainWait bounds a drain that cannot finish (NATS down): what it
	// still held comes back after AckWait.
	DrainWait time.Duration
	// Recreate makes the consumer again after the server lost it.
	Recreate func(ctx context.Context) (jetstream.Consumer, error)
	// Log takes a warning for a failed pull or a lost consumer.
	Log *slog.Logger
}

// Run reads cons until ctx ends (and the drain is over), handing every
// message to handle.
func (p Pull) Run(ctx context.Context, cons jetstream.Consumer, handle func(jetstream.Msg)) {
	// nextCtx ends DrainWait after ctx: a Next blocked on a drain that
	// cannot complete gives up then.
	nextCtx, cancelNext := context.WithCancel(context.Background())
	defer cancelNext()
	stopNext := context.AfterFunc(ctx, func() { time.AfterFunc(p.DrainWait, cancelNext) })
	defer stopNext()
	for ctx.Err() == nil {
		it, err := cons.Messages(jetstream.PullMaxMessages(p.Batch), jetstream.PullExpiry(10*time.Second))
		if err != nil {
			p.Log.Warn("pull", "err", err)
			_ = backoff.Sleep(ctx, time.Second)
			continue
		}
		stop := context.AfterFunc(ctx, it.Drain)
		gone := false
		for {
			m, err := it.Next(jetstream.NextContext(nextCtx))
			if err != nil {
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					break
				}
				if nextCtx.Err() != nil {
					it.Stop()
					break
				}
				if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) ||
					errors.Is(err, jetstream.ErrBadRequest) {
					p.Log.Warn("consumer gone; recreating", "err", err)
					gone = true
					it.Stop()
					break
				}
				p.Log.Debug("pull", "err", err)
				continue
			}
			handle(m)
		}
		stop()
		if gone && ctx.Err() == nil {
			if c, err := p.Recreate(ctx); err == nil {
				cons = c
			} else {
				_ = backoff.Sleep(ctx, time.Second)
			}
		}
	}
}
