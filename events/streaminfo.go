package events

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamInfo reads the current state of the stream called name (one of
// this package's stream names).
func StreamInfo(ctx context.Context, js jetstream.JetStream, name string) (*jetstream.StreamInfo, error) {
	st, err := js.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	return st.Info(ctx)
}
