package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testutil"
)

// TestLiteLLMProxyAllowedIPs ports LiteLLM's general_settings.allowed_ips
// (_check_valid_ip, the first check of user_api_key_auth;
// test_check_valid_ip and test_check_valid_ip_sent_with_x_forwarded_for)
// end to end: a config change (the control plane restarted with a new
// config.yaml) reaches the running edge through the stream; with
// use_x_forwarded_for X-Forwarded-For stands for clients at other
// addresses. An unlisted client is refused with LiteLLM's 403 before its
// credential is read, on the edge's model routes, on management routes
// (the edge's relay and the control plane itself), never on the health
// probes; dropping the setting from the config lifts it. The rows one by
// one are policy's TestLiteLLMProxyIPCases.
func TestLiteLLMProxyAllowedIPs(t *testing.T) {
	const base = `
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, mock_response: "hi"}
general_settings:
  master_key: os.environ/MASTER_KEY
`
	sys := startSystem(t, base, 1)
	edge := sys.edges[0]
	key := generateKey(t, sys.control, map[string]any{})
	from := func(xff string) map[string]string {
		if xff == "" {
			return nil
		}
		return map[string]string{"X-Forwarded-For": xff}
	}
	send := func(method, url, bearer string, body any, xff string) (int, string) {
		t.Helper()
		resp, raw, err := testutil.Do(client, method, url, bearer, body, from(xff))
		if err != nil {
			t.Fatal(err)
		}
		var e envelope
		_ = json.Unmarshal(raw, &e)
		return resp.StatusCode, e.Error.Message
	}
	reconfigure := func(config string) {
		t.Helper()
		if err := os.WriteFile(sys.config, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		sys.control.restart()
		waitEdges(t, sys.control, 1)
	}

	// The harness calls the control plane from 127.0.0.1, which stays
	// listed; 10.0.0.0/8 are the office's clients behind the balancer.
	reconfigure(base + `  allowed_ips: ["127.0.0.1", "::1", "10.0.0.0/8"]
  use_x_forwarded_for: true
`)
	testutil.Eventually(t, 10*time.Second, func() error {
		if code, msg := send("POST", edge.url("/v1/chat/completions"), key, chat("gpt-4o"), "8.8.8.8"); code != 403 {
			return fmt.Errorf("edge not refusing yet: %d %s", code, msg)
		}
		return nil
	})
	refused := "Access forbidden: IP address 8.8.8.8 not allowed."
	for _, c := range []struct {
		name, method, url, bearer string
		body                      any
		xff                       string
		code                      int
		msg                       string
	}{
		{"test_check_valid_ip_sent_with_x_forwarded_for/in_list", "POST", edge.url("/v1/chat/completions"), key, chat("gpt-4o"), "10.1.2.3", 200, ""},
		{"test_check_valid_ip_sent_with_x_forwarded_for/not_in_list", "POST", edge.url("/v1/chat/completions"), key, chat("gpt-4o"), "8.8.8.8", 403, refused},
		{"test_check_valid_ip/in_list (the peer, no header)", "POST", edge.url("/v1/chat/completions"), key, chat("gpt-4o"), "", 200, ""},
		{"leftmost entry of a chain", "POST", edge.url("/v1/chat/completions"), key, chat("gpt-4o"), "8.8.8.8, 10.1.2.3", 403, refused},
		{"before the credential", "POST", edge.url("/v1/chat/completions"), "sk-unknown-key", chat("gpt-4o"), "8.8.8.8", 403, refused},
		{"edge /v1/models", "GET", edge.url("/v1/models"), key, nil, "8.8.8.8", 403, refused},
		{"edge readiness probe", "GET", edge.url("/health/readiness"), "", nil, "8.8.8.8", 200, ""},
		{"edge liveliness probe", "GET", edge.url("/health/liveliness"), "", nil, "8.8.8.8", 200, ""},
		{"management route relayed by the edge, unlisted", "GET", edge.url("/key/list"), masterKey, nil, "8.8.8.8", 403, refused},
		{"management route relayed by the edge, listed", "GET", edge.url("/key/list"), masterKey, nil, "10.1.2.3", 200, ""},
		{"control plane, unlisted", "GET", sys.control.url("/key/list"), masterKey, nil, "8.8.8.8", 403, refused},
		{"control plane, listed", "GET", sys.control.url("/key/list"), masterKey, nil, "10.1.2.3", 200, ""},
		{"control plane readiness probe", "GET", sys.control.url("/health/readiness"), "", nil, "8.8.8.8", 200, ""},
	} {
		if code, msg := send(c.method, c.url, c.bearer, c.body, c.xff); code != c.code || (c.msg != "" && msg != c.msg) {
			t.Errorf("%s: %d %q, want %d %q", c.name, code, msg, c.code, c.msg)
		}
	}

	reconfigure(base)
	testutil.Eventually(t, 10*time.Second, func() error {
		if code, msg := send("POST", edge.url("/v1/chat/completions"), key, chat("gpt-4o"), "8.8.8.8"); code != 200 {
			return errors.New(msg)
		}
		return nil
	})
	if code, msg := send("GET", sys.control.url("/key/list"), masterKey, nil, "8.8.8.8"); code != 200 {
		t.Errorf("control plane after allowed_ips was dropped: %d %s", code, msg)
	}
}
