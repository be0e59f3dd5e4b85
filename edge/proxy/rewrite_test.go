package proxy

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestRewriteModel(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		model string
		want  string
		err   error
	}{
		{
			name:  "preserves other fields and order",
			body:  `{"stream":true,"model":"my-group","temperature":0.70,"messages":[{"role":"user","content":"hi"}]}`,
			model: "gpt-4o",
			want:  `{"stream":true,"model":"gpt-4o","temperature":0.70,"messages":[{"role":"user","content":"hi"}]}`,
		},
		{
			name:  "request-level fallbacks are not sent upstream",
			body:  `{"model":"g","fallbacks":["a",{"model":"b"}],"n":1}`,
			model: "u",
			want:  `{"model":"u","n":1}`,
		},
		{
			name:  "fallbacks last, first and repeated",
			body:  `{"fallbacks":["x"], "model":"g" ,"fallbacks":[] , "fallbacks":null}`,
			model: "u",
			want:  `{"model":"u"}`,
		},
		{
			name:  "whitespace around key and value",
			body:  "{\n  \"model\" :\t \"a\" ,\n  \"n\": 1e3\n}\n",
			model: "b",
			want:  "{\n  \"model\" :\t \"b\" ,\n  \"n\": 1e3\n}\n",
		},
		{
			name:  "escaped strings before and in the model",
			body:  `{"messages":[{"role":"user","content":"say \"model\": \"x\" \\"}],"model":"a\"b\\c"}`,
			model: "up",
			want:  `{"messages":[{"role":"user","content":"say \"model\": \"x\" \\"}],"model":"up"}`,
		},
		{
			name:  "nested model keys untouched",
			body:  `{"tools":[{"function":{"parameters":{"model":"keep"}}}],"metadata":{"model":"keep"},"model":"g"}`,
			model: "u",
			want:  `{"tools":[{"function":{"parameters":{"model":"keep"}}}],"metadata":{"model":"keep"},"model":"u"}`,
		},
		{
			name:  "escaped key spelling is still the model",
			body:  `{"mod\u0065l":"g","x":[1,2,{"a":null}]}`,
			model: "u",
			want:  `{"mod\u0065l":"u","x":[1,2,{"a":null}]}`,
		},
		{
			name:  "duplicate top-level model keys all replaced",
			body:  `{"model":"a","model":"b"}`,
			model: "u",
			want:  `{"model":"u","model":"u"}`,
		},
		{
			name:  "new model needs escaping",
			body:  `{"model":"g"}`,
			model: "we\"ird\\\n\x01é",
			want:  `{"model":"we\"ird\\\n\u0001é"}`,
		},
		{
			name:  "invalid utf-8 in new model",
			body:  `{"model":"g"}`,
			model: "a\xffb",
			want:  `{"model":"a\ufffdb"}`,
		},
		{name: "invalid json", body: `{"model":"g",}`, model: "u", err: ErrInvalidJSON},
		{name: "truncated", body: `{"model":"g"`, model: "u", err: ErrInvalidJSON},
		{name: "empty", body: ``, model: "u", err: ErrInvalidJSON},
		{name: "array", body: `[{"model":"g"}]`, model: "u", err: ErrNotObject},
		{name: "string", body: `"model"`, model: "u", err: ErrNotObject},
		{name: "missing model", body: `{"messages":[{"model":"g"}]}`, model: "u", err: ErrNoModel},
		{name: "empty object", body: ` {} `, model: "u", err: ErrNoModel},
		{name: "model not a string", body: `{"model":42}`, model: "u", err: ErrModelType},
		{name: "model null", body: `{"model":null}`, model: "u", err: ErrModelType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RewriteModel([]byte(tt.body), tt.model)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Fatalf("output is not valid JSON: %s", got)
			}
			// Decoding agrees: the model is the new one, everything else equal.
			var in, out map[string]any
			_ = json.Unmarshal([]byte(tt.body), &in)
			_ = json.Unmarshal(got, &out)
			if !strings.Contains(tt.model, "\xff") && out["model"] != tt.model {
				t.Fatalf("decoded model = %q, want %q", out["model"], tt.model)
			}
			delete(in, "model")
			delete(out, "model")
			delete(in, "fallbacks") // the gateway's, never sent upstream
			if !reflect.DeepEqual(in, out) {
				t.Fatalf("other fields changed:\n in  %v\n out %v", in, out)
			}
		})
	}
}

func TestEventScanner(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		// want are the offsets (exclusive ends) where events end.
		want []int
	}{
		{"lf", "data: a\n\ndata: b\n\n", []int{9, 18}},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []int{10, 21}},
		{"cr", "data: a\r\rdata: b\r\r", []int{9, 18}},
		{"multi-line event", "event: x\ndata: a\ndata: b\n\n", []int{26}},
		{"comment then event", ": ping\n\ndata: a\n\n", []int{8, 17}},
		{"unterminated", "data: a\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s eventScanner
			var got []int
			for i := 0; i < len(tt.stream); i++ {
				if s.step(tt.stream[i]) {
					got = append(got, i+1)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("boundaries %v, want %v", got, tt.want)
			}
		})
	}
}

func BenchmarkRewriteModel(b *testing.B) {
	msg := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 40)
	body := []byte(`{"messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"` + msg +
		`"}],"temperature":0.2,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"model":{"type":"string"}}}}}],"model":"my-group","stream":true}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := RewriteModel(body, "gpt-4o-2024-08-06"); err != nil {
			b.Fatal(err)
		}
	}
}
