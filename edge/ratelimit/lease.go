package ratelimit

import (
	"fmt"

	"github.com/gatehouse/gatehouse/internal/apierror"
)

// Partition lease: an edge cut from NATS hears no gossip, so its window
// holds only its own admissions (and the others' up to the cut) and would
// admit up to the whole limit alone, E times the limit across E edges. So
// while cut it also counts its own admissions per object in a window that
// starts at the cut and admits at most LeaseFraction of each limit there;
// through a partition the system admits at most the limit plus
// E × LeaseFraction × the limit per minute. The count is dropped on
// reconnection (the gossip of the cut period is then sent as usual).

const defaultLeaseFraction = 0.1

// leaseLocked refuses a request while cut once this edge's own admissions
// since the cut reached its lease; l.mu held.
func (l *Limiter) leaseLocked(obj string, now int64, lim Limits) error {
	if l.connected == nil || l.connected() {
		if l.cut != nil {
			l.cut = nil // reconnected: the shared window rules again
		}
		return nil
	}
	if l.cut == nil {
		l.cut = map[string]*window{}
	}
	cw := l.cut[obj]
	if cw == nil {
		cw = &window{}
		l.cut[obj] = cw
	}
	f := l.LeaseFraction
	if f <= 0 {
		f = defaultLeaseFraction
	}
	own := cw.sum(now)
	if lim.RPM > 0 && float64(own.Requests) >= f*float64(lim.RPM) {
		return leaseUsed("requests", "rpm", obj, own.Requests, f, lim.RPM)
	}
	if lim.TPM > 0 && float64(own.Tokens) >= f*float64(lim.TPM) {
		return leaseUsed("tokens", "tpm", obj, own.Tokens, f, lim.TPM)
	}
	return nil
}

func leaseUsed(what, kind, obj string, used int64, f float64, limit int64) error {
	e := apierror.RateLimited.With("Rate limit exceeded for %s: this gateway is cut from the other gateways and used its share (%s of %s_limit %d): %d %s in the current minute",
		obj, fmt.Sprintf("%g", f), kind, limit, used, what).By(obj + ":" + kind + ":lease")
	e.Header = map[string]string{"Retry-After": "1"}
	return e
}
