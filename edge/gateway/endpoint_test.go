package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/edge/proxy"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// llmRoute is one LLM API route and a valid body for it (model %q).
type llmRoute struct {
	name, path, body, field string
}

// llmRoutes are the routes that share the chat path.
var llmRoutes = []llmRoute{
	{"chat", "/v1/chat/completions", `{"model":%q,"messages":[{"role":"user","content":"hi"}]}`, "messages"},
	{"chat unprefixed", "/chat/completions", `{"model":%q,"messages":[{"role":"user","content":"hi"}]}`, "messages"},
	{"embeddings", "/v1/embeddings", `{"model":%q,"input":"hi there","dimensions":8}`, "input"},
	{"embeddings unprefixed", "/embeddings", `{"model":%q,"input":["a","b"],"dimensions":8}`, "input"},
	{"completions", "/v1/completions", `{"model":%q,"prompt":"hi"}`, "prompt"},
	{"completions unprefixed", "/completions", `{"model":%q,"prompt":["hi"]}`, "prompt"},
	{"responses", "/v1/responses", `{"model":%q,"input":"hi"}`, "input"},
	{"responses unprefixed", "/responses", `{"model":%q,"input":[{"role":"user","content":"hi"}],"stream":true}`, "input"},
	{"messages", "/v1/messages", `{"model":%q,"max_tokens":20,"messages":[{"role":"user","content":"hi"}]}`, "messages"},
	{"messages streamed", "/v1/messages", `{"model":%q,"max_tokens":20,"stream":true,"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`, "messages"},
}

func (r llmRoute) bodyFor(model string) string { return fmt.Sprintf(r.body, model) }

func waitKeys(t *testing.T, e *edgeUnderTest, n int) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, func() error {
		if got := e.live.Load().NumKeys(); got != n {
			return fmt.Errorf("%d keys applied", got)
		}
		return nil
	})
}

func errorOf(t *testing.T, body string) (typ, param, msg string) {
	t.Helper()
	var e struct {
		Type  string `json:"type"`
		Error struct {
			Type        string  `json:"type"`
			GatewayType string  `json:"gatehouse_type"`
			Param       *string `json:"param"`
			Message     string  `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Message == "" {
		t.Fatalf("not an OpenAI error envelope: %s", body)
	}
	if e.Type == "error" {
		// Anthropic's envelope (the Messages API routes): the gateway's
		// own type is kept next to Anthropic's.
		if e.Error.GatewayType == "" {
			t.Fatalf("Anthropic error envelope without the gateway's type: %s", body)
		}
		e.Error.Type = e.Error.GatewayType
	}
	if e.Error.Param != nil {
		param = *e.Error.Param
	}
	return e.Error.Type, param, e.Error.Message
}

// TestEveryRouteDecidesAsChat: model access, route restrictions and body
// checks answer the same on every LLM route as on chat completions.
func TestEveryRouteDecidesAsChat(t *testing.T) {
	e := startEdge(t, true)
	e.put(t, &events.Model{ID: "m1", ModelName: "m", LiteLLMParams: events.ModelParams{Model: "mock/m"}})
	e.put(t, &events.Model{ID: "m2", ModelName: "secret", LiteLLMParams: events.ModelParams{Model: "mock/secret"}})
	e.put(t, &events.Key{Token: events.HashKey("sk-key-m-only-0000000001"), Models: []string{"m"}})
	e.put(t, &events.Key{Token: events.HashKey("sk-key-chat-route-000001"), AllowedRoutes: []string{"/v1/chat/completions"}})
	e.put(t, &events.Key{Token: events.HashKey("sk-key-llm-routes-000001"), AllowedRoutes: []string{"llm_api_routes"}})
	waitKeys(t, e, 3)
	master := bearer("sk-master-test-key")
	for _, r := range llmRoutes {
		t.Run(r.name, func(t *testing.T) {
			url := e.url + r.path
			if code, body := do(t, "POST", url, master, r.bodyFor("m")); code != 200 {
				t.Fatalf("master key: %d %s", code, body)
			}
			if code, body := do(t, "POST", url, bearer("sk-key-m-only-0000000001"), r.bodyFor("m")); code != 200 {
				t.Fatalf("allowed model: %d %s", code, body)
			}
			code, body := do(t, "POST", url, bearer("sk-key-m-only-0000000001"), r.bodyFor("secret"))
			if typ, _, _ := errorOf(t, body); code != 403 || typ != "key_model_access_denied" {
				t.Errorf("model the key may not use: %d %s", code, body)
			}
			code, body = do(t, "POST", url, master, r.bodyFor("nope"))
			// LiteLLM's 400 (ProxyModelNotFoundError), not OpenAI's 404.
			if typ, param, msg := errorOf(t, body); code != 400 || typ != "invalid_request_error" || param != "model" ||
				!strings.Contains(msg, ": Invalid model name passed in model=nope. Call `/v1/models`") {
				t.Errorf("unknown model: %d %s", code, body)
			}
			code, body = do(t, "POST", url, master, `{"model":"m"}`)
			if _, param, _ := errorOf(t, body); code != 400 || param != r.field {
				t.Errorf("no %s: %d %s", r.field, code, body)
			}
			code, body = do(t, "POST", url, master, `{"model":"m","`+r.field+`":42}`)
			if _, param, _ := errorOf(t, body); code != 400 || param != r.field {
				t.Errorf("%s of the wrong type: %d %s", r.field, code, body)
			}
			code, body = do(t, "POST", url, master, `{"model":`)
			if typ, _, _ := errorOf(t, body); code != 400 || typ != "invalid_request_error" {
				t.Errorf("bad JSON: %d %s", code, body)
			}
			// allowed_routes: a key limited to chat is refused elsewhere;
			// llm_api_routes names every one of these routes.
			wantChat := 403
			if r.path == "/v1/chat/completions" {
				wantChat = 200
			}
			if code, body := do(t, "POST", url, bearer("sk-key-chat-route-000001"), r.bodyFor("m")); code != wantChat {
				t.Errorf("key limited to /v1/chat/completions: %d, want %d: %s", code, wantChat, body)
			}
			if code, body := do(t, "POST", url, bearer("sk-key-llm-routes-000001"), r.bodyFor("m")); code != 200 {
				t.Errorf("key limited to llm_api_routes: %d %s", code, body)
			}
		})
	}
}

// TestEndpointModes: model_info.mode and the provider decide which
// deployments serve which route, with a 400 naming the model otherwise;
// in a mixed group each route goes to the deployments that serve it.
func TestEndpointModes(t *testing.T) {
	e := startEdge(t, true)
	for _, m := range []*events.Model{
		{ID: "e1", ModelName: "emb", LiteLLMParams: events.ModelParams{Model: "mock/emb"}, ModelInfo: events.ModelInfo{Mode: "embedding"}},
		{ID: "e2", ModelName: "text-embedding-3-small", LiteLLMParams: events.ModelParams{Model: "mock/text-embedding-3-small"}},
		{ID: "c1", ModelName: "chatonly", LiteLLMParams: events.ModelParams{Model: "mock/chatonly"}, ModelInfo: events.ModelInfo{Mode: "chat"}},
		{ID: "a1", ModelName: "claude", LiteLLMParams: events.ModelParams{Model: "anthropic/claude-3-5-sonnet", APIKey: "sk-ant-x"}},
		{ID: "x1", ModelName: "mixed", LiteLLMParams: events.ModelParams{Model: "mock/mixed-emb"}, ModelInfo: events.ModelInfo{Mode: "embedding"}},
		{ID: "x2", ModelName: "mixed", LiteLLMParams: events.ModelParams{Model: "mock/mixed-chat"}, ModelInfo: events.ModelInfo{Mode: "chat"}},
	} {
		e.put(t, m)
	}
	master := bearer("sk-master-test-key")
	testutil.Eventually(t, 10*time.Second, func() error {
		if code, body := do(t, "POST", e.url+"/v1/embeddings", master, `{"model":"mixed","input":"x","dimensions":4}`); code != 200 {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	route := func(path string) llmRoute {
		for _, r := range llmRoutes {
			if r.path == path {
				return r
			}
		}
		panic(path)
	}
	chat, emb, compl := route("/v1/chat/completions"), route("/v1/embeddings"), route("/v1/completions")
	resp, msgs := route("/v1/responses"), route("/v1/messages")
	for _, tc := range []struct {
		r     llmRoute
		model string
		code  int
		says  string // in the error message
	}{
		{chat, "emb", 400, "model emb is an embedding model (model_info.mode: embedding) and does not serve chat (/v1/chat/completions); call /v1/embeddings"},
		{compl, "emb", 400, "does not serve completions"},
		{emb, "emb", 200, ""},
		// An OpenAI embedding model's name makes its mode embedding.
		{chat, "text-embedding-3-small", 400, "is an embedding model"},
		{emb, "text-embedding-3-small", 200, ""},
		{emb, "chatonly", 400, "model chatonly is a chat model (model_info.mode: chat) and does not serve embeddings (/v1/embeddings); call /v1/chat/completions"},
		{compl, "chatonly", 200, ""},
		{chat, "chatonly", 200, ""},
		{emb, "claude", 400, "its deployment's provider anthropic does not serve embeddings"},
		{compl, "claude", 400, "provider anthropic does not serve completions"},
		{chat, "mixed", 200, "chat.completion"},
		{emb, "mixed", 200, `"object":"embedding"`},
		{resp, "claude", 400, "provider anthropic does not serve responses (/v1/responses); responses is served for OpenAI-compatible and azure/ deployments"},
		{resp, "emb", 400, "does not serve responses"},
		{msgs, "emb", 400, "does not serve messages"},
		{resp, "chatonly", 200, `"object":"response"`},
		{msgs, "chatonly", 200, `"type":"message"`},
		{msgs, "mixed", 200, "mixed-chat"},
	} {
		code, body := do(t, "POST", e.url+tc.r.path, master, tc.r.bodyFor(tc.model))
		if code != tc.code {
			t.Errorf("%s %s: %d, want %d: %s", tc.r.path, tc.model, code, tc.code, body)
			continue
		}
		if code != 200 {
			if _, param, msg := errorOf(t, body); param != "model" || !strings.Contains(msg, tc.says) {
				t.Errorf("%s %s: param %q, message %q, want it to say %q", tc.r.path, tc.model, param, msg, tc.says)
			}
		} else if !strings.Contains(body, tc.says) {
			t.Errorf("%s %s: %s, want %q", tc.r.path, tc.model, body, tc.says)
		}
	}
	// Fallbacks: a group that does not serve the route is passed over.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	e.put(t, &events.Model{ID: "d1", ModelName: "emb-down", LiteLLMParams: events.ModelParams{Model: "openai/text-embedding-3-small", APIBase: down.URL, APIKey: "k"}})
	testutil.Eventually(t, 10*time.Second, func() error {
		if !e.live.Load().Catalog().Resolve("emb-down").Found() {
			return fmt.Errorf("not applied")
		}
		return nil
	})
	code, body := do(t, "POST", e.url+"/v1/embeddings", master, `{"model":"emb-down","input":"x","dimensions":4,"fallbacks":["chatonly","emb"]}`)
	if code != 200 || !strings.Contains(body, `"model":"emb"`) {
		t.Errorf("fallback past a chat group to an embedding one: %d %s", code, body)
	}
	// A mixed group's chat never lands on its embedding deployment.
	for range 10 {
		if code, body := do(t, "POST", e.url+"/v1/chat/completions", master, chat.bodyFor("mixed")); code != 200 || !strings.Contains(body, "mixed-chat") {
			t.Fatalf("mixed chat: %d %s", code, body)
		}
	}
}

// TestOpenAIAndAzureEndpointPaths: embeddings and text completions reach
// the upstream's path for them, with the model rewritten and the body
// otherwise as sent (dimensions, encoding_format), and the usage the
// upstream reported is what the client gets.
func TestOpenAIAndAzureEndpointPaths(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Model          string `json:"model"`
			Dimensions     int    `json:"dimensions"`
			EncodingFormat string `json:"encoding_format"`
		}
		_ = json.NewDecoder(r.Body).Decode(&b)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s model=%s dims=%d fmt=%s key=%s%s", r.Method, r.URL.RequestURI(), b.Model, b.Dimensions, b.EncodingFormat,
			r.Header.Get("Authorization"), r.Header.Get("api-key")))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(r.URL.Path, "/responses") {
			fmt.Fprint(w, `{"id":"resp_up1","object":"response","model":"x","output":[],"usage":{"input_tokens":5,"output_tokens":2,"total_tokens":7}}`)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/embeddings") {
			fmt.Fprint(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AAAAAA=="}],"model":"x","usage":{"prompt_tokens":7,"total_tokens":7}}`)
			return
		}
		fmt.Fprint(w, `{"id":"c","object":"text_completion","choices":[{"text":"ok","index":0,"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`)
	}))
	t.Cleanup(up.Close)
	e := startEdge(t, true)
	e.put(t, &events.Model{ID: "o1", ModelName: "oai", LiteLLMParams: events.ModelParams{Model: "openai/text-embedding-3-large", APIBase: up.URL + "/v1", APIKey: "sk-up-openai"}})
	e.put(t, &events.Model{ID: "o2", ModelName: "oai-instruct", LiteLLMParams: events.ModelParams{Model: "openai/gpt-3.5-turbo-instruct", APIBase: up.URL + "/v1", APIKey: "sk-up-openai"}})
	e.put(t, &events.Model{ID: "z1", ModelName: "az", LiteLLMParams: events.ModelParams{Model: "azure/my-deploy", APIBase: up.URL, APIKey: "az-key", APIVersion: "2024-10-21"}})
	master := bearer("sk-master-test-key")
	testutil.Eventually(t, 10*time.Second, func() error {
		if n := len(e.live.Load().Catalog().Resolve("az").Deployments); n != 1 {
			return fmt.Errorf("not applied")
		}
		return nil
	})
	for _, tc := range []struct{ path, body, want, upstream string }{
		{"/v1/embeddings", `{"model":"oai","input":[[1,2,3]],"dimensions":256,"encoding_format":"base64"}`, `"prompt_tokens":7`,
			"POST /v1/embeddings model=text-embedding-3-large dims=256 fmt=base64 key=Bearer sk-up-openai"},
		{"/v1/completions", `{"model":"oai-instruct","prompt":"say ok"}`, `"completion_tokens":1`,
			"POST /v1/completions model=gpt-3.5-turbo-instruct dims=0 fmt= key=Bearer sk-up-openai"},
		{"/v1/embeddings", `{"model":"az","input":"x"}`, `"prompt_tokens":7`,
			"POST /openai/deployments/my-deploy/embeddings?api-version=2024-10-21 model=my-deploy dims=0 fmt= key=az-key"},
		{"/openai/deployments/az/completions", `{"prompt":"x"}`, `"completion_tokens":1`,
			"POST /openai/deployments/my-deploy/completions?api-version=2024-10-21 model=my-deploy dims=0 fmt= key=az-key"},
		// The Responses API: OpenAI's below api_base, Azure's on the
		// resource with an api-version that has it; the id names the
		// deployment, and a GET of it goes there with the upstream's id.
		{"/v1/responses", `{"model":"oai-instruct","input":"x"}`, `"id":"resp_up1` + proxy.ResponseIDSuffix("oai-instruct", "o2") + `"`,
			"POST /v1/responses model=gpt-3.5-turbo-instruct dims=0 fmt= key=Bearer sk-up-openai"},
		{"/v1/responses", `{"model":"az","input":"x"}`, `"id":"resp_up1` + proxy.ResponseIDSuffix("az", "z1") + `"`,
			"POST /openai/responses?api-version=2025-03-01-preview model=my-deploy dims=0 fmt= key=az-key"},
		{"/v1/responses/resp_up1" + proxy.ResponseIDSuffix("az", "z1"), "", `"id":"resp_up1` + proxy.ResponseIDSuffix("az", "z1") + `"`,
			"GET /openai/responses/resp_up1?api-version=2025-03-01-preview model= dims=0 fmt= key=az-key"},
		{"/v1/responses/resp_up1" + proxy.ResponseIDSuffix("oai-instruct", "o2"), "", `"id":"resp_up1` + proxy.ResponseIDSuffix("oai-instruct", "o2") + `"`,
			"DELETE /v1/responses/resp_up1 model= dims=0 fmt= key=Bearer sk-up-openai"},
	} {
		mu.Lock()
		seen = nil
		mu.Unlock()
		method := "POST"
		if tc.body == "" {
			method, _, _ = strings.Cut(tc.upstream, " ")
		}
		code, body := do(t, method, e.url+tc.path, master, tc.body)
		if code != 200 || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: %d %s", tc.path, tc.body, code, body)
		}
		mu.Lock()
		if len(seen) != 1 || seen[0] != tc.upstream {
			t.Errorf("%s: upstream saw %q, want %q", tc.path, seen, tc.upstream)
		}
		mu.Unlock()
	}
}

// TestModelRetrieve: GET /v1/models/{id} answers the model object of a
// model the caller may use (names with '/' too, escaped or not) and the
// same 404 for one it may not use as for one that does not exist; the
// list and the object say which endpoints each model serves.
func TestModelRetrieve(t *testing.T) {
	e := startEdge(t, true)
	e.put(t, &events.Model{ID: "m1", ModelName: "m", LiteLLMParams: events.ModelParams{Model: "mock/m"}})
	e.put(t, &events.Model{ID: "m2", ModelName: "secret", LiteLLMParams: events.ModelParams{Model: "mock/secret"}})
	e.put(t, &events.Model{ID: "m3", ModelName: "org/emb", LiteLLMParams: events.ModelParams{Model: "mock/emb"}, ModelInfo: events.ModelInfo{Mode: "embedding"}})
	e.put(t, &events.Model{ID: "m4", ModelName: "claude", LiteLLMParams: events.ModelParams{Model: "anthropic/claude-3-5-sonnet", APIKey: "sk-ant-x"}})
	e.put(t, &events.Key{Token: events.HashKey("sk-key-retrieve-00000001"), Models: []string{"m", "org/emb"}})
	waitKeys(t, e, 1)
	key := bearer("sk-key-retrieve-00000001")
	type object struct {
		ID        string   `json:"id"`
		Object    string   `json:"object"`
		OwnedBy   string   `json:"owned_by"`
		Endpoints []string `json:"endpoints"`
	}
	for _, tc := range []struct {
		path string
		want object
	}{
		{"/v1/models/m", object{"m", "model", "mock", []string{"chat", "embeddings", "completions", "responses", "messages"}}},
		{"/models/m", object{"m", "model", "mock", []string{"chat", "embeddings", "completions", "responses", "messages"}}},
		{"/v1/models/org/emb", object{"org/emb", "model", "mock", []string{"embeddings"}}},
		{"/v1/models/org%2Femb", object{"org/emb", "model", "mock", []string{"embeddings"}}},
	} {
		code, body := do(t, "GET", e.url+tc.path, key, "")
		var got object
		_ = json.Unmarshal([]byte(body), &got)
		if code != 200 || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %d %s, want %+v", tc.path, code, body, tc.want)
		}
	}
	for _, name := range []string{"secret", "nope"} {
		code, body := do(t, "GET", e.url+"/v1/models/"+name, key, "")
		if typ, param, msg := errorOf(t, body); code != 404 || typ != "invalid_request_error" || param != "model" || !strings.Contains(msg, "`"+name+"`") {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
	if code, _ := do(t, "GET", e.url+"/v1/models/m", nil, ""); code != 401 {
		t.Errorf("no credential: %d", code)
	}
	code, body := do(t, "GET", e.url+"/v1/models", bearer("sk-master-test-key"), "")
	var list struct {
		Data []object `json:"data"`
	}
	_ = json.Unmarshal([]byte(body), &list)
	got := map[string]string{}
	for _, m := range list.Data {
		got[m.ID] = strings.Join(m.Endpoints, ",")
	}
	want := map[string]string{"m": "chat,embeddings,completions,responses,messages", "secret": "chat,embeddings,completions,responses,messages",
		"org/emb": "embeddings", "claude": "chat,messages,count_tokens"}
	if code != 200 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("/v1/models: %d %v, want %v", code, got, want)
	}
}

// TestJWTRouteGroupsOnEveryRoute: a JWT's team_allowed_routes are checked
// on every LLM route as on chat.
func TestJWTRouteGroupsOnEveryRoute(t *testing.T) {
	f := startJWTEdge(t)
	tok := bearer(f.sign(rs256, f.claims(nil)))
	set := func(routes ...string) {
		s := *f.edge.live.Load().JWT()
		s.Auth.TeamAllowedRoutes = routes
		f.edge.put(t, &s)
		testutil.Eventually(t, 5*time.Second, func() error {
			if got := f.edge.live.Load().JWT().Auth.TeamAllowedRoutes; fmt.Sprint(got) != fmt.Sprint(routes) {
				return fmt.Errorf("settings not applied: %v", got)
			}
			return nil
		})
	}
	for _, tc := range []struct {
		routes []string
		allow  func(path string) bool
	}{
		{[]string{"/v1/chat/completions"}, func(p string) bool { return p == "/v1/chat/completions" }},
		{[]string{"/v1/embeddings", "/embeddings"}, func(p string) bool { return strings.HasSuffix(p, "/embeddings") }},
		{[]string{"openai_routes"}, func(p string) bool { return !strings.HasPrefix(p, "/v1/messages") }},
		{[]string{"anthropic_routes"}, func(p string) bool { return strings.HasPrefix(p, "/v1/messages") }},
		{[]string{"llm_api_routes"}, func(string) bool { return true }},
		{[]string{"info_routes"}, func(string) bool { return false }},
	} {
		set(tc.routes...)
		for _, r := range llmRoutes {
			want := 403
			if tc.allow(r.path) {
				want = 200
			}
			if code, body := do(t, "POST", f.edge.url+r.path, tok, r.bodyFor("m")); code != want {
				t.Errorf("team_allowed_routes %v, %s: %d, want %d: %.200s", tc.routes, r.path, code, want, body)
			}
		}
	}
}

// LiteLLM's include_model_access_groups and only_model_access_groups on
// /v1/models: the access groups the caller holds (every model of which it
// may call) are listed too, or alone.
func TestModelListAccessGroups(t *testing.T) {
	e := startEdge(t, true)
	e.put(t, &events.Model{ID: "m1", ModelName: "a", LiteLLMParams: events.ModelParams{Model: "mock/a"}, ModelInfo: events.ModelInfo{AccessGroups: []string{"cheap"}}})
	e.put(t, &events.Model{ID: "m2", ModelName: "b", LiteLLMParams: events.ModelParams{Model: "mock/b"}, ModelInfo: events.ModelInfo{AccessGroups: []string{"cheap", "all"}}})
	e.put(t, &events.Model{ID: "m3", ModelName: "c", LiteLLMParams: events.ModelParams{Model: "mock/c"}, ModelInfo: events.ModelInfo{AccessGroups: []string{"all"}}})
	e.put(t, &events.Key{Token: events.HashKey("sk-key-groups-000000001"), Models: []string{"cheap"}})
	waitKeys(t, e, 1)
	ids := func(query string) []string {
		t.Helper()
		code, body := do(t, "GET", e.url+"/v1/models"+query, bearer("sk-key-groups-000000001"), "")
		var out struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if code != 200 || json.Unmarshal([]byte(body), &out) != nil {
			t.Fatalf("/v1/models%s: %d %s", query, code, body)
		}
		var got []string
		for _, d := range out.Data {
			got = append(got, d.ID)
		}
		return got
	}
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"", []string{"a", "b"}},
		{"?include_model_access_groups=True", []string{"a", "b", "cheap"}},
		{"?only_model_access_groups=true", []string{"cheap"}},
	} {
		if got := ids(c.query); !slices.Equal(got, c.want) {
			t.Errorf("/v1/models%s: %v, want %v", c.query, got, c.want)
		}
	}
}
