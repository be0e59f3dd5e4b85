package spend

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/events"
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
	b = appendString(b, e.Type)
	b = append(b, `,"request_id":`...)
	b = appendString(b, e.RequestID)
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
	b = appendString(b, e.Auth)
	b = append(b, `,"model_group":`...)
	b = appendString(b, e.ModelGroup)
	b = append(b, `,"model":`...)
	b = appendString(b, e.Model)
	b = append(b, `,"deployment_id":`...)
	b = appendString(b, e.Deployment)
	b = append(b, `,"provider":`...)
	b = appendString(b, e.Provider)
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
	b = appendString(b, e.Outcome)
	if e.PolicySeq != 0 {
		b = append(b, `,"policy_seq":`...)
		b = strconv.AppendUint(b, e.PolicySeq, 10)
	}
	b = appendOpt(b, `,"deny_reason":`, e.DenyReason)
	b = appendOpt(b, `,"deny_rule":`, e.DenyRule)
	b = append(b, `,"edge_id":`...)
	b = appendString(b, e.EdgeID)
	b = appendOpt(b, `,"edge_instance":`, e.EdgeInstance)
	b = appendOpt(b, `,"region":`, e.Region)
	b = appendOpt(b, `,"client_request_id":`, e.ClientRequestID)
	return append(b, '}'), true
}

// appendOpt appends an omitempty string field.
func appendOpt(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	return appendString(append(b, name...), v)
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

const hexDigits = "0123456789abcdef"

// appendString is encoding/json's string encoding with HTML escaping (its
// default): quotes, backslash, control bytes, <, > and &, invalid UTF-8 as
// U+FFFD, and U+2028/U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(b, s[start:]...), '"')
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
