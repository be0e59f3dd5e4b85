package jsonscan

// Valid reports whether b is one JSON value, accepting exactly what
// encoding/json's Valid accepts (FuzzValid compares the two): the same
// grammar, bytes 0x80-0xFF taken as they are inside strings (encoding/json
// does not check UTF-8 there either), whitespace of space, tab, CR and LF
// only, and no more than maxDepth nested arrays and objects.
//
// Why not json.Valid: it runs a state-machine step through a function
// pointer for every byte, and the edge validates every request body
// before forwarding it. This walks strings with a table lookup a byte and
// numbers and literals in straight loops, several times faster on chat
// bodies (BenchmarkValid), and never allocates.
func Valid(b []byte) bool {
	// open records, per nesting level, whether the container is an
	// object (1) or an array (0): a bit a level, on the stack.
	var open [maxDepth/64 + 1]uint64
	depth := 0
	i := WS(b, 0)
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return false
		}
		switch c := b[i]; c {
		case '{', '[':
			if depth == maxDepth {
				return false
			}
			word, bit := depth/64, uint64(1)<<(depth%64)
			depth++
			i = WS(b, i+1)
			if c == '{' {
				open[word] |= bit
				if i < len(b) && b[i] == '}' {
					i++
					depth--
					goto closed
				}
				if i = member(b, i); i < 0 {
					return false
				}
			} else {
				open[word] &^= bit
				if i < len(b) && b[i] == ']' {
					i++
					depth--
					goto closed
				}
			}
			continue // the first element or member value
		case '"':
			if i = str(b, i); i < 0 {
				return false
			}
		case 't':
			if i = lit(b, i, "true"); i < 0 {
				return false
			}
		case 'f':
			if i = lit(b, i, "false"); i < 0 {
				return false
			}
		case 'n':
			if i = lit(b, i, "null"); i < 0 {
				return false
			}
		default:
			if i = num(b, i); i < 0 {
				return false
			}
		}
	closed:
		// After a value: the end of the document, or what its container
		// wants next (possibly closing several containers in a row).
		for {
			i = WS(b, i)
			if depth == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			inObject := open[(depth-1)/64]&(uint64(1)<<((depth-1)%64)) != 0
			switch b[i] {
			case ',':
				i = WS(b, i+1)
				if inObject {
					if i = member(b, i); i < 0 {
						return false
					}
				}
			case '}':
				if !inObject {
					return false
				}
				i++
				depth--
				continue
			case ']':
				if inObject {
					return false
				}
				i++
				depth--
				continue
			default:
				return false
			}
			break // another value follows
		}
	}
}

// maxDepth is encoding/json's nesting limit: deeper documents are invalid
// there ("exceeded max depth"), so they are here.
const maxDepth = 10000

// member reads an object member's name and colon at b[i] and returns the
// index of its value, or -1.
func member(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = str(b, i); i < 0 {
		return -1
	}
	i = WS(b, i)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return WS(b, i+1)
}

// plain marks the string bytes that need no attention: everything but the
// quote, the backslash and the control characters encoding/json refuses.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str returns the index after the string opening at b[i], or -1.
func str(b []byte, i int) int {
	i++
	for {
		for i < len(b) && plain[b[i]] {
			i++
		}
		if i >= len(b) {
			return -1
		}
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			if i+1 >= len(b) {
				return -1
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if _, ok := hex4(b[i+2:]); !ok {
					return -1
				}
				i += 6
			default:
				return -1
			}
		default: // a control character
			return -1
		}
	}
}

// lit matches the literal w at b[i].
func lit(b []byte, i int, w string) int {
	if len(b)-i < len(w) || string(b[i:i+len(w)]) != w {
		return -1
	}
	return i + len(w)
}

// num reads a number at b[i] by JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func num(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}
