package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/jsonscan"
	"github.com/gatehouse/gatehouse/policy"
)

// The proxy's scanners read client and upstream bytes without decoding
// them. These fuzzers check them against encoding/json, which the rest of
// the gateway (and most upstreams) use: a disagreement is a parser
// differential an attacker could aim at.

// FuzzRewriteRequest: the splice rewriter accepts exactly the bodies the
// chat handler accepts, and its output is valid JSON in which every
// top-level "model" is the new one, every other member unchanged and,
// when asked, stream_options.include_usage true.
func FuzzRewriteRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"g","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"g","stream":true}`,
		`{"model":"g","stream_options":null}`,
		`{"stream_options":{ },"model":"g"}`,
		`{"model":"g","stream_options":{"x":1,"include_usage":false}}`,
		`{"model":"g","stream_options":{"include_usage":true,"include_usage":false}}`,
		`{"mod\u0065l":"g","model":"h"}`,
		`{"model":"g","metadata":{"model":"keep"},"tools":[{"model":1}]}`,
		`{"fallbacks":["a"],"model":"g"}`, `{"model":"g","fallbacks":[{"model":"a"}]}`,
		`{"model":"g","fallbacks":1,"fallbacks":2}`, `{"fallbacks":1 , "fallbacks":2,"model":"g","fallbacks":3}`,
		`{"model":1}`, `[]`, `{}`, ` {"model" : "g" } `, `{"model":"g"`, `{"model":"\ud800"}`,
	} {
		f.Add([]byte(s), "gpt-upstream", true)
		f.Add([]byte(s), "a\"b\\c\u2028\x00\xff", false)
	}
	f.Fuzz(func(t *testing.T, body []byte, model string, streamUsage bool) {
		out, injected, err := rewriteRequest(body, model, streamUsage)
		var in map[string]json.RawMessage
		objErr := json.Unmarshal(body, &in)
		switch {
		case !json.Valid(body):
			if !errors.Is(err, ErrInvalidJSON) {
				t.Fatalf("invalid JSON %q: err %v", body, err)
			}
			return
		case objErr != nil || in == nil:
			if !errors.Is(err, ErrNotObject) {
				t.Fatalf("non-object %q: err %v", body, err)
			}
			return
		case in["model"] == nil:
			if !errors.Is(err, ErrNoModel) {
				t.Fatalf("%q has no model: err %v", body, err)
			}
			return
		}
		if err != nil {
			// A non-string model, possibly a duplicate hidden by the last
			// one: refused, never forwarded half rewritten.
			if !errors.Is(err, ErrModelType) {
				t.Fatalf("%q: unexpected err %v", body, err)
			}
			return
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("rewrite of %q is not JSON: %q: %v", body, out, err)
		}
		var m string
		if err := json.Unmarshal(got["model"], &m); err != nil || m != toValidUTF8(model) {
			t.Fatalf("rewrite of %q: model %s, want %q", body, got["model"], model)
		}
		for k, v := range in {
			if strings.EqualFold(k, "fallbacks") {
				if _, ok := got[k]; ok {
					t.Fatalf("rewrite of %q kept the request-level fallbacks: %q", body, out)
				}
				continue
			}
			if k == "model" || (streamUsage && k == "stream_options") {
				continue
			}
			if !bytes.Equal(got[k], v) {
				t.Fatalf("rewrite of %q changed %q: %s -> %s", body, k, v, got[k])
			}
		}
		dropped := 0
		for k := range in {
			if strings.EqualFold(k, "fallbacks") {
				dropped++
			}
		}
		if !streamUsage {
			if injected || len(got) != len(in)-dropped {
				t.Fatalf("rewrite of %q without streamUsage injected or changed members: %q", body, out)
			}
			return
		}
		var so struct {
			IncludeUsage *bool `json:"include_usage"`
		}
		raw := got["stream_options"]
		if len(raw) > 0 && (raw[0] == '{' || string(raw) == "null") {
			// Case-insensitive field matching is what encoding/json does;
			// a stricter upstream reads the exact key, checked next.
			var exact map[string]json.RawMessage
			if json.Unmarshal(raw, &so) != nil || json.Unmarshal(raw, &exact) != nil {
				t.Fatalf("rewrite of %q: stream_options %s", body, raw)
			}
			if string(exact["include_usage"]) != "true" {
				t.Fatalf("rewrite of %q: include_usage not true: %s", body, raw)
			}
		}
		if in["stream_options"] == nil && !injected {
			t.Fatalf("rewrite of %q added stream_options without reporting it", body)
		}
	})
}

// toValidUTF8 is what encoding/json makes of s: each invalid byte becomes
// U+FFFD.
func toValidUTF8(s string) string {
	b, _ := json.Marshal(s)
	var out string
	_ = json.Unmarshal(b, &out)
	return out
}

// wantCounts is what encoding/json reads from a usage object, when the
// comparison is meaningful (comparable false: duplicate or escaped names,
// or counts near the 2^53 bound where float rounding decides).
func wantCounts(raw json.RawMessage) (p, c, total int64, ok, comparable bool) {
	if len(raw) == 0 || raw[0] != '{' || !simpleObject(raw) {
		return 0, 0, 0, false, false
	}
	var u map[string]json.RawMessage
	if json.Unmarshal(raw, &u) != nil {
		return 0, 0, 0, false, false
	}
	get := func(name string) (int64, bool, bool) {
		v, present := u[name]
		if !present {
			return 0, false, true
		}
		var f float64
		if json.Unmarshal(v, &f) != nil || len(v) == 0 || v[0] == 'n' {
			return 0, false, true
		}
		if f > 1<<52 {
			return 0, false, false
		}
		if f < 0 || math.IsNaN(f) {
			return 0, false, true
		}
		return int64(f), true, true
	}
	var okP, okC, okT, cp, cc, ct bool
	p, okP, cp = get("prompt_tokens")
	c, okC, cc = get("completion_tokens")
	total, okT, ct = get("total_tokens")
	ok = okP || okC || okT
	if ok && total == 0 {
		total = p + c
	}
	return p, c, total, ok, cp && cc && ct
}

// simpleObject: valid JSON object whose top-level names are unescaped and
// unique, the inputs on which a raw-name scanner and encoding/json must
// agree.
func simpleObject(b []byte) bool {
	m := objectAt(b, jsonscan.WS(b, 0))
	seen := map[string]bool{}
	for {
		k, _, _, ok := m.next()
		if !ok {
			break
		}
		if bytes.IndexByte(k, '\\') >= 0 || seen[string(k)] {
			return false
		}
		seen[string(k)] = true
	}
	return m.end() >= 0
}

// FuzzScanResponse: the non-streaming usage scanner never panics and, on a
// valid body with plain member names, reads the same usage and model as
// encoding/json.
func FuzzScanResponse(f *testing.F) {
	for _, s := range []string{
		`{"id":"x","object":"chat.completion","model":"gpt-4o-2024","choices":[{"index":0,"message":{"role":"assistant","content":"hello"}}],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}`,
		`{"choices":[{"message":{"content":"{\"usage\":{\"prompt_tokens\":99}}"}}],"metadata":{"usage":{"prompt_tokens":7}},"usage":{"prompt_tokens":1,"completion_tokens":2}}`,
		`{"usage":null,"choices":[]}`, `{"usage":{"prompt_tokens":2.0,"completion_tokens":1e1}}`,
		`{"usage":{"prompt_tokens":-1,"completion_tokens":"3"}}`, `[1,2]`, `{"model":"m","usage":{"prompt_tokens":5`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := scanResponse(body)
		if r.choicesEnd > r.choicesStart {
			_, _, _ = choicesText(body[:r.choicesEnd], r.choicesStart, "message")
		}
		checkScan(t, body, r, r.hasUsage, r.tokens, r.model)
	})
}

// checkScan fails t where a scanner's reading of doc (got, with its
// hasUsage, tokens and model) differs from encoding/json's. Both usage
// scanners are held to the same oracle, so it is written once. ok is false
// when doc is not a valid object with plain, distinct member names, which
// the oracle does not judge; top is doc's members otherwise.
func checkScan(t *testing.T, doc []byte, got any, hasUsage bool, tk tokens, model []byte) (top map[string]json.RawMessage, ok bool) {
	t.Helper()
	if !json.Valid(doc) || !simpleObject(doc) {
		return nil, false
	}
	if json.Unmarshal(doc, &top) != nil {
		return nil, false
	}
	p, c, total, has, comparable := wantCounts(top["usage"])
	if comparable && (hasUsage != has || tk.prompt != p || tk.completion != c || tk.total != total) {
		t.Fatalf("%q: scanner %+v, encoding/json p=%d c=%d t=%d ok=%v", doc, got, p, c, total, has)
	}
	checkModel(t, doc, top["model"], model)
	return top, true
}

func checkModel(t *testing.T, doc []byte, raw json.RawMessage, got []byte) {
	t.Helper()
	var want string
	if len(raw) > 0 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 && json.Unmarshal(raw, &want) == nil {
		if string(got) != want {
			t.Fatalf("%s: model %q, encoding/json %q", doc, got, want)
		}
	} else if len(got) > 0 {
		t.Fatalf("%s: model %q read from a non-plain value %s", doc, got, raw)
	}
}

// FuzzInspectFrame: one SSE event never makes the frame scanner panic; a
// data line holding a valid chunk is read as encoding/json reads it; the
// cut it proposes (include_usage's "usage":null) leaves valid JSON.
func FuzzInspectFrame(f *testing.F) {
	for _, s := range []string{
		`{"id":"c","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":null}`,
		`{"id":"c","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}`,
		`{"usage":null}`, `{"usage":null,"choices":[]}`, `{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"{}"}}]}}]}`, `[DONE]`,
	} {
		f.Add([]byte("data: " + s + "\n\n"))
	}
	f.Add([]byte(": keep-alive\n\n"))
	f.Add([]byte("\nevent: x\ndata: [DONE]\r\n\r"))
	f.Fuzz(func(t *testing.T, ev []byte) {
		fi := inspectFrame(ev)
		if fi.cutEnd > fi.cutStart && (fi.cutStart < 0 || fi.cutEnd > len(ev)) {
			t.Fatalf("%q: cut %d:%d out of range", ev, fi.cutStart, fi.cutEnd)
		}
		ds, ok := sseData(ev)
		if !ok {
			return
		}
		line := ev[ds:]
		if i := bytes.IndexAny(line, "\r\n"); i >= 0 {
			line = line[:i]
		}
		top, ok := checkScan(t, line, fi, fi.hasUsage, fi.tokens, fi.model)
		if !ok {
			return
		}
		if fi.cutEnd > fi.cutStart {
			cut := append(append([]byte{}, ev[ds:fi.cutStart]...), ev[fi.cutEnd:ds+len(line)]...)
			var after map[string]json.RawMessage
			if err := json.Unmarshal(cut, &after); err != nil {
				t.Fatalf("%q: cutting usage:null leaves %q: %v", ev, cut, err)
			}
			if _, still := after["usage"]; still || len(after) != len(top)-1 {
				t.Fatalf("%q: cut removed the wrong member: %q", ev, cut)
			}
		}
	})
}

// chunkReader returns its data in pieces of the given sizes, as a network
// does.
type chunkReader struct {
	data  []byte
	sizes []byte
	i     int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := len(r.data)
	if len(r.sizes) > 0 {
		n = int(r.sizes[r.i%len(r.sizes)]) + 1
		r.i++
	}
	n = min(n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// FuzzStreamRelay: the SSE relay passes an upstream stream to the client
// byte for byte however the network splits it, and when it strips the
// usage chunk it asked for, the client gets every other event unchanged.
func FuzzStreamRelay(f *testing.F) {
	frames := "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}],\"usage\":null}\n\n" +
		"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3}}\n\n" +
		"data: [DONE]\n\n"
	f.Add([]byte(frames), []byte{0}, false)
	f.Add([]byte(frames), []byte{3, 200, 7}, true)
	f.Add([]byte(": ping\r\n\r\ndata: {}\r\n\r\n"), []byte{1}, true)
	f.Add([]byte("data: {\"choices\":[]}\rdata: x\r\r"), []byte{}, true)
	f.Add([]byte("data: partial"), []byte{2}, false)
	f.Fuzz(func(t *testing.T, upstream, sizes []byte, strip bool) {
		if len(upstream) > maxEventSize/2 {
			return // past the hold-back bound events are passed on unread
		}
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		buf := make([]byte, 64) // small, so events span reads and the buffer grows
		s := &sseStream{body: &chunkReader{data: upstream, sizes: sizes}, buf: buf, bufp: &buf, strip: strip}
		if err := s.copy(w); err != nil {
			t.Fatalf("copy: %v", err)
		}
		_ = w.Flush()
		if !strip {
			if !bytes.Equal(out.Bytes(), upstream) {
				t.Fatalf("relay changed the stream:\n%q\n%q", upstream, out.Bytes())
			}
			return
		}
		// The same events, split by the scanner in one piece: what is not
		// include_usage's chunk or its usage:null member reaches the client.
		var want bytes.Buffer
		var sc eventScanner
		start := 0
		emit := func(ev []byte) {
			fi := inspectFrame(ev)
			if fi.usageOnly {
				return
			}
			if fi.cutEnd > fi.cutStart {
				want.Write(ev[:fi.cutStart])
				ev = ev[fi.cutEnd:]
			}
			want.Write(ev)
		}
		for i, c := range upstream {
			if sc.step(c) {
				emit(upstream[start : i+1])
				start = i + 1
			}
		}
		if start < len(upstream) {
			emit(upstream[start:])
		}
		if !bytes.Equal(out.Bytes(), want.Bytes()) {
			t.Fatalf("stripped relay of %q:\n got %q\nwant %q", upstream, out.Bytes(), want.Bytes())
		}
	})
}

// FuzzCloudTranslations: any request the shared checks accept becomes a
// valid Converse and generateContent body, and any ConverseStream or
// Gemini stream payload becomes valid Anthropic events (or an error),
// without panicking.
func FuzzCloudTranslations(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}],"tools":[{"type":"function","function":{"name":"f","parameters":{"$schema":"x","additionalProperties":false}}}],"tool_choice":{"type":"function","function":{"name":"f"}}}`,
		`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"1","content":"r"}],"top_k":3,"stop":"x"}`,
	} {
		f.Add([]byte(s), []byte(`{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"t","name":"f"}},"delta":{"text":"a"},"usage":{"inputTokens":1}}`))
	}
	f.Add([]byte(`{}`), []byte(`{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":null}}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3}}`))
	d := &policy.Deployment{ModelName: "m", Provider: policy.ProviderBedrock, Model: &events.Model{}}
	f.Fuzz(func(t *testing.T, body, payload []byte) {
		if ar, _, err := buildAnthropicRequest(body, d, "m", false); err == nil {
			cr, err := converseFromAnthropic(ar)
			if err == nil {
				if b, err := json.Marshal(cr); err != nil || !json.Valid(b) {
					t.Fatalf("converse body for %s: %v", body, err)
				}
			}
			gr, err := geminiFromAnthropic(ar)
			if err == nil {
				if b, err := json.Marshal(gr); err != nil || !json.Valid(b) {
					t.Fatalf("gemini body for %s: %v", body, err)
				}
			}
		}
		for _, et := range []string{"messageStart", "contentBlockStart", "contentBlockDelta", "messageStop", "metadata"} {
			var msg eventstream.Message
			msg.Headers.Set(":event-type", eventstream.StringValue(et))
			msg.Headers.Set(":message-type", eventstream.StringValue("event"))
			msg.Payload = payload
			evs, err := converseToAnthropic(msg, "id", "m")
			for _, ev := range evs {
				if err == nil && !json.Valid(ev) {
					t.Fatalf("%s %s: event %s", et, payload, ev)
				}
			}
		}
		var r geminiResponse
		if json.Unmarshal(payload, &r) == nil {
			if _, err := json.Marshal(r.message("m")); err != nil {
				t.Fatal(err)
			}
		}
	})
}
