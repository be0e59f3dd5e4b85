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
	if err := l.Allow("key:a", Limits{RPM: 5}); !errors.Is(err, apierror.RateLimited) {
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
