package gateway

import (
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/edge/proxy"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/cow"
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

// loadBalancer spreads a model group's requests over its deployments, as
// LiteLLM's router does (simple-shuffle or least-busy, cooldown after
// allowed_fails failures a minute), following the snapshot's compiled
// policy.Routing. The state map is copy-on-write (cow.Map): the request
// path only loads and indexes it; a new deployment id takes a mutex once.
type loadBalancer struct {
	states cow.Map[string, *deployState]
	now    func() time.Time
}

func newLoadBalancer(now func() time.Time) *loadBalancer {
	return &loadBalancer{now: now}
}

// state returns the deployment's state. Deleted deployments keep their
// entry: ids are few and reused by config restarts, and dropping state
// under a racing request would lose its in-flight count.
func (b *loadBalancer) state(id string) *deployState {
	if s, ok := b.states.Load(id); ok {
		return s
	}
	return b.states.Add(id, newDeployState)
}

func newDeployState() *deployState { return &deployState{} }

// errAllCooling is returned (as an *apierror.Error) when every deployment
// not yet tried is cooling down.
var errAllCooling = errors.New("every deployment of the model group is cooling down")

// pick chooses the next deployment of ds for a request that already
// tried the deployments in tried. A group of one is returned as is, with
// no state: there is nothing to balance or to fall back to, and LiteLLM
// does not cool down a lone deployment either. It returns nil when every
// deployment was tried, and a 429 when the untried ones are all cooling
// down (LiteLLM's "No deployments available").
func (b *loadBalancer) pick(ds []*policy.Deployment, rt *policy.Routing, tried []*policy.Deployment) (*policy.Deployment, *deployState, error) {
	if len(ds) == 1 {
		return ds[0], nil, nil
	}
	now := b.now().UnixNano()
	// Candidates: untried, configured, not cooling. Misconfigured ones are
	// returned only when nothing else is left, so the client learns why.
	var (
		candBuf [16]candidate
		cands   = candBuf[:0]
		untried int
		broken  *policy.Deployment
		soonest int64 = math.MaxInt64
	)
	for _, d := range ds {
		if wasTried(tried, d) {
			continue
		}
		untried++
		if d.Err != nil {
			if broken == nil {
				broken = d
			}
			continue
		}
		st := b.state(d.ID)
		if until := st.coolUntil.Load(); until > now {
			soonest = min(soonest, until)
			continue
		}
		cands = append(cands, candidate{d, st})
	}
	switch {
	case untried == 0:
		return nil, nil, nil
	case len(cands) == 0 && broken != nil:
		return broken, b.state(broken.ID), nil
	case len(cands) == 0:
		secs := int64(math.Ceil(float64(soonest-now) / float64(time.Second)))
		e := apierror.RateLimited.Wrap(errAllCooling, "No deployments available for model group %s: every deployment failed recently and is cooling down; try again in %d seconds", ds[0].ModelName, secs)
		e.Header = map[string]string{"Retry-After": strconv.FormatInt(secs, 10)}
		return nil, nil, e
	}
	var c candidate
	if rt.Strategy == policy.LeastBusy {
		c = leastBusy(cands)
	} else {
		c = shuffle(ds, cands)
	}
	return c.d, c.st, nil
}

type candidate struct {
	d  *policy.Deployment
	st *deployState
}

func wasTried(tried []*policy.Deployment, d *policy.Deployment) bool {
	for _, t := range tried {
		if t == d {
			return true
		}
	}
	return false
}

// weightMode is LiteLLM's simple-shuffle weighting, decided over the
// whole group: weight if any deployment sets it, else rpm, else tpm, else
// all equal.
type weightMode int

const (
	equal weightMode = iota
	byWeight
	byRPM
	byTPM
)

func modeOf(ds []*policy.Deployment) weightMode {
	m := equal
	for _, d := range ds {
		switch {
		case d.Weight > 0:
			return byWeight
		case d.RPM > 0:
			m = byRPM
		case d.TPM > 0 && m == equal:
			m = byTPM
		}
	}
	return m
}

func (m weightMode) of(d *policy.Deployment) float64 {
	switch m {
	case byWeight:
		return d.Weight
	case byRPM:
		return float64(d.RPM)
	case byTPM:
		return float64(d.TPM)
	}
	return 1
}

func shuffle(ds []*policy.Deployment, cands []candidate) candidate {
	mode := modeOf(ds)
	var total float64
	for _, c := range cands {
		total += mode.of(c.d)
	}
	if total <= 0 {
		// Every candidate weighs nothing: pick among them evenly.
		return cands[rand.IntN(len(cands))]
	}
	r := rand.Float64() * total
	for _, c := range cands {
		if r -= mode.of(c.d); r < 0 {
			return c
		}
	}
	return cands[len(cands)-1] // rounding
}

// leastBusy picks the candidate with the fewest requests in flight at
// this edge; ties are broken at random so equal deployments share the
// load.
func leastBusy(cands []candidate) candidate {
	start := rand.IntN(len(cands))
	best := cands[start]
	bestN := best.st.inflight.Load()
	for i := 1; i < len(cands); i++ {
		c := cands[(start+i)%len(cands)]
		if n := c.st.inflight.Load(); n < bestN {
			best, bestN = c, n
		}
	}
	return best
}

// failed counts a failure of a deployment and cools it down once it
// failed more than allowed_fails times within a minute.
func (b *loadBalancer) failed(s *deployState, rt *policy.Routing) {
	if s == nil {
		return
	}
	now := b.now()
	s.mu.Lock()
	if now.UnixNano()-s.windowStart > int64(time.Minute) {
		s.windowStart, s.fails = now.UnixNano(), 0
	}
	s.fails++
	cool := s.fails > rt.AllowedFails
	if cool {
		s.windowStart, s.fails = 0, 0
	}
	s.mu.Unlock()
	if cool {
		s.coolUntil.Store(now.Add(rt.Cooldown).UnixNano())
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
