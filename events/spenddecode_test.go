package events

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// checkDecodeSpend: DecodeSpend gives what encoding/json gives, id, events
// and error alike, and the fast decoder, when it accepts, agrees. It
// reports whether the fast decoder accepted.
//
// A compressed message is held to what its JSON gives (or to the error
// decompressing it gives).
func checkDecodeSpend(t *testing.T, data []byte) (fast bool) {
	t.Helper()
	plain := data
	var wantID string
	var wantEvs []SpendEvent
	var wantErr error
	if CompressedSpend(data) {
		plain, wantErr = decompressSpend(nil, data)
	}
	if wantErr == nil {
		wantID, wantEvs, wantErr = decodeSpendJSON(plain)
	}
	id, evs, err := DecodeSpend(data)
	if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
		t.Fatalf("%s:\nDecodeSpend error %v\njson.Unmarshal    %v", data, err, wantErr)
	}
	if id != wantID || !reflect.DeepEqual(evs, wantEvs) {
		t.Fatalf("%s:\nDecodeSpend    %q %+v\njson.Unmarshal %q %+v", data, id, evs, wantID, wantEvs)
	}
	fid, fevs, ok := decodeSpendFast(plain)
	if ok && (wantErr != nil || fid != wantID || !reflect.DeepEqual(fevs, wantEvs)) {
		t.Fatalf("%s: fast decoder gives %q %+v, json.Unmarshal %q %+v %v", data, fid, fevs, wantID, wantEvs, wantErr)
	}
	return ok
}

// oddStrings are strings whose encoding an edge escapes, or that are
// escapes' neighbours.
var oddStrings = []string{"", "plain", `q"uote\back/slash`, "<script>&amp;</script>", "tab\tnl\ncr\rbs\bff\f\x00\x1f\x7f",
	"é漢字🙂", "bad\xffutf8\xc3", "line\u2028para\u2029", "\ufffd", "\U0010FFFF", `\u0041`, `{"type":`}

// randomSpendEvent is an event as an edge may record it: any string, any
// number, a time in or out of UTC.
func randomSpendEvent(r *rand.Rand) SpendEvent {
	str := func() string {
		switch r.IntN(4) {
		case 0:
			return ""
		case 1:
			return oddStrings[r.IntN(len(oddStrings))]
		case 2:
			b := make([]byte, r.IntN(12))
			for i := range b {
				b[i] = byte(r.IntN(256))
			}
			return string(b)
		}
		return HashKey(string(rune(r.IntN(1000))))
	}
	i64 := func() int64 {
		switch r.IntN(4) {
		case 0:
			return 0
		case 1:
			return r.Int64() - r.Int64()
		}
		return r.Int64N(100_000)
	}
	f64 := func() float64 {
		switch r.IntN(5) {
		case 0:
			return 0
		case 1:
			return math.Copysign(0, -1)
		case 2:
			return []float64{1e-6, 9.99e-7, 1e21, 1e20, math.MaxFloat64, math.SmallestNonzeroFloat64, -2.5e-9}[r.IntN(7)]
		}
		return r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
	}
	at := time.Date(2026, 12, 4, 19, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(1e18) - 5e17))
	switch r.IntN(8) {
	case 0:
		at = at.Truncate(time.Second)
	case 1:
		at = at.In(time.FixedZone("", 3600*(r.IntN(27)-13)))
	case 2:
		at = time.Date(r.IntN(10000), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1e9), time.UTC)
	}
	return SpendEvent{Type: []string{SpendV1, ""}[r.IntN(2)], RequestID: str(), Time: at, KeyHash: str(), KeyAlias: str(), UserID: str(),
		TeamID: str(), OrgID: str(), EndUserID: str(), Auth: str(), ModelGroup: str(), Model: str(), Deployment: str(), Provider: str(),
		PromptTokens: i64(), CompletionTokens: i64(), TotalTokens: i64(), CachedTokens: i64(), CacheCreationTokens: i64(),
		Estimated: r.IntN(2) == 0, Cost: f64(), LatencyMS: f64(), TTFTMS: f64(), Status: int(i64()), Stream: r.IntN(2) == 0, Outcome: str(),
		PolicySeq: []uint64{0, 1, r.Uint64(), math.MaxUint64}[r.IntN(4)], DenyReason: str(), DenyRule: str(), EdgeID: str(),
		EdgeInstance: str(), Region: str(), ClientRequestID: str(), Endpoint: str(), ResponseID: str(),
		RequestTags: [][]string{nil, {str()}, {str(), str(), str()}}[r.IntN(3)]}
}

// edgeEncodings are spend messages as edges write them: json.Marshal's
// encoding of SpendEvents and SpendBatches (the edge's own encoder is
// that byte for byte: edge/spend's TestAppendEventIsJSON, and its
// TestDecodeSpendReadsEncoding for the batch around the events).
func edgeEncodings(t testing.TB, n int) [][]byte {
	r := rand.New(rand.NewPCG(11, 12))
	var out [][]byte
	for range n {
		var data []byte
		var err error
		if r.IntN(2) == 0 {
			e := randomSpendEvent(r)
			data, err = json.Marshal(&e)
		} else {
			b := SpendBatch{Type: SpendBatchV1, BatchID: NewID(), EdgeID: "edge-" + NewID()[:4], Events: []SpendEvent{}}
			for range r.IntN(5) {
				b.Events = append(b.Events, randomSpendEvent(r))
			}
			data, err = json.Marshal(&b)
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// TestDecodeSpendFastPath: the fast decoder reads every message an edge
// writes itself, never the fallback, and reads it right.
func TestDecodeSpendFastPath(t *testing.T) {
	for _, data := range edgeEncodings(t, 3000) {
		if !checkDecodeSpend(t, data) {
			t.Fatalf("%s: an edge's encoding left to json.Unmarshal", data)
		}
	}
}

// TestDecodeSpendForms: which inputs the fast decoder reads and which it
// leaves to json.Unmarshal; the results are json.Unmarshal's either way.
func TestDecodeSpendForms(t *testing.T) {
	const (
		head = `{"type":"gatehouse.spend.v1.recorded","request_id":"r1","time":"2026-12-04T19:30:01.123456789Z"`
		mid  = `,"auth":"key","model_group":"g","model":"m","deployment_id":"d","provider":"p","prompt_tokens":1,"completion_tokens":2,"total_tokens":3`
		tail = `,"cost":0.5,"latency_ms":12.5,"status":200,"stream":false,"outcome":"ok","edge_id":"e"}`
		ev   = head + mid + tail
	)
	batch := func(evs ...string) string {
		return `{"type":"gatehouse.spend.v1.batch","batch_id":"b1","edge_id":"e","events":[` + strings.Join(evs, ",") + `]}`
	}
	for _, tc := range []struct {
		name, data string
		fast       bool
	}{
		{"lone event", ev, true},
		{"lone event without type", strings.Replace(ev, SpendV1, "", 1), true},
		{"batch", batch(ev, ev, strings.Replace(ev, `"r1"`, `"r2"`, 1)), true},
		{"empty batch", batch(), true},
		{"every optional field", head + `,"key_hash":"k","key_alias":"a","user_id":"u","team_id":"t","org_id":"o","end_user":"eu"` + mid +
			`,"cached_tokens":4,"cache_creation_tokens":5,"estimated":true,"cost":1e-7,"latency_ms":-0,"ttft_ms":1e21,"status":-1,"stream":true,"outcome":"denied","policy_seq":18446744073709551615` +
			`,"deny_reason":"rate_limited","deny_rule":"key:\u003ck\u003e:rpm","edge_id":"e","edge_instance":"i","region":"eu","client_request_id":"c\"\\\/\b\f\n\r\t\u00e9\u2028"` +
			`,"endpoint":"chat","response_id":"chatcmpl-abc\u003c123","request_tags":["prod","t\u003c1"]}`, true},
		{"event of an edge older than request_tags", ev, true},
		{"request_tags empty", ev[:len(ev)-1] + `,"request_tags":[]}`, false},
		{"request_tags null", ev[:len(ev)-1] + `,"request_tags":null}`, false},
		{"request_tags not strings", ev[:len(ev)-1] + `,"request_tags":[1]}`, false},
		{"optional fields written empty", strings.Replace(ev, mid, `,"key_hash":""`+mid+`,"cached_tokens":0,"estimated":false`, 1), true},
		{"time with an offset", strings.Replace(ev, "Z", "+02:00", 1), true},
		{"big integers", strings.Replace(ev, `"prompt_tokens":1`, `"prompt_tokens":-9223372036854775808`, 1), true},

		{"unknown type", strings.Replace(ev, SpendV1, "gatehouse.spend.v2.recorded", 1), false},
		{"batch type on a lone event", strings.Replace(ev, SpendV1, SpendBatchV1, 1), false},
		{"batch holding a foreign event", batch(ev, strings.Replace(ev, SpendV1, "x", 1)), false},
		{"batch holding a batch", batch(batch(ev)), false},
		{"events null", `{"type":"gatehouse.spend.v1.batch","batch_id":"b1","edge_id":"e","events":null}`, false},
		{"batch without edge_id", `{"type":"gatehouse.spend.v1.batch","batch_id":"b1","events":[` + ev + `]}`, false},
		{"batch fields in another order", `{"type":"gatehouse.spend.v1.batch","edge_id":"e","batch_id":"b1","events":[` + ev + `]}`, false},
		{"whitespace", strings.Replace(ev, `,"auth":`, `, "auth":`, 1), false},
		{"whitespace after", ev + "\n", false},
		{"trailing garbage", ev + "x", false},
		{"two events", ev + ev, false},
		{"fields in another order", `{"request_id":"r1","type":"gatehouse.spend.v1.recorded"` + ev[len(head)-len(`,"time":"2026-12-04T19:30:01.123456789Z"`):], false},
		{"unknown field", strings.Replace(ev, `,"edge_id"`, `,"extra":1,"edge_id"`, 1), false},
		{"duplicate field", strings.Replace(ev, `,"auth":"key"`, `,"auth":"key","auth":"jwt"`, 1), false},
		{"missing field", strings.Replace(ev, `,"stream":false`, ``, 1), false},
		{"missing time", strings.Replace(ev, `,"time":"2026-12-04T19:30:01.123456789Z"`, ``, 1), false},
		{"null string", strings.Replace(ev, `"model":"m"`, `"model":null`, 1), false},
		{"null number", strings.Replace(ev, `"cost":0.5`, `"cost":null`, 1), false},
		{"surrogate pair", strings.Replace(ev, `"model":"m"`, `"model":"\ud83d\ude00"`, 1), false},
		{"lone surrogate", strings.Replace(ev, `"model":"m"`, `"model":"\ud83d"`, 1), false},
		{"unknown escape", strings.Replace(ev, `"model":"m"`, `"model":"\x41"`, 1), false},
		{"invalid UTF-8", strings.Replace(ev, `"model":"m"`, "\"model\":\"\xff\"", 1), false},
		{"control byte", strings.Replace(ev, `"model":"m"`, "\"model\":\"\t\"", 1), false},
		{"unterminated string", `{"type":"gatehouse.spend.v1.recorded","request_id":"r1`, false},
		{"float token count", strings.Replace(ev, `"prompt_tokens":1`, `"prompt_tokens":1.0`, 1), false},
		{"exponent token count", strings.Replace(ev, `"prompt_tokens":1`, `"prompt_tokens":1e2`, 1), false},
		{"token count overflow", strings.Replace(ev, `"prompt_tokens":1`, `"prompt_tokens":9223372036854775808`, 1), false},
		{"negative policy_seq", strings.Replace(ev, `,"edge_id"`, `,"policy_seq":-0,"edge_id"`, 1), false},
		{"policy_seq overflow", strings.Replace(ev, `,"edge_id"`, `,"policy_seq":18446744073709551616,"edge_id"`, 1), false},
		{"leading zero", strings.Replace(ev, `"status":200`, `"status":0200`, 1), false},
		{"plus sign", strings.Replace(ev, `"cost":0.5`, `"cost":+0.5`, 1), false},
		{"cost out of range", strings.Replace(ev, `"cost":0.5`, `"cost":1e400`, 1), false},
		{"bad time", strings.Replace(ev, `2026-12-04T19:30:01.123456789Z`, `2026-02-30T19:30:01Z`, 1), false},
		{"time with an escape", strings.Replace(ev, `2026-12-04T19:30:01.123456789Z`, `2026-12-04T19:30:01\u002e1Z`, 1), false},
		{"string time is a number", strings.Replace(ev, `"2026-12-04T19:30:01.123456789Z"`, `1`, 1), false},
		{"bool as string", strings.Replace(ev, `"stream":false`, `"stream":"false"`, 1), false},
		{"truncated", ev[:len(ev)-1], false},
		{"empty", ``, false},
		{"null", `null`, false},
		{"not an object", `[]`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if fast := checkDecodeSpend(t, []byte(tc.data)); fast != tc.fast {
				t.Fatalf("%s: fast decoder read it: %v, want %v", tc.data, fast, tc.fast)
			}
		})
	}
}

// TestDecodeSpendAllocs: a batch costs about one allocation per event
// (its request id): values that repeat from event to event are shared.
func TestDecodeSpendAllocs(t *testing.T) {
	evs := make([]SpendEvent, 64)
	for i := range evs {
		evs[i] = benchEvent(i)
		evs[i].KeyHash, evs[i].KeyAlias = evs[0].KeyHash, evs[0].KeyAlias
	}
	data, err := json.Marshal(SpendBatch{Type: SpendBatchV1, BatchID: "b", EdgeID: "edge-1", Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(20, func() { _, _, _ = DecodeSpend(data) }); n > float64(len(evs)+16) {
		t.Fatalf("%v allocations for a batch of %d events", n, len(evs))
	}
}

// FuzzDecodeSpend: go test ./events -run '^$' -fuzz FuzzDecodeSpend -fuzztime 60s -fuzzminimizetime 100x
// (the seeds are kilobytes long, and minimizing each new input for the
// default 60 s leaves no time to fuzz).
func FuzzDecodeSpend(f *testing.F) {
	for i, data := range edgeEncodings(f, 40) {
		f.Add(data)
		if i%4 == 0 {
			f.Add(CompressSpend(nil, data))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkDecodeSpend(t, data) })
}

// TestMinSpendEventLen: no event the fast decoder reads is shorter than
// minSpendEventLen (the zero event, with the shorter bool, is shortest).
func TestMinSpendEventLen(t *testing.T) {
	data, err := json.Marshal(&SpendEvent{Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := decodeSpendFast(data); !ok || len(data) < minSpendEventLen {
		t.Fatalf("%s (%d bytes): read %v, want at least %d bytes", data, len(data), ok, minSpendEventLen)
	}
}
