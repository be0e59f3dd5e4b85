// Package storetest gives a test a control-plane store on a JetStream of
// its own, as the control plane builds it. (Package store's own tests
// cannot use it: they build theirs in store_test.go.)
package storetest

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/control/store"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/policy"
)

// New creates the policy streams on js and returns a store writing to
// them, its read model (Live) followed until the test ends and caught up.
// Set the store's other fields (Clock, SyncTimeout, ...) before using it.
func New(t testing.TB, js jetstream.JetStream) *store.Store {
	t.Helper()
	stream := testutil.EnsureStreams(t, js)
	live := &policy.Live{JS: js}
	testutil.Follow(t, live)
	return &store.Store{Stream: stream, Pub: &events.Publisher{JS: js}, Live: live}
}
