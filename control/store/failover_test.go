package store

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// TestWriteWaitsForJetStream: a write made while JetStream is unreachable
// (as during a leader election or a restart) completes once it is back,
// within the failover window; past the window it is a 503, not a hang.
func TestWriteWaitsForJetStream(t *testing.T) {
	port := testutil.FreePort(t)
	dir := t.TempDir()
	ns := testutil.RunJetStreamAt(t, port, dir)
	_, js := testutil.Connect(t, "nats://127.0.0.1:"+strconv.Itoa(port))
	st := newStore(t, js)
	st.FailoverWindow = 20 * time.Second

	ns.Shutdown()
	ns.WaitForShutdown()
	done := make(chan error, 1)
	go func() {
		_, err := st.Put(context.Background(), "test", &events.Team{TeamID: "during-outage"}, nil)
		done <- err
	}()
	// The write is still waiting, not failed, while the server is down.
	select {
	case err := <-done:
		t.Fatalf("write returned while JetStream was down: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	ns = testutil.RunJetStreamAt(t, port, dir)
	back := time.Now()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("write after JetStream came back: %v", err)
		}
		t.Logf("write completed %s after JetStream was back", time.Since(back).Round(time.Millisecond))
	case <-time.After(15 * time.Second):
		t.Fatal("write did not complete after JetStream came back")
	}
	obj, _, err := st.Get(context.Background(), events.KindTeam, "during-outage")
	if err != nil || obj == nil {
		t.Fatalf("team after the outage: %v %v", obj, err)
	}

	// Past the window: a clear 503.
	st.FailoverWindow = 500 * time.Millisecond
	ns.Shutdown()
	ns.WaitForShutdown()
	_, err = st.Put(context.Background(), "test", &events.Team{TeamID: "never"}, nil)
	var apiErr *apierror.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 503 {
		t.Fatalf("write with JetStream gone for good: %v", err)
	}
}
