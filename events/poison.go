package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The poison queue: a consumer that cannot use a message (it will never
// decode, or its handler refuses it for good) stores it in PoisonStream
// with where it came from and why, and acks the original, so one bad
// message neither blocks its stream nor disappears. An operator lists the
// poisoned messages and, after fixing the cause, replays one: it goes back
// into its original stream marked for the consumer that refused it
// (HeaderReplayFor), and leaves the poison stream.

// PoisonMaxAge bounds how long a poisoned message waits for an operator.
const PoisonMaxAge = 30 * 24 * time.Hour

// ErrPoisonNotFound: no poisoned message has that id.
var ErrPoisonNotFound = errors.New("events: no poisoned message with that id")

// ErrNotReplayable: the poisoned message cannot be replayed (it does not
// say where it came from, or names the policy stream).
var ErrNotReplayable = errors.New("events: poisoned message cannot be replayed")

// PoisonStreamConfig is the poison stream: limits retention, kept for
// PoisonMaxAge, deduplicated so that a consumer that crashes between
// poisoning and acking does not store the message twice.
func PoisonStreamConfig(o StreamOptions) jetstream.StreamConfig {
	c := streamConfig(PoisonStream, "gatehouse poison queue: messages a consumer could not use, for inspection and replay", PoisonSubjects, o)
	c.MaxAge, c.Duplicates = PoisonMaxAge, 10*time.Minute
	return c
}

// EnsurePoisonStream creates or updates the poison stream.
func EnsurePoisonStream(ctx context.Context, js jetstream.JetStream, o StreamOptions) (jetstream.Stream, error) {
	return ensure(ctx, js, PoisonStreamConfig(o), o.Replicas)
}

// UpsertStreamConfig is the upsert request queue: a work queue (a message
// leaves once a control replica acked it), so requests sent while every
// control replica is down wait for one instead of being lost. Requests
// older than a day are dropped: the edge asks again on the caller's next
// request anyway.
func UpsertStreamConfig(o StreamOptions) jetstream.StreamConfig {
	c := streamConfig(UpsertStream, "gatehouse upsert requests: JWT-implied users, teams and memberships for the control plane to create", UpsertSubject, o)
	c.Retention, c.MaxAge = jetstream.WorkQueuePolicy, 24*time.Hour
	return c
}

// EnsureUpsertStream creates or updates the upsert stream.
func EnsureUpsertStream(ctx context.Context, js jetstream.JetStream, o StreamOptions) (jetstream.Stream, error) {
	return ensure(ctx, js, UpsertStreamConfig(o), o.Replicas)
}

// PoisonSource is a message being poisoned and where it came from.
type PoisonSource struct {
	Consumer string // the durable that refused it
	Stream   string
	Subject  string
	Seq      uint64 // stream sequence
	Header   nats.Header
	Data     []byte
}

// Poison stores a message in PoisonStream. The caller acks the original
// only after Poison returned nil (else it is redelivered: nothing is lost).
func Poison(ctx context.Context, js jetstream.JetStream, src PoisonSource, reason string) error {
	h := nats.Header{}
	for k, v := range src.Header {
		// The original's JetStream headers would dedupe or constrain the
		// poison publish; an old replay mark is replaced.
		if strings.HasPrefix(k, "Nats-") || k == HeaderReplayFor {
			continue
		}
		h[k] = v
	}
	seq := strconv.FormatUint(src.Seq, 10)
	h.Set(HeaderPoisonStream, src.Stream)
	h.Set(HeaderPoisonSubject, src.Subject)
	h.Set(HeaderPoisonSeq, seq)
	h.Set(HeaderPoisonConsumer, src.Consumer)
	h.Set(HeaderPoisonReason, truncate(reason, 1024))
	msg := &nats.Msg{Subject: PoisonSubjectPrefix + "." + src.Consumer, Header: h, Data: src.Data}
	_, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID("poison:"+src.Consumer+":"+src.Stream+":"+seq),
		jetstream.WithExpectStream(PoisonStream))
	if err != nil {
		return fmt.Errorf("events: poison %s seq %s: %w", src.Stream, seq, err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Poisoned is one message in the poison queue, as gatewayctl shows it.
type Poisoned struct {
	ID        uint64    `json:"id"` // PoisonStream sequence: what replay takes
	Time      time.Time `json:"time"`
	Consumer  string    `json:"consumer"`
	Stream    string    `json:"stream"`
	Subject   string    `json:"subject"`
	Seq       uint64    `json:"seq"`
	Reason    string    `json:"reason"`
	RequestID string    `json:"request_id,omitempty"`
	Size      int       `json:"size"`
	// Data is the message body (at most 4 KiB of it, for reading); a
	// compressed spend message's JSON.
	Data string `json:"data"`
	// Compressed: the message is stored S2-compressed (CompressSpend);
	// Size is the stored size.
	Compressed bool `json:"compressed,omitempty"`
}

func poisonedOf(seq uint64, t time.Time, h nats.Header, data []byte) Poisoned {
	src, _ := strconv.ParseUint(h.Get(HeaderPoisonSeq), 10, 64)
	body, err := SpendJSON(data)
	if err != nil {
		body = data
	}
	return Poisoned{ID: seq, Time: t.UTC(), Consumer: h.Get(HeaderPoisonConsumer), Stream: h.Get(HeaderPoisonStream),
		Subject: h.Get(HeaderPoisonSubject), Seq: src, Reason: h.Get(HeaderPoisonReason), RequestID: h.Get(HeaderRequestID),
		Size: len(data), Data: truncate(string(body), 4096), Compressed: CompressedSpend(data)}
}

// ListPoison returns the poisoned messages, oldest first, at most limit
// (<= 0: 1000).
func ListPoison(ctx context.Context, js jetstream.JetStream, limit int) ([]Poisoned, error) {
	if limit <= 0 {
		limit = 1000
	}
	s, err := js.Stream(ctx, PoisonStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return []Poisoned{}, nil
	}
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	want := min(int(info.State.Msgs), limit)
	out := make([]Poisoned, 0, want)
	if want == 0 {
		return out, nil
	}
	// An ordered consumer skips the gaps replays leave (deleted messages).
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	for len(out) < want {
		batch, err := cons.Fetch(want-len(out), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				return nil, err
			}
			out = append(out, poisonedOf(md.Sequence.Stream, md.Timestamp, m.Headers(), m.Data()))
			n++
		}
		if n == 0 { // fewer than Info said: some were replayed meanwhile
			break
		}
	}
	return out, nil
}

// ReplayPoison puts poisoned message id back into its original stream,
// marked for the consumer that refused it, and removes it from the poison
// queue. If that consumer refuses it again it comes back under a new id.
func ReplayPoison(ctx context.Context, js jetstream.JetStream, id uint64) (Poisoned, error) {
	s, err := js.Stream(ctx, PoisonStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return Poisoned{}, ErrPoisonNotFound
	}
	if err != nil {
		return Poisoned{}, err
	}
	raw, err := s.GetMsg(ctx, id)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Poisoned{}, ErrPoisonNotFound
	}
	if err != nil {
		return Poisoned{}, err
	}
	p := poisonedOf(raw.Sequence, raw.Time, raw.Header, raw.Data)
	if p.Subject == "" || p.Consumer == "" || p.Stream == "" {
		return p, fmt.Errorf("%w: %d does not say where it came from", ErrNotReplayable, id)
	}
	if p.Stream == PolicyStream {
		// The source of truth is written only through the store's
		// concurrency-checked path, never by a replay (whoever can write
		// to the poison stream must not gain a way around it).
		return p, fmt.Errorf("%w: %d names %s, and policy events are written only through the admin API", ErrNotReplayable, id, PolicyStream)
	}
	h := nats.Header{}
	for k, v := range raw.Header {
		if strings.HasPrefix(k, "Gatehouse-Poison-") || strings.HasPrefix(k, "Nats-") {
			continue
		}
		h[k] = v
	}
	h.Set(HeaderReplayFor, p.Consumer)
	// WithExpectStream: the subject must still belong to the stream the
	// message came from, or nothing is published.
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: p.Subject, Header: h, Data: raw.Data},
		jetstream.WithMsgID("replay:"+strconv.FormatUint(id, 10)), jetstream.WithExpectStream(p.Stream)); err != nil {
		return p, fmt.Errorf("events: replay %d to %s: %w", id, p.Subject, err)
	}
	// Published first, deleted second: a failure in between leaves it listed
	// (a second replay is deduplicated by the stream), never lost.
	if err := s.DeleteMsg(ctx, id); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return p, fmt.Errorf("events: replayed %d but could not remove it from the poison queue: %w", id, err)
	}
	return p, nil
}

// ReplayedForOther reports whether a message is a replay meant for another
// consumer than durable: such a message is acked unread.
func ReplayedForOther(h nats.Header, durable string) bool {
	if len(h) == 0 {
		return false
	}
	v := h.Get(HeaderReplayFor)
	return v != "" && v != durable
}
