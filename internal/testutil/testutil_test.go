package testutil

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
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
	_, js := NewJetStream(t)
	EnsureStream(t, js, events.EnsureSpendStream)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
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

// Go's goroutine has returned when the test that started it has ended:
// its context is cancelled at cleanup, and cleanup waits for it.
func TestGoStopsWithTheTest(t *testing.T) {
	returned := make(chan struct{})
	t.Run("inner", func(t *testing.T) {
		Go(t, func(ctx context.Context) error {
			defer close(returned)
			<-ctx.Done()
			return ctx.Err()
		})
	})
	select {
	case <-returned:
	default:
		t.Fatal("the goroutine outlived its test")
	}
}

// Receive hands over a value sent, and the zero value of a closed
// channel (a signal).
func TestReceive(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	if v := Receive(t, ch, time.Second, "value"); v != 7 {
		t.Fatalf("got %d, want 7", v)
	}
	close(ch)
	if v := Receive(t, ch, time.Second, "closed"); v != 0 {
		t.Fatalf("got %d from a closed channel", v)
	}
}

// httpApp is an App over net/http, standing in for a *fiber.App.
type httpApp struct{ srv *http.Server }

func (a httpApp) Listener(ln net.Listener) error { return a.srv.Serve(ln) }

func (a httpApp) ShutdownWithTimeout(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return a.srv.Shutdown(ctx)
}

// Serve answers on the URL it returns.
func TestServe(t *testing.T) {
	app := httpApp{&http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "served") })}}
	url := Serve(t, app)
	resp, body, err := Do(http.DefaultClient, "GET", url+"/", "", nil, nil)
	if err != nil || resp.StatusCode != 200 || string(body) != "served" {
		t.Fatalf("GET %s: %v %s %v", url, resp, body, err)
	}
}
