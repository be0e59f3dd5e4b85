package gateway

// The staleness bound: an edge that has not confirmed within MaxStaleness
// that its snapshot holds everything on the policy stream (NATS
// unreachable, a partition) either refuses model requests with 503
// (StaleClosed) or keeps serving and says how stale it is (StaleStatic).
// So a revoked key stops working everywhere within min(propagation,
// MaxStaleness) in closed mode.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/internal/apierror"
)

// Stale modes (Options.StaleMode).
const (
	StaleClosed = "closed"
	StaleStatic = "static"
)

// DefaultMaxStaleness is the edge's default bound: long enough to ride out
// a NATS restart or a leader election, short enough that a revocation
// cannot be outrun for long by cutting an edge off.
const DefaultMaxStaleness = 30 * time.Second

// PolicyStaleHeader, in static mode, says how many seconds (rounded up)
// have passed since the snapshot that decided was last confirmed current.
const PolicyStaleHeader = "x-gatehouse-policy-stale"

var errStale = &apierror.Error{Status: fiber.StatusServiceUnavailable, Type: "service_unavailable", Code: "policy_stale"}

// ValidStaleMode checks a -stale-mode value.
func ValidStaleMode(m string) error {
	if m != StaleClosed && m != StaleStatic {
		return fmt.Errorf("stale mode %q: want %q (refuse with 503) or %q (serve, with the %s header)", m, StaleClosed, StaleStatic, PolicyStaleHeader)
	}
	return nil
}

// confirmEvery is how often the edge asks the stream for its last
// sequence: a few times per bound, so a healthy edge is never near it.
func confirmEvery(bound time.Duration) time.Duration {
	return min(max(bound/4, 100*time.Millisecond), 5*time.Second)
}

// keepConfirmed runs the confirmation loop when a bound is set.
func (g *Gateway) keepConfirmed(ctx context.Context) {
	if g.maxStale > 0 {
		go g.live.KeepConfirmed(ctx, confirmEvery(g.maxStale))
	}
}

// staleness is how long past the bound the snapshot is (0: within it).
func (g *Gateway) staleness() time.Duration {
	if g.maxStale <= 0 {
		return 0
	}
	conf := g.live.Confirmed()
	if conf.IsZero() {
		return 0 // not caught up yet: snapshot() already refuses
	}
	if age := time.Since(conf); age > g.maxStale {
		return age
	}
	return 0
}

// checkStale applies the bound to one request.
func (g *Gateway) checkStale(c *fiber.Ctx) error {
	age := g.staleness()
	if age == 0 {
		return nil
	}
	secs := int64((age + time.Second - 1) / time.Second) // rounded up: a stale answer never says 0
	if g.staleStatic {
		var buf [20]byte
		c.Response().Header.SetBytesV(PolicyStaleHeader, strconv.AppendInt(buf[:0], secs, 10))
		return nil
	}
	e := errStale.With("this gateway has not confirmed its policy is current for %d s (max staleness %s): refusing rather than deciding on a policy that may be out of date; retry, another gateway may serve", secs, g.maxStale)
	e.Header = map[string]string{"Retry-After": "1"}
	return e
}
