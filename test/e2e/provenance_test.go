package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/chtest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// TestStalenessBoundThroughPartition: edge-a reaches NATS through a proxy
// the test cuts; then a key is deleted through the control plane. edge-b
// refuses the key at once (401). edge-a cannot learn of the deletion:
//
//   - closed: within -max-staleness of its last confirmation it refuses
//     every model request with 503 policy_stale (readiness too), so the
//     deleted key stops working everywhere within min(propagation, T);
//   - static: it keeps serving, saying how stale it is in
//     x-gatehouse-policy-stale (the deleted key still works there: the
//     price of static mode).
//
// Once the proxy is restored edge-a applies the deletion and refuses the
// key (401) without the stale header. Every answer names its policy
// sequence, and the ledger (ClickHouse, through the sink) holds the
// refusals with their reason, rule and sequence, readable through
// /gatehouse/decisions.
func TestStalenessBoundThroughPartition(t *testing.T) {
	const bound = 2 * time.Second
	ch := chtest.Start(t)
	for _, mode := range []string{"closed", "static"} {
		t.Run(mode, func(t *testing.T) {
			db := "prov_" + mode
			ns := startNATS(t)
			proxy := startCutProxy(t, strings.TrimPrefix(ns.url, "nats://"))
			cfg := t.TempDir() + "/config.yaml"
			writeFile(t, cfg, overshootConfig)
			env := []string{"MASTER_KEY=" + masterKey}
			control := start(t, "control", env, "control", "-nats", ns.url, "-listen", testutil.FreeAddr(t), "-config", cfg,
				"-clickhouse", ch.Addr(), "-clickhouse-db", db, "-sync-timeout", "1s")
			edge := func(name, natsURL string) *proc {
				return start(t, name, env, "edge", "-nats", natsURL, "-listen", testutil.FreeAddr(t), "-control", "http://"+control.addr,
					"-id", name, "-spill-dir", t.TempDir(), "-max-staleness", bound.String(), "-stale-mode", mode)
			}
			a, b := edge("edge-a", "nats://"+proxy.addr), edge("edge-b", ns.url)
			waitEdges(t, control, 2)
			start(t, "sink", env, "sink", "-nats", ns.url, "-clickhouse", ch.Addr(), "-database", db)

			key := generateKey(t, control, map[string]any{})
			var seq, callID string
			testutil.Eventually(t, 5*time.Second, func() error {
				for _, e := range []*proc{a, b} {
					code, body, h := chatHdr(t, e, key, "cheap")
					if code != 200 || h.Get("x-gatehouse-policy-seq") == "" || h.Get("x-gatehouse-policy-stale") != "" {
						return fmt.Errorf("%s: %d seq %q stale %q: %s", e.name, code, h.Get("x-gatehouse-policy-seq"), h.Get("x-gatehouse-policy-stale"), body)
					}
					if e == a {
						seq, callID = h.Get("x-gatehouse-policy-seq"), h.Get("x-litellm-call-id")
					} else if h.Get("x-gatehouse-policy-seq") != seq {
						return fmt.Errorf("edge-b at seq %s, edge-a at %s", h.Get("x-gatehouse-policy-seq"), seq)
					}
				}
				return nil
			})

			proxy.cut()
			cut := time.Now()
			if code, raw := callRaw(t, "POST", control.url("/key/delete"), masterKey, map[string]any{"keys": []string{key}}); code != 200 {
				t.Fatalf("/key/delete: %d %s", code, raw)
			}
			code, body, hb := chatHdr(t, b, key, "cheap")
			if code != 401 || hb.Get("x-gatehouse-policy-seq") == seq {
				t.Fatalf("edge-b after the delete: %d at seq %s (before: %s): %s", code, hb.Get("x-gatehouse-policy-seq"), seq, body)
			}

			switch mode {
			case "closed":
				var refusedAfter time.Duration
				testutil.Eventually(t, bound+5*time.Second, func() error {
					code, body, h := chatHdr(t, a, key, "cheap")
					if code == 503 && strings.Contains(string(body), "policy_stale") {
						refusedAfter = time.Since(cut)
						if h.Get("x-gatehouse-policy-seq") != seq {
							return fmt.Errorf("503 names seq %s, the edge's snapshot is %s", h.Get("x-gatehouse-policy-seq"), seq)
						}
						return nil
					}
					return fmt.Errorf("edge-a: %d %s", code, body)
				})
				t.Logf("closed: edge-a refused with 503 policy_stale %s after the cut (bound %s)", refusedAfter.Round(time.Millisecond), bound)
				// Its last confirmation was at most a confirmation interval
				// before the cut; allow one more for the request loop.
				if refusedAfter > bound+time.Second {
					t.Errorf("edge-a served the deleted key %s after the cut, bound %s", refusedAfter, bound)
				}
				if code, c := readiness(a); code != 503 || c != "policy_stale" {
					t.Errorf("edge-a readiness while stale: %d %q", code, c)
				}
			case "static":
				testutil.Eventually(t, bound+5*time.Second, func() error {
					code, body, h := chatHdr(t, a, key, "cheap")
					stale, _ := strconv.Atoi(h.Get("x-gatehouse-policy-stale"))
					if code != 200 || stale < int(bound/time.Second) {
						return fmt.Errorf("edge-a: %d stale %q: %s", code, h.Get("x-gatehouse-policy-stale"), body)
					}
					return nil
				})
				if code, _ := readiness(a); code != 200 {
					t.Errorf("edge-a readiness in static mode: %d", code)
				}
			}

			proxy.restore(t)
			testutil.Eventually(t, 30*time.Second, func() error {
				code, body, h := chatHdr(t, a, key, "cheap")
				if code != 401 || h.Get("x-gatehouse-policy-stale") != "" {
					return fmt.Errorf("edge-a after the partition: %d stale %q: %s", code, h.Get("x-gatehouse-policy-stale"), body)
				}
				return nil
			})

			// The ledger: the served request at the sequence its answer
			// named, and the refusals with reason and rule.
			hash := events.HashKey(key)
			conn := ch.Conn(t)
			testutil.Eventually(t, 30*time.Second, func() error {
				var got uint64
				if err := conn.QueryRow(context.Background(), "SELECT policy_seq FROM "+db+".spend_events WHERE request_id = ?", callID).Scan(&got); err != nil {
					return err
				}
				if strconv.FormatUint(got, 10) != seq {
					return fmt.Errorf("row of %s at policy_seq %d, answer said %s", callID, got, seq)
				}
				return nil
			})
			var rows []events.SpendEvent
			testutil.Eventually(t, 30*time.Second, func() error {
				rows = nil
				if code, raw := callRaw(t, "GET", control.url("/gatehouse/decisions?outcome=denied&api_key="+key), masterKey, nil); code != 200 {
					return fmt.Errorf("/gatehouse/decisions: %d %s", code, raw)
				}
				call(t, "GET", control.url("/gatehouse/decisions?outcome=denied&api_key="+key), masterKey, nil, &rows)
				reasons := map[string]string{}
				for _, r := range rows {
					if r.KeyHash != hash || r.Cost != 0 || r.PolicySeq == 0 || r.ModelGroup != "cheap" {
						return fmt.Errorf("denial row %+v", r)
					}
					reasons[r.DenyReason+"@"+r.EdgeID] = r.DenyRule
				}
				if reasons[events.DenyInvalidCredential+"@edge-b"] != "key:"+hash+":unknown" {
					return fmt.Errorf("no 401 of edge-b: %v", reasons)
				}
				if mode == "closed" && reasons[events.DenyPolicyStale+"@edge-a"] != "edge:edge-a:policy_stale" {
					return fmt.Errorf("no policy_stale refusal of edge-a: %v", reasons)
				}
				return nil
			})
			if code, raw := callRaw(t, "GET", control.url("/gatehouse/decisions?outcome=refused"), masterKey, nil); code != 400 || !strings.Contains(string(raw), "outcome") {
				t.Errorf("bad outcome filter: %d %s", code, raw)
			}
		})
	}
}
