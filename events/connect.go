package events

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ConnectOption adjusts Connect.
type ConnectOption func(*connectOptions)

type connectOptions struct{ domain string }

// WithJSDomain sends JetStream API calls to the named JetStream domain
// ($JS.<domain>.API): how a process connected to a regional leaf node
// reaches the hub cluster's streams. Empty means the local domain.
func WithJSDomain(domain string) ConnectOption {
	return func(o *connectOptions) { o.domain = domain }
}

// Connect opens the NATS connection every gatehouse process uses: it keeps
// retrying the first connect and reconnects forever, because control
// replicas, edges and sinks must ride out a NATS restart rather than exit.
func Connect(url, name string, opts ...ConnectOption) (*nats.Conn, jetstream.JetStream, error) {
	var o connectOptions
	for _, f := range opts {
		f(&o)
	}
	nc, err := nats.Connect(url, nats.Name(name), nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond), nats.RetryOnFailedConnect(true))
	if err != nil {
		return nil, nil, fmt.Errorf("nats %s: %w", url, err)
	}
	var js jetstream.JetStream
	if o.domain != "" {
		js, err = jetstream.NewWithDomain(nc, o.domain)
	} else {
		js, err = jetstream.New(nc)
	}
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}
