package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// TestLiteLLMResponseHeadersWithOpenAIClient: the official openai-go
// client reads LiteLLM's response headers off a chat completion and an
// embedding (option.WithResponseInto), through the real binary: the
// deployment's model_info.id, and a response cost equal to the cost of
// the spend event the edge published for that call.
func TestLiteLLMResponseHeadersWithOpenAIClient(t *testing.T) {
	sys := startSystem(t, endpointsConfig, 1)
	edge := sys.edges[0]

	costs := map[string]float64{} // spend events' costs by request id
	mu := watchSpend(t, sys.natsURL, func(e events.SpendEvent) { costs[e.RequestID] = e.Cost })

	c, ctx := sdkClient(t, edge, 60*time.Second)
	var models struct {
		Data []struct {
			ModelName string `json:"model_name"`
			ModelInfo struct {
				ID string `json:"id"`
			} `json:"model_info"`
		} `json:"data"`
	}
	if code := call(t, "GET", edge.url("/model/info"), masterKey, nil, &models); code != 200 {
		t.Fatalf("/model/info: %d", code)
	}
	ids := map[string]string{}
	for _, m := range models.Data {
		ids[m.ModelName] = m.ModelInfo.ID
	}

	for _, model := range []string{"chat", "text-embedding-3-small"} {
		var raw *http.Response
		var err error
		if model == "chat" {
			_, err = c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}}, option.WithResponseInto(&raw))
		} else {
			_, err = c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: model,
				Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")}}, option.WithResponseInto(&raw))
		}
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		if id := raw.Header.Get("x-litellm-model-id"); id == "" || id != ids[model] {
			t.Errorf("%s: x-litellm-model-id %q, model_info.id %q", model, id, ids[model])
		}
		cost, err := strconv.ParseFloat(raw.Header.Get("x-litellm-response-cost"), 64)
		if err != nil || cost <= 0 {
			t.Fatalf("%s: x-litellm-response-cost %q", model, raw.Header.Get("x-litellm-response-cost"))
		}
		callID := raw.Header.Get("x-litellm-call-id")
		testutil.Eventually(t, 10*time.Second, func() error {
			mu.Lock()
			defer mu.Unlock()
			spent, ok := costs[callID]
			if !ok {
				return fmt.Errorf("no spend event for %s yet", callID)
			}
			if spent != cost {
				t.Fatalf("%s: header cost %v, spend event cost %v", model, cost, spent)
			}
			return nil
		})
	}
}
