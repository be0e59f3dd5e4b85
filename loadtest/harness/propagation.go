package harness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/loadtest/loadgen"
)

// Propagation is the probe's result: for each flip of a key's access, the
// time from the event's commit to the edge enforcing it.
type Propagation struct {
	Flips int
	// Delays, sorted: commit (the event reaching a plain NATS subscriber on
	// the key's subject, i.e. stored by JetStream) to the first answer of
	// the edge that reflects it (a client polling the edge back to back).
	Delays []time.Duration
	// API is the admin call's round trip per flip, sorted; it includes
	// waiting until every live edge reports it applied the change.
	API []time.Duration
	// PollGap is the median time between two probe requests: the
	// measurement's resolution.
	PollGap time.Duration
	Missed  int // flips whose commit or enforcement was not observed
}

type sample struct {
	sent, recv time.Time
	allowed    bool
}

// probePropagation blocks and unblocks a fresh key n times through the
// control plane while a client polls the edge with it.
func (s *system) probePropagation(ctx context.Context, n int) (*Propagation, error) {
	ctl := "http://" + s.controlAddr
	var key struct {
		Key string `json:"key"`
	}
	if err := api("POST", ctl+"/key/generate", masterKey, map[string]any{"models": []string{"bench-fast"}, "key_alias": "propagation-probe"}, &key); err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(key.Key))
	token := hex.EncodeToString(sum[:])

	nc, err := nats.Connect(s.natsURL)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	var (
		mu      sync.Mutex
		commits = map[bool][]time.Time{} // blocked state -> times seen
	)
	sub, err := nc.Subscribe(events.Subject(events.KindKey, token), func(m *nats.Msg) {
		at := time.Now()
		ev, err := events.Decode(m.Data)
		if err != nil {
			return
		}
		if k, ok := ev.Object.(*events.Key); ok {
			mu.Lock()
			commits[k.Blocked] = append(commits[k.Blocked], at)
			mu.Unlock()
		}
	})
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe() //nolint:errcheck
	if err := nc.Flush(); err != nil {
		return nil, err
	}

	// The poller: one connection, requests back to back.
	t := s.target(GKey, false, false)
	t.Headers = map[string]string{"Authorization": "Bearer " + key.Key}
	pollCtx, stopPoll := context.WithCancel(ctx)
	var samples []sample
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		hc := &fasthttp.HostClient{Addr: t.Addr, MaxConns: 1}
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI("http://" + t.Addr + t.Path)
		req.Header.SetMethod("POST")
		req.Header.SetContentType("application/json")
		req.Header.Set("Authorization", "Bearer "+key.Key)
		req.SetBodyRaw(t.Body)
		for pollCtx.Err() == nil {
			sent := time.Now()
			err := hc.DoTimeout(req, resp, 5*time.Second)
			samples = append(samples, sample{sent: sent, recv: time.Now(), allowed: err == nil && resp.StatusCode() == 200})
		}
	}()

	res := &Propagation{Flips: n}
	type flip struct {
		blocked bool
		start   time.Time
	}
	flips := make([]flip, 0, n)
	for i := range n {
		blocked := i%2 == 0
		route := "/key/unblock"
		if blocked {
			route = "/key/block"
		}
		start := time.Now()
		if err := api("POST", ctl+route, masterKey, map[string]any{"key": key.Key}, nil); err != nil {
			stopPoll()
			<-polled
			return nil, err
		}
		res.API = append(res.API, time.Since(start))
		flips = append(flips, flip{blocked, start})
		// Let the poller see the state before the next flip.
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	stopPoll()
	<-polled

	// Match each flip with its commit (the first message of its state after
	// the flip started) and the first poll sent after the commit that saw
	// the new state.
	mu.Lock()
	defer mu.Unlock()
	used := map[bool]int{}
	var gaps []time.Duration
	for i := 1; i < len(samples); i++ {
		gaps = append(gaps, samples[i].sent.Sub(samples[i-1].sent))
	}
	slices.Sort(gaps)
	res.PollGap = loadgen.Quantile(gaps, .5)
	si := 0
	for _, f := range flips {
		cs := commits[f.blocked]
		j := used[f.blocked]
		for j < len(cs) && cs[j].Before(f.start) {
			j++
		}
		if j >= len(cs) {
			res.Missed++
			continue
		}
		used[f.blocked] = j + 1
		commit := cs[j]
		for si < len(samples) && samples[si].sent.Before(commit) {
			si++
		}
		found := false
		for k := si; k < len(samples); k++ {
			if samples[k].allowed == !f.blocked {
				res.Delays = append(res.Delays, max(samples[k].recv.Sub(commit), 0))
				found = true
				break
			}
		}
		if !found {
			res.Missed++
		}
	}
	slices.Sort(res.Delays)
	slices.Sort(res.API)
	if len(res.Delays) == 0 {
		return res, fmt.Errorf("propagation probe observed no flip (%d samples)", len(samples))
	}
	return res, nil
}

// Markdown renders the probe's result.
func (p *Propagation) Markdown(command string) string {
	q := func(v []time.Duration, x float64) string {
		return fmt.Sprintf("%.2f ms", float64(loadgen.Quantile(v, x))/1e6)
	}
	mx := func(v []time.Duration) string {
		if len(v) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f ms", float64(v[len(v)-1])/1e6)
	}
	return fmt.Sprintf(`%d flips of a key between blocked and unblocked through the control plane (POST /key/block, /key/unblock), with a client polling the edge with that key back to back (one request every %v at the median). Command: `+"`%s`"+`.

| measure | p50 | p99 | max | goal |
|---|---|---|---|---|
| commit -> enforced at the edge | %s | %s | %s | p99 <= 50 ms |
| admin API round trip (returns once every edge applied it) | %s | %s | %s | |

Commit is when the event reaches a plain NATS subscriber on the key's subject (JetStream has stored it); enforced is when the first answer reflecting the change reaches the polling client, so the figure includes one poll's round trip. Flips not observed: %d.
`, p.Flips, p.PollGap.Round(time.Microsecond), command,
		q(p.Delays, .5), q(p.Delays, .99), mx(p.Delays),
		q(p.API, .5), q(p.API, .99), mx(p.API), p.Missed)
}
