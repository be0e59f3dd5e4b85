package testutil

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
)

// SpendReader reads the spend stream in order through one ordered
// consumer, decoding each message (one event or an edge's batch). Each
// Read continues where the last one stopped.
type SpendReader struct {
	s      jetstream.Stream
	cons   jetstream.Consumer
	readTo uint64
}

// NewSpendReader starts a reader at the stream's first message.
func NewSpendReader(ctx context.Context, js jetstream.JetStream) (*SpendReader, error) {
	s, err := js.Stream(ctx, events.SpendStream)
	if err != nil {
		return nil, err
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	return &SpendReader{s: s, cons: cons}, nil
}

// SpendFunc sees one stored message: its batch id and its events. An
// error stops the read and is returned from Read.
type SpendFunc func(m jetstream.Msg, id string, evs []events.SpendEvent) error

// Read hands every message up to the stream's current last sequence that
// this reader has not read yet to fn; a message that does not decode is
// an error.
func (r *SpendReader) Read(ctx context.Context, fn SpendFunc) error {
	info, err := r.s.Info(ctx)
	if err != nil {
		return err
	}
	for r.readTo < info.State.LastSeq && info.State.Msgs > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch, err := r.cons.Fetch(1000, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return err
		}
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				return err
			}
			r.readTo = md.Sequence.Stream
			id, evs, err := events.DecodeSpend(m.Data())
			if err != nil {
				return errors.Join(errors.New("stored spend message does not decode: "+string(m.Data())), err)
			}
			if err := fn(m, id, evs); err != nil {
				return err
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return err
		}
	}
	return nil
}

// ReadSpend returns every spend event stored now, in stream order.
func ReadSpend(ctx context.Context, js jetstream.JetStream) ([]events.SpendEvent, error) {
	r, err := NewSpendReader(ctx, js)
	if err != nil {
		return nil, err
	}
	var out []events.SpendEvent
	err = r.Read(ctx, func(_ jetstream.Msg, _ string, evs []events.SpendEvent) error {
		out = append(out, evs...)
		return nil
	})
	return out, err
}
