package e2e

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/gatehouse/gatehouse/internal/chtest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// endpointsConfig has one model per endpoint kind, priced, all mock.
const endpointsConfig = `
general_settings:
  master_key: os.environ/MASTER_KEY
model_list:
  - model_name: text-embedding-3-small
    litellm_params: {model: mock/text-embedding-3-small}
    model_info: {mode: embedding, input_cost_per_token: 0.0000001}
  - model_name: instruct
    litellm_params: {model: mock/instruct}
    model_info: {mode: completion, input_cost_per_token: 0.000002, output_cost_per_token: 0.00001}
  - model_name: chat
    litellm_params: {model: mock/chat}
    model_info: {mode: chat, input_cost_per_token: 0.000002, output_cost_per_token: 0.00001}
`

// Prices of endpointsConfig, for the expected cost.
var endpointPrices = map[string][2]float64{
	"text-embedding-3-small": {0.0000001, 0}, "instruct": {0.000002, 0.00001}, "chat": {0.000002, 0.00001},
}

// TestEndpointsWithOpenAIClient: the official openai-go client calls
// embeddings, text completions (streamed and not) and models.Get through
// two edges; ClickHouse ends up with one spend row per call holding the
// tokens the client was told and their cost.
func TestEndpointsWithOpenAIClient(t *testing.T) {
	ch := chtest.Start(t)
	ns := testutil.RunJetStream(t)
	cfg := t.TempDir() + "/config.yaml"
	writeFile(t, cfg, endpointsConfig)
	env := []string{"MASTER_KEY=" + masterKey}
	ctl := start(t, "control", env, "control", "-nats", ns.ClientURL(), "-listen", testutil.FreeAddr(t), "-config", cfg,
		"-clickhouse", ch.Addr(), "-clickhouse-db", "endpoints_e2e")
	var edges []*proc
	for _, id := range []string{"edge-a", "edge-b"} {
		edges = append(edges, start(t, id, env, "edge", "-nats", ns.ClientURL(), "-listen", testutil.FreeAddr(t),
			"-control", "http://"+ctl.addr, "-id", id, "-spill-dir", t.TempDir()))
	}
	waitEdges(t, ctl, 2)
	start(t, "sink", env, "sink", "-nats", ns.ClientURL(), "-clickhouse", ch.Addr(), "-database", "endpoints_e2e")
	key := generateKey(t, edges[0], map[string]any{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	type told struct{ prompt, completion int64 }
	byModel := map[string]*told{}
	add := func(model string, p, c int64) {
		if p <= 0 {
			t.Fatalf("%s: the client was told no prompt tokens", model)
		}
		if byModel[model] == nil {
			byModel[model] = &told{}
		}
		byModel[model].prompt += p
		byModel[model].completion += c
	}
	calls := 0
	for i, edge := range edges {
		c := openai.NewClient(option.WithBaseURL(edge.url("/v1/")), option.WithAPIKey(key), option.WithMaxRetries(0))

		emb, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "text-embedding-3-small", Dimensions: openai.Int(64),
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"the quick brown fox", fmt.Sprintf("edge %d", i), "the quick brown fox"}}})
		if err != nil {
			t.Fatalf("%s embeddings: %v", edge.name, err)
		}
		if len(emb.Data) != 3 || len(emb.Data[0].Embedding) != 64 || fmt.Sprint(emb.Data[0].Embedding) != fmt.Sprint(emb.Data[2].Embedding) ||
			fmt.Sprint(emb.Data[0].Embedding) == fmt.Sprint(emb.Data[1].Embedding) {
			t.Fatalf("%s embeddings: %d items of %d", edge.name, len(emb.Data), len(emb.Data[0].Embedding))
		}
		add("text-embedding-3-small", emb.Usage.PromptTokens, 0)
		tok, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "text-embedding-3-small",
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfTokens: []int64{1, 2, 3}}})
		if err != nil || len(tok.Data) != 1 || len(tok.Data[0].Embedding) != 1536 || tok.Usage.PromptTokens != 3 {
			t.Fatalf("%s token-array embedding: %v", edge.name, err)
		}
		add("text-embedding-3-small", tok.Usage.PromptTokens, 0)

		cp, err := c.Completions.New(ctx, openai.CompletionNewParams{Model: "instruct",
			Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Say hi")}})
		if err != nil || len(cp.Choices) != 1 || cp.Choices[0].Text != "This is a mock response from instruct. You said: Say hi" {
			t.Fatalf("%s completion: %v %+v", edge.name, err, cp)
		}
		add("instruct", cp.Usage.PromptTokens, cp.Usage.CompletionTokens)

		stream := c.Completions.NewStreaming(ctx, openai.CompletionNewParams{Model: "instruct",
			Prompt:        openai.CompletionNewParamsPromptUnion{OfString: openai.String("Stream it please")},
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}})
		text, chunks := "", 0
		var su openai.CompletionUsage
		for stream.Next() {
			ev := stream.Current()
			for _, ch := range ev.Choices {
				text += ch.Text
			}
			if ev.Usage.TotalTokens > 0 {
				su = ev.Usage
			}
			chunks++
		}
		if err := stream.Err(); err != nil || chunks < 3 || text != "This is a mock response from instruct. You said: Stream it please" {
			t.Fatalf("%s completion stream: %v, %d chunks, %q", edge.name, err, chunks, text)
		}
		add("instruct", su.PromptTokens, su.CompletionTokens)

		m, err := c.Models.Get(ctx, "text-embedding-3-small")
		if err != nil || m.ID != "text-embedding-3-small" || m.OwnedBy != "mock" {
			t.Fatalf("%s models.Get: %v %+v", edge.name, err, m)
		}
		_, err = c.Models.Get(ctx, "no-such-model")
		var apiErr *openai.Error
		if !errorsAs(err, &apiErr) || apiErr.StatusCode != 404 || !strings.Contains(apiErr.Message, "no-such-model") {
			t.Fatalf("%s models.Get of an unknown model: %v", edge.name, err)
		}
		// An embedding model on the chat route is a 400 the client reads.
		_, err = c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "text-embedding-3-small",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
		if !errorsAs(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.Message, "/v1/embeddings") {
			t.Fatalf("%s chat on an embedding model: %v", edge.name, err)
		}
		calls += 4
	}

	conn := ch.Conn(t)
	testutil.Eventually(t, 30*time.Second, func() error {
		rows, err := conn.Query(context.Background(),
			"SELECT model_group, count(), sum(prompt_tokens), sum(completion_tokens), sum(cost), countIf(estimated) FROM endpoints_e2e.spend_events GROUP BY model_group")
		if err != nil {
			return err
		}
		defer rows.Close()
		n := uint64(0)
		seen := map[string]bool{}
		for rows.Next() {
			var group string
			var count, estimated, prompt, completion uint64
			var cost float64
			if err := rows.Scan(&group, &count, &prompt, &completion, &cost, &estimated); err != nil {
				return err
			}
			want := byModel[group]
			if want == nil {
				return fmt.Errorf("unexpected rows for %s", group)
			}
			p := endpointPrices[group]
			wantCost := float64(want.prompt)*p[0] + float64(want.completion)*p[1]
			if int64(prompt) != want.prompt || int64(completion) != want.completion || math.Abs(cost-wantCost) > 1e-12 || estimated != 0 {
				return fmt.Errorf("%s: rows say %d+%d tokens, $%.9f (%d estimated); the client was told %d+%d, $%.9f",
					group, prompt, completion, cost, estimated, want.prompt, want.completion, wantCost)
			}
			n += count
			seen[group] = true
		}
		if n != uint64(calls) || len(seen) != len(byModel) {
			return fmt.Errorf("%d rows for %d groups, want %d for %d", n, len(seen), calls, len(byModel))
		}
		return nil
	})
	// Each row names the API it was served on, and /spend/logs shows it
	// as LiteLLM's call_type.
	var misnamed uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM endpoints_e2e.spend_events WHERE endpoint != if(model_group = 'instruct', 'completions', 'embeddings')").Scan(&misnamed); err != nil || misnamed != 0 {
		t.Fatalf("%d rows name another endpoint than their model's (%v)", misnamed, err)
	}
	var logs []map[string]any
	if code := call(t, "GET", ctl.url("/spend/logs?limit=100"), masterKey, nil, &logs); code != 200 || len(logs) != calls {
		t.Fatalf("/spend/logs: %d, %d rows, want %d", code, len(logs), calls)
	}
	wantCall := map[string]string{"instruct": "atext_completion", "text-embedding-3-small": "aembedding"}
	for _, l := range logs {
		if group, _ := l["model_group"].(string); l["call_type"] != wantCall[group] {
			t.Errorf("/spend/logs row of %s has call_type %v, want %s", group, l["call_type"], wantCall[group])
		}
	}
}

// endpointCall is one LLM route with a body for a model it serves.
type endpointCall struct {
	route, model string
	body         func(model string) map[string]any
}

var endpointCalls = []endpointCall{
	{"/v1/chat/completions", "chat", chat},
	{"/v1/embeddings", "text-embedding-3-small", func(m string) map[string]any { return map[string]any{"model": m, "input": "Hello"} }},
	{"/v1/completions", "instruct", func(m string) map[string]any { return map[string]any{"model": m, "prompt": "Hello"} }},
}

// TestEndpointsRefuseAsChat: model access, rate limits and budgets refuse
// on each route exactly as on chat completions: same status, same error
// type, at the same count.
func TestEndpointsRefuseAsChat(t *testing.T) {
	sys := startSystem(t, endpointsConfig, 2)
	a, b := sys.edges[0], sys.edges[1]
	for _, ec := range endpointCalls {
		t.Run(strings.TrimPrefix(ec.route, "/v1/"), func(t *testing.T) {
			post := func(e *proc, key, model string) (int, string) {
				code, raw := callRaw(t, "POST", e.url(ec.route), key, ec.body(model))
				return code, string(raw)
			}
			// Model access: a key for another model only.
			other := "chat"
			if ec.model == "chat" {
				other = "instruct"
			}
			narrow := generateKey(t, a, map[string]any{"models": []string{other}})
			if code, raw := post(b, narrow, ec.model); code != 403 || !strings.Contains(raw, "key_model_access_denied") {
				t.Fatalf("model access: %d %s", code, raw)
			}
			// rpm_limit 2: two answered, the third refused.
			limited := generateKey(t, a, map[string]any{"rpm_limit": 2})
			for i := range 2 {
				if code, raw := post(a, limited, ec.model); code != 200 {
					t.Fatalf("rpm request %d: %d %s", i, code, raw)
				}
			}
			if code, raw := post(a, limited, ec.model); code != 429 || !strings.Contains(raw, "rate_limit_error") {
				t.Fatalf("third request under rpm_limit 2: %d %s", code, raw)
			}
			// A budget one request crosses: refused next, at both edges.
			poor := generateKey(t, a, map[string]any{"max_budget": 0.00000001})
			if code, raw := post(a, poor, ec.model); code != 200 {
				t.Fatalf("first request within budget: %d %s", code, raw)
			}
			for _, e := range []*proc{a, b} {
				testutil.Eventually(t, 10*time.Second, func() error {
					if code, raw := post(e, poor, ec.model); code != 400 || !strings.Contains(raw, "budget_exceeded") {
						return fmt.Errorf("%s over budget: %d %s", e.name, code, raw)
					}
					return nil
				})
			}
		})
	}
}
