// Package loadgen drives HTTP load at one target and records every latency.
//
// It is the benchmark harness's client, written with fasthttp so the client
// costs about as much CPU as wrk on this 2-core machine, and so one client
// measures all targets (direct to the mock, plain proxy, gateway) the same
// way. Three shapes:
//
//   - Closed: N connections each send the next request when the previous
//     answer arrives (saturation RPS; latency at that load).
//   - Open: requests are scheduled at a fixed rate and latency is measured
//     from the scheduled time, not the send time, so a stalled server is
//     charged for the requests it delayed (no coordinated omission).
//   - Streams: N concurrent SSE streams, each read frame by frame: time to
//     first frame, frames per second, and streams whose frame count differs
//     from the expected one (lost or duplicated frames).
//
// Latencies are kept whole (a sorted slice), not bucketed: a run is at most
// a few hundred thousand requests, and exact percentiles avoid arguing about
// histogram resolution at the microsecond scale that matters here.
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Target is one endpoint under test.
type Target struct {
	Name string
	// Addr is host:port; Path the request path.
	Addr, Path string
	// Headers are sent with every request (e.g. Authorization).
	Headers map[string]string
	// Body is the JSON request body.
	Body []byte
}

// Result of one run.
type Result struct {
	Sent, OK, Failed int64
	// Statuses counts non-200 answers by status (0: transport error).
	Statuses map[int]int64
	// FirstErr is the first failure seen, for the report.
	FirstErr string
	Elapsed  time.Duration
	// Latencies of successful requests, sorted.
	Latencies []time.Duration
}

// RPS is successful requests per second.
func (r *Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Pct returns the q-quantile (0..1) of the latencies (0 if none).
func (r *Result) Pct(q float64) time.Duration { return Quantile(r.Latencies, q) }

// Quantile of a sorted slice, nearest rank.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	i = min(max(i, 0), len(sorted)-1)
	return sorted[i]
}

type collector struct {
	mu       sync.Mutex
	lat      []time.Duration
	statuses map[int]int64
	firstErr string
	sent, ok atomic.Int64
	failed   atomic.Int64
}

func newCollector(capacity int) *collector {
	return &collector{lat: make([]time.Duration, 0, capacity), statuses: map[int]int64{}}
}

// shard is a worker's private buffer, merged at the end so workers do not
// contend on a lock per request.
type shard struct {
	lat      []time.Duration
	statuses map[int]int64
	firstErr string
}

func (c *collector) merge(s *shard) {
	c.mu.Lock()
	c.lat = append(c.lat, s.lat...)
	for k, v := range s.statuses {
		c.statuses[k] += v
	}
	if c.firstErr == "" {
		c.firstErr = s.firstErr
	}
	c.mu.Unlock()
}

func (s *shard) fail(status int, msg string) {
	if s.statuses == nil {
		s.statuses = map[int]int64{}
	}
	s.statuses[status]++
	if s.firstErr == "" {
		s.firstErr = msg
	}
}

func (c *collector) result(elapsed time.Duration) Result {
	slices.Sort(c.lat)
	return Result{Sent: c.sent.Load(), OK: c.ok.Load(), Failed: c.failed.Load(), Statuses: c.statuses,
		FirstErr: c.firstErr, Elapsed: elapsed, Latencies: c.lat}
}

func client(t Target, conns int) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:                          t.Addr,
		MaxConns:                      conns,
		ReadTimeout:                   30 * time.Second,
		WriteTimeout:                  10 * time.Second,
		MaxIdleConnDuration:           time.Minute,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
		MaxConnWaitTimeout:            30 * time.Second,
	}
}

func (t Target) prepare(req *fasthttp.Request) {
	req.SetRequestURI("http://" + t.Addr + t.Path)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	for k, v := range t.Headers {
		req.Header.Set(k, v)
	}
	req.SetBodyRaw(t.Body)
}

// do sends one request and checks the answer is a 200 with a body.
func do(hc *fasthttp.HostClient, req *fasthttp.Request, resp *fasthttp.Response) (int, error) {
	if err := hc.Do(req, resp); err != nil {
		return 0, err
	}
	if sc := resp.StatusCode(); sc != fasthttp.StatusOK {
		return sc, fmt.Errorf("status %d: %.200s", sc, resp.Body())
	}
	if len(resp.Body()) == 0 {
		return 200, errors.New("empty body")
	}
	return 200, nil
}

// workers starts conns goroutines, each with its own request (prepared
// for t), response and latency shard (room for capacity), running loop
// and then merging its shard into c. Wait on the result.
func workers(conns, capacity int, t Target, c *collector, loop func(req *fasthttp.Request, resp *fasthttp.Response, s *shard)) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			t.prepare(req)
			s := &shard{lat: make([]time.Duration, 0, capacity)}
			loop(req, resp, s)
			c.merge(s)
		}()
	}
	return &wg
}

// record counts one answer: its latency if it succeeded, its status and
// error if not.
func (c *collector) record(s *shard, status int, err error, latency time.Duration) {
	if err != nil {
		c.failed.Add(1)
		s.fail(status, err.Error())
		return
	}
	s.lat = append(s.lat, latency)
	c.ok.Add(1)
}

// Closed runs conns closed-loop workers for d and returns what they saw.
func Closed(ctx context.Context, t Target, conns int, d time.Duration) Result {
	hc := client(t, conns)
	defer hc.CloseIdleConnections()
	c := newCollector(conns * 4096)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	workers(conns, 4096, t, c, func(req *fasthttp.Request, resp *fasthttp.Response, s *shard) {
		for ctx.Err() == nil {
			t0 := time.Now()
			c.sent.Add(1)
			status, err := do(hc, req, resp)
			if err != nil && ctx.Err() != nil && status == 0 {
				c.sent.Add(-1) // cut off by the end of the run, not a failure
				return
			}
			c.record(s, status, err, time.Since(t0))
		}
	}).Wait()
	return c.result(time.Since(start))
}

// Open sends rate requests per second for d over conns connections;
// latency counts from each request's scheduled time, so a request that
// waited for a free connection is charged for the wait (no coordinated
// omission). The schedule never waits for answers: requests queue behind
// busy connections, and a target too slow for the rate shows as growing
// latency, not as fewer requests. Requests still queued when d has passed
// are sent anyway (and counted) so the tail is measured.
func Open(ctx context.Context, t Target, rate float64, d time.Duration, conns int) Result {
	hc := client(t, conns)
	defer hc.CloseIdleConnections()
	n := int(rate * d.Seconds())
	c := newCollector(n)
	interval := time.Duration(float64(time.Second) / rate)
	jobs := make(chan time.Time, n+1)
	wg := workers(conns, n/conns+16, t, c, func(req *fasthttp.Request, resp *fasthttp.Response, s *shard) {
		for due := range jobs {
			status, err := do(hc, req, resp)
			c.record(s, status, err, time.Since(due))
		}
	})
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; {
		// Release every request that is due, then sleep until the next
		// one. No spinning: on 2 cores a spinning scheduler would take the
		// CPU from the target; timer lateness is charged to every target
		// alike, since latency counts from the scheduled time.
		now := time.Now()
		for ; i < n; i++ {
			due := start.Add(time.Duration(i) * interval)
			if due.After(now) {
				break
			}
			c.sent.Add(1)
			jobs <- due
		}
		if i < n {
			time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		}
	}
	close(jobs)
	wg.Wait()
	return c.result(time.Since(start))
}

// StreamResult of a streaming run.
type StreamResult struct {
	Streams, OK, Failed int64
	// Lost counts streams that ended with a frame count other than the
	// expected one, or without [DONE].
	Lost int64
	// Frames counts data frames received within the run's window (streams
	// still open at its end finish, for the loss check, but their later
	// frames are not counted); Elapsed is the window.
	Frames   int64
	Elapsed  time.Duration
	FirstErr string
	// TTFT (time to the first data frame) of each good stream, sorted.
	TTFT []time.Duration
	// Total stream durations, sorted.
	Total []time.Duration
}

// FPS is data frames received per second.
func (r *StreamResult) FPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Frames) / r.Elapsed.Seconds()
}

// Streams keeps conc streams open at a time for d; each expects
// wantFrames data frames (counting the final [DONE]); 0 accepts any count.
func Streams(ctx context.Context, t Target, conc int, d time.Duration, wantFrames int) StreamResult {
	hc := client(t, conc)
	hc.StreamResponseBody = true
	defer hc.CloseIdleConnections()
	var (
		mu                  sync.Mutex
		res                 StreamResult
		nOK, nFail, nFrames atomic.Int64
		nLost, nStreams     atomic.Int64
	)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := fasthttp.AcquireRequest()
			defer fasthttp.ReleaseRequest(req)
			t.prepare(req)
			var ttft, total []time.Duration
			var firstErr string
			br := bufio.NewReaderSize(nil, 16<<10)
			for ctx.Err() == nil {
				nStreams.Add(1)
				frames, inWindow, first, dur, err := oneStream(hc, req, br, end)
				nFrames.Add(int64(inWindow))
				switch {
				case err != nil:
					nFail.Add(1)
					if firstErr == "" {
						firstErr = err.Error()
					}
				case wantFrames > 0 && frames != wantFrames:
					nLost.Add(1)
					if firstErr == "" {
						firstErr = fmt.Sprintf("stream had %d frames, want %d", frames, wantFrames)
					}
				default:
					nOK.Add(1)
					ttft = append(ttft, first)
					total = append(total, dur)
				}
			}
			mu.Lock()
			res.TTFT = append(res.TTFT, ttft...)
			res.Total = append(res.Total, total...)
			if res.FirstErr == "" {
				res.FirstErr = firstErr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = d
	res.Streams, res.OK, res.Failed, res.Lost, res.Frames = nStreams.Load(), nOK.Load(), nFail.Load(), nLost.Load(), nFrames.Load()
	slices.Sort(res.TTFT)
	slices.Sort(res.Total)
	return res
}

var (
	dataPrefix = []byte("data:")
	doneData   = []byte("[DONE]")
)

// oneStream reads one SSE response frame by frame.
// inWindow counts the frames that arrived before end.
func oneStream(hc *fasthttp.HostClient, req *fasthttp.Request, br *bufio.Reader, end time.Time) (frames, inWindow int, ttft, total time.Duration, err error) {
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	t0 := time.Now()
	if err := hc.Do(req, resp); err != nil {
		return 0, 0, 0, 0, err
	}
	if sc := resp.StatusCode(); sc != 200 {
		return 0, 0, 0, 0, fmt.Errorf("status %d: %.200s", sc, resp.Body())
	}
	body := resp.BodyStream()
	if body == nil {
		return 0, 0, 0, 0, errors.New("no body stream")
	}
	defer resp.CloseBodyStream() //nolint:errcheck
	br.Reset(body)
	done := false
	for {
		line, rerr := br.ReadSlice('\n')
		if len(line) > 0 && bytes.HasPrefix(line, dataPrefix) {
			now := time.Now()
			if frames == 0 {
				ttft = now.Sub(t0)
			}
			frames++
			if now.Before(end) {
				inWindow++
			}
			if bytes.Contains(line, doneData) {
				done = true
			}
		}
		if rerr != nil {
			if errors.Is(rerr, bufio.ErrBufferFull) {
				// A frame longer than the buffer: drain the rest of it.
				for errors.Is(rerr, bufio.ErrBufferFull) {
					_, rerr = br.ReadSlice('\n')
				}
				if rerr == nil {
					continue
				}
			}
			if errors.Is(rerr, io.EOF) {
				break
			}
			return frames, inWindow, ttft, time.Since(t0), rerr
		}
	}
	if !done {
		return frames, inWindow, ttft, time.Since(t0), errors.New("stream ended without [DONE]")
	}
	return frames, inWindow, ttft, time.Since(t0), nil
}
