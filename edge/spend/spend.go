// Package spend publishes the edge's spend events to JetStream without
// putting NATS, or the disk, on the request path.
//
// Record (the request path) only sends the event to an in-memory queue.
// A publisher goroutine encodes it and publishes it with PublishAsync,
// Nats-Msg-Id = request id, on events.SpendSubjectPrefix.<edge id>; an ack
// goroutine waits for the stream's acks. An event that cannot be published
// (NATS disconnected, publish error, nack, ack timeout) goes to a spill
// queue on disk, and a resend loop republishes the spill queue, oldest
// first, once NATS is back. The stream deduplicates by request id within
// events.SpendDedupeWindow, so resending an event that was in fact stored
// (its ack was lost) is harmless.
//
// Every recorded event ends up in exactly one of: published (acked), spilled
// (on disk, to be resent), dropped (counted and logged), or is still
// pending in memory; see Stats.
package spend

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/bufpool"
	"github.com/gatehouse/gatehouse/internal/opt"
)

// Options configure a Publisher. JS, EdgeID and SpillDir are required.
type Options struct {
	// JS is the edge's JetStream; its connection is used (the publisher
	// makes its own JetStream contexts on it for its async settings).
	// The connection should reconnect forever (nats.MaxReconnects(-1)).
	JS     jetstream.JetStream
	EdgeID string // one subject token (no '.', '*', '>' or spaces)
	Region string
	// QueueSize is the in-memory queue between Record and the publisher.
	// Default 65536.
	QueueSize int
	// MaxInFlight bounds publishes awaiting their ack (PublishAsync max
	// pending). Default 4096.
	MaxInFlight int
	// SpillDir holds the on-disk spill queue. Required, and one per edge
	// process: two publishers must not share it.
	SpillDir string
	// SpillMaxBytes bounds the spill queue on disk. Default 1 GiB. When it
	// is full, new events are refused (counted in Stats.DroppedSpillFull and
	// logged), not old ones: the oldest are already durable and are resent
	// first once NATS is back, whereas dropping them would mean rewriting
	// segments and losing the events most likely to be billed already.
	SpillMaxBytes int64
	Log           *slog.Logger
	// Registerer, if set, gets the publisher's metrics (gatehouse_spend_*).
	Registerer prometheus.Registerer

	// MaxBatch is the most events published in one message; BatchDelay how
	// long the first event of a batch waits for others. One message per
	// request would cost the stream a store and an ack per request, more
	// CPU than the rest of the edge's request path; a batch costs that once.
	// Defaults 256 and 2ms.
	MaxBatch   int
	BatchDelay time.Duration
	// Plain publishes messages as JSON instead of compressed
	// (events.CompressSpend), for consumers older than compressed spend
	// messages while an upgrade rolls. The spill queue holds JSON either
	// way.
	Plain bool

	// OverflowSize is the second queue Record uses when QueueSize is full,
	// read by the spill writer. Default QueueSize/8 (at least 64).
	OverflowSize int
	// AckTimeout is how long a publish waits for its ack before the event
	// is spilled. Default 5s.
	AckTimeout time.Duration
	// SegmentMaxBytes is the size at which a spill segment is closed.
	// Default 64 MiB.
	SegmentMaxBytes int64
	// SyncInterval is how often the spill queue is fsynced (and, while NATS
	// is up, the active segment is closed so it can be resent). Default 1s.
	SyncInterval time.Duration
	// ResendInterval is how often the resend loop looks for closed
	// segments. Default 1s.
	ResendInterval time.Duration

	// writeDelay slows every spill write (tests: a slow disk).
	writeDelay func()
}

const (
	defaultQueueSize     = 65536
	defaultMaxInFlight   = 4096
	defaultSpillMaxBytes = 1 << 30
	defaultAckTimeout    = 5 * time.Second
	defaultSegmentMax    = 64 << 20
	defaultSyncInterval  = time.Second
	defaultResend        = time.Second
	defaultMaxBatch      = 256
	defaultBatchDelay    = 2 * time.Millisecond
	// resendBatch is how many spilled events are in flight at once while
	// resending; a segment is deleted once all its batches are acked.
	resendBatch = 1024
	// spillQueueSize is the channel of encoded events from the publisher
	// and ack goroutines to the spill writer (they block on it; Record
	// never does).
	spillQueueSize = 4096
)

// Stats are counters since New. Recorded = Published + Spilled + Dropped +
// Pending. Resent counts spilled events (this run's or a previous run's)
// acked later; they are already counted in Spilled, or in the run that
// spilled them.
type Stats struct {
	Recorded  uint64 // Record calls
	Published uint64 // acked by the stream on the first attempt
	Spilled   uint64 // written to the spill queue
	Resent    uint64 // acked from the spill queue
	Dropped   uint64 // lost, the sum of the Dropped* below
	Pending   int64  // in memory: queued or awaiting an ack

	DroppedQueueFull  uint64 // both in-memory queues full (spill writer too slow)
	DroppedSpillFull  uint64 // spill queue at SpillMaxBytes
	DroppedSpillError uint64 // disk write failed
	DroppedClosed     uint64 // Record after Close

	SpillBytes    int64 // on disk
	SpillSegments int   // closed segments waiting to be resent
	SpillCorrupt  uint64
}

// Publisher is the edge's spend publisher. Safe for concurrent use.
type Publisher struct {
	o       Options
	log     *slog.Logger
	nc      *nats.Conn
	js, rjs jetstream.JetStream // live publishes; resends
	subject string

	// Hot counters, apart from the rest.
	_         [64]byte
	recording atomic.Int64 // Record calls past the closed check
	recorded  atomic.Uint64
	_         [64]byte
	closed    atomic.Bool

	q        chan *events.SpendEvent
	overflow chan *events.SpendEvent
	toSpill  chan spillItem
	acks     chan pending
	metrics  *metrics

	published, spilled, resent, corrupt           atomic.Uint64
	dropQueue, dropFull, dropErr, dropClosed      atomic.Uint64
	spill                                         *spillQueue
	stopSend, giveUp, stopResend, stopWriter      chan struct{}
	senderDone, ackerDone, resendDone, writerDone chan struct{}
	giveUpOnce, closeOnce                         sync.Once
	closeErr                                      error
	lastDropLog                                   [3]uint64
	writeErrs                                     atomic.Pointer[error]
}

var eventPool = sync.Pool{New: func() any { return new(events.SpendEvent) }}

// New starts a publisher. Segments left in SpillDir by a previous run are
// resent once NATS is up. NATS need not be up for New to succeed.
func New(o Options) (*Publisher, error) {
	if o.JS == nil {
		return nil, errors.New("spend: Options.JS is required")
	}
	if o.SpillDir == "" {
		return nil, errors.New("spend: Options.SpillDir is required")
	}
	if o.EdgeID == "" || strings.ContainsAny(o.EdgeID, ".*> \t\r\n") {
		return nil, fmt.Errorf("spend: EdgeID %q is not a subject token", o.EdgeID)
	}
	opt.Positive(&o.QueueSize, defaultQueueSize)
	opt.Positive(&o.MaxInFlight, defaultMaxInFlight)
	opt.Positive(&o.SpillMaxBytes, defaultSpillMaxBytes)
	opt.Positive(&o.MaxBatch, defaultMaxBatch)
	opt.Positive(&o.BatchDelay, defaultBatchDelay)
	opt.Positive(&o.OverflowSize, max(o.QueueSize/8, 64))
	opt.Positive(&o.AckTimeout, defaultAckTimeout)
	opt.Positive(&o.SegmentMaxBytes, defaultSegmentMax)
	opt.Positive(&o.SyncInterval, defaultSyncInterval)
	opt.Positive(&o.ResendInterval, defaultResend)
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	nc := o.JS.Conn()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(o.MaxInFlight),
		jetstream.WithPublishAsyncTimeout(o.AckTimeout))
	if err != nil {
		return nil, err
	}
	rjs, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(2*resendBatch),
		jetstream.WithPublishAsyncTimeout(o.AckTimeout))
	if err != nil {
		return nil, err
	}
	sq, err := openSpill(o.SpillDir, o.SpillMaxBytes, o.SegmentMaxBytes)
	if err != nil {
		return nil, err
	}
	sq.writeDelay = o.writeDelay
	p := &Publisher{
		o: o, log: log.With("component", "spend"), nc: nc, js: js, rjs: rjs,
		subject:  events.SpendSubjectPrefix + "." + o.EdgeID,
		q:        make(chan *events.SpendEvent, o.QueueSize),
		overflow: make(chan *events.SpendEvent, o.OverflowSize),
		toSpill:  make(chan spillItem, spillQueueSize),
		acks:     make(chan pending, o.MaxInFlight),
		spill:    sq,
		stopSend: make(chan struct{}), giveUp: make(chan struct{}),
		stopResend: make(chan struct{}), stopWriter: make(chan struct{}),
		senderDone: make(chan struct{}), ackerDone: make(chan struct{}),
		resendDone: make(chan struct{}), writerDone: make(chan struct{}),
	}
	p.metrics = newMetrics(p, o.Registerer)
	if n := sq.pendingSegments(); n > 0 {
		p.log.Info("spend spill queue recovered; resending when NATS is up", "segments", n, "bytes", sq.bytes.Load())
	}
	go p.sendLoop()
	go p.ackLoop()
	go p.writeLoop()
	go p.resendLoop()
	return p, nil
}

// Record queues one event for publishing. It is called on the request
// path: it never blocks and never does I/O, it is one non-blocking channel
// send (a second one to the spill writer's queue when the first is full),
// and an event neither queue can take is dropped and counted. Type, EdgeID
// and Region are filled in when empty.
func (p *Publisher) Record(ev events.SpendEvent) {
	p.recorded.Add(1)
	p.recording.Add(1)
	if p.closed.Load() {
		p.recording.Add(-1)
		p.dropClosed.Add(1)
		return
	}
	if ev.Type == "" {
		ev.Type = events.SpendV1
	}
	if ev.EdgeID == "" {
		ev.EdgeID = p.o.EdgeID
	}
	if ev.Region == "" {
		ev.Region = p.o.Region
	}
	e := eventPool.Get().(*events.SpendEvent)
	*e = ev
	select {
	case p.q <- e:
	default:
		select {
		case p.overflow <- e:
		default:
			*e = events.SpendEvent{}
			eventPool.Put(e)
			p.dropQueue.Add(1)
		}
	}
	p.recording.Add(-1)
}

// Stats returns the counters.
func (p *Publisher) Stats() Stats {
	s := Stats{
		Published: p.published.Load(), Spilled: p.spilled.Load(), Resent: p.resent.Load(),
		DroppedQueueFull: p.dropQueue.Load(), DroppedSpillFull: p.dropFull.Load(),
		DroppedSpillError: p.dropErr.Load(), DroppedClosed: p.dropClosed.Load(),
		SpillBytes: p.spill.bytes.Load(), SpillSegments: p.spill.pendingSegments(), SpillCorrupt: p.corrupt.Load(),
	}
	s.Dropped = s.DroppedQueueFull + s.DroppedSpillFull + s.DroppedSpillError + s.DroppedClosed
	// Read last, so Pending is never negative.
	s.Recorded = p.recorded.Load()
	s.Pending = max(int64(s.Recorded)-int64(s.Published+s.Spilled+s.Dropped), 0)
	return s
}

// Close stops the publisher: it publishes what is queued, waits for the
// acks of what is in flight, and spills whatever is not acked to disk; once
// ctx is done it stops waiting and spills the rest at once. Record after
// Close drops the event (counted in DroppedClosed). Close returns an error
// only if events could not be written to the spill queue or the spill
// files could not be synced; it is safe to call more than once.
func (p *Publisher) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		// Records that passed the closed check finish their (non-blocking)
		// send; none starts after this.
		for p.recording.Load() != 0 {
			runtime.Gosched()
		}
		stop := context.AfterFunc(ctx, p.stopWaiting)
		defer stop()
		close(p.stopSend)
		<-p.senderDone
		<-p.ackerDone
		close(p.stopResend)
		<-p.resendDone
		close(p.stopWriter)
		<-p.writerDone
		var errs []error
		if e := p.writeErrs.Load(); e != nil {
			errs = append(errs, *e)
		}
		if n := p.dropFull.Load() + p.dropErr.Load(); n > 0 {
			errs = append(errs, fmt.Errorf("spend: %d events could not be spilled", n))
		}
		p.closeErr = errors.Join(errs...)
		p.logDrops()
	})
	return p.closeErr
}

func (p *Publisher) stopWaiting() { p.giveUpOnce.Do(func() { close(p.giveUp) }) }

func (p *Publisher) givingUp() bool {
	select {
	case <-p.giveUp:
		return true
	default:
		return false
	}
}

func (p *Publisher) connected() bool { return p.nc.Status() == nats.CONNECTED }

// spillItem is one encoded message (an event or a batch) for the spill
// queue, with the number of events it holds.
type spillItem struct {
	data []byte
	n    int
}

// pending is a published message awaiting its ack.
type pending struct {
	f jetstream.PubAckFuture
	n int
	// at is when the batch's first event was recorded, for the publish
	// lag metric.
	at time.Time
	// buf holds the message's JSON and zbuf, when the message is
	// compressed, its data; both go back to msgBufs once acked. A message
	// that is not acked spills its JSON.
	buf, zbuf *[]byte
}

// encode renders an event as one JSON line and releases it to the pool.
func encode(e *events.SpendEvent) []byte { return appendEncoded(nil, e) }

// appendEncoded is encode appending to b.
func appendEncoded(b []byte, e *events.SpendEvent) []byte {
	if e.RequestID == "" {
		e.RequestID = events.NewID() // dedupe needs an id
	}
	out, ok := appendEvent(b, e)
	if !ok {
		data, err := json.Marshal(e)
		if err != nil { // a SpendEvent always encodes; NaN cost is the only way
			e.Cost, e.LatencyMS, e.TTFTMS = 0, 0, 0
			data, _ = json.Marshal(e)
		}
		out = append(b, data...)
	}
	*e = events.SpendEvent{}
	eventPool.Put(e)
	return out
}

// encodeBatch renders events as one SpendBatch line (the events in the
// JSON encoding a lone SpendEvent has) and releases them to the pool.
func (p *Publisher) encodeBatch(buf []byte, batch []*events.SpendEvent, id string) []byte {
	buf = append(buf, `{"type":"`+events.SpendBatchV1+`","batch_id":`...)
	buf = strconv.AppendQuote(buf, id)
	buf = append(buf, `,"edge_id":`...)
	buf = strconv.AppendQuote(buf, p.o.EdgeID)
	buf = append(buf, `,"events":[`...)
	for i, e := range batch {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendEncoded(buf, e)
	}
	return append(buf, "]}"...)
}

// sendLoop gathers queued events into batches and publishes them; when
// NATS is down it spills them straight away rather than buffer them in the
// client.
func (p *Publisher) sendLoop() {
	defer close(p.senderDone)
	defer close(p.acks)
	batch := make([]*events.SpendEvent, 0, p.o.MaxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case e := <-p.q:
			batch = append(batch[:0], e)
		case <-p.stopSend:
			for {
				if batch = p.take(batch[:0]); len(batch) == 0 {
					return
				}
				p.publish(batch)
			}
		}
		// Sleep out the batch window rather than receive each event as it
		// comes: a receiver blocked on p.q is woken by every Record, a
		// goroutine switch per request; events recorded meanwhile wait in
		// the buffered queue, which holds far more than one window's.
		timer.Reset(p.o.BatchDelay)
		select {
		case <-timer.C:
		case <-p.stopSend: // Close: publish what is here, then drain
			if !timer.Stop() {
				<-timer.C
			}
		}
		// Everything queued goes now, in batches of at most MaxBatch.
		for batch = p.take(batch); len(batch) > 0; batch = p.take(batch[:0]) {
			p.publish(batch)
			if len(batch) < p.o.MaxBatch {
				break
			}
		}
	}
}

// take appends queued events to batch, without waiting, up to MaxBatch.
func (p *Publisher) take(batch []*events.SpendEvent) []*events.SpendEvent {
	for len(batch) < p.o.MaxBatch {
		select {
		case e := <-p.q:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}

// publish sends a batch as one message (a lone event as a SpendEvent).
func (p *Publisher) publish(batch []*events.SpendEvent) {
	if p.givingUp() || !p.connected() {
		// One line per event: a full spill queue then refuses events, not
		// whole batches.
		for _, e := range batch {
			p.toSpill <- spillItem{encode(e), 1}
		}
		return
	}
	at := recordedAt(batch[0].Time, batch[0].LatencyMS)
	buf := msgBufs.Get()
	var id string
	if len(batch) == 1 {
		if batch[0].RequestID == "" {
			batch[0].RequestID = events.NewID()
		}
		id = batch[0].RequestID
		*buf = appendEncoded((*buf)[:0], batch[0])
	} else {
		id = events.NewID()
		*buf = p.encodeBatch((*buf)[:0], batch, id)
	}
	data, n := *buf, len(batch)
	var zbuf *[]byte
	// A lone event (a quiet edge) stays JSON: compressing it saves a fifth
	// of its bytes for more CPU than reading it.
	if !p.o.Plain && n > 1 {
		zbuf = msgBufs.Get()
		*zbuf = events.CompressSpend((*zbuf)[:0], *buf)
		data = *zbuf
	}
	msg := &nats.Msg{Subject: p.subject, Data: data, Header: nats.Header{}}
	f, err := p.js.PublishMsgAsync(msg, jetstream.WithMsgID(id))
	if err != nil {
		msgBufs.Put(zbuf)
		p.toSpill <- spillItem{*buf, n}
		return
	}
	p.acks <- pending{f, n, at, buf, zbuf}
}

// msgBufs holds the buffers messages are encoded into. A message's data
// belongs to its publish future (a retry resends it) until the ack; then
// ackLoop returns it here, so a batch costs no allocation once the pool is
// warm (the encoding was about a third of the bytes the edge allocated per
// request). Data that goes to the spill queue is not returned. A rare huge
// message's buffer (past 1 MiB) is not kept.
var msgBufs = bufpool.Pool{Max: 1 << 20}

// ackLoop waits for acks in publish order (they arrive nearly in order,
// and every future resolves: ack, error, disconnect or AckTimeout).
func (p *Publisher) ackLoop() {
	defer close(p.ackerDone)
	for pa := range p.acks {
		f := pa.f
		select {
		case <-f.Ok():
			p.published.Add(uint64(pa.n))
			p.metrics.observeN(p.metrics.lagLive, pa.at, pa.n)
			msgBufs.Put(pa.buf)
			msgBufs.Put(pa.zbuf)
		case <-f.Err():
			// The spill queue is lines of JSON; the JSON's buffer is
			// the spill writer's now. A failed future sends no more.
			msgBufs.Put(pa.zbuf)
			p.toSpill <- spillItem{*pa.buf, pa.n}
		case <-p.giveUp:
			select {
			case <-f.Ok():
				p.published.Add(uint64(pa.n))
				p.metrics.observeN(p.metrics.lagLive, pa.at, pa.n)
			default:
				// Possibly stored after all: the resend is deduplicated.
				p.toSpill <- spillItem{*pa.buf, pa.n}
			}
		}
	}
}

// writeLoop is the spill writer: the only goroutine that writes spill
// files. It writes what arrives in batches, hands each batch to the OS
// when its input runs dry, and fsyncs every SyncInterval.
func (p *Publisher) writeLoop() {
	defer close(p.writerDone)
	tick := time.NewTicker(p.o.SyncInterval)
	defer tick.Stop()
	for {
		select {
		case e := <-p.overflow:
			p.spillEvent(e)
		case it := <-p.toSpill:
			p.spillLine(it.data, it.n)
		case <-tick.C:
			p.tick()
			continue
		case <-p.stopWriter:
			p.drainSpill()
			if err := p.spill.rotate(); err != nil {
				p.noteWriteErr(err)
			}
			return
		}
		p.drainSpill()
	}
}

// drainSpill writes everything waiting, then flushes to the OS.
func (p *Publisher) drainSpill() {
	for {
		select {
		case e := <-p.overflow:
			p.spillEvent(e)
		case it := <-p.toSpill:
			p.spillLine(it.data, it.n)
		default:
			if err := p.spill.flush(); err != nil {
				p.noteWriteErr(err)
			}
			return
		}
	}
}

func (p *Publisher) spillEvent(e *events.SpendEvent) {
	p.spillLine(encode(e), 1)
}

// spillLine writes one message (n events) to the spill queue.
func (p *Publisher) spillLine(b []byte, n int) {
	switch err := p.spill.append(b); {
	case err == nil:
		p.spilled.Add(uint64(n))
	case errors.Is(err, errSpillFull):
		p.dropFull.Add(uint64(n))
	default:
		p.dropErr.Add(uint64(n))
		p.noteWriteErr(err)
	}
}

func (p *Publisher) noteWriteErr(err error) {
	if p.writeErrs.Swap(&err) == nil {
		p.log.Error("spend spill queue write failed; events are being dropped", "err", err)
	}
}

func (p *Publisher) tick() {
	if err := p.spill.sync(); err != nil {
		p.noteWriteErr(err)
	}
	// With NATS up and the resend loop idle, close the active segment so
	// its events are resent; during an outage segments grow to
	// SegmentMaxBytes instead of piling up one per tick.
	if p.spill.activeSize() > 0 && p.spill.pendingSegments() == 0 && p.connected() {
		if err := p.spill.rotate(); err != nil {
			p.noteWriteErr(err)
		}
	}
	p.logDrops()
}

// logDrops logs what was dropped since the last time, from the writer's
// tick, never from Record.
func (p *Publisher) logDrops() {
	now := [3]uint64{p.dropQueue.Load(), p.dropFull.Load(), p.dropErr.Load()}
	if now == p.lastDropLog {
		return
	}
	p.log.Warn("spend events dropped",
		"queue_full", now[0]-p.lastDropLog[0], "spill_full", now[1]-p.lastDropLog[1], "spill_error", now[2]-p.lastDropLog[2],
		"total", now[0]+now[1]+now[2])
	p.lastDropLog = now
}

// resendLoop republishes closed spill segments, oldest first, while NATS
// is up, and deletes each once all its events were acked.
func (p *Publisher) resendLoop() {
	defer close(p.resendDone)
	tick := time.NewTicker(p.o.ResendInterval)
	defer tick.Stop()
	for {
		select {
		case <-p.stopResend:
			return
		case <-tick.C:
		}
		for p.connected() {
			seg, ok := p.spill.oldest()
			if !ok {
				break
			}
			n, err := p.resendSegment(seg)
			if err != nil {
				if !errors.Is(err, errStopped) {
					p.log.Debug("spend resend paused", "segment", seg.path, "err", err)
				}
				break
			}
			if err := p.spill.remove(seg); err != nil {
				p.log.Error("spend spill segment resent but not deleted; it will be resent again", "segment", seg.path, "err", err)
				break
			}
			p.resent.Add(n)
		}
	}
}

var errStopped = errors.New("spend: stopped")

// resendSegment publishes every event of seg and waits for their acks.
func (p *Publisher) resendSegment(seg segment) (uint64, error) {
	f, err := os.Open(seg.path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	batch := make([]jetstream.PubAckFuture, 0, resendBatch)
	times := make([]time.Time, 0, resendBatch)
	wait := func() error {
		for i, fut := range batch {
			select {
			case <-fut.Ok():
				p.metrics.observe(p.metrics.lagResend, times[i])
			case err := <-fut.Err():
				return err
			case <-p.stopResend:
				return errStopped
			}
		}
		batch, times = batch[:0], times[:0]
		return nil
	}
	var n, corrupt uint64
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		id, evs, err := events.DecodeSpend(line)
		if err != nil || id == "" || len(evs) == 0 {
			corrupt++ // a line torn by a crash
			continue
		}
		hdr := evs[0] // every event of a batch is the same edge's
		subject := p.subject
		if hdr.EdgeID != "" && hdr.EdgeID != p.o.EdgeID && !strings.ContainsAny(hdr.EdgeID, ".*> \t\r\n") {
			subject = events.SpendSubjectPrefix + "." + hdr.EdgeID // spilled by a previous edge id
		}
		data := bytes.Clone(line)
		if !p.o.Plain && len(evs) > 1 {
			data = events.CompressSpend(nil, line)
		}
		msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
		fut, err := p.rjs.PublishMsgAsync(msg, jetstream.WithMsgID(id))
		if err != nil {
			return 0, err
		}
		batch = append(batch, fut)
		times = append(times, recordedAt(hdr.Time, hdr.LatencyMS))
		n += uint64(len(evs))
		if len(batch) == resendBatch {
			if err := wait(); err != nil {
				return 0, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if err := wait(); err != nil {
		return 0, err
	}
	if corrupt > 0 {
		p.corrupt.Add(corrupt)
		p.log.Warn("spend spill segment had unreadable lines; skipped", "segment", seg.path, "lines", corrupt)
	}
	return n, nil
}
