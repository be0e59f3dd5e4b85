package gateway

import (
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gatehouse/gatehouse/events"
)

// upsertDedupe is how long the same upsert is not re-sent: the event it
// causes normally arrives well within it, after which no upsert is asked.
const upsertDedupe = 5 * time.Second

// upserter sends JWT-implied objects to the control plane off the request
// path: a bounded queue, one sender goroutine, duplicates suppressed.
type upserter struct {
	nc   *nats.Conn
	log  *slog.Logger
	ch   chan upsertMsg
	mu   sync.Mutex
	sent map[events.UpsertRequest]time.Time
	done chan struct{}
}

// upsertMsg is one message to the upsert queue and the request id that
// caused it (the control plane's processors log it as the correlation id).
type upsertMsg struct {
	reqs      []events.UpsertRequest
	requestID string
}

func newUpserter(nc *nats.Conn, log *slog.Logger) *upserter {
	u := &upserter{nc: nc, log: log, ch: make(chan upsertMsg, 1024), sent: map[events.UpsertRequest]time.Time{}, done: make(chan struct{})}
	go u.loop()
	return u
}

// send queues reqs; requestID is copied only when something is sent.
func (u *upserter) send(reqs []events.UpsertRequest, requestID []byte) {
	if u == nil || len(reqs) == 0 {
		return
	}
	now := time.Now()
	fresh := reqs[:0:0]
	u.mu.Lock()
	for _, r := range reqs {
		if t, ok := u.sent[r]; ok && now.Sub(t) < upsertDedupe {
			continue
		}
		u.sent[r] = now
		fresh = append(fresh, r)
	}
	if len(u.sent) > 10_000 {
		for k, t := range u.sent {
			if now.Sub(t) >= upsertDedupe {
				delete(u.sent, k)
			}
		}
	}
	u.mu.Unlock()
	if len(fresh) == 0 {
		return
	}
	select {
	case u.ch <- upsertMsg{reqs: fresh, requestID: string(requestID)}:
	default:
		// Dropped, not blocked: the caller is admitted anyway and the next
		// request after the dedupe window asks again.
		u.log.Warn("upsert queue full; dropping", "n", len(fresh))
	}
}

func (u *upserter) loop() {
	defer close(u.done)
	for m := range u.ch {
		data, _ := json.Marshal(m.reqs)
		msg := &nats.Msg{Subject: events.UpsertSubject, Data: data, Header: nats.Header{}}
		if m.requestID != "" {
			msg.Header.Set(events.HeaderRequestID, m.requestID)
		}
		// Core publish into the upsert work queue (events.UpsertStream
		// stores it until a control replica applied it).
		if err := u.nc.PublishMsg(msg); err != nil {
			u.log.Warn("upsert publish failed", "err", err)
		}
	}
}

func (u *upserter) close() {
	close(u.ch)
	<-u.done
}
