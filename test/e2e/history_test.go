package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/chtest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

const historyConfig = `
general_settings:
  master_key: os.environ/MASTER_KEY
model_list:
  - model_name: gpt-a
    litellm_params: {model: mock/gpt-a}
    model_info: {input_cost_per_token: 0.000002, output_cost_per_token: 0.00001}
  - model_name: gpt-b
    litellm_params: {model: mock/gpt-b}
    model_info: {input_cost_per_token: 0.000002, output_cost_per_token: 0.00001}
`

// Point-in-time policy, why and dry run against real processes: NATS, a
// control plane with ClickHouse, two edges and the sink. A request served
// at one policy sequence and a request refused at a later one are
// explained with the key as it was at each; the state at a sequence before
// and after a key update and delete is rebuilt; a dry run that takes a
// model from the team flips the served request and reports its money, and
// publishes nothing.
func TestPolicyHistoryEndToEnd(t *testing.T) {
	ch := chtest.Start(t)
	ns := testutil.RunJetStream(t)
	natsURL := ns.ClientURL()
	ctl, edges := startLedger(t, natsURL, ch, historyConfig, "hist_e2e")

	if code := call(t, "POST", ctl.url("/team/new"), masterKey, map[string]any{"team_id": "t1", "models": []string{"gpt-a", "gpt-b"}}, nil); code != 200 {
		t.Fatalf("team/new: %d", code)
	}
	key := generateKey(t, ctl, map[string]any{"team_id": "t1", "models": []string{"gpt-a"}, "key_alias": "before"})
	token := events.HashKey(key)

	// Served at the first sequence, by edge-a.
	seqOf := func(edge *proc, model, clientID string, want int) string {
		t.Helper()
		extraHeaders = map[string]string{"X-Request-Id": clientID}
		defer func() { extraHeaders = nil }()
		resp, raw, err := testutil.Do(client, "POST", edge.url("/v1/chat/completions"), key, chat(model), extraHeaders)
		if err != nil || resp.StatusCode != want {
			t.Fatalf("%s %s: %v %d %s", edge.name, model, err, resp.StatusCode, raw)
		}
		seq := resp.Header.Get("x-gatehouse-policy-seq")
		if seq == "" {
			t.Fatalf("%s: no x-gatehouse-policy-seq", edge.name)
		}
		return seq
	}
	servedSeq := seqOf(edges[0], "gpt-a", "why-served", 200)
	if code := call(t, "POST", ctl.url("/key/update"), masterKey, map[string]any{"key": key, "key_alias": "after"}, nil); code != 200 {
		t.Fatalf("key/update: %d", code)
	}
	deniedSeq := seqOf(edges[1], "gpt-b", "why-denied", 403)
	if servedSeq == deniedSeq {
		t.Fatalf("both requests decided at sequence %s", servedSeq)
	}

	type why struct {
		Request struct {
			RequestID  string  `json:"request_id"`
			Outcome    string  `json:"outcome"`
			DenyReason string  `json:"deny_reason"`
			Cost       float64 `json:"cost"`
			PolicySeq  uint64  `json:"policy_seq"`
		} `json:"request"`
		Policy struct {
			Seq uint64 `json:"seq"`
			Key struct {
				Alias string `json:"key_alias"`
			} `json:"key"`
		} `json:"policy"`
		Explanation string `json:"explanation"`
	}
	whyOf := func(id string) why {
		t.Helper()
		var w why
		testutil.Eventually(t, 30*time.Second, func() error {
			w = why{}
			if code, raw := callRaw(t, "GET", ctl.url("/gatehouse/why/"+id), masterKey, nil); code != 200 {
				return fmt.Errorf("why %s: %d %s", id, code, raw)
			} else if err := jsonInto(raw, &w); err != nil {
				return err
			}
			return nil
		})
		return w
	}
	served := whyOf("why-served")
	if served.Request.Outcome != "ok" || fmt.Sprint(served.Policy.Seq) != servedSeq || served.Policy.Key.Alias != "before" ||
		served.Request.Cost <= 0 || !strings.Contains(served.Explanation, "allow") {
		t.Fatalf("why served: %+v", served)
	}
	denied := whyOf("why-denied")
	if denied.Request.Outcome != events.OutcomeDenied || denied.Request.DenyReason != events.DenyModelNotAllowed ||
		fmt.Sprint(denied.Policy.Seq) != deniedSeq || denied.Policy.Key.Alias != "after" || !strings.Contains(denied.Explanation, "denied") {
		t.Fatalf("why denied: %+v", denied)
	}

	// A dry run on the recorded traffic: the team loses gpt-a, so the
	// served request would have been refused, and it cost what it cost.
	stream := func() uint64 {
		_, js := testutil.Connect(t, natsURL)
		return testutil.StreamState(t, js, events.PolicyStream).LastSeq
	}
	before := stream()
	var dr struct {
		Events []struct{ Type string } `json:"events"`
		Report struct {
			Rows  int `json:"rows"`
			Total struct {
				NowRefused     int     `json:"now_refused"`
				NowRefusedCost float64 `json:"now_refused_cost"`
			} `json:"total"`
			ByTeam []struct {
				ID string `json:"id"`
			} `json:"by_team"`
		} `json:"report"`
	}
	body := map[string]any{"since": "1h", "changes": []map[string]any{
		{"method": "POST", "path": "/team/update", "body": map[string]any{"team_id": "t1", "models": []string{"gpt-b"}}},
	}}
	if code, raw := callRaw(t, "POST", ctl.url("/gatehouse/policy/dry-run"), masterKey, body); code != http.StatusOK {
		t.Fatalf("dry-run: %d %s", code, raw)
	} else if err := jsonInto(raw, &dr); err != nil {
		t.Fatal(err)
	}
	if dr.Report.Rows != 2 || dr.Report.Total.NowRefused != 1 || dr.Report.Total.NowRefusedCost != served.Request.Cost ||
		len(dr.Events) != 1 || len(dr.Report.ByTeam) != 1 || dr.Report.ByTeam[0].ID != "t1" {
		t.Fatalf("dry-run: %+v, want the served request (%v USD) refused", dr, served.Request.Cost)
	}
	if after := stream(); after != before {
		t.Fatalf("the dry run published: policy stream %d -> %d", before, after)
	}

	// The state before and after the update, and after a delete.
	if code := call(t, "POST", ctl.url("/key/delete"), masterKey, map[string]any{"keys": []string{key}}, nil); code != 200 {
		t.Fatalf("key/delete: %d", code)
	}
	var cur struct {
		Seq uint64 `json:"seq"`
	}
	call(t, "GET", ctl.url("/gatehouse/state"), masterKey, nil, &cur)
	for _, c := range []struct {
		at, alias string
	}{{servedSeq, "before"}, {deniedSeq, "after"}, {strconv.FormatUint(cur.Seq, 10), ""}} {
		var one struct {
			Key *struct {
				Alias string `json:"key_alias"`
			} `json:"key"`
		}
		testutil.Eventually(t, 10*time.Second, func() error {
			code, raw := callRaw(t, "GET", ctl.url("/gatehouse/state?at="+c.at+"&key="+token), masterKey, nil)
			if code != 200 {
				return fmt.Errorf("state at %s: %d %s", c.at, code, raw)
			}
			one.Key = nil
			return jsonInto(raw, &one)
		})
		if (c.alias == "") != (one.Key == nil) || (one.Key != nil && one.Key.Alias != c.alias) {
			t.Fatalf("key at %s: %+v, want alias %q", c.at, one.Key, c.alias)
		}
	}
}
