// Package testutil holds the helpers tests share: real servers on port 0
// (JetStream, an app served until the test ends), free addresses for child
// processes, reading the spend stream, goroutines and policy followers
// stopped with the test, and poll-until and receive-within helpers
// instead of sleeps. It fails the test (t.Fatal) rather
// than return errors, and registers cleanup for everything it starts.
package testutil

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/backoff"
	"github.com/gatehouse/gatehouse/internal/childproc"
	"github.com/gatehouse/gatehouse/internal/embednats"
)

// RunJetStream starts an embedded JetStream server on a free port with its
// store under t.TempDir(), shut down when the test ends.
func RunJetStream(t testing.TB) *server.Server {
	t.Helper()
	return RunJetStreamAt(t, -1, t.TempDir())
}

// RunJetStreamAt starts one on a given port and store (to restart a server
// with the same data).
func RunJetStreamAt(t testing.TB, port int, dir string) *server.Server {
	t.Helper()
	s, err := embednats.Start(embednats.Options{Port: port, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// Connect returns a JetStream client for s, closed when the test ends.
func Connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// NewJetStream is RunJetStream and Connect: a server of the test's own
// and a client of it, for tests that need nothing else of the server.
func NewJetStream(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	return Connect(t, RunJetStream(t).ClientURL())
}

// EnsureStreams creates the policy streams.
func EnsureStreams(t testing.TB, js jetstream.JetStream) jetstream.Stream {
	t.Helper()
	return EnsureStream(t, js, events.EnsureStreams)
}

// EnsureStream creates a stream with its events.Ensure* function
// (events.EnsureSpendStream, events.EnsureUpsertStream, ...) and the
// default options, and returns it.
func EnsureStream(t testing.TB, js jetstream.JetStream, ensure func(context.Context, jetstream.JetStream, events.StreamOptions) (jetstream.Stream, error)) jetstream.Stream {
	t.Helper()
	// Generous: creating a stream takes milliseconds, but on a loaded
	// machine a tight bound would fail tests that are not at fault.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := ensure(ctx, js, events.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// StreamState returns the state of stream name now: its message count,
// last sequence and so on.
func StreamState(t testing.TB, js jetstream.JetStream, name string) jetstream.StreamState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := events.StreamInfo(ctx, js, name)
	if err != nil {
		t.Fatal(err)
	}
	return info.State
}

// FreeAddr returns a loopback host:port nothing listens on, for a server
// that is told its address; FreePort is its port.
func FreeAddr(t testing.TB) string { t.Helper(); return must(t, childproc.FreeAddr) }

func FreePort(t testing.TB) int { t.Helper(); return must(t, childproc.FreePort) }

func must[T any](t testing.TB, f func() (T, error)) T {
	t.Helper()
	v, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Eventually polls cond every tick until it returns nil or wait elapses,
// then fails with cond's last error.
func Eventually(t testing.TB, wait time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(wait)
	tick := backoff.Policy{Initial: 5 * time.Millisecond, Max: 100 * time.Millisecond}.Start()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", wait, err)
		}
		time.Sleep(tick.Next())
	}
}

// Go runs run in a goroutine for the rest of the test: when the test ends
// its context is cancelled and cleanup waits for it to return, so nothing
// it does outlives the test (or the servers it uses, started before).
func Go(t testing.TB, run func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// Follower is what Follow runs: a *policy.Live (an interface, so that
// policy's own tests can use this package).
type Follower interface {
	Run(ctx context.Context) error
	Check() error
}

// Follow runs f as Go does and waits until it has caught up with the
// policy stream.
func Follow(t testing.TB, f Follower) {
	t.Helper()
	Go(t, f.Run)
	Eventually(t, 5*time.Second, f.Check)
}

// Receive returns the next value from ch (or the zero value once ch is
// closed: a "running" or "done" signal), waiting up to wait; past that
// it fails the test with what.
func Receive[T any](t testing.TB, ch <-chan T, wait time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("%s (waited %s)", what, wait)
		panic("unreachable")
	}
}

// WaitRedelivered waits until the consumer durable on stream has
// redelivered a message: its handler failed and the message came back
// instead of being dropped.
func WaitRedelivered(t testing.TB, ctx context.Context, js jetstream.JetStream, stream, durable string) {
	t.Helper()
	cons, err := js.Consumer(ctx, stream, durable)
	if err != nil {
		t.Fatal(err)
	}
	Eventually(t, 10*time.Second, func() error {
		info, err := cons.Info(ctx)
		if err != nil {
			return err
		}
		if info.NumRedelivered == 0 {
			return fmt.Errorf("not redelivered yet: %+v", info)
		}
		return nil
	})
}
