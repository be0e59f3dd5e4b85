// Package harness runs the gateway benchmark: it starts a mock upstream, the
// plain fasthttp reverse proxy, nginx and the whole gateway (JetStream,
// control plane, edge) as separate processes, and measures them from one
// client in interleaved rounds, so every ratio compares runs made minutes
// apart on the same machine state:
//
//	B0     the client straight to the mock upstream
//	B1     the client through the plain reverse proxy (loadtest/baseline)
//	B2     the client through nginx as a reverse proxy (one worker,
//	       keep-alive upstream, access log off; see nginx.go), skipped
//	       with a note in the report when nginx is not installed
//	G-key  the client through the edge with a virtual key
//	G-jwt  the client through the edge with an RS256 JWT (cached verification)
//
// Spend publishing is on for G (every request publishes its spend event to
// JetStream), as in production; no ClickHouse sink runs, so the numbers are
// the edge's and not the sink's.
package harness

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/gatehouse/gatehouse/internal/childproc"
	"github.com/gatehouse/gatehouse/internal/opt"
	"github.com/gatehouse/gatehouse/loadtest/loadgen"
)

// Config of a benchmark run. Zero fields take the defaults in
// DefaultConfig.
type Config struct {
	// Root is the repository root (where go build runs).
	Root string
	// Rounds of every phase, interleaved across targets.
	Rounds int
	// Duration of each non-stream cell (one target, one phase, one round).
	Duration time.Duration
	// StreamDuration of each 512-stream cell; at least two stream lifetimes.
	StreamDuration time.Duration
	// Conns is the closed-loop concurrency of the saturation phase.
	Conns int
	// Streams is the number of concurrent streams of the stream phase.
	Streams int
	// Chunks and ChunkInterval pace the stream phase's upstream (like
	// onthebench's 64 deltas at 20 ms).
	Chunks        int
	ChunkInterval time.Duration
	// Body is the non-stream request body's message content size in bytes.
	PromptBytes int
	// Flips of the propagation probe (0: DefaultConfig's; <0: skip).
	Flips int
	// WorkDir holds logs, the JetStream store and binaries; default a temp
	// dir, removed unless KeepWorkDir.
	WorkDir     string
	KeepWorkDir bool
	// Pinned adds PhasePinned (needs 2 CPUs and taskset).
	Pinned bool
	Log    *slog.Logger
}

// DefaultConfig is what `make bench` runs.
func DefaultConfig() Config {
	return Config{Rounds: 3, Duration: 5 * time.Second, StreamDuration: 6 * time.Second, Conns: 64,
		Streams: 512, Chunks: 64, ChunkInterval: 20 * time.Millisecond, PromptBytes: 200, Flips: 1000, Pinned: true}
}

func (c *Config) defaults() {
	d := DefaultConfig()
	opt.Positive(&c.Rounds, d.Rounds)
	opt.Positive(&c.Duration, d.Duration)
	opt.Positive(&c.StreamDuration, d.StreamDuration)
	opt.Positive(&c.Conns, d.Conns)
	opt.Positive(&c.Streams, d.Streams)
	opt.Positive(&c.Chunks, d.Chunks)
	opt.Positive(&c.ChunkInterval, d.ChunkInterval)
	opt.Positive(&c.PromptBytes, d.PromptBytes)
	opt.Or(&c.Flips, d.Flips) // negative: skip the probe
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

const masterKey = "sk-bench-master"

// Target names in report order.
const (
	B0   = "B0 direct"
	B1   = "B1 proxy"
	B2   = "B2 nginx"
	GKey = "G key"
	GJWT = "G jwt"
)

// Targets in report order; a run measures those it can start
// (Report.Targets).
var Targets = []string{B0, B1, B2, GKey, GJWT}

// refs are the reference proxies the gateway's ratios are taken against
// (the first is the one every table divides by).
var refs = []string{B1, B2}

// system is every process of a run.
type system struct {
	cfg                         Config
	work                        string
	mockFast, mockPaced         *proc
	baseFast, basePaced         *proc
	nginx                       *proc // nil: not installed, B2 skipped
	nats, control, edge         *proc
	mockFastAddr, mockPacedAddr string
	baseFastAddr, basePacedAddr string
	ngxFastAddr, ngxPacedAddr   string
	edgeAddr, controlAddr       string
	virtualKey, jwtToken        string
	natsURL                     string
	jwks                        *http.Server
	procs                       []*proc
	pin                         *pinning // nil: no pinned phase
	// targets are the Targets this run measures; notes say why any
	// other is missing.
	targets, notes []string
}

func (s *system) close() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].stop()
	}
	if s.jwks != nil {
		_ = s.jwks.Close()
	}
}

const benchConfig = `general_settings:
  master_key: os.environ/MASTER_KEY
model_list:
  - model_name: bench-fast
    litellm_params: {model: openai/bench-fast, api_base: "http://%[1]s/v1", api_key: sk-upstream-bench}
  - model_name: bench-paced
    litellm_params: {model: openai/bench-paced, api_base: "http://%[2]s/v1", api_key: sk-upstream-bench}
  - model_name: bench-embed
    litellm_params: {model: openai/text-embedding-3-small, api_base: "http://%[1]s/v1", api_key: sk-upstream-bench}
`

func (s *system) start(ctx context.Context) error {
	bins, err := build(ctx, s.cfg.Root, filepath.Join(s.work, "bin"))
	if err != nil {
		return err
	}
	addrs := make([]string, 9)
	for i := range addrs {
		if addrs[i], err = childproc.FreeAddr(); err != nil {
			return err
		}
	}
	s.mockFastAddr, s.mockPacedAddr, s.baseFastAddr, s.basePacedAddr, s.controlAddr, s.edgeAddr = addrs[0], addrs[1], addrs[2], addrs[3], addrs[4], addrs[5]
	s.ngxFastAddr, s.ngxPacedAddr = addrs[7], addrs[8]
	natsAddr := addrs[6]
	run := func(name, bin string, env []string, args ...string) (*proc, error) {
		p, err := startProc(name, bin, s.work, env, args...)
		if p != nil {
			s.procs = append(s.procs, p)
		}
		return p, err
	}
	// The TTFT phase wants the first frame at once; the stream phase wants
	// paced frames, so two mocks (and two plain proxies, and two nginx
	// servers).
	if s.mockFast, err = run("mock-fast", bins["mockupstream"], nil, "-addr", s.mockFastAddr, "-chunks", "8", "-chunk-interval", "0"); err != nil {
		return err
	}
	if s.mockPaced, err = run("mock-paced", bins["mockupstream"], nil, "-addr", s.mockPacedAddr,
		"-chunks", fmt.Sprint(s.cfg.Chunks), "-chunk-interval", s.cfg.ChunkInterval.String()); err != nil {
		return err
	}
	if s.baseFast, err = run("baseline-fast", bins["baseline"], nil, "-addr", s.baseFastAddr, "-upstream", s.mockFastAddr); err != nil {
		return err
	}
	if s.basePaced, err = run("baseline-paced", bins["baseline"], nil, "-addr", s.basePacedAddr, "-upstream", s.mockPacedAddr); err != nil {
		return err
	}
	type listener struct {
		p    *proc
		addr string
	}
	ready := []listener{{s.mockFast, s.mockFastAddr}, {s.mockPaced, s.mockPacedAddr}, {s.baseFast, s.baseFastAddr}, {s.basePaced, s.basePacedAddr}}
	s.targets = slices.Clone(Targets)
	if bin, err := exec.LookPath("nginx"); err != nil {
		s.notes = append(s.notes, "nginx not installed: B2 skipped")
		s.targets = slices.DeleteFunc(s.targets, func(t string) bool { return t == B2 })
	} else {
		args, err := s.nginxConfig()
		if err != nil {
			return err
		}
		if s.nginx, err = run("nginx", bin, nil, args...); err != nil {
			return err
		}
		ready = append(ready, listener{s.nginx, s.ngxFastAddr}, listener{s.nginx, s.ngxPacedAddr})
	}
	host, port, _ := net.SplitHostPort(natsAddr)
	if s.nats, err = run("nats", bins["gatehouse"], nil, "nats", "-host", host, "-port", port, "-store", filepath.Join(s.work, "nats")); err != nil {
		return err
	}
	for _, w := range ready {
		if err := waitTCP(w.p, w.addr, 20*time.Second); err != nil {
			return err
		}
	}
	// The reference proxies must forward to both mocks before anything is
	// measured.
	for _, name := range refs {
		if !slices.Contains(s.targets, name) {
			continue
		}
		for _, paced := range []bool{false, true} {
			if err := probe(s.target(name, paced, false)); err != nil {
				p := s.procsOf(name, paced)[0]
				return fmt.Errorf("%s smoke request: %w\n%s log:\n%s", name, err, p.Name, p.tail())
			}
		}
	}
	if err := waitTCP(s.nats, natsAddr, 20*time.Second); err != nil {
		return err
	}
	cfgPath := filepath.Join(s.work, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(benchConfig, s.mockFastAddr, s.mockPacedAddr)), 0o600); err != nil {
		return err
	}
	natsURL := "nats://" + natsAddr
	s.natsURL = natsURL
	env := []string{"MASTER_KEY=" + masterKey, "LOG_LEVEL=warn"}
	if s.control, err = run("control", bins["gatehouse"], env, "control", "-nats", natsURL, "-listen", s.controlAddr, "-config", cfgPath); err != nil {
		return err
	}
	if err := waitHTTP(s.control, "http://"+s.controlAddr+"/health/readiness", 30*time.Second); err != nil {
		return err
	}
	if s.edge, err = run("edge", bins["gatehouse"], append(env, "EDGE_ID=bench-edge"), "edge", "-nats", natsURL, "-listen", s.edgeAddr,
		"-control", "http://"+s.controlAddr, "-spill-dir", filepath.Join(s.work, "spill")); err != nil {
		return err
	}
	if err := waitHTTP(s.edge, "http://"+s.edgeAddr+"/health/readiness", 30*time.Second); err != nil {
		return err
	}
	return s.provision()
}

// provision creates the virtual key, the JWT team and the JWT settings
// through the control plane, as an operator would.
func (s *system) provision() error {
	ctl := "http://" + s.controlAddr
	models := []string{"bench-fast", "bench-paced", "bench-embed"}
	if err := api("POST", ctl+"/team/new", masterKey, map[string]any{"team_id": "bench-team", "models": models}, nil); err != nil {
		return err
	}
	var key struct {
		Key string `json:"key"`
	}
	if err := api("POST", ctl+"/key/generate", masterKey, map[string]any{"models": models, "team_id": "bench-team", "key_alias": "bench"}, &key); err != nil {
		return err
	}
	s.virtualKey = key.Key
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	sk, err := jwk.FromRaw(priv)
	if err != nil {
		return err
	}
	_ = sk.Set(jwk.KeyIDKey, "bench-1")
	_ = sk.Set(jwk.AlgorithmKey, jwa.RS256)
	pk, err := sk.PublicKey()
	if err != nil {
		return err
	}
	set := jwk.NewSet()
	_ = set.AddKey(pk)
	setJSON, err := json.Marshal(set)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.jwks = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(setJSON) //nolint:errcheck
	}), ReadHeaderTimeout: 5 * time.Second}
	go s.jwks.Serve(ln) //nolint:errcheck
	issuer := "http://" + ln.Addr().String()
	if err := api("POST", ctl+"/jwt/settings", masterKey, map[string]any{
		"enable_jwt_auth": true, "public_key_urls": []string{issuer + "/jwks"}, "issuer": issuer,
		"litellm_jwtauth": map[string]any{"team_id_jwt_field": "client_id"},
	}, nil); err != nil {
		return err
	}
	tok, err := jwt.NewBuilder().Issuer(issuer).Subject("bench-service").IssuedAt(time.Now()).
		Expiration(time.Now().Add(24*time.Hour)).Claim("client_id", "bench-team").Build()
	if err != nil {
		return err
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256, sk))
	if err != nil {
		return err
	}
	s.jwtToken = string(signed)
	// Both credentials must work, on both routes, before anything is
	// measured.
	for _, cred := range []string{s.virtualKey, s.jwtToken} {
		for _, t := range []loadgen.Target{s.target(GKey, false, false), s.embeddingTarget(GKey)} {
			t.Headers = map[string]string{"Authorization": "Bearer " + cred}
			if err := probe(t); err != nil {
				return fmt.Errorf("gateway smoke request: %w\nedge log:\n%s", err, s.edge.tail())
			}
		}
	}
	return nil
}

func probe(t loadgen.Target) error {
	req, _ := http.NewRequest("POST", "http://"+t.Addr+t.Path, strings.NewReader(string(t.Body)))
	for k, v := range t.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	_, err := doOK(req, t.Name)
	return err
}

// body is a chat request of roughly promptBytes of content.
func body(model string, promptBytes int, stream bool) []byte {
	content := strings.Repeat("Benchmark prompt text. ", max(promptBytes/23, 1))
	req := map[string]any{
		"model": model,
		"messages": []map[string]string{
			{"role": "system", "content": "You are a helpful assistant."},
			{"role": "user", "content": content},
		},
		"temperature": 0.2, "max_tokens": 256,
	}
	if stream {
		req["stream"] = true
		req["stream_options"] = map[string]bool{"include_usage": true}
	}
	b, _ := json.Marshal(req)
	return b
}

// target builds the request of one target for a phase: paced selects the
// paced upstream, stream a streaming body.
func (s *system) target(name string, paced, stream bool) loadgen.Target {
	model := "bench-fast"
	if paced {
		model = "bench-paced"
	}
	t := loadgen.Target{Name: name, Path: "/v1/chat/completions", Body: body(model, s.cfg.PromptBytes, stream)}
	switch name {
	case B0:
		t.Addr = pick(paced, s.mockPacedAddr, s.mockFastAddr)
	case B1:
		t.Addr = pick(paced, s.basePacedAddr, s.baseFastAddr)
	case B2:
		t.Addr = pick(paced, s.ngxPacedAddr, s.ngxFastAddr)
	case GKey:
		t.Addr = s.edgeAddr
		t.Headers = map[string]string{"Authorization": "Bearer " + s.virtualKey}
	case GJWT:
		t.Addr = s.edgeAddr
		t.Headers = map[string]string{"Authorization": "Bearer " + s.jwtToken}
	}
	return t
}

// embeddingTarget is target's embeddings request: one input of about
// PromptBytes, base64 vectors (what OpenAI's SDKs ask for by default).
func (s *system) embeddingTarget(name string) loadgen.Target {
	t := s.target(name, false, false)
	t.Path = "/v1/embeddings"
	t.Body, _ = json.Marshal(map[string]any{"model": "bench-embed", "encoding_format": "base64",
		"input": strings.Repeat("Benchmark prompt text. ", max(s.cfg.PromptBytes/23, 1))})
	return t
}

// pick is a if cond, else b: the paced or the fast variant of a target.
func pick[T any](cond bool, a, b T) T {
	if cond {
		return a
	}
	return b
}

// procsOf are the processes that serve a target (for CPU accounting and
// pinning; the first is the proxy). One nginx serves both mocks; its
// worker is counted with it (proc.pids).
func (s *system) procsOf(name string, paced bool) []*proc {
	switch name {
	case B0:
		return []*proc{pick(paced, s.mockPaced, s.mockFast)}
	case B1:
		return []*proc{pick(paced, s.basePaced, s.baseFast)}
	case B2:
		return []*proc{s.nginx}
	default:
		// The control plane is measured beside them, not counted in
		// the target's CPU per request: in production it serves every
		// edge from other machines (Cell.ProcCPU has it).
		return []*proc{s.edge, s.nats, s.control}
	}
}
