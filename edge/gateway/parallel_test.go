package gateway

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// A key's max_parallel_requests holds at the edge: with its limit in
// flight the next request is a 429 naming the limit, a stream holds its
// slot until it ends, and a finished request gives its slot back.
func TestMaxParallelRequests(t *testing.T) {
	gate := make(chan struct{})
	arrived := make(chan struct{}, 4)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		b, _ := io.ReadAll(r.Body)
		stream := strings.Contains(string(b), `"stream":true`)
		if stream {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write([]byte("data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"o\"}}]}\n\n"))
			w.(http.Flusher).Flush()
			<-gate
			_, _ = w.Write([]byte("data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}\n\ndata: [DONE]\n\n"))
			return
		}
		<-gate
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`))
	}))
	t.Cleanup(up.Close)
	e := startEdge(t, true)
	one := int64(1)
	const key = "sk-parallel-key-000000001"
	e.put(t, &events.Model{ID: "p1", ModelName: "m", LiteLLMParams: events.ModelParams{Model: "openai/gpt-4o", APIBase: up.URL}})
	e.put(t, &events.Key{Token: events.HashKey(key), MaxParallelRequests: &one})
	testutil.Eventually(t, 10*time.Second, func() error {
		if e.live.Load().NumKeys() != 1 || !e.live.Load().Catalog().Resolve("m").Found() {
			return errors.New("not applied")
		}
		return nil
	})
	chat := func(stream bool) (int, string) {
		b := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
		if stream {
			b = `{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`
		}
		return do(t, "POST", e.url+"/v1/chat/completions", bearer(key), b)
	}
	for _, stream := range []bool{false, true} {
		var wg sync.WaitGroup
		wg.Add(1)
		var firstCode int
		go func() {
			defer wg.Done()
			firstCode, _ = chat(stream)
		}()
		<-arrived // the first request is in flight
		code, body := chat(stream)
		if code != 429 || !strings.Contains(body, "Max parallel request limit reached for key:"+events.HashKey(key)) || !strings.Contains(body, "max_parallel_requests 1") {
			t.Fatalf("stream=%v: second request while one is in flight: %d %s", stream, code, body)
		}
		gate <- struct{}{}
		wg.Wait()
		if firstCode != 200 {
			t.Fatalf("stream=%v: first request %d", stream, firstCode)
		}
		// The slot came back: the next request is served.
		go func() { <-arrived; gate <- struct{}{} }()
		if code, body := chat(stream); code != 200 {
			t.Fatalf("stream=%v: after the first finished: %d %s", stream, code, body)
		}
	}
}
