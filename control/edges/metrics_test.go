package edges

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

func TestCollector(t *testing.T) {
	now := time.Unix(1000, 0)
	tr := New()
	tr.Now = func() time.Time { return now }
	tr.Observe(events.EdgeStatus{EdgeID: "a", Region: "eu", Seq: 10, Ready: true})
	tr.Observe(events.EdgeStatus{EdgeID: "b", Region: "us", Seq: 7, Ready: true, Stalled: "unknown event"})
	var streamErr error
	reg := prometheus.NewRegistry()
	reg.MustRegister(tr.Collector(func(context.Context) (uint64, error) { return 12, streamErr }))
	now = now.Add(2 * time.Second)

	get := func(name string, labels ...string) (float64, bool) {
		v, _, ok := testutil.Metric(t, reg, name, labels...)
		return v, ok
	}
	for _, c := range []struct {
		name, edge string
		want       float64
	}{
		{"gatehouse_control_edge_applied_seq", "a", 10},
		{"gatehouse_control_edge_lag_events", "a", 2},
		{"gatehouse_control_edge_lag_events", "b", 5},
		{"gatehouse_control_edge_stalled", "a", 0},
		{"gatehouse_control_edge_stalled", "b", 1},
		{"gatehouse_control_edge_live", "a", 1},
		{"gatehouse_control_edge_last_seen_seconds", "a", 2},
	} {
		if v, ok := get(c.name, "edge_id", c.edge); !ok || v != c.want {
			t.Errorf("%s{edge_id=%s} = %v (%v), want %v", c.name, c.edge, v, ok, c.want)
		}
	}
	if v, ok := get("gatehouse_control_edge_applied_seq", "edge_id", "b", "region", "us"); !ok || v != 7 {
		t.Errorf("region label: %v %v", v, ok)
	}
	if v, ok := get("gatehouse_control_stream_last_seq"); !ok || v != 12 {
		t.Errorf("stream last seq %v %v", v, ok)
	}

	// Past the TTL an edge is not live; once it leaves it is gone.
	now = now.Add(DefaultTTL)
	if v, _ := get("gatehouse_control_edge_live", "edge_id", "a"); v != 0 {
		t.Errorf("edge a live after TTL")
	}
	tr.Observe(events.EdgeStatus{EdgeID: "a", Leaving: true})
	if _, ok := get("gatehouse_control_edge_applied_seq", "edge_id", "a"); ok {
		t.Errorf("left edge still reported")
	}
	// Stream unreadable: no lag rather than a wrong one.
	streamErr = errors.New("nats down")
	if _, ok := get("gatehouse_control_edge_lag_events", "edge_id", "b"); ok {
		t.Errorf("lag reported without the stream's last seq")
	}
	if v, ok := get("gatehouse_control_edge_applied_seq", "edge_id", "b"); !ok || v != 7 {
		t.Errorf("applied seq without stream: %v %v", v, ok)
	}
}
