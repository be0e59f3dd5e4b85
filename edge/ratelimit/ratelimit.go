// Package ratelimit enforces rpm_limit and tpm_limit across all edges, not
// per edge.
//
// Algorithm: a sliding window of 60 one-second buckets per limited object
// (key, team, team membership, organization, end user), summed over every edge. An edge counts its own admissions
// at once and gossips the increments it made to the other edges every
// Interval (core NATS, fire and forget); each edge adds what the others
// report into the same buckets. A request is admitted while the summed
// requests of the last 60 s are below rpm_limit and the summed tokens below
// tpm_limit (tokens are added when a response reports its usage).
//
// Error bound: an edge learns of the other edges' admissions at most
// Interval plus one network hop late, so over a window the system admits at
// most rpm_limit + (E-1) * r * (Interval + latency) requests, where E is
// the number of edges serving the object and r the rate at which one edge
// admits it. With E=2, 100 ms and a client hammering both edges at 1,000
// requests/s each, that is about 100 requests over the limit, the cost of
// keeping the hot path free of network calls. A lost gossip message is not
// resent: the bound then grows by that message's counts, and the error
// disappears when its second leaves the window. The 1 s bucket granularity
// also means the window is 59-60 s long.
//
// Through a partition (an edge cut from NATS) an edge admits at most
// LeaseFraction of each limit itself (lease.go).
package ratelimit

import (
	"encoding/json"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

const windowSeconds = 60

// Limiter is one edge's view of the global counts.
type Limiter struct {
	nc       *nats.Conn
	edgeID   string
	interval time.Duration
	log      *slog.Logger
	now      func() time.Time

	mu      sync.Mutex
	windows map[string]*window
	pending map[pendingKey]*count
	sub     *nats.Subscription
	// LeaseFraction: while cut from NATS, this edge admits per object at
	// most this share of its limits in its own window (see lease.go);
	// default 0.1. Set before the first Allow.
	LeaseFraction float64
	cut           map[string]*window // own counts per object while cut
	connected     func() bool
	stop          chan struct{}
	done          chan struct{}
}

type count struct{ Requests, Tokens int64 }

type pendingKey struct {
	obj string
	sec int64
}

type window struct {
	secs [windowSeconds]int64 // which unix second each bucket holds
	c    [windowSeconds]count
}

func (w *window) add(sec int64, c count) {
	i := sec % windowSeconds
	if w.secs[i] != sec {
		w.secs[i], w.c[i] = sec, count{}
	}
	w.c[i].Requests += c.Requests
	w.c[i].Tokens += c.Tokens
}

func (w *window) sum(now int64) count {
	var s count
	for i := range w.secs {
		if now-w.secs[i] < windowSeconds && w.secs[i] <= now {
			s.Requests += w.c[i].Requests
			s.Tokens += w.c[i].Tokens
		}
	}
	return s
}

// gossip is what an edge tells the others.
type gossip struct {
	Edge    string  `json:"edge"`
	Entries []entry `json:"entries"`
}

type entry struct {
	Obj      string `json:"o"`
	Sec      int64  `json:"s"`
	Requests int64  `json:"r,omitempty"`
	Tokens   int64  `json:"t,omitempty"`
}

// New starts a limiter. nc may be nil (a single edge: local counts only).
func New(nc *nats.Conn, edgeID string, interval time.Duration, log *slog.Logger) (*Limiter, error) {
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	l := &Limiter{nc: nc, edgeID: edgeID, interval: interval, log: log, now: time.Now,
		windows: map[string]*window{}, pending: map[pendingKey]*count{}, stop: make(chan struct{}), done: make(chan struct{})}
	if nc != nil {
		l.connected = nc.IsConnected
		sub, err := nc.Subscribe(events.RateLimitSubjectPrefix+".*", l.receive)
		if err != nil {
			return nil, err
		}
		l.sub = sub
	}
	go l.flushLoop()
	return l, nil
}

// Close stops gossiping.
func (l *Limiter) Close() {
	close(l.stop)
	<-l.done
	if l.sub != nil {
		_ = l.sub.Unsubscribe()
	}
}

// Limits of one object; zero means unlimited.
type Limits struct{ RPM, TPM int64 }

// Allow admits one request for obj under lim and counts it, or returns a
// 429 error. It never does I/O.
func (l *Limiter) Allow(obj string, lim Limits) error {
	if lim.RPM <= 0 && lim.TPM <= 0 {
		return nil
	}
	now := l.now().Unix()
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.windows[obj]
	if w == nil {
		w = &window{}
		l.windows[obj] = w
	}
	s := w.sum(now)
	if lim.RPM > 0 && s.Requests >= lim.RPM {
		return limited("requests", "rpm", obj, s.Requests, lim.RPM, w.retryAfter(now, lim.RPM, requestsOf))
	}
	if lim.TPM > 0 && s.Tokens >= lim.TPM {
		return limited("tokens", "tpm", obj, s.Tokens, lim.TPM, w.retryAfter(now, lim.TPM, tokensOf))
	}
	if err := l.leaseLocked(obj, now, lim); err != nil {
		return err
	}
	l.addLocked(obj, now, count{Requests: 1})
	return nil
}

// AddTokens counts the tokens a response used.
func (l *Limiter) AddTokens(obj string, tokens int64) {
	if tokens <= 0 {
		return
	}
	now := l.now().Unix()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.windows[obj] == nil {
		l.windows[obj] = &window{}
	}
	l.addLocked(obj, now, count{Tokens: tokens})
}

func (l *Limiter) addLocked(obj string, sec int64, c count) {
	l.windows[obj].add(sec, c)
	if cw := l.cut[obj]; cw != nil {
		cw.add(sec, c)
	}
	pk := pendingKey{obj, sec}
	p := l.pending[pk]
	if p == nil {
		p = &count{}
		l.pending[pk] = p
	}
	p.Requests += c.Requests
	p.Tokens += c.Tokens
}

func requestsOf(c count) int64 { return c.Requests }
func tokensOf(c count) int64   { return c.Tokens }

// retryAfter is how many seconds from now until enough of the window's
// oldest buckets have left it for the sum of of() to drop below limit: when
// capacity returns, as far as this edge knows. At least 1, at most the
// window.
func (w *window) retryAfter(now, limit int64, of func(count) int64) int64 {
	type bucket struct{ sec, n int64 }
	var live [windowSeconds]bucket
	n, total := 0, int64(0)
	for i := range w.secs {
		if now-w.secs[i] < windowSeconds && w.secs[i] <= now {
			if v := of(w.c[i]); v > 0 {
				live[n] = bucket{w.secs[i], v}
				n++
				total += v
			}
		}
	}
	b := live[:n]
	sort.Slice(b, func(i, j int) bool { return b[i].sec < b[j].sec })
	for _, x := range b {
		total -= x.n
		if total < limit {
			return max(1, x.sec+windowSeconds-now)
		}
	}
	return windowSeconds
}

// limited names the limit that refused (obj is "key:<sha256>",
// "team:<id>", "team_member:<team id>:<user id>", "org:<id>" or
// "end_user:<id>", kind "rpm" or "tpm"), its value, the count of the current
// one-minute window and when capacity returns; the rule is obj:kind.
func limited(what, kind, obj string, used, limit, retryAfter int64) error {
	e := apierror.RateLimited.With("Rate limit exceeded for %s: %d %s in the current minute >= %s_limit %d (counted across all edges); capacity returns in %d s",
		obj, used, what, kind, limit, retryAfter).By(obj + ":" + kind)
	e.Header = map[string]string{"Retry-After": strconv.FormatInt(retryAfter, 10)}
	return e
}

func (l *Limiter) flushLoop() {
	defer close(l.done)
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			l.flush()
			return
		case <-t.C:
			l.flush()
		}
	}
}

func (l *Limiter) flush() {
	l.mu.Lock()
	if len(l.pending) == 0 {
		l.gcLocked()
		l.mu.Unlock()
		return
	}
	g := gossip{Edge: l.edgeID, Entries: make([]entry, 0, len(l.pending))}
	for k, c := range l.pending {
		g.Entries = append(g.Entries, entry{Obj: k.obj, Sec: k.sec, Requests: c.Requests, Tokens: c.Tokens})
	}
	l.pending = map[pendingKey]*count{}
	l.gcLocked()
	l.mu.Unlock()
	if l.nc == nil {
		return
	}
	data, _ := json.Marshal(g)
	if err := l.nc.Publish(events.RateLimitSubjectPrefix+"."+l.edgeID, data); err != nil && l.log != nil {
		l.log.Warn("rate limit gossip failed; other edges undercount until this edge's window passes", "err", err)
	}
}

// gcLocked drops windows that have been idle for a whole window.
func (l *Limiter) gcLocked() {
	if len(l.windows) < 10_000 {
		return
	}
	now := l.now().Unix()
	for k, w := range l.windows {
		if w.sum(now) == (count{}) {
			delete(l.windows, k)
		}
	}
}

func (l *Limiter) receive(m *nats.Msg) {
	var g gossip
	if json.Unmarshal(m.Data, &g) != nil || g.Edge == l.edgeID {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range g.Entries {
		w := l.windows[e.Obj]
		if w == nil {
			w = &window{}
			l.windows[e.Obj] = w
		}
		w.add(e.Sec, count{Requests: e.Requests, Tokens: e.Tokens})
	}
}

// Usage returns the summed counts of an object over the window (tests,
// /key/info).
func (l *Limiter) Usage(obj string) (requests, tokens int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w := l.windows[obj]; w != nil {
		c := w.sum(l.now().Unix())
		return c.Requests, c.Tokens
	}
	return 0, 0
}
