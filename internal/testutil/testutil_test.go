package testutil

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
)

// ReadSpend and SpendReader against a real JetStream: single events and
// batches come back in stream order, a second Read continues where the
// first stopped, and a message that does not decode is an error.
func TestSpendReader(t *testing.T) {
	s := RunJetStream(t)
	_, js := Connect(t, s.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := events.EnsureSpendStream(ctx, js, events.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	publish := func(id string, v any) {
		t.Helper()
		b, _ := json.Marshal(v)
		if _, err := js.Publish(ctx, events.SpendSubjectPrefix+".edge-1", b, jetstream.WithMsgID(id)); err != nil {
			t.Fatal(err)
		}
	}
	publish("r1", events.SpendEvent{Type: events.SpendV1, RequestID: "r1"})
	publish("b1", events.SpendBatch{Type: events.SpendBatchV1, BatchID: "b1", Events: []events.SpendEvent{{RequestID: "r2"}, {RequestID: "r3"}}})

	r, err := NewSpendReader(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	collect := func(_ jetstream.Msg, id string, evs []events.SpendEvent) error {
		for _, ev := range evs {
			got = append(got, id+":"+ev.RequestID)
		}
		return nil
	}
	if err := r.Read(ctx, collect); err != nil {
		t.Fatal(err)
	}
	publish("r4", events.SpendEvent{RequestID: "r4"})
	if err := r.Read(ctx, collect); err != nil {
		t.Fatal(err)
	}
	if want := "r1:r1 b1:r2 b1:r3 r4:r4"; strings.Join(got, " ") != want {
		t.Fatalf("read %q, want %q", strings.Join(got, " "), want)
	}
	all, err := ReadSpend(ctx, js)
	if err != nil || len(all) != 4 {
		t.Fatalf("ReadSpend = %d events, %v", len(all), err)
	}

	publish("bad", map[string]any{"type": "gatehouse.spend.v9"})
	if err := r.Read(ctx, collect); err == nil {
		t.Fatal("a message of an unknown type was read without an error")
	}
}

func TestNewRequest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s|%s|%s|%s|%s", r.Method, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.Header.Get("X-Extra"), b)
	}))
	defer srv.Close()
	tests := []struct {
		name    string
		method  string
		bearer  string
		body    any
		headers map[string]string
		want    string
	}{
		{"no body, no credential", "GET", "", nil, nil, "GET||||"},
		{"JSON body and bearer", "POST", "sk-1", map[string]any{"a": 1}, nil, `POST|Bearer sk-1|application/json||{"a":1}`},
		{"raw string sent as is", "POST", "", `{"a":`, nil, `POST||application/json||{"a":`},
		{"raw bytes and a header", "POST", "", []byte("x"), map[string]string{"X-Extra": "y"}, "POST||application/json|y|x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, raw, err := Do(srv.Client(), tt.method, srv.URL, tt.bearer, tt.body, tt.headers)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || string(raw) != tt.want {
				t.Fatalf("%d %q, want %q", resp.StatusCode, raw, tt.want)
			}
		})
	}
}
