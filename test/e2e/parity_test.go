package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testutil"
)

// expectError checks a status and that the OpenAI envelope's message (and
// param, when given) say what the client needs.
func expectErrorParts(t *testing.T, what string, code int, raw []byte, status int, param string, msgParts ...string) {
	t.Helper()
	var e envelope
	if code != status || json.Unmarshal(raw, &e) != nil || e.Error.Message == "" {
		t.Fatalf("%s: %d %s, want %d in an envelope", what, code, raw, status)
	}
	if param != "" && (e.Error.Param == nil || *e.Error.Param != param) {
		t.Errorf("%s: param %v, want %q: %s", what, e.Error.Param, param, raw)
	}
	for _, p := range msgParts {
		if !strings.Contains(e.Error.Message, p) {
			t.Errorf("%s: message %q lacks %q", what, e.Error.Message, p)
		}
	}
}

// TestLiteLLMParityThroughEdges: what a LiteLLM user tries on day one, over
// HTTP, through two edges (writes through one, checks at the other).
func TestLiteLLMParityThroughEdges(t *testing.T) {
	sys := startSystem(t, seedConfig("127.0.0.1:1"), 2)
	a, b := sys.edges[0], sys.edges[1]

	t.Run("every management route is served on the edge port", func(t *testing.T) {
		for _, e := range sys.edges {
			if code, raw := callRaw(t, "GET", e.url("/jwt/settings"), masterKey, nil); code != 200 {
				t.Errorf("%s /jwt/settings: %d %s", e.name, code, raw)
			}
			// No ClickHouse here: 503 from the control plane, not the
			// edge's 404.
			for _, p := range []string{"/spend/logs", "/global/spend/report"} {
				if code, raw := callRaw(t, "GET", e.url(p), masterKey, nil); code != 503 || !strings.Contains(string(raw), "ClickHouse") {
					t.Errorf("%s %s: %d %s, want the control plane's 503", e.name, p, code, raw)
				}
			}
			if code, auth := challenge(t, e.url("/key/list")); code != 401 || !strings.HasPrefix(auth, "Bearer") {
				t.Errorf("%s relayed 401: %d, WWW-Authenticate %q", e.name, code, auth)
			}
		}
	})

	t.Run("key allowed_routes", func(t *testing.T) {
		info := generateKey(t, a, map[string]any{"allowed_routes": []string{"info_routes"}})
		expectChat(t, b, info, "gpt-4", 403, "permission_denied")
		if code, raw := callRaw(t, "GET", b.url("/key/info?key="+info), info, nil); code != 200 {
			t.Fatalf("info_routes key on /key/info: %d %s", code, raw)
		}
		llm := generateKey(t, b, map[string]any{"allowed_routes": []string{"openai_routes"}})
		expectChat(t, a, llm, "gpt-4", 200, "")
		code, raw := callRaw(t, "GET", a.url("/key/info?key="+llm), llm, nil)
		expectErrorParts(t, "openai_routes key on /key/info", code, raw, 403, "", "Only allowed to call routes", "/key/info")
		// Widened by /key/update, applied at the other edge.
		if code, raw := callRaw(t, "POST", a.url("/key/update"), masterKey, map[string]any{"key": info, "allowed_routes": []string{"llm_api_routes", "/key/info"}}); code != 200 {
			t.Fatalf("/key/update allowed_routes: %d %s", code, raw)
		}
		expectChat(t, b, info, "gpt-4", 200, "")
		for _, bad := range []string{"no_such_group", "/v1/*/x"} {
			code, raw := callRaw(t, "POST", b.url("/key/generate"), masterKey, map[string]any{"allowed_routes": []string{"info_routes", bad}})
			expectErrorParts(t, "allowed_routes "+bad, code, raw, 400, "allowed_routes", "entry 1", bad)
		}
	})

	t.Run("JWT settings naming an unknown route group", func(t *testing.T) {
		code, raw := callRaw(t, "POST", a.url("/jwt/settings"), masterKey, map[string]any{
			"enable_jwt_auth": false, "litellm_jwtauth": map[string]any{"team_allowed_routes": []string{"openai_routes", "ui_route"}}})
		expectErrorParts(t, "/jwt/settings", code, raw, 400, "", "team_allowed_routes[1]", `"ui_route" is not a route group`)
	})

	t.Run("wrong JSON type names the API field", func(t *testing.T) {
		code, raw := callRaw(t, "POST", b.url("/key/generate"), masterKey, map[string]any{"max_budget": "10"})
		expectErrorParts(t, "max_budget as a string", code, raw, 400, "max_budget", `field "max_budget": expected a number, got JSON string`)
		if strings.Contains(string(raw), "keyFields") || strings.Contains(string(raw), "float64") {
			t.Errorf("Go names leak: %s", raw)
		}
	})

	t.Run("request-level fallbacks", func(t *testing.T) {
		key := generateKey(t, a, map[string]any{"models": []string{"gpt-4", "gpt-4o"}})
		body := chat("gpt-4")
		body["fallbacks"] = []any{"gpt-4o", "no-such-model"}
		code, raw := callRaw(t, "POST", b.url("/v1/chat/completions"), key, body)
		expectErrorParts(t, "fallback to a model that does not exist", code, raw, 400, "fallbacks", "Invalid model name passed in model=no-such-model")
		body["fallbacks"] = []any{map[string]any{"model": "gpt-3.5-turbo"}}
		code, raw = callRaw(t, "POST", b.url("/v1/chat/completions"), key, body)
		expectErrorParts(t, "fallback to a model the key may not call", code, raw, 403, "", "gpt-3.5-turbo")
		body["fallbacks"] = []any{"gpt-4o"}
		if code, raw := callRaw(t, "POST", a.url("/v1/chat/completions"), key, body); code != 200 {
			t.Fatalf("valid fallbacks: %d %s", code, raw)
		}
	})

	t.Run("429 says when capacity returns", func(t *testing.T) {
		key := generateKey(t, a, map[string]any{"rpm_limit": 2})
		expectChat(t, a, key, "gpt-4", 200, "")
		expectChat(t, a, key, "gpt-4", 200, "")
		// Edge b learns of a's admissions by gossip; the window is a
		// minute, so Retry-After is most of it, not 1.
		testutil.Eventually(t, 5*time.Second, func() error {
			req, _ := http.NewRequest("POST", b.url("/v1/chat/completions"), strings.NewReader(`{"model":"gpt-4","messages":[{"role":"user","content":"hi"}]}`))
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 429 {
				return fmt.Errorf("edge b: %d", resp.StatusCode)
			}
			if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra < 50 || ra > 60 {
				t.Fatalf("Retry-After %q after two requests in the last seconds, want 50-60", resp.Header.Get("Retry-After"))
			}
			return nil
		})
	})

	t.Run("deployment with an unset os.environ variable", func(t *testing.T) {
		var out struct {
			Warnings []string `json:"warnings"`
		}
		code := call(t, "POST", a.url("/model/new"), masterKey, map[string]any{"model_name": "needs-env",
			"litellm_params": map[string]any{"model": "openai/gpt-4o", "api_base": "http://127.0.0.1:1/v1", "api_key": "os.environ/GATEHOUSE_E2E_UNSET_KEY"}}, &out)
		if code != 200 || len(out.Warnings) != 1 || !strings.Contains(out.Warnings[0], "os.environ/GATEHOUSE_E2E_UNSET_KEY") {
			t.Fatalf("/model/new: %d, warnings %v", code, out.Warnings)
		}
		code, raw := callRaw(t, "POST", b.url("/v1/chat/completions"), masterKey, chat("needs-env"))
		expectErrorParts(t, "request to it", code, raw, 500, "", "litellm_params.api_key references os.environ/GATEHOUSE_E2E_UNSET_KEY, which is not set")
		testutil.Eventually(t, 5*time.Second, func() error {
			for _, e := range sys.edges {
				logged := strings.Contains(e.log.String(), "os.environ/GATEHOUSE_E2E_UNSET_KEY, which is not set")
				if !logged {
					return fmt.Errorf("%s did not warn", e.name)
				}
			}
			return nil
		})
	})

	t.Run("spend fields", func(t *testing.T) {
		key := generateKey(t, a, map[string]any{"key_alias": "fresh"})
		code, raw := callRaw(t, "GET", b.url("/key/info?key="+key), masterKey, nil)
		if code != 200 || strings.Contains(string(raw), "0001-01-01") || !strings.Contains(string(raw), `"spend":0`) {
			t.Fatalf("/key/info of a fresh key: %d %s", code, raw)
		}
		var list struct {
			Keys []map[string]any `json:"keys"`
		}
		if code := call(t, "GET", a.url("/key/list?return_full_object=true"), masterKey, nil, &list); code != 200 || len(list.Keys) == 0 {
			t.Fatalf("/key/list?return_full_object=true: %d %v", code, list)
		}
		found := false
		for _, k := range list.Keys {
			found = found || k["key_alias"] == "fresh"
		}
		if !found {
			t.Fatalf("full key objects lack the alias: %v", list.Keys)
		}
		var paged struct {
			Keys        []string `json:"keys"`
			TotalCount  int      `json:"total_count"`
			CurrentPage int      `json:"current_page"`
			TotalPages  int      `json:"total_pages"`
		}
		if code := call(t, "GET", b.url("/key/list?page=2&size=2"), masterKey, nil, &paged); code != 200 || len(paged.Keys) != 2 || paged.CurrentPage != 2 || paged.TotalPages != (paged.TotalCount+1)/2 {
			t.Fatalf("/key/list?page=2&size=2: %d %+v", code, paged)
		}
		code, raw = callRaw(t, "GET", b.url("/key/list?size=0"), masterKey, nil)
		expectErrorParts(t, "size=0", code, raw, 400, "size", "must be >= 1")
	})
}
