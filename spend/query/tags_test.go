package query_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/spend/query"
)

// Spend per request tag is the sum, over the rows holding the tag, of
// their cost (a row with two tags counts under both), in the time range,
// with a duplicate row counted once; /spend/logs rows carry their tags.
func TestSpendByTag(t *testing.T) {
	ctx, conn := seed(t) // untagged rows: they count under no tag
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".spend_events (request_id, event_time, event_ms, date, key_hash, user_id, "+
		"model_group, cost, status, outcome, request_tags) VALUES")
	if err != nil {
		t.Fatal(err)
	}
	at := day0.Add(80 * time.Hour)
	rows := []struct {
		id   string
		cost float64
		tags []string
	}{
		{"g1", 0.5, []string{"prod", "team-a"}},
		{"g2", 0.25, []string{"prod"}},
		{"g2", 0.25, []string{"prod"}}, // a duplicate that got past the sink
		{"g3", 1.5, []string{"team-a", "o'dd"}},
		{"g4", 0, []string{"prod"}}, // a failure: no cost, one request
		{"g5", 9, []string{"late"}}, // outside [start, end) below
	}
	for i, r := range rows {
		ts := at.Add(time.Duration(i) * time.Minute)
		if r.id == "g5" {
			ts = at.Add(48 * time.Hour)
		}
		if r.id == "g2" {
			ts = at.Add(time.Minute)
		}
		key, user := "k1", ""
		switch r.id {
		case "g1", "g2":
			user = "u-g"
		case "g3":
			key = "k-g"
		}
		if err := b.Append(r.id, ts, uint16(0), ts.Truncate(24*time.Hour), key, user, "gpt", r.cost, uint16(200), "ok", r.tags); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	start, end := at, at.Add(24*time.Hour)
	for _, c := range []struct {
		name string
		f    query.TagFilter
		want []query.TagSpend
	}{
		{"range", query.TagFilter{Start: start, End: end}, []query.TagSpend{{"team-a", 2, 2}, {"o'dd", 1, 1.5}, {"prod", 3, 0.75}}},
		{"open range", query.TagFilter{}, []query.TagSpend{{"late", 1, 9}, {"team-a", 2, 2}, {"o'dd", 1, 1.5}, {"prod", 3, 0.75}}},
		{"some tags", query.TagFilter{Start: start, End: end, Tags: []string{"prod", "absent"}}, []query.TagSpend{{"prod", 3, 0.75}}},
		{"empty range", query.TagFilter{Start: end, End: end.Add(time.Hour)}, nil},
		{"a page", query.TagFilter{Offset: 1, Limit: 2}, []query.TagSpend{{"team-a", 2, 2}, {"o'dd", 1, 1.5}}},
		{"a user's", query.TagFilter{UserID: "u-g"}, []query.TagSpend{{"prod", 2, 0.75}, {"team-a", 1, 0.5}}},
		{"a key's", query.TagFilter{KeyHash: "k-g"}, []query.TagSpend{{"o'dd", 1, 1.5}, {"team-a", 1, 1.5}}},
	} {
		got, err := query.SpendByTag(ctx, conn, db, c.f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.EqualFunc(got, c.want, func(a, b query.TagSpend) bool {
			return a.Tag == b.Tag && a.Requests == b.Requests && math.Abs(a.Spend-b.Spend) < 1e-9
		}) {
			t.Errorf("%s = %+v, want %+v", c.name, got, c.want)
		}
	}
	logs, err := query.Logs(ctx, conn, db, query.Filter{RequestID: "g3"})
	if err != nil || len(logs) != 1 || !slices.Equal(logs[0].RequestTags, []string{"team-a", "o'dd"}) {
		t.Fatalf("logs of g3 = %+v, %v", logs, err)
	}
	logs, err = query.Logs(ctx, conn, db, query.Filter{RequestID: "r1"})
	if err != nil || len(logs) != 1 || logs[0].RequestTags != nil {
		t.Fatalf("logs of untagged r1 = %+v, %v", logs, err)
	}
}

// Daily activity by tag (/tag/daily/activity): a request counts under
// each of its tags; untagged requests under none.
func TestActivityByTag(t *testing.T) {
	ctx, conn := seed(t)
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".spend_events (request_id, event_time, event_ms, date, key_hash, "+
		"model_group, model, cost, prompt_tokens, status, outcome, request_tags) VALUES")
	if err != nil {
		t.Fatal(err)
	}
	at := day0.Add(time.Hour)
	for _, r := range []struct {
		id, outcome string
		cost        float64
		tags        []string
	}{
		{"a1", "ok", 1, []string{"prod", "search"}},
		{"a2", "ok", 2, []string{"prod"}},
		{"a3", "timeout", 0, []string{"prod"}},
	} {
		if err := b.Append(r.id, at, uint16(0), day0, "k1", "gpt", "gpt-up", r.cost, uint64(10), uint16(200), r.outcome, r.tags); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	f := query.ActivityFilter{By: "tag", Start: day0, End: day0.Add(72 * time.Hour), Limit: 100}
	rows, total, err := query.Activity(ctx, conn, db, f)
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 || len(rows) != 2 {
		t.Fatalf("%d rows of %d: %+v", len(rows), total, rows)
	}
	for _, r := range rows {
		want := map[string]query.ActivityRow{"prod": {Cost: 3, Requests: 3, Successful: 2, Failed: 1, PromptTokens: 30},
			"search": {Cost: 1, Requests: 1, Successful: 1, PromptTokens: 10}}[r.Entity]
		if r.Cost != want.Cost || r.Requests != want.Requests || r.Successful != want.Successful || r.Failed != want.Failed ||
			r.PromptTokens != want.PromptTokens || !r.Date.Equal(day0) {
			t.Errorf("%s: %+v, want %+v", r.Entity, r, want)
		}
	}
	f.IDs = []string{"search"}
	if rows, total, err = query.Activity(ctx, conn, db, f); err != nil || total != 1 || rows[0].Entity != "search" {
		t.Fatalf("search only: %+v %d %v", rows, total, err)
	}
}
