package e2e

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/chtest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// TestSpendTags: tagged requests through real edges (body tags,
// metadata.tags, the x-litellm-tags header, a key's metadata tags) land in
// the ledger's request_tags, an untagged request under no tag, and
// /spend/tags, /global/spend/tags and /spend/logs read them back: every
// tag's spend and count equal the sums over the spend_events rows holding
// it.
func TestSpendTags(t *testing.T) {
	ch := chtest.Start(t)
	ns := testutil.RunJetStream(t)
	ctl, edges := startLedger(t, ns.ClientURL(), ch, spendConfig, "tags_e2e")
	// LiteLLM (since v1.84.0, which reverted v1.83.10's
	// allow_client_tags opt-in) records a client's tags with its key's.
	open := generateKey(t, edges[0], map[string]any{})
	keyTagged := generateKey(t, edges[0], map[string]any{"metadata": map[string]any{"tags": []string{"key-tag"}}})
	plain := generateKey(t, edges[0], map[string]any{})
	msg := func(n int) []map[string]string {
		return []map[string]string{{"role": "user", "content": fmt.Sprintf("tagged request %d", n)}}
	}
	sent := 0
	for i := range 12 {
		body := map[string]any{"model": "priced", "messages": msg(i)}
		key, hdr := open, map[string]string(nil)
		switch i % 4 {
		case 0:
			body["tags"] = []string{"prod", "search"}
		case 1:
			body["metadata"] = map[string]any{"tags": []string{"prod"}}
		case 2:
			hdr = map[string]string{"x-litellm-tags": "batch, prod"}
		case 3:
			key = keyTagged
			if i == 3 {
				body["tags"] = []string{"search"}
			}
		}
		testutil.Eventually(t, 15*time.Second, func() error { // a new key reaches the edges shortly
			if code, raw := callRawHeader(t, "POST", edges[i%2].url("/v1/chat/completions"), key, body, hdr); code != 200 {
				return fmt.Errorf("request %d: %d %s", i, code, raw)
			}
			return nil
		})
		sent++
	}
	// An untagged request: in the ledger, under no tag; another key's
	// tags count as any client's.
	expectChat(t, edges[1], plain, "priced", 200, "")
	if code, raw := callRaw(t, "POST", edges[0].url("/v1/chat/completions"), plain,
		map[string]any{"model": "priced", "messages": msg(99), "tags": []string{"prod", "other"}}); code != 200 {
		t.Fatalf("client tags: %d %s", code, raw)
	}
	sent += 2

	conn := ch.Conn(t)
	testutil.Eventually(t, 60*time.Second, func() error {
		var n uint64
		if err := conn.QueryRow(context.Background(), "SELECT count() FROM tags_e2e.spend_events WHERE outcome = 'ok'").Scan(&n); err != nil || n < uint64(sent) {
			return fmt.Errorf("%d rows of %d (%v)", n, sent, err)
		}
		return nil
	})
	ledger := func(tag string) (float64, float64) {
		var spend float64
		var n uint64
		if err := conn.QueryRow(context.Background(), "SELECT sum(cost), count() FROM tags_e2e.spend_events WHERE has(request_tags, ?)", tag).Scan(&spend, &n); err != nil {
			t.Fatal(err)
		}
		return spend, float64(n)
	}
	var perTag []map[string]any
	if code := call(t, "GET", ctl.url("/spend/tags"), masterKey, nil, &perTag); code != 200 {
		t.Fatalf("/spend/tags: %d", code)
	}
	var tags []string
	for _, r := range perTag {
		tag := r["individual_request_tag"].(string)
		tags = append(tags, tag)
		spend, n := ledger(tag)
		if spend == 0 || math.Abs(r["total_spend"].(float64)-spend) > 1e-9 || r["log_count"] != n {
			t.Errorf("/spend/tags %v: ledger spend %v over %v rows", r, spend, n)
		}
	}
	slices.Sort(tags)
	if !slices.Equal(tags, []string{"batch", "key-tag", "other", "prod", "search"}) {
		t.Errorf("/spend/tags tags %v", tags)
	}
	if _, n := ledger("prod"); n != 10 { // 0, 1, 2 of each four, and plain's
		t.Errorf("%v rows tagged prod, want 10", n)
	}
	if _, n := ledger("key-tag"); n != 3 {
		t.Errorf("%v rows tagged key-tag, want 3", n)
	}
	var global struct {
		SpendPerTag []map[string]any `json:"spend_per_tag"`
	}
	today := time.Now().UTC().Format(time.DateOnly)
	if code := call(t, "GET", ctl.url("/global/spend/tags?start_date="+today+"&end_date="+today), masterKey, nil, &global); code != 200 || len(global.SpendPerTag) != 5 {
		t.Fatalf("/global/spend/tags: %d %v", code, global)
	}
	for _, r := range global.SpendPerTag {
		spend, n := ledger(r["name"].(string))
		if math.Abs(r["spend"].(float64)-math.Round(spend*1e4)/1e4) > 1e-12 || r["log_count"] != n {
			t.Errorf("/global/spend/tags %v: ledger spend %v over %v rows", r, spend, n)
		}
	}
	// The key's tags follow the request's in its rows.
	var logs []map[string]any
	if code := call(t, "GET", ctl.url("/spend/logs?limit=100"), masterKey, nil, &logs); code != 200 || len(logs) < sent {
		t.Fatalf("/spend/logs: %d, %d rows", code, len(logs))
	}
	var seen [][]any
	for _, l := range logs {
		seen = append(seen, l["request_tags"].([]any))
	}
	if !slices.ContainsFunc(seen, func(tags []any) bool { return slices.Equal(tags, []any{"key-tag", "search"}) }) ||
		!slices.ContainsFunc(seen, func(tags []any) bool { return len(tags) == 0 }) {
		t.Errorf("/spend/logs request_tags: %v", seen)
	}
}
