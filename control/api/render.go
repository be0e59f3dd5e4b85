package api

import (
	"math"
	"time"

	"github.com/gatehouse/gatehouse/spend/query"
)

// moneyScale is the precision money is rendered with (USD): 1e-10 keeps
// every per-token price exact while dropping float noise such as
// 0.00010250000000000001, which sums of float costs produce.
const moneyScale = 1e10

// Money rounds an amount for rendering. Every amount the admin API returns
// goes through it, so the same spend reads the same everywhere.
func Money(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	r := math.Round(v*moneyScale) / moneyScale
	if r == 0 {
		return 0 // no "-0"
	}
	return r
}

// spendLog is one row of /spend/logs in LiteLLM's LiteLLM_SpendLogs shape,
// which LiteLLM's scripts and dashboards read.
//
// request_id is gatehouse's id (x-litellm-call-id, what /gatehouse/why
// and the edge's logs name); LiteLLM's request_id for the same call, the
// answer's id, is response_id. ?request_id= finds the row by either.
type spendLog struct {
	RequestID         string         `json:"request_id"`
	ResponseID        string         `json:"response_id"`
	CallType          string         `json:"call_type"`
	APIKey            string         `json:"api_key"`
	Spend             float64        `json:"spend"`
	TotalTokens       int64          `json:"total_tokens"`
	PromptTokens      int64          `json:"prompt_tokens"`
	CompletionTokens  int64          `json:"completion_tokens"`
	StartTime         time.Time      `json:"startTime"`
	EndTime           time.Time      `json:"endTime"`
	CompletionStart   *time.Time     `json:"completionStartTime"`
	Model             string         `json:"model"`
	ModelID           string         `json:"model_id"`
	ModelGroup        string         `json:"model_group"`
	CustomLLMProvider string         `json:"custom_llm_provider"`
	User              string         `json:"user"`
	TeamID            string         `json:"team_id"`
	OrganizationID    string         `json:"organization_id"`
	EndUser           string         `json:"end_user"`
	Status            string         `json:"status"`
	CacheHit          string         `json:"cache_hit"`
	RequestTags       []string       `json:"request_tags"`
	Metadata          map[string]any `json:"metadata"`
}

// liteLLMSpendLog maps a stored spend event to LiteLLM's row. Fields
// LiteLLM has and we do not keep (messages, response, api_base) are left
// out; ours that LiteLLM has no column for go into metadata.
func liteLLMSpendLog(r query.Row) spendLog {
	end := r.Time.Add(time.Duration(r.LatencyMS * float64(time.Millisecond)))
	r.RequestTags = orEmpty(r.RequestTags)
	l := spendLog{
		RequestID: r.RequestID, ResponseID: r.ResponseID, CallType: r.CallType(), APIKey: r.KeyHash, Spend: Money(r.Cost),
		TotalTokens: r.TotalTokens, PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens,
		StartTime: r.Time, EndTime: end, Model: r.Model, ModelID: r.Deployment, ModelGroup: r.ModelGroup,
		CustomLLMProvider: r.Provider, User: r.UserID, TeamID: r.TeamID, OrganizationID: r.OrgID,
		EndUser: r.EndUserID, Status: "success", CacheHit: "False", RequestTags: r.RequestTags,
		Metadata: map[string]any{
			"user_api_key":         r.KeyHash,
			"user_api_key_alias":   r.KeyAlias,
			"user_api_key_team_id": r.TeamID,
			"user_api_key_user_id": r.UserID,
			"user_api_key_org_id":  r.OrgID,
			"auth":                 r.Auth,
			"status_code":          r.Status,
			"stream":               r.Stream,
			"outcome":              r.Outcome,
			"tokens_estimated":     r.Estimated,
			"edge_id":              r.EdgeID,
			"region":               r.Region,
			"client_request_id":    r.ClientRequestID,
			"endpoint":             r.Endpoint,
			"latency_ms":           r.LatencyMS,
			// Parts of prompt_tokens, priced apart (docs/spend.md).
			"cached_tokens":         r.CachedTokens,
			"cache_creation_tokens": r.CacheCreationTokens,
		},
	}
	if r.Outcome != "ok" {
		l.Status = "failure"
	}
	if r.TTFTMS > 0 {
		t := r.Time.Add(time.Duration(r.TTFTMS * float64(time.Millisecond)))
		l.CompletionStart = &t
	}
	return l
}
