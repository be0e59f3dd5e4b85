package jsonw

import (
	"bytes"
	"encoding/json"
	"testing"
)

// encodingJSON is the reference: what encoding/json writes for s.
func encodingJSON(t testing.TB, s string, html bool) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(html)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

var cases = []string{
	"", "plain", `q"uote\back`, "\x00\x01\b\f\n\r\t\x1f\x7f",
	"<script>&amp;</script>", "é ü 日本", "bad\xffutf8\xc3", "\xe2\x80",
	"line\u2028para\u2029end", "\U0001F600", "mixed <\"é\u2028\xff\">",
}

func TestAppendStringIsEncodingJSON(t *testing.T) {
	for _, html := range []bool{true, false} {
		for _, s := range cases {
			got := string(AppendString([]byte("x"), s, html))
			if want := "x" + encodingJSON(t, s, html); got != want {
				t.Errorf("html=%v %q: got %s, want %s", html, s, got, want)
			}
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range cases {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, html bool) {
		if got, want := string(AppendString(nil, s, html)), encodingJSON(t, s, html); got != want {
			t.Fatalf("%q html=%v: got %s, want %s", s, html, got, want)
		}
	})
}

func TestAppendStringAllocs(t *testing.T) {
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() {
		buf = AppendString(buf[:0], cases[len(cases)-1], true)
	}); n != 0 {
		t.Fatalf("%v allocs, want 0", n)
	}
}
