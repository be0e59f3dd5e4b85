package ctl_test

import (
	"encoding/json"
	"fmt"
	"github.com/gatehouse/gatehouse/control/config"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/chtest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/cmd/internal/ctl"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// seqNow is the control plane's current policy sequence.
func seqNow(t *testing.T, url string) string {
	t.Helper()
	n, _ := okJSON(t, url, "state")["seq"].(float64)
	return strconv.FormatUint(uint64(n), 10)
}

// stateAt is "state --at at [extra...] --json", waiting until the audit
// trail (sourced asynchronously from the policy stream) holds at.
func stateAt(t *testing.T, url, at string, extra ...string) map[string]any {
	t.Helper()
	var m map[string]any
	testutil.Eventually(t, 10*time.Second, func() error {
		r := run(t, url, append([]string{"--json", "state", "--at", at}, extra...)...)
		if r.code != 0 {
			return fmt.Errorf("exit %d: %s", r.code, r.errout)
		}
		m = nil
		return json.Unmarshal([]byte(r.out), &m)
	})
	return m
}

// The policy at a sequence before and after a key update and a key delete,
// rebuilt from the audit trail, whole and for one key; times work as well as
// sequences; points the trail cannot answer are 400s naming at.
func TestStateAt(t *testing.T) {
	url := startControl(t, "")
	before := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	ok(t, url, "models", "new", "gpt-a", "--model", "mock/gpt-a", "--id", "dep-a")
	ok(t, url, "teams", "new", "--team-id", "t1", "--models", "gpt-a")
	gen := okJSON(t, url, "keys", "generate", "--team-id", "t1", "--alias", "k1", "--models", "gpt-a", "--max-budget", "5")
	token := gen["token"].(string)
	created := seqNow(t, url)
	time.Sleep(20 * time.Millisecond) // distinct audit timestamps around the update
	mid := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	ok(t, url, "keys", "update", token, "--max-budget", "9", "--alias", "k1-renamed")
	updated := seqNow(t, url)
	ok(t, url, "keys", "delete", token)
	deleted := seqNow(t, url)

	tests := []struct {
		name, at  string
		wantAlias string // "" means the key did not exist
		wantMax   float64
	}{
		{"created", created, "k1", 5},
		{"updated", updated, "k1-renamed", 9},
		{"deleted", deleted, "", 0},
		{"time between create and update", mid.Format(time.RFC3339Nano), "k1", 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			one := stateAt(t, url, tc.at, "--key", token)
			k, _ := one["key"].(map[string]any)
			if tc.wantAlias == "" {
				if k != nil {
					t.Fatalf("key exists at %s: %v", tc.at, k)
				}
				return
			}
			if k == nil || k["key_alias"] != tc.wantAlias || k["max_budget"] != tc.wantMax {
				t.Fatalf("key at %s: %v", tc.at, k)
			}
			if tm, _ := one["team"].(map[string]any); tm == nil || tm["team_id"] != "t1" {
				t.Fatalf("team at %s: %v", tc.at, one["team"])
			}
			whole := stateAt(t, url, tc.at)
			if whole["at"] != tc.at || whole["time"] == nil {
				t.Fatalf("whole state at %s lacks at/time: %v %v", tc.at, whole["at"], whole["time"])
			}
			keys, _ := whole["keys"].([]any)
			if len(keys) != 1 || keys[0].(map[string]any)["key_alias"] != tc.wantAlias {
				t.Fatalf("whole state keys at %s: %v", tc.at, keys)
			}
		})
	}
	if seq := stateAt(t, url, updated)["seq"]; fmt.Sprint(seq) != updated {
		t.Fatalf("state at %s says seq %v", updated, seq)
	}
	// The table view names the point it shows.
	if out := ok(t, url, "state", "--at", created); field(t, out, "seq") != created || field(t, out, "keys") != "1" {
		t.Fatalf("state --at table:\n%s", out)
	}

	for _, bad := range []struct{ at, want string }{
		{"yesterday", "neither a policy sequence"},
		{"0", "start at 1"},
		{"999999", "after the last one"},
		{before, "before the first policy event"},
	} {
		failsWith(t, run(t, url, "state", "--at", bad.at), ctl.ExitError, "HTTP 400", "at:", bad.want)
	}
	failsWith(t, run(t, url, "state", "--key", token), ctl.ExitUsage, "need --at")
}

// why shows an allowed and a denied request with the key and team as they
// were at each row's policy sequence (not as they are now), found by the
// edge's request id or the client's x-request-id.
func TestWhy(t *testing.T) {
	srv := chtest.Start(t)
	url := startControl(t, srv.Addr())
	ok(t, url, "models", "new", "gpt-a", "--model", "mock/gpt-a", "--id", "dep-a")
	ok(t, url, "teams", "new", "--team-id", "t1", "--models", "gpt-a", "--max-budget", "3")
	token := okJSON(t, url, "keys", "generate", "--team-id", "t1", "--alias", "k-then", "--models", "gpt-a")["token"].(string)
	then := seqNow(t, url)
	ok(t, url, "keys", "update", token, "--alias", "k-now")
	stateAt(t, url, seqNow(t, url)) // the audit holds every event

	now := time.Now().UTC().Truncate(time.Second)
	seq, _ := strconv.ParseUint(then, 10, 64)
	var ins [][]any
	for _, r := range []struct {
		id, client, outcome, reason, rule string
		cost                              float64
		status                            uint16
	}{
		{"req-ok", "client-ok", "ok", "", "", 0.25, 200},
		{"req-denied", "client-denied", "denied", "budget_exceeded", "team:t1:max_budget", 0, 400},
		{"req-old", "", "ok", "", "", 0.1, 200}, // written before provenance: policy_seq 0
	} {
		rowSeq := seq
		if r.id == "req-old" {
			rowSeq = 0
		}
		ins = append(ins, []any{r.id, r.client, now, now, "t1", token, "k-then", "gpt-a", "gpt-a", "mock", r.cost, uint64(10), r.status, r.outcome,
			rowSeq, r.reason, r.rule})
	}
	insertSpend(t, srv, "request_id, client_request_id, event_time, date, team_id, key_hash, key_alias, "+
		"model_group, model, provider, cost, total_tokens, status, outcome, policy_seq, deny_reason, deny_rule", ins)
	for _, c := range []struct{ id, want string }{
		{"req-ok", "allow"},
		{"client-ok", "allow"},
		{"req-denied", "denied (budget_exceeded, rule team:t1:max_budget)"},
	} {
		w := okJSON(t, url, "why", c.id)
		expl, _ := w["explanation"].(string)
		pol, _ := w["policy"].(map[string]any)
		key, _ := pol["key"].(map[string]any)
		if !strings.Contains(expl, c.want) || !strings.Contains(expl, "policy sequence "+then) || key["key_alias"] != "k-then" {
			t.Fatalf("why %s: %s\npolicy key %v", c.id, expl, key)
		}
		if tm, _ := pol["team"].(map[string]any); tm["max_budget"] != 3.0 {
			t.Fatalf("why %s: team %v", c.id, pol["team"])
		}
	}
	if out := ok(t, url, "why", "req-denied"); !strings.Contains(out, "team t1 had models [gpt-a], max_budget 3") {
		t.Fatalf("why table:\n%s", out)
	}
	if w := okJSON(t, url, "why", "req-old"); w["policy"] != nil || !strings.Contains(w["explanation"].(string), "without a policy sequence") {
		t.Fatalf("why of a row without policy_seq: %v", w)
	}
	failsWith(t, run(t, url, "why", "no-such-request"), ctl.ExitError, "HTTP 404", "no-such-request")
}

const dryConfig = `
model_list:
  - model_name: gpt-a
    litellm_params: {model: mock/gpt-a}
  - model_name: gpt-b
    litellm_params: {model: mock/gpt-b}
`

// A dry run replays the ledger through a proposal and the current policy:
// removing a model from a team, removing a model from the config, a
// budget and a rate limit each flip exactly the requests they should,
// with their money, and nothing is published.
func TestPolicyDryRun(t *testing.T) {
	srv := chtest.Start(t)
	cfg, err := config.Parse([]byte(dryConfig))
	if err != nil {
		t.Fatal(err)
	}
	url, natsURL := startControlConfig(t, srv.Addr(), cfg)
	ok(t, url, "teams", "new", "--team-id", "t1", "--models", "gpt-a,gpt-b")
	ok(t, url, "teams", "new", "--team-id", "t2", "--models", "gpt-a")
	k1 := okJSON(t, url, "keys", "generate", "--team-id", "t1")["token"].(string)
	k2 := okJSON(t, url, "keys", "generate", "--team-id", "t2")["token"].(string)

	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	rows := []struct {
		key, team, model string
		cost             float64
		outcome, reason  string
	}{
		{k1, "t1", "gpt-a", 1, "ok", ""},
		{k1, "t1", "gpt-b", 2, "ok", ""},
		{k1, "t1", "gpt-b", 2, "ok", ""},
		{k1, "t1", "gpt-b", 2, "ok", ""},
		{k2, "t2", "gpt-a", 1, "ok", ""},
		{k2, "t2", "gpt-a", 1, "ok", ""},
		{k2, "t2", "gpt-b", 0, "denied", "model_not_allowed"},
		{k2, "t2", "gpt-a", 0, "denied", "policy_stale"}, // no policy changes this one: skipped
	}
	var ins [][]any
	for i, r := range rows {
		at := start.Add(time.Duration(i) * time.Second)
		status := uint16(200)
		if r.outcome == "denied" {
			status = 403
		}
		ins = append(ins, []any{fmt.Sprintf("dr-%d", i), at.Truncate(time.Second), uint16(at.Nanosecond() / 1e6), at, "key", r.team, r.key,
			r.model, r.model, "mock", r.cost, uint64(100), status, r.outcome, r.reason})
	}
	insertSpend(t, srv, "request_id, event_time, event_ms, date, auth, team_id, key_hash, "+
		"model_group, model, provider, cost, total_tokens, status, outcome, deny_reason", ins)
	_, js := testutil.Connect(t, natsURL)
	lastSeq := func() uint64 {
		t.Helper()
		var n uint64
		for _, name := range []string{events.PolicyStream, events.AuditStream} {
			n += testutil.StreamState(t, js, name).LastSeq
		}
		return n
	}
	writeFile := func(name, content string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name           string
		args           []string
		refused        float64 // requests allowed now and refused by the proposal
		refusedCost    float64
		allowed        float64
		team, reason   string
		teamRefusedUSD float64
	}{
		{"team loses a model", []string{"-changes", writeFile("c.json", `[{"method":"POST","path":"/team/update","body":{"team_id":"t1","models":["gpt-a"]}}]`)},
			3, 6, 0, "t1", "model_not_allowed", 6},
		{"config drops a model", []string{"-config", writeFile("new.yaml", "model_list:\n  - model_name: gpt-a\n    litellm_params: {model: mock/gpt-a}\n")},
			3, 6, 0, "t1", "model_not_found", 6},
		{"team gains a model", []string{"-changes", writeFile("c.json", `[{"method":"POST","path":"/team/update","body":{"team_id":"t2","models":["gpt-a","gpt-b"]}}]`)},
			0, 0, 1, "t2", "", 0},
		{"team budget", []string{"-changes", writeFile("c.json", `[{"method":"POST","path":"/team/update","body":{"team_id":"t2","max_budget":0.5}}]`)},
			1, 1, 0, "t2", "budget_exceeded", 1},
		{"key rpm", []string{"-changes", writeFile("c.json", `[{"method":"POST","path":"/key/update","body":{"key":"`+k1+`","rpm_limit":1}}]`)},
			3, 6, 0, "t1", "rate_limited", 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := lastSeq()
			res := okJSON(t, url, append([]string{"policy", "dry-run", "--since", "1d"}, c.args...)...)
			if after := lastSeq(); after != before {
				t.Fatalf("the dry run published: stream sequences %d -> %d", before, after)
			}
			rep := res["report"].(map[string]any)
			tot := rep["total"].(map[string]any)
			if rep["rows"] != 7.0 || rep["skipped"] != 1.0 || tot["now_refused"] != c.refused || tot["now_refused_cost"] != c.refusedCost || tot["now_allowed"] != c.allowed {
				t.Fatalf("report: rows %v skipped %v total %v", rep["rows"], rep["skipped"], tot)
			}
			teams := rep["by_team"].([]any)
			if len(teams) != 1 || teams[0].(map[string]any)["id"] != c.team || teams[0].(map[string]any)["now_refused_cost"] != c.teamRefusedUSD {
				t.Fatalf("by team: %v", teams)
			}
			flips := rep["flips"].([]any)
			if reason := flips[0].(map[string]any)["proposed"].(map[string]any)["reason"]; c.reason != "" && reason != c.reason {
				t.Fatalf("first flip reason %v, want %s: %v", reason, c.reason, flips[0])
			}
			if evs := res["events"].([]any); len(evs) == 0 {
				t.Fatalf("no events proposed: %v", res)
			}
		})
	}
	out := ok(t, url, "policy", "dry-run", "-changes", writeFile("c.json", `[{"method":"POST","path":"/team/update","body":{"team_id":"t1","models":["gpt-a"]}}]`))
	if !strings.Contains(out, "allowed -> refused: 3 requests, 6 USD") || !strings.Contains(out, "BY TEAM") || !strings.Contains(out, "model_not_allowed") {
		t.Fatalf("dry-run table:\n%s", out)
	}
	failsWith(t, run(t, url, "policy", "dry-run", "-changes", writeFile("c.json", `[{"method":"POST","path":"/team/update","body":{"team_id":"nope"}}]`)),
		ctl.ExitError, "HTTP 400", "changes[0]", "404")
	failsWith(t, run(t, url, "policy", "dry-run", "-changes", writeFile("c.json", `[{"method":"POST","path":"/gatehouse/poison/replay","body":{}}]`)),
		ctl.ExitError, "HTTP 400", "changes[0].path")
	failsWith(t, run(t, url, "policy", "dry-run", "-changes", writeFile("c.json", `[{"method":"POST","path":"/team/update","body":{"team_id":"t1"}}]`), "--since", "soon"), ctl.ExitError, "HTTP 400", "since")
	failsWith(t, run(t, url, "policy", "dry-run"), ctl.ExitUsage, "exactly one")
}
