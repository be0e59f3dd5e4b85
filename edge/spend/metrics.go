package spend

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the publisher's Prometheus series. The counters are read
// from Stats at scrape time (nothing extra on the request path); the lag
// histogram is observed by the ack and resend loops.
type metrics struct {
	lagLive, lagResend prometheus.Observer
}

// lagBuckets (seconds): an ack normally takes milliseconds; a resend after
// an outage can take as long as the outage.
var lagBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600}

func newMetrics(p *Publisher, reg prometheus.Registerer) *metrics {
	lag := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gatehouse_spend_publish_lag_seconds",
		Help:    "Time from the end of a request (when its spend event is recorded) to the stream's ack, by path: live publishes, and resends from the spill queue (which include the outage).",
		Buckets: lagBuckets,
	}, []string{"path"})
	m := &metrics{lagLive: lag.WithLabelValues("live"), lagResend: lag.WithLabelValues("resend")}
	if reg != nil {
		reg.MustRegister(lag, statsCollector{p})
	}
	return m
}

// recordedAt is when an event was recorded: the request's start plus its
// latency, both set before Record, so Record needs no clock read.
func recordedAt(t time.Time, latencyMS float64) time.Time {
	return t.Add(time.Duration(latencyMS * float64(time.Millisecond)))
}

func (m *metrics) observe(o prometheus.Observer, at time.Time) { m.observeN(o, at, 1) }

// observeN records the lag of the n events of a batch (measured from the
// first event's record time: at most the batch delay more than each's).
func (m *metrics) observeN(o prometheus.Observer, at time.Time, n int) {
	if at.IsZero() {
		return
	}
	lag := max(time.Since(at).Seconds(), 0)
	for range n {
		o.Observe(lag)
	}
}

var (
	descRecorded  = prometheus.NewDesc("gatehouse_spend_events_recorded_total", "Spend events recorded (one per request).", nil, nil)
	descPublished = prometheus.NewDesc("gatehouse_spend_events_published_total", "Spend events acked by the stream on the first attempt.", nil, nil)
	descSpilled   = prometheus.NewDesc("gatehouse_spend_events_spilled_total", "Spend events written to the on-disk spill queue (NATS unreachable, nack, ack timeout).", nil, nil)
	descResent    = prometheus.NewDesc("gatehouse_spend_events_resent_total", "Spilled spend events acked when resent.", nil, nil)
	descDropped   = prometheus.NewDesc("gatehouse_spend_events_dropped_total", "Spend events lost, by reason.", []string{"reason"}, nil)
	descPending   = prometheus.NewDesc("gatehouse_spend_events_pending", "Spend events in memory: queued or awaiting an ack.", nil, nil)
	descSpillB    = prometheus.NewDesc("gatehouse_spend_spill_bytes", "Bytes in the spill queue on disk.", nil, nil)
	descSpillSeg  = prometheus.NewDesc("gatehouse_spend_spill_segments", "Closed spill segments waiting to be resent.", nil, nil)
)

type statsCollector struct{ p *Publisher }

func (statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRecorded, descPublished, descSpilled, descResent, descDropped, descPending, descSpillB, descSpillSeg} {
		ch <- d
	}
}

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.p.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	counter(descRecorded, s.Recorded)
	counter(descPublished, s.Published)
	counter(descSpilled, s.Spilled)
	counter(descResent, s.Resent)
	counter(descDropped, s.DroppedQueueFull, "queue_full")
	counter(descDropped, s.DroppedSpillFull, "spill_full")
	counter(descDropped, s.DroppedSpillError, "spill_error")
	counter(descDropped, s.DroppedClosed, "closed")
	gauge(descPending, float64(s.Pending))
	gauge(descSpillB, float64(s.SpillBytes))
	gauge(descSpillSeg, float64(s.SpillSegments))
}
