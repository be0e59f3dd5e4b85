package gateway

import (
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/apierror"
	"github.com/gatehouse/gatehouse/edge/proxy"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
)

// deployState is what this edge knows about one deployment's health and
// load. It outlives snapshots (keyed by deployment id), so a cooldown
// survives unrelated policy changes.
type deployState struct {
	inflight  atomic.Int64
	coolUntil atomic.Int64 // unix nanoseconds; 0 or past: healthy

	mu          sync.Mutex // guards the failure window (failures only)
	windowStart int64      // unix nanoseconds of the window's first failure
	fails       int
}

// balancer spreads a model group's requests over its deployments
// (LiteLLM's router: simple-shuffle or least-busy, cooldown after
// allowed_fails failures a minute). The state map is copy-on-write behind
// an atomic pointer: the request path only loads and indexes it; a new
// deployment id takes the mutex once.
type balancer struct {
	mu     sync.Mutex
	states atomic.Pointer[map[string]*deployState]
	now    func() time.Time
}

func newBalancer(now func() time.Time) *balancer {
	b := &balancer{now: now}
	m := map[string]*deployState{}
	b.states.Store(&m)
	return b
}

func (b *balancer) state(id string) *deployState {
	if s := (*b.states.Load())[id]; s != nil {
		return s
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	old := *b.states.Load()
	if s := old[id]; s != nil {
		return s
	}
	// Deleted deployments keep their entry: ids are few and reused by
	// config restarts, and dropping state under a racing request would
	// lose its in-flight count.
	m := make(map[string]*deployState, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	s := &deployState{}
	m[id] = s
	b.states.Store(&m)
	return s
}

// errAllCooling is returned (as an *apierror.Error) when every deployment
// not yet tried is cooling down.
var errAllCooling = errors.New("every deployment of the model group is cooling down")

// pick chooses the next deployment of ds for a request that already
// tried the deployments in tried. A group of one is returned as is, with
// no state: there is nothing to balance or to fall back to, and LiteLLM
// does not cool down a lone deployment either. It returns nil when every
// deployment was tried, and a 429 when the untried ones are all cooling
// down (LiteLLM's "No deployments available").
func (b *balancer) pick(ds []*policy.Deployment, rs *events.RouterSettings, tried []*policy.Deployment) (*policy.Deployment, *deployState, error) {
	if len(ds) == 1 {
		return ds[0], nil, nil
	}
	now := b.now().UnixNano()
	// usable: untried, configured, not cooling. Fall back to misconfigured
	// ones only when nothing else is left, so the client learns why.
	var (
		n, untried, broken int
		soonest            int64 = math.MaxInt64
	)
	for _, d := range ds {
		if wasTried(tried, d) {
			continue
		}
		untried++
		if d.Err != nil {
			broken++
			continue
		}
		if until := b.state(d.ID).coolUntil.Load(); until > now {
			soonest = min(soonest, until)
			continue
		}
		n++
	}
	switch {
	case untried == 0:
		return nil, nil, nil
	case n == 0 && broken > 0:
		for _, d := range ds {
			if !wasTried(tried, d) && d.Err != nil {
				return d, b.state(d.ID), nil
			}
		}
	case n == 0:
		secs := int64(math.Ceil(float64(soonest-now) / float64(time.Second)))
		e := apierror.RateLimited.Wrap(errAllCooling, "No deployments available for model group %s: every deployment failed recently and is cooling down; try again in %d seconds", ds[0].ModelName, secs)
		e.Header = map[string]string{"Retry-After": strconv.FormatInt(secs, 10)}
		return nil, nil, e
	}
	usable := func(d *policy.Deployment) bool {
		return d.Err == nil && !wasTried(tried, d) && b.state(d.ID).coolUntil.Load() <= now
	}
	var d *policy.Deployment
	if rs.Strategy() == events.RoutingLeastBusy {
		d = leastBusy(b, ds, usable)
	} else {
		d = shuffle(ds, usable)
	}
	return d, b.state(d.ID), nil
}

func wasTried(tried []*policy.Deployment, d *policy.Deployment) bool {
	for _, t := range tried {
		if t == d {
			return true
		}
	}
	return false
}

// weightOf is LiteLLM's simple-shuffle weighting: weight if any deployment
// of the group sets it, else rpm, else tpm, else all equal.
func weightOf(ds []*policy.Deployment) func(*policy.Deployment) float64 {
	var w, rpm, tpm bool
	for _, d := range ds {
		w, rpm, tpm = w || d.Weight > 0, rpm || d.RPM > 0, tpm || d.TPM > 0
	}
	switch {
	case w:
		return func(d *policy.Deployment) float64 { return d.Weight }
	case rpm:
		return func(d *policy.Deployment) float64 { return float64(d.RPM) }
	case tpm:
		return func(d *policy.Deployment) float64 { return float64(d.TPM) }
	}
	return func(*policy.Deployment) float64 { return 1 }
}

func shuffle(ds []*policy.Deployment, usable func(*policy.Deployment) bool) *policy.Deployment {
	weight := weightOf(ds)
	var total float64
	var last *policy.Deployment
	count := 0
	for _, d := range ds {
		if usable(d) {
			total += weight(d)
			last = d
			count++
		}
	}
	if total <= 0 {
		// Every usable deployment weighs nothing: pick among them evenly.
		k := rand.IntN(count)
		for _, d := range ds {
			if usable(d) {
				if k == 0 {
					return d
				}
				k--
			}
		}
	}
	r := rand.Float64() * total
	for _, d := range ds {
		if !usable(d) {
			continue
		}
		if r -= weight(d); r < 0 {
			return d
		}
	}
	return last // rounding
}

// leastBusy picks the usable deployment with the fewest requests in
// flight at this edge; ties are broken at random so equal deployments
// share the load.
func leastBusy(b *balancer, ds []*policy.Deployment, usable func(*policy.Deployment) bool) *policy.Deployment {
	start := rand.IntN(len(ds))
	var best *policy.Deployment
	var bestN int64
	for i := range ds {
		d := ds[(start+i)%len(ds)]
		if !usable(d) {
			continue
		}
		if n := b.state(d.ID).inflight.Load(); best == nil || n < bestN {
			best, bestN = d, n
		}
	}
	return best
}

// failed counts a failure of a deployment and cools it down once it
// failed more than allowed_fails times within a minute.
func (b *balancer) failed(s *deployState, rs *events.RouterSettings) {
	if s == nil {
		return
	}
	now := b.now()
	s.mu.Lock()
	if now.UnixNano()-s.windowStart > int64(time.Minute) {
		s.windowStart, s.fails = now.UnixNano(), 0
	}
	s.fails++
	cool := s.fails > rs.Fails()
	if cool {
		s.windowStart, s.fails = 0, 0
	}
	s.mu.Unlock()
	if cool {
		s.coolUntil.Store(now.Add(rs.Cooldown()).UnixNano())
	}
}

// retryable reports whether another deployment may succeed where this one
// failed: the upstream could not be reached, timed out, was rate limited
// or failed (429, 5xx, which includes an upstream that refused the
// deployment's key). The client's own mistakes (400s) are not retried.
func retryable(err error) bool {
	var ae *apierror.Error
	if !errors.As(err, &ae) {
		return false
	}
	return ae.Status == 429 || ae.Status == 408 || ae.Status >= 500
}

// streamFault reports whether a stream that ended with err counts against
// its deployment: the upstream broke it, not the client.
func streamFault(err error) bool {
	return err != nil && !errors.Is(err, proxy.ErrClientGone)
}
