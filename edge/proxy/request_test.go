package proxy

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestParseChatRequest(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       ChatRequest
		wantErr    error
		wantField  string
	}{
		{name: "plain", body: `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`,
			want: ChatRequest{Model: "gpt-4o", Messages: true}},
		{name: "stream true", body: ` { "stream" : true , "model":"m","messages":[1]} `, want: ChatRequest{Model: "m", Stream: true, Messages: true}},
		{name: "stream null", body: `{"stream":null,"model":"m","messages":[1]}`, want: ChatRequest{Model: "m", Messages: true}},
		{name: "escaped model", body: `{"model":"a\u002fb","messages":[1]}`, want: ChatRequest{Model: "a/b", Messages: true}},
		{name: "last model wins", body: `{"model":"a","model":"b","messages":[1]}`, want: ChatRequest{Model: "b", Messages: true}},
		{name: "nested model ignored", body: `{"messages":[{"model":"x"}],"tools":[{"model":"y"}]}`, want: ChatRequest{Messages: true}},
		{name: "null model", body: `{"model":null,"messages":[1]}`, want: ChatRequest{Messages: true}},
		{name: "empty messages", body: `{"model":"m","messages":[ ]}`, want: ChatRequest{Model: "m"}},
		{name: "messages object", body: `{"model":"m","messages":{}}`, want: ChatRequest{Model: "m"}},
		{name: "case-insensitive, last wins (as encoding/json)", body: `{"model":"a","Model":"b","MESSAGES":[1]}`, want: ChatRequest{Model: "b", Messages: true}},
		{name: "escaped key", body: `{"mod\u0065l":"m","messages":[1]}`, want: ChatRequest{Model: "m", Messages: true}},
		{name: "model number", body: `{"model":4,"messages":[1]}`, wantErr: errType, wantField: "model"},
		{name: "end user", body: `{"model":"m","messages":[1],"user":"cust-1"}`, want: ChatRequest{Model: "m", Messages: true, User: "cust-1"}},
		{name: "escaped end user", body: `{"user":"c\u0031","user":null,"USER":"c\u00e9"}`, want: ChatRequest{User: "c\u00e9"}},
		{name: "user number", body: `{"model":"m","user":7}`, wantErr: errType, wantField: "user"},
		{name: "stream string", body: `{"model":"m","stream":"yes"}`, wantErr: errType, wantField: "stream"},
		{name: "truncated", body: `{"model":"m","messages":[`, wantErr: ErrInvalidJSON},
		{name: "trailing garbage", body: `{"model":"m"} x`, wantErr: ErrInvalidJSON},
		{name: "empty", body: ``, wantErr: ErrInvalidJSON},
		{name: "array", body: `[{"model":"m"}]`, wantErr: ErrNotObject},
		{name: "string", body: `"m"`, wantErr: ErrNotObject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseChatRequest([]byte(tc.body))
			switch {
			case tc.wantErr == errType:
				var fe *FieldTypeError
				if !errors.As(err, &fe) || fe.Field != tc.wantField {
					t.Fatalf("err = %v, want a type error on %s", err, tc.wantField)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			case err != nil || got != tc.want:
				t.Fatalf("ParseChatRequest = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

var errType = errors.New("type error")

// FuzzParseChatRequest: the scanner agrees with encoding/json on every
// input json accepts as an object.
func FuzzParseChatRequest(f *testing.F) {
	for _, s := range []string{`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`,
		`{"model":"a\"b","messages":[]}`, `{"model":null}`, `[]`, `{"stream":1}`,
		`{"model":"m","fallbacks":["a"],"FallBacks":null}`, `{"fallbacks":[{"model":"x"}],"model":"m"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := ParseChatRequest(body)
		var ref struct {
			Model    *string         `json:"model"`
			Stream   *bool           `json:"stream"`
			Messages json.RawMessage `json:"messages"`
			User     *string         `json:"user"`
			// Fallbacks is kept raw, as the parser keeps it.
			Fallbacks json.RawMessage `json:"fallbacks"`
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) != nil || obj == nil {
			if err == nil {
				t.Fatalf("accepted what encoding/json refuses as an object: %q", body)
			}
			return
		}
		refErr := json.Unmarshal(body, &ref)
		if (refErr == nil) != (err == nil) {
			t.Fatalf("err %v, encoding/json %v: %q", err, refErr, body)
		}
		if err != nil {
			return
		}
		want := ChatRequest{Stream: ref.Stream != nil && *ref.Stream}
		if ref.Model != nil {
			want.Model = *ref.Model
		}
		if ref.User != nil {
			want.User = *ref.User
		}
		if fb := string(ref.Fallbacks); fb != "null" {
			want.Fallbacks = fb
		}
		m := ref.Messages
		want.Messages = len(m) > 0 && m[0] == '[' && json.Unmarshal(m, new([]json.RawMessage)) == nil && len(mustArray(m)) > 0
		if got != want {
			t.Fatalf("got %+v, want %+v: %q", got, want, body)
		}
	})
}

func mustArray(m json.RawMessage) []json.RawMessage {
	var a []json.RawMessage
	_ = json.Unmarshal(m, &a)
	return a
}

// BenchmarkParseChatRequest is the request scan of every LLM call, on the
// body the load generator sends (loadtest/cmd/load).
func BenchmarkParseChatRequest(b *testing.B) {
	body := []byte(`{"model":"bench-fast","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Benchmark prompt text. Benchmark prompt text. Benchmark prompt text. Benchmark prompt text."}],"temperature":0.2,"max_tokens":256}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseChatRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}
