package verifier

import (
	"errors"
	"strings"
	"testing"
)

// TestScanObjectDepth: the top object is level 0, so maxJSONDepth+1
// nested containers pass and one more is refused, objects and arrays
// alike.
func TestScanObjectDepth(t *testing.T) {
	nest := func(levels int, open, close string) []byte {
		return []byte(`{"a":` + strings.Repeat(open, levels-1) + "1" + strings.Repeat(close, levels-1) + "}")
	}
	for _, c := range []struct{ open, close string }{{`{"a":`, "}"}, {"[", "]"}} {
		if err := scanObject(nest(maxJSONDepth+1, c.open, c.close), nil); err != nil {
			t.Errorf("%d levels of %q: %v", maxJSONDepth+1, c.open, err)
		}
		if err := scanObject(nest(maxJSONDepth+2, c.open, c.close), nil); !errors.Is(err, errJSONDepth) {
			t.Errorf("%d levels of %q: %v, want %v", maxJSONDepth+2, c.open, err, errJSONDepth)
		}
	}
}
