package processor

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
)

// Metadata keys the subscriber sets on each message.
const (
	MetaStream    = "stream"
	MetaSubject   = "subject"
	MetaSeq       = "stream_seq"
	MetaDelivered = "delivered"
)

type sourceKey struct{}

func sourceOf(ctx context.Context) (events.PoisonSource, bool) {
	s, ok := ctx.Value(sourceKey{}).(events.PoisonSource)
	return s, ok
}

// subscriber is a Watermill Subscriber over one durable JetStream pull
// consumer. Each worker hands one message to the router and waits for the
// handler's verdict before taking the next: Ack after success, NakWithDelay
// after failure (growing with the delivery count), InProgress while the
// handler runs so AckWait does not expire during retries.
type subscriber struct {
	js       jetstream.JetStream
	src      Source
	log      *slog.Logger
	maxDelay time.Duration

	once    sync.Once
	closing chan struct{}
	wg      sync.WaitGroup
}

func (s *subscriber) init() {
	s.once.Do(func() { s.closing = make(chan struct{}) })
}

func (s *subscriber) consumer(ctx context.Context, filter string) (jetstream.Consumer, error) {
	ackWait := s.src.AckWait
	if ackWait <= 0 {
		ackWait = time.Minute
	}
	pending := s.src.MaxAckPending
	if pending <= 0 {
		pending = 1000
	}
	return s.js.CreateOrUpdateConsumer(ctx, s.src.Stream, jetstream.ConsumerConfig{
		Durable: s.src.Durable, AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: filter,
		AckWait: ackWait, MaxAckPending: pending, DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxDeliver: -1, // never dropped by the server: poisoned by us or retried
	})
}

// Subscribe creates (or updates) the durable consumer and starts its
// reader and workers; the channel closes when ctx ends or Close is called.
func (s *subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.init()
	cons, err := s.consumer(ctx, topic)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-s.closing:
		case <-ctx.Done():
		}
		cancel()
	}()
	n := max(s.src.Concurrency, 1)
	in := make(chan jetstream.Msg)
	out := make(chan *message.Message)
	s.wg.Add(1)
	go s.read(ctx, topic, cons, max(2*n, 8), in)
	for range n {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for m := range in {
				s.deliver(ctx, m, out)
			}
		}()
	}
	go func() { s.wg.Wait(); close(out) }()
	return out, nil
}

// read pulls from the consumer (one iterator, pull bound to what the
// workers can hold) and hands messages to the workers until ctx ends.
func (s *subscriber) read(ctx context.Context, topic string, cons jetstream.Consumer, pull int, in chan<- jetstream.Msg) {
	defer s.wg.Done()
	defer close(in)
	// A message pulled while stopping (the drain) is nak'ed here: not
	// handed over, so the next replica gets it at once.
	p := events.Pull{Batch: pull, DrainWait: 3 * time.Second, Log: s.log,
		Recreate: func(ctx context.Context) (jetstream.Consumer, error) { return s.consumer(ctx, topic) }}
	p.Run(ctx, cons, func(m jetstream.Msg) {
		select {
		case in <- m:
		case <-ctx.Done():
			_ = m.Nak()
		}
	})
}

func (s *subscriber) deliver(ctx context.Context, m jetstream.Msg, out chan<- *message.Message) {
	h := m.Headers()
	if events.ReplayedForOther(h, s.src.Durable) {
		_ = m.Ack() // replayed for another consumer of this stream; ours handled the original
		return
	}
	md, err := m.Metadata()
	if err != nil {
		_ = m.Nak()
		return
	}
	seq := strconv.FormatUint(md.Sequence.Stream, 10)
	id := h.Get(events.HeaderMsgID)
	if id == "" {
		id = md.Stream + ":" + seq
	}
	wm := message.NewMessage(id, m.Data())
	for k, v := range h {
		if len(v) > 0 {
			wm.Metadata.Set(k, v[0])
		}
	}
	wm.Metadata.Set(MetaStream, md.Stream)
	wm.Metadata.Set(MetaSubject, m.Subject())
	wm.Metadata.Set(MetaSeq, seq)
	wm.Metadata.Set(MetaDelivered, strconv.FormatUint(md.NumDelivered, 10))
	corr := h.Get(events.HeaderRequestID)
	if corr == "" {
		corr = id
	}
	middleware.SetCorrelationID(corr, wm)
	wm.SetContext(context.WithValue(ctx, sourceKey{}, events.PoisonSource{Consumer: s.src.Durable, Stream: md.Stream,
		Subject: m.Subject(), Seq: md.Sequence.Stream, Header: h, Data: m.Data()}))

	select {
	case out <- wm:
	case <-ctx.Done():
		_ = m.Nak() // not handed over: the next replica gets it at once
		return
	}
	ackWait := s.src.AckWait
	if ackWait <= 0 {
		ackWait = time.Minute
	}
	keepAlive := time.NewTicker(ackWait / 3)
	defer keepAlive.Stop()
	for {
		select {
		case <-wm.Acked():
			actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			// DoubleAck: the handler's effect is done; knowing the server
			// has the ack keeps redelivery (and recounting) to crashes.
			if err := m.DoubleAck(actx); err != nil {
				s.log.Debug("processor: ack", "err", err, "seq", seq)
			}
			cancel()
			return
		case <-wm.Nacked():
			_ = m.NakWithDelay(s.redeliveryDelay(md.NumDelivered))
			return
		case <-keepAlive.C:
			_ = m.InProgress()
		}
	}
}

// redeliveryDelay grows with the deliveries so far: 1s, 2s, 4s ... capped.
func (s *subscriber) redeliveryDelay(delivered uint64) time.Duration {
	d := time.Second << min(delivered, 16)
	return min(d/2, s.maxDelay)
}

// Close stops the workers; messages handed over are still acked or nak'ed.
func (s *subscriber) Close() error {
	s.init()
	select {
	case <-s.closing:
	default:
		close(s.closing)
	}
	s.wg.Wait()
	return nil
}
