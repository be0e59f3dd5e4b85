package gateway

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apierror"
)

// LiteLLM 2026's tests/test_litellm/proxy/auth/
// test_user_input_indirection_rejected.py, layer 1 (is_request_body_safe),
// one row per case: a request body's top-level string fields and metadata
// values may not carry an os.environ/ or oidc/ indirection. LiteLLM raises
// a ValueError its auth path turns into a 401; the edge answers 400 naming
// the field (README, deliberate differences), before any provider is
// called (test/e2e TestLiteLLMKeyIPRestrictions sends one).
//
// Layer 2 (get_secret's denylist of sensitive variables behind
// os.environ/ and oidc/env/) is not ported: gatehouse resolves those only
// in the operator's config, never from a request, so no request can name
// the variable read.
func TestLiteLLMUserInputIndirectionCases(t *testing.T) {
	body := func(m map[string]any) []byte {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, v := range []string{"os.environ/LITELLM_MASTER_KEY", "os.environ/PATH", "oidc/env/LITELLM_MASTER_KEY", "oidc/file//etc/passwd", "oidc/google/example.com"} {
		err := checkIndirection(body(map[string]any{"some_field": v}))
		if e := apierror.From(err); err == nil || e.Status != 400 || e.Param != "some_field" || !strings.Contains(e.Message, "indirection") {
			t.Errorf("test_check_no_user_supplied_indirection_rejects %q: %v", v, err)
		}
	}
	// Escaped slashes are the same string once decoded.
	if err := checkIndirection([]byte(`{"some_field":"os.environ\/PATH"}`)); err == nil {
		t.Error(`test_check_no_user_supplied_indirection_rejects "os.environ\/PATH": allowed`)
	}
	for _, v := range []string{"plain-string", "sk-1234", "https://api.openai.com/v1", "", "os.environ"} {
		if err := checkIndirection(body(map[string]any{"some_field": v})); err != nil {
			t.Errorf("test_check_no_user_supplied_indirection_allows_normal_values %q: %v", v, err)
		}
	}
	if err := checkIndirection(body(map[string]any{"messages": []map[string]string{{"role": "user", "content": "hi"}}, "n": 1, "stream": true})); err != nil {
		t.Errorf("test_check_no_user_supplied_indirection_ignores_non_strings: %v", err)
	}
	err := checkIndirection(body(map[string]any{"model": "bedrock/anthropic.claude-v2", "aws_session_name": "os.environ/LITELLM_MASTER_KEY"}))
	if e := apierror.From(err); err == nil || e.Param != "aws_session_name" {
		t.Errorf("test_is_request_body_safe_rejects_indirection_via_top_level: %v", err)
	}
	err = checkIndirection(body(map[string]any{"model": "openai/gpt-4", "metadata": map[string]any{"x-attacker-marker": "oidc/env/LITELLM_MASTER_KEY"}}))
	if e := apierror.From(err); err == nil || e.Param != "metadata.x-attacker-marker" {
		t.Errorf("test_is_request_body_safe_rejects_indirection_via_nested_metadata: %v", err)
	}
	if err := checkIndirection(body(map[string]any{"model": "openai/gpt-4", "messages": []map[string]string{{"role": "user", "content": "tell me about os.environ/PATH and oidc/x"}}, "max_tokens": 100})); err != nil {
		t.Errorf("test_is_request_body_safe_allows_clean_body: %v", err)
	}
}
