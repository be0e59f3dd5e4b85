package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testutil"
)

// overshootConfig: the measurement, a mock model priced 0.0001 per
// token (about 0.0013 per request).
const overshootConfig = `
general_settings:
  master_key: os.environ/MASTER_KEY
model_list:
  - model_name: cheap
    litellm_params: {model: mock/cheap}
    model_info: {input_cost_per_token: 0.0001, output_cost_per_token: 0.0001}
`

// hammer is a closed-loop load generator: conns connections spread over
// the edges, each sending the next request as soon as the previous one
// answered, until stop closes. It adds up what was served and what it
// cost (the usage each client was told, priced).
type hammer struct {
	served, refused, failed atomic.Int64
	tokens                  atomic.Int64
	mu                      sync.Mutex
	ids                     []string // x-litellm-call-id of served requests: their spend rows
}

var hammerBody, _ = json.Marshal(map[string]any{"model": "cheap", "messages": []map[string]string{{"role": "user", "content": "how much is this"}}})

// runOne sends one request.
func (h *hammer) runOne(t *testing.T, e *proc, key string) {
	h.send(client, e, key)
}

func (h *hammer) run(t *testing.T, edges []*proc, key string, conns int, stop <-chan struct{}) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for i := range conns {
		e := edges[i%len(edges)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				h.send(hc, e, key)
			}
		}()
	}
	wg.Wait()
}

// TestBudgetOvershoot: keys with a small budget hammered at full speed
// through two edges. Requests served beyond the budget must stay within
// the requests in flight (the connections) plus what the other edge can
// serve in one propagation interval; make bench-budget runs it and prints
// the numbers docs/spend.md quotes. BUDGET_CONNS and BUDGET_SECONDS change
// the load (default 32 connections, 3 s).
func TestBudgetOvershoot(t *testing.T) {
	conns, secs := envInt("BUDGET_CONNS", 32), envInt("BUDGET_SECONDS", 3)
	sys := startSystem(t, overshootConfig, 2)
	const maxBudget, price = 0.05, 0.0001
	for round, edges := range [][]*proc{sys.edges, sys.edges[:1], sys.edges} {
		key := generateKey(t, sys.edges[0], map[string]any{"max_budget": maxBudget})
		// The edges learn the key from the policy stream; wait for both.
		for _, e := range sys.edges {
			testutil.Eventually(t, 5*time.Second, func() error {
				if code, raw := callRaw(t, "GET", e.url("/v1/models"), key, nil); code != 200 {
					return fmt.Errorf("%s: %d %s", e.name, code, raw)
				}
				return nil
			})
		}
		var h hammer
		stop := make(chan struct{})
		start := time.Now()
		time.AfterFunc(time.Duration(secs)*time.Second, func() { close(stop) })
		h.run(t, edges, key, conns, stop)
		elapsed := time.Since(start)
		served, spent := h.served.Load(), float64(h.tokens.Load())*price
		if served == 0 {
			t.Fatalf("nothing served (refused %d, failed %d)", h.refused.Load(), h.failed.Load())
		}
		perReq := spent / float64(served)
		allowed := int64(math.Ceil(maxBudget / perReq))
		beyond := served - allowed
		// One propagation interval of the other edge: what it serves at
		// full speed (its answers, served or refused, per second) within
		// the gossip interval (10 ms) plus a hop, rounded up to 30 ms.
		rate := float64(served+h.refused.Load()) / elapsed.Seconds() / float64(len(edges))
		const interval = 0.03
		bound := int64(conns)
		if len(edges) > 1 {
			bound += int64(math.Ceil(rate * interval))
		}
		t.Logf("round %d, %d edge(s): %d conns, %s: served %d (%.4f spent, %.5f/request) for %d allowed by max_budget %.2f: %d beyond (bound %d = %d conns + %.0f req/s per edge x %.2fs); refused %d, failed %d",
			round, len(edges), conns, elapsed.Round(time.Millisecond), served, spent, perReq, allowed, maxBudget, beyond, bound, conns, rate, interval, h.refused.Load(), h.failed.Load())
		if h.failed.Load() > 0 {
			t.Errorf("%d requests failed", h.failed.Load())
		}
		if beyond > bound {
			t.Errorf("served %d beyond the budget, bound %d", beyond, bound)
		}
		// The tracker's total (the authority) ends equal to what the
		// clients were told, once: no request counted twice or lost.
		testutil.Eventually(t, 10*time.Second, func() error {
			if s := keySpend(t, sys.control, key); math.Abs(s-spent) > 1e-9 {
				return fmt.Errorf("tracker total %.6f, clients were told %.6f", s, spent)
			}
			return nil
		})
	}
}

// send sends one request and counts its answer.
func (h *hammer) send(hc *http.Client, e *proc, key string) {
	req, _ := http.NewRequest("POST", e.url("/v1/chat/completions"), bytes.NewReader(hammerBody))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		h.failed.Add(1)
		return
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch resp.StatusCode {
	case 200:
		var u struct {
			Usage struct {
				Total int64 `json:"total_tokens"`
			} `json:"usage"`
		}
		_ = json.Unmarshal(raw, &u)
		h.served.Add(1)
		h.tokens.Add(u.Usage.Total)
		h.mu.Lock()
		h.ids = append(h.ids, resp.Header.Get("x-litellm-call-id"))
		h.mu.Unlock()
	case 400:
		h.refused.Add(1)
	default:
		h.failed.Add(1)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
