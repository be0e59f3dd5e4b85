// Package oidctest runs a real, certified OpenID Provider (panva's npm
// package oidc-provider, driven by test/oidc/provider.mjs) for tests.
//
// The provider listens on 127.0.0.1 on a free port with issuer
// http://127.0.0.1:<port>, supports only the client_credentials grant and
// issues JWT access tokens (typ at+jwt) signed RS256 or ES256 per client, with
// per-client audience, scopes and arbitrary extra claims. Tests can rotate the
// signing key and stop/restart the provider on the same port with the same
// keys.
//
// Node.js (>= 18) must be on PATH. The npm dependencies are installed on
// first use (npm ci in test/oidc) when node_modules is missing or stale;
// `make test-deps` installs them ahead of time.
package oidctest

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/gatehouse/gatehouse/internal/childproc"
)

// Client is an OAuth client registered at the provider. Only ID and Secret are
// required.
type Client struct {
	ID, Secret string
	// Scopes the client may request. Requesting any other scope fails with
	// invalid_scope. Empty: any scope may be requested. Token with no scopes
	// requests all of them.
	Scopes []string
	// Alg signs this client's access tokens: "RS256" (default) or "ES256".
	Alg string
	// Audience is the token's aud claim; default: the client ID.
	Audience string
	// Resource is the RFC 8707 resource indicator the client requests its
	// tokens for. Default: Audience when that is an absolute URI, else
	// "urn:oidctest:client:<ID>". It never shows up in the token; aud does.
	Resource string
	// Opaque makes the client's access tokens opaque strings instead of
	// JWTs; their claims are served by UserinfoURL (OIDC userinfo for
	// tokens that cannot be decoded locally).
	Opaque bool
	// Claims are extra claims put in every access token of this client
	// (roles, groups, tenant_id, email, nested resource_access, ...). They
	// cannot replace the standard claims (iss, sub, aud, exp, iat, jti,
	// scope, client_id); use Override for that.
	Claims map[string]any
	// Override replaces claims after the token payload is built, including
	// the standard ones: e.g. {"sub": "user-1"}, {"aud": ["a", "b"]},
	// {"iss": "http://evil"} or {"exp": 1} for negative tests.
	Override map[string]any
	// TTL of the access tokens; default one hour.
	TTL time.Duration
	// AuthMethod at the token endpoint: "client_secret_basic" (default) or
	// "client_secret_post".
	AuthMethod string
}

// Provider is a running (or stopped) test OpenID Provider.
type Provider struct {
	Issuer       string // http://127.0.0.1:<port>
	JWKSURL      string // Issuer + "/jwks"
	DiscoveryURL string // Issuer + "/.well-known/openid-configuration"
	TokenURL     string // Issuer + "/token"
	// UserinfoURL answers with the claims of an Opaque client's token.
	UserinfoURL string // Issuer + "/__test/userinfo"
	Port        int

	dir         string // test/oidc
	node        string
	clientsFile string
	keysFile    string
	clients     map[string]Client
	httpc       *http.Client

	log *childproc.LockedBuffer

	mu   sync.Mutex
	proc *process
}

type process struct {
	*childproc.Proc
	stdin *os.File // write end of the child's stdin; closing it ends the child
}

const (
	startTimeout     = 20 * time.Second
	stopTimeout      = 5 * time.Second
	npmTimeout       = 5 * time.Minute
	minNodeMajor     = 18
	readyPrefix      = "OIDCTEST_READY "
	defaultResPrefix = "urn:oidctest:client:"
)

// Available reports whether the provider can run here: nil when a usable
// node (>= 18) is on PATH. Tests should t.Fatal on a non-nil error rather than
// skip: CI must run them.
func Available() error {
	_, err := findNode()
	return err
}

var (
	nodeOnce sync.Once
	nodePath string
	nodeErr  error
)

func findNode() (string, error) {
	nodeOnce.Do(func() {
		p, err := exec.LookPath("node")
		if err != nil {
			nodeErr = fmt.Errorf("oidctest: node (Node.js >= %d) is not on PATH: %w", minNodeMajor, err)
			return
		}
		out, err := exec.Command(p, "--version").Output()
		if err != nil {
			nodeErr = fmt.Errorf("oidctest: %s --version: %w", p, err)
			return
		}
		v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
		major, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
		if major < minNodeMajor {
			nodeErr = fmt.Errorf("oidctest: node %s at %s is too old, need >= %d", v, p, minNodeMajor)
			return
		}
		nodePath = p
	})
	return nodePath, nodeErr
}

// Start starts a provider with the given clients and stops it when the test
// ends (its log is printed if the test failed). It fails the test if the
// provider cannot be started.
func Start(t testing.TB, clients ...Client) *Provider {
	t.Helper()
	node, err := findNode()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := providerDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := ensureDeps(dir); err != nil {
		t.Fatal(err)
	}

	tmp := t.TempDir()
	p := &Provider{
		dir:         dir,
		node:        node,
		clientsFile: filepath.Join(tmp, "clients.json"),
		keysFile:    filepath.Join(tmp, "keys.json"),
		clients:     map[string]Client{},
		log:         &childproc.LockedBuffer{},
		httpc: &http.Client{
			Timeout: 10 * time.Second,
			// No pooled connections: they would go stale across Stop/Restart.
			Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
		},
	}

	type fileClient struct {
		ClientID       string         `json:"client_id"`
		ClientSecret   string         `json:"client_secret"`
		Scopes         []string       `json:"scopes"`
		Alg            string         `json:"alg"`
		Audience       string         `json:"audience"`
		Resource       string         `json:"resource"`
		Claims         map[string]any `json:"claims,omitempty"`
		OverrideClaims map[string]any `json:"override_claims,omitempty"`
		TokenTTL       int            `json:"token_ttl,omitempty"`
		AuthMethod     string         `json:"auth_method"`
		Opaque         bool           `json:"opaque,omitempty"`
	}
	var list []fileClient
	for _, c := range clients {
		if c.ID == "" || c.Secret == "" {
			t.Fatalf("oidctest: client %q needs an ID and a Secret", c.ID)
		}
		if _, dup := p.clients[c.ID]; dup {
			t.Fatalf("oidctest: duplicate client %q", c.ID)
		}
		if c.Alg == "" {
			c.Alg = "RS256"
		}
		if c.Alg != "RS256" && c.Alg != "ES256" {
			t.Fatalf("oidctest: client %q: unsupported Alg %q (RS256 or ES256)", c.ID, c.Alg)
		}
		if c.Audience == "" {
			c.Audience = c.ID
		}
		if c.Resource == "" {
			if isAbsoluteURI(c.Audience) {
				c.Resource = c.Audience
			} else {
				c.Resource = defaultResPrefix + url.PathEscape(c.ID)
			}
		}
		if c.AuthMethod == "" {
			c.AuthMethod = "client_secret_basic"
		}
		if c.AuthMethod != "client_secret_basic" && c.AuthMethod != "client_secret_post" {
			t.Fatalf("oidctest: client %q: unsupported AuthMethod %q", c.ID, c.AuthMethod)
		}
		ttl := 0
		if c.TTL > 0 {
			ttl = max(1, int(c.TTL/time.Second))
		}
		p.clients[c.ID] = c
		list = append(list, fileClient{
			ClientID: c.ID, ClientSecret: c.Secret, Scopes: append([]string{}, c.Scopes...),
			Alg: c.Alg, Audience: c.Audience, Resource: c.Resource,
			Claims: c.Claims, OverrideClaims: c.Override, TokenTTL: ttl, AuthMethod: c.AuthMethod, Opaque: c.Opaque,
		})
	}
	if list == nil {
		list = []fileClient{}
	}
	data, err := json.Marshal(list)
	if err != nil {
		t.Fatalf("oidctest: clients: %v", err)
	}
	if err := os.WriteFile(p.clientsFile, data, 0o600); err != nil {
		t.Fatal(err)
	}

	// Registered after t.TempDir, so it runs before the directory is removed.
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("oidctest: provider log (%s):\n%s", p.Issuer, p.Log())
		}
	})

	if err := p.start(0); err != nil {
		t.Fatalf("oidctest: start provider: %v\nlog:\n%s", err, p.Log())
	}
	return p
}

// Restart starts the provider again after Stop, on the same port with the same
// issuer, clients and keys (including rotated ones), so keys cached by a
// verifier stay valid. A running provider is stopped first. The exported
// fields never change after Start, so other goroutines may keep using them.
func (p *Provider) Restart(t testing.TB) {
	t.Helper()
	p.Stop()
	if err := p.start(p.Port); err != nil {
		t.Fatalf("oidctest: restart provider on port %d: %v\nlog:\n%s", p.Port, err, p.Log())
	}
}

// Stop stops the provider (SIGTERM, then SIGKILL) to simulate it being down.
// The port is left free; Restart brings it back. Safe to call repeatedly.
func (p *Provider) Stop() {
	p.mu.Lock()
	proc := p.proc
	p.proc = nil
	p.mu.Unlock()
	if proc == nil {
		return
	}
	_ = proc.Stop()
	_ = proc.stdin.Close()
}

// Running reports whether the provider process is up.
func (p *Provider) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.proc != nil && !p.proc.Exited()
}

// Log returns everything the provider process printed so far.
func (p *Provider) Log() string { return p.log.String() }

// Client returns the registered client with its defaults filled in.
func (p *Provider) Client(id string) (Client, bool) {
	c, ok := p.clients[id]
	return c, ok
}

func (p *Provider) start(port int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.proc != nil {
		return errors.New("already running")
	}

	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return err
	}
	ready := make(chan readyInfo, 1)
	c, err := childproc.Start(childproc.Spec{Name: "oidc provider", Path: p.node, Dir: p.dir,
		Args:  []string{"provider.mjs", "--port", strconv.Itoa(port), "--clients", p.clientsFile, "--keys", p.keysFile, "--exit-on-stdin-eof"},
		Env:   []string{"NODE_ENV=test", "NO_COLOR=1"},
		Stdin: stdinR, Stdout: &stdoutWriter{log: p.log, ready: ready}, Log: p.log, StopTimeout: stopTimeout})
	stdinR.Close()
	if err != nil {
		stdinW.Close()
		return err
	}
	proc := &process{Proc: c, stdin: stdinW}
	kill := func() {
		_ = c.Signal(syscall.SIGKILL)
		stdinW.Close()
	}

	var info readyInfo
	select {
	case info = <-ready:
	case <-c.Done():
		stdinW.Close()
		return fmt.Errorf("provider exited before it was ready: %v", c.Err())
	case <-time.After(startTimeout):
		kill()
		return fmt.Errorf("provider not ready after %s", startTimeout)
	}
	if port != 0 && info.Port != port {
		kill()
		return fmt.Errorf("provider listens on port %d, want %d", info.Port, port)
	}
	first := p.Issuer == ""
	if first {
		// Only set on the first start, so that goroutines reading these
		// fields do not race with Restart.
		p.Port = info.Port
		p.Issuer = info.Issuer
		p.DiscoveryURL = p.Issuer + "/.well-known/openid-configuration"
	} else if info.Issuer != p.Issuer {
		kill()
		return fmt.Errorf("provider restarted with issuer %q, want %q", info.Issuer, p.Issuer)
	}

	// The READY line is printed once the server listens and the provider is
	// built; still, only hand it out once discovery answers.
	err = c.WaitReady(startTimeout, func() error {
		resp, err := p.httpc.Get(p.DiscoveryURL)
		if err != nil {
			return err
		}
		var d struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
			Token   string `json:"token_endpoint"`
		}
		derr := json.NewDecoder(resp.Body).Decode(&d)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || derr != nil {
			return fmt.Errorf("discovery: status %d, decode: %v", resp.StatusCode, derr)
		}
		if d.Issuer != p.Issuer {
			return fmt.Errorf("discovery issuer %q, want %q", d.Issuer, p.Issuer)
		}
		if first {
			p.JWKSURL, p.TokenURL = d.JWKSURI, d.Token
			p.UserinfoURL = p.Issuer + "/__test/userinfo"
		}
		return nil
	})
	if err != nil {
		kill()
		return fmt.Errorf("discovery at %s did not answer: %w", p.DiscoveryURL, err)
	}
	p.proc = proc
	return nil
}

// TokenRequest is a client_credentials token request. Zero fields take the
// registered client's values.
type TokenRequest struct {
	ClientID string
	Secret   string   // default: the client's secret
	Scopes   []string // default: all of the client's Scopes
	// Resource indicator; default: the client's Resource. Set NoResource to
	// send none (the provider then defaults to the client's Resource too).
	Resource   string
	NoResource bool
	AuthMethod string // default: the client's AuthMethod
}

// TokenResponse is the token endpoint's answer, success or error.
type TokenResponse struct {
	StatusCode       int
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	Scope            string `json:"scope"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// RequestToken performs a client_credentials grant and returns the response,
// also when it is an OAuth error (err is then nil and Error is set). err is
// for transport failures, e.g. the provider being stopped.
func (p *Provider) RequestToken(ctx context.Context, req TokenRequest) (*TokenResponse, error) {
	c, ok := p.clients[req.ClientID]
	if !ok {
		c = Client{ID: req.ClientID, AuthMethod: "client_secret_basic"}
	}
	secret := req.Secret
	if secret == "" {
		secret = c.Secret
	}
	scopes := req.Scopes
	if scopes == nil {
		scopes = c.Scopes
	}
	resource := req.Resource
	if resource == "" && !req.NoResource {
		resource = c.Resource
	}
	method := req.AuthMethod
	if method == "" {
		method = c.AuthMethod
	}

	form := url.Values{"grant_type": {"client_credentials"}}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	if resource != "" {
		form.Set("resource", resource)
	}
	if method == "client_secret_post" {
		form.Set("client_id", req.ClientID)
		form.Set("client_secret", secret)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, p.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hreq.Header.Set("Accept", "application/json")
	if method != "client_secret_post" {
		// RFC 6749 2.3.1: form-urlencode id and secret before base64.
		hreq.SetBasicAuth(formEscape(req.ClientID), formEscape(secret))
	}
	resp, err := p.httpc.Do(hreq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := &TokenResponse{StatusCode: resp.StatusCode}
	if err := json.Unmarshal(body, out); err != nil {
		return nil, fmt.Errorf("token endpoint: status %d: %s", resp.StatusCode, body)
	}
	return out, nil
}

// Token returns a JWT access token for the client (client_credentials grant,
// resource indicator = the client's Resource). With no scopes it requests all
// of the client's Scopes. It fails the test on any error.
func (p *Provider) Token(t testing.TB, clientID string, scopes ...string) string {
	t.Helper()
	if _, ok := p.clients[clientID]; !ok {
		t.Fatalf("oidctest: unknown client %q", clientID)
	}
	req := TokenRequest{ClientID: clientID}
	if len(scopes) > 0 {
		req.Scopes = scopes
	}
	resp, err := p.RequestToken(context.Background(), req)
	if err != nil {
		t.Fatalf("oidctest: token for %q: %v", clientID, err)
	}
	if resp.Error != "" || resp.AccessToken == "" {
		t.Fatalf("oidctest: token for %q: status %d: %s: %s", clientID, resp.StatusCode, resp.Error, resp.ErrorDescription)
	}
	return resp.AccessToken
}

// RotateOptions tune Rotate.
type RotateOptions struct {
	Alg     string // key type to rotate: "RS256" (default) or "ES256"
	DropOld bool   // remove the previous keys of that alg from the JWKS
}

// Rotate adds a new RS256 key with a new kid, publishes it in the JWKS (the
// old keys stay published) and signs new RS256 tokens with it. It returns the
// new kid.
func (p *Provider) Rotate(t testing.TB) (newKid string) {
	t.Helper()
	return p.RotateWith(t, RotateOptions{})
}

// RotateWith is Rotate with options.
func (p *Provider) RotateWith(t testing.TB, opts RotateOptions) (newKid string) {
	t.Helper()
	q := url.Values{}
	if opts.Alg != "" {
		q.Set("alg", opts.Alg)
	}
	if opts.DropOld {
		q.Set("drop_old", "1")
	}
	var out struct {
		Kid   string `json:"kid"`
		Error string `json:"error"`
	}
	if err := p.admin(http.MethodPost, "/__test/rotate?"+q.Encode(), &out); err != nil {
		t.Fatalf("oidctest: rotate: %v", err)
	}
	if out.Kid == "" {
		t.Fatalf("oidctest: rotate: no kid in answer (%s)", out.Error)
	}
	return out.Kid
}

// KeyState describes the provider's keys.
type KeyState struct {
	Kids    []string          `json:"kids"`    // published in the JWKS, newest first
	Signing map[string]string `json:"signing"` // alg -> kid signing new tokens
}

// Keys returns the published kids and the kid signing new tokens per alg.
func (p *Provider) Keys(t testing.TB) KeyState {
	t.Helper()
	var ks KeyState
	if err := p.admin(http.MethodGet, "/__test/keys", &ks); err != nil {
		t.Fatalf("oidctest: keys: %v", err)
	}
	return ks
}

// SigningKey returns the private key the provider signs new tokens of alg
// ("RS256" or "ES256") with, and its kid. Attack tests forge tokens with
// it: a header or claim no real client can ask for (crit, jku, duplicate
// names, a stripped signature), signed by a key the gateway trusts, so a
// refusal can only come from the check under test, not from a bad
// signature.
func (p *Provider) SigningKey(t testing.TB, alg string) (kid string, key crypto.Signer) {
	t.Helper()
	raw, err := os.ReadFile(p.keysFile)
	if err != nil {
		t.Fatalf("oidctest: keys: %v", err)
	}
	var st struct {
		Keys    []json.RawMessage `json:"keys"`
		Signing map[string]string `json:"signing"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("oidctest: keys file: %v", err)
	}
	kid = st.Signing[alg]
	for _, k := range st.Keys {
		jk, err := jwk.ParseKey(k)
		if err != nil {
			t.Fatalf("oidctest: key: %v", err)
		}
		if jk.KeyID() != kid {
			continue
		}
		var priv any
		if err := jk.Raw(&priv); err != nil {
			t.Fatalf("oidctest: key %s: %v", kid, err)
		}
		signer, ok := priv.(crypto.Signer)
		if !ok {
			t.Fatalf("oidctest: key %s is a %T, not a private key", kid, priv)
		}
		return kid, signer
	}
	t.Fatalf("oidctest: no signing key for %s", alg)
	return "", nil
}

func (p *Provider) admin(method, path string, out any) error {
	req, err := http.NewRequest(method, p.Issuer+path, nil)
	if err != nil {
		return err
	}
	resp, err := p.httpc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, body)
	}
	return json.Unmarshal(body, out)
}

// ParseUnverified splits a compact JWS and decodes its header and claims
// without verifying the signature.
func ParseUnverified(token string) (header, claims map[string]any, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("oidctest: token has %d parts, want 3", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return nil, nil, fmt.Errorf("oidctest: token part %d: %w", i, err)
		}
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(dst); err != nil {
			return nil, nil, fmt.Errorf("oidctest: token part %d: %w", i, err)
		}
	}
	return header, claims, nil
}

// ---------------------------------------------------------------- helpers

func isAbsoluteURI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && (u.Host != "" || u.Opaque != "" || u.Path != "")
}

func formEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// providerDir finds test/oidc: $OIDCTEST_DIR, else walking up from the
// working directory to the module root (go.mod) that holds it.
func providerDir() (string, error) {
	if d := os.Getenv("OIDCTEST_DIR"); d != "" {
		return filepath.Abs(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			cand := filepath.Join(d, "test", "oidc")
			if _, err := os.Stat(filepath.Join(cand, "provider.mjs")); err == nil {
				return cand, nil
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("oidctest: no go.mod with test/oidc/provider.mjs above %s", wd)
		}
		d = parent
	}
}

var depsMu sync.Mutex

// ensureDeps runs `npm ci` in dir unless node_modules already holds the
// oidc-provider version package.json pins. A file lock serialises concurrent
// test binaries (go test ./... runs packages in parallel).
func ensureDeps(dir string) error {
	depsMu.Lock()
	defer depsMu.Unlock()
	want, err := pinnedVersion(dir)
	if err != nil {
		return err
	}
	if installedVersion(dir) == want {
		return nil
	}
	unlock, err := lockFile(filepath.Join(dir, ".npm-install.lock"))
	if err != nil {
		return fmt.Errorf("oidctest: lock: %w", err)
	}
	defer unlock()
	if installedVersion(dir) == want {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("oidctest: %s/node_modules lacks oidc-provider %s and npm is not on PATH (run `make test-deps`): %w", dir, want, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), npmTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("oidctest: npm ci in %s: %w\n%s", dir, err, out)
	}
	if got := installedVersion(dir); got != want {
		return fmt.Errorf("oidctest: after npm ci, node_modules has oidc-provider %q, want %q", got, want)
	}
	return nil
}

var exactVersion = regexp.MustCompile(`^\d+\.\d+\.\d+$`)

func pinnedVersion(dir string) (string, error) {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err == nil {
		err = json.Unmarshal(data, &pkg)
	}
	if err != nil {
		return "", fmt.Errorf("oidctest: %s/package.json: %w", dir, err)
	}
	v := pkg.Dependencies["oidc-provider"]
	if !exactVersion.MatchString(v) {
		return "", fmt.Errorf("oidctest: %s/package.json must pin oidc-provider to an exact version, has %q", dir, v)
	}
	return v, nil
}

func installedVersion(dir string) string {
	var pkg struct {
		Version string `json:"version"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "node_modules", "oidc-provider", "package.json"))
	if err != nil || json.Unmarshal(data, &pkg) != nil {
		return ""
	}
	return pkg.Version
}

type readyInfo struct {
	Port   int    `json:"port"`
	Issuer string `json:"issuer"`
}

// stdoutWriter copies the child's stdout to the log and reports the READY line.
type stdoutWriter struct {
	log     *childproc.LockedBuffer
	ready   chan<- readyInfo
	partial []byte
	sent    bool
}

func (w *stdoutWriter) Write(b []byte) (int, error) {
	w.log.Write(b)
	if w.sent {
		return len(b), nil
	}
	w.partial = append(w.partial, b...)
	for !w.sent {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(w.partial[:i]), "\r")
		w.partial = w.partial[i+1:]
		if rest, ok := strings.CutPrefix(line, readyPrefix); ok {
			var info readyInfo
			if json.Unmarshal([]byte(rest), &info) == nil && info.Port != 0 {
				w.sent = true
				w.partial = nil
				w.ready <- info
			}
		}
	}
	return len(b), nil
}
