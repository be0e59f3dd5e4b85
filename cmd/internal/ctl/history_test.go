package ctl_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/gatehouse/gatehouse/internal/chtest"
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

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := srv.Conn(t)
	b, err := conn.PrepareBatch(ctx, "INSERT INTO gh.spend_events (request_id, client_request_id, event_time, date, team_id, key_hash, key_alias, "+
		"model_group, model, provider, cost, total_tokens, status, outcome, policy_seq, deny_reason, deny_rule) VALUES")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	seq, _ := strconv.ParseUint(then, 10, 64)
	for _, r := range []struct {
		id, client, outcome, reason, rule string
		cost                              float64
		status                            uint16
	}{
		{"req-ok", "client-ok", "ok", "", "", 0.25, 200},
		{"req-denied", "client-denied", "denied", "budget_exceeded", "team:t1:max_budget", 0, 400},
	} {
		if err := b.Append(r.id, r.client, now, now, "t1", token, "k-then", "gpt-a", "gpt-a", "mock", r.cost, uint64(10), r.status, r.outcome,
			seq, r.reason, r.rule); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
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
	failsWith(t, run(t, url, "why", "no-such-request"), ctl.ExitError, "HTTP 404", "no-such-request")
}
