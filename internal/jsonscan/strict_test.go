package jsonscan

import (
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
	"unsafe"
)

// readers are the primitives that read one value, each with the type
// json.Unmarshal would fill for it. checkStrict decodes a text with each.
var readers = []struct {
	name string
	read func(*Strict) (any, bool)
	zero func() any // a pointer for json.Unmarshal
}{
	{"Str", func(s *Strict) (any, bool) { var v string; ok := s.Str(&v); return v, ok }, func() any { return new(string) }},
	{"StrLike", func(s *Strict) (any, bool) { var v string; ok := s.StrLike(&v, "like"); return v, ok }, func() any { return new(string) }},
	{"List", func(s *Strict) (any, bool) { var v []string; ok := s.List(&v); return v, ok }, func() any { return new([]string) }},
	{"Bool", func(s *Strict) (any, bool) { var v bool; ok := s.Bool(&v); return v, ok }, func() any { return new(bool) }},
	{"Time", func(s *Strict) (any, bool) { var v time.Time; ok := s.Time(&v); return v, ok }, func() any { return new(time.Time) }},
	{"TimePtr", func(s *Strict) (any, bool) { var v *time.Time; ok := s.TimePtr(&v); return v, ok }, func() any { return new(*time.Time) }},
	{"Float", func(s *Strict) (any, bool) { var v float64; ok := s.Float(&v); return v, ok }, func() any { return new(float64) }},
	{"FloatPtr", func(s *Strict) (any, bool) { var v *float64; ok := s.FloatPtr(&v); return v, ok }, func() any { return new(*float64) }},
	{"Int64", func(s *Strict) (any, bool) { var v int64; ok := s.Int64(&v); return v, ok }, func() any { return new(int64) }},
	{"Int64Ptr", func(s *Strict) (any, bool) { var v *int64; ok := s.Int64Ptr(&v); return v, ok }, func() any { return new(*int64) }},
	{"Int", func(s *Strict) (any, bool) { var v int; ok := s.Int(&v); return v, ok }, func() any { return new(int) }},
	{"Uint64", func(s *Strict) (any, bool) { var v uint64; ok := s.Uint64(&v); return v, ok }, func() any { return new(uint64) }},
}

// checkStrict: whatever a primitive reads, as the whole text, is what
// json.Unmarshal stores for it. It returns the primitives that read it.
func checkStrict(t *testing.T, text []byte) (read []string) {
	t.Helper()
	for _, r := range readers {
		s := NewStrict(text)
		got, ok := r.read(&s)
		if !ok || !s.Done() {
			continue
		}
		read = append(read, r.name)
		want := r.zero()
		if err := json.Unmarshal(text, want); err != nil {
			t.Fatalf("%s read %q as %#v; json.Unmarshal fails: %v", r.name, text, got, err)
		}
		if w := reflect.ValueOf(want).Elem().Interface(); !reflect.DeepEqual(got, w) {
			t.Fatalf("%s read %q as %#v; json.Unmarshal gives %#v", r.name, text, got, w)
		}
	}
	return read
}

// TestStrict: what each primitive reads and what it refuses.
func TestStrict(t *testing.T) {
	for _, tc := range []struct {
		text string
		read []string // the primitives that read it
	}{
		{`"plain"`, []string{"Str", "StrLike"}},
		{`"like"`, []string{"Str", "StrLike"}},
		{`""`, []string{"Str", "StrLike"}},
		{`"é漢字🙂 and a longer tail of plain ASCII"`, []string{"Str", "StrLike"}},
		{`"\" \\ \/ \b \f \n \r \t \u0000 \u001f \u003c\u003e\u0026 \u00e9 \u2028\u2029 \ufffd \uABCD"`, []string{"Str", "StrLike"}},
		{`"\ud83d\ude00"`, nil},   // a surrogate pair: json.Unmarshal's to join
		{`"\ud83d"`, nil},         // a lone surrogate: json.Unmarshal writes U+FFFD
		{`"\x41"`, nil},           // not a JSON escape
		{`"\'"`, nil},             // nor this
		{`"\u12"`, nil},           // short
		{`"\u12g4"`, nil},         // not hex
		{"\"a\xffb\"", nil},       // invalid UTF-8: json.Unmarshal writes U+FFFD
		{"\"\xed\xa0\x80\"", nil}, // an encoded surrogate, likewise
		{"\"\\n\xff\"", nil},      // and beside an escape
		{"\"tab\tin\"", nil},      // a control byte
		{"\"0123456789\x01\"", nil},
		{`"unterminated`, nil},
		{`"unterminated\"`, nil},
		{`"a" `, nil},
		{` "a"`, nil},
		{`null`, []string{"List", "TimePtr", "FloatPtr", "Int64Ptr"}},
		{`[]`, []string{"List"}},
		{`["a","\u00e9"]`, []string{"List"}},
		{`["a",]`, nil},
		{`["a" ,"b"]`, nil},
		{`[1]`, nil},
		{`true`, []string{"Bool"}},
		{`false`, []string{"Bool"}},
		{`True`, nil},
		{`"2026-12-04T19:30:01.123456789Z"`, []string{"Str", "StrLike", "Time", "TimePtr"}},
		{`"2026-12-04T19:30:01+02:00"`, []string{"Str", "StrLike", "Time", "TimePtr"}},
		{`"2026-02-30T19:30:01Z"`, []string{"Str", "StrLike"}},
		{`"2026-12-04T19:30:01\u002e1Z"`, []string{"Str", "StrLike"}}, // json gives time's UnmarshalJSON the raw bytes
		{`0`, []string{"Float", "FloatPtr", "Int64", "Int64Ptr", "Int", "Uint64"}},
		{`-0`, []string{"Float", "FloatPtr", "Int64", "Int64Ptr", "Int"}}, // json refuses a sign for an unsigned field
		{`123456789012345678`, []string{"Float", "FloatPtr", "Int64", "Int64Ptr", "Int", "Uint64"}},
		{`-9223372036854775808`, []string{"Float", "FloatPtr", "Int64", "Int64Ptr", "Int"}},
		{`9223372036854775807`, []string{"Float", "FloatPtr", "Int64", "Int64Ptr", "Int", "Uint64"}},
		{`9223372036854775808`, []string{"Float", "FloatPtr", "Uint64"}},
		{`18446744073709551615`, []string{"Float", "FloatPtr", "Uint64"}},
		{`18446744073709551616`, []string{"Float", "FloatPtr"}},
		{`1.5`, []string{"Float", "FloatPtr"}},
		{`-2.5e-9`, []string{"Float", "FloatPtr"}},
		{`1E+21`, []string{"Float", "FloatPtr"}},
		{`1e400`, nil}, // out of float64's range: json.Unmarshal fails
		{`01`, nil},
		{`+1`, nil},
		{`1.`, nil},
		{`.5`, nil},
		{`1e`, nil},
		{`-`, nil},
		{`1.0`, []string{"Float", "FloatPtr"}}, // json refuses a fraction for an integer field
		{``, nil},
	} {
		if got := checkStrict(t, []byte(tc.text)); !reflect.DeepEqual(got, tc.read) {
			t.Errorf("%s: read by %v, want %v", tc.text, got, tc.read)
		}
	}
}

// TestStrLikeShares: a value equal to like is like itself.
func TestStrLikeShares(t *testing.T) {
	like := string([]byte("edge-1"))
	s := NewStrict([]byte(`"edge-1"`))
	var v string
	if !s.StrLike(&v, like) || unsafe.StringData(v) != unsafe.StringData(like) {
		t.Fatalf("StrLike = %q, not like", v)
	}
}

// TestPlain8: the word test agrees with the byte test, for every byte
// value in every position among plain neighbours.
func TestPlain8(t *testing.T) {
	plain := func(c byte) bool { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' }
	r := rand.New(rand.NewPCG(1, 2))
	for pos := range 8 {
		for c := range 256 {
			var b [8]byte
			for i := range b {
				b[i] = byte(0x20 + r.IntN(0x60))
				for !plain(b[i]) {
					b[i] = byte(0x20 + r.IntN(0x60))
				}
			}
			b[pos] = byte(c)
			if got := plain8(binary.LittleEndian.Uint64(b[:])); got != plain(byte(c)) {
				t.Fatalf("plain8(%q) = %v", b, got)
			}
		}
	}
	for range 100000 {
		var b [8]byte
		want := true
		for i := range b {
			b[i] = byte(r.IntN(256))
			want = want && plain(b[i])
		}
		if got := plain8(binary.LittleEndian.Uint64(b[:])); got != want {
			t.Fatalf("plain8(%q) = %v", b, got)
		}
	}
}

// FuzzStrict: go test ./internal/jsonscan -run '^$' -fuzz FuzzStrict -fuzztime 30s
func FuzzStrict(f *testing.F) {
	for _, s := range []string{`"a\u00e9\n"`, `["a"]`, `null`, `true`, `-12.5e3`, `18446744073709551615`, `"2026-12-04T19:30:01.1Z"`, "\"0123456789abcdef\xc3\xa9\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) { checkStrict(t, text) })
}
