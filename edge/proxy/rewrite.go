package proxy

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/gatehouse/gatehouse/internal/jsonscan"
	"github.com/gatehouse/gatehouse/internal/jsonw"
)

// Errors of RewriteModel. The body was validated by the caller, so these
// mean a caller bug or a body that changed underneath us.
var (
	ErrInvalidJSON = errors.New("request body is not valid JSON")
	ErrNotObject   = errors.New("request body is not a JSON object")
	ErrNoModel     = errors.New(`request body has no "model" field`)
	ErrModelType   = errors.New(`request body "model" is not a string`)
)

// RewriteModel returns body with the top-level "model" string replaced.
//
// The body is spliced rather than decoded and re-encoded: upstreams and
// their caches see exactly the bytes the client sent (key order, number
// formatting, unknown fields), and a multi-megabyte prompt costs one copy
// instead of a full decode/encode. Only top-level keys are considered, so a
// "model" inside messages or tool schemas is left alone. Every top-level
// "model" is replaced, because JSON parsers disagree on which duplicate
// wins and the upstream must not see the client's name either way.
func RewriteModel(body []byte, model string) ([]byte, error) {
	out, _, err := rewriteRequest(body, model, false)
	return out, err
}

// includeUsage is what a streaming request is given when the client did
// not ask for the usage chunk itself.
const includeUsage = `"include_usage":true`

// edit replaces body[start:end] (an insertion when start == end) with
// text, or with the JSON string of the model when text is empty.
type edit struct {
	start, end int
	text       string
	del        bool // drop body[start:end]
}

// rewriteRequest is RewriteModel that, with streamUsage, also makes the
// upstream send the final usage chunk of a stream (stream_options.
// include_usage), in the same single splice.
//
// injected reports that the client did not ask for that chunk (no
// stream_options, none with include_usage, or include_usage false/null), so
// the forwarder must take it out of what the client receives. A client
// that set include_usage: true gets its body unchanged; a stream_options or
// include_usage of a type the upstream would reject is left for the
// upstream to reject. Like the model, every top-level stream_options is
// rewritten, and the last one decides what the client asked for, as it
// does for JSON parsers where the last duplicate wins.
func rewriteRequest(body []byte, model string, streamUsage bool) (out []byte, injected bool, err error) {
	// Validating first lets the splice scanner below assume well-formed
	// input instead of re-checking every byte.
	if !jsonscan.Valid(body) {
		return nil, false, ErrInvalidJSON
	}
	return rewriteValid(body, model, streamUsage)
}

// rewriteValid is rewriteRequest for a body already known to be valid
// JSON (the edge validated it in ParseChatRequest): validating twice was
// 3% of the edge's CPU at saturation.
func rewriteValid(body []byte, model string, streamUsage bool) (out []byte, injected bool, err error) {
	i := jsonscan.WS(body, 0)
	if body[i] != '{' {
		return nil, false, ErrNotObject
	}
	open := i
	// Room for the common case without allocating.
	var editBuf [4]edit
	edits := editBuf[:0]
	models := 0
	sawOptions := false
	prevEnd := -1 // end of the previous member's value
	runPrev := -1 // prevEnd where the current run of deleted members began
	i = jsonscan.WS(body, i+1)
	for body[i] != '}' {
		kStart := i
		kEnd := jsonscan.SkipString(body, i) // the body was validated: never -1
		key := body[i:kEnd]
		i = jsonscan.WS(body, kEnd) // at ':'
		i = jsonscan.WS(body, i+1)  // at the value
		vEnd := jsonscan.SkipValue(body, i)
		switch {
		case keyIs(key, "model"):
			if body[i] != '"' {
				return nil, false, ErrModelType
			}
			edits = append(edits, edit{start: i, end: vEnd})
			models++
		case streamUsage && keyIs(key, "stream_options"):
			sawOptions = true
			edits, injected = streamOptionsEdits(body, i, vEnd, edits)
		case keyFold(key, "fallbacks"):
			// LiteLLM's request-level fallbacks are the gateway's routing,
			// not a provider parameter: dropped with a comma. Repeated
			// keys extend one deletion so edits never overlap.
			run := len(edits) > 0 && edits[len(edits)-1].del && edits[len(edits)-1].end == kStart
			if after := jsonscan.WS(body, vEnd); body[after] == ',' {
				if run {
					edits[len(edits)-1].end = jsonscan.WS(body, after+1)
				} else {
					edits = append(edits, edit{start: kStart, end: jsonscan.WS(body, after+1), del: true})
					runPrev = prevEnd
				}
			} else if run {
				// The last member: take the comma before the run instead.
				e := &edits[len(edits)-1]
				if runPrev >= 0 {
					e.start = runPrev
				}
				e.end = vEnd
			} else if prevEnd >= 0 {
				edits = append(edits, edit{start: prevEnd, end: vEnd, del: true})
			}
		}
		prevEnd = vEnd
		i = jsonscan.WS(body, vEnd)
		if body[i] == ',' {
			i = jsonscan.WS(body, i+1)
		}
	}
	if models == 0 {
		return nil, false, ErrNoModel
	}
	if streamUsage && !sawOptions {
		// First in the object, so no existing key follows it: there is
		// always one, "model".
		edits = append([]edit{{start: open + 1, end: open + 1, text: `"stream_options":{` + includeUsage + `},`}}, edits...)
		injected = true
	}
	size := len(body)
	for _, e := range edits {
		size -= e.end - e.start
		if e.del {
			continue
		}
		if e.text == "" {
			size += len(model) + 2 // escapes are rare; append grows if needed
		} else {
			size += len(e.text)
		}
	}
	out = make([]byte, 0, size)
	prev := 0
	for _, e := range edits {
		out = append(out, body[prev:e.start]...)
		if e.del {
			prev = e.end
			continue
		}
		if e.text == "" {
			out = jsonw.AppendString(out, model, false)
		} else {
			out = append(out, e.text...)
		}
		prev = e.end
	}
	return append(out, body[prev:]...), injected, nil
}

// streamOptionsEdits makes the stream_options value body[vs:ve] ask for
// include_usage and reports whether the client's own value did not.
func streamOptionsEdits(body []byte, vs, ve int, edits []edit) ([]edit, bool) {
	switch body[vs] {
	case 'n': // null
		return append(edits, edit{start: vs, end: ve, text: "{" + includeUsage + "}"}), true
	case '{':
	default:
		return edits, false // the upstream rejects it; not ours to fix
	}
	var last []byte
	var spans [][2]int
	m := objectAt(body[:ve], vs)
	empty := true
	for {
		k, s, e, ok := m.next()
		if !ok {
			break
		}
		empty = false
		if rawKeyIs(k, "include_usage") {
			last = body[s:e]
			spans = append(spans, [2]int{s, e})
		}
	}
	switch {
	case last == nil:
		text := includeUsage + ","
		if empty {
			text = includeUsage
		}
		return append(edits, edit{start: vs + 1, end: vs + 1, text: text}), true
	case string(last) == "true":
		return edits, false
	case string(last) != "false" && string(last) != "null":
		return edits, false
	}
	for _, sp := range spans {
		if v := string(body[sp[0]:sp[1]]); v == "false" || v == "null" {
			edits = append(edits, edit{start: sp[0], end: sp[1], text: "true"})
		}
	}
	return edits, true
}

// keyIs compares a quoted JSON key with name. Keys spelled with escapes
// ("mod\u0065l") are decoded so they cannot smuggle the client's model past
// the rewrite.
func keyIs(quoted []byte, name string) bool {
	return rawKeyIs(quoted[1:len(quoted)-1], name)
}

// rawKeyIs is keyIs for a key without its quotes.
func rawKeyIs(raw []byte, name string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == name
	}
	var s string
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	return json.Unmarshal(q, &s) == nil && s == name
}
