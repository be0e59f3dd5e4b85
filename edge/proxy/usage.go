package proxy

import (
	"bytes"
	"errors"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/jsonscan"
)

// Outcomes of a request, as reported in Usage.Outcome (and SpendEvent).
const (
	OutcomeOK            = "ok"
	OutcomeClientAborted = "client_aborted"
	OutcomeUpstreamError = "upstream_error"
	OutcomeTimeout       = "timeout"
)

// Usage is what one request consumed, reported to the done callback of
// ChatCompletionDone.
//
// Tokens come from the upstream's "usage" object when it sent one (the
// non-streaming body, or the final chunk of a stream, which the forwarder
// asks for with stream_options.include_usage). When it did not (an aborted
// stream, an upstream that ignores include_usage, a body without usage)
// they are estimated locally and Estimated is set; see EstimateTokens.
type Usage struct {
	PromptTokens, CompletionTokens, TotalTokens int64
	// CachedTokens (read from the provider's prompt cache) and
	// CacheCreationTokens (written to it) are parts of PromptTokens,
	// reported apart because they are priced apart.
	CachedTokens, CacheCreationTokens int64
	// Estimated: the tokens were counted locally, not reported upstream.
	Estimated bool
	// Status is the HTTP status the client got. For a stream that is the
	// status sent before the first event (200), even if it broke later;
	// Outcome says how it ended.
	Status int
	// Outcome is OutcomeOK, OutcomeClientAborted, OutcomeUpstreamError or
	// OutcomeTimeout.
	Outcome string
	// TTFT (streams only) is the time from the call to the first event
	// with generated text that was written to the client; zero if none was.
	TTFT time.Duration
	// Model is the upstream's "model" from the response, if it sent one.
	Model string
	// ID is the top-level "id" of the answer as the client got it (a
	// stream's: its first chunk's): LiteLLM keys a spend log by it, so
	// the spend event keeps it (events.SpendEvent.ResponseID). Empty when
	// the answer had none.
	ID string
	// UpstreamStatus is the HTTP status the upstream answered with (the
	// mock answers 200); 0 when no response arrived (connection failure,
	// timeout). Status is what the client got, which differs for mapped
	// errors (an upstream 401 is a 502 to the client).
	UpstreamStatus int
}

// EstimateTokens is the local token estimator: ceil(chars/4), chars being
// Unicode code points of text (a JSON escape counts as the one character it
// stands for). Four characters per token is the usual rule of thumb for
// English with OpenAI's tokenizers; it overestimates code and numbers a
// little and underestimates CJK text (about one token per character).
// It is only used when the upstream did not report usage.
//
// Prompt text is the "content" strings of the request's messages (or the
// "text" of their content parts); tool definitions, images and message
// framing are not counted. Completion text is every string value of each
// choice's "delta" (streams) or "message" (non-streaming) except "role":
// content, reasoning_content, refusal, tool call names and arguments.
func EstimateTokens(chars int64) int64 { return (chars + 3) / 4 }

// outcomeOf classifies the error a request ended with.
func outcomeOf(err error) string {
	if err == nil {
		return OutcomeOK
	}
	if errors.Is(err, ErrClientGone) {
		return OutcomeClientAborted
	}
	var ae *apierror.Error
	if errors.As(err, &ae) && ae.Code == apierror.UpstreamTimeout.Code {
		return OutcomeTimeout
	}
	if isTimeout(err) {
		return OutcomeTimeout
	}
	return OutcomeUpstreamError
}

// errorUsage is the Usage of a request that failed before any answer
// reached the client: no tokens, the status the client was given.
func errorUsage(err error) Usage {
	return Usage{Status: apierror.From(err).Status, Outcome: outcomeOf(err)}
}

// The scanners below read a few fields out of upstream JSON without
// decoding it. Upstream bytes are not validated first (that would cost a
// second pass over every body and every stream event), so every step is
// bounds-checked and a malformed document makes them stop and report what
// they found so far; they never panic or loop.

// cursor is where a members or elements iteration stands; both move over
// a value the same way.
type cursor struct {
	b     []byte
	i     int // next position to read
	state uint8
}

// skip passes over the value key (or start) stopped at and returns its
// end.
func (c *cursor) skip() (ve int, ok bool) {
	ve = jsonscan.SkipValue(c.b, c.i)
	c.at(ve)
	return ve, ve >= 0
}

// at records that the value ended at ve (-1: malformed).
func (c *cursor) at(ve int) {
	if ve < 0 {
		c.state = iterBad
		return
	}
	c.i = ve
}

// end is the index after the closing brace or bracket, or -1 if the
// value was malformed or not read to its end.
func (c *cursor) end() int {
	if c.state != iterClosed {
		return -1
	}
	return c.i
}

// members iterates the members of the JSON object at b[i] == '{'. key
// stops at a member's value; the caller then either skips it (skip) or
// walks it itself and reports where it ended (at), so nothing is scanned
// twice.
type members struct {
	cursor
	// ks is where the current member's key starts; prev is where the
	// previous member's value ended (-1 for the first member).
	ks, prev int
}

const (
	iterFirst uint8 = iota
	iterMore
	iterClosed
	iterBad
)

func objectAt(b []byte, i int) members {
	if i < 0 || i >= len(b) || b[i] != '{' {
		return members{cursor: cursor{state: iterBad}}
	}
	return members{cursor: cursor{b: b, i: i + 1}, prev: -1}
}

// key returns the next raw key (no quotes, escapes left as is) and where
// its value starts (always < len(b)); ok is false at the end of the object
// or on malformed input.
func (m *members) key() (key []byte, vs int, ok bool) {
	if m.state >= iterClosed {
		return nil, 0, false
	}
	b := m.b
	i := jsonscan.WS(b, m.i)
	if i >= len(b) {
		m.state = iterBad
		return nil, 0, false
	}
	if b[i] == '}' {
		m.i, m.state = i+1, iterClosed
		return nil, 0, false
	}
	if m.state == iterMore {
		if b[i] != ',' {
			m.state = iterBad
			return nil, 0, false
		}
		m.prev = m.i
		i = jsonscan.WS(b, i+1)
	}
	m.state = iterMore
	if i >= len(b) || b[i] != '"' {
		m.state = iterBad
		return nil, 0, false
	}
	m.ks = i
	ke := jsonscan.SkipString(b, i)
	if ke < 0 {
		m.state = iterBad
		return nil, 0, false
	}
	i = jsonscan.WS(b, ke)
	if i >= len(b) || b[i] != ':' {
		m.state = iterBad
		return nil, 0, false
	}
	vs = jsonscan.WS(b, i+1)
	if vs >= len(b) {
		m.state = iterBad
		return nil, 0, false
	}
	m.i = vs
	return b[m.ks+1 : ke-1], vs, true
}

// next is key and skip.
func (m *members) next() (key []byte, vs, ve int, ok bool) {
	if key, vs, ok = m.key(); !ok {
		return nil, 0, 0, false
	}
	if ve, ok = m.skip(); !ok {
		return nil, 0, 0, false
	}
	return key, vs, ve, true
}

// elements iterates the values of the JSON array at b[i] == '[', like
// members.
type elements struct{ cursor }

func arrayAt(b []byte, i int) elements {
	if i < 0 || i >= len(b) || b[i] != '[' {
		return elements{cursor{state: iterBad}}
	}
	return elements{cursor{b: b, i: i + 1}}
}

// start returns where the next element starts (always < len(b)).
func (a *elements) start() (vs int, ok bool) {
	if a.state >= iterClosed {
		return 0, false
	}
	b := a.b
	i := jsonscan.WS(b, a.i)
	if i >= len(b) {
		a.state = iterBad
		return 0, false
	}
	if b[i] == ']' {
		a.i, a.state = i+1, iterClosed
		return 0, false
	}
	if a.state == iterMore {
		if b[i] != ',' {
			a.state = iterBad
			return 0, false
		}
		if i = jsonscan.WS(b, i+1); i >= len(b) {
			a.state = iterBad
			return 0, false
		}
	}
	a.state = iterMore
	a.i = i
	return i, true
}

func (a *elements) next() (vs, ve int, ok bool) {
	if vs, ok = a.start(); !ok {
		return 0, 0, false
	}
	if ve, ok = a.skip(); !ok {
		return 0, 0, false
	}
	return vs, ve, true
}

// textLen counts the characters of the JSON string literal b (quotes
// included): code points, with each escape counted as one.
func textLen(b []byte) int64 {
	if len(b) < 2 {
		return 0
	}
	var n int64
	b = b[1 : len(b)-1]
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '\\':
			if i+1 < len(b) && b[i+1] == 'u' {
				i += 5
			} else {
				i++
			}
			n++
		case c&0xC0 != 0x80: // not a UTF-8 continuation byte
			n++
		}
	}
	return n
}

// stringValuesLen counts the characters of every string value (not key)
// inside the JSON value b, without recursion.
func stringValuesLen(b []byte) int64 {
	var n int64
	for i := 0; i < len(b); {
		if b[i] != '"' {
			i++
			continue
		}
		e := jsonscan.SkipString(b, i)
		if e < 0 {
			return n
		}
		if j := jsonscan.WS(b, e); j >= len(b) || b[j] != ':' {
			n += textLen(b[i:e])
		}
		i = e
	}
	return n
}

// generatedText counts the text of a choice's delta or message object at
// b[i]: every string value except "role". end is where the object ends
// (-1 if malformed).
func generatedText(b []byte, i int) (n int64, end int) {
	m := objectAt(b, i)
	for {
		k, vs, ok := m.key()
		if !ok {
			return n, m.end()
		}
		switch {
		case string(k) == "role":
			m.skip()
		case b[vs] == '"':
			ve := jsonscan.SkipString(b, vs)
			m.at(ve)
			if ve > 0 {
				n += textLen(b[vs:ve])
			}
		default: // tool_calls, audio, ...
			if ve, ok := m.skip(); ok {
				n += stringValuesLen(b[vs:ve])
			}
		}
	}
}

// choicesText counts the generated text of the "choices" array at b[i]
// (field is "delta" for stream chunks, "message" for a whole response),
// reports whether the array is empty, and where it ends (-1 if malformed).
func choicesText(b []byte, i int, field string) (n int64, empty bool, end int) {
	arr := arrayAt(b, i)
	count := 0
	for {
		vs, ok := arr.start()
		if !ok {
			break
		}
		count++
		if b[vs] != '{' {
			arr.skip()
			continue
		}
		ch := objectAt(b, vs)
		for {
			k, cs, ok := ch.key()
			if !ok {
				break
			}
			if string(k) == field && b[cs] == '{' {
				t, e := generatedText(b, cs)
				n += t
				ch.at(e)
			} else if string(k) == "text" && b[cs] == '"' {
				// A legacy text completion's choice carries its text
				// directly, streamed or not.
				e := jsonscan.SkipString(b, cs)
				ch.at(e)
				if e > 0 {
					n += textLen(b[cs:e])
				}
			} else {
				ch.skip()
			}
		}
		arr.at(ch.end())
	}
	end = arr.end()
	return n, end >= 0 && count == 0, end
}

// parseCount reads a JSON number as a token count; ok is false for
// anything but a non-negative number.
func parseCount(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			// 12.0 or 1e3: rare; take the slow path. null fails here.
			f, err := strconv.ParseFloat(string(b), 64)
			if err != nil || f < 0 || f > 1<<53 {
				return 0, false
			}
			return int64(f), true
		}
		if n = n*10 + int64(c-'0'); n > 1<<53 {
			return 0, false
		}
	}
	return n, true
}

// tokens are the counts of a usage object. cached and creation (cache
// reads and writes) are parts of prompt, as OpenAI counts them.
type tokens struct {
	prompt, completion, total, cached, creation int64
}

// set copies t's counts into u.
func (u *Usage) set(t tokens) {
	u.PromptTokens, u.CompletionTokens, u.TotalTokens = t.prompt, t.completion, t.total
	u.CachedTokens, u.CacheCreationTokens = t.cached, t.creation
}

// usageCounts reads the token counts from the "usage" object at b[i]:
// OpenAI's, with prompt_tokens_details.cached_tokens, and the
// cache_read_input_tokens and cache_creation_input_tokens that LiteLLM
// (and this edge's translation of Anthropic answers) add to it. end is
// where it ends (-1 if malformed).
func usageCounts(b []byte, i int) (t tokens, ok bool, end int) {
	m := objectAt(b, i)
	var detailsCached int64
	for {
		k, vs, ve, more := m.next()
		if !more {
			break
		}
		var dst *int64
		switch string(k) {
		case "prompt_tokens":
			dst = &t.prompt
		case "completion_tokens":
			dst = &t.completion
		case "total_tokens":
			dst = &t.total
		case "cache_read_input_tokens":
			dst = &t.cached
		case "cache_creation_input_tokens":
			dst = &t.creation
		case "prompt_tokens_details":
			if b[vs] == '{' {
				detailsCached = cachedTokens(b, vs)
			}
			continue
		default:
			continue
		}
		if v, good := parseCount(b[vs:ve]); good {
			*dst = v
			ok = ok || dst == &t.prompt || dst == &t.completion || dst == &t.total
		}
	}
	end = m.end()
	if end < 0 { // truncated: do not trust what was read
		return tokens{}, false, end
	}
	if t.cached == 0 {
		t.cached = detailsCached
	}
	if ok && t.total == 0 {
		t.total = t.prompt + t.completion
	}
	// Counts that do not add up (a cache part above the prompt) are not
	// priced apart: the whole prompt is charged at the input price.
	if t.cached+t.creation > t.prompt {
		t.cached, t.creation = 0, 0
	}
	return t, ok, end
}

// cachedTokens reads "cached_tokens" from the details object at b[i].
func cachedTokens(b []byte, i int) int64 {
	m := objectAt(b, i)
	for {
		k, vs, ve, more := m.next()
		if !more {
			return 0
		}
		if string(k) == "cached_tokens" {
			v, _ := parseCount(b[vs:ve])
			return v
		}
	}
}

// plainString returns the bytes of a JSON string literal without quotes if
// it has no escapes (model names and ids never do); ok is false otherwise.
func plainString(b []byte) ([]byte, bool) {
	if len(b) < 2 || b[0] != '"' {
		return nil, false
	}
	s := b[1 : len(b)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		return nil, false
	}
	return s, true
}

// maxIDLen bounds the answer id the spend event keeps: an upstream
// chooses it, and the ledger drops a longer one anyway (spend/sink).
const maxIDLen = 256

// answerID is the id in the string literal b, if it is one worth keeping.
func answerID(b []byte) []byte {
	if s, ok := plainString(b); ok && len(s) <= maxIDLen {
		return s
	}
	return nil
}

// keptID is an id decoded by a frameReader as frameInfo carries it, if
// it is one worth keeping.
func keptID(id string) []byte {
	if id == "" || len(id) > maxIDLen {
		return nil
	}
	return []byte(id)
}

// modelAndID converts both with one allocation: the spend event keeps
// them together anyway, and the hot path pays per allocation.
func modelAndID(model, id []byte) (string, string) {
	if len(model) == 0 || len(id) == 0 {
		return string(model), string(id)
	}
	var buf [2 * maxIDLen]byte
	s := string(append(append(buf[:0], model...), id...))
	return s[:len(model)], s[len(model):]
}

// responseUsage is what a non-streaming response says about its cost.
type responseUsage struct {
	tokens
	hasUsage                 bool
	model, id                []byte // alias the body
	choicesStart, choicesEnd int
}

// scanResponse reads "usage", "model", "id" and the span of "choices"
// from the top level of a chat completion body, skipping everything else
// without decoding it. Nested "usage", "model" or "id" keys are never
// looked at.
func scanResponse(body []byte) responseUsage {
	var r responseUsage
	m := objectAt(body, jsonscan.WS(body, 0))
	for {
		k, vs, ok := m.key()
		if !ok {
			return r
		}
		switch string(k) {
		case "usage":
			if body[vs] == '{' {
				var end int
				r.tokens, r.hasUsage, end = usageCounts(body, vs)
				m.at(end)
				continue
			}
		case "model":
			if ve, ok := m.skip(); ok {
				if s, ok := plainString(body[vs:ve]); ok {
					r.model = s
				}
			}
			continue
		case "id":
			if ve, ok := m.skip(); ok {
				r.id = answerID(body[vs:ve])
			}
			continue
		case "choices":
			// Counted only if there is no usage; usage comes last.
			if ve, ok := m.skip(); ok {
				r.choicesStart, r.choicesEnd = vs, ve
			}
			continue
		}
		m.skip()
	}
}

// frameInfo is what one SSE event of a chat completion stream carries.
type frameInfo struct {
	done      bool // data: [DONE]
	hasUsage  bool // a non-null usage object
	usageOnly bool // and "choices":[] (include_usage's final chunk)
	tokens
	chars int64  // generated text in choices[].delta
	model []byte // aliases the frame
	id    []byte // the event's top-level "id" (inspectFrame: aliases the frame)
	// cutStart:cutEnd is a top-level "usage":null member with its comma,
	// which OpenAI adds to every chunk under include_usage (0:0: none).
	cutStart, cutEnd int
}

// sseData returns where the value of the first "data" field of an SSE
// event starts. The JSON scanners stop at the end of the value, so the end
// of the line is not searched for. Only the first data line is read: chat
// completion events are one line of JSON, and joining lines would need a
// copy.
func sseData(ev []byte) (start int, ok bool) {
	for i := 0; i < len(ev); {
		// ev[i] starts a line.
		if len(ev)-i >= 5 && string(ev[i:i+5]) == "data:" {
			v := i + 5
			if v < len(ev) && ev[v] == ' ' {
				v++
			}
			return v, true
		}
		j := bytes.IndexByte(ev[i:], '\n')
		if r := bytes.IndexByte(ev[i:], '\r'); r >= 0 && (j < 0 || r < j) {
			j = r
		}
		if j < 0 {
			break
		}
		i += j + 1
	}
	return 0, false
}

// inspectFrame reads one SSE event in one pass. It does not allocate.
func inspectFrame(ev []byte) frameInfo {
	var f frameInfo
	ds, ok := sseData(ev)
	if !ok || ds >= len(ev) {
		return f
	}
	if ev[ds] != '{' {
		data := ev[ds:]
		f.done = len(data) >= 6 && string(data[:6]) == "[DONE]" &&
			(len(data) == 6 || data[6] == '\n' || data[6] == '\r')
		return f
	}
	choicesEmpty := false
	m := objectAt(ev, ds)
	for {
		k, vs, ok := m.key()
		if !ok {
			break
		}
		switch string(k) {
		case "choices":
			var end int
			f.chars, choicesEmpty, end = choicesText(ev, vs, "delta")
			m.at(end)
			continue
		case "usage":
			switch ev[vs] {
			case '{':
				var end int
				f.tokens, f.hasUsage, end = usageCounts(ev, vs)
				m.at(end)
				continue
			case 'n':
				ve, ok := m.skip()
				if !ok || string(ev[vs:ve]) != "null" {
					continue
				}
				if m.prev >= 0 { // ,"usage":null
					f.cutStart, f.cutEnd = m.prev, ve
				} else { // "usage":null, or the only member
					end := ve
					if j := jsonscan.WS(ev, ve); j < len(ev) && ev[j] == ',' {
						end = jsonscan.WS(ev, j+1)
					}
					f.cutStart, f.cutEnd = m.ks, end
				}
				continue
			}
		case "model":
			if ve, ok := m.skip(); ok {
				if s, ok := plainString(ev[vs:ve]); ok {
					f.model = s
				}
			}
			continue
		case "id":
			if ve, ok := m.skip(); ok {
				f.id = answerID(ev[vs:ve])
			}
			continue
		}
		m.skip()
	}
	f.usageOnly = f.hasUsage && choicesEmpty
	return f
}

// promptChars counts the text of the request's messages for the prompt
// estimate: each message's "content" string, or the "text" of its content
// parts; for text completions and embeddings, the "prompt" or "input".
func promptChars(body []byte) int64 {
	var n int64
	top := objectAt(body, jsonscan.WS(body, 0))
	for {
		k, vs, ve, ok := top.next()
		if !ok {
			return n
		}
		if string(k) == "prompt" || string(k) == "input" {
			// A text completion's prompt, an embedding's input: a
			// string or an array of them (token arrays count nothing;
			// those upstreams report usage).
			n += stringValuesLen(body[vs:ve])
			continue
		}
		if string(k) != "messages" {
			continue
		}
		msgs := arrayAt(body[:ve], vs)
		for {
			ms, me, ok := msgs.next()
			if !ok {
				break
			}
			msg := objectAt(body[:me], ms)
			for {
				mk, cs, ce, ok := msg.next()
				if !ok {
					break
				}
				if string(mk) != "content" {
					continue
				}
				switch body[cs] {
				case '"':
					n += textLen(body[cs:ce])
				case '[':
					parts := arrayAt(body[:ce], cs)
					for {
						ps, pe, ok := parts.next()
						if !ok {
							break
						}
						part := objectAt(body[:pe], ps)
						for {
							pk, ts, te, ok := part.next()
							if !ok {
								break
							}
							if string(pk) == "text" && body[ts] == '"' {
								n += textLen(body[ts:te])
							}
						}
					}
				}
			}
		}
	}
}
