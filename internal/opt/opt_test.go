package opt

import (
	"testing"
	"time"
)

func TestPositive(t *testing.T) {
	tests := []struct {
		in, def, want time.Duration
	}{
		{0, time.Second, time.Second},
		{-1, time.Second, time.Second},
		{time.Millisecond, time.Second, time.Millisecond},
	}
	for _, tt := range tests {
		v := tt.in
		Positive(&v, tt.def)
		if v != tt.want {
			t.Errorf("Positive(%v, %v) = %v, want %v", tt.in, tt.def, v, tt.want)
		}
	}
	n := 0
	Positive(&n, 7)
	if n != 7 {
		t.Errorf("int: %d", n)
	}
}

func TestOr(t *testing.T) {
	tests := []struct{ in, def, want string }{
		{"", "gatehouse", "gatehouse"},
		{"x", "gatehouse", "x"},
	}
	for _, tt := range tests {
		v := tt.in
		Or(&v, tt.def)
		if v != tt.want {
			t.Errorf("Or(%q, %q) = %q, want %q", tt.in, tt.def, v, tt.want)
		}
	}
}
