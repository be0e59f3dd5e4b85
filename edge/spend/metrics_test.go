package spend

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/internal/testutil"
)

// The publisher's counters match its Stats, and every acked event, live or
// resent after an outage, lands in the lag histogram with its real lag.
func TestMetrics(t *testing.T) {
	e := startNATS(t)
	reg := prometheus.NewRegistry()
	o := options(e, t.TempDir())
	o.Registerer = reg
	p := newP(t, o)
	const n = 200
	record := func(from, to int) {
		for i := from; i < to; i++ {
			ev := spendEvent(i)
			ev.Time, ev.LatencyMS = time.Now(), 0
			p.Record(ev)
		}
	}
	record(0, n/2)
	waitStream(t, e, n/2)
	e.stop(t)
	record(n/2, n)
	outage := time.Now()
	testutil.Eventually(t, waitLimit, func() error {
		if s := p.Stats(); s.Spilled != n/2 {
			return fmt.Errorf("spilled %d", s.Spilled)
		}
		return nil
	})
	restart := time.Now()
	e.restart(t)
	testutil.Eventually(t, waitLimit, func() error {
		if s := p.Stats(); s.Resent != n/2 {
			return fmt.Errorf("resent %d", s.Resent)
		}
		return nil
	})
	down := time.Since(outage)

	metric := func(name string, labels ...string) (float64, float64) {
		v, sum, ok := testutil.Metric(t, reg, name, labels...)
		if !ok {
			t.Fatalf("%s%v missing", name, labels)
		}
		return v, sum
	}
	for name, want := range map[string]float64{
		"gatehouse_spend_events_recorded_total":  n,
		"gatehouse_spend_events_published_total": n / 2,
		"gatehouse_spend_events_spilled_total":   n / 2,
		"gatehouse_spend_events_resent_total":    n / 2,
		"gatehouse_spend_events_pending":         0,
	} {
		if v, _ := metric(name); v != want {
			t.Errorf("%s = %v, want %v", name, v, want)
		}
	}
	if v, _ := metric("gatehouse_spend_events_dropped_total", "reason", "queue_full"); v != 0 {
		t.Errorf("dropped %v", v)
	}
	live, liveSum := metric("gatehouse_spend_publish_lag_seconds", "path", "live")
	resend, resendSum := metric("gatehouse_spend_publish_lag_seconds", "path", "resend")
	if live != n/2 || resend != n/2 {
		t.Fatalf("lag samples live %v resend %v, want %d each", live, resend, n/2)
	}
	// Every resent event was recorded before the outage and acked after
	// the restart began, so it waited at least that long; live ones did not.
	if avg := resendSum / resend; avg < restart.Sub(outage).Seconds() || avg > (down+time.Second).Seconds() {
		t.Errorf("resend lag %.3fs, outage %s", avg, down)
	}
	if avg := liveSum / live; avg >= resendSum/resend {
		t.Errorf("live lag %.3fs not below resend lag %.3fs", avg, resendSum/resend)
	}
	closeP(t, p)
}
