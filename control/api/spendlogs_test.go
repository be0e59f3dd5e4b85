package api

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/control/store/storetest"
	"github.com/gatehouse/gatehouse/internal/chtest"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/schema"
)

// LiteLLM's users find the spend row of a completion by the answer's id
// (GET /spend/logs?request_id=chatcmpl-...); gatehouse's own id finds it
// too, in both formats, and so does /gatehouse/why.
// spendFixture starts ClickHouse with database db migrated, and the API
// over it and an embedded NATS (master key testMaster).
func spendFixture(t *testing.T, db string) (context.Context, driver.Conn, *fiber.App, jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	conn := chtest.Start(t).Conn(t)
	if err := schema.Migrate(ctx, conn, db); err != nil {
		t.Fatal(err)
	}
	_, js := testutil.NewJetStream(t)
	return ctx, conn, New(storetest.New(t, js), Options{MasterKey: testMaster, Spend: &SpendStore{Conn: conn, Database: db}}), js
}

func TestSpendLogsByRequestID(t *testing.T) {
	const db = "gh"
	ctx, conn, app, _ := spendFixture(t, db)
	b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".spend_events (request_id, event_time, event_ms, date, key_hash, "+
		"model_group, status, outcome, response_id) VALUES")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	for i, r := range [][2]string{{"gh-req-1", "chatcmpl-abc123"}, {"gh-req-2", "msg_01XYZ"}, {"gh-req-3", ""}} {
		when := at.Add(time.Duration(i) * time.Second)
		if err := b.Append(r[0], when, uint16(0), when.Truncate(24*time.Hour), "k1", "gpt", uint16(200), "ok", r[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	rows := func(path string) []map[string]any {
		t.Helper()
		code, out := do(t, app, "GET", path, testMaster, nil)
		var l []map[string]any
		if raw, _ := out["raw"].(string); code != 200 || json.Unmarshal([]byte(raw), &l) != nil {
			t.Fatalf("%s: %d %v", path, code, out)
		}
		return l
	}
	for _, c := range []struct{ q, want, response string }{
		{"chatcmpl-abc123", "gh-req-1", "chatcmpl-abc123"},
		{"gh-req-1", "gh-req-1", "chatcmpl-abc123"},
		{"msg_01XYZ", "gh-req-2", "msg_01XYZ"},
		{"gh-req-3", "gh-req-3", ""},
	} {
		for _, format := range []string{"litellm", "gatehouse"} {
			l := rows("/spend/logs?format=" + format + "&request_id=" + c.q)
			if len(l) != 1 || l[0]["request_id"] != c.want {
				t.Errorf("%s, request_id %s: %v, want the row of %s", format, c.q, l, c.want)
				continue
			}
			if got, _ := l[0]["response_id"].(string); got != c.response {
				t.Errorf("%s, request_id %s: response_id %q, want %q", format, c.q, got, c.response)
			}
		}
	}
	if l := rows("/spend/logs?request_id=chatcmpl-unknown"); len(l) != 0 {
		t.Errorf("an unknown id lists %v", l)
	}
	if l := rows("/spend/logs"); len(l) != 3 {
		t.Errorf("no request_id lists %d rows, want 3", len(l))
	}
	code, out := do(t, app, "GET", "/gatehouse/why/msg_01XYZ", testMaster, nil)
	if req, _ := out["request"].(map[string]any); code != 200 || req["request_id"] != "gh-req-2" {
		t.Errorf("/gatehouse/why/msg_01XYZ: %d %v", code, out)
	}
}
