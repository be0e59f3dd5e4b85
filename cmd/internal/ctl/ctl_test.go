package ctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gatehouse/gatehouse/cmd/internal/ctl"
	"github.com/gatehouse/gatehouse/control"
	"github.com/gatehouse/gatehouse/control/config"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/chtest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

const master = "sk-ctl-master-key-0001"

// startControl runs a real control plane (embedded JetStream, control.Run
// on port 0) and returns its URL.
func startControl(t *testing.T, clickhouse string) string {
	t.Helper()
	url, _ := startControlNATS(t, clickhouse)
	return url
}

// startControlNATS is startControl that also returns the NATS URL.
func startControlNATS(t *testing.T, clickhouse string) (string, string) {
	t.Helper()
	return startControlConfig(t, clickhouse, nil)
}

// startControlConfig is startControlNATS with a config.yaml (nil: none).
func startControlConfig(t *testing.T, clickhouse string, cfg *config.File) (string, string) {
	t.Helper()
	ns := testutil.RunJetStream(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- control.Run(ctx, control.Options{NATSURL: ns.ClientURL(), Listener: ln, MasterKey: master, Ready: ready,
			SyncTimeout: 200 * time.Millisecond, ClickHouse: clickhouse, ClickHouseDatabase: "gh", Config: cfg})
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case addr := <-ready:
		return "http://" + addr, ns.ClientURL()
	case err := <-done:
		t.Fatalf("control: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("control did not start")
	}
	return "", ""
}

type result struct {
	code        int
	out, errout string
}

// run is gatewayctl against url with the master key.
func run(t *testing.T, url string, args ...string) result {
	t.Helper()
	return runEnv(t, map[string]string{"GATEWAY_URL": url, "GATEWAY_KEY": master}, args...)
}

func runEnv(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errout bytes.Buffer
	code := ctl.Main(args, &out, &errout, func(k string) string { return env[k] })
	return result{code, out.String(), errout.String()}
}

// ok runs and requires exit 0.
func ok(t *testing.T, url string, args ...string) string {
	t.Helper()
	r := run(t, url, args...)
	if r.code != 0 {
		t.Fatalf("gatewayctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.out, r.errout)
	}
	return r.out
}

// okJSON runs with --json and decodes the answer.
func okJSON(t *testing.T, url string, args ...string) map[string]any {
	t.Helper()
	out := ok(t, url, append([]string{"--json"}, args...)...)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%s: not a JSON object: %v\n%s", strings.Join(args, " "), err, out)
	}
	return m
}

// field finds "name  value" in a FIELD VALUE table.
func field(t *testing.T, table, name string) string {
	t.Helper()
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) >= 1 && f[0] == name {
			return strings.TrimSpace(strings.TrimPrefix(line, name))
		}
	}
	t.Fatalf("no field %q in\n%s", name, table)
	return ""
}

func failsWith(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.out, r.errout)
	}
	for _, w := range want {
		if !strings.Contains(r.errout, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.errout)
		}
	}
}

func TestRoundTrips(t *testing.T) {
	url := startControl(t, "")

	// Models.
	ok(t, url, "models", "new", "gpt-test", "--model", "mock/gpt-test", "--id", "dep-1", "--access-groups", "beta,internal", "--input-cost", "0.000001")
	list := ok(t, url, "models", "list")
	if !strings.Contains(list, "dep-1") || !strings.Contains(list, "mock/gpt-test") || !strings.Contains(list, "beta,internal") || !strings.HasPrefix(list, "ID ") {
		t.Fatalf("models list:\n%s", list)
	}
	if v := field(t, ok(t, url, "models", "info", "dep-1"), "model_name"); v != "gpt-test" {
		t.Fatalf("model info model_name %q", v)
	}
	// A Bedrock deployment with its AWS settings; the literal secret is
	// stored but never shown back.
	ok(t, url, "models", "new", "br", "--model", "bedrock/amazon.nova-pro-v1:0", "--id", "dep-br", "--aws-region-name", "eu-west-1",
		"--aws-access-key-id", "AKIA0", "--aws-secret-access-key", "literal-aws-secret", "--aws-role-name", "arn:aws:iam::1:role/r")
	if out := ok(t, url, "--json", "models", "info", "dep-br"); !strings.Contains(out, `"aws_region_name": "eu-west-1"`) ||
		!strings.Contains(out, `"aws_role_name": "arn:aws:iam::1:role/r"`) || strings.Contains(out, "literal-aws-secret") {
		t.Fatalf("bedrock model info:\n%s", out)
	}

	// Teams.
	ok(t, url, "teams", "new", "--team-id", "t1", "--alias", "Team One", "--models", "gpt-test", "--max-budget", "12.5", "--rpm", "100")
	if v := field(t, ok(t, url, "teams", "info", "t1"), "team_alias"); v != "Team One" {
		t.Fatalf("team alias %q", v)
	}
	ok(t, url, "teams", "update", "t1", "--tpm", "5000")
	info := ok(t, url, "teams", "info", "t1")
	if field(t, info, "tpm_limit") != "5000" || field(t, info, "rpm_limit") != "100" || field(t, info, "max_budget") != "12.5" {
		t.Fatalf("update changed more than --tpm:\n%s", info)
	}
	ok(t, url, "teams", "block", "t1")
	if v := field(t, ok(t, url, "teams", "info", "t1"), "blocked"); v != "true" {
		t.Fatalf("blocked %q", v)
	}
	ok(t, url, "teams", "unblock", "t1")

	// Users, and membership both ways.
	ok(t, url, "users", "new", "--user-id", "u1", "--email", "u1@example.com", "--role", "internal_user")
	ok(t, url, "teams", "member-add", "t1", "--user-id", "u1", "--role", "admin")
	if v := field(t, ok(t, url, "users", "info", "u1"), "teams"); v != "t1" {
		t.Fatalf("user teams after member-add %q", v)
	}
	if tl := ok(t, url, "teams", "list"); !strings.Contains(tl, "t1") || !strings.Contains(tl, "Team One") {
		t.Fatalf("teams list:\n%s", tl)
	}
	ok(t, url, "teams", "member-delete", "t1", "--user-id", "u1")
	if v := field(t, ok(t, url, "teams", "info", "t1"), "members_with_roles"); v != "" {
		t.Fatalf("members after member-delete %q", v)
	}
	if v := field(t, ok(t, url, "users", "info", "u1"), "teams"); v != "" {
		t.Fatalf("user teams after member-delete %q", v)
	}
	failsWith(t, run(t, url, "teams", "member-delete", "t1", "--user-id", "u1"), ctl.ExitError, "HTTP 400", "User not found in team")
	if ul := ok(t, url, "users", "list"); !strings.Contains(ul, "u1@example.com") {
		t.Fatalf("users list:\n%s", ul)
	}

	// Keys: generate, info by plaintext and by token, list, update, block,
	// regenerate, delete.
	gen := okJSON(t, url, "keys", "generate", "--team-id", "t1", "--alias", "k1", "--models", "gpt-test", "--metadata", `{"env":"test"}`)
	plain, token := gen["key"].(string), gen["token"].(string)
	if !strings.HasPrefix(plain, "sk-") || token == "" {
		t.Fatalf("generate: %v", gen)
	}
	if v := field(t, ok(t, url, "keys", "info", plain), "key_alias"); v != "k1" {
		t.Fatalf("info by plaintext: alias %q", v)
	}
	if v := field(t, ok(t, url, "keys", "info", token, "--json"), `"key_alias":`); !strings.Contains(v, "k1") {
		t.Fatalf("info by token --json after the argument: %q", v)
	}
	if kl := ok(t, url, "keys", "list", "--team-id", "t1"); !strings.Contains(kl, token) || !strings.Contains(kl, "k1") || !strings.Contains(kl, "gpt-test") || !strings.Contains(kl, "SPEND") {
		t.Fatalf("keys list:\n%s", kl)
	}
	if kl := ok(t, url, "keys", "list", "--team-id", "nobody"); strings.Contains(kl, token) {
		t.Fatalf("keys list of another team shows the key:\n%s", kl)
	}
	ok(t, url, "keys", "update", token, "--alias", "k2", "--rpm", "7")
	ki := ok(t, url, "keys", "info", token)
	if field(t, ki, "key_alias") != "k2" || field(t, ki, "rpm_limit") != "7" || field(t, ki, "team_id") != "t1" {
		t.Fatalf("after update:\n%s", ki)
	}
	ok(t, url, "keys", "block", token)
	if v := field(t, ok(t, url, "keys", "info", token), "blocked"); v != "true" {
		t.Fatalf("blocked %q", v)
	}
	ok(t, url, "keys", "unblock", token)
	regen := okJSON(t, url, "keys", "regenerate", plain)
	newPlain, _ := regen["key"].(string)
	if !strings.HasPrefix(newPlain, "sk-") || newPlain == plain {
		t.Fatalf("regenerate: %v", regen)
	}
	failsWith(t, run(t, url, "keys", "info", plain), ctl.ExitError, "HTTP 404")
	ok(t, url, "keys", "delete", newPlain)
	failsWith(t, run(t, url, "keys", "info", newPlain), ctl.ExitError, "HTTP 404")

	// JWT settings from a YAML file, then read back.
	dir := t.TempDir()
	settings := filepath.Join(dir, "jwt.yaml")
	if err := os.WriteFile(settings, []byte("enable_jwt_auth: true\npublic_key_urls: [https://idp.example.com/jwks]\naudience: gatehouse\nlitellm_jwtauth:\n  user_id_jwt_field: sub\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok(t, url, "jwt", "set", "-f", settings)
	jg := okJSON(t, url, "jwt", "get")
	if jg["enable_jwt_auth"] != true || !strings.Contains(fmt.Sprint(jg), "idp.example.com") {
		t.Fatalf("jwt get: %v", jg)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"enable_jwt_auth": true, "no_such_field": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	failsWith(t, run(t, url, "jwt", "set", "-f", bad), ctl.ExitError, "HTTP 400", "no_such_field")

	// State and edges.
	st := ok(t, url, "state")
	if field(t, st, "teams") != "1" || field(t, st, "users") != "1" || field(t, st, "models") != "2" { // gpt-test and br
		t.Fatalf("state:\n%s", st)
	}
	if e := ok(t, url, "edges"); !strings.HasPrefix(e, "EDGE_ID") {
		t.Fatalf("edges:\n%s", e)
	}

	// Deletes.
	ok(t, url, "users", "delete", "u1")
	failsWith(t, run(t, url, "users", "info", "u1"), ctl.ExitError, "HTTP 404")
	ok(t, url, "teams", "delete", "t1")
	failsWith(t, run(t, url, "teams", "info", "t1"), ctl.ExitError, "HTTP 404", "Team not found")
	ok(t, url, "models", "delete", "dep-1")
	if list := ok(t, url, "models", "list"); strings.Contains(list, "dep-1") {
		t.Fatalf("deleted model listed:\n%s", list)
	}
}

// Errors come from the API's envelope, clearly, with exit 1; command-line
// mistakes exit 2.
func TestErrors(t *testing.T) {
	url := startControl(t, "")
	// Validation error: the message and the param.
	r := run(t, url, "teams", "new", "--team-id", "t1", "--budget-duration", "soon")
	failsWith(t, r, ctl.ExitError, "HTTP 400", "budget_duration")
	// No key: 401 and a hint.
	r = runEnv(t, map[string]string{"GATEWAY_URL": url}, "teams", "list")
	failsWith(t, r, ctl.ExitError, "HTTP 401", "GATEWAY_KEY")
	// Wrong key given by flag.
	r = runEnv(t, map[string]string{"GATEWAY_URL": url}, "--key", "sk-wrong", "teams", "list")
	failsWith(t, r, ctl.ExitError, "HTTP 401")
	// Spend without ClickHouse: 503 with the reason.
	failsWith(t, run(t, url, "spend", "logs"), ctl.ExitError, "HTTP 503", "ClickHouse")
	// Nothing listening.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	failsWith(t, run(t, dead, "teams", "list"), ctl.ExitError, "teams list")
	// Usage.
	failsWith(t, run(t, url, "keys", "info"), ctl.ExitUsage, "want KEY")
	failsWith(t, run(t, url, "keys", "frobnicate"), ctl.ExitUsage, "unknown command")
	failsWith(t, run(t, url, "teams", "new", "--rpm", "many"), ctl.ExitUsage, "--rpm")
	failsWith(t, run(t, url, "nonsense"), ctl.ExitUsage, "unknown command")
	if r := run(t, url, "keys", "generate", "-h"); r.code != 0 || !strings.Contains(r.out, "-max-budget") {
		t.Fatalf("command help: %d %s", r.code, r.out)
	}
	// The key is never echoed by -h.
	if r := runEnv(t, map[string]string{"GATEWAY_KEY": master}, "-h"); r.code != 0 || strings.Contains(r.out+r.errout, master) {
		t.Fatalf("help: exit %d, or it shows the key", r.code)
	}
}

// insertSpend writes rows straight into gh.spend_events, as the sink
// would: each row holds a value for each of columns, in their order.
func insertSpend(t *testing.T, srv *chtest.Server, columns string, rows [][]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := srv.Conn(t).PrepareBatch(ctx, "INSERT INTO gh.spend_events ("+columns+") VALUES")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := b.Append(r...); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
}

// Spend reads go through the control plane to a real ClickHouse.
func TestSpend(t *testing.T) {
	srv := chtest.Start(t)
	url := startControl(t, srv.Addr()) // migrates gh
	day := time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC)
	var rows [][]any
	for i, team := range []string{"t1", "t1", "t2"} {
		rows = append(rows, []any{fmt.Sprintf("req-%d", i), fmt.Sprintf("client-%d", i), day.Add(time.Duration(i) * time.Hour), day, team, "kh", "alias", "u1",
			"gpt", "gpt-4o", "openai", float64(i + 1), uint64(10), uint16(200), "ok"})
	}
	insertSpend(t, srv, "request_id, client_request_id, event_time, date, team_id, key_hash, key_alias, user_id, model_group, model, provider, cost, total_tokens, status, outcome", rows)
	logs := ok(t, url, "spend", "logs", "--start", "2025-03-31", "--end", "2025-03-31", "--team-id", "t1")
	if !strings.HasPrefix(logs, "TIME") || !strings.Contains(logs, "req-1") || !strings.Contains(logs, "client-1") || strings.Contains(logs, "req-2") {
		t.Fatalf("spend logs:\n%s", logs)
	}
	rep := ok(t, url, "spend", "report", "--start", "2025-03-31", "--end", "2025-03-31", "--group-by", "team")
	lines := strings.Split(strings.TrimSpace(rep), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "DATE") || !strings.Contains(lines[0], "TEAM") {
		t.Fatalf("spend report:\n%s", rep)
	}
	// Highest spend first: t1 (1+2) then t2 (3): equal, so check both.
	for _, want := range []string{"t1", "t2"} {
		if !strings.Contains(rep, want) {
			t.Fatalf("report lacks %s:\n%s", want, rep)
		}
	}
	// DATE TEAM (NAME is empty for teams) SPEND REQUESTS ...
	if f := strings.Fields(lines[1]); len(f) < 4 || f[2] != "3" {
		t.Fatalf("report spend column: %q", lines[1])
	}
	failsWith(t, run(t, url, "spend", "report", "--group-by", "planet"), ctl.ExitError, "HTTP 400", "group_by")
}

// A message the upsert processor cannot decode lands in the poison queue,
// is counted, is listed by "poison list", and "poison replay" sends it
// back to the processor (which, the message being still malformed,
// poisons it again under a new id).
func TestPoisonListAndReplay(t *testing.T) {
	url, natsURL := startControlNATS(t, "")
	_, js := testutil.Connect(t, natsURL)
	ctx := context.Background()
	msg := &nats.Msg{Subject: events.UpsertSubject, Data: []byte("not json"), Header: nats.Header{}}
	msg.Header.Set(events.HeaderRequestID, "req-poison-1")
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	list := func() []any {
		got := okJSON(t, url, "poison", "list")
		l, _ := got["messages"].([]any)
		return l
	}
	var first map[string]any
	testutil.Eventually(t, 10*time.Second, func() error {
		l := list()
		if len(l) != 1 {
			return fmt.Errorf("poison list: %v", l)
		}
		first = l[0].(map[string]any)
		return nil
	})
	if first["consumer"] != events.UpsertDurable || first["stream"] != events.UpsertStream || first["request_id"] != "req-poison-1" ||
		first["data"] != "not json" || !strings.Contains(fmt.Sprint(first["reason"]), "bad request") {
		t.Fatalf("poisoned message: %v", first)
	}
	if table := ok(t, url, "poison", "list"); !strings.HasPrefix(table, "ID") || !strings.Contains(table, events.UpsertDurable) {
		t.Fatalf("poison list table:\n%s", table)
	}
	id := fmt.Sprint(first["id"])
	ok(t, url, "poison", "replay", id)
	testutil.Eventually(t, 10*time.Second, func() error {
		l := list()
		if len(l) != 1 || fmt.Sprint(l[0].(map[string]any)["id"]) == id {
			return fmt.Errorf("after replay: %v", l)
		}
		return nil
	})
	failsWith(t, run(t, url, "poison", "replay", id), ctl.ExitError, "HTTP 404")
	failsWith(t, run(t, url, "poison", "replay", "nope"), ctl.ExitUsage, "ID must be")
	// The counters move just after the poison entry is written and the
	// message acked, so they are read until they show both rounds.
	wants := []string{
		`gatehouse_processor_poisoned_total{consumer="` + events.UpsertDurable + `"} 2`,
		`gatehouse_processor_handler_execution_time_seconds_count{handler_name="upsert",success="true"} 2`,
		`gatehouse_processor_subscriber_messages_received_total{acked="acked",handler_name="upsert"`,
	}
	testutil.Eventually(t, 10*time.Second, func() error {
		resp, err := http.Get(url + "/metrics")
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range wants {
			if !strings.Contains(string(body), want) {
				return fmt.Errorf("metrics lack %s; metrics:\n%s", want, body)
			}
		}
		return nil
	})
}
