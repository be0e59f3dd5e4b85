package api

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/control/store/storetest"
	"github.com/gatehouse/gatehouse/events"
)

// LiteLLM's tag spend routes over a real ledger: /spend/tags
// ([{individual_request_tag, log_count, total_spend}]) and
// /global/spend/tags ({"spend_per_tag": [{name, spend, log_count}]}),
// every number a sum over the spend_events rows holding the tag; a
// caller that is not an admin sees its own requests' tags only;
// /tag/daily/activity; and /spend/logs rows carry request_tags.
func TestSpendTagRoutes(t *testing.T) {
	const db = "gh_tags"
	ctx, conn, app, js := spendFixture(t, db)
	mustOK := func(method, path string, body any) map[string]any { return asMaster(t, app, method, path, body) }
	mustOK("POST", "/user/new", map[string]any{"user_id": "u1", "user_role": "internal_user"})
	key1 := mustOK("POST", "/key/generate", map[string]any{"user_id": "u1"})["key"].(string)
	key3 := mustOK("POST", "/key/generate", map[string]any{})["key"].(string)
	h1, h3 := events.HashKey(key1), events.HashKey(key3)

	today := time.Now().UTC().Truncate(24 * time.Hour)
	yesterday := today.AddDate(0, 0, -1)
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".spend_events (request_id, event_time, event_ms, date, key_hash, user_id, "+
		"model_group, cost, status, outcome, request_tags) VALUES")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range []struct {
		day       time.Time
		key, user string
		cost      float64
		tags      []string
	}{
		{yesterday, h1, "u1", 0.125, []string{"prod", "search"}},
		{yesterday, "other", "u2", 0.5, []string{"prod"}},
		{today, h1, "u1", 1, []string{"search"}},
		{today, h3, "", 2.00005, []string{"batch", "prod"}},
		{today, "other", "u2", 4, nil},
	} {
		at := r.day.Add(time.Duration(i+1) * time.Minute)
		if err := b.Append("t"+string(rune('1'+i)), at, uint16(0), r.day, r.key, r.user, "gpt", r.cost, uint16(200), "ok", r.tags); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	// ledger is the spend and request count of tag's rows matching where.
	ledger := func(tag, where string) (float64, float64) {
		t.Helper()
		var spend float64
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT sum(cost), count() FROM "+db+".spend_events WHERE has(request_tags, ?) AND "+where, tag).Scan(&spend, &n); err != nil {
			t.Fatal(err)
		}
		return spend, float64(n)
	}
	list := func(path, cred string) []map[string]any {
		t.Helper()
		code, out := do(t, app, "GET", path, cred, nil)
		var l []map[string]any
		if raw, _ := out["raw"].(string); code != 200 || json.Unmarshal([]byte(raw), &l) != nil {
			t.Fatalf("%s: %d %v", path, code, out)
		}
		return l
	}
	// check compares a /spend/tags answer with the ledger's sums, tag by
	// tag, in the order of the want tags (highest spend first).
	check := func(name string, got []map[string]any, where string, want ...string) {
		t.Helper()
		var tags []string
		for _, r := range got {
			tags = append(tags, r["individual_request_tag"].(string))
			spend, n := ledger(r["individual_request_tag"].(string), where)
			if math.Abs(r["total_spend"].(float64)-spend) > 1e-9 || r["log_count"] != n {
				t.Errorf("%s: %v, ledger spend %v over %v rows", name, r, spend, n)
			}
		}
		if !slices.Equal(tags, want) {
			t.Errorf("%s: tags %v, want %v", name, tags, want)
		}
	}
	ymd := func(d time.Time) string { return d.Format(time.DateOnly) }
	check("every tag", list("/spend/tags", testMaster), "1", "prod", "batch", "search")
	check("today", list("/spend/tags?start_date="+ymd(today)+"&end_date="+ymd(today), testMaster), "date = today()", "batch", "prod", "search") // a tie: by tag
	check("yesterday", list("/spend/tags?start_date="+ymd(yesterday)+"&end_date="+ymd(yesterday), testMaster), "date = yesterday()", "prod", "search")
	// A user's key: its user's requests; a key without a user: its own.
	check("internal user", list("/spend/tags", key1), "user_id = 'u1'", "search", "prod")
	check("key without a user", list("/spend/tags", key3), "key_hash = '"+h3+"'", "batch", "prod")

	global := func(path string) []map[string]any {
		t.Helper()
		out := asMaster(t, app, "GET", path, nil)
		var l []map[string]any
		raw, _ := json.Marshal(out["spend_per_tag"])
		if json.Unmarshal(raw, &l) != nil || l == nil {
			t.Fatalf("%s: %v", path, out)
		}
		return l
	}
	names := func(l []map[string]any) []string {
		var out []string
		for _, r := range l {
			out = append(out, r["name"].(string))
		}
		return out
	}
	all := global("/global/spend/tags?start_date=" + ymd(yesterday) + "&end_date=" + ymd(today))
	for _, r := range all {
		spend, n := ledger(r["name"].(string), "1")
		if math.Abs(r["spend"].(float64)-math.Round(spend*1e4)/1e4) > 1e-12 || r["log_count"] != n {
			t.Errorf("/global/spend/tags: %v, ledger spend %v (4 decimals) over %v rows", r, spend, n)
		}
	}
	if got := names(all); !slices.Equal(got, []string{"prod", "batch", "search"}) {
		t.Errorf("/global/spend/tags: %v", got)
	}
	if all[1]["spend"] != 2.0001 {
		t.Errorf("batch spend %v, want LiteLLM's 4 decimals 2.0001", all[1]["spend"])
	}
	for path, want := range map[string][]string{
		"/global/spend/tags?tags=search,batch":          {"batch", "search"},
		"/global/spend/tags?tags=search,all-tags":       {"prod", "batch", "search"},
		"/global/spend/tags?limit=1&offset=1":           {"batch"},
		"/global/spend/tags?start_date=" + ymd(today):   {"batch", "prod", "search"},
		"/global/spend/tags?end_date=" + ymd(yesterday): {"prod", "search"},
		"/global/spend/tags?tags=absent":                nil,
	} {
		if got := names(global(path)); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", path, got, want)
		}
	}

	// /spend/logs rows carry their tags; an untagged row [] (LiteLLM's).
	for _, c := range []struct {
		id   string
		want []any
	}{{"t4", []any{"batch", "prod"}}, {"t5", []any{}}} {
		rows := list("/spend/logs?request_id="+c.id, testMaster)
		if len(rows) != 1 || !slices.Equal(rows[0]["request_tags"].([]any), c.want) {
			t.Errorf("/spend/logs?request_id=%s: %v, want request_tags %v", c.id, rows, c.want)
		}
	}

	// /tag/daily/activity: per day and tag, /team/daily/activity's shape.
	activity := func(query string) map[string]float64 {
		t.Helper()
		out := asMaster(t, app, "GET", "/tag/daily/activity?start_date="+ymd(yesterday)+"&end_date="+ymd(today)+"&page_size=100"+query, nil)
		var page struct {
			Results []struct {
				Breakdown struct {
					Entities map[string]struct {
						Metrics struct {
							Spend       float64 `json:"spend"`
							APIRequests float64 `json:"api_requests"`
						} `json:"metrics"`
					} `json:"entities"`
				} `json:"breakdown"`
			} `json:"results"`
		}
		raw, _ := json.Marshal(out)
		if err := json.Unmarshal(raw, &page); err != nil {
			t.Fatalf("/tag/daily/activity%s: %v", query, out)
		}
		sums := map[string]float64{}
		for _, d := range page.Results {
			for tag, m := range d.Breakdown.Entities {
				sums[tag] += m.Metrics.Spend
				sums[tag+" requests"] += m.Metrics.APIRequests
			}
		}
		return sums
	}
	sums := activity("")
	for _, tag := range []string{"prod", "search", "batch"} {
		spend, n := ledger(tag, "1")
		if math.Abs(sums[tag]-spend) > 1e-6 || sums[tag+" requests"] != n {
			t.Errorf("/tag/daily/activity %s: spend %v over %v requests, ledger %v over %v", tag, sums[tag], sums[tag+" requests"], spend, n)
		}
	}
	if len(sums) != 6 {
		t.Errorf("/tag/daily/activity entities: %v", sums)
	}
	if sums := activity("&tags=batch"); len(sums) != 2 || sums["batch"] == 0 {
		t.Errorf("/tag/daily/activity?tags=batch: %v", sums)
	}
	if code, out := do(t, app, "GET", "/tag/daily/activity?start_date="+ymd(today)+"&end_date="+ymd(today), key1, nil); code != 401 {
		t.Errorf("/tag/daily/activity as an internal user: %d %v, want the global spend routes' 401", code, out)
	}

	for _, bad := range []struct{ path, param string }{
		{"/tag/daily/activity?end_date=" + ymd(today), "start_date"},
		{"/spend/tags?start_date=soon", "start_date"},
		{"/spend/tags?tags=prod", "tags"},
		{"/spend/tags?start_date=" + ymd(today) + "&end_date=" + ymd(yesterday), "end_date"},
		{"/global/spend/tags?limit=0", "limit"},
		{"/global/spend/tags?offset=x", "offset"},
		{"/global/spend/tags?team_id=t", "team_id"},
	} {
		code, out := do(t, app, "GET", bad.path, testMaster, nil)
		if e, _ := out["error"].(map[string]any); code != 400 || e["param"] != bad.param {
			t.Errorf("%s: %d %v, want 400 naming %s", bad.path, code, out, bad.param)
		}
	}

	// No ClickHouse: 503, as the other spend routes.
	bare := New(storetest.New(t, js), Options{MasterKey: testMaster})
	for _, p := range []string{"/spend/tags", "/global/spend/tags", "/tag/daily/activity?start_date=" + ymd(today) + "&end_date=" + ymd(today)} {
		if code, out := do(t, bare, "GET", p, testMaster, nil); code != 503 {
			t.Errorf("%s without ClickHouse: %d %v", p, code, out)
		}
	}
}
