package verifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Why a hand-written scanner: encoding/json (and jwx) silently keep the
// last of two members with the same name, while other JWT libraries keep
// the first. {"sub":"alice","sub":"admin"} then means different things to
// different components (RFC 8725 §3.x, "JSON parsing differentials"), so a
// header or payload with a duplicate name, at any depth, is refused. The
// scan is one pass over the bytes and does not allocate for ordinary
// objects, so it costs far less than the decode that follows.

const maxJSONDepth = 32

var (
	errJSONSyntax    = errors.New("malformed JSON")
	errJSONDuplicate = errors.New("duplicate member name")
	errJSONDepth     = errors.New("JSON nested too deeply")
	errJSONNotObject = errors.New("JSON is not an object")
	errJSONUTF8      = errors.New("JSON is not valid UTF-8")
)

// scanObject checks that data is exactly one JSON object whose objects, at
// every depth, have unique member names (compared after unescaping), and
// calls top for each top-level member with its name (unescaped) and raw
// value. It checks structure strictly enough to find member boundaries;
// full validation is left to the decoder that runs afterwards.
func scanObject(data []byte, top func(name, raw []byte) error) error {
	if !utf8.Valid(data) {
		// encoding/json maps invalid bytes to U+FFFD, which would make two
		// different names equal after decoding.
		return errJSONUTF8
	}
	s := scanner{data: data}
	s.ws()
	if s.i >= len(s.data) || s.data[s.i] != '{' {
		return errJSONNotObject
	}
	if err := s.object(0, top); err != nil {
		return err
	}
	s.ws()
	if s.i != len(s.data) {
		return errJSONSyntax
	}
	return nil
}

type scanner struct {
	data []byte
	i    int
}

func (s *scanner) ws() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) value(depth int) error {
	if s.i >= len(s.data) {
		return errJSONSyntax
	}
	switch c := s.data[s.i]; {
	case c == '{':
		return s.object(depth+1, nil)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		_, _, err := s.str()
		return err
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		start := s.i
		for s.i < len(s.data) {
			c := s.data[s.i]
			if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
				s.i++
				continue
			}
			break
		}
		if s.i == start {
			return errJSONSyntax
		}
		return nil
	}
	return errJSONSyntax
}

func (s *scanner) lit(w string) error {
	if !bytes.HasPrefix(s.data[s.i:], []byte(w)) {
		return errJSONSyntax
	}
	s.i += len(w)
	return nil
}

// str reads a string starting at its opening quote and returns its raw
// contents (between the quotes) and whether it holds escapes.
func (s *scanner) str() (raw []byte, escaped bool, err error) {
	s.i++ // opening quote
	start := s.i
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '"':
			raw = s.data[start:s.i]
			s.i++
			return raw, escaped, nil
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.data) {
				return nil, false, errJSONSyntax
			}
			switch s.data[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.data) {
					return nil, false, errJSONSyntax
				}
				for _, h := range s.data[s.i+2 : s.i+6] {
					if !isHex(h) {
						return nil, false, errJSONSyntax
					}
				}
				s.i += 6
			default:
				return nil, false, errJSONSyntax
			}
		case c < 0x20:
			return nil, false, errJSONSyntax
		default:
			s.i++
		}
	}
	return nil, false, errJSONSyntax
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func (s *scanner) array(depth int) error {
	if depth > maxJSONDepth {
		return errJSONDepth
	}
	s.i++ // [
	s.ws()
	if s.i < len(s.data) && s.data[s.i] == ']' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if err := s.value(depth); err != nil {
			return err
		}
		if done, err := s.next(']'); done || err != nil {
			return err
		}
	}
}

// next reads what follows an element or member: ',' (another follows) or
// end (the array or object is done).
func (s *scanner) next(end byte) (done bool, err error) {
	s.ws()
	if s.i >= len(s.data) {
		return false, errJSONSyntax
	}
	switch s.data[s.i] {
	case ',':
		s.i++
		return false, nil
	case end:
		s.i++
		return true, nil
	}
	return false, errJSONSyntax
}

// object scans an object. Names are kept in a small stack array; past 16
// members a map takes over so a crafted 16 KiB payload with thousands of
// members costs linear, not quadratic, time.
func (s *scanner) object(depth int, top func(name, raw []byte) error) error {
	if depth > maxJSONDepth {
		return errJSONDepth
	}
	s.i++ // {
	var small [16][]byte
	names := small[:0]
	var big map[string]struct{}
	s.ws()
	if s.i < len(s.data) && s.data[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		if s.i >= len(s.data) || s.data[s.i] != '"' {
			return errJSONSyntax
		}
		qstart := s.i
		name, escaped, err := s.str()
		if err != nil {
			return err
		}
		if escaped {
			var u string
			if err := json.Unmarshal(s.data[qstart:s.i], &u); err != nil {
				return errJSONSyntax
			}
			name = []byte(u)
		}
		switch {
		case big != nil:
			if _, dup := big[string(name)]; dup {
				return errJSONDuplicate
			}
			big[string(name)] = struct{}{}
		default:
			for _, n := range names {
				if bytes.Equal(n, name) {
					return errJSONDuplicate
				}
			}
			if len(names) < len(small) {
				names = append(names, name)
			} else {
				big = make(map[string]struct{}, 2*len(small))
				for _, n := range names {
					big[string(n)] = struct{}{}
				}
				big[string(name)] = struct{}{}
			}
		}
		s.ws()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			return errJSONSyntax
		}
		s.i++
		s.ws()
		vstart := s.i
		if err := s.value(depth); err != nil {
			return err
		}
		if top != nil {
			if err := top(name, s.data[vstart:s.i]); err != nil {
				return err
			}
		}
		if done, err := s.next('}'); done || err != nil {
			return err
		}
	}
}
