package edges

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector reports every edge the tracker knows, at scrape time, from the
// status the edges publish: applied sequence, lag behind the stream (last
// sequence from lastSeq, one JetStream request per scrape), liveness,
// readiness, stall. Edges that left disappear from the output (no stale
// series).
func (t *Tracker) Collector(lastSeq func(context.Context) (uint64, error)) prometheus.Collector {
	return &collector{t: t, lastSeq: lastSeq}
}

type collector struct {
	t       *Tracker
	lastSeq func(context.Context) (uint64, error)
}

// edgeDesc is a gauge labelled by the edge it describes.
func edgeDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, []string{"edge_id", "region"}, nil)
}

var (
	descEdgeSeq  = edgeDesc("gatehouse_control_edge_applied_seq", "Policy stream sequence an edge reports as applied.")
	descEdgeLag  = edgeDesc("gatehouse_control_edge_lag_events", "Policy stream last sequence minus the edge's applied sequence.")
	descEdgeLive = edgeDesc("gatehouse_control_edge_live", "1 while the edge's status arrives within the liveness TTL.")
	descEdgeRdy  = edgeDesc("gatehouse_control_edge_ready", "1 when the edge reports it has caught up and serves.")
	descEdgeStl  = edgeDesc("gatehouse_control_edge_stalled", "1 when the edge's policy follower stopped at an event it cannot apply.")
	descEdgeAge  = edgeDesc("gatehouse_control_edge_last_seen_seconds", "Seconds since the edge's last status.")
	descLastSeq  = prometheus.NewDesc("gatehouse_control_stream_last_seq", "The policy stream's last sequence, as read by this control replica.", nil, nil)
)

func (*collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEdgeSeq, descEdgeLag, descEdgeLive, descEdgeRdy, descEdgeStl, descEdgeAge, descLastSeq} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	last, haveLast := uint64(0), false
	if c.lastSeq != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var err error
		last, err = c.lastSeq(ctx)
		cancel()
		haveLast = err == nil
	}
	if haveLast {
		ch <- prometheus.MustNewConstMetric(descLastSeq, prometheus.GaugeValue, float64(last))
	}
	now := c.t.Now()
	for _, e := range c.t.Status() {
		g := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, e.EdgeID, e.Region)
		}
		g(descEdgeSeq, float64(e.Seq))
		if haveLast {
			g(descEdgeLag, float64(last-min(e.Seq, last)))
		}
		g(descEdgeLive, b2f(e.Live))
		g(descEdgeRdy, b2f(e.Ready))
		g(descEdgeStl, b2f(e.Stalled != ""))
		g(descEdgeAge, now.Sub(e.LastSeen).Seconds())
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
