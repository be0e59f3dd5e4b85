package policy

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// checkDecodeKey: decodeKey gives what json.Unmarshal gives, value and
// failure alike.
func checkDecodeKey(t *testing.T, line []byte) {
	t.Helper()
	var want, got events.Key
	wantErr := json.Unmarshal(line, &want)
	gotErr := decodeKey(line, &got)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("%s: decodeKey error %v, json.Unmarshal %v", line, gotErr, wantErr)
	}
	if wantErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\ndecodeKey      %+v\njson.Unmarshal %+v", line, got, want)
	}
}

func keyLines(t *testing.T) [][]byte {
	var out [][]byte
	for _, o := range oddKeys() {
		if k, ok := o.(*events.Key); ok {
			b, err := json.Marshal(k)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}

// TestDecodeKeyFastPath: what WriteSnapshot writes for keys without
// aliases or metadata is read by the scanner itself, not by the fallback,
// and read right.
func TestDecodeKeyFastPath(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.UTC)
	n, f := int64(-7), 2.5e-3
	for _, k := range []*events.Key{
		{Token: events.HashKey("sk-1"), KeyName: "sk-...x1", KeyAlias: "key-1", Models: []string{"gpt-4o"}, TeamID: "t", UserID: "u", CreatedBy: "scale", CreatedAt: at, UpdatedAt: at},
		{Token: events.HashKey("sk-2"), Models: []string{}, OrganizationID: "o", Blocked: true, Expires: &at, MaxBudget: &f, BudgetDuration: "30d",
			TPMLimit: &n, RPMLimit: &n, MaxParallelRequests: &n, AllowedRoutes: []string{"llm_api_routes", "/v1/*"}, RegeneratedFrom: events.HashKey("sk-0"),
			CreatedAt: at.In(time.FixedZone("CEST", 7200)), BudgetFlag: events.BudgetFlag{BudgetExceeded: true, BudgetResetAt: &at}},
		{Token: "x", KeyName: "é ünïcode ✓"},
	} {
		line, _ := json.Marshal(k)
		var got events.Key
		if !scanKey(line, &got) {
			t.Fatalf("%s: not read by the scanner", line)
		}
		checkDecodeKey(t, line)
	}
}

// TestDecodeKeyFallback: lines the scanner does not vouch for decode as
// json.Unmarshal decodes them, errors included.
func TestDecodeKeyFallback(t *testing.T) {
	for _, l := range keyLines(t) {
		checkDecodeKey(t, l)
	}
	for _, l := range []string{
		`{"token":"a\u0062","key_name":"x","models":null,"blocked":false,"expires":null,"max_budget":null,"tpm_limit":null,"rpm_limit":null,"max_parallel_requests":null,"created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}`,
		`{"token":"a", "key_name":"x"}`,
		`{"key_name":"x","token":"a"}`,
		`{"token":"a","key_name":"x","models":null,"blocked":false,"expires":null,"max_budget":null,"tpm_limit":1.5,"rpm_limit":null,"max_parallel_requests":null,"created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}`,
		`{"token":"a","key_name":"x","models":null,"blocked":false,"expires":null,"max_budget":null,"tpm_limit":1e3,"rpm_limit":null,"max_parallel_requests":null,"created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}`,
		`{"token":"a","key_name":"x","models":null,"blocked":false,"expires":null,"max_budget":null,"tpm_limit":01,"rpm_limit":null,"max_parallel_requests":null,"created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}`,
		`{"token":"a","key_name":"x","models":null,"blocked":false,"expires":null,"max_budget":+1,"tpm_limit":null,"rpm_limit":null,"max_parallel_requests":null,"created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}`,
		`{"token":"a","key_name":"x","models":null,"blocked":false,"expires":null,"max_budget":1.,"tpm_limit":null,"rpm_limit":null,"max_parallel_requests":null,"created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}`,
		`{"token":"a","key_name":"x","models":null,"blocked":false,"expires":null,"max_budget":null,"tpm_limit":99999999999999999999,"rpm_limit":null,"max_parallel_requests":null,"created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}`,
		`{"token":"a","key_name":"x","models":[null],"blocked":false,"expires":null,"max_budget":null,"tpm_limit":null,"rpm_limit":null,"max_parallel_requests":null,"created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}`,
		`{"token":"a","key_name":"x","models":null,"blocked":false,"expires":"yesterday","max_budget":null,"tpm_limit":null,"rpm_limit":null,"max_parallel_requests":null,"created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}`,
		`{"token":"a","key_name":"x","models":null,"blocked":false,"expires":null,"max_budget":null,"tpm_limit":null,"rpm_limit":null,"max_parallel_requests":null,"created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z"}x`,
		`{"token":"a","key_name":"x","models":null,"blocked":false,"expires":null,"max_budget":null,"tpm_limit":null,"rpm_limit":null,"max_parallel_requests":null,"created_at":"0001-01-01T00:00:00Z","updated_at":"0001-01-01T00:00:00Z","extra":1}`,
		"{\"token\":\"\xff\",\"key_name\":\"x\"}",
		"{\"token\":\"a\tb\",\"key_name\":\"x\"}",
		`{"token":"a","key_name":"x","models":null`,
		``,
	} {
		checkDecodeKey(t, []byte(l))
	}
}

// FuzzDecodeKey: go test ./policy -run '^$' -fuzz FuzzDecodeKey -fuzztime 30s
func FuzzDecodeKey(f *testing.F) {
	for _, o := range oddKeys() {
		if k, ok := o.(*events.Key); ok {
			b, _ := json.Marshal(k)
			f.Add(b)
			k.Aliases, k.Metadata = nil, nil
			b, _ = json.Marshal(k)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) { checkDecodeKey(t, line) })
}

// BenchmarkDecodeKey: one snapshot key line, as WriteSnapshot writes a
// typical key, by the scanner and by json.Unmarshal (its fallback).
// go test ./policy -run '^$' -bench DecodeKey -benchmem
func BenchmarkDecodeKey(b *testing.B) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.UTC)
	line, err := json.Marshal(&events.Key{Token: events.HashKey("sk-1"), KeyName: "sk-...abcd", KeyAlias: "key-1", Models: []string{"gpt-4o"},
		TeamID: "team-1", UserID: "user-1", CreatedAt: at, UpdatedAt: at})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		decode func([]byte, *events.Key) error
	}{{"scanner", decodeKey}, {"json.Unmarshal", func(b []byte, k *events.Key) error { return json.Unmarshal(b, k) }}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var k events.Key
				if err := c.decode(line, &k); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
