package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/klauspost/compress/s2"
)

// edgeBatch is a batch of n events as an edge publishes it under load.
func edgeBatch(t testing.TB, n int) []byte {
	t.Helper()
	evs := make([]SpendEvent, n)
	for i := range evs {
		evs[i] = benchEvent(i)
	}
	data, err := json.Marshal(SpendBatch{Type: SpendBatchV1, BatchID: "01JDBATCH00000000000000000", EdgeID: "edge-1", Events: evs})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestCompressSpendRoundTrip: a compressed message decodes to what its
// JSON decodes to, by the fast decoder, for every form an edge writes.
func TestCompressSpendRoundTrip(t *testing.T) {
	for _, data := range edgeEncodings(t, 500) {
		z := CompressSpend(nil, data)
		if !CompressedSpend(z) || CompressedSpend(data) {
			t.Fatalf("CompressedSpend: %v for the compressed form, %v for the JSON", CompressedSpend(z), CompressedSpend(data))
		}
		if !checkDecodeSpend(t, z) {
			t.Fatalf("%s: compressed, it was left to json.Unmarshal", data)
		}
		id, evs, err := DecodeSpend(z)
		wid, wevs, werr := DecodeSpend(data)
		if err != nil || werr != nil || id != wid || !reflect.DeepEqual(evs, wevs) {
			t.Fatalf("%s: compressed gives %q %v %v, JSON %q %v %v", data, id, evs, err, wid, wevs, werr)
		}
	}
}

// TestCompressSpendIsS2Stream: the compressed form is S2's stream format,
// which any S2 reader (and the s2d tool) decompresses, and CompressSpend
// appends to what dst holds.
func TestCompressSpendIsS2Stream(t *testing.T) {
	data := edgeBatch(t, 8)
	z := CompressSpend([]byte("prefix"), data)
	if !bytes.HasPrefix(z, []byte("prefix")) {
		t.Fatalf("CompressSpend did not append: %q", z[:16])
	}
	got, err := io.ReadAll(s2.NewReader(bytes.NewReader(z[len("prefix"):])))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("s2.NewReader: %v, equal %v", err, bytes.Equal(got, data))
	}
}

// TestCompressSpendRatio: the bytes JetStream stores, copies and
// delivers per event shrink by four times or more for a batch as edges
// send under load: events of 50 keys with unique request ids, times,
// latencies and costs (the figures in the comment on s2StreamID).
func TestCompressSpendRatio(t *testing.T) {
	for _, n := range []int{32, 256} {
		data := edgeBatch(t, n)
		z := CompressSpend(nil, data)
		t.Logf("%d events: %d bytes of JSON (%d an event), %d compressed (%d an event)", n, len(data), len(data)/n, len(z), len(z)/n)
		if len(z)*4 > len(data) {
			t.Fatalf("%d events: %d bytes compressed from %d: less than 4 times smaller", n, len(z), len(data))
		}
	}
}

// TestDecodeSpendCompressedErrors: a damaged or oversized compressed
// message is an error, never events.
func TestDecodeSpendCompressedErrors(t *testing.T) {
	data := edgeBatch(t, 8)
	z := CompressSpend(nil, data)
	flipped := bytes.Clone(z)
	flipped[len(flipped)-5] ^= 0x55
	huge := CompressSpend(nil, bytes.Repeat([]byte(" "), maxSpendMessage+1))
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"truncated", z[:len(z)/2], "compressed spend message"},
		{"corrupt", flipped, "compressed spend message"},
		{"stream id alone", bytes.Clone(s2StreamID), "unexpected end of JSON input"},
		{"expands past the bound", huge, errSpendTooLarge.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, evs, err := DecodeSpend(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) || evs != nil {
				t.Fatalf("got %v events, error %v; want an error with %q", len(evs), err, tc.want)
			}
			if tc.name == "expands past the bound" && !errors.Is(err, errSpendTooLarge) {
				t.Fatalf("error %v is not errSpendTooLarge", err)
			}
		})
	}
}

// TestDecodeSpendCompressedAllocs: decompressing costs a warm consumer a
// few allocations a message, not a buffer per message.
func TestDecodeSpendCompressedAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	data := edgeBatch(t, 64)
	z := CompressSpend(nil, data)
	plain := testing.AllocsPerRun(20, func() { _, _, _ = DecodeSpend(data) })
	compressed := testing.AllocsPerRun(20, func() { _, _, _ = DecodeSpend(z) })
	if compressed > plain+4 {
		t.Fatalf("%v allocations for the compressed batch against %v for its JSON", compressed, plain)
	}
}

// TestPoisonedShowsCompressedJSON: gatewayctl poison shows a compressed
// spend message's JSON, and says it was compressed.
func TestPoisonedShowsCompressedJSON(t *testing.T) {
	data := edgeBatch(t, 4)
	z := CompressSpend(nil, data)
	p := poisonedOf(7, time.Now(), nats.Header{}, z)
	if !p.Compressed || p.Size != len(z) || p.Data != string(data) {
		t.Fatalf("compressed %v, size %d (stored %d), data %.60q", p.Compressed, p.Size, len(z), p.Data)
	}
	if p := poisonedOf(8, time.Now(), nats.Header{}, data); p.Compressed || p.Data != string(data) {
		t.Fatalf("a JSON message: compressed %v, data %.60q", p.Compressed, p.Data)
	}
}
