package api

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/control/budget"
	"github.com/gatehouse/gatehouse/control/store/storetest"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/spend/rollup"
)

// The rest of LiteLLM's spend routes over a real ledger: /spend/logs's
// summary, /spend/logs/v2's pages and filters, /global/spend/end_users
// (every number a sum over spend_events), /spend/keys and /spend/users
// (scoped for a caller that is not an admin), /spend/calculate (the
// deployment's prices); the tag routes are in spendtags_test.go.
func TestSpendLiteLLMRoutes(t *testing.T) {
	const db = "gh_spend2"
	ctx, conn, _, js := spendFixture(t, db)
	kv, err := budget.EnsureBucket(ctx, js, 0)
	if err != nil {
		t.Fatal(err)
	}
	app := New(storetest.New(t, js), Options{MasterKey: testMaster, Spend: &SpendStore{Conn: conn, Database: db}, Totals: kv})
	mustOK := func(method, path string, body any) map[string]any { return asMaster(t, app, method, path, body) }
	mustOK("POST", "/user/new", map[string]any{"user_id": "u1", "user_role": "internal_user"})
	mustOK("POST", "/user/new", map[string]any{"user_id": "u2"})
	mustOK("POST", "/model/new", map[string]any{"model_name": "priced", "litellm_params": map[string]any{"model": "openai/gpt-4o",
		"api_key": "sk-upstream", "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}})
	key1 := mustOK("POST", "/key/generate", map[string]any{"user_id": "u1", "key_alias": "search-prod"})["key"].(string)
	key2 := mustOK("POST", "/key/generate", map[string]any{"user_id": "u2", "key_alias": "batch"})["key"].(string)
	h1, h2 := events.HashKey(key1), events.HashKey(key2)
	for _, tot := range []events.SpendTotals{{Kind: "key", ID: h1, Spend: 1.5}, {Kind: "key", ID: h2, Spend: 2.25},
		{Kind: "user", ID: "u1", Spend: 1.5}, {Kind: "user", ID: "u2", Spend: 2.25}} {
		raw, _ := json.Marshal(tot)
		if _, err := kv.Put(ctx, budget.KVKey(events.Kind(tot.Kind), tot.ID), raw); err != nil {
			t.Fatal(err)
		}
	}

	today := time.Now().UTC().Truncate(24 * time.Hour)
	yesterday := today.AddDate(0, 0, -1)
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".spend_events (request_id, event_time, event_ms, date, key_hash, key_alias, "+
		"user_id, end_user, model_group, model, deployment_id, cost, prompt_tokens, completion_tokens, total_tokens, status, outcome, latency_ms) VALUES")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range []struct {
		day            time.Time
		key, alias     string
		user, end, mg  string
		cost           float64
		status         uint16
		outcome        string
		tokens, millis uint64
	}{
		{yesterday, h1, "search-prod", "u1", "e1", "priced", 0.125, 200, "ok", 30, 100},
		{yesterday, h2, "batch", "u2", "e2", "priced", 0.5, 200, "ok", 10, 300},
		{yesterday, h1, "search-prod", "u1", "e2", "other", 0.25, 502, "upstream_error", 20, 50},
		{today, h1, "search-prod", "u1", "e1", "priced", 1, 200, "ok", 40, 200},
		{today, h2, "batch", "u2", "", "other", 2, 200, "ok", 50, 400},
	} {
		at := r.day.Add(time.Duration(i+1) * time.Hour)
		if err := b.Append("r"+string(rune('1'+i)), at, uint16(0), r.day, r.key, r.alias, r.user, r.end, r.mg, r.mg+"-up", "dep-"+r.mg,
			r.cost, r.tokens/2, r.tokens/2, r.tokens, r.status, r.outcome, float64(r.millis)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	ledger := func(where string) (spend float64, n uint64) {
		t.Helper()
		if err := conn.QueryRow(ctx, "SELECT sum(cost), count() FROM "+db+".spend_events WHERE "+where).Scan(&spend, &n); err != nil {
			t.Fatal(err)
		}
		return
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	list := func(method, path, cred string, body any) []map[string]any {
		t.Helper()
		code, raw := send(t, app, method, path, cred, body)
		var l []map[string]any
		if code != 200 || json.Unmarshal(raw, &l) != nil {
			t.Fatalf("%s %s: %d %s", method, path, code, raw)
		}
		return l
	}
	ymd := func(d time.Time) string { return d.Format(time.DateOnly) }

	// /spend/logs with both dates: LiteLLM's summary per day, the days
	// after the last one up to end_date with zero spend.
	summary := list("GET", "/spend/logs?start_date="+ymd(yesterday)+"&end_date="+ymd(today.AddDate(0, 0, 2)), testMaster, nil)
	if len(summary) != 4 || summary[2]["spend"] != 0.0 || summary[3]["startTime"] != ymd(today.AddDate(0, 0, 2)) {
		t.Fatalf("summary: %v", summary)
	}
	for i, day := range []time.Time{yesterday, today} {
		s := summary[i]
		spend, _ := ledger("date = toDate('" + ymd(day) + "')")
		k1, _ := ledger("date = toDate('" + ymd(day) + "') AND key_hash = '" + h1 + "'")
		u2, _ := ledger("date = toDate('" + ymd(day) + "') AND user_id = 'u2'")
		m, _ := ledger("date = toDate('" + ymd(day) + "') AND model = 'other-up'")
		if s["startTime"] != ymd(day) || !near(s["spend"].(float64), spend) || !near(s[h1].(float64), k1) ||
			!near(s["users"].(map[string]any)["u2"].(float64), u2) || !near(s["models"].(map[string]any)["other-up"].(float64), m) {
			t.Errorf("summary of %s: %v; ledger spend %v, key1 %v, u2 %v, other-up %v", ymd(day), s, spend, k1, u2, m)
		}
	}
	if rows := list("GET", "/spend/logs?summarize=false&start_date="+ymd(yesterday)+"&end_date="+ymd(today), testMaster, nil); len(rows) != 5 {
		t.Errorf("summarize=false: %d rows, want 5", len(rows))
	}

	// /spend/logs/v2: pages of rows, filters, LiteLLM's envelope.
	span := "start_date=" + ymd(yesterday) + "%2000:00:00&end_date=" + ymd(today) + "%2023:59:59"
	v2 := func(q string) map[string]any {
		t.Helper()
		code, out := do(t, app, "GET", "/spend/logs/v2?"+span+q, testMaster, nil)
		if code != 200 {
			t.Fatalf("v2 %s: %d %v", q, code, out)
		}
		return out
	}
	page := v2("&page_size=2&page=2&sort_by=spend&sort_order=asc")
	data := page["data"].([]any)
	if page["total"] != 5.0 || page["total_pages"] != 3.0 || page["page"] != 2.0 || page["page_size"] != 2.0 || len(data) != 2 ||
		data[0].(map[string]any)["spend"] != 0.5 || data[1].(map[string]any)["spend"] != 1.0 {
		t.Errorf("page 2 by spend: %v", page)
	}
	for _, c := range []struct{ q, where string }{
		{"&status_filter=failure", "outcome != 'ok'"},
		{"&status_filter=success", "outcome = 'ok'"},
		{"&error_code=502", "status = 502"},
		{"&min_spend=0.25&max_spend=1", "cost >= 0.25 AND cost <= 1"},
		{"&key_alias=prod", "key_alias = 'search-prod'"},
		{"&end_user=e2", "end_user = 'e2'"},
		{"&model_group=other", "model_group = 'other'"},
		{"&model=priced-up&user_id=u1", "model = 'priced-up' AND user_id = 'u1'"},
		{"&model_id=dep-other&api_key=" + key2, "deployment_id = 'dep-other' AND key_hash = '" + h2 + "'"},
	} {
		out := v2(c.q)
		spend, n := ledger(c.where)
		var got float64
		for _, r := range out["data"].([]any) {
			got += r.(map[string]any)["spend"].(float64)
		}
		if out["total"] != float64(n) || !near(got, spend) {
			t.Errorf("v2 %s: total %v, spend %v; ledger (%s): %d, %v", c.q, out["total"], got, c.where, n, spend)
		}
	}

	// /global/spend/end_users: the end user rollup over the days asked.
	if _, err := rollup.Rebuild(ctx, conn, db, yesterday, today); err != nil {
		t.Fatal(err)
	}
	ends := list("POST", "/global/spend/end_users", testMaster, map[string]any{"startTime": ymd(yesterday), "endTime": ymd(today)})
	if spend, n := ledger("end_user = 'e2'"); len(ends) != 3 || ends[0]["end_user"] != "" || ends[1]["end_user"] != "e1" ||
		ends[2]["end_user"] != "e2" || !near(ends[2]["total_spend"].(float64), spend) || ends[2]["total_count"] != float64(n) {
		t.Errorf("/global/spend/end_users: %v; ledger e2: %v, %d", ends, spend, n)
	}
	byKey := list("POST", "/global/spend/end_users", testMaster, map[string]any{"api_key": key1})
	if spend, _ := ledger("end_user = 'e1' AND key_hash = '" + h1 + "'"); len(byKey) != 2 || byKey[0]["end_user"] != "e1" || !near(byKey[0]["total_spend"].(float64), spend) {
		t.Errorf("/global/spend/end_users for key1: %v", byKey)
	}

	// /spend/keys and /spend/users: everything, highest spend first, to
	// an admin; its own to u1's key (/user/new made each user a key too).
	if keys := list("GET", "/spend/keys", testMaster, nil); len(keys) != 4 || keys[0]["token"] != h2 || keys[0]["spend"] != 2.25 {
		t.Errorf("/spend/keys: %v", keys)
	}
	if keys := list("GET", "/spend/keys", key1, nil); len(keys) != 2 || keys[1]["user_id"] != "u1" || keys[0]["token"] != h1 || keys[0]["spend"] != 1.5 {
		t.Errorf("/spend/keys as u1: %v", keys)
	}
	if users := list("GET", "/spend/users", testMaster, nil); len(users) != 2 || users[0]["user_id"] != "u2" || users[0]["spend"] != 2.25 {
		t.Errorf("/spend/users: %v", users)
	}
	if users := list("GET", "/spend/users", key1, nil); len(users) != 1 || users[0]["user_id"] != "u1" {
		t.Errorf("/spend/users as u1: %v", users)
	}
	if code, out := do(t, app, "GET", "/spend/users?user_id=u2", key1, nil); code != 403 {
		t.Errorf("/spend/users?user_id=u2 as u1: %d %v", code, out)
	}

	// /spend/calculate: the deployment's prices; a prompt estimated at
	// 4 characters a token.
	for _, c := range []struct {
		name string
		cred string
		body any
		cost float64
	}{
		{"messages", testMaster, map[string]any{"model": "priced", "messages": []any{map[string]any{"role": "user", "content": "abcdefgh"}}}, 2 * 1e-6},
		{"completion", key1, map[string]any{"completion_response": map[string]any{"id": "chatcmpl-1", "model": "priced",
			"usage": map[string]any{"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}}}, 9*1e-6 + 12*2e-6},
		{"upstream name", testMaster, map[string]any{"completion_response": map[string]any{"model": "gpt-4o",
			"usage": map[string]any{"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}}}, 9*1e-6 + 12*2e-6},
	} {
		code, out := do(t, app, "POST", "/spend/calculate", c.cred, c.body)
		if cost, _ := out["cost"].(float64); code != 200 || !near(cost, c.cost) {
			t.Errorf("/spend/calculate %s: %d %v, want cost %v", c.name, code, out, c.cost)
		}
	}

	// Refusals name the parameter or field.
	for _, bad := range []struct {
		method, path string
		body         any
		param        string
	}{
		{"GET", "/spend/logs?bogus=1", nil, "bogus"},
		{"GET", "/spend/logs?summarize=maybe", nil, "summarize"},
		{"GET", "/spend/logs/v2?start_date=" + ymd(today), nil, "end_date"},
		{"GET", "/spend/logs/v2?" + span + "&session_id=s1", nil, "session_id"},
		{"GET", "/spend/logs/v2?" + span + "&page_size=101", nil, "page_size"},
		{"GET", "/spend/logs/v2?" + span + "&status_filter=meh", nil, "status_filter"},
		{"GET", "/spend/logs/v2?" + span + "&sort_by=cost", nil, "sort_by"},
		{"GET", "/spend/logs/v2?start_date=yesterday&end_date=" + ymd(today), nil, "start_date"},
		{"POST", "/global/spend/end_users", map[string]any{"startTime": "soon"}, "startTime"},
		{"POST", "/global/spend/end_users", map[string]any{"api_keys": "x"}, "api_keys"},
		{"POST", "/spend/calculate", map[string]any{"model": "priced"}, "messages"},
		{"POST", "/spend/calculate", map[string]any{"model": "nope", "messages": []any{}}, "model"},
		{"POST", "/spend/calculate", map[string]any{}, "model"},
		{"GET", "/spend/keys?user_id=u1", nil, "user_id"},
	} {
		code, out := do(t, app, bad.method, bad.path, testMaster, bad.body)
		if e, _ := out["error"].(map[string]any); code != 400 || e["param"] != bad.param {
			t.Errorf("%s %s: %d %v, want 400 naming %s", bad.method, bad.path, code, out, bad.param)
		}
	}

	// No ClickHouse: 503, as the other spend routes.
	bare := New(storetest.New(t, js), Options{MasterKey: testMaster})
	for _, r := range [][2]string{{"GET", "/spend/logs/v2?" + span}, {"POST", "/global/spend/end_users"},
		{"GET", "/spend/logs?start_date=" + ymd(today) + "&end_date=" + ymd(today)}} {
		if code, out := do(t, bare, r[0], r[1], testMaster, nil); code != 503 {
			t.Errorf("%s %s without ClickHouse: %d %v", r[0], r[1], code, out)
		}
	}
}

// asMaster calls the API with the master key and fails the test unless it
// answers 200.
func asMaster(t *testing.T, app *fiber.App, method, path string, body any) map[string]any {
	t.Helper()
	code, out := do(t, app, method, path, testMaster, body)
	if code != 200 {
		t.Fatalf("%s %s: %d %v", method, path, code, out)
	}
	return out
}
