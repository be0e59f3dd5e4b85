package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	edgebudget "github.com/gatehouse/gatehouse/edge/budget"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	ttu "github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/policy"
)

const provKey = "sk-virtual-key-prov-000001"

// putMockKey publishes a mock model "m", more objects and key k, and
// waits until the edge applied them.
func putMockKey(t *testing.T, e *edgeUnderTest, k *events.Key, more ...any) {
	t.Helper()
	e.put(t, &events.Model{ID: "m1", ModelName: "m", LiteLLMParams: events.ModelParams{Model: "mock/m"}})
	for _, o := range more {
		e.put(t, o)
	}
	e.put(t, k)
	h, err := policy.ParseKeyHash(k.Token)
	if err != nil {
		t.Fatal(err)
	}
	ttu.Eventually(t, 10*time.Second, func() error {
		if e.live.Load().Key(h) == nil || !e.live.Ready() {
			return fmt.Errorf("not applied")
		}
		return nil
	})
}

// Past the bound with no confirmation (New starts no confirmation loop),
// a closed edge refuses model requests and readiness with 503
// policy_stale; a static one serves and says how stale it is. A
// confirmation against the stream makes both current again. Every answer
// names the snapshot's sequence.
func TestStalenessBound(t *testing.T) {
	for _, mode := range []string{StaleClosed, StaleStatic} {
		t.Run(mode, func(t *testing.T) {
			const bound = 300 * time.Millisecond
			e := startEdgeWith(t, true, Options{MaxStaleness: bound, StaleMode: mode}, nil)
			putMockKey(t, e, &events.Key{Token: events.HashKey(provKey), Models: []string{"m"}})
			seq := strconv.FormatUint(e.live.Load().Seq(), 10)
			code, h, body := doH(t, "POST", e.url+"/v1/chat/completions", bearer(provKey), chatBody)
			if code != 200 || h.Get(PolicySeqHeader) != seq || h.Get(PolicyStaleHeader) != "" {
				t.Fatalf("fresh: %d seq %q (want %s) stale %q: %s", code, h.Get(PolicySeqHeader), seq, h.Get(PolicyStaleHeader), body)
			}
			time.Sleep(bound + 50*time.Millisecond) // the bound itself is what is tested: no event may confirm meanwhile
			code, h, body = doH(t, "POST", e.url+"/v1/chat/completions", bearer(provKey), chatBody)
			rcode, _ := do(t, "GET", e.url+"/health/readiness", nil, "")
			switch mode {
			case StaleClosed:
				if code != 503 || !strings.Contains(body, `"code":"policy_stale"`) || h.Get(PolicySeqHeader) != seq || h.Get("Retry-After") != "1" || rcode != 503 {
					t.Fatalf("stale, closed: %d seq %q retry %q readiness %d: %s", code, h.Get(PolicySeqHeader), h.Get("Retry-After"), rcode, body)
				}
			case StaleStatic:
				if code != 200 || h.Get(PolicyStaleHeader) != "1" || rcode != 200 {
					t.Fatalf("stale, static: %d stale %q readiness %d: %s", code, h.Get(PolicyStaleHeader), rcode, body)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := e.live.Confirm(ctx); err != nil {
				t.Fatal(err)
			}
			code, h, body = doH(t, "POST", e.url+"/v1/chat/completions", bearer(provKey), chatBody)
			if code != 200 || h.Get(PolicyStaleHeader) != "" {
				t.Fatalf("confirmed: %d stale %q: %s", code, h.Get(PolicyStaleHeader), body)
			}
		})
	}
}

// Refusals become denial rows with reason, rule and policy sequence, and
// name the budget and its window; unidentified callers are capped per
// second, the rest counted.
func TestDenialRows(t *testing.T) {
	e := startEdgeWith(t, true, Options{EdgeID: "edge-prov", UnauthenticatedDenials: 3}, withSpend(t, "edge-prov"))
	// The tracker's total as this edge's budget view has it.
	e.g.budgets = edgebudget.New(edgebudget.Options{EdgeID: "edge-prov"})
	e.g.budgets.Apply(&events.SpendTotals{Kind: string(events.KindTeam), ID: "ml", Spend: 10.42})
	e.g.nowFunc = func() time.Time { return time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC) } // one second for the cap
	budget, reset := 10.0, time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	const blockedKey = "sk-virtual-key-prov-000002"
	putMockKey(t, e, &events.Key{Token: events.HashKey(provKey), Models: []string{"m"}, TeamID: "ml"},
		&events.Team{TeamID: "ml", TeamAlias: "ml-research", MaxBudget: &budget, BudgetDuration: "30d", BudgetFlag: events.BudgetFlag{BudgetExceeded: true, BudgetResetAt: &reset}},
		&events.Key{Token: events.HashKey(blockedKey), Blocked: true})
	code, h, body := doH(t, "POST", e.url+"/v1/chat/completions", bearer(provKey), chatBody)
	want := "Budget has been exceeded! Team=ml Current cost: 10.42, Max budget: 10.0, budget_duration 30d, resets 2026-12-31T00:00:00Z"
	var env apierror.Body
	_ = json.Unmarshal([]byte(body), &env)
	if code != 400 || env.Error.Message != want || h.Get("x-litellm-call-id") == "" {
		t.Fatalf("over budget: %d call id %q: %s", code, h.Get("x-litellm-call-id"), body)
	}
	budgetCall := h.Get("x-litellm-call-id")
	if code, _ := do(t, "POST", e.url+"/v1/chat/completions", bearer(blockedKey), chatBody); code != 401 {
		t.Fatalf("blocked key: %d", code)
	}
	// Not a decision: no row.
	if code, _ := do(t, "POST", e.url+"/v1/chat/completions", bearer(provKey), `{"model":`); code != 400 {
		t.Fatalf("bad JSON: %d", code)
	}
	for i := range 10 {
		if code, _ := do(t, "POST", e.url+"/v1/chat/completions", bearer(fmt.Sprintf("sk-guess-%d", i)), chatBody); code != 401 {
			t.Fatalf("guess: %d", code)
		}
	}
	rows := readSpend(t, e.js, 5)
	seq := e.live.Load().Seq()
	got := map[string]int{}
	for _, r := range rows {
		if r.Outcome != events.OutcomeDenied || r.PolicySeq != seq || r.Cost != 0 || r.ModelGroup != "m" || r.EdgeID != "edge-prov" {
			t.Errorf("row %+v", r)
		}
		got[r.DenyReason+" "+r.DenyRule]++
		if r.DenyReason == events.DenyBudgetExceeded && (r.RequestID != budgetCall || r.TeamID != "ml" || r.KeyHash != events.HashKey(provKey) || r.Status != 400) {
			t.Errorf("budget row %+v, call id %s", r, budgetCall)
		}
	}
	wantRows := map[string]int{
		"budget_exceeded team:ml:max_budget":                                  1,
		"key_blocked key:" + events.HashKey(blockedKey) + ":blocked":          1,
		"invalid_credential key:" + events.HashKey("sk-guess-0") + ":unknown": 1,
		"invalid_credential key:" + events.HashKey("sk-guess-1") + ":unknown": 1,
		"invalid_credential key:" + events.HashKey("sk-guess-2") + ":unknown": 1,
	}
	if fmt.Sprint(got) != fmt.Sprint(wantRows) {
		t.Errorf("rows %v, want %v", got, wantRows)
	}
	if n := testutil.ToFloat64(e.g.denialsUnrecorded); n != 7 {
		t.Errorf("unrecorded denials %v, want 7", n)
	}
}
