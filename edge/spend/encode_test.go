package spend

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// TestAppendEventIsJSON: the hand-written encoder gives json.Marshal's
// bytes, for every field of SpendEvent (a field added without updating it
// fails here) and for strings and numbers json treats specially.
func TestAppendEventIsJSON(t *testing.T) {
	if !exactJSON {
		t.Fatal("appendEvent does not render every SpendEvent field as json.Marshal does: add the new fields to appendEventJSON")
	}
	at := time.Date(2026, 3, 4, 5, 6, 7, 890, time.UTC)
	strs := []string{"", "plain", `q"uote\back`, "<script>&</script>", "tab\tnl\ncr\rbs\bff\f\x00\x1f\x7f", "é漢字🙂",
		"bad\xffutf8\xc3", "line\u2028para\u2029", "k-" + events.HashKey("sk-x")}
	floats := []float64{0, math.Copysign(0, -1), 1, -1.5, 0.1 + 0.2, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 123456789.123, 2.5e-9, -3e-12, math.MaxFloat64, math.SmallestNonzeroFloat64}
	var cases []events.SpendEvent
	for i, s := range strs {
		f := floats[i%len(floats)]
		cases = append(cases, events.SpendEvent{Type: events.SpendV1, RequestID: s, Time: at, KeyHash: s, KeyAlias: s, UserID: s, TeamID: s,
			OrgID: s, EndUserID: s, Auth: s, ModelGroup: s, Model: s, Deployment: s, Provider: s, PromptTokens: int64(i) - 3,
			CompletionTokens: math.MaxInt64, TotalTokens: math.MinInt64, CachedTokens: int64(i%3) * math.MaxInt64 / 2, CacheCreationTokens: -int64(i % 2), Estimated: i%2 == 0, Cost: f, LatencyMS: -f, TTFTMS: f,
			Status: 200 + i, Stream: i%3 == 0, Outcome: s, PolicySeq: uint64(i) * 1e17, DenyReason: s, DenyRule: s, EdgeID: s, EdgeInstance: s, Region: s, ClientRequestID: s, Endpoint: s, ResponseID: s})
	}
	for _, f := range floats {
		cases = append(cases, events.SpendEvent{Time: at.Truncate(time.Second), Cost: f, LatencyMS: f, TTFTMS: f})
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, rnd.IntN(12))
		for i := range b {
			b[i] = byte(rnd.IntN(256))
		}
		cases = append(cases, events.SpendEvent{Time: at.Add(time.Duration(rnd.Int64())), RequestID: string(b), Model: string(b[:len(b)/2]),
			Cost: rnd.NormFloat64() * math.Pow(10, float64(rnd.IntN(60)-30)), LatencyMS: rnd.Float64() * 1e4})
	}
	for i := range cases {
		want, err := json.Marshal(&cases[i])
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendEvent(nil, &cases[i])
		if !ok || string(got) != string(want) {
			t.Fatalf("case %d (ok %v):\ngot  %s\nwant %s", i, ok, got, want)
		}
	}
}

// TestEncodeFallsBack: what the fast encoder leaves to json.Marshal (a
// time outside UTC, NaN cost) still encodes as before.
func TestEncodeFallsBack(t *testing.T) {
	paris := time.FixedZone("", 3600)
	for _, e := range []events.SpendEvent{
		{RequestID: "r1", Time: time.Date(2026, 3, 4, 5, 6, 7, 0, paris)},
		{RequestID: "r3", Time: time.Now().UTC(), Cost: math.NaN()},
	} {
		want, err := json.Marshal(&e)
		if err != nil {
			cp := e
			cp.Cost, cp.LatencyMS, cp.TTFTMS = 0, 0, 0
			want, err = json.Marshal(&cp)
		}
		if err != nil {
			t.Fatal(err)
		}
		ev := eventPool.Get().(*events.SpendEvent)
		*ev = e
		got := encode(ev)
		if string(got) != string(want) {
			t.Fatalf("%s:\ngot  %s\nwant %s", e.RequestID, got, want)
		}
	}
}

// BenchmarkEncodeEvent: one spend event rendered by the publisher's
// encoder and by json.Marshal (what it replaced).
func BenchmarkEncodeEvent(b *testing.B) {
	e := spendEvent(1)
	e.EdgeID, e.EdgeInstance, e.Region = "edge-1", "01JABCDEFGHJKMNPQRSTVWXYZ0", "eu"
	buf := make([]byte, 0, 1024)
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = appendEvent(buf[:0], &e)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out, _ := json.Marshal(&e)
			buf = append(buf[:0], out...)
		}
	})
}

// TestDecodeSpendReadsEncoding: what the publisher writes (a lone event,
// a batch, a spill line) is read by events.DecodeSpend's fast decoder,
// never its encoding/json fallback, and read as json.Unmarshal reads it.
// A change to the encoding that the decoder does not follow fails here,
// not as CPU on the control plane.
func TestDecodeSpendReadsEncoding(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	strs := []string{"", "plain", `q"uote\back`, "<script>&</script>", "tab\tnl\n\x00\x1f\x7f", "é漢字🙂", "bad\xffutf8\xc3",
		"line\u2028para\u2029", events.HashKey("sk-x"), events.DenyRateLimited}
	str := func() string { return strs[rnd.IntN(len(strs))] }
	event := func() *events.SpendEvent {
		e := eventPool.Get().(*events.SpendEvent)
		at := time.Date(2026, 12, 4, 19, 0, 0, 0, time.UTC).Add(time.Duration(rnd.Int64N(1e15)))
		if rnd.IntN(10) == 0 {
			at = at.In(time.FixedZone("", 3600)) // json.Marshal's encoding
		}
		f := func() float64 { return rnd.NormFloat64() * math.Pow(10, float64(rnd.IntN(40)-20)) }
		*e = events.SpendEvent{Type: events.SpendV1, RequestID: events.NewID(), Time: at, KeyHash: str(), KeyAlias: str(), UserID: str(),
			TeamID: str(), OrgID: str(), EndUserID: str(), Auth: str(), ModelGroup: str(), Model: str(), Deployment: str(), Provider: str(),
			PromptTokens: rnd.Int64N(1e6), CompletionTokens: rnd.Int64(), TotalTokens: -rnd.Int64(), CachedTokens: rnd.Int64N(3),
			CacheCreationTokens: rnd.Int64N(3), Estimated: rnd.IntN(2) == 0, Cost: f(), LatencyMS: f(), TTFTMS: f() * float64(rnd.IntN(2)),
			Status: 200 + rnd.IntN(400), Stream: rnd.IntN(2) == 0, Outcome: str(), PolicySeq: rnd.Uint64() * uint64(rnd.IntN(2)),
			DenyReason: str(), DenyRule: str(), EdgeID: str(), EdgeInstance: str(), Region: str(), ClientRequestID: str(), Endpoint: str(), ResponseID: str()}
		return e
	}
	for i := range 500 {
		var data []byte
		switch n := rnd.IntN(6); n {
		case 0:
			data = encode(event()) // a lone event, or a spill line
		default:
			p := &Publisher{o: Options{EdgeID: []string{"edge-1", "eu-west-1a", "edge-é"}[i%3]}}
			batch := make([]*events.SpendEvent, n*n)
			for j := range batch {
				batch[j] = event()
			}
			data = p.encodeBatch(nil, batch, events.NewID())
		}
		var want struct {
			events.SpendEvent
			BatchID string              `json:"batch_id"`
			Events  []events.SpendEvent `json:"events"`
		}
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		wantID, wantEvs := want.RequestID, []events.SpendEvent{want.SpendEvent}
		if want.Type == events.SpendBatchV1 {
			wantID, wantEvs = want.BatchID, want.Events
		}
		before := events.SpendDecodeFallbacks()
		id, evs, err := events.DecodeSpend(data)
		if events.SpendDecodeFallbacks() != before {
			t.Fatalf("%s: DecodeSpend left the publisher's encoding to encoding/json", data)
		}
		if err != nil || id != wantID || !reflect.DeepEqual(evs, wantEvs) {
			t.Fatalf("%s:\nDecodeSpend    %q %+v %v\njson.Unmarshal %q %+v", data, id, evs, err, wantID, wantEvs)
		}
	}
}
