package policy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
)

// Snapshots of the policy state let a new edge start from one object
// instead of replaying every message of the policy stream: with a million
// keys the replay is a 700 MB read and a million envelope decodes. The
// control plane writes the state it projected, with the stream sequence it
// reflects, to a JetStream object store; an edge loads it and follows the
// stream from the next sequence. Because the stream keeps the last message
// of every subject, snapshot + the messages after it is exactly the state
// a full replay gives.
const (
	// SnapshotFormat is the first line's format; a reader that does not
	// know it replays the stream instead.
	SnapshotFormat = "gatehouse.policy.snapshot.v1"
)

// SnapshotHeader is a snapshot's first line.
type SnapshotHeader struct {
	Format string    `json:"format"`
	Seq    uint64    `json:"seq"`
	Stream time.Time `json:"stream_created"` // the policy stream's creation time
	Keys   int       `json:"keys"`
	Time   time.Time `json:"written"`
}

// WriteSnapshot writes s: the header line, then one line per object,
// "<kind>\t<json>".
func WriteSnapshot(w io.Writer, s *Snapshot, streamCreated time.Time) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	h, err := json.Marshal(SnapshotHeader{Format: SnapshotFormat, Seq: s.seq, Stream: streamCreated.UTC(), Keys: s.nkeys, Time: time.Now().UTC()})
	if err != nil {
		return err
	}
	bw.Write(h)        //nolint:errcheck // surfaced by Flush
	bw.WriteByte('\n') //nolint:errcheck
	put := func(kind events.Kind, obj any) error {
		b, err := json.Marshal(obj)
		if err != nil {
			return fmt.Errorf("policy: snapshot %s: %w", kind, err)
		}
		bw.WriteString(string(kind)) //nolint:errcheck
		bw.WriteByte('\t')           //nolint:errcheck
		bw.Write(b)                  //nolint:errcheck
		return bw.WriteByte('\n')
	}
	var errs []error
	for _, m := range s.models {
		errs = append(errs, put(events.KindModel, m))
	}
	for _, g := range s.groups {
		errs = append(errs, put(events.KindAccessGroup, g))
	}
	for _, o := range s.orgs {
		errs = append(errs, put(events.KindOrg, o))
	}
	for _, t := range s.teams {
		errs = append(errs, put(events.KindTeam, t))
	}
	for _, u := range s.users {
		errs = append(errs, put(events.KindUser, u))
	}
	if s.jwt != nil {
		errs = append(errs, put(events.KindJWTSettings, s.jwt))
	}
	if s.routingSettings != nil {
		errs = append(errs, put(events.KindRouterSettings, s.routingSettings))
	}
	for _, c := range s.customers {
		errs = append(errs, put(events.KindCustomer, c))
	}
	if s.litellm != nil {
		errs = append(errs, put(events.KindLiteLLMSettings, s.litellm))
	}
	for i := range s.keys {
		for h, r := range s.keys[i] {
			if err := put(events.KindKey, r.peek(h)); err != nil {
				return err
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return bw.Flush()
}

// ReadSnapshot builds a snapshot keeping full keys from what WriteSnapshot
// wrote.
func ReadSnapshot(r io.Reader, env Env) (*Snapshot, SnapshotHeader, error) {
	return ReadSnapshotOf(r, env, FullKeys)
}

// ReadSnapshotOf builds a snapshot keeping keys as m says from what
// WriteSnapshot wrote. Keys, nearly all of a large snapshot, are decoded
// on every CPU.
func ReadSnapshotOf(r io.Reader, env Env, m KeyRecords) (*Snapshot, SnapshotHeader, error) {
	var h SnapshotHeader
	br := bufio.NewReaderSize(r, 1<<20)
	if isS2(br) {
		br = bufio.NewReaderSize(s2.NewReader(br), 1<<20)
	}
	line, err := br.ReadBytes('\n')
	if err != nil {
		return nil, h, fmt.Errorf("policy: snapshot header: %w", err)
	}
	if err := json.Unmarshal(line, &h); err != nil {
		return nil, h, fmt.Errorf("policy: snapshot header: %w", err)
	}
	if h.Format != SnapshotFormat {
		return nil, h, fmt.Errorf("policy: snapshot format %q is not %q", h.Format, SnapshotFormat)
	}
	b := EmptyOf(env, m).Edit(env)
	b.presize(h.Keys)

	// Key lines go to decoders in chunks; results come back in chunks and
	// are applied here, on one goroutine, like the stream's events. Chunks
	// are recycled: the lines are copied into the chunk's buffer, not
	// allocated one by one, and under CompactKeys, whose records keep
	// nothing of the decoded events.Key, the keys are decoded into the
	// chunk's slab. A million keys would otherwise leave over 700 MB of
	// garbage behind, and the start-up would spend its time collecting it.
	type chunk struct {
		buf    []byte // the key lines, back to back
		ends   []int  // where each line ends in buf
		slab   []events.Key
		keys   []*events.Key
		recs   []*keyRec
		hashes []KeyHash
		shapes []uint64 // shapeHash of each key, under CompactKeys
		err    error
	}
	reuse := m == CompactKeys
	in := b.s.intern // decoders only hash (shapeHash) and look up (knownShape)
	workers := max(runtime.GOMAXPROCS(0), 1)
	todo := make(chan *chunk, workers*2)
	done := make(chan *chunk, workers*2)
	free := make(chan *chunk, workers*4+2)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range todo {
				n := len(c.ends)
				c.keys, c.recs, c.hashes, c.shapes = c.keys[:0], c.recs[:0], c.hashes[:0], c.shapes[:0]
				if reuse && len(c.slab) < n {
					c.slab = make([]events.Key, n)
				}
				for i, start := 0, 0; i < n; i++ {
					var k *events.Key
					if reuse {
						c.slab[i] = events.Key{}
						k = &c.slab[i]
					} else {
						k = new(events.Key)
					}
					line := c.buf[start:c.ends[i]]
					start = c.ends[i]
					if err := decodeKey(line, k); err != nil {
						c.err = fmt.Errorf("policy: snapshot key: %w", err)
						break
					}
					hash, err := ParseKeyHash(k.Token)
					if err != nil {
						c.err = fmt.Errorf("policy: snapshot key: %w", err)
						break
					}
					rec, sh := newKeyRec(k, m), uint64(0)
					if m == CompactKeys {
						sh = in.shapeHash(k)
						rec.shape = in.knownShape(k, sh)
					}
					c.keys, c.recs, c.hashes, c.shapes = append(c.keys, k), append(c.recs, rec), append(c.hashes, hash), append(c.shapes, sh)
				}
				done <- c
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()

	var applyErr error
	applied := make(chan struct{})
	go func() {
		defer close(applied)
		for c := range done {
			if c.err != nil && applyErr == nil {
				applyErr = c.err
			}
			if applyErr == nil {
				for i, k := range c.keys {
					b.putKeyRec(c.hashes[i], k, c.recs[i], c.shapes[i])
					// The old token a regenerated key replaced is no line of
					// its own: its grace period comes back from the new key.
					if k.PreviousTokenExpires != nil {
						if old, err := ParseKeyHash(k.RegeneratedFrom); err == nil {
							b.graceFor(old, c.hashes[i], k)
						}
					}
				}
			}
			select {
			case free <- c:
			default:
			}
		}
	}()

	const chunkSize = 1024
	next := func() *chunk {
		select {
		case c := <-free:
			c.buf, c.ends, c.err = c.buf[:0], c.ends[:0], nil
			return c
		default:
			return &chunk{buf: make([]byte, 0, 512*chunkSize), ends: make([]int, 0, chunkSize)}
		}
	}
	cur := next()
	var readErr error
	seq := uint64(0)
	var long []byte // a line longer than br's buffer, in pieces
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, line...)
			continue
		}
		if long != nil {
			line, long = append(long, line...), nil
		}
		if len(line) > 0 {
			kind, obj, ok := bytes.Cut(bytes.TrimSuffix(line, []byte("\n")), []byte("\t"))
			if !ok {
				readErr = errors.New("policy: snapshot line without kind")
				break
			}
			if events.Kind(kind) == events.KindKey {
				cur.buf = append(cur.buf, obj...)
				cur.ends = append(cur.ends, len(cur.buf))
				if len(cur.ends) == chunkSize {
					todo <- cur
					cur = next()
				}
			} else if readErr = applyObject(b, events.Kind(kind), bytes.Clone(obj), &seq); readErr != nil {
				break
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}
	if len(cur.ends) > 0 {
		todo <- cur
	}
	close(todo)
	<-applied
	if err := errors.Join(readErr, applyErr); err != nil {
		return nil, h, err
	}
	if b.s.nkeys != h.Keys {
		return nil, h, fmt.Errorf("policy: snapshot has %d keys, its header says %d (truncated?)", b.s.nkeys, h.Keys)
	}
	s := b.Snapshot()
	s.seq = h.Seq
	return s, h, nil
}

// applyObject applies a non-key object through the event path, so the
// snapshot builds exactly what the events would.
func applyObject(b *Builder, kind events.Kind, data []byte, seq *uint64) error {
	// A kind this build does not know (a snapshot written by a newer
	// control plane) makes the snapshot unreadable, so the edge replays
	// the stream and stops, reporting the unknown event type there; it
	// must not reach TypeFor, which panics on it.
	typ, ok := events.TypeOf(kind, events.ActionUpserted)
	if !ok {
		return fmt.Errorf("%w: snapshot kind %q", events.ErrUnknownType, kind)
	}
	info, _ := events.Lookup(typ)
	env := events.Envelope{ID: "snapshot", Type: typ, Data: data}
	raw, err := json.Marshal(env)
	if err != nil {
		return err
	}
	ev, err := events.Decode(raw)
	if err != nil {
		return fmt.Errorf("policy: snapshot %s: %w", kind, err)
	}
	*seq++
	ev.Seq, ev.Info = *seq, info
	return b.Apply(ev)
}

// SaveSnapshot writes s to the snapshot bucket (creating it), tagged with
// the policy stream's creation time so a snapshot of a deleted and
// recreated stream is never used.
func SaveSnapshot(ctx context.Context, js jetstream.JetStream, s *Snapshot, replicas int) (*jetstream.ObjectInfo, error) {
	info, err := events.StreamInfo(ctx, js, events.PolicyStream)
	if err != nil {
		return nil, err
	}
	store, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: events.SnapshotBucket,
		Description: "gatehouse policy snapshots: the state at a stream sequence, for fast edge start-up",
		Storage:     jetstream.FileStorage, Replicas: max(replicas, 1)})
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		zw := s2.NewWriter(pw)
		err := WriteSnapshot(zw, s, info.Created)
		if cerr := zw.Close(); err == nil {
			err = cerr
		}
		pw.CloseWithError(err)
	}()
	return store.Put(ctx, jetstream.ObjectMeta{Name: events.SnapshotObject, Metadata: map[string]string{
		"seq": strconv.FormatUint(s.seq, 10), "stream_created": info.Created.UTC().Format(time.RFC3339Nano),
		"encoding": "s2",
	}}, pr)
}

// The stored object is S2-compressed (github.com/klauspost/compress/s2,
// its framed stream format): the key lines are JSON that shrinks several
// times, and every edge downloads the whole object at start-up, often
// from another region, so the bytes the server sends and the client reads
// are what a start costs. ReadSnapshotOf tells the two apart by the
// stream's magic, so a plain snapshot (a file written by WriteSnapshot,
// or an object stored before) still reads; an older edge that meets a
// compressed object fails on its header and replays the stream instead.

// s2Magic is the S2 framed stream's first chunk: the stream identifier.
const s2Magic = "\xff\x06\x00\x00S2sTwO"

// isS2 says whether br holds an S2 stream (a plain snapshot starts with
// its JSON header line).
func isS2(br *bufio.Reader) bool {
	b, _ := br.Peek(len(s2Magic))
	return string(b) == s2Magic
}

// ErrNoSnapshot means there is no usable snapshot; the caller replays.
var ErrNoSnapshot = errors.New("policy: no usable snapshot")

// LoadSnapshot reads the latest snapshot, keeping full keys, if it belongs
// to the current policy stream.
func LoadSnapshot(ctx context.Context, js jetstream.JetStream, env Env) (*Snapshot, error) {
	return LoadSnapshotOf(ctx, js, env, FullKeys)
}

// snapshotLoadTimeout bounds LoadSnapshotOf when its context has no
// deadline. Without one the JetStream client bounds every call, the
// object download included, by its default API timeout (5 s): a snapshot
// of a million keys takes longer than that to download and decode, so the
// load failed half-way and the edge replayed the whole stream after it.
// The object store interrupts a stuck download only at the deadline, so
// there must be one; a load this long is far slower than any replay.
const snapshotLoadTimeout = 5 * time.Minute

// LoadSnapshotOf is LoadSnapshot keeping keys as m says.
func LoadSnapshotOf(ctx context.Context, js jetstream.JetStream, env Env, m KeyRecords) (*Snapshot, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, snapshotLoadTimeout)
		defer cancel()
	}
	store, err := js.ObjectStore(ctx, events.SnapshotBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, ErrNoSnapshot
	}
	if err != nil {
		return nil, err
	}
	info, err := events.StreamInfo(ctx, js, events.PolicyStream)
	if err != nil {
		return nil, err
	}
	obj, err := store.Get(ctx, events.SnapshotObject)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, ErrNoSnapshot
	}
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	s, h, err := ReadSnapshotOf(obj, env, m)
	if err != nil {
		return nil, err
	}
	if !h.Stream.Equal(info.Created.UTC()) || h.Seq > info.State.LastSeq {
		return nil, fmt.Errorf("%w: it is of another policy stream (created %s, seq %d; the stream: created %s, last seq %d)",
			ErrNoSnapshot, h.Stream, h.Seq, info.Created.UTC(), info.State.LastSeq)
	}
	return s, nil
}

// Snapshotter keeps the snapshot bucket close to the stream: once the
// projection has caught up, and then every Interval, it writes a snapshot
// when the state is Every or more events past the stored one.
type Snapshotter struct {
	JS       jetstream.JetStream
	Live     *Live
	Every    uint64        // default 10,000 events
	Interval time.Duration // default 1 minute
	Replicas int
	Log      *slog.Logger
}

// Run writes snapshots until ctx ends.
func (sn *Snapshotter) Run(ctx context.Context) {
	every, interval := sn.Every, sn.Interval
	if every == 0 {
		every = 10_000
	}
	if interval <= 0 {
		interval = time.Minute
	}
	log := sn.Log
	if log == nil {
		log = slog.Default()
	}
	stored := sn.storedSeq(ctx)
	tick := time.NewTicker(min(interval, time.Second))
	defer tick.Stop()
	lastTry := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !sn.Live.Ready() || time.Since(lastTry) < interval && !lastTry.IsZero() {
			continue
		}
		s := sn.Live.Load()
		if s.Seq() < stored+every {
			continue
		}
		lastTry = time.Now()
		t0 := time.Now()
		oi, err := SaveSnapshot(ctx, sn.JS, s, sn.Replicas)
		if err != nil {
			log.Warn("policy snapshot not written; edges replay the stream instead", "err", err)
			continue
		}
		stored = s.Seq()
		log.Info("policy snapshot written", "seq", s.Seq(), "keys", s.NumKeys(), "bytes", oi.Size, "took", time.Since(t0))
	}
}

// storedSeq is the sequence of the stored snapshot (0: none).
func (sn *Snapshotter) storedSeq(ctx context.Context) uint64 {
	oi, err := StoredSnapshot(ctx, sn.JS)
	if err != nil {
		return 0
	}
	seq, _ := strconv.ParseUint(oi.Metadata["seq"], 10, 64)
	return seq
}

// StoredSnapshot describes the stored snapshot without reading it; its
// Metadata["seq"] is the stream sequence it reflects.
func StoredSnapshot(ctx context.Context, js jetstream.JetStream) (*jetstream.ObjectInfo, error) {
	store, err := js.ObjectStore(ctx, events.SnapshotBucket)
	if err != nil {
		return nil, err
	}
	return store.GetInfo(ctx, events.SnapshotObject)
}
