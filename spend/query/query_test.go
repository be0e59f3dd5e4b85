package query_test

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/chtest"
	"github.com/gatehouse/gatehouse/schema"
	"github.com/gatehouse/gatehouse/spend/query"
)

const db = "gh"

var day0 = time.Date(2025, 3, 30, 0, 0, 0, 0, time.UTC)

type ev struct {
	id   string
	at   time.Time
	key  string
	team string
	user string
	org  string
	mg   string
	cost float64
}

// Nine requests over 2025-03-30 .. 2025-04-01.
var evs = []ev{
	{"r1", day0.Add(1 * time.Hour), "k1", "t1", "u1", "o1", "gpt", 1},
	{"r2", day0.Add(13*time.Hour + 500*time.Millisecond), "k2", "t1", "u2", "o1", "gpt", 2},
	{"r3", day0.Add(23 * time.Hour), "k3", "t2", "u3", "o2", "claude", 4},
	{"r4", day0.Add(25 * time.Hour), "k1", "t1", "u1", "o1", "claude", 8},
	{"r5", day0.Add(36*time.Hour + 250*time.Millisecond), "k1", "t1", "u1", "o1", "gpt", 16},
	{"r6", day0.Add(36*time.Hour + 750*time.Millisecond), "k3", "t2", "u3", "o2", "gpt", 32},
	{"r7", day0.Add(49 * time.Hour), "k2", "t1", "u2", "o1", "gpt", 64},
	{"r8", day0.Add(60 * time.Hour), "k1", "", "u1", "", "gpt", 128},
	{"r9", day0.Add(70 * time.Hour), "k3", "t2", "u3", "o2", "claude", 256},
}

func seed(t *testing.T) (context.Context, driver.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	t.Cleanup(cancel)
	conn := chtest.Start(t).Conn(t)
	if err := schema.Migrate(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	// Two inserts, so the summing tables hold partial rows.
	for _, part := range [][]ev{evs[:4], evs[4:]} {
		b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".spend_events (request_id, event_time, event_ms, date, key_hash, key_alias, "+
			"team_id, user_id, org_id, model_group, model, cost, prompt_tokens, completion_tokens, total_tokens, status, outcome) VALUES")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range part {
			d := time.Date(e.at.Year(), e.at.Month(), e.at.Day(), 0, 0, 0, 0, time.UTC)
			outcome := "ok"
			if e.id == "r2" {
				outcome = "timeout"
			}
			if err := b.Append(e.id, e.at.Truncate(time.Second), uint16(e.at.Nanosecond()/1e6), d, e.key, "alias-"+e.key,
				e.team, e.user, e.org, e.mg, e.mg+"-up", e.cost, uint64(1), uint64(2), uint64(3), uint16(200), outcome); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	return ctx, conn
}

func ids(rows []query.Row) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.RequestID)
	}
	return out
}

func TestQueries(t *testing.T) {
	ctx, conn := seed(t)

	t.Run("logs", func(t *testing.T) {
		all, err := query.Logs(ctx, conn, db, query.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"r9", "r8", "r7", "r6", "r5", "r4", "r3", "r2", "r1"}; !slices.Equal(ids(all), want) {
			t.Fatalf("all = %v, want %v", ids(all), want)
		}
		r2 := all[7]
		if !r2.Time.Equal(evs[1].at) || r2.Type != events.SpendV1 || r2.KeyAlias != "alias-k2" || r2.Outcome != "timeout" ||
			r2.TotalTokens != 3 || r2.Status != 200 || r2.Model != "gpt-up" {
			t.Fatalf("r2 = %+v", r2)
		}
		for _, c := range []struct {
			name string
			f    query.Filter
			want []string
		}{
			{"key", query.Filter{KeyHash: "k1"}, []string{"r8", "r5", "r4", "r1"}},
			{"team+limit", query.Filter{TeamID: "t1", Limit: 2}, []string{"r7", "r5"}},
			// Paged back in time: r9, r8 and r7 come from three windows.
			{"limit across windows", query.Filter{Limit: 3}, []string{"r9", "r8", "r7"}},
			{"user", query.Filter{UserID: "u3"}, []string{"r9", "r6", "r3"}},
			// Millisecond bounds: [36h+250ms, 36h+750ms) holds r5 only.
			{"range", query.Filter{Start: evs[4].at, End: evs[5].at}, []string{"r5"}},
			{"range+key", query.Filter{KeyHash: "k3", Start: day0.Add(24 * time.Hour), End: day0.Add(72 * time.Hour)}, []string{"r9", "r6"}},
			{"quote", query.Filter{KeyHash: `k1' OR '1'='1`}, nil},
		} {
			got, err := query.Logs(ctx, conn, db, c.f)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if !slices.Equal(ids(got), c.want) {
				t.Errorf("%s = %v, want %v", c.name, ids(got), c.want)
			}
		}
	})

	t.Run("report", func(t *testing.T) {
		got, err := query.Report(ctx, conn, db, day0.Add(24*time.Hour), day0.Add(24*time.Hour+time.Minute), "team")
		if err != nil {
			t.Fatal(err)
		}
		d1 := day0.AddDate(0, 0, 1)
		want := []query.ReportRow{
			{Date: d1, Group: "t2", Cost: 32, PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3, Requests: 1},
			{Date: d1, Group: "t1", Cost: 24, PromptTokens: 2, CompletionTokens: 4, TotalTokens: 6, Requests: 2},
		}
		if !slices.Equal(got, want) {
			t.Errorf("team report = %+v, want %+v", got, want)
		}

		got, err = query.Report(ctx, conn, db, day0, day0, "key")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || got[0].Group != "k3" || got[0].Name != "alias-k3" || got[1].Group != "k2" || got[1].Errors != 1 {
			t.Errorf("key report = %+v", got)
		}

		got, err = query.Report(ctx, conn, db, day0, day0.AddDate(0, 0, 2), "model")
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, r := range got {
			sum += r.Cost
		}
		if len(got) != 6 || sum != 511 {
			t.Errorf("model report = %+v", got)
		}

		got, err = query.Report(ctx, conn, db, day0.AddDate(0, 0, 2), day0.AddDate(0, 0, 2), "org")
		if err != nil {
			t.Fatal(err)
		}
		april := time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)
		if len(got) != 3 || !got[0].Date.Equal(april) || got[0].Group != "o2" || got[0].Cost != 256 ||
			got[1].Group != "" || got[1].Cost != 128 || got[2].Group != "o1" || got[2].Cost != 64 {
			t.Errorf("org report (April only) = %+v", got)
		}
		got, err = query.Report(ctx, conn, db, day0, day0.AddDate(0, 0, 2), "org")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 5 {
			t.Errorf("org report (March, April) = %+v", got)
		}

		if _, err := query.Report(ctx, conn, db, day0, day0, "region"); err == nil {
			t.Error("group by region accepted")
		}
	})

	t.Run("totals", func(t *testing.T) {
		for _, c := range []struct {
			since time.Time
			by    string
			want  map[string]float64
		}{
			{time.Time{}, "key", map[string]float64{"k1": 153, "k2": 66, "k3": 292}},
			{day0.AddDate(0, 0, 1), "key", map[string]float64{"k1": 152, "k2": 64, "k3": 288}},
			// Mid-day: r5 (36h+250ms) counts, r4 (25h) does not.
			{day0.Add(36*time.Hour + 250*time.Millisecond), "key", map[string]float64{"k1": 144, "k2": 64, "k3": 288}},
			{day0.Add(36*time.Hour + 251*time.Millisecond), "team", map[string]float64{"t1": 64, "t2": 288}},
			{day0.Add(36 * time.Hour), "user", map[string]float64{"u1": 144, "u2": 64, "u3": 288}},
		} {
			got, err := query.Totals(ctx, conn, db, c.since, c.by)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Errorf("Totals(%s, %s) = %v, want %v", c.since, c.by, got, c.want)
				continue
			}
			for k, v := range c.want {
				if math.Abs(got[k]-v) > 1e-9 {
					t.Errorf("Totals(%s, %s) = %v, want %v", c.since, c.by, got, c.want)
				}
			}
		}
		if _, err := query.Totals(ctx, conn, db, time.Time{}, "org"); err == nil {
			t.Error("totals by org accepted")
		}
	})
}

// Refusals are ledger rows: Logs filters them by outcome and reason, and
// they read back with the policy sequence and the rule that decided.
func TestDecisions(t *testing.T) {
	ctx, conn := seed(t)
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".spend_events (request_id, event_time, event_ms, date, key_hash, "+
		"team_id, model_group, status, outcome, policy_seq, deny_reason, deny_rule) VALUES")
	if err != nil {
		t.Fatal(err)
	}
	at := day0.Add(71 * time.Hour)
	for _, d := range []struct{ id, reason, rule string }{
		{"d1", events.DenyBudgetExceeded, "team:t1:max_budget"},
		{"d2", events.DenyRateLimited, "key:k1:rpm"},
	} {
		if err := b.Append(d.id, at, uint16(0), at.Truncate(24*time.Hour), "k1", "t1", "gpt", uint16(429), events.OutcomeDenied,
			uint64(42), d.reason, d.rule); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Second)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    query.Filter
		want []string
	}{
		{"denied", query.Filter{Outcome: events.OutcomeDenied}, []string{"d2", "d1"}},
		{"denied by reason", query.Filter{Outcome: events.OutcomeDenied, DenyReason: events.DenyRateLimited}, []string{"d2"}},
		{"ok of a key", query.Filter{Outcome: "ok", KeyHash: "k1", Limit: 2}, []string{"r8", "r5"}},
	} {
		got, err := query.Logs(ctx, conn, db, c.f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(ids(got), c.want) {
			t.Errorf("%s = %v, want %v", c.name, ids(got), c.want)
		}
	}
	got, err := query.Logs(ctx, conn, db, query.Filter{DenyReason: events.DenyBudgetExceeded})
	if err != nil || len(got) != 1 || got[0].PolicySeq != 42 || got[0].DenyRule != "team:t1:max_budget" || got[0].Cost != 0 {
		t.Fatalf("budget denial = %+v, %v", got, err)
	}
}

// A request is found by the edge's id, the client's x-request-id or the
// answer's id (LiteLLM's request_id), and reads back with all three.
func TestLogsByRequestID(t *testing.T) {
	ctx, conn := seed(t)
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".spend_events (request_id, event_time, event_ms, date, key_hash, "+
		"model_group, status, outcome, client_request_id, response_id) VALUES")
	if err != nil {
		t.Fatal(err)
	}
	at := day0.Add(71 * time.Hour)
	for _, r := range []struct{ id, client, response string }{
		{"e1", "", "chatcmpl-abc123"},
		{"e2", "client-7", "msg_01XYZ"},
		{"e3", "", ""},
	} {
		if err := b.Append(r.id, at, uint16(0), at.Truncate(24*time.Hour), "k1", "gpt", uint16(200), "ok", r.client, r.response); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Second)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ id, want string }{
		{"chatcmpl-abc123", "e1"}, {"e1", "e1"}, {"msg_01XYZ", "e2"}, {"client-7", "e2"}, {"e3", "e3"},
	} {
		got, err := query.Logs(ctx, conn, db, query.Filter{RequestID: c.id})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(got), []string{c.want}) {
			t.Errorf("request id %q finds %v, want [%s]", c.id, ids(got), c.want)
		}
	}
	// Rows without a response id (most columns empty) match no other id.
	if got, err := query.Logs(ctx, conn, db, query.Filter{RequestID: "absent"}); err != nil || len(got) != 0 {
		t.Errorf("unknown id finds %v, %v", ids(got), err)
	}
	got, err := query.Logs(ctx, conn, db, query.Filter{RequestID: "msg_01XYZ"})
	if err != nil || len(got) != 1 || got[0].ResponseID != "msg_01XYZ" || got[0].ClientRequestID != "client-7" {
		t.Fatalf("row of msg_01XYZ = %+v, %v", got, err)
	}
}
