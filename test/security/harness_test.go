package security

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/control"
	"github.com/gatehouse/gatehouse/control/config"
	"github.com/gatehouse/gatehouse/edge/gateway"
	"github.com/gatehouse/gatehouse/internal/childproc"
	"github.com/gatehouse/gatehouse/internal/chtest"
	"github.com/gatehouse/gatehouse/internal/oidctest"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/spend/sink"
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

const (
	audience  = "gatehouse-api"
	chDB      = "security"
	bodyLimit = 1 << 20
)

// stack is the system under attack.
type stack struct {
	natsURL     string
	control     string // http://host:port
	edge        string
	idp         *oidctest.Provider
	ch          *chtest.Server
	logs        *childproc.LockedBuffer // every component's log
	masterKey   string
	providerKey string
	azureKey    string // a provider key that does not look like one (no sk- prefix)
	// badProviderKey is configured but refused by the upstream, which
	// echoes it back.
	badProviderKey string
	upstream       *upstream
	// secrets are every plaintext credential the test created or used:
	// none may appear in logs, streams or ClickHouse.
	secretsMu sync.Mutex
	secrets   map[string]string // secret -> what it is
}

func (s *stack) secret(what, v string) string {
	s.secretsMu.Lock()
	defer s.secretsMu.Unlock()
	s.secrets[v] = what
	return v
}

// The stack's policy: two teams with their own models, so that crossing
// from one to the other is visible.
const stackConfig = `
model_list:
  - model_name: gpt-4o
    litellm_params: {model: mock/gpt-4o}
  - model_name: team-b-model
    litellm_params: {model: mock/team-b-model}
  - model_name: leaky
    litellm_params:
      model: openai/gpt-4o
      api_base: http://%[1]s/v1
      api_key: os.environ/SECURITY_PROVIDER_KEY
  - model_name: leaky-badkey
    litellm_params:
      model: openai/gpt-4o
      api_base: http://%[1]s/v1
      api_key: os.environ/SECURITY_BAD_PROVIDER_KEY
  - model_name: leaky-azure
    litellm_params:
      model: openai/gpt-4o
      api_base: http://%[1]s/v1
      api_key: os.environ/SECURITY_AZURE_KEY
`

func startStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{
		logs:           &childproc.LockedBuffer{},
		masterKey:      "sk-master-" + randomHex(16),
		providerKey:    "sk-proj-" + randomHex(24),
		azureKey:       randomHex(24),
		badProviderKey: "sk-proj-" + randomHex(24),
		secrets:        map[string]string{},
	}
	s.secret("master key", s.masterKey)
	s.secret("provider key", s.providerKey)
	s.secret("provider key (azure style)", s.azureKey)
	s.secret("provider key (refused upstream)", s.badProviderKey)
	log := slog.New(slog.NewJSONHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	prev := slog.Default()
	slog.SetDefault(log) // anything logging to the default logger is captured too
	t.Cleanup(func() { slog.SetDefault(prev) })

	s.upstream = startUpstream(t, s.providerKey, s.azureKey)
	t.Setenv("SECURITY_PROVIDER_KEY", s.providerKey)
	t.Setenv("SECURITY_AZURE_KEY", s.azureKey)
	t.Setenv("SECURITY_BAD_PROVIDER_KEY", s.badProviderKey)

	ns := testutil.RunJetStream(t)
	s.natsURL = ns.ClientURL()
	s.ch = chtest.Start(t)
	now := time.Now().Unix()
	s.idp = oidctest.Start(t,
		oidctest.Client{ID: "admin-cli", Secret: "s-admin", Audience: audience, Scopes: []string{"litellm_proxy_admin"}},
		oidctest.Client{ID: "team-a-svc", Secret: "s-team", Audience: audience, Claims: map[string]any{"team": "team-a"}},
		oidctest.Client{ID: "user-1-app", Secret: "s-user", Audience: audience, Claims: map[string]any{"user": "user-1"}},
		oidctest.Client{ID: "groups-a", Secret: "s-groups", Audience: audience, Claims: map[string]any{"groups": []string{"team-a"}}},
		oidctest.Client{ID: "other-aud", Secret: "s-aud", Audience: "some-other-api", Scopes: []string{"litellm_proxy_admin"}},
		oidctest.Client{ID: "expired", Secret: "s-exp", Audience: audience, Scopes: []string{"litellm_proxy_admin"}, Override: map[string]any{"exp": now - 3600}},
		oidctest.Client{ID: "not-yet", Secret: "s-nbf", Audience: audience, Scopes: []string{"litellm_proxy_admin"}, Override: map[string]any{"nbf": now + 86400}},
		oidctest.Client{ID: "future-iat", Secret: "s-iat", Audience: audience, Scopes: []string{"litellm_proxy_admin"}, Override: map[string]any{"iat": now + 86400}},
		oidctest.Client{ID: "evil-iss", Secret: "s-iss", Audience: audience, Scopes: []string{"litellm_proxy_admin"}, Override: map[string]any{"iss": "http://evil.example"}},
		oidctest.Client{ID: "aud-list", Secret: "s-audl", Audience: audience, Scopes: []string{"litellm_proxy_admin"}, Override: map[string]any{"aud": []string{"a", "b"}}},
	)

	cfg, err := config.Parse([]byte(fmt.Sprintf(stackConfig, s.upstream.addr)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	run := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("component ended: %v", err)
		}
	})
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	ready := make(chan string, 1)
	run("control", func() error {
		return control.Run(ctx, control.Options{NATSURL: s.natsURL, Listener: listen(), Config: cfg, MasterKey: s.masterKey,
			Log: log, ClickHouse: s.ch.Addr(), ClickHouseDatabase: chDB, Ready: ready})
	})
	s.control = "http://" + waitReady(t, ready, errs)
	run("sink", func() error {
		return sink.Serve(ctx, sink.ServeOptions{NATSURL: s.natsURL, ClickHouse: s.ch.Addr(), Database: chDB,
			FlushInterval: 50 * time.Millisecond, Log: log})
	})
	ready = make(chan string, 1)
	run("edge", func() error {
		return gateway.Run(ctx, gateway.Options{NATSURL: s.natsURL, Listener: listen(), ControlURL: s.control, MasterKey: s.masterKey,
			EdgeID: "edge-sec", Region: "test", BodyLimit: bodyLimit, SpillDir: t.TempDir(), Log: log, Ready: ready})
	})
	s.edge = "http://" + waitReady(t, ready, errs)
	testutil.Eventually(t, 20*time.Second, func() error {
		var out struct {
			Edges []struct {
				Live  bool `json:"live"`
				Ready bool `json:"ready"`
			} `json:"edges"`
		}
		r := s.do(t, "GET", s.control+"/gatehouse/edges", s.masterKey, nil, nil)
		if r.status != 200 || json.Unmarshal(r.body, &out) != nil || len(out.Edges) != 1 || !out.Edges[0].Live || !out.Edges[0].Ready {
			return fmt.Errorf("edge not live at the control plane: %d %s", r.status, r.body)
		}
		return nil
	})
	s.must(t, "POST", s.control+"/jwt/settings", map[string]any{
		"enable_jwt_auth": true, "public_key_urls": []string{s.idp.JWKSURL}, "audience": audience, "issuer": s.idp.Issuer,
		"litellm_jwtauth": map[string]any{"team_id_jwt_field": "team", "team_ids_jwt_field": "groups", "user_id_jwt_field": "user"},
	})
	s.must(t, "POST", s.control+"/team/new", map[string]any{"team_id": "team-a", "models": []string{"gpt-4o", "leaky", "leaky-azure", "leaky-badkey"}})
	s.must(t, "POST", s.control+"/team/new", map[string]any{"team_id": "team-b", "models": []string{"team-b-model"}})
	s.must(t, "POST", s.control+"/user/new", map[string]any{"user_id": "user-1", "models": []string{"gpt-4o"}})
	return s
}

func waitReady(t *testing.T, ready <-chan string, errs <-chan error) string {
	t.Helper()
	select {
	case addr := <-ready:
		return addr
	case err := <-errs:
		t.Fatal(err)
	case <-time.After(60 * time.Second):
		t.Fatal("component not ready after 60s")
	}
	return ""
}

// response is what a client saw.
type response struct {
	status int
	header http.Header
	body   []byte
}

var client = &http.Client{Timeout: 30 * time.Second}

// do sends a request; body is JSON-encoded unless it is a string or
// []byte. headers are extra headers ("Authorization" overrides cred).
func (s *stack) do(t *testing.T, method, url, cred string, body any, headers map[string]string) response {
	t.Helper()
	r, err := s.try(t, method, url, cred, body, headers)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

// try is do that returns a transport error instead of failing the test.
func (s *stack) try(t *testing.T, method, url, cred string, body any, headers map[string]string) (response, error) {
	t.Helper()
	resp, raw, err := testutil.Do(client, method, url, cred, body, headers)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// must sends an admin request that has to succeed.
func (s *stack) must(t *testing.T, method, url string, body any) []byte {
	t.Helper()
	r := s.do(t, method, url, s.masterKey, body, nil)
	if r.status != 200 {
		t.Fatalf("%s %s: %d %s", method, url, r.status, r.body)
	}
	return r.body
}

// newKey generates a virtual key and records it as a secret.
func (s *stack) newKey(t *testing.T, body map[string]any) string {
	t.Helper()
	var out struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(s.must(t, "POST", s.control+"/key/generate", body), &out); err != nil || !strings.HasPrefix(out.Key, "sk-") {
		t.Fatalf("/key/generate: %v %q", err, out.Key)
	}
	return s.secret("virtual key", out.Key)
}

func (s *stack) token(t *testing.T, client string) string {
	t.Helper()
	return s.secret("JWT of "+client, s.idp.Token(t, client))
}

func chat(model string) map[string]any {
	return map[string]any{"model": model, "messages": []map[string]string{{"role": "user", "content": "hello"}}}
}

// envelope is the OpenAI error body.
type envelope struct {
	Error *struct {
		Message *string `json:"message"`
		Type    *string `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// checkEnvelope reports what is wrong with an error body: it must be
// exactly the OpenAI envelope, with a message, a type and a code, served
// as JSON.
func checkEnvelope(r response) error {
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("content type %q", ct)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &top); err != nil || len(top) != 1 || top["error"] == nil {
		return fmt.Errorf("not an OpenAI error envelope: %s", r.body)
	}
	var e envelope
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return fmt.Errorf("envelope has unknown fields: %s: %v", r.body, err)
	}
	if e.Error.Message == nil || *e.Error.Message == "" || e.Error.Type == nil || *e.Error.Type == "" || e.Error.Code == nil || *e.Error.Code == "" {
		return fmt.Errorf("envelope lacks message, type or code: %s", r.body)
	}
	return nil
}

func errType(r response) string {
	var e envelope
	if json.Unmarshal(r.body, &e) != nil || e.Error == nil || e.Error.Type == nil {
		return ""
	}
	return *e.Error.Type
}

// tally counts attacks per category.
type tally struct {
	mu       sync.Mutex
	tried    map[string]int
	accepted map[string]int
}

var attacks = &tally{tried: map[string]int{}, accepted: map[string]int{}}

// attack is one hostile request and the refusal it must get.
type attack struct {
	name   string
	method string
	url    string
	cred   string
	body   any
	header map[string]string
	status int    // the refusal's status
	typ    string // the envelope's error type ("" any)
	// resetOK: the server may refuse by closing the connection (headers
	// past its buffer: fasthttp answers 431 and closes, and the client can
	// see the reset before the answer). Refused all the same.
	resetOK bool
}

// run sends the attack, counts it, and fails the test unless it was
// refused with status and an envelope of type typ. A 2xx answer is an
// accepted attack.
func (a attack) run(t *testing.T, s *stack, category string) response {
	t.Helper()
	method := a.method
	if method == "" {
		method = "POST"
	}
	r, err := s.try(t, method, a.url, a.cred, a.body, a.header)
	if err != nil {
		if !a.resetOK {
			t.Fatalf("%s %s: %v", method, a.url, err)
		}
		count(category, false)
		return r
	}
	count(category, r.status < 400)
	switch {
	case r.status < 400:
		t.Errorf("ACCEPTED %s: %s %s: %d %s", a.name, method, a.url, r.status, trim(r.body))
	case r.status != a.status:
		t.Errorf("%s: %s %s: status %d, want %d: %s", a.name, method, a.url, r.status, a.status, trim(r.body))
	default:
		if err := checkEnvelope(r); err != nil {
			t.Errorf("%s: %v", a.name, err)
		} else if a.typ != "" && errType(r) != a.typ {
			t.Errorf("%s: error type %q, want %q: %s", a.name, errType(r), a.typ, r.body)
		}
	}
	return r
}

// count records an attack tried in category, and whether it was accepted.
func count(category string, accepted bool) {
	attacks.mu.Lock()
	defer attacks.mu.Unlock()
	attacks.tried[category]++
	if accepted {
		attacks.accepted[category]++
	}
}

func trim(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

// summary prints the tally: the lines docs/reliability.md quotes.
func (ta *tally) summary(t *testing.T) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	cats := make([]string, 0, len(ta.tried))
	total, acc := 0, 0
	for c, n := range ta.tried {
		cats = append(cats, c)
		total += n
		acc += ta.accepted[c]
	}
	sort.Strings(cats)
	for _, c := range cats {
		fmt.Printf("security: %-28s tried %4d accepted %d\n", c, ta.tried[c], ta.accepted[c])
	}
	fmt.Printf("security: %-28s tried %4d accepted %d\n", "TOTAL", total, acc)
	if total == 0 {
		t.Error("no attack was tried")
	}
}
