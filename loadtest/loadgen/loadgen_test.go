package loadgen

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/loadtest/mockupstream"
)

func startMock(t *testing.T, o mockupstream.Options) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := mockupstream.New(o)
	go s.Serve(ln) //nolint:errcheck
	t.Cleanup(s.Close)
	return ln.Addr().String()
}

func target(addr string, stream bool) Target {
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	if stream {
		body = `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
	}
	return Target{Name: "mock", Addr: addr, Path: "/v1/chat/completions", Body: []byte(body)}
}

func TestClosedAndOpen(t *testing.T) {
	addr := startMock(t, mockupstream.Options{})
	r := Closed(context.Background(), target(addr, false), 4, 300*time.Millisecond)
	if r.OK == 0 || r.Failed != 0 || int64(len(r.Latencies)) != r.OK || r.Pct(.5) <= 0 || r.Pct(.5) > r.Pct(.99) {
		t.Fatalf("closed: %+v", r.Statuses)
	}
	o := Open(context.Background(), target(addr, false), 500, 400*time.Millisecond, 4)
	if o.Sent != 200 || o.OK != 200 || o.Failed != 0 {
		t.Fatalf("open: sent %d ok %d failed %d %s", o.Sent, o.OK, o.Failed, o.FirstErr)
	}
	// A wrong path is a failure with its status, not a success.
	bad := target(addr, false)
	bad.Path = "/nope"
	if r := Closed(context.Background(), bad, 1, 50*time.Millisecond); r.OK != 0 || r.Statuses[404] == 0 {
		t.Fatalf("404s counted as %d ok, statuses %v", r.OK, r.Statuses)
	}
}

func TestStreamsCountFrames(t *testing.T) {
	addr := startMock(t, mockupstream.Options{Chunks: 5, ChunkInterval: time.Millisecond})
	r := Streams(context.Background(), target(addr, true), 4, 300*time.Millisecond, 5+3)
	if r.OK == 0 || r.Failed != 0 || r.Lost != 0 || r.Frames == 0 || len(r.TTFT) != int(r.OK) {
		t.Fatalf("streams: %+v", r)
	}
	// Expecting a different count flags every stream as lost.
	if r := Streams(context.Background(), target(addr, true), 2, 100*time.Millisecond, 9); r.Lost == 0 || r.OK != 0 {
		t.Fatalf("wrong expected count: lost %d ok %d", r.Lost, r.OK)
	}
}
