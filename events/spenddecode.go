package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/internal/jsonscan"
)

// DecodeSpend returns the events of a spend message, a SpendEvent or a
// SpendBatch, and the message's id (request id or batch id). A message of
// another type is an error: a consumer must not guess at its meaning.
//
// Every spend message passes through here, in the budget tracker, the
// sink and an edge's resend, and encoding/json cost several µs per event
// (reflection, a validating pre-scan, a string per field). What an edge
// writes is json.Marshal's encoding in the struct's field order, so a
// scanner that expects exactly that reads it several times faster; any
// other input goes to json.Unmarshal, and the result is always what it
// gives (FuzzDecodeSpend checks it).
//
// A compressed message (CompressSpend) is decompressed first; its JSON
// is held in a pooled buffer only while it is read.
func DecodeSpend(data []byte) (id string, evs []SpendEvent, err error) {
	if CompressedSpend(data) {
		buf := plainBufs.Get()
		defer plainBufs.Put(buf)
		if *buf, err = decompressSpend((*buf)[:0], data); err != nil {
			return "", nil, err
		}
		data = *buf
	}
	if id, evs, ok := decodeSpendFast(data); ok {
		return id, evs, nil
	}
	spendFallbacks.Add(1)
	return decodeSpendJSON(data)
}

// spendFallbacks counts messages the fast decoder left to json.Unmarshal.
var spendFallbacks atomic.Uint64

// SpendDecodeFallbacks returns how many spend messages this process
// decoded with encoding/json rather than the fast decoder: a malformed
// message, or one a producer wrote in another encoding. An edge's own
// encoding never falls back (its tests check it), so a count that rises
// with traffic means a producer that costs the control plane several
// times the CPU it should.
func SpendDecodeFallbacks() uint64 { return spendFallbacks.Load() }

// decodeSpendJSON is DecodeSpend by encoding/json: the reference for
// every input, and the path for what the fast decoder does not vouch for.
func decodeSpendJSON(data []byte) (id string, evs []SpendEvent, err error) {
	var u struct {
		SpendEvent
		BatchID string       `json:"batch_id"`
		Events  []SpendEvent `json:"events"`
	}
	if err := json.Unmarshal(data, &u); err != nil {
		return "", nil, err
	}
	switch u.Type {
	case SpendBatchV1:
		for i := range u.Events {
			if u.Events[i].Type == "" {
				u.Events[i].Type = SpendV1
			} else if u.Events[i].Type != SpendV1 {
				return "", nil, fmt.Errorf("events: spend batch holds an event of type %q", u.Events[i].Type)
			}
		}
		return u.BatchID, u.Events, nil
	case SpendV1, "":
		u.SpendEvent.Type = SpendV1
		return u.RequestID, []SpendEvent{u.SpendEvent}, nil
	default:
		return "", nil, fmt.Errorf("%w: %q on the spend stream", ErrUnknownType, u.Type)
	}
}

// Literals of an edge's encoding: encodeBatch's head, and the start of a
// SpendEvent, which is also what counts a batch's events ahead (inside a
// string a quote is escaped, so the text cannot occur there).
const (
	spendBatchHead = `{"type":"` + SpendBatchV1 + `","batch_id":`
	spendEventHead = `{"type":`
	// minSpendEventLen is less than the shortest SpendEvent encoding the
	// fast decoder reads (TestMinSpendEventLen).
	minSpendEventLen = 200
)

// decodeSpendFast reads exactly what an edge writes: a SpendEvent as
// json.Marshal encodes it, or encodeBatch's SpendBatch of such events.
// ok is false for anything else, errors included (json.Unmarshal words
// them), and for an event whose type is not SpendV1 or empty.
func decodeSpendFast(data []byte) (id string, evs []SpendEvent, ok bool) {
	s := jsonscan.NewStrict(data)
	// like holds, for each field, the value the next event most likely
	// repeats: the previous event's, or for the first, a common one.
	like := &SpendEvent{Type: SpendV1, Auth: "key", Outcome: "ok"}
	if !s.Lit(spendBatchHead) {
		var e SpendEvent
		if !scanSpendEvent(&s, &e, like) || !s.Done() {
			return "", nil, false
		}
		return e.RequestID, []SpendEvent{e}, true
	}
	if !(s.Str(&id) && s.Lit(`,"edge_id":`) && s.Str(&like.EdgeID) && s.Lit(`,"events":[`)) {
		return "", nil, false
	}
	// The events counted ahead, bounded by what the bytes can hold, so
	// that a message of event heads alone allocates no more than a few
	// times its size before it fails.
	evs = make([]SpendEvent, 0, min(bytes.Count(data, []byte(spendEventHead))-1, len(data)/minSpendEventLen))
	if s.Lit(`]}`) {
		return id, evs, s.Done()
	}
	for {
		evs = append(evs, SpendEvent{})
		e := &evs[len(evs)-1]
		if !scanSpendEvent(&s, e, like) {
			return "", nil, false
		}
		like = e // still the event's values if append moves evs
		if s.Lit(`]}`) {
			return id, evs, s.Done()
		}
		if !s.Lit(`,`) {
			return "", nil, false
		}
	}
}

// scanSpendEvent reads a SpendEvent in appendEventJSON's (json.Marshal's)
// field order, omitempty fields absent or present.
func scanSpendEvent(s *jsonscan.Strict, e *SpendEvent, like *SpendEvent) bool {
	ok := s.Lit(`{"type":`) && s.StrLike(&e.Type, SpendV1) && (e.Type == SpendV1 || e.Type == "") &&
		s.Lit(`,"request_id":`) && s.Str(&e.RequestID) &&
		s.Lit(`,"time":`) && s.Time(&e.Time) &&
		s.OptStrLike(`,"key_hash":`, &e.KeyHash, like.KeyHash) &&
		s.OptStrLike(`,"key_alias":`, &e.KeyAlias, like.KeyAlias) &&
		s.OptStrLike(`,"user_id":`, &e.UserID, like.UserID) &&
		s.OptStrLike(`,"team_id":`, &e.TeamID, like.TeamID) &&
		s.OptStrLike(`,"org_id":`, &e.OrgID, like.OrgID) &&
		s.OptStrLike(`,"end_user":`, &e.EndUserID, like.EndUserID) &&
		s.Lit(`,"auth":`) && s.StrLike(&e.Auth, like.Auth) &&
		s.Lit(`,"model_group":`) && s.StrLike(&e.ModelGroup, like.ModelGroup) &&
		s.Lit(`,"model":`) && s.StrLike(&e.Model, like.Model) &&
		s.Lit(`,"deployment_id":`) && s.StrLike(&e.Deployment, like.Deployment) &&
		s.Lit(`,"provider":`) && s.StrLike(&e.Provider, like.Provider) &&
		s.Lit(`,"prompt_tokens":`) && s.Int64(&e.PromptTokens) &&
		s.Lit(`,"completion_tokens":`) && s.Int64(&e.CompletionTokens) &&
		s.Lit(`,"total_tokens":`) && s.Int64(&e.TotalTokens) &&
		(!s.Lit(`,"cached_tokens":`) || s.Int64(&e.CachedTokens)) &&
		(!s.Lit(`,"cache_creation_tokens":`) || s.Int64(&e.CacheCreationTokens)) &&
		(!s.Lit(`,"estimated":`) || s.Bool(&e.Estimated)) &&
		s.Lit(`,"cost":`) && s.Float(&e.Cost) &&
		s.Lit(`,"latency_ms":`) && s.Float(&e.LatencyMS) &&
		(!s.Lit(`,"ttft_ms":`) || s.Float(&e.TTFTMS)) &&
		s.Lit(`,"status":`) && s.Int(&e.Status) &&
		s.Lit(`,"stream":`) && s.Bool(&e.Stream) &&
		s.Lit(`,"outcome":`) && s.StrLike(&e.Outcome, like.Outcome) &&
		(!s.Lit(`,"policy_seq":`) || s.Uint64(&e.PolicySeq)) &&
		s.OptStrLike(`,"deny_reason":`, &e.DenyReason, like.DenyReason) &&
		s.OptStrLike(`,"deny_rule":`, &e.DenyRule, like.DenyRule) &&
		s.Lit(`,"edge_id":`) && s.StrLike(&e.EdgeID, like.EdgeID) &&
		s.OptStrLike(`,"edge_instance":`, &e.EdgeInstance, like.EdgeInstance) &&
		s.OptStrLike(`,"region":`, &e.Region, like.Region) &&
		s.OptStr(`,"client_request_id":`, &e.ClientRequestID) &&
		s.OptStrLike(`,"endpoint":`, &e.Endpoint, like.Endpoint) &&
		s.OptStr(`,"response_id":`, &e.ResponseID) &&
		(!s.Lit(`,"request_tags":`) || scanTags(s, &e.RequestTags)) &&
		s.Lit(`}`)
	if ok {
		e.Type = SpendV1 // an empty type is a SpendEvent of the first edges
	}
	return ok
}

// scanTags reads request_tags as an edge writes it: a non-empty array of
// strings (omitempty leaves out an empty one). Anything else, [] and null
// included, goes to json.Unmarshal, whose result (an empty or nil slice)
// the fast path would have to mimic.
func scanTags(s *jsonscan.Strict, dst *[]string) bool {
	return !s.Has(`[]`) && !s.Has(`null`) && s.List(dst)
}
