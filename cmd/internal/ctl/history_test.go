package ctl_test

import (
	"encoding/json"
	"fmt"
	"strconv"
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
