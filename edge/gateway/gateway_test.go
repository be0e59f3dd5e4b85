package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/policy"
)

// edgeUnderTest is an edge fed straight from the stream: no control plane,
// as the contract package promises.
type edgeUnderTest struct {
	url  string
	js   jetstream.JetStream
	pub  *events.Publisher
	live *policy.Live
	g    *Gateway
}

func startEdge(t *testing.T, createStream bool) *edgeUnderTest {
	t.Helper()
	return startEdgeWith(t, createStream, Options{MasterKey: "sk-master-test-key"}, nil)
}

// startEdgeWith builds the edge with o (and setup, run before it serves).
func startEdgeWith(t *testing.T, createStream bool, o Options, setup func(g *Gateway, js jetstream.JetStream)) *edgeUnderTest {
	t.Helper()
	_, js := testutil.NewJetStream(t)
	if createStream {
		testutil.EnsureStreams(t, js)
	}
	live := &policy.Live{JS: js}
	testutil.Go(t, live.Run)
	g := New(live, o, o.Log)
	if setup != nil {
		setup(g, js)
	}
	o.BodyLimit = 1 << 20
	url := testutil.Serve(t, g.App(o))
	return &edgeUnderTest{url: url, js: js, pub: &events.Publisher{JS: js}, live: live, g: g}
}

func (e *edgeUnderTest) put(t *testing.T, obj any) {
	t.Helper()
	if _, err := e.pub.Publish(context.Background(), events.Change{Type: events.TypeFor(events.KindOf(obj), events.ActionUpserted), Object: obj}); err != nil {
		t.Fatal(err)
	}
}

func do(t *testing.T, method, url string, hdr map[string]string, body string) (int, string) {
	t.Helper()
	code, _, b := doH(t, method, url, hdr, body)
	return code, b
}

const chatBody = `{"model":"m","messages":[{"role":"user","content":"hi"}]}`

func bearer(k string) map[string]string { return map[string]string{"Authorization": "Bearer " + k} }

func TestFailsClosedUntilCaughtUp(t *testing.T) {
	e := startEdge(t, false) // no stream yet: the edge cannot know any policy
	for _, path := range []string{"/health/readiness", "/v1/models"} {
		if code, body := do(t, "GET", e.url+path, bearer("sk-master-test-key"), ""); code != 503 || !strings.Contains(body, "policy_not_ready") {
			t.Fatalf("%s before catch-up: %d %s", path, code, body)
		}
	}
	if code, _ := do(t, "POST", e.url+"/v1/chat/completions", bearer("sk-master-test-key"), chatBody); code != 503 {
		t.Fatalf("chat before catch-up: %d", code)
	}
	if code, _ := do(t, "GET", e.url+"/health/liveliness", nil, ""); code != 200 {
		t.Fatal("liveliness must not depend on policy")
	}
	testutil.EnsureStreams(t, e.js)
	e.put(t, &events.Model{ID: "m1", ModelName: "m", LiteLLMParams: events.ModelParams{Model: "mock/m"}})
	testutil.Eventually(t, 10*time.Second, func() error {
		if code, body := do(t, "POST", e.url+"/v1/chat/completions", bearer("sk-master-test-key"), chatBody); code != 200 {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
}

func TestCredentialHeaders(t *testing.T) {
	e := startEdge(t, true)
	e.put(t, &events.Model{ID: "m1", ModelName: "m", LiteLLMParams: events.ModelParams{Model: "mock/m"}})
	e.put(t, &events.Key{Token: events.HashKey("sk-virtual-key-000000001")})
	testutil.Eventually(t, 10*time.Second, func() error {
		if e.live.Load().NumKeys() != 1 {
			return fmt.Errorf("not applied")
		}
		return nil
	})
	for _, h := range []map[string]string{
		{"Authorization": "Bearer sk-virtual-key-000000001"},
		{"Authorization": "bearer sk-virtual-key-000000001"},
		{"api-key": "sk-virtual-key-000000001"},
		{"x-api-key": "sk-virtual-key-000000001"},
	} {
		if code, body := do(t, "POST", e.url+"/v1/chat/completions", h, chatBody); code != 200 {
			t.Errorf("%v: %d %s", h, code, body)
		}
	}
	if code, body := do(t, "POST", e.url+"/v1/chat/completions", map[string]string{"Authorization": "Token sk-virtual-key-000000001"}, chatBody); code != 401 || !strings.Contains(body, "Malformed") {
		t.Errorf("unsupported scheme: %d %s", code, body)
	}
	if code, body := do(t, "GET", e.url+"/key/info", bearer("sk-virtual-key-000000001"), ""); code != 404 || !strings.Contains(body, `"error"`) {
		t.Errorf("relay without control plane: %d %s", code, body)
	}
}

// TestStallsOnUnknownEvent: an event from a newer control plane stops the
// edge (readiness false, requests refused) instead of being skipped.
func TestStallsOnUnknownEvent(t *testing.T) {
	e := startEdge(t, true)
	e.put(t, &events.Model{ID: "m1", ModelName: "m", LiteLLMParams: events.ModelParams{Model: "mock/m"}})
	e.put(t, &events.Key{Token: events.HashKey("sk-virtual-key-000000001")})
	testutil.Eventually(t, 10*time.Second, func() error {
		if code, _ := do(t, "POST", e.url+"/v1/chat/completions", bearer("sk-virtual-key-000000001"), chatBody); code != 200 {
			return fmt.Errorf("%d", code)
		}
		return nil
	})
	future, _ := json.Marshal(events.Envelope{ID: "f1", Type: "gatehouse.key.v2.revoked", Data: json.RawMessage(`{"token":"x"}`)})
	if _, err := e.js.PublishMsg(context.Background(), &nats.Msg{Subject: events.Subject(events.KindKey, "future"), Data: future}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() error {
		if code, body := do(t, "GET", e.url+"/health/readiness", nil, ""); code != 503 || !strings.Contains(body, "unknown event type") {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	if code, _ := do(t, "POST", e.url+"/v1/chat/completions", bearer("sk-virtual-key-000000001"), chatBody); code != 503 {
		t.Fatalf("a stalled edge must refuse requests, got %d", code)
	}
}

// TestServesWhileApplying: requests and event application run at once
// (meaningful under -race): every request sees a consistent snapshot.
func TestServesWhileApplying(t *testing.T) {
	e := startEdge(t, true)
	e.put(t, &events.Model{ID: "m1", ModelName: "m", LiteLLMParams: events.ModelParams{Model: "mock/m"}})
	e.put(t, &events.Team{TeamID: "t", Models: []string{"m"}})
	e.put(t, &events.Key{Token: events.HashKey("sk-virtual-key-000000001"), TeamID: "t"})
	testutil.Eventually(t, 10*time.Second, func() error {
		if code, _ := do(t, "POST", e.url+"/v1/chat/completions", bearer("sk-virtual-key-000000001"), chatBody); code != 200 {
			return fmt.Errorf("%d", code)
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequest("POST", e.url+"/v1/chat/completions", strings.NewReader(chatBody))
				req.Header.Set("Authorization", "Bearer sk-virtual-key-000000001")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err.Error()
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- fmt.Sprint(resp.StatusCode)
					return
				}
			}
		}()
	}
	for i := range 200 {
		e.put(t, &events.Key{Token: events.HashKey(fmt.Sprintf("sk-other-%d", i)), TeamID: "t"})
		if i%20 == 0 {
			e.put(t, &events.Team{TeamID: "t", Models: []string{"m", fmt.Sprintf("x-%d", i)}})
		}
	}
	testutil.Eventually(t, 10*time.Second, func() error {
		if n := e.live.Load().NumKeys(); n != 201 {
			return fmt.Errorf("%d keys", n)
		}
		return nil
	})
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal("request failed while events were applied:", err)
	}
}

// The chat handler refuses what OpenAI refuses before anything is
// forwarded or billed.
func TestChatRequestValidation(t *testing.T) {
	e := startEdge(t, true)
	e.put(t, &events.Model{ID: "m1", ModelName: "m", LiteLLMParams: events.ModelParams{Model: "mock/m"}})
	testutil.Eventually(t, 10*time.Second, func() error {
		if code, body := do(t, "POST", e.url+"/v1/chat/completions", bearer("sk-master-test-key"), chatBody); code != 200 {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	for body, param := range map[string]string{
		`{"model":"m","messages":[]}`:     "messages",
		`{"model":"m","messages":[ ]}`:    "messages",
		`{"model":"m","messages":"hi"}`:   "messages",
		`{"model":"m"}`:                   "messages",
		`{"messages":[{"content":"hi"}]}`: "model",
	} {
		code, got := do(t, "POST", e.url+"/v1/chat/completions", bearer("sk-master-test-key"), body)
		if code != 400 || !strings.Contains(got, `"param":"`+param+`"`) {
			t.Errorf("%s: %d %s", body, code, got)
		}
	}
}
