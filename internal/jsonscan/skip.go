package jsonscan

import "bytes"

// The skippers find where a value ends without checking it: they serve
// readers of upstream JSON (answers, stream events) that take a few fields
// out of documents nobody validated, which would cost a second pass over
// every body. Every step is bounds-checked, so malformed input makes them
// return -1, never panic or loop.

// WS returns the index of the first byte at or after i that is not JSON
// whitespace.
func WS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// SkipString returns the index after the JSON string starting at b[i] ('"'),
// or -1 if it is not terminated. Short strings (keys, ids) are scanned
// inline; past 16 bytes it jumps from quote to quote with IndexByte
// (vectorised), so long content costs little.
func SkipString(b []byte, i int) int {
	j := i + 1
	for lim := min(len(b), j+16); j < lim; j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	for j < len(b) {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		q := j + k
		// The quote is escaped if an odd number of backslashes precede it.
		bs := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			bs++
		}
		if bs%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
	return -1
}

// structural marks the bytes SkipValue must look at inside a container.
var structural = [256]bool{'"': true, '{': true, '[': true, '}': true, ']': true}

// SkipValue returns the index after the JSON value starting at b[i], or -1
// if it is truncated. Scalars are delimited, not validated.
func SkipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return SkipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				if i = SkipString(b, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			for i++; i < len(b) && !structural[b[i]]; i++ {
			}
		}
		return -1
	case '}', ']', ',', ':':
		return -1
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
		j++
	}
	if j == i {
		return -1
	}
	return j
}
