package dryrun_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/control/dryrun"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
)

func ptr[T any](v T) *T { return &v }

var (
	t0   = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	keyA = events.HashKey("sk-a")
	keyB = events.HashKey("sk-b")
)

func snapshot(t testing.TB, extra ...any) *policy.Snapshot {
	t.Helper()
	objs := []any{
		&events.Model{ID: "m1", ModelName: "gpt-a", LiteLLMParams: events.ModelParams{Model: "mock/gpt-a"}},
		&events.Model{ID: "m2", ModelName: "gpt-b", LiteLLMParams: events.ModelParams{Model: "mock/gpt-b"}},
		&events.Team{TeamID: "t1", Models: []string{"gpt-a"}},
		&events.Key{Token: keyA, TeamID: "t1"},
	}
	s, err := policy.SnapshotOf(nil, append(objs, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func req(i int, key, team, model string, cost float64) dryrun.Request {
	return dryrun.Request{RequestID: fmt.Sprint("r", i), Time: t0.Add(time.Duration(i) * time.Second), Auth: "key", KeyHash: key, TeamID: team,
		ModelGroup: model, TotalTokens: 100, Cost: cost, Outcome: "ok"}
}

// Each rule the edge enforces refuses exactly the requests it should, in
// time order, with the reason code and rule of the ledger.
func TestDecide(t *testing.T) {
	cases := []struct {
		name   string
		extra  []any
		reqs   []dryrun.Request
		want   []bool
		reason string
		rule   string
	}{
		{"team model access", nil, []dryrun.Request{req(0, keyA, "t1", "gpt-a", 1), req(1, keyA, "t1", "gpt-b", 1)},
			[]bool{true, false}, events.DenyModelNotAllowed, ""},
		{"unknown model", []any{&events.Team{TeamID: "t1"}}, []dryrun.Request{req(0, keyA, "t1", "gpt-z", 1)}, []bool{false}, events.DenyModelNotFound, "model:gpt-z"},
		{"deleted key", nil, []dryrun.Request{req(0, keyB, "", "gpt-a", 1)}, []bool{false}, events.DenyInvalidCredential, "key:" + keyB + ":unknown"},
		{"blocked key", []any{&events.Key{Token: keyA, TeamID: "t1", Blocked: true}}, []dryrun.Request{req(0, keyA, "t1", "gpt-a", 1)},
			[]bool{false}, events.DenyKeyBlocked, ""},
		{"blocked team", []any{&events.Team{TeamID: "t1", Blocked: true}}, []dryrun.Request{req(0, keyA, "t1", "gpt-a", 1)},
			[]bool{false}, events.DenyTeamBlocked, ""},
		{"team budget, cumulative", []any{&events.Team{TeamID: "t1", Models: []string{"gpt-a"}, MaxBudget: ptr(2.5)}},
			[]dryrun.Request{req(0, keyA, "t1", "gpt-a", 1), req(1, keyA, "t1", "gpt-a", 1), req(2, keyA, "t1", "gpt-a", 1), req(3, keyA, "t1", "gpt-a", 1)},
			[]bool{true, true, true, false}, events.DenyBudgetExceeded, "team:t1:max_budget"},
		{"key budget window rolls over", []any{&events.Key{Token: keyA, TeamID: "t1", MaxBudget: ptr(1.0), BudgetDuration: "1h"}},
			[]dryrun.Request{req(0, keyA, "t1", "gpt-a", 1), req(1, keyA, "t1", "gpt-a", 1), req(3600, keyA, "t1", "gpt-a", 1)},
			[]bool{true, false, true}, events.DenyBudgetExceeded, "key:" + keyA + ":max_budget"},
		{"a flag from today's tracker is not a verdict on last week", []any{&events.Team{TeamID: "t1", Models: []string{"gpt-a"}, BudgetFlag: events.BudgetFlag{BudgetExceeded: true}}},
			[]dryrun.Request{req(0, keyA, "t1", "gpt-a", 1)}, []bool{true}, "", ""},
		{"key rpm per minute", []any{&events.Key{Token: keyA, TeamID: "t1", RPMLimit: ptr(int64(2))}},
			[]dryrun.Request{req(0, keyA, "t1", "gpt-a", 1), req(1, keyA, "t1", "gpt-a", 1), req(2, keyA, "t1", "gpt-a", 1), req(60, keyA, "t1", "gpt-a", 1)},
			[]bool{true, true, false, true}, events.DenyRateLimited, "key:" + keyA + ":rpm"},
		{"team tpm per minute", []any{&events.Team{TeamID: "t1", Models: []string{"gpt-a"}, TPMLimit: ptr(int64(150))}},
			[]dryrun.Request{req(0, keyA, "t1", "gpt-a", 1), req(1, keyA, "t1", "gpt-a", 1), req(2, keyA, "t1", "gpt-a", 1)},
			[]bool{true, true, false}, events.DenyRateLimited, "team:t1:tpm"},
		{"jwt caller judged by its team", nil, []dryrun.Request{{RequestID: "j", Time: t0, Auth: "jwt", TeamID: "t1", ModelGroup: "gpt-b", Outcome: "ok"}},
			[]bool{false}, events.DenyModelNotAllowed, "team:t1:models"},
		{"master key", nil, []dryrun.Request{{RequestID: "m", Time: t0, Auth: "master_key", ModelGroup: "gpt-b", Outcome: "ok"}}, []bool{true}, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := dryrun.New(snapshot(t, c.extra...))
			var last dryrun.Decision
			for i, r := range c.reqs {
				d := e.Decide(r)
				if d.Allowed != c.want[i] {
					t.Fatalf("request %d: allowed %v, want %v (%+v)", i, d.Allowed, c.want[i], d)
				}
				if !d.Allowed {
					last = d
				}
			}
			if last.Reason != c.reason || (c.rule != "" && last.Rule != c.rule) {
				t.Fatalf("refusal %+v, want reason %q rule %q", last, c.reason, c.rule)
			}
		})
	}
}

// Compare counts flips both ways with their money, per key and team, and
// skips refusals no policy decides.
func TestCompare(t *testing.T) {
	cur := snapshot(t)
	prop := snapshot(t, &events.Team{TeamID: "t1", Models: []string{"gpt-b"}})
	c := dryrun.NewCompare(dryrun.New(cur), dryrun.New(prop))
	c.Add(req(0, keyA, "t1", "gpt-a", 1.5))
	c.Add(req(1, keyA, "t1", "gpt-a", 2))
	denied := req(2, keyA, "t1", "gpt-b", 0)
	denied.Outcome, denied.DenyReason = events.OutcomeDenied, events.DenyModelNotAllowed
	c.Add(denied)
	bad := req(3, keyA, "t1", "gpt-a", 0)
	bad.Outcome, bad.DenyReason = events.OutcomeDenied, events.DenyPolicyStale
	c.Add(bad)
	r := c.Report()
	if r.Rows != 3 || r.Skipped != 1 || r.Total.NowRefused != 2 || r.Total.NowRefusedCost != 3.5 || r.Total.NowAllowed != 1 {
		t.Fatalf("report %+v", r)
	}
	if len(r.ByTeam) != 1 || r.ByTeam[0].ID != "t1" || len(r.ByKey) != 1 || r.ByKey[0].ID != keyA || len(r.Flips) != 3 {
		t.Fatalf("groups %+v %+v flips %d", r.ByTeam, r.ByKey, len(r.Flips))
	}
}

// BenchmarkCompare is the decision rate of a dry run (both policies, per
// row), without ClickHouse: go test ./control/dryrun/ -bench Compare -benchtime 1000000x
func BenchmarkCompare(b *testing.B) {
	cur, prop := fleet(b)
	reqs := make([]dryrun.Request, 4096)
	for i := range reqs {
		k := i % 1000
		reqs[i] = dryrun.Request{RequestID: fmt.Sprint(i), Auth: "key", KeyHash: events.HashKey(fmt.Sprint("sk-", k)), TeamID: fmt.Sprint("t", k%50),
			ModelGroup: []string{"gpt-a", "gpt-b"}[i%2], TotalTokens: 500, Cost: 0.001, Outcome: "ok"}
	}
	c := dryrun.NewCompare(dryrun.New(cur), dryrun.New(prop))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := reqs[i%len(reqs)]
		r.Time = t0.Add(time.Duration(i) * time.Millisecond)
		c.Add(r)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// fleet is the benchmarks' policy: 1,000 keys (sk-0 ...) over 50 teams,
// with budgets and limits, and a proposal taking gpt-b from team t7.
func fleet(b *testing.B) (current, proposed *policy.Snapshot) {
	var objs []any
	for i := range 1000 {
		objs = append(objs, &events.Key{Token: events.HashKey(fmt.Sprint("sk-", i)), TeamID: fmt.Sprint("t", i%50), MaxBudget: ptr(50.0), RPMLimit: ptr(int64(600))})
	}
	for i := range 50 {
		objs = append(objs, &events.Team{TeamID: fmt.Sprint("t", i), Models: []string{"gpt-a", "gpt-b"}, MaxBudget: ptr(1000.0), TPMLimit: ptr(int64(1e6))})
	}
	return snapshot(b, objs...), snapshot(b, append(objs, &events.Team{TeamID: "t7", Models: []string{"gpt-a"}})...)
}
