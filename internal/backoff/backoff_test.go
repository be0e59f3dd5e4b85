package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSequence(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		p    Policy
		want []time.Duration
	}{
		{"zero policy uses defaults", Policy{}, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 5000 * ms, 5000 * ms}},
		{"doubles to the cap", Policy{Initial: 50 * ms, Max: time.Second}, []time.Duration{50 * ms, 100 * ms, 200 * ms, 400 * ms, 800 * ms, 1000 * ms, 1000 * ms}},
		{"factor 1 is constant", Policy{Initial: 250 * ms, Factor: 1}, []time.Duration{250 * ms, 250 * ms, 250 * ms}},
		{"factor 3", Policy{Initial: ms, Max: 20 * ms, Factor: 3}, []time.Duration{ms, 3 * ms, 9 * ms, 20 * ms}},
		{"max below initial is raised to it", Policy{Initial: time.Second, Max: ms}, []time.Duration{time.Second, time.Second}},
		{"factor below 1 is the default", Policy{Initial: ms, Factor: 0.5, Max: 8 * ms}, []time.Duration{ms, 2 * ms, 4 * ms, 8 * ms, 8 * ms}},
		{"huge values do not overflow", Policy{Initial: time.Duration(1 << 62), Max: time.Duration(1<<63 - 1)}, []time.Duration{1 << 62, 1<<63 - 1, 1<<63 - 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.p.Start()
			for i, want := range tt.want {
				if got := b.Next(); got != want {
					t.Fatalf("delay %d = %v, want %v", i, got, want)
				}
				if b.Attempts() != i+1 {
					t.Fatalf("Attempts = %d after %d delays", b.Attempts(), i+1)
				}
			}
			b.Reset()
			if got := b.Next(); got != tt.want[0] {
				t.Fatalf("after Reset: %v, want %v", got, tt.want[0])
			}
		})
	}
}

func TestJitterStaysInRange(t *testing.T) {
	tests := []struct {
		jitter   float64
		lo, base time.Duration
	}{
		{0.5, 50 * time.Millisecond, 100 * time.Millisecond},
		{1, 0, 100 * time.Millisecond},
		{2, 0, 100 * time.Millisecond}, // clamped to 1
		{-1, 100 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		p := Policy{Initial: tt.base, Factor: 1, Jitter: tt.jitter}
		b := p.Start()
		seen := map[time.Duration]bool{}
		for range 200 {
			d := b.Next()
			if d < tt.lo || d > tt.base {
				t.Fatalf("jitter %v: delay %v outside [%v, %v]", tt.jitter, d, tt.lo, tt.base)
			}
			seen[d] = true
		}
		if spread := tt.lo != tt.base; spread && len(seen) < 10 {
			t.Fatalf("jitter %v: only %d distinct delays in 200", tt.jitter, len(seen))
		}
	}
}

func TestSleep(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		d    time.Duration
		want error
		max  time.Duration
	}{
		{"elapses", context.Background(), 5 * time.Millisecond, nil, time.Second},
		{"zero returns at once", context.Background(), 0, nil, 100 * time.Millisecond},
		{"cancelled context wins over a long wait", cancelled, time.Hour, context.Canceled, 100 * time.Millisecond},
		{"cancelled context wins over zero", cancelled, 0, context.Canceled, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Now()
			if err := Sleep(tt.ctx, tt.d); !errors.Is(err, tt.want) {
				t.Fatalf("Sleep = %v, want %v", err, tt.want)
			}
			if el := time.Since(t0); el < tt.d && tt.want == nil || el > tt.max {
				t.Fatalf("took %v", el)
			}
		})
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	b := Policy{Initial: time.Hour}.Start()
	t0 := time.Now()
	if err := b.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v", err)
	}
	if el := time.Since(t0); el > 5*time.Second {
		t.Fatalf("Wait outlived its context by %v", el)
	}
}

func TestRetry(t *testing.T) {
	errT, errF := errors.New("transient"), errors.New("final")
	fast := Policy{Initial: time.Microsecond, Max: time.Millisecond}
	tests := []struct {
		name      string
		results   []error // f's results in order; the last repeats
		retryable func(error) bool
		timeout   time.Duration
		want      error
		calls     int // -1: at least 2, unknown
	}{
		{"first try", []error{nil}, nil, time.Minute, nil, 1},
		{"after transient failures", []error{errT, errT, nil}, nil, time.Minute, nil, 3},
		{"final error stops", []error{errT, errF, nil}, func(err error) bool { return err == errT }, time.Minute, errF, 2},
		{"context ends", []error{errT}, nil, 20 * time.Millisecond, context.DeadlineExceeded, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			calls, logged := 0, 0
			err := Retry(ctx, fast, func(context.Context) error {
				r := tt.results[min(calls, len(tt.results)-1)]
				calls++
				return r
			}, tt.retryable, func(err error, attempt int, wait time.Duration) {
				logged++
				if attempt != logged || wait <= 0 || err == nil {
					t.Errorf("onRetry(%v, %d, %v) at failure %d", err, attempt, wait, logged)
				}
			})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Retry = %v, want %v", err, tt.want)
			}
			if tt.calls >= 0 && calls != tt.calls {
				t.Fatalf("f called %d times, want %d", calls, tt.calls)
			}
			if tt.calls < 0 && calls < 2 {
				t.Fatalf("f called %d times, want retries", calls)
			}
		})
	}
}

func TestJitter(t *testing.T) {
	tests := []struct {
		d      time.Duration
		frac   float64
		lo, hi time.Duration
	}{
		{time.Second, 0, time.Second, time.Second},
		{time.Second, 0.25, 750 * time.Millisecond, time.Second},
		{time.Second, 1, 0, time.Second},
		{time.Second, 7, 0, time.Second},
		{0, 1, 0, 0},
		{-time.Second, 1, -time.Second, -time.Second},
	}
	for _, tt := range tests {
		for range 100 {
			if got := Jitter(tt.d, tt.frac); got < tt.lo || got > tt.hi {
				t.Fatalf("Jitter(%v, %v) = %v, want in [%v, %v]", tt.d, tt.frac, got, tt.lo, tt.hi)
			}
		}
	}
}
