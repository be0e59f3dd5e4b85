package verifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/jsonscan"
)

// Why the duplicate check: encoding/json (and jwx) silently keep the last
// of two members with the same name, while other JWT libraries keep the
// first. {"sub":"alice","sub":"admin"} then means different things to
// different components (RFC 8725 §3.x, "JSON parsing differentials"), so a
// header or payload with a duplicate name, at any depth, is refused. The
// document is validated by jsonscan.Valid first, so the walk below only
// finds member boundaries; neither allocates for ordinary objects, so
// both cost far less than the decode that follows.

const maxJSONDepth = 32

var (
	errJSONSyntax    = errors.New("malformed JSON")
	errJSONDuplicate = errors.New("duplicate member name")
	errJSONDepth     = errors.New("JSON nested too deeply")
	errJSONNotObject = errors.New("JSON is not an object")
	errJSONUTF8      = errors.New("JSON is not valid UTF-8")
)

// scanObject checks that data is exactly one valid JSON object whose
// objects, at every depth, have unique member names (compared after
// unescaping), and calls top for each top-level member with its name
// (unescaped) and raw value.
func scanObject(data []byte, top func(name, raw []byte) error) error {
	if !utf8.Valid(data) {
		// encoding/json maps invalid bytes to U+FFFD, which would make two
		// different names equal after decoding.
		return errJSONUTF8
	}
	if !jsonscan.Valid(data) {
		return errJSONSyntax
	}
	i := jsonscan.WS(data, 0)
	if data[i] != '{' {
		return errJSONNotObject
	}
	_, err := uniqueNames(data, i, 0, top)
	return err
}

// uniqueNames walks the valid value at data[i] and returns the index after
// it, refusing duplicate names in any object within. Names are kept in a
// small stack array; past 16 members a map takes over so a crafted 16 KiB
// payload with thousands of members costs linear, not quadratic, time.
func uniqueNames(data []byte, i, depth int, top func(name, raw []byte) error) (int, error) {
	open := data[i]
	if open != '{' && open != '[' {
		return jsonscan.SkipValue(data, i), nil
	}
	// The top level is depth 0, so maxJSONDepth+1 levels nest.
	if depth > maxJSONDepth {
		return 0, errJSONDepth
	}
	depth++
	var small [16][]byte
	names := small[:0]
	var big map[string]struct{}
	for i = jsonscan.WS(data, i+1); data[i] != '}' && data[i] != ']'; {
		if open == '{' {
			end := jsonscan.SkipString(data, i)
			name := data[i+1 : end-1]
			if bytes.IndexByte(name, '\\') >= 0 {
				var u string
				if err := json.Unmarshal(data[i:end], &u); err != nil {
					return 0, errJSONSyntax
				}
				name = []byte(u)
			}
			switch {
			case big != nil:
				if _, dup := big[string(name)]; dup {
					return 0, errJSONDuplicate
				}
				big[string(name)] = struct{}{}
			case containsName(names, name):
				return 0, errJSONDuplicate
			case len(names) < len(small):
				names = append(names, name)
			default:
				big = make(map[string]struct{}, 2*len(small))
				for _, n := range names {
					big[string(n)] = struct{}{}
				}
				big[string(name)] = struct{}{}
			}
			i = jsonscan.WS(data, jsonscan.WS(data, end)+1) // past the colon
			vstart := i
			var err error
			if i, err = uniqueNames(data, i, depth, nil); err != nil {
				return 0, err
			}
			if top != nil {
				if err := top(name, data[vstart:i]); err != nil {
					return 0, err
				}
			}
		} else {
			var err error
			if i, err = uniqueNames(data, i, depth, nil); err != nil {
				return 0, err
			}
		}
		if i = jsonscan.WS(data, i); data[i] == ',' {
			i = jsonscan.WS(data, i+1)
		}
	}
	return i + 1, nil
}

func containsName(names [][]byte, name []byte) bool {
	for _, n := range names {
		if bytes.Equal(n, name) {
			return true
		}
	}
	return false
}
