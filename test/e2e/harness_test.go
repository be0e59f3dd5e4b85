package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/childproc"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

const masterKey = "sk-e2e-master-key-0123456789"

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "gatehouse")
	build := exec.Command("go", "build", "-o", binary, "../../cmd/gatehouse")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build failed:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a gatehouse process, restartable with the same arguments; its
// log survives restarts.
type proc struct {
	t    *testing.T
	name string
	args []string
	env  []string
	cur  *childproc.Proc // nil while stopped
	log  *childproc.LockedBuffer
	addr string
}

// start runs the binary and waits for /health/readiness.
func start(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, args: args, env: env, log: &childproc.LockedBuffer{}}
	// Registered before run so a process that never gets ready is stopped
	// and its log shown.
	defer p.run()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- %s log ---\n%s", p.name, p.log.String())
		}
	})
	return p
}

// launch starts the process without waiting for readiness (to watch it
// come up).
func (p *proc) launch() {
	p.t.Helper()
	c, err := childproc.Start(childproc.Spec{Name: p.name, Path: binary, Args: p.args, Env: p.env, Log: p.log})
	if err != nil {
		p.t.Fatal(err)
	}
	p.cur = c
}

func (p *proc) run() {
	p.t.Helper()
	p.launch()
	if p.addr = p.arg("-listen"); p.addr == "" {
		return // no HTTP port (the sink): nothing to wait for
	}
	if err := p.cur.WaitReady(30*time.Second, childproc.HTTPReady(p.url("/health/readiness"))); err != nil {
		p.t.Fatal(err)
	}
}

// stop is SIGTERM, then SIGKILL after 10s.
func (p *proc) stop() {
	_ = p.cur.Stop()
	p.cur = nil
}

// signal sends sig and waits for the process to exit.
func (p *proc) signal(sig syscall.Signal) {
	if p.cur != nil {
		_ = p.cur.Signal(sig)
		p.cur = nil
	}
}

func (p *proc) pid() int {
	if p.cur == nil {
		return 0
	}
	return p.cur.Pid()
}

func (p *proc) arg(name string) string {
	for i, a := range p.args {
		if (a == name || a == "-"+name) && i+1 < len(p.args) {
			return p.args[i+1]
		}
	}
	return ""
}

func (p *proc) restart() {
	p.t.Helper()
	p.stop()
	p.run()
}

func (p *proc) url(path string) string { return "http://" + p.addr + path }

// serveMock serves h on a free local port until the test ends and
// returns its address: the upstream a mock provider stands for.
func serveMock(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// The mock upstreams' OpenAI answers: a chat.completion with one
// assistant message and its usage, a stream chunk carrying text, and the
// chunk that ends a stream.
func completionBody(id, model, content string, prompt, completion int) string {
	return fmt.Sprintf(`{"id":%q,"object":"chat.completion","created":1,"model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`,
		id, model, content, prompt, completion, prompt+completion)
}

func textChunk(id, model, text string) string {
	return fmt.Sprintf("data: {\"id\":%q,\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":%q,\"choices\":[{\"index\":0,\"delta\":{\"content\":%q},\"finish_reason\":null}]}\n\n", id, model, text)
}

func stopChunk(id, model string) string {
	return fmt.Sprintf("data: {\"id\":%q,\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":%q,\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n", id, model)
}

// system is NATS + one control plane + edges.
type system struct {
	natsURL string
	control *proc
	edges   []*proc
	config  string
}

func startSystem(t *testing.T, config string, nEdges int, extraEnv ...string) *system {
	t.Helper()
	ns := testutil.RunJetStream(t)
	s := &system{natsURL: ns.ClientURL()}
	s.config = filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(s.config, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append([]string{"MASTER_KEY=" + masterKey, "LOG_LEVEL=debug"}, extraEnv...)
	ctl := testutil.FreeAddr(t)
	s.control = start(t, "control", env, "control", "-nats", s.natsURL, "-listen", ctl, "-config", s.config)
	for i := range nEdges {
		id := fmt.Sprintf("edge-%c", 'a'+i)
		e := start(t, id, append(env, "EDGE_REGION=region-"+id), "edge", "-nats", s.natsURL, "-listen", testutil.FreeAddr(t),
			"-control", "http://"+ctl, "-id", id, "-max-request-size-mb", "1")
		s.edges = append(s.edges, e)
	}
	waitEdges(t, s.control, nEdges)
	return s
}

// waitEdges waits until the control plane knows n live, ready edges:
// writes wait only for the edges it knows, so a test relying on
// propagation must not start before.
func waitEdges(t *testing.T, control *proc, nEdges int) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, func() error {
		var out struct {
			Edges []struct {
				EdgeID string `json:"edge_id"`
				Live   bool   `json:"live"`
				Ready  bool   `json:"ready"`
			} `json:"edges"`
		}
		if code := call(t, "GET", control.url("/gatehouse/edges"), masterKey, nil, &out); code != 200 {
			return fmt.Errorf("edges: %d", code)
		}
		n := 0
		for _, e := range out.Edges {
			if e.Live && e.Ready {
				n++
			}
		}
		if n != nEdges {
			return fmt.Errorf("%d of %d edges live", n, nEdges)
		}
		return nil
	})
}

// keySpend is key's spend as the control plane's /key/info reports it:
// the budget tracker's total.
func keySpend(t *testing.T, control *proc, key string) float64 {
	t.Helper()
	var info struct {
		Info struct {
			Spend float64 `json:"spend"`
		} `json:"info"`
	}
	call(t, "GET", control.url("/key/info?key="+key), masterKey, nil, &info)
	return info.Info.Spend
}

var client = &http.Client{Timeout: 30 * time.Second}

// extraHeaders are added to every request while set (tests are not
// parallel).
var extraHeaders map[string]string

// call sends a JSON request and decodes a JSON response into out (if not
// nil); it returns the status.
func call(t *testing.T, method, url, key string, body any, out any) int {
	t.Helper()
	code, raw := callRaw(t, method, url, key, body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, url, code, raw, err)
		}
	}
	return code
}

// modelIDs lists the ids /v1/models at base answers key, in order; any
// other status, or an id that is not a string, fails the test.
func modelIDs(t *testing.T, base *proc, key string) []string {
	t.Helper()
	var out struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if code := call(t, "GET", base.url("/v1/models"), key, nil, &out); code != 200 {
		t.Fatalf("/v1/models: %d", code)
	}
	ids := []string{}
	for _, d := range out.Data {
		ids = append(ids, d.ID)
	}
	return ids
}

func callRaw(t *testing.T, method, url, key string, body any) (int, []byte) {
	t.Helper()
	resp, raw, err := testutil.Do(client, method, url, key, body, extraHeaders)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp.StatusCode, raw
}

// envelope is the OpenAI error body.
type envelope struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    string  `json:"code"`
	} `json:"error"`
}

func chat(model string) map[string]any {
	return map[string]any{"model": model, "messages": []map[string]string{{"role": "user", "content": "Hello"}}}
}

// expectChat posts a chat completion and checks the status (and for errors,
// the envelope type).
func expectChat(t *testing.T, edge *proc, key, model string, status int, errType string) {
	t.Helper()
	code, raw := callRaw(t, "POST", edge.url("/v1/chat/completions"), key, chat(model))
	if code != status {
		t.Fatalf("%s: model %q: status %d, want %d: %s", edge.name, model, code, status, raw)
	}
	if status >= 400 {
		var e envelope
		if err := json.Unmarshal(raw, &e); err != nil || e.Error.Type == "" || e.Error.Message == "" {
			t.Fatalf("not an OpenAI error envelope: %s", raw)
		}
		if errType != "" && e.Error.Type != errType {
			t.Fatalf("model %q: error type %q, want %q: %s", model, e.Error.Type, errType, raw)
		}
	}
}

// chatHdr posts a chat completion and returns status, body and headers.
func chatHdr(t *testing.T, edge *proc, key, model string) (int, []byte, http.Header) {
	t.Helper()
	resp, raw, err := testutil.Do(client, "POST", edge.url("/v1/chat/completions"), key, chat(model), nil)
	if err != nil {
		t.Fatalf("%s: %v", edge.name, err)
	}
	return resp.StatusCode, raw, resp.Header
}

// postChat posts a chat completion from a goroutine that is not the
// test's: it reports a transport error as status 0 instead of failing
// the test.
func postChat(e *proc, key, model string) int {
	resp, _, err := testutil.Do(client, "POST", e.url("/v1/chat/completions"), key, chat(model), nil)
	if err != nil {
		return 0
	}
	return resp.StatusCode
}

// challenge sends url a GET without credentials and returns the status
// and the WWW-Authenticate header of the answer.
func challenge(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, _, err := testutil.Do(client, "GET", url, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
}

func generateKey(t *testing.T, base *proc, body map[string]any) string {
	t.Helper()
	var out struct {
		Key   string `json:"key"`
		Token string `json:"token"`
	}
	if code := call(t, "POST", base.url("/key/generate"), masterKey, body, &out); code != 200 || !strings.HasPrefix(out.Key, "sk-") {
		t.Fatalf("/key/generate %v: %d %+v", body, code, out)
	}
	return out.Key
}

// watchSpend calls seen with every spend event published on natsURL from
// now on, holding the mutex it returns (lock it to read what seen wrote).
func watchSpend(t *testing.T, natsURL string, seen func(events.SpendEvent)) *sync.Mutex {
	t.Helper()
	var mu sync.Mutex
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if _, err := nc.Subscribe(events.SpendSubjects, func(m *nats.Msg) {
		if _, evs, err := events.DecodeSpend(m.Data); err == nil {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range evs {
				seen(e)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	return &mu
}
