package e2e

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/chtest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// cutProxy is a TCP proxy between one process and NATS that a test can
// cut (listener and every connection closed: the process sees its
// connection drop and cannot reconnect) and restore on the same address.
type cutProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	p := &cutProxy{addr: testutil.FreeAddr(t), target: target, conns: map[net.Conn]bool{}}
	p.restore(t)
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) restore(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[u] = true, true
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close(); c.Close() }()
			go func() { _, _ = io.Copy(c, u); u.Close(); c.Close() }()
		}
	}()
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// edgeLive polls the control plane's edge list for one edge's liveness.
func edgeLive(t *testing.T, control *proc, id string, want bool) func() error {
	return func() error {
		var out struct {
			Edges []struct {
				EdgeID string `json:"edge_id"`
				Live   bool   `json:"live"`
			} `json:"edges"`
		}
		call(t, "GET", control.url("/gatehouse/edges"), masterKey, nil, &out)
		for _, e := range out.Edges {
			if e.EdgeID == id && e.Live == want {
				return nil
			}
		}
		return fmt.Errorf("%s not live=%v: %+v", id, want, out.Edges)
	}
}

// TestBudgetLeaseThroughPartition: an edge cut from NATS while its key
// spends serves at most its lease (a tenth of the budget left when it was
// cut) beyond what the tracker had counted, then refuses the key; once
// reconnected its spilled spend reaches the tracker and ClickHouse exactly
// once and the key is served again.
func TestBudgetLeaseThroughPartition(t *testing.T) {
	const maxBudget, price, leaseFraction = 0.05, 0.0001, 0.1
	ch := chtest.Start(t)
	ns := startNATS(t)
	proxy := startCutProxy(t, strings.TrimPrefix(ns.url, "nats://"))
	cfg := t.TempDir() + "/config.yaml"
	writeFile(t, cfg, overshootConfig)
	env := []string{"MASTER_KEY=" + masterKey}
	fs := &faultSystem{ch: ch, nats: ns, db: "spend_lease"}
	fs.control = start(t, "control", env, "control", "-nats", ns.url, "-listen", testutil.FreeAddr(t), "-config", cfg,
		"-clickhouse", ch.Addr(), "-clickhouse-db", fs.db)
	a := start(t, "edge-a", env, "edge", "-nats", "nats://"+proxy.addr, "-listen", testutil.FreeAddr(t),
		"-control", "http://"+fs.control.addr, "-id", "edge-a", "-spill-dir", t.TempDir())
	b := start(t, "edge-b", env, "edge", "-nats", ns.url, "-listen", testutil.FreeAddr(t),
		"-control", "http://"+fs.control.addr, "-id", "edge-b", "-spill-dir", t.TempDir())
	waitEdges(t, fs.control, 2)
	fs.sink = start(t, "sink", env, "sink", "-nats", ns.url, "-clickhouse", ch.Addr(), "-database", fs.db)

	key := generateKey(t, b, map[string]any{"max_budget": maxBudget})
	testutil.Eventually(t, 5*time.Second, func() error {
		if code, raw := callRaw(t, "GET", a.url("/v1/models"), key, nil); code != 200 {
			return fmt.Errorf("%d %s", code, raw)
		}
		return nil
	})
	spendNow := func() float64 { return keySpend(t, fs.control, key) }
	// Some spend before the cut, counted by the tracker (and so by the
	// lease edge-a holds).
	var before hammer
	for range 5 {
		before.runOne(t, a, key)
	}
	told := float64(before.tokens.Load()) * price
	testutil.Eventually(t, 5*time.Second, func() error {
		if s := spendNow(); math.Abs(s-told) > 1e-9 {
			return fmt.Errorf("tracker %.6f, want %.6f", s, told)
		}
		return nil
	})
	lease := leaseFraction * (maxBudget - told)
	perReq := told / 5

	proxy.cut()
	testutil.Eventually(t, 15*time.Second, edgeLive(t, fs.control, "edge-a", false))
	var during hammer
	stop := make(chan struct{})
	time.AfterFunc(2*time.Second, func() { close(stop) })
	during.run(t, []*proc{a}, key, 8, stop)
	spentCut := float64(during.tokens.Load()) * price
	t.Logf("cut from NATS: edge-a served %d requests (%.5f) for a lease of %.5f (%.5f per request), refused %d, failed %d",
		during.served.Load(), spentCut, lease, perReq, during.refused.Load(), during.failed.Load())
	if during.served.Load() == 0 {
		t.Error("edge-a served nothing of its lease")
	}
	if spentCut > lease+perReq+1e-9 {
		t.Errorf("edge-a spent %.5f through the partition, lease %.5f + one request in flight %.5f", spentCut, lease, perReq)
	}
	code, raw := callRaw(t, "POST", a.url("/v1/chat/completions"), key, map[string]any{"model": "cheap", "messages": []map[string]string{{"role": "user", "content": "x"}}})
	if code != 400 || !strings.Contains(string(raw), "lease") {
		t.Errorf("after the lease: %d %s", code, raw)
	}

	proxy.restore(t)
	testutil.Eventually(t, 20*time.Second, edgeLive(t, fs.control, "edge-a", true))
	told += spentCut
	testutil.Eventually(t, 20*time.Second, func() error {
		if s := spendNow(); math.Abs(s-told) > 1e-9 {
			return fmt.Errorf("tracker %.6f, clients were told %.6f", s, told)
		}
		return nil
	})
	// Reconnected, with budget left: served again.
	testutil.Eventually(t, 10*time.Second, func() error {
		var again hammer
		if again.runOne(t, a, key); again.served.Load() != 1 {
			return errors.New("edge-a still refuses the key")
		}
		before.ids = append(before.ids, again.ids...)
		return nil
	})
	// Exactly one spend row per served request.
	want := map[string]bool{}
	for _, id := range append(before.ids, during.ids...) {
		want[id] = true
	}
	testutil.Eventually(t, 30*time.Second, func() error {
		ids, rows := fs.spendIDs(t)
		if rows != len(want) || len(ids) != len(want) {
			return fmt.Errorf("%d rows, %d ids, %d served", rows, len(ids), len(want))
		}
		for id := range want {
			if ids[id] != 1 {
				return fmt.Errorf("request %s: %d rows", id, ids[id])
			}
		}
		return nil
	})
}
