package gateway

import (
	"encoding/json"
	"os"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
)

// reporter publishes the edge's status (core NATS, fire and forget): after
// every applied batch, so writers waiting for propagation are released at
// once, and on a heartbeat, so the control plane knows who is live.
type reporter struct {
	nc      *nats.Conn
	subject string
	id      string
	region  string
	mu      sync.Mutex
}

func (r *reporter) report(seq uint64, live *policy.Live) {
	r.send(events.EdgeStatus{EdgeID: r.id, Region: r.region, Seq: seq, Ready: live.Ready(), Stalled: live.Stalled()})
}

func (r *reporter) leave() {
	r.send(events.EdgeStatus{EdgeID: r.id, Region: r.region, Leaving: true})
	_ = r.nc.Flush()
}

func (r *reporter) send(st events.EdgeStatus) {
	data, _ := json.Marshal(st)
	r.mu.Lock()
	defer r.mu.Unlock()
	_ = r.nc.Publish(r.subject, data)
}

func hostname() (string, error) { return os.Hostname() }

func pid() int { return os.Getpid() }
