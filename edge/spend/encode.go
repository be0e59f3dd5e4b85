package spend

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/jsonw"
)

// appendEvent appends e as encoding/json renders it, byte for byte, without
// reflection: json.Marshal was most of the publisher's CPU, which the edge
// pays on every request. ok is false for what only json.Marshal renders
// right (a time outside UTC or years 0-9999, a NaN or infinite float):
// the caller falls back to it. A field added to SpendEvent and not here
// makes the check at start-up fall back for good (encodeMatchesJSON), and
// TestAppendEventIsJSON fail.
func appendEvent(b []byte, e *events.SpendEvent) (_ []byte, ok bool) {
	if !exactJSON {
		return b, false
	}
	return appendEventJSON(b, e)
}

// escapeHTML: json.Marshal escapes <, > and & in strings, so appendEvent does.
const escapeHTML = true

func appendEventJSON(b []byte, e *events.SpendEvent) (_ []byte, ok bool) {
	if e.Time.Location() != time.UTC || e.Time.Year() < 0 || e.Time.Year() > 9999 {
		return b, false
	}
	for _, f := range [...]float64{e.Cost, e.LatencyMS, e.TTFTMS} {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return b, false
		}
	}
	b = append(b, `{"type":`...)
	b = jsonw.AppendString(b, e.Type, escapeHTML)
	b = append(b, `,"request_id":`...)
	b = jsonw.AppendString(b, e.RequestID, escapeHTML)
	b = append(b, `,"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendOpt(b, `,"key_hash":`, e.KeyHash)
	b = appendOpt(b, `,"key_alias":`, e.KeyAlias)
	b = appendOpt(b, `,"user_id":`, e.UserID)
	b = appendOpt(b, `,"team_id":`, e.TeamID)
	b = appendOpt(b, `,"org_id":`, e.OrgID)
	b = appendOpt(b, `,"end_user":`, e.EndUserID)
	b = append(b, `,"auth":`...)
	b = jsonw.AppendString(b, e.Auth, escapeHTML)
	b = append(b, `,"model_group":`...)
	b = jsonw.AppendString(b, e.ModelGroup, escapeHTML)
	b = append(b, `,"model":`...)
	b = jsonw.AppendString(b, e.Model, escapeHTML)
	b = append(b, `,"deployment_id":`...)
	b = jsonw.AppendString(b, e.Deployment, escapeHTML)
	b = append(b, `,"provider":`...)
	b = jsonw.AppendString(b, e.Provider, escapeHTML)
	b = append(b, `,"prompt_tokens":`...)
	b = strconv.AppendInt(b, e.PromptTokens, 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, e.CompletionTokens, 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, e.TotalTokens, 10)
	if e.CachedTokens != 0 {
		b = append(b, `,"cached_tokens":`...)
		b = strconv.AppendInt(b, e.CachedTokens, 10)
	}
	if e.CacheCreationTokens != 0 {
		b = append(b, `,"cache_creation_tokens":`...)
		b = strconv.AppendInt(b, e.CacheCreationTokens, 10)
	}
	if e.Estimated {
		b = append(b, `,"estimated":true`...)
	}
	b = append(b, `,"cost":`...)
	b = appendFloat(b, e.Cost)
	b = append(b, `,"latency_ms":`...)
	b = appendFloat(b, e.LatencyMS)
	if e.TTFTMS != 0 {
		b = append(b, `,"ttft_ms":`...)
		b = appendFloat(b, e.TTFTMS)
	}
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"stream":`...)
	b = strconv.AppendBool(b, e.Stream)
	b = append(b, `,"outcome":`...)
	b = jsonw.AppendString(b, e.Outcome, escapeHTML)
	if e.PolicySeq != 0 {
		b = append(b, `,"policy_seq":`...)
		b = strconv.AppendUint(b, e.PolicySeq, 10)
	}
	b = appendOpt(b, `,"deny_reason":`, e.DenyReason)
	b = appendOpt(b, `,"deny_rule":`, e.DenyRule)
	b = append(b, `,"edge_id":`...)
	b = jsonw.AppendString(b, e.EdgeID, escapeHTML)
	b = appendOpt(b, `,"edge_instance":`, e.EdgeInstance)
	b = appendOpt(b, `,"region":`, e.Region)
	b = appendOpt(b, `,"client_request_id":`, e.ClientRequestID)
	b = appendOpt(b, `,"endpoint":`, e.Endpoint)
	b = appendOpt(b, `,"response_id":`, e.ResponseID)
	if len(e.RequestTags) > 0 {
		b = append(b, `,"request_tags":[`...)
		for i, t := range e.RequestTags {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonw.AppendString(b, t, escapeHTML)
		}
		b = append(b, ']')
	}
	return append(b, '}'), true
}

// appendOpt appends an omitempty string field.
func appendOpt(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	return jsonw.AppendString(append(b, name...), v, escapeHTML)
}

// appendFloat is encoding/json's float64 encoding (finite values).
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// exactJSON: appendEvent renders every field of this build's SpendEvent
// as json.Marshal does (checked once at start-up).
var exactJSON = encodeMatchesJSON()

// encodeMatchesJSON renders an event with every field set, through
// reflection so a field added later is set too, both ways.
func encodeMatchesJSON() bool {
	var e events.SpendEvent
	v := reflect.ValueOf(&e).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("x<é\u2028\"" + strconv.Itoa(i))
		case reflect.Int, reflect.Int64, reflect.Int32:
			f.SetInt(int64(i + 1))
		case reflect.Uint, reflect.Uint64, reflect.Uint32:
			f.SetUint(uint64(i + 1))
		case reflect.Float64:
			f.SetFloat(float64(i) + 0.25)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			if f.Type().Elem().Kind() != reflect.String {
				return false
			}
			f.Set(reflect.ValueOf([]string{"x<é\u2028\"" + strconv.Itoa(i), ""}))
		default:
			if f.Type() != reflect.TypeOf(time.Time{}) {
				return false
			}
			f.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)))
		}
	}
	want, err := json.Marshal(&e)
	got, ok := appendEventJSON(nil, &e)
	return err == nil && ok && string(got) == string(want)
}
