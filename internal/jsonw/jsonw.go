// Package jsonw owns the one JSON string escaper for code that writes JSON
// by hand, without reflection, on the request path (the edge's spend
// events, the proxy's model rewrite and mock answers): encoding/json's
// escaping, byte for byte, with its HTML switch.
package jsonw

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// safe and htmlSafe say which ASCII bytes are written as they are: a
// table, so the common byte costs one load whichever mode is asked for.
var safe, htmlSafe = func() (s, h [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		s[c] = c != '"' && c != '\\'
		h[c] = s[c] && c != '<' && c != '>' && c != '&'
	}
	return s, h
}()

// AppendString appends s to b as a JSON string, as encoding/json writes
// it: quotes, backslash and control bytes escaped, invalid UTF-8 as
// U+FFFD and U+2028/U+2029 escaped, so the output is valid JSON and safe
// in JavaScript. html also escapes <, > and & (json.Marshal's default;
// false is json.Encoder with SetEscapeHTML(false)).
func AppendString(b []byte, s string, html bool) []byte {
	tbl := &safe
	if html {
		tbl = &htmlSafe
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if tbl[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(b, s[start:]...), '"')
}
