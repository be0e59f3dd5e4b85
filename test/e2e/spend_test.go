package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/chtest"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/spend/rollup"
)

// spendConfig prices a mock model so every request has a known cost.
const spendConfig = `
general_settings:
  master_key: os.environ/MASTER_KEY
model_list:
  - model_name: priced
    litellm_params: {model: mock/priced}
    model_info: {input_cost_per_token: 0.000002, output_cost_per_token: 0.00001}
`

type usage struct{ Prompt, Completion int64 }

// chatUsage sends one chat completion (streaming or not) and returns the
// usage the client was told.
func chatUsage(t *testing.T, edge *proc, key string, stream bool, n int) (usage, bool) {
	t.Helper()
	body := map[string]any{"model": "priced", "messages": []map[string]string{{"role": "user", "content": fmt.Sprintf("request number %d please", n)}}}
	if stream {
		body["stream"] = true
		body["stream_options"] = map[string]any{"include_usage": true}
	}
	code, raw := callRaw(t, "POST", edge.url("/v1/chat/completions"), key, body)
	if code != 200 {
		return usage{}, false
	}
	var u struct {
		Usage struct {
			Prompt     int64 `json:"prompt_tokens"`
			Completion int64 `json:"completion_tokens"`
		} `json:"usage"`
	}
	if !stream {
		_ = json.Unmarshal(raw, &u)
		return usage{u.Usage.Prompt, u.Usage.Completion}, true
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if d, ok := strings.CutPrefix(line, "data: "); ok && strings.Contains(d, `"usage":{`) {
			_ = json.Unmarshal([]byte(d), &u)
		}
	}
	return usage{u.Usage.Prompt, u.Usage.Completion}, true
}

// TestSpendExactlyOnce: N requests through two edges become exactly N rows
// in ClickHouse with the tokens and cost the clients were told, although
// ClickHouse is stopped and NATS restarted while traffic flows.
// startLedger starts, on natsURL, a control plane with config and
// ClickHouse database db, two edges (edge-a, edge-b) with spill queues,
// and the sink.
func startLedger(t *testing.T, natsURL string, ch *chtest.Server, config, db string) (ctl *proc, edges []*proc) {
	t.Helper()
	cfg := t.TempDir() + "/config.yaml"
	writeFile(t, cfg, config)
	env := []string{"MASTER_KEY=" + masterKey}
	ctl = start(t, "control", env, "control", "-nats", natsURL, "-listen", testutil.FreeAddr(t), "-config", cfg, "-clickhouse", ch.Addr(), "-clickhouse-db", db)
	for _, id := range []string{"edge-a", "edge-b"} {
		edges = append(edges, start(t, id, env, "edge", "-nats", natsURL, "-listen", testutil.FreeAddr(t), "-control", "http://"+ctl.addr,
			"-id", id, "-spill-dir", t.TempDir()))
	}
	waitEdges(t, ctl, 2)
	start(t, "sink", env, "sink", "-nats", natsURL, "-clickhouse", ch.Addr(), "-database", db)
	return ctl, edges
}

func TestSpendExactlyOnce(t *testing.T) {
	ch := chtest.Start(t)
	natsPort, natsDir := testutil.FreePort(t), t.TempDir()
	ns := testutil.RunJetStreamAt(t, natsPort, natsDir)
	natsURL := ns.ClientURL()
	ctl, edges := startLedger(t, natsURL, ch, spendConfig, "spend_e2e")
	key := generateKey(t, edges[0], map[string]any{})
	// Every request carries the same client x-request-id: each must still
	// be its own row (the edge's id is the identity), all findable by it.
	extraHeaders = map[string]string{"X-Request-Id": "e2e-same-client-id"}
	defer func() { extraHeaders = nil }()

	sent, want := 0, usage{}
	send := func(n int) {
		for i := 0; i < n; i++ {
			u, ok := chatUsage(t, edges[sent%2], key, sent%3 == 0, sent)
			if !ok {
				code, raw := callRaw(t, "POST", edges[sent%2].url("/v1/chat/completions"), key, chat("priced"))
				t.Fatalf("request %d refused: %d %s", sent, code, raw)
			}
			if u.Prompt == 0 || u.Completion == 0 {
				t.Fatalf("request %d: client got no usage", sent)
			}
			want.Prompt += u.Prompt
			want.Completion += u.Completion
			sent++
		}
	}
	send(60)
	// Roll today now: from here on every batch's day is a rolled one, so
	// the sink must roll it again after each insert, through the outages
	// below, and the views read today from the rollups.
	conn := ch.Conn(t)
	testutil.Eventually(t, 30*time.Second, func() error {
		var n uint64
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM spend_e2e.spend_events").Scan(&n); err != nil || n == 0 {
			return fmt.Errorf("%d rows yet (%v)", n, err)
		}
		return nil
	})
	today := time.Now().UTC().Format(time.DateOnly)
	if out, err := exec.Command(binary, "rebuild-rollups", "-clickhouse", ch.Addr(), "-database", "spend_e2e", "-from", today, "-to", today).CombinedOutput(); err != nil {
		t.Fatalf("rebuild-rollups: %v\n%s", err, out)
	}
	ch.Stop() // ClickHouse down: the sink retries, nothing is acked
	send(60)
	ch.Restart(t)
	send(60)
	ns.Shutdown() // NATS down: edges keep serving and spill spend to disk
	ns.WaitForShutdown()
	send(30)
	ns = testutil.RunJetStreamAt(t, natsPort, natsDir)
	send(30)

	var rows, ids uint64
	var prompt, completion uint64
	var cost float64
	testutil.Eventually(t, 90*time.Second, func() error {
		r := conn.QueryRow(context.Background(), "SELECT count(), uniqExact(request_id), sum(prompt_tokens), sum(completion_tokens), sum(cost) FROM spend_e2e.spend_events WHERE outcome != 'denied'")
		if err := r.Scan(&rows, &ids, &prompt, &completion, &cost); err != nil {
			return err
		}
		if rows != uint64(sent) {
			return fmt.Errorf("%d rows for %d requests", rows, sent)
		}
		return nil
	})
	if ids != rows {
		t.Fatalf("%d rows but %d distinct request ids: a row was doubled", rows, ids)
	}
	var sameClient uint64
	if err := conn.QueryRow(context.Background(), "SELECT count() FROM spend_e2e.spend_events WHERE client_request_id = 'e2e-same-client-id'").Scan(&sameClient); err != nil || sameClient != rows {
		t.Fatalf("%d rows carry the client's x-request-id, want %d (%v)", sameClient, rows, err)
	}
	if int64(prompt) != want.Prompt || int64(completion) != want.Completion {
		t.Fatalf("tokens in ClickHouse %d/%d, clients were told %d/%d", prompt, completion, want.Prompt, want.Completion)
	}
	wantCost := float64(want.Prompt)*0.000002 + float64(want.Completion)*0.00001
	if math.Abs(cost-wantCost) > 1e-9 {
		t.Fatalf("cost %.9f, want %.9f", cost, wantCost)
	}
	// The finance views (today is rolled: they read the rollups) and the
	// rollup tables themselves agree with the raw table. The sink rolls
	// again after its insert and before its ack, so by the time every row
	// is stored the last roll may still be under way: poll.
	var sources []string
	for _, view := range []string{"v_daily_key_spend", "v_daily_team_spend", "v_daily_user_spend", "v_daily_model_spend",
		"v_monthly_org_spend", "v_daily_end_user_spend", "spend_daily"} {
		sources = append(sources, "spend_e2e."+view)
	}
	for _, tb := range rollup.Tables {
		sources = append(sources, "spend_e2e."+tb.Name+" FINAL")
	}
	for _, src := range sources {
		testutil.Eventually(t, 10*time.Second, func() error {
			var daily float64
			var requests uint64
			if err := conn.QueryRow(context.Background(), "SELECT sum(cost), sum(requests) FROM "+src).Scan(&daily, &requests); err != nil {
				return err
			}
			if math.Abs(daily-cost) > 1e-9 || requests != rows {
				return fmt.Errorf("%s sums to %.9f for %d requests, raw table %.9f for %d", src, daily, requests, cost, rows)
			}
			return nil
		})
	}
	// /spend/logs reads ClickHouse through the control plane.
	var logs []map[string]any
	if code := call(t, "GET", ctl.url("/spend/logs?limit=5"), masterKey, nil, &logs); code != 200 || len(logs) != 5 {
		t.Fatalf("/spend/logs: %d, %d rows", code, len(logs))
	}
	// LiteLLM's row shape, which its scripts and dashboards read.
	for _, f := range []string{"request_id", "api_key", "spend", "startTime", "endTime", "model", "user", "team_id", "metadata", "total_tokens", "prompt_tokens", "completion_tokens", "call_type"} {
		if _, ok := logs[0][f]; !ok {
			t.Errorf("/spend/logs row has no %q: %v", f, logs[0])
		}
	}
	if code := call(t, "GET", ctl.url("/spend/logs?limit=1&format=gatehouse"), masterKey, nil, &logs); code != 200 || len(logs) != 1 || logs[0]["key_hash"] == nil {
		t.Fatalf("/spend/logs?format=gatehouse: %d %v", code, logs)
	}
	// LiteLLM's users (and its tests) find a completion's row by the
	// answer's id: GET /spend/logs?request_id=<response id>. The row's
	// request_id stays gatehouse's, as its answer header said.
	resp, raw, err := testutil.Do(client, "POST", edges[1].url("/v1/chat/completions"), key,
		map[string]any{"model": "priced", "messages": []map[string]string{{"role": "user", "content": "find me by my answer's id"}}}, nil)
	var answer struct {
		ID string `json:"id"`
	}
	if err != nil || resp.StatusCode != 200 || json.Unmarshal(raw, &answer) != nil || answer.ID == "" {
		t.Fatalf("chat: %v %s", err, raw)
	}
	callID := resp.Header.Get("x-litellm-call-id")
	for _, format := range []string{"litellm", "gatehouse"} {
		testutil.Eventually(t, 30*time.Second, func() error {
			var found []map[string]any
			if code := call(t, "GET", ctl.url("/spend/logs?format="+format+"&request_id="+answer.ID), masterKey, nil, &found); code != 200 || len(found) != 1 {
				return fmt.Errorf("/spend/logs?format=%s&request_id=%s: %d, %d rows", format, answer.ID, code, len(found))
			}
			if found[0]["response_id"] != answer.ID || found[0]["request_id"] != callID {
				return fmt.Errorf("row of %s: request_id %v response_id %v, want %s and %s", answer.ID, found[0]["request_id"], found[0]["response_id"], callID, answer.ID)
			}
			return nil
		})
	}
	t.Logf("%d requests -> %d rows, %d+%d tokens, $%.6f", sent, rows, prompt, completion, cost)
}

// TestBudgetEnforcedAtEveryEdge: a key that crosses max_budget is refused
// at every edge shortly after; the test reports how long after.
func TestBudgetEnforcedAtEveryEdge(t *testing.T) {
	cfg := strings.Replace(spendConfig, "master_key: os.environ/MASTER_KEY", "master_key: os.environ/MASTER_KEY", 1)
	sys := startSystem(t, cfg, 2)
	a, b := sys.edges[0], sys.edges[1]
	// Each request costs about 40 prompt... a few hundred micro-dollars:
	// a budget of 0.0002 is crossed within a few requests.
	key := generateKey(t, a, map[string]any{"max_budget": 0.0002})
	var crossedAt time.Time
	for i := 0; i < 100; i++ {
		if _, ok := chatUsage(t, a, key, false, i); !ok {
			break
		}
		crossedAt = time.Now()
	}
	if crossedAt.IsZero() {
		t.Fatal("no request admitted")
	}
	for _, e := range []*proc{a, b} {
		testutil.Eventually(t, 10*time.Second, func() error {
			code, raw := callRaw(t, "POST", e.url("/v1/chat/completions"), key, chat("priced"))
			if code != 400 || !strings.Contains(string(raw), "budget_exceeded") {
				return fmt.Errorf("%s: %d", e.name, code)
			}
			return nil
		})
	}
	lag := time.Since(crossedAt)
	t.Logf("budget crossing -> refused at both edges within %s", lag)
	// The edges refuse on their local view (edge/budget), before the
	// tracker has counted the crossing request; its total follows.
	testutil.Eventually(t, 10*time.Second, func() error {
		if s := keySpend(t, sys.control, key); s < 0.0002 {
			return fmt.Errorf("/key/info spend %.6f below the budget it crossed", s)
		}
		return nil
	})
}
