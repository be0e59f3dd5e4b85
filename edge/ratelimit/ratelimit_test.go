package ratelimit

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

func TestLocalWindow(t *testing.T) {
	l, _ := New(nil, "e1", time.Hour, nil)
	defer l.Close()
	now := time.Unix(1_000_000, 0)
	l.now = func() time.Time { return now }
	for i := range 5 {
		if err := l.Allow("key:a", Limits{RPM: 5}); err != nil {
			t.Fatalf("request %d refused: %v", i, err)
		}
	}
	err := l.Allow("key:a", Limits{RPM: 5})
	var e *apierror.Error
	if !errors.As(err, &e) || !errors.Is(err, apierror.RateLimited) || e.Rule != "key:a:rpm" ||
		e.Message != "Rate limit exceeded for key:a: 5 requests in the current minute >= rpm_limit 5 (counted across all edges); capacity returns in 60 s" {
		t.Fatalf("6th request: %v", err)
	}
	if err := l.Allow("key:b", Limits{RPM: 5}); err != nil {
		t.Fatal("another object must have its own window")
	}
	now = now.Add(59 * time.Second)
	if err := l.Allow("key:a", Limits{RPM: 5}); err == nil {
		t.Fatal("window of 60 s forgot too early")
	}
	now = now.Add(2 * time.Second)
	if err := l.Allow("key:a", Limits{RPM: 5}); err != nil {
		t.Fatalf("window did not slide: %v", err)
	}
	l.AddTokens("key:t", 100)
	if err := l.Allow("key:t", Limits{TPM: 100}); !errors.Is(err, apierror.RateLimited) {
		t.Fatalf("tpm: %v", err)
	}
}

// TestAcrossEdges: two edges share one limit; together they admit the
// limit plus at most what one gossip interval lets through.
func TestAcrossEdges(t *testing.T) {
	s := testutil.RunJetStream(t)
	nc1, _ := testutil.Connect(t, s.ClientURL())
	nc2, _ := testutil.Connect(t, s.ClientURL())
	a, err := New(nc1, "a", 20*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, _ := New(nc2, "b", 20*time.Millisecond, nil)
	defer b.Close()
	const limit = 50
	admitted := 0
	// Each edge admits at its own pace; interleave with waits for gossip
	// so the count is deterministic: after a's 30, b knows them.
	for range 30 {
		if a.Allow("key:x", Limits{RPM: limit}) == nil {
			admitted++
		}
	}
	testutil.Eventually(t, 5*time.Second, func() error {
		if r, _ := b.Usage("key:x"); r != 30 {
			return fmt.Errorf("edge b sees %d of a's 30 requests", r)
		}
		return nil
	})
	for range 40 {
		if b.Allow("key:x", Limits{RPM: limit}) == nil {
			admitted++
		}
	}
	if admitted != limit {
		t.Fatalf("admitted %d across two edges, want exactly %d once gossip arrived", admitted, limit)
	}
	// And a sees b's admissions too.
	testutil.Eventually(t, 5*time.Second, func() error {
		if r, _ := a.Usage("key:x"); r != limit {
			return fmt.Errorf("edge a sees %d", r)
		}
		return nil
	})
	if err := a.Allow("key:x", Limits{RPM: limit}); err == nil {
		t.Fatal("edge a admitted beyond the global limit")
	}
}

func BenchmarkAllow(b *testing.B) {
	l, _ := New(nil, "e", time.Hour, nil)
	defer l.Close()
	b.ReportAllocs()
	for b.Loop() {
		_ = l.Allow("key:bench", Limits{RPM: 1 << 40})
	}
}

// TestRetryAfterSaysWhenCapacityReturns: the 429's Retry-After is the time
// until enough of the oldest admissions leave the window, not always 1.
func TestRetryAfterSaysWhenCapacityReturns(t *testing.T) {
	type step struct {
		at       int   // seconds after the start
		requests int   // admitted at that second
		tokens   int64 // counted at that second
	}
	for _, tc := range []struct {
		name  string
		lim   Limits
		steps []step
		probe int // second of the refused request
		want  string
	}{
		{"all at once", Limits{RPM: 5}, []step{{0, 5, 0}}, 1, "59"},
		{"spread: the oldest leaves first", Limits{RPM: 3}, []step{{0, 1, 0}, {10, 1, 0}, {20, 1, 0}}, 30, "30"},
		{"two buckets must leave", Limits{RPM: 4}, []step{{0, 1, 0}, {5, 1, 0}, {50, 2, 0}}, 50, "10"},
		{"last second of the window", Limits{RPM: 1}, []step{{0, 1, 0}}, 59, "1"},
		{"tokens", Limits{TPM: 100}, []step{{0, 1, 60}, {30, 1, 60}}, 40, "20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := New(nil, "e1", time.Hour, nil)
			defer l.Close()
			start := time.Unix(2_000_000, 0)
			now := start
			l.now = func() time.Time { return now }
			for _, s := range tc.steps {
				now = start.Add(time.Duration(s.at) * time.Second)
				for range s.requests {
					if err := l.Allow("key:a", tc.lim); err != nil {
						t.Fatalf("setup at %d s refused: %v", s.at, err)
					}
				}
				l.AddTokens("key:a", s.tokens)
			}
			now = start.Add(time.Duration(tc.probe) * time.Second)
			err := l.Allow("key:a", tc.lim)
			var e *apierror.Error
			if !errors.As(err, &e) || e.Status != 429 {
				t.Fatalf("want a 429, got %v", err)
			}
			if got := e.Header["Retry-After"]; got != tc.want {
				t.Fatalf("Retry-After %s, want %s (%s)", got, tc.want, e.Message)
			}
			// The promise holds: capacity is back at that time, not before.
			wait, _ := time.ParseDuration(tc.want + "s")
			now = now.Add(wait - time.Second)
			if tc.want != "1" && l.Allow("key:a", tc.lim) == nil {
				t.Fatalf("admitted a second before Retry-After")
			}
			now = start.Add(time.Duration(tc.probe)*time.Second + wait)
			if err := l.Allow("key:a", tc.lim); err != nil {
				t.Fatalf("still refused at Retry-After: %v", err)
			}
		})
	}
}
