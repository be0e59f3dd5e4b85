package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/chtest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// openAIRecorder is an OpenAI-compatible upstream that records every
// request body by path and answers a fixed completion with usage.
type openAIRecorder struct {
	addr   string
	mu     sync.Mutex
	bodies map[string][]map[string]any
}

func startOpenAIRecorder(t *testing.T) *openAIRecorder {
	r := &openAIRecorder{bodies: map[string][]map[string]any{}}
	r.addr = serveMock(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		r.mu.Lock()
		r.bodies[req.URL.Path] = append(r.bodies[req.URL.Path], body)
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		model, _ := body["model"].(string)
		fmt.Fprint(w, completionBody("chatcmpl-1", model, "from upstream", 3, 2))
	}))
	return r
}

// last returns the last body sent to path, and how many were.
func (r *openAIRecorder) last(path string) (map[string]any, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	bs := r.bodies[path]
	if len(bs) == 0 {
		return nil, 0
	}
	return bs[len(bs)-1], len(bs)
}

// litellmConfig is a LiteLLM-shaped config using every setting gatehouse
// implements for LiteLLM users, plus settings it ignores with a warning.
func litellmConfig(upstream string) string {
	return fmt.Sprintf(`
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: http://%[1]s/defaults/v1
      api_key: upstream-key
      temperature: 0.2
      max_tokens: 64
      top_k: 40
      response_format: {"type": "json_object"}
      extra_body: {"guided_choice": ["a", "b"]}
    rpm: 100
  - model_name: fake
    litellm_params:
      model: openai/gpt-4o
      api_base: http://%[1]s/never/v1
      api_key: upstream-key
      mock_response: "hello from the config"
  - model_name: tiered
    litellm_params:
      model: openai/free-model
      api_base: http://%[1]s/free/v1
      tags: ["free"]
  - model_name: tiered
    litellm_params:
      model: openai/paid-model
      api_base: http://%[1]s/paid/v1
      tags: ["paid"]
router_settings:
  model_group_alias: {"gpt-4": "gpt-4o"}
  enable_tag_filtering: true
  redis_host: localhost
litellm_settings:
  drop_params: true
  num_retries: 1
  callbacks: ["prometheus"]
  max_internal_user_budget: 3
  default_key_generate_params:
    max_budget: 5
  upperbound_key_generate_params:
    max_budget: 10
    duration: 30d
general_settings:
  master_key: os.environ/MASTER_KEY
  database_url: postgresql://user:pass@db:5432/litellm
`, upstream)
}

// TestLiteLLMSettingsEndToEnd: each LiteLLM setting gatehouse implements,
// shown on requests through an edge (the answer, what the upstream got)
// and in the spend rows.
func TestLiteLLMSettingsEndToEnd(t *testing.T) {
	up := startOpenAIRecorder(t)
	ch := chtest.Start(t)
	ns := testutil.RunJetStream(t)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, cfg, litellmConfig(up.addr))
	env := []string{"MASTER_KEY=" + masterKey}
	ctl := start(t, "control", env, "control", "-nats", ns.ClientURL(), "-listen", testutil.FreeAddr(t), "-config", cfg,
		"-clickhouse", ch.Addr(), "-clickhouse-db", "litellm_e2e")
	edge := start(t, "edge-a", env, "edge", "-nats", ns.ClientURL(), "-listen", testutil.FreeAddr(t), "-control", "http://"+ctl.addr,
		"-id", "edge-a", "-spill-dir", t.TempDir())
	waitEdges(t, ctl, 1)
	start(t, "sink", env, "sink", "-nats", ns.ClientURL(), "-clickhouse", ch.Addr(), "-database", "litellm_e2e")

	// The ignored settings were named at start, with their lines.
	testutil.Eventually(t, 5*time.Second, func() error {
		logs := ctl.log.String()
		for _, w := range []string{"general_settings.database_url: ignored", "router_settings.redis_host: ignored", "litellm_settings.drop_params: ignored"} {
			if !strings.Contains(logs, w) {
				return fmt.Errorf("control log lacks %q", w)
			}
		}
		return nil
	})

	send := func(body map[string]any) (int, map[string]any) {
		t.Helper()
		code, raw := callRaw(t, "POST", edge.url("/v1/chat/completions"), masterKey, body)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		if code != 200 {
			t.Logf("%d %s", code, raw)
		}
		return code, out
	}
	content := func(out map[string]any) string {
		c, _ := out["choices"].([]any)
		if len(c) == 0 {
			return ""
		}
		m, _ := c[0].(map[string]any)["message"].(map[string]any)
		s, _ := m["content"].(string)
		return s
	}

	// Default request parameters: added when the client leaves them out,
	// the client's own value wins.
	if code, _ := send(chat("gpt-4o")); code != 200 {
		t.Fatal("gpt-4o refused")
	}
	got, _ := up.last("/defaults/v1/chat/completions")
	if got["temperature"] != 0.2 || got["max_tokens"] != float64(64) {
		t.Fatalf("upstream got temperature %v max_tokens %v, want the deployment's defaults 0.2 and 64", got["temperature"], got["max_tokens"])
	}
	// top_k, extra_body and OpenAI parameters given in litellm_params
	// (response_format) are defaults too.
	if rf, _ := got["response_format"].(map[string]any); got["top_k"] != float64(40) || rf["type"] != "json_object" || got["guided_choice"] == nil {
		t.Fatalf("upstream got top_k %v response_format %v guided_choice %v, want the deployment's defaults", got["top_k"], got["response_format"], got["guided_choice"])
	}
	body := chat("gpt-4o")
	body["temperature"] = 0.9
	send(body)
	if got, _ = up.last("/defaults/v1/chat/completions"); got["temperature"] != 0.9 || got["max_tokens"] != float64(64) {
		t.Fatalf("upstream got temperature %v max_tokens %v, want the client's 0.9 and the default 64", got["temperature"], got["max_tokens"])
	}

	// mock_response: the deployment answers with it; its provider is never
	// called.
	code, out := send(chat("fake"))
	if code != 200 || content(out) != "hello from the config" {
		t.Fatalf("fake: %d %q, want the mock_response", code, content(out))
	}
	if _, n := up.last("/never/v1/chat/completions"); n != 0 {
		t.Fatalf("a mock_response deployment called its provider %d times", n)
	}

	// model_group_alias: gpt-4 is served by the gpt-4o group, and listed.
	_, before := up.last("/defaults/v1/chat/completions")
	if code, out = send(chat("gpt-4")); code != 200 || content(out) != "from upstream" {
		t.Fatalf("alias gpt-4: %d %q", code, content(out))
	}
	if got, n := up.last("/defaults/v1/chat/completions"); n != before+1 || got["model"] != "gpt-4o" {
		t.Fatalf("alias: upstream got model %v (%d calls, want %d)", got["model"], n, before+1)
	}
	if ids := modelIDs(t, edge, masterKey); !slices.Contains(ids, "gpt-4") {
		t.Errorf("/v1/models does not list the alias gpt-4: %v", ids)
	}

	// Tag routing: tags pick the deployment and are not sent upstream;
	// unknown tags are refused.
	for i := 0; i < 5; i++ {
		b := chat("tiered")
		b["tags"] = []string{"paid"}
		if code, _ := send(b); code != 200 {
			t.Fatal("tagged request refused")
		}
	}
	if _, n := up.last("/free/v1/chat/completions"); n != 0 {
		t.Fatalf("a request tagged paid went to the free deployment %d times", n)
	}
	if got, n := up.last("/paid/v1/chat/completions"); n != 5 || got["tags"] != nil || got["model"] != "paid-model" {
		t.Fatalf("paid deployment: %d calls, last body %v", n, got)
	}
	b := chat("tiered")
	b["metadata"] = map[string]any{"tags": []string{"free"}}
	send(b)
	if _, n := up.last("/free/v1/chat/completions"); n != 1 {
		t.Fatalf("metadata.tags free: free deployment called %d times, want 1", n)
	}
	b = chat("tiered")
	b["tags"] = []string{"enterprise"}
	if code, _ := send(b); code != 400 {
		t.Fatalf("unknown tag: status %d, want 400", code)
	}

	// Key and user defaults and bounds from litellm_settings.
	var key struct {
		MaxBudget *float64 `json:"max_budget"`
		Expires   *string  `json:"expires"`
	}
	if code := call(t, "POST", ctl.url("/key/generate"), masterKey, map[string]any{}, &key); code != 200 || key.MaxBudget == nil || *key.MaxBudget != 5 || key.Expires == nil {
		t.Fatalf("/key/generate {}: %d, max_budget %v expires %v; want the default 5 and the 30d bound", code, key.MaxBudget, key.Expires)
	}
	var e envelope
	if code := call(t, "POST", ctl.url("/key/generate"), masterKey, map[string]any{"max_budget": 50}, &e); code != 400 || e.Error.Param == nil || *e.Error.Param != "max_budget" {
		t.Fatalf("/key/generate over the bound: %d %+v", code, e)
	}
	var user struct {
		MaxBudget *float64 `json:"max_budget"`
	}
	// As LiteLLM's: only a user created with user_role internal_user
	// gets max_internal_user_budget.
	if code := call(t, "POST", ctl.url("/user/new"), masterKey, map[string]any{"user_id": "u1", "user_role": "internal_user", "auto_create_key": false}, &user); code != 200 || user.MaxBudget == nil || *user.MaxBudget != 3 {
		t.Fatalf("/user/new: %d, max_budget %v; want max_internal_user_budget 3", code, user.MaxBudget)
	}
	user.MaxBudget = nil
	if code := call(t, "POST", ctl.url("/user/new"), masterKey, map[string]any{"user_id": "u2", "auto_create_key": false}, &user); code != 200 || user.MaxBudget != nil {
		t.Fatalf("/user/new without user_role: %d, max_budget %v; want none", code, user.MaxBudget)
	}

	// Spend rows: the mocked answer is free, the alias is recorded under
	// the group that served it.
	conn := ch.Conn(t)
	type row struct {
		group, model string
		n            uint64
		cost         float64
	}
	testutil.Eventually(t, 60*time.Second, func() error {
		rows, err := conn.Query(context.Background(), "SELECT model_group, model, count(), sum(cost) FROM litellm_e2e.spend_events WHERE status = 200 GROUP BY model_group, model ORDER BY model_group, model")
		if err != nil {
			return err
		}
		defer rows.Close()
		var got []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.group, &r.model, &r.n, &r.cost); err != nil {
				return err
			}
			got = append(got, r)
		}
		want := map[string]uint64{"fake/gpt-4o": 1, "gpt-4o/gpt-4o": 3, "tiered/paid-model": 5, "tiered/free-model": 1}
		for _, r := range got {
			k := r.group + "/" + r.model
			if want[k] != r.n {
				return fmt.Errorf("spend rows %+v", got)
			}
			if k == "fake/gpt-4o" && r.cost != 0 {
				t.Errorf("a mock_response answer cost %v", r.cost)
			}
			delete(want, k)
		}
		if len(want) > 0 {
			return fmt.Errorf("missing spend rows %v in %+v", want, got)
		}
		return nil
	})
}

// TestCheckCommand: `gatehouse check` prints every warning and error with
// its line and exits 0 for a config that starts, 1 for one that does not
// (and with -strict for warnings).
func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	writeFile(t, good, "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: mock/gpt-4o\nlitellm_settings:\n  drop_params: true\n")
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "model_list:\n  - model_name: b\n    litellm_params:\n      model: huggingface/bigcode/starcoder\n      api_key: hf-x\ngeneral_settings:\n  custom_auth: my_auth.check\n")
	tabs := filepath.Join(dir, "tabs.yaml")
	writeFile(t, tabs, "model_list:\n  - model_name: a\n    litellm_params:\n\tmodel: mock/x\n")
	unset := filepath.Join(dir, "unset.yaml")
	writeFile(t, unset, "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      api_key: os.environ/GH_E2E_NOT_SET\n")
	run := func(args ...string) (int, string) {
		cmd := exec.Command(binary, append([]string{"check"}, args...)...)
		cmd.Env = append(os.Environ(), "MASTER_KEY=")
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, string(out)
	}
	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"-config", good}, 0, []string{good + ":6: warning: litellm_settings.drop_params: ignored", "ok, 1 warning(s)"}},
		{[]string{"-strict", "-config", good}, 1, []string{good + ":6: error: litellm_settings.drop_params: ignored",
			good + ": 1 error(s), 0 warning(s): gatehouse would not start"}},
		// A YAML syntax error is FILE:LINE too, at the line to fix.
		{[]string{"-config", tabs}, 1, []string{tabs + ":4: error: YAML syntax error: a tab character indents this line"}},
		// Unset os.environ/ references are warned about as run does.
		{[]string{"-config", unset}, 0, []string{unset + ":5: warning: model_list[0].litellm_params.api_key: references os.environ/GH_E2E_NOT_SET, which is not set"}},
		{[]string{"-config", bad}, 1, []string{
			bad + `:2: error: model_list[0]: deployment "b" (litellm_params.model: huggingface/bigcode/starcoder) is not supported`,
			bad + ":7: error: general_settings.custom_auth: LiteLLM setting custom_auth is not supported by gatehouse",
			"gatehouse would not start"}},
	} {
		code, out := run(tc.args...)
		if code != tc.code {
			t.Errorf("check %v: exit %d, want %d:\n%s", tc.args, code, tc.code, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("check %v: output lacks %q:\n%s", tc.args, w, out)
			}
		}
		if strings.Contains(out, "aws_region_name") {
			t.Errorf("check %v: reports the fields of an unsupported deployment:\n%s", tc.args, out)
		}
	}
}
