package jsonscan

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestSkipValueEndsValidValues: on a valid document SkipValue finds the
// value's end exactly (followed only by whitespace).
func TestSkipValueEndsValidValues(t *testing.T) {
	for _, c := range validCases {
		b := []byte(c)
		if !json.Valid(b) {
			continue
		}
		i := WS(b, 0)
		end := SkipValue(b, i)
		if end < 0 || WS(b, end) != len(b) {
			t.Errorf("SkipValue(%q) = %d", c, end)
		}
	}
}

func FuzzSkipValue(f *testing.F) {
	for _, c := range validCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		i := WS(b, 0)
		end := SkipValue(b, i)
		if end != -1 && (end <= i || end > len(b)) {
			t.Fatalf("SkipValue(%q, %d) = %d", b, i, end)
		}
		if json.Valid(b) && (end < 0 || len(bytes.TrimRight(b, " \t\r\n")) != end) {
			t.Fatalf("SkipValue(%q) = %d on a valid document", b, end)
		}
	})
}
