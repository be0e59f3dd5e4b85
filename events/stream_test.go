package events_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// On a single server, asking for 3 replicas fails with an error that says
// which setting to change, and leaves the existing streams as they were;
// 0 keeps what exists.
func TestEnsureStreamsReplicas(t *testing.T) {
	_, js := testutil.NewJetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := events.EnsureStreams(ctx, js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := events.EnsureStreams(ctx, js, events.StreamOptions{Replicas: 3})
	if err == nil || !strings.Contains(err.Error(), "--replicas 1") || !strings.Contains(err.Error(), events.PolicyStream) {
		t.Fatalf("R3 on one server: %v", err)
	}
	_, err = events.EnsureSpendStream(ctx, js, events.StreamOptions{Replicas: 3})
	if err == nil || !strings.Contains(err.Error(), "cannot place") {
		t.Fatalf("R3 spend stream on one server (new stream): %v", err)
	}
	s, err := events.EnsureStreams(ctx, js, events.StreamOptions{Replicas: 0})
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 1 {
		t.Fatalf("replicas %d", info.Config.Replicas)
	}
}
