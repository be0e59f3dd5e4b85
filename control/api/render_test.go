package api

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/spend/query"
)

func TestMoneyDropsFloatNoise(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0.00010250000000000001, "0.0001025"},
		{0.1 + 0.2, "0.3"},
		{1e-11, "0"},
		{-1e-11, "0"},
		{12.5, "12.5"},
		{0.0000000123, "1.23e-8"},
		{math.NaN(), "0"},
		{math.Inf(1), "0"},
	} {
		b, _ := json.Marshal(Money(tc.in))
		if string(b) != tc.want {
			t.Errorf("Money(%v) renders %s, want %s", tc.in, b, tc.want)
		}
	}
}

func TestSpendLogHasLiteLLMShape(t *testing.T) {
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	r := query.Row{RequestID: "req-1", ResponseID: "chatcmpl-abc123", Time: start, KeyHash: "abc", KeyAlias: "ci", UserID: "u1", TeamID: "t1",
		ModelGroup: "gpt-4o", Model: "gpt-4o-2024", Provider: "openai", PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7,
		Cost: 0.00010250000000000001, LatencyMS: 1500, TTFTMS: 200, Status: 200, Outcome: "ok"}
	b, err := json.Marshal(liteLLMSpendLog(r))
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{`"request_id":"req-1"`, `"response_id":"chatcmpl-abc123"`, `"api_key":"abc"`, `"spend":0.0001025`, `"startTime":"2026-03-01T10:00:00Z"`,
		`"endTime":"2026-03-01T10:00:01.5Z"`, `"completionStartTime":"2026-03-01T10:00:00.2Z"`, `"model":"gpt-4o-2024"`, `"user":"u1"`,
		`"team_id":"t1"`, `"total_tokens":7`, `"prompt_tokens":3`, `"completion_tokens":4`, `"call_type":"acompletion"`,
		`"status":"success"`, `"user_api_key_alias":"ci"`} {
		if !strings.Contains(got, want) {
			t.Errorf("spend log lacks %s: %s", want, got)
		}
	}
	r.Outcome = "upstream_error"
	if l := liteLLMSpendLog(r); l.Status != "failure" {
		t.Errorf("failed request has status %q", l.Status)
	}
	r.Endpoint = "embeddings"
	if l := liteLLMSpendLog(r); l.CallType != "aembedding" || l.Metadata["endpoint"] != "embeddings" {
		t.Errorf("embeddings row: call_type %q, metadata.endpoint %v", l.CallType, l.Metadata["endpoint"])
	}
}
