package gateway

import (
	"sync"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// inFlight counts each limited key's requests in flight at this edge, for
// its max_parallel_requests. The count is per edge, as LiteLLM's is per
// instance without Redis: a key behind n edges may have n times its limit
// in flight. A request holds its slot until its answer is complete (a
// stream's end, not the handler's return).
type inFlight struct {
	counts sync.Map // key hash -> *atomic.Int64
}

// acquire takes a slot for k, or refuses the request with a 429 when k
// already has max_parallel_requests in flight here. It returns the
// counter to release, nil when k has no limit.
func (f *inFlight) acquire(k *events.Key) (*atomic.Int64, error) {
	if k == nil || k.MaxParallelRequests == nil {
		return nil, nil
	}
	limit := *k.MaxParallelRequests
	v, ok := f.counts.Load(k.Token)
	if !ok {
		v, _ = f.counts.LoadOrStore(k.Token, new(atomic.Int64))
	}
	n := v.(*atomic.Int64)
	if in := n.Add(1); in > limit {
		n.Add(-1)
		return nil, apierror.RateLimited.With("Max parallel request limit reached for key:%s: %d requests in flight at this edge >= max_parallel_requests %d",
			k.Token, in-1, limit).By(policy.Rule("key", k.Token, "max_parallel_requests"))
	}
	return n, nil
}

// release gives a slot back; nil (no limit) is a no-op.
func release(n *atomic.Int64) {
	if n != nil {
		n.Add(-1)
	}
}
