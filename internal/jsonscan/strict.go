package jsonscan

import (
	"encoding/binary"
	"strconv"
	"time"
	"unicode/utf8"
)

// Strict reads a JSON text piece by piece, the caller saying what comes
// next. Every method reports false on anything other than what it expects
// and then leaves the position undefined: the caller gives up on the text
// (and falls back on json.Unmarshal) rather than try another reading.
type Strict struct {
	b   []byte
	i   int
	buf []byte // a string's unescaped bytes, reused
}

// NewStrict returns a Strict reading b from its start.
func NewStrict(b []byte) Strict { return Strict{b: b} }

// Done reports whether the whole text has been read.
func (s *Strict) Done() bool { return s.i == len(s.b) }

// Has reports whether lit comes next, without reading it.
func (s *Strict) Has(lit string) bool {
	return len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit
}

// Lit reads lit, which must come next byte for byte.
func (s *Strict) Lit(lit string) bool {
	if !s.Has(lit) {
		return false
	}
	s.i += len(lit)
	return true
}

// RawStr returns a string's bytes, without quotes, when they are its
// value as they stand: no escape, no control character, valid UTF-8
// (json.Unmarshal would replace invalid bytes). The bytes are b's.
func (s *Strict) RawStr() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start, ascii := s.i+1, true
	for j := start; j < len(s.b); j++ {
		// Eight plain bytes at a time: the strings of a message are
		// most of its bytes, and nearly all plain ASCII.
		for j+8 <= len(s.b) && plain8(binary.LittleEndian.Uint64(s.b[j:])) {
			j += 8
		}
		if j == len(s.b) {
			break
		}
		switch c := s.b[j]; {
		case c == '"':
			v := s.b[start:j]
			if !ascii && !utf8.Valid(v) {
				return nil, false
			}
			s.i = j + 1
			return v, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

const (
	ones = 0x0101010101010101
	high = 0x8080808080808080
)

// plain8 reports whether the eight bytes of w are all ASCII and none is a
// quote, a backslash or a control byte (a byte of w^c is zero where w has
// c; with no high bit set, subtracting borrows into a byte's high bit only
// from a byte below the bound).
func plain8(w uint64) bool {
	return (w|(w-ones*0x20)|((w^ones*'"')-ones)|((w^ones*'\\')-ones))&high == 0
}

// strBytes returns a string's value: b's own bytes when it has no escape,
// else the unescaped bytes in s.buf (valid until the next string).
func (s *Strict) strBytes() ([]byte, bool) {
	start := s.i
	if v, ok := s.RawStr(); ok {
		return v, true
	}
	s.i = start
	return s.unescape()
}

// unescape decodes a string with escapes: those encoding/json and jsonw
// write (\" \\ \/ \b \f \n \r \t, \uXXXX outside the surrogates) become
// their runes. A surrogate escape (json.Unmarshal pairs them or writes
// U+FFFD), an unknown escape, a control byte or invalid UTF-8 is refused.
func (s *Strict) unescape() ([]byte, bool) {
	b, j := s.b, s.i
	if j >= len(b) || b[j] != '"' {
		return nil, false
	}
	j++
	out, run := s.buf[:0], j // bytes b[run:j] are yet to be copied to out
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			out = append(out, b[run:j]...)
			if !utf8.Valid(out) {
				return nil, false
			}
			s.buf, s.i = out, j+1
			return out, true
		case c < 0x20:
			return nil, false
		case c != '\\':
			j++
			continue
		}
		out = append(out, b[run:j]...)
		if j+1 >= len(b) {
			return nil, false
		}
		switch e := b[j+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(b[j+2:])
			if !ok || (r >= 0xD800 && r <= 0xDFFF) {
				return nil, false
			}
			out = utf8.AppendRune(out, r)
			j += 4
		default:
			return nil, false
		}
		j += 2
		run = j
	}
	return nil, false
}

// hex4 reads the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// Str reads a string into dst.
func (s *Strict) Str(dst *string) bool {
	v, ok := s.strBytes()
	if ok {
		*dst = string(v)
	}
	return ok
}

// StrLike reads a string into dst, which is like itself, not a copy, when
// the value equals it: a decoder passes the same field of the previous
// record, and values that repeat (a model, an edge id) cost no allocation.
func (s *Strict) StrLike(dst *string, like string) bool {
	v, ok := s.strBytes()
	if !ok {
		return false
	}
	if string(v) == like {
		*dst = like
	} else {
		*dst = string(v)
	}
	return true
}

// OptStr reads `<name>"value"` if name comes next (an omitempty field),
// and leaves dst alone if not.
func (s *Strict) OptStr(name string, dst *string) bool {
	if !s.Has(name) {
		return true
	}
	s.i += len(name)
	return s.Str(dst)
}

// OptStrLike is OptStr with StrLike's reuse of like.
func (s *Strict) OptStrLike(name string, dst *string, like string) bool {
	if !s.Has(name) {
		return true
	}
	s.i += len(name)
	return s.StrLike(dst, like)
}

// List reads null, [] or an array of strings, as json.Unmarshal fills a
// nil []string: nil, empty non-nil, or the strings.
func (s *Strict) List(dst *[]string) bool {
	if s.Lit(`null`) {
		return true
	}
	if !s.Lit(`[`) {
		return false
	}
	l := []string{}
	if s.Lit(`]`) {
		*dst = l
		return true
	}
	for {
		var v string
		if !s.Str(&v) {
			return false
		}
		l = append(l, v)
		if s.Lit(`]`) {
			*dst = l
			return true
		}
		if !s.Lit(`,`) {
			return false
		}
	}
}

// Bool reads true or false.
func (s *Strict) Bool(dst *bool) bool {
	switch {
	case s.Lit(`true`):
		*dst = true
	case s.Lit(`false`):
		*dst = false
	default:
		return false
	}
	return true
}

// Time reads a string with time.Time's own UnmarshalJSON, as json does
// (which sees the string's bytes as they stand, escapes and all: a string
// with an escape is refused, and json.Unmarshal fails on it too).
func (s *Strict) Time(dst *time.Time) bool {
	start := s.i
	if _, ok := s.RawStr(); !ok {
		return false
	}
	return dst.UnmarshalJSON(s.b[start:s.i]) == nil
}

// TimePtr reads null (dst left nil) or a time.
func (s *Strict) TimePtr(dst **time.Time) bool {
	if s.Lit(`null`) {
		return true
	}
	t := new(time.Time)
	if !s.Time(t) {
		return false
	}
	*dst = t
	return true
}

// Number returns a JSON number's text: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
// (integral: no fraction or exponent allowed).
func (s *Strict) Number(integral bool) ([]byte, bool) {
	b, j := s.b, s.i
	digits := func() bool {
		n := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j > n
	}
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case !digits():
		return nil, false
	}
	if !integral {
		if j < len(b) && b[j] == '.' {
			j++
			if !digits() {
				return nil, false
			}
		}
		if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
			j++
			if j < len(b) && (b[j] == '+' || b[j] == '-') {
				j++
			}
			if !digits() {
				return nil, false
			}
		}
	}
	v := b[s.i:j]
	s.i = j
	return v, true
}

// Float reads a number into dst as json.Unmarshal does (strconv.ParseFloat;
// one out of float64's range is refused).
func (s *Strict) Float(dst *float64) bool {
	v, ok := s.Number(false)
	if !ok {
		return false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return false
	}
	*dst = f
	return true
}

// FloatPtr reads null (dst left nil) or a number.
func (s *Strict) FloatPtr(dst **float64) bool {
	if s.Lit(`null`) {
		return true
	}
	var f float64
	if !s.Float(&f) {
		return false
	}
	*dst = &f
	return true
}

// Int64 reads an integer (no fraction or exponent, which json.Unmarshal
// refuses for an integer field) that fits an int64.
func (s *Strict) Int64(dst *int64) bool {
	v, ok := s.Number(true)
	if !ok {
		return false
	}
	// Up to 18 digits cannot overflow: add them up rather than call
	// strconv, a third of the cost of a typical field.
	if d := v; len(d) > 0 && len(d) <= 18+1 {
		neg := d[0] == '-'
		if neg {
			d = d[1:]
		}
		if len(d) <= 18 {
			var n int64
			for _, c := range d {
				n = n*10 + int64(c-'0')
			}
			if neg {
				n = -n
			}
			*dst = n
			return true
		}
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return false
	}
	*dst = n
	return true
}

// Int reads an integer that fits an int.
func (s *Strict) Int(dst *int) bool {
	var n int64
	if !s.Int64(&n) || int64(int(n)) != n {
		return false
	}
	*dst = int(n)
	return true
}

// Int64Ptr reads null (dst left nil) or an integer.
func (s *Strict) Int64Ptr(dst **int64) bool {
	if s.Lit(`null`) {
		return true
	}
	var n int64
	if !s.Int64(&n) {
		return false
	}
	*dst = &n
	return true
}

// Uint64 reads a non-negative integer that fits a uint64 (json.Unmarshal
// refuses a sign, even on -0).
func (s *Strict) Uint64(dst *uint64) bool {
	if s.i < len(s.b) && s.b[s.i] == '-' {
		return false
	}
	var n int64
	start := s.i
	if s.Int64(&n) {
		*dst = uint64(n)
		return true
	}
	s.i = start
	v, ok := s.Number(true)
	if !ok {
		return false
	}
	u, err := strconv.ParseUint(string(v), 10, 64)
	if err != nil {
		return false
	}
	*dst = u
	return true
}
