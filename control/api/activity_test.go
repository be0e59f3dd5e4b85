package api

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/control/store/storetest"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/spend/rollup"
)

// LiteLLM's spend routes over a real ledger: every total equals a GROUP BY
// over spend_events, and a caller that is not an admin sees only its own
// user's or teams' rows.
func TestSpendRoutes(t *testing.T) {
	const db = "gh_activity"
	ctx, conn, app, js := spendFixture(t, db)
	mustOK := func(method, path string, body any) map[string]any { return asMaster(t, app, method, path, body) }
	mustOK("POST", "/team/new", map[string]any{"team_id": "t1", "team_alias": "Team One"})
	mustOK("POST", "/team/new", map[string]any{"team_id": "t2"})
	mustOK("POST", "/user/new", map[string]any{"user_id": "u1", "user_email": "u1@example.com"})
	key1 := mustOK("POST", "/key/generate", map[string]any{"user_id": "u1", "team_id": "t1", "key_alias": "k-one"})["key"].(string)
	h1, h2 := events.HashKey(key1), events.HashKey("sk-gone")

	today := time.Now().UTC().Truncate(24 * time.Hour)
	yesterday := today.AddDate(0, 0, -1)
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".spend_events (request_id, event_time, event_ms, date, key_hash, key_alias, "+
		"team_id, user_id, model_group, model, provider, endpoint, cost, prompt_tokens, completion_tokens, total_tokens, "+
		"cached_tokens, cache_creation_tokens, status, outcome) VALUES")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		id         string
		day        time.Time
		key, team  string
		user, mg   string
		cost       float64
		p, c, read uint64
		outcome    string
	}
	rows := []row{
		{"a1", yesterday, h1, "t1", "u1", "gpt-4o", 0.125, 10, 20, 4, "ok"},
		{"a2", yesterday, h1, "t1", "u1", "gpt-4o", 0.25, 11, 21, 0, "ok"},
		{"a3", yesterday, h2, "t2", "u2", "claude", 0.5, 12, 22, 0, "ok"},
		{"a4", today, h1, "t1", "u1", "claude", 1, 13, 23, 5, "ok"},
		{"a5", today, h2, "t2", "u2", "gpt-4o", 2, 14, 24, 0, "upstream_error"},
		{"a6", today, h2, "", "u2", "gpt-4o", 4, 15, 25, 0, "ok"},
	}
	for _, r := range rows {
		if err := b.Append(r.id, r.day.Add(time.Hour), uint16(0), r.day, r.key, "alias-"+r.key[:4], r.team, r.user, r.mg, r.mg+"-up",
			"openai", "chat", r.cost, r.p, r.c, r.p+r.c, r.read, uint64(1), uint16(200), r.outcome); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	// The ledger's own sums, for the filters the routes are asked.
	ledger := func(where string) (spend float64, requests, prompt, cacheRead uint64) {
		t.Helper()
		if err := conn.QueryRow(ctx, "SELECT sum(cost), count(), sum(prompt_tokens), sum(cached_tokens) FROM "+db+".spend_events WHERE "+
			where).Scan(&spend, &requests, &prompt, &cacheRead); err != nil {
			t.Fatal(err)
		}
		return
	}
	get := func(path, cred string, want int) map[string]any {
		t.Helper()
		code, out := do(t, app, "GET", path, cred, nil)
		if code != want {
			t.Fatalf("GET %s: %d %v, want %d", path, code, out, want)
		}
		return out
	}
	checkTotals := func(path string, out map[string]any, where string) {
		t.Helper()
		spend, requests, prompt, cacheRead := ledger(where)
		m := out["metadata"].(map[string]any)
		if math.Abs(m["total_spend"].(float64)-spend) > 1e-9 || m["total_api_requests"].(float64) != float64(requests) ||
			m["total_prompt_tokens"].(float64) != float64(prompt) || m["total_cache_read_input_tokens"].(float64) != float64(cacheRead) {
			t.Errorf("%s: metadata %v, ledger (%s): spend %v, requests %d, prompt %d, cache read %d", path, m, where, spend, requests, prompt, cacheRead)
		}
	}
	span := "start_date=" + yesterday.Format(time.DateOnly) + "&end_date=" + today.Format(time.DateOnly)

	// An admin reads every user; page_size covers every row.
	path := "/user/daily/activity?page_size=100&" + span
	out := get(path, testMaster, 200)
	checkTotals(path, out, "1")
	results := out["results"].([]any)
	if len(results) != 2 || results[0].(map[string]any)["date"] != today.Format(time.DateOnly) {
		t.Fatalf("%s: results %v, want today then yesterday", path, results)
	}
	day := results[0].(map[string]any)
	br := day["breakdown"].(map[string]any)
	if m := day["metrics"].(map[string]any); m["failed_requests"].(float64) != 1 || m["successful_requests"].(float64) != 2 ||
		m["total_tokens"].(float64) != 13+23+14+24+15+25 {
		t.Errorf("today's metrics %v", m)
	}
	k1 := br["api_keys"].(map[string]any)[h1].(map[string]any)["metadata"].(map[string]any)
	if k1["key_alias"] != "k-one" || k1["key_exists"] != true || k1["user_email"] != "u1@example.com" {
		t.Errorf("api_keys[%s].metadata %v", h1, k1)
	}
	if gone := br["api_keys"].(map[string]any)[h2].(map[string]any)["metadata"].(map[string]any); gone["key_exists"] != false || gone["user_id"] != "u2" {
		t.Errorf("a deleted key's metadata %v", gone)
	}
	if _, ok := br["entities"].(map[string]any)["u2"]; !ok {
		t.Errorf("today's entities %v lack u2", br["entities"])
	}
	checkTotals(path+"&user_id=u2", get(path+"&user_id=u2", testMaster, 200), "user_id = 'u2'")
	checkTotals(path+"&model=claude-up", get(path+"&model=claude-up", testMaster, 200), "model = 'claude-up'")

	// Pages: LiteLLM's rows of (day, user, key, model, ...), newest first.
	// Four rows here (a1 and a2, a5 and a6 share theirs): two pages of 3.
	for n, more := range map[string]bool{"1": true, "2": false} {
		paged := get("/user/daily/activity?page_size=3&page="+n+"&"+span, testMaster, 200)["metadata"].(map[string]any)
		if paged["total_pages"].(float64) != 2 || paged["has_more"] != more {
			t.Errorf("page %s of 3-row pages: %v", n, paged)
		}
	}

	// u1's key reads u1 only, and not u2.
	checkTotals("as u1", get("/user/daily/activity?page_size=100&"+span, key1, 200), "user_id = 'u1'")
	get("/user/daily/activity?user_id=u2&"+span, key1, 403)

	// Teams: an admin filters and excludes; u1 reads its team t1 only.
	tpath := "/team/daily/activity?page_size=100&team_ids=t1,t2&exclude_team_ids=t2&" + span
	tout := get(tpath, testMaster, 200)
	checkTotals(tpath, tout, "team_id = 't1'")
	ent := tout["results"].([]any)[0].(map[string]any)["breakdown"].(map[string]any)["entities"].(map[string]any)["t1"].(map[string]any)
	if ent["metadata"].(map[string]any)["team_alias"] != "Team One" {
		t.Errorf("team t1's entity %v", ent)
	}
	checkTotals("all teams", get("/team/daily/activity?page_size=100&"+span, testMaster, 200), "1")
	checkTotals("teams as u1", get("/team/daily/activity?page_size=100&"+span, key1, 200), "team_id = 't1'")
	get("/team/daily/activity?team_ids=t2&"+span, key1, 404)

	// Refusals name the parameter.
	for _, bad := range []struct{ path, param string }{
		{"/user/daily/activity?start_date=" + today.Format(time.DateOnly), "end_date"},
		{"/user/daily/activity?start_date=yesterday&end_date=2026-01-01", "start_date"},
		{"/team/daily/activity?" + span + "&team_id=t1", "team_id"},
		{"/user/daily/activity?" + span + "&page_size=1001", "page_size"},
		{"/global/spend/keys?limit=0", "limit"},
	} {
		out := get(bad.path, testMaster, 400)
		if e := out["error"].(map[string]any); e["param"] != bad.param {
			t.Errorf("%s: %v, want param %s", bad.path, e, bad.param)
		}
	}

	// The /global/spend routes read the rollups over the last 30 days:
	// roll both days, so that they do.
	if _, err := rollup.Rebuild(ctx, conn, db, yesterday, today); err != nil {
		t.Fatal(err)
	}
	spend, _, _, _ := ledger("1")
	if g := get("/global/spend", testMaster, 200); math.Abs(g["spend"].(float64)-spend) > 1e-9 || g["max_budget"] != nil {
		t.Errorf("/global/spend: %v, ledger %v", g, spend)
	}
	code, raw := send(t, app, "GET", "/global/spend/keys?limit=1", testMaster, nil)
	var keys []map[string]any
	if code != 200 || json.Unmarshal(raw, &keys) != nil || len(keys) != 1 || keys[0]["api_key"] != h2 || keys[0]["total_spend"] != 6.5 ||
		keys[0]["key_alias"] != nil {
		t.Errorf("/global/spend/keys?limit=1: %d %s", code, raw)
	}
	code, raw = send(t, app, "GET", "/global/spend/models", testMaster, nil)
	var models []map[string]any
	if code != 200 || json.Unmarshal(raw, &models) != nil || len(models) != 2 || models[0]["model"] != "gpt-4o" || models[0]["total_spend"] != 6.375 {
		t.Errorf("/global/spend/models: %d %s", code, raw)
	}
	teams := get("/global/spend/teams", testMaster, 200)
	top := teams["total_spend_per_team"].([]any)
	if len(top) != 2 || top[0].(map[string]any)["team_id"] != "Unassigned" || top[0].(map[string]any)["total_spend"] != 6.5 ||
		top[1].(map[string]any)["team_id"] != "Team One" || top[1].(map[string]any)["total_spend"] != 1.375 {
		t.Errorf("/global/spend/teams: %v", teams)
	}
	get("/global/spend", key1, 401)
	code, reset := do(t, app, "POST", "/global/spend/reset", testMaster, nil)
	if e, _ := reset["error"].(map[string]any); code != 400 || e == nil {
		t.Errorf("/global/spend/reset: %d %v", code, reset)
	}

	// No ClickHouse: 503, as /spend/logs.
	bare := New(storetest.New(t, js), Options{MasterKey: testMaster})
	for _, p := range []string{"/user/daily/activity?" + span, "/team/daily/activity?" + span, "/global/spend", "/global/spend/keys"} {
		if code, out := do(t, bare, "GET", p, testMaster, nil); code != 503 {
			t.Errorf("%s without ClickHouse: %d %v", p, code, out)
		}
	}
}

// TestGlobalSpendKeysLeavesOutNoKey: requests of no virtual key (the
// master key, JWTs) are no key's spend in /global/spend/keys.
func TestGlobalSpendKeysLeavesOutNoKey(t *testing.T) {
	const db = "gh_activity_nokey"
	ctx, conn, app, _ := spendFixture(t, db)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	h := events.HashKey("sk-some-key")
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".spend_events (request_id, event_time, event_ms, date, key_hash, model_group, cost, status, outcome) VALUES")
	if err != nil {
		t.Fatal(err)
	}
	for i, key := range []string{"", h} {
		if err := b.Append(fmt.Sprint("r", i), today.Add(time.Hour), uint16(0), today, key, "gpt-4o", float64(8-7*i), uint16(200), "ok"); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	if _, err := rollup.Rebuild(ctx, conn, db, today, today); err != nil {
		t.Fatal(err)
	}
	code, raw := send(t, app, "GET", "/global/spend/keys", testMaster, nil)
	var keys []map[string]any
	if code != 200 || json.Unmarshal(raw, &keys) != nil || len(keys) != 1 || keys[0]["api_key"] != h || keys[0]["total_spend"] != 1.0 {
		t.Errorf("/global/spend/keys: %d %s, want only %s", code, raw, h)
	}
}
