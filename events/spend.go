package events

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Spend: one event per request an edge served (or refused after reaching
// an upstream), on SpendStream. The request id is the Nats-Msg-Id, so a
// resend from an edge's local spill queue is deduplicated by the stream,
// and the ClickHouse row key, so a redelivery to the sink is too.
const (
	SpendStream = "GATEHOUSE_SPEND"
	// SpendSubjectPrefix: edges publish on <prefix>.<edge id>.
	SpendSubjectPrefix = Product + ".spend"
	SpendSubjects      = SpendSubjectPrefix + ".>"
	// SpendV1 is the type string of SpendEvent; the envelope is flat (the
	// event is its own payload) to keep the hot path to one small JSON.
	SpendV1 = "gatehouse.spend.v1.recorded"
	// SpendDedupeWindow bounds how long after a first publish a resend is
	// still recognised; an edge's spill queue must resend within it.
	SpendDedupeWindow = 30 * time.Minute
)

// SpendEvent is what one request cost. Plaintext keys never appear: KeyHash
// is the key's sha256 token.
type SpendEvent struct {
	Type      string    `json:"type"` // SpendV1
	RequestID string    `json:"request_id"`
	Time      time.Time `json:"time"` // request start, UTC
	KeyHash   string    `json:"key_hash,omitempty"`
	KeyAlias  string    `json:"key_alias,omitempty"`
	UserID    string    `json:"user_id,omitempty"`
	TeamID    string    `json:"team_id,omitempty"`
	OrgID     string    `json:"org_id,omitempty"`
	EndUserID string    `json:"end_user,omitempty"`
	// Auth is "key", "jwt" or "master_key".
	Auth       string `json:"auth"`
	ModelGroup string `json:"model_group"`
	Model      string `json:"model"` // as sent upstream
	Deployment string `json:"deployment_id"`
	Provider   string `json:"provider"`
	// Tokens: from the upstream's usage when it reports it; for an aborted
	// stream, as far as it went (Estimated is set when counted locally).
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	TotalTokens      int64   `json:"total_tokens"`
	Estimated        bool    `json:"estimated,omitempty"`
	Cost             float64 `json:"cost"` // USD
	LatencyMS        float64 `json:"latency_ms"`
	TTFTMS           float64 `json:"ttft_ms,omitempty"`
	Status           int     `json:"status"`
	Stream           bool    `json:"stream"`
	// Outcome is "ok", "client_aborted", "upstream_error" or "timeout".
	Outcome string `json:"outcome"`
	EdgeID  string `json:"edge_id"`
	Region  string `json:"region,omitempty"`
}

// SpendStreamConfig keeps spend events until the sink and the budget
// tracker have consumed them (limits retention, bounded by age).
func SpendStreamConfig(o StreamOptions) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        SpendStream,
		Description: "gatehouse spend: one event per request, consumed into ClickHouse and budget totals",
		Subjects:    []string{SpendSubjects},
		Storage:     jetstream.FileStorage,
		Replicas:    max(o.Replicas, 1),
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      7 * 24 * time.Hour,
		Duplicates:  SpendDedupeWindow,
		Discard:     jetstream.DiscardOld,
	}
}

// EnsureSpendStream creates or updates the spend stream.
func EnsureSpendStream(ctx context.Context, js jetstream.JetStream, o StreamOptions) (jetstream.Stream, error) {
	return ensure(ctx, js, SpendStreamConfig(o), o.Replicas)
}
