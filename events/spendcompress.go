package events

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/s2"

	"github.com/gatehouse/gatehouse/internal/bufpool"
)

// A spend message's data is its JSON (a SpendEvent or a SpendBatch), or
// that JSON compressed in S2's stream format, which begins with the
// stream identifier below; JSON cannot begin with its first byte, so
// DecodeSpend tells the two apart from the data alone, and a message
// copied without its headers (a poison replay, a spill line) keeps its
// meaning. Any S2 tool (`s2d`) reads a stored message.
//
// Why compress: an edge's batch repeats the same field names, key
// hashes, team, model and edge id in every event; about 600 bytes of JSON
// an event become about 125 for a batch of 50 keys' events
// (TestCompressSpendRatio), and under 30 for one key's. JetStream keeps
// the stream for a week and copies every byte of it when it stores a
// message, when it delivers it to each consumer and, in a cluster, to
// each replica: at 1,000 requests a second, ~360 GB a week per replica as
// JSON, ~75 GB or less compressed.
//
// Consumers (sink, budget tracker, an edge's resend) read both forms, and
// must be upgraded before edges start sending compressed messages; a
// consumer too old to read one sends it to the poison queue, from which
// it is replayed after the upgrade. An edge can send plain JSON while the
// upgrade rolls (gateway Options.SpendPlain, `-spend-compress=false`).
var s2StreamID = []byte("\xff\x06\x00\x00S2sTwO")

// maxSpendMessage bounds what one compressed spend message may expand to:
// an edge's batch is at most 256 events of well under 4 KiB each, and a
// producer that claims more must not make a consumer allocate it.
const maxSpendMessage = 16 << 20

// errSpendTooLarge is a compressed message that expands past
// maxSpendMessage.
var errSpendTooLarge = errors.New("events: compressed spend message expands past 16 MiB")

// CompressedSpend reports whether data is a compressed spend message.
func CompressedSpend(data []byte) bool { return bytes.HasPrefix(data, s2StreamID) }

// SpendJSON returns a spend message's JSON: data itself, or a compressed
// message decompressed (for reading one: gatewayctl poison, the leak
// tests' search for plaintext secrets).
func SpendJSON(data []byte) ([]byte, error) {
	if !CompressedSpend(data) {
		return data, nil
	}
	return decompressSpend(nil, data)
}

// spendWriter is one S2 stream writer and its output, reused by
// CompressSpend (a writer holds its block buffers).
type spendWriter struct {
	out bytes.Buffer
	w   *s2.Writer
}

var spendWriters = sync.Pool{New: func() any {
	sw := &spendWriter{}
	// One goroutine, and blocks of up to 1 MiB, NATS's largest message:
	// a spend message is one block.
	sw.w = s2.NewWriter(&sw.out, s2.WriterConcurrency(1), s2.WriterBlockSize(1<<20))
	return sw
}}

// CompressSpend appends the compressed form of a spend message's JSON to
// dst. DecodeSpend reads it back.
func CompressSpend(dst, data []byte) []byte {
	sw := spendWriters.Get().(*spendWriter)
	sw.out = *bytes.NewBuffer(dst) // writes go after dst's bytes
	sw.w.Reset(&sw.out)
	// Writes to a bytes.Buffer cannot fail, so neither can the writer.
	_ = sw.w.EncodeBuffer(data)
	_ = sw.w.Close()
	out := sw.out.Bytes()
	sw.out = bytes.Buffer{}
	spendWriters.Put(sw)
	return out
}

// spendReaders holds S2 stream readers for decompressSpend.
var spendReaders = sync.Pool{New: func() any {
	return s2.NewReader(nil, s2.ReaderMaxBlockSize(1<<20))
}}

// plainBufs holds the decompressed JSON DecodeSpend reads its events
// from; the events copy every string out, so a buffer is free again when
// DecodeSpend returns.
var plainBufs = bufpool.Pool{Max: 4 << 20}

// decompressSpend appends the JSON of a compressed spend message to dst.
func decompressSpend(dst, data []byte) ([]byte, error) {
	r := spendReaders.Get().(*s2.Reader)
	defer spendReaders.Put(r)
	r.Reset(bytes.NewReader(data))
	w := bytes.NewBuffer(dst)
	n, err := w.ReadFrom(io.LimitReader(r, maxSpendMessage+1))
	r.Reset(nil)
	if err != nil {
		return w.Bytes(), fmt.Errorf("events: compressed spend message: %w", err)
	}
	if n > maxSpendMessage {
		return w.Bytes(), errSpendTooLarge
	}
	return w.Bytes(), nil
}
