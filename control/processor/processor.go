// Package processor runs the control plane's event processors: components
// that consume one JetStream topic and produce effects (the budget
// tracker, the upsert consumer; later the audit and provenance
// projections). It owns the one Watermill message.Router of a control
// process and its middleware, so a new processor is one Handle call:
//
//   - ack only after the handler returned nil;
//   - a transient error (KV or store unavailable, a write conflict) is
//     retried in process with exponential backoff, then the message is
//     nak'ed with a delay and JetStream redelivers it, for as long as it
//     takes: a transient error never drops a message;
//   - an error wrapped with Permanent, or a panic (recoverer), sends the
//     message to the poison queue (events.PoisonStream, counted by
//     gatehouse_processor_poisoned_total) and acks it, so it neither
//     blocks the stream nor disappears; `gatewayctl poison replay` puts it
//     back after the cause is fixed;
//   - the correlation id is the x-request-id the message carries
//     (events.HeaderRequestID), else its Nats-Msg-Id; handlers log it;
//   - Watermill's Prometheus metrics (gatehouse_processor_*) count
//     messages and time handlers; its own logging is mapped below Info.
//
// Why a small Watermill subscriber over nats.go's JetStream consumer and
// not watermill-nats: watermill-nats is not among the module versions we
// may use, and the project already owns the JetStream settings that matter
// (durable pull consumer shared by replicas, explicit acks, AckWait with
// InProgress while a handler retries, NakWithDelay for redelivery, the
// JetStream domain of a leaf-node deployment, consumer recreation after a
// stream reset). Owning the ~150 lines that map a jetstream.Msg to a
// message.Message keeps those semantics visible and tested here instead of
// configured through another library's options; it never calls Term, so
// nothing is dropped without a poison record.
//
// What stays on nats.go, and why: the policy follower (policy.Live) needs
// stream sequences and strict order (an ordered consumer, a snapshot at a
// sequence), which Watermill's message model hides; the ClickHouse sink
// inserts batches of thousands of events with one ack pass, and Watermill
// delivers one message per handler call. Both poison what they cannot use
// through the same events.Poison, so one gatewayctl command serves all.
package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/metrics"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/events"
)

// Options configure a Router.
type Options struct {
	JS  jetstream.JetStream
	Log *slog.Logger
	// Metrics is where the processor series are registered (nil: not
	// registered).
	Metrics prometheus.Registerer
	// Replicas of the poison stream (see events.StreamOptions).
	Replicas int
	// MaxRetries in process before a failing message is nak'ed for
	// redelivery; default 5. InitialInterval and MaxInterval bound the
	// backoff between them; defaults 100ms and 2s.
	MaxRetries      int
	InitialInterval time.Duration
	MaxInterval     time.Duration
	// MaxRedeliveryDelay caps the delay of a nak'ed message's redelivery
	// (it grows with the number of deliveries); default 30s.
	MaxRedeliveryDelay time.Duration
}

// Source is the JetStream side of a handler.
type Source struct {
	Stream  string
	Durable string
	// Filter is the subject filter of the durable consumer.
	Filter string
	// AckWait before the server redelivers an unacked message; default 1m
	// (the subscriber marks messages in progress while the handler runs).
	AckWait time.Duration
	// MaxAckPending bounds unacked messages; default 1000.
	MaxAckPending int
	// Concurrency is how many messages are handled at once; default 1
	// (in stream order).
	Concurrency int
}

// Handler handles one message. Returning nil acks it; an error is retried
// unless wrapped with Permanent, which poisons the message.
type Handler func(ctx context.Context, msg *message.Message) error

// Router is a control process's processors.
type Router struct {
	o        Options
	log      *slog.Logger
	wlog     watermill.LoggerAdapter
	r        *message.Router
	poisoned *prometheus.CounterVec
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying cannot fix (the message is
// malformed, of an unknown type, refers to nothing): the message goes to
// the poison queue.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err poisons its message: marked Permanent,
// or a recovered panic (a handler that panics on a message will again).
func IsPermanent(err error) bool {
	var p permanentError
	var pe middleware.RecoveredPanicError
	return errors.As(err, &p) || errors.As(err, &pe)
}

// New ensures the poison stream and returns a Router with the middleware
// in place; add handlers with Handle, then Run.
func New(ctx context.Context, o Options) (*Router, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 5
	}
	if o.InitialInterval <= 0 {
		o.InitialInterval = 100 * time.Millisecond
	}
	if o.MaxInterval <= 0 {
		o.MaxInterval = 2 * time.Second
	}
	if o.MaxRedeliveryDelay <= 0 {
		o.MaxRedeliveryDelay = 30 * time.Second
	}
	if _, err := events.EnsurePoisonStream(ctx, o.JS, events.StreamOptions{Replicas: o.Replicas}); err != nil {
		return nil, fmt.Errorf("processor: %w", err)
	}
	log := o.Log.With("part", "processor")
	// Watermill logs every handler start and router step at Info; those
	// are ours to say (or not), so its Info is our Debug.
	wlog := gatedLogger{watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug}), log}
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, wlog)
	if err != nil {
		return nil, err
	}
	p := &Router{o: o, log: log, wlog: wlog, r: r, poisoned: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_processor_poisoned_total",
		Help: "Messages a processor could not use, stored in the poison stream (gatewayctl poison list).",
	}, []string{"consumer"})}
	if o.Metrics != nil {
		if err := o.Metrics.Register(p.poisoned); err != nil {
			return nil, err
		}
		metrics.NewPrometheusMetricsBuilder(o.Metrics, "gatehouse", "processor").AddPrometheusRouterMetrics(r)
	}
	poison, err := middleware.PoisonQueueWithFilter(&poisonPublisher{js: o.JS, log: log, counter: p.poisoned},
		events.PoisonSubjectPrefix, IsPermanent)
	if err != nil {
		return nil, err
	}
	// Outermost first: the correlation id is set before anything logs;
	// poison sees the final error after retries; the recoverer turns a
	// panic into an error the retry and poison steps classify.
	r.AddMiddleware(
		middleware.CorrelationID,
		poison,
		middleware.Retry{
			MaxRetries: o.MaxRetries, InitialInterval: o.InitialInterval, MaxInterval: o.MaxInterval,
			Multiplier: 2, RandomizationFactor: 0.2,
			ShouldRetry: func(p middleware.RetryParams) bool { return !IsPermanent(p.Err) },
		}.Middleware,
		middleware.Recoverer,
	)
	return p, nil
}

// Handle adds a processor: h is called for each message of src.
func (p *Router) Handle(name string, src Source, h Handler) {
	sub := &subscriber{js: p.o.JS, src: src, log: p.log.With("handler", name), maxDelay: p.o.MaxRedeliveryDelay}
	p.r.AddNoPublisherHandler(name, src.Filter, sub, func(msg *message.Message) error {
		err := h(msg.Context(), msg)
		if err != nil && !IsPermanent(err) {
			p.log.Debug("processor: transient error; retrying", "handler", name, "err", err,
				"request_id", middleware.MessageCorrelationID(msg))
		}
		return err
	})
}

// Run runs the processors until ctx ends.
func (p *Router) Run(ctx context.Context) error { return p.r.Run(ctx) }

// Running is closed once every handler is subscribed.
func (p *Router) Running() chan struct{} { return p.r.Running() }

// Poisoned returns the counter of poisoned messages (for tests and
// collectors that want to read it).
func (p *Router) Poisoned() *prometheus.CounterVec { return p.poisoned }

// poisonPublisher is the poison middleware's publisher: it stores the
// original JetStream message (found in the message context) in the poison
// stream, so the record has the original subject, headers and bytes.
type poisonPublisher struct {
	js      jetstream.JetStream
	log     *slog.Logger
	counter *prometheus.CounterVec
}

func (pp *poisonPublisher) Publish(_ string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		src, ok := sourceOf(msg.Context())
		if !ok {
			return errors.New("processor: poisoned message has no JetStream source")
		}
		reason := msg.Metadata.Get(middleware.ReasonForPoisonedKey)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := events.Poison(ctx, pp.js, src, reason)
		cancel()
		if err != nil {
			return err
		}
		pp.counter.WithLabelValues(src.Consumer).Inc()
		pp.log.Warn("message poisoned", "consumer", src.Consumer, "stream", src.Stream, "seq", src.Seq,
			"reason", reason, "request_id", middleware.MessageCorrelationID(msg))
	}
	return nil
}

func (pp *poisonPublisher) Close() error { return nil }
