package spend

import (
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// go test ./edge/spend -run '^$' -bench . -benchmem

func benchPublisher(b *testing.B) *Publisher {
	b.Helper()
	e := startNATS(b)
	o := options(e, b.TempDir())
	o.SyncInterval, o.ResendInterval = time.Second, time.Second
	o.Log = slog.New(slog.DiscardHandler) // drops are expected; see report
	p := newP(b, o)
	b.Cleanup(func() { closeP(b, p) })
	return p
}

// report adds where the events went: with Record far faster than NATS
// acks, a long run fills the queue and the rest overflows to the spill
// writer or is dropped; Record's cost is the same on every path.
func report(b *testing.B, p *Publisher) {
	s := p.Stats()
	n := float64(s.Recorded)
	b.ReportMetric(float64(s.Published)/n, "published/op")
	b.ReportMetric(float64(s.Dropped)/n, "dropped/op")
}

func BenchmarkRecord(b *testing.B) {
	p := benchPublisher(b)
	ev := spendEvent(1)
	b.ReportAllocs()
	for b.Loop() {
		p.Record(ev)
	}
	b.StopTimer()
	report(b, p)
}

func BenchmarkRecordParallel(b *testing.B) {
	p := benchPublisher(b)
	ev := spendEvent(1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Record(ev)
		}
	})
	b.StopTimer()
	report(b, p)
}

// BenchmarkRecordLatency measures single Record calls, spaced like
// requests, while background goroutines keep the publisher, the ack loop
// and NATS busy with a steady stream of events. It reports the
// distribution of what spend publishing adds to a request.
func BenchmarkRecordLatency(b *testing.B) {
	p := benchPublisher(b)
	ev := spendEvent(1)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	const loaders, perTick = 4, 5
	for range loaders {
		wg.Go(func() {
			tick := time.NewTicker(250 * time.Microsecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					for range perTick {
						p.Record(ev)
					}
				}
			}
		})
	}
	time.Sleep(100 * time.Millisecond) // let the load settle

	// Allocations here are the whole process's, background publishing
	// included; Record's own are in BenchmarkRecord.
	samples := make([]time.Duration, 0, 1<<16)
	for b.Loop() {
		t0 := time.Now()
		p.Record(ev)
		samples = append(samples, time.Since(t0))
		time.Sleep(20 * time.Microsecond)
	}
	b.StopTimer()
	close(stop)
	wg.Wait()

	slices.Sort(samples)
	q := func(f float64) float64 { return float64(samples[min(int(f*float64(len(samples))), len(samples)-1)]) }
	b.ReportMetric(q(0.50), "p50-ns")
	b.ReportMetric(q(0.99), "p99-ns")
	b.ReportMetric(q(0.999), "p999-ns")
	b.ReportMetric(float64(samples[len(samples)-1]), "max-ns")
	report(b, p)
}
