package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/policy"
)

// BenchmarkChatMock is one chat completion through the whole edge app
// (middleware, auth, policy, routing, the mock provider, response), served
// in process without a network: the edge's own cost per request, with
// metrics always on and the access log off or on (JSON, discarded).
func BenchmarkChatMock(b *testing.B) {
	for _, accessLog := range []bool{false, true} {
		b.Run(fmt.Sprintf("access_log=%v", accessLog), func(b *testing.B) {
			benchChat(b, func(o *Options) { o.AccessLog = accessLog })
		})
	}
}

// BenchmarkChatUpstream is the same through an OpenAI-compatible upstream
// on loopback (a fasthttp server in this process answering a fixed
// completion with usage): the path a real deployment takes, with the
// upstream client, the rewrite, the usage scan and the answer's redaction.
func BenchmarkChatUpstream(b *testing.B) {
	answer := []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"up","choices":[{"index":0,"message":{"role":"assistant","content":"This is a canned answer from the upstream."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18}}`)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	up := &fasthttp.Server{Handler: func(rc *fasthttp.RequestCtx) {
		rc.SetContentType("application/json")
		rc.SetBody(answer)
	}}
	go up.Serve(ln)     //nolint:errcheck
	defer up.Shutdown() //nolint:errcheck
	benchChatModel(b, events.ModelParams{Model: "openai/up", APIBase: "http://" + ln.Addr().String() + "/v1", APIKey: "sk-upstream"}, func(*Options) {})
}

func benchChat(b *testing.B, opt func(*Options)) {
	benchChatModel(b, events.ModelParams{Model: "mock/m"}, opt)
}

func benchChatModel(b *testing.B, params events.ModelParams, opt func(*Options)) {
	_, js := testutil.NewJetStream(b)
	testutil.EnsureStreams(b, js)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	live := &policy.Live{JS: js, Log: slog.New(slog.DiscardHandler)}
	testutil.Go(b, live.Run)
	pub := &events.Publisher{JS: js}
	const key = "sk-bench-key-0000000000001"
	for _, obj := range []any{
		&events.Model{ID: "m1", ModelName: "m", LiteLLMParams: params},
		&events.Key{Token: events.HashKey(key), Models: []string{"m"}},
	} {
		if _, err := pub.Publish(ctx, events.Change{Type: events.TypeFor(events.KindOf(obj), events.ActionUpserted), Object: obj}); err != nil {
			b.Fatal(err)
		}
	}
	testutil.Eventually(b, 10*time.Second, func() error {
		if !live.Ready() || live.Load().NumKeys() != 1 {
			return fmt.Errorf("not ready")
		}
		return nil
	})
	o := Options{Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	opt(&o)
	g := New(live, o, o.Log)
	h := g.App(o).Handler()
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"hello there"}]}`)
	var rc fasthttp.RequestCtx
	req := &rc.Request
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req.Reset()
		rc.Response.Reset()
		req.Header.SetMethod("POST")
		req.SetRequestURI("/v1/chat/completions")
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.SetContentType("application/json")
		req.SetBody(body)
		h(&rc)
		if rc.Response.StatusCode() != 200 {
			b.Fatalf("%d %s", rc.Response.StatusCode(), rc.Response.Body())
		}
	}
}

// BenchmarkPick is the balancer's cost per attempt: nothing for a group
// of one, a few map loads for a group of three.
func BenchmarkPick(b *testing.B) {
	bal := newLoadBalancer(time.Now)
	for _, bc := range []struct {
		name string
		ds   []*policy.Deployment
		rs   *policy.Routing
	}{
		{"single", deps(0), policy.CompileRouting(nil)},
		{"shuffle-3", deps(0, 0, 0), policy.CompileRouting(nil)},
		{"weighted-3", deps(1, 2, 3), policy.CompileRouting(nil)},
		{"least-busy-3", deps(0, 0, 0), policy.CompileRouting(&events.RoutingSettings{RoutingStrategy: events.RoutingLeastBusy})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if d, _, _ := bal.pick(bc.ds, bc.rs, nil); d == nil {
					b.Fatal("no deployment")
				}
			}
		})
	}
}
