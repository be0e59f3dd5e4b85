package e2e

import (
	"encoding/json"
	"testing"

	"github.com/gatehouse/gatehouse/internal/testutil"
)

// TestLiteLLMKeyIPRestrictions ports LiteLLM 2026's per-key allowed_ips
// (tests/test_litellm/proxy/auth/test_key_ip_restrictions.py) end to end:
// a key bound to addresses is refused on an edge's model routes from any
// other, with LiteLLM's 403; the address is the connection's peer, or
// X-Forwarded-For's leftmost entry on an edge started with
// -use-x-forwarded-for (LiteLLM's use_x_forwarded_for). The matching
// rules row by row are policy's TestLiteLLMKeyIPCases. It also sends
// test_user_input_indirection_rejected.py's top-level case through an
// edge (the rest: edge/gateway TestLiteLLMUserInputIndirectionCases).
func TestLiteLLMKeyIPRestrictions(t *testing.T) {
	sys := startSystem(t, `
general_settings:
  master_key: os.environ/MASTER_KEY
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, mock_response: "hi"}
`, 1)
	plain := sys.edges[0]
	xff := start(t, "edge-xff", []string{"MASTER_KEY=" + masterKey, "USE_X_FORWARDED_FOR=true"}, "edge", "-nats", sys.natsURL,
		"-listen", testutil.FreeAddr(t), "-control", "http://"+sys.control.addr, "-id", "edge-xff")
	waitEdges(t, sys.control, 2)

	local := generateKey(t, sys.control, map[string]any{"allowed_ips": []string{"127.0.0.1", "::1"}})
	remote := generateKey(t, sys.control, map[string]any{"allowed_ips": []string{"203.0.113.0/24"}})
	open := generateKey(t, sys.control, map[string]any{})

	post := func(edge *proc, key string, headers map[string]string) (int, envelope) {
		t.Helper()
		resp, raw, err := testutil.Do(client, "POST", edge.url("/v1/chat/completions"), key, chat("gpt-4o"), headers)
		if err != nil {
			t.Fatal(err)
		}
		var e envelope
		_ = json.Unmarshal(raw, &e)
		return resp.StatusCode, e
	}
	forwarded := func(v string) map[string]string { return map[string]string{"X-Forwarded-For": v} }
	for _, c := range []struct {
		name    string
		edge    *proc
		key     string
		headers map[string]string
		want    int
		ip      string // the address a refusal names
	}{
		{"test_should_allow_when_allowed_ips_is_none", plain, open, nil, 200, ""},
		{"test_should_allow_exact_ip_match", plain, local, nil, 200, ""},
		{"test_should_reject_ip_not_in_list", plain, remote, nil, 403, "127.0.0.1"},
		{"test_should_ignore_xff_when_disabled", plain, local, forwarded("203.0.113.50"), 200, ""},
		{"test_should_ignore_xff_when_disabled/a forged header grants nothing", plain, remote, forwarded("203.0.113.50"), 403, "127.0.0.1"},
		{"test_should_use_xff_header_when_enabled", xff, remote, forwarded("203.0.113.50"), 200, ""},
		{"test_should_use_leftmost_xff_ip", xff, remote, forwarded("203.0.113.50, 10.0.0.1, 192.168.1.1"), 200, ""},
		{"test_should_reject_xff_ip_not_in_allowed", xff, remote, forwarded("8.8.8.8, 10.0.0.1"), 403, "8.8.8.8"},
		{"test_should_reject_xff_ip_not_in_allowed/the peer no longer counts", xff, local, forwarded("8.8.8.8"), 403, "8.8.8.8"},
		{"without the header, the peer", xff, local, nil, 200, ""},
	} {
		code, e := post(c.edge, c.key, c.headers)
		if code != c.want {
			t.Errorf("%s: %d %+v, want %d", c.name, code, e, c.want)
			continue
		}
		if c.want == 403 && e.Error.Message != "Access forbidden: IP address "+c.ip+" not allowed." {
			t.Errorf("%s: %q", c.name, e.Error.Message)
		}
	}
	// test_user_input_indirection_rejected.py: a request naming a secret
	// the config way is refused with 400, naming the field.
	body := chat("gpt-4o")
	body["aws_session_name"] = "os.environ/LITELLM_MASTER_KEY"
	code, raw := callRaw(t, "POST", plain.url("/v1/chat/completions"), open, body)
	var e envelope
	if _ = json.Unmarshal(raw, &e); code != 400 || e.Error.Param == nil || *e.Error.Param != "aws_session_name" {
		t.Errorf("test_is_request_body_safe_rejects_indirection_via_top_level: %d %s", code, raw)
	}
	// The refusal comes before the model is looked at: /v1/models too.
	if code, raw := callRaw(t, "GET", plain.url("/v1/models"), remote, nil); code != 403 {
		t.Errorf("/v1/models from outside allowed_ips: %d %s", code, raw)
	}
}
