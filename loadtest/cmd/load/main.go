// Command load sends chat traffic at one address, for profiling a single
// target by hand (the full comparison is loadtest/cmd/bench): closed loop
// by default, or open loop at -rate requests per second, which is how two
// servers' CPU per request is compared at the same rate rather than each
// at its own saturation.
package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/loadtest/loadgen"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4000", "target host:port")
	key := flag.String("key", "", "bearer credential")
	model := flag.String("model", "bench-fast", "model")
	conns := flag.Int("conns", 64, "connections")
	d := flag.Duration("d", 10*time.Second, "duration")
	rate := flag.Float64("rate", 0, "open loop: requests per second (0: closed loop)")
	flag.Parse()
	t := loadgen.Target{Name: *addr, Addr: *addr, Path: "/v1/chat/completions",
		Body: []byte(`{"model":"` + *model + `","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Benchmark prompt text. Benchmark prompt text. Benchmark prompt text. Benchmark prompt text. Benchmark prompt text. Benchmark prompt text. Benchmark prompt text. Benchmark prompt text."}],"temperature":0.2,"max_tokens":256}`)}
	if *key != "" {
		t.Headers = map[string]string{"Authorization": "Bearer " + *key}
	}
	var r loadgen.Result
	if *rate > 0 {
		r = loadgen.Open(context.Background(), t, *rate, *d, *conns)
	} else {
		r = loadgen.Closed(context.Background(), t, *conns, *d)
	}
	fmt.Printf("rps=%.0f ok=%d failed=%d p50=%v p99=%v err=%s\n", r.RPS(), r.OK, r.Failed, r.Pct(.5), r.Pct(.99), r.FirstErr)
}
