package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/policy"
)

// BenchmarkChatSingleDeployment drives the chat handler in process (no
// sockets) for a model group of one mock deployment: the path every
// single-deployment request takes through auth, routing and the
// forwarder, without the upstream's own cost.
func BenchmarkChatSingleDeployment(b *testing.B) {
	ns := testutil.RunJetStream(b)
	_, js := testutil.Connect(b, ns.ClientURL())
	testutil.EnsureStreams(b, js)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	live := &policy.Live{JS: js}
	go func() { _ = live.Run(ctx) }()
	pub := &events.Publisher{JS: js}
	m := &events.Model{ID: "m1", ModelName: "m", LiteLLMParams: events.ModelParams{Model: "mock/m"}}
	if _, err := pub.Publish(ctx, events.Change{Type: events.ModelUpserted, Object: m}); err != nil {
		b.Fatal(err)
	}
	testutil.Eventually(b, 10*time.Second, func() error {
		if err := live.Check(); err != nil {
			return err
		}
		if !live.Load().Router().Resolve("m").Found() {
			return context.DeadlineExceeded
		}
		return nil
	})
	g := New(live, Options{MasterKey: "sk-master-test-key"}, nil)
	h := g.App(Options{}).Handler()
	var rc fasthttp.RequestCtx
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rc.Request.Reset()
		rc.Response.Reset()
		rc.Request.Header.SetMethod("POST")
		rc.Request.SetRequestURI("/v1/chat/completions")
		rc.Request.Header.Set("Authorization", "Bearer sk-master-test-key")
		rc.Request.Header.SetContentType("application/json")
		rc.Request.SetBodyString(chatBody)
		h(&rc)
		if rc.Response.StatusCode() != 200 {
			b.Fatalf("status %d: %s", rc.Response.StatusCode(), rc.Response.Body())
		}
	}
}

// BenchmarkPick is the balancer's cost per attempt: nothing for a group
// of one, a few map loads for a group of three.
func BenchmarkPick(b *testing.B) {
	bal := newBalancer(time.Now)
	for _, bc := range []struct {
		name string
		ds   []*policy.Deployment
		rs   *events.RouterSettings
	}{
		{"single", deps(0), nil},
		{"shuffle-3", deps(0, 0, 0), nil},
		{"weighted-3", deps(1, 2, 3), nil},
		{"least-busy-3", deps(0, 0, 0), &events.RouterSettings{RoutingStrategy: events.RoutingLeastBusy}},
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
