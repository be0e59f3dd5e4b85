package events

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// benchEvent is a spend event as an edge records it for a served request.
func benchEvent(i int) SpendEvent {
	return SpendEvent{Type: SpendV1, RequestID: fmt.Sprintf("01JD%022d", i), Time: time.Date(2026, 12, 4, 19, 30, 1, 123456789+i, time.UTC),
		KeyHash: HashKey(fmt.Sprint("sk-", i%50)), KeyAlias: fmt.Sprint("key-", i%50), TeamID: "team-1", UserID: "user-7",
		Auth: "key", ModelGroup: "gpt-4o", Model: "gpt-4o-2024-08-06", Deployment: "dep-1", Provider: "openai",
		PromptTokens: 120 + int64(i), CompletionTokens: 30, TotalTokens: 150 + int64(i), Cost: 0.00123 + float64(i)*1e-6, LatencyMS: 812.5 + float64(i)/8,
		Status: 200, Stream: i%2 == 0, Outcome: "ok", PolicySeq: 1042, EdgeID: "edge-1", EdgeInstance: "01JDEDGEINSTANCE0000000000", Region: "eu"}
}

// BenchmarkDecodeSpend: a batch of 256 events as an edge publishes it
// under load, and a lone event (a quiet edge's message), each as JSON and
// compressed (-s2; SetBytes counts the JSON's bytes for both).
// go test ./events -run '^$' -bench DecodeSpend -benchmem
func BenchmarkDecodeSpend(b *testing.B) {
	batch := edgeBatch(b, 256)
	first := benchEvent(0)
	lone, err := json.Marshal(&first)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
		n    int
	}{{"batch256", batch, 256}, {"lone", lone, 1},
		{"batch256-s2", CompressSpend(nil, batch), 256}, {"lone-s2", CompressSpend(nil, lone), 1}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			if _, evs, err := DecodeSpend(c.data); err == nil {
				plain, _ := json.Marshal(evs)
				b.SetBytes(int64(len(plain)))
			}
			for b.Loop() {
				if _, got, err := DecodeSpend(c.data); err != nil || len(got) != c.n {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(c.n), "ns/event")
		})
	}
}

// BenchmarkCompressSpend: what compressing a batch costs an edge.
// go test ./events -run '^$' -bench CompressSpend -benchmem
func BenchmarkCompressSpend(b *testing.B) {
	for _, n := range []int{1, 32, 256} {
		batch := edgeBatch(b, n)
		b.Run(fmt.Sprint("events", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(batch)))
			var out []byte
			for b.Loop() {
				out = CompressSpend(out[:0], batch)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/event")
			b.ReportMetric(float64(len(batch))/float64(len(out)), "ratio")
		})
	}
}
