package events

import (
	"errors"
	"testing"
)

func TestDecodeSpend(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    string
		wantID  string
		wantIDs []string
		wantErr error
	}{
		{name: "single", data: `{"type":"gatehouse.spend.v1.recorded","request_id":"r1","cost":1.5}`, wantID: "r1", wantIDs: []string{"r1"}},
		{name: "single without type (first edges)", data: `{"request_id":"r1"}`, wantID: "r1", wantIDs: []string{"r1"}},
		{name: "batch", data: `{"type":"gatehouse.spend.v1.batch","batch_id":"b1","edge_id":"e","events":[{"type":"gatehouse.spend.v1.recorded","request_id":"r1"},{"request_id":"r2"}]}`,
			wantID: "b1", wantIDs: []string{"r1", "r2"}},
		{name: "unknown type", data: `{"type":"gatehouse.spend.v2.recorded","request_id":"r1"}`, wantErr: ErrUnknownType},
		{name: "batch with a foreign event", data: `{"type":"gatehouse.spend.v1.batch","batch_id":"b1","events":[{"type":"x","request_id":"r1"}]}`, wantErr: errAny},
		{name: "not JSON", data: `{"type":`, wantErr: errAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, evs, err := DecodeSpend([]byte(tc.data))
			if tc.wantErr != nil {
				if err == nil || (tc.wantErr != errAny && !errors.Is(err, tc.wantErr)) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || id != tc.wantID || len(evs) != len(tc.wantIDs) {
				t.Fatalf("DecodeSpend = %q, %d events, %v", id, len(evs), err)
			}
			for i, ev := range evs {
				if ev.RequestID != tc.wantIDs[i] || ev.Type != SpendV1 {
					t.Fatalf("event %d = %+v", i, ev)
				}
			}
		})
	}
}

var errAny = errors.New("any error")

func TestCallType(t *testing.T) {
	for _, tc := range []struct{ endpoint, want string }{
		{"", "acompletion"}, // rows of edges older than the field
		{"chat", "acompletion"},
		{"embeddings", "aembedding"},
		{"completions", "atext_completion"},
		{"responses", "aresponses"},
		{"messages", "anthropic_messages"},
		{"count_tokens", "acompletion"},
	} {
		e := SpendEvent{Endpoint: tc.endpoint}
		if got := e.CallType(); got != tc.want {
			t.Errorf("CallType of endpoint %q = %q, want %q", tc.endpoint, got, tc.want)
		}
	}
}
