package ratelimit

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apierror"
)

// TestPartitionLease: cut from NATS, an edge admits at most LeaseFraction
// of a limit itself, then refuses; reconnected, the shared window rules.
func TestPartitionLease(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lim      Limits
		tokens   int64 // per admitted request
		fraction float64
		want     int
	}{
		{"rpm default share", Limits{RPM: 100}, 0, 0, 10},
		{"rpm half", Limits{RPM: 100}, 0, 0.5, 50},
		{"tpm", Limits{TPM: 1000}, 30, 0, 4}, // 0,30,60,90 tokens admitted; 120 >= 100
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := New(nil, "e1", time.Hour, nil)
			defer l.Close()
			now := time.Unix(1_000_000, 0)
			l.now = func() time.Time { return now }
			l.LeaseFraction = tc.fraction
			connected := false
			l.connected = func() bool { return connected }
			admitted := 0
			for range 200 {
				err := l.Allow("key:a", tc.lim)
				if err != nil {
					if !errors.Is(err, apierror.RateLimited) {
						t.Fatal(err)
					}
					break
				}
				admitted++
				l.AddTokens("key:a", tc.tokens)
			}
			if admitted != tc.want {
				t.Fatalf("admitted %d while cut, want %d", admitted, tc.want)
			}
			connected = true
			if err := l.Allow("key:a", tc.lim); err != nil {
				t.Fatalf("refused after reconnecting: %v", err)
			}
		})
	}
}
