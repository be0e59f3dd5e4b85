package proxy

import (
	"errors"
	"slices"
	"testing"
)

// LiteLLM's request-fallback extraction cases (tests/test_litellm/proxy/auth/
// test_router_override_fallback_auth.py, _fallback_model_names and the
// _enforce_key_and_fallback_model_access rows): every model name a body's
// "fallbacks" carries is checked against the caller, nested ones included;
// use is what a request for group falls back to.
//
// Skipped: test_router_override_all_fallback_fields_validated (3 rows) and
// the context_window_fallbacks and content_policy_fallbacks rows of
// test_top_level_fallback_fields_validated: gatehouse does not act on a
// body's router_settings_override, context_window_fallbacks or
// content_policy_fallbacks (it falls back on provider failures only), so
// they cannot route a request to any model; "fallbacks" inside
// router_settings_override is LiteLLM's override of its router, which
// gatehouse's edge does not take from a body.
func TestLiteLLMRequestFallbackNames(t *testing.T) {
	for _, c := range []struct {
		name, raw, group string
		use, check       []string
		badField         string // a 400 naming this field
	}{
		{"test_fallback_model_names_router_config_shape", `[{"gpt-3.5-turbo": ["gpt-4", "claude-3"]}, {"gpt-4o": ["o1"]}]`, "gpt-3.5-turbo",
			[]string{"gpt-4", "claude-3"}, []string{"gpt-4", "claude-3", "o1"}, ""},
		{"test_fallback_model_names_router_config_shape (other group)", `[{"gpt-3.5-turbo": ["gpt-4", "claude-3"]}, {"gpt-4o": ["o1"]}]`, "gpt-4o",
			[]string{"o1"}, []string{"gpt-4", "claude-3", "o1"}, ""},
		{"test_fallback_model_names_router_config_shape (no entry for the group)", `[{"gpt-4o": ["o1"]}]`, "gpt-3.5-turbo",
			nil, []string{"o1"}, ""},
		{"router-config shape, provider-stripped group", `[{"gpt-3.5-turbo": ["claude-3-haiku"]}]`, "openai/gpt-3.5-turbo",
			[]string{"claude-3-haiku"}, []string{"claude-3-haiku"}, ""},
		{"router-config shape, generic *", `[{"claude-4-sonnet": ["a"]}, {"*": ["generic"]}]`, "unknown-model",
			[]string{"generic"}, []string{"a", "generic"}, ""},
		{"test_fallback_model_names_simple_string_shape", `["gpt-4", "claude-3"]`, "m",
			[]string{"gpt-4", "claude-3"}, []string{"gpt-4", "claude-3"}, ""},
		{"test_fallback_model_names_client_side_shape", `[{"model": "gpt-4"}, {"model": "claude-3"}]`, "m",
			[]string{"gpt-4", "claude-3"}, []string{"gpt-4", "claude-3"}, ""},
		{"test_fallback_model_names_nested_deployment_fallbacks", `[{"primary": [{"model": "gpt-4", "fallbacks": [{"gpt-4": ["deepseek-chat"]}]}]}]`, "primary",
			[]string{"gpt-4"}, []string{"gpt-4", "deepseek-chat"}, ""},
		{"test_nested_deployment_fallback_inner_model_validated", `[{"gpt-3.5-turbo": [{"model": "gpt-3.5-turbo", "fallbacks": [{"gpt-3.5-turbo": ["deep-smuggled-model"]}]}]}]`, "gpt-3.5-turbo",
			[]string{"gpt-3.5-turbo"}, []string{"gpt-3.5-turbo", "deep-smuggled-model"}, ""},
		{"test_top_level_fallback_fields_validated[fallbacks]", `[{"gpt-3.5-turbo": ["top-level-smuggled"]}]`, "gpt-3.5-turbo",
			[]string{"top-level-smuggled"}, []string{"top-level-smuggled"}, ""},
		{"test_fallback_model_names_empty_or_none ([])", `[]`, "m", nil, nil, ""},
		// LiteLLM drops "not a list" and a model-less {"api_base": ...}
		// and goes on; gatehouse refuses the body (README: deliberate
		// differences).
		{"test_fallback_model_names_empty_or_none (not a list)", `"not a list"`, "m", nil, nil, "fallbacks"},
		{"test_model_less_fallback_dict_is_skipped_never_passed_as_none", `[{"gpt-3.5-turbo": [{"model": "real-fallback"}, {"api_base": "http://attacker"}, "string-fallback"]}]`, "gpt-3.5-turbo",
			nil, nil, "fallbacks.0.gpt-3.5-turbo.1.api_base"},
	} {
		use, check, err := RequestFallbacks(c.raw, c.group)
		if c.badField != "" {
			var fe *FieldTypeError
			if !errors.As(err, &fe) || fe.Field != c.badField {
				t.Errorf("%s: got %v, want a field error on %q", c.name, err, c.badField)
			}
			continue
		}
		if err != nil || !slices.Equal(use, c.use) || !slices.Equal(check, c.check) {
			t.Errorf("%s: use %q check %q err %v; want use %q check %q", c.name, use, check, err, c.use, c.check)
		}
	}
}
