package apierror

import (
	"encoding/json"
	"testing"
)

// TestAnthropicJSON: Anthropic's envelope with Anthropic's type for the
// status, the message as is, and the gateway's own type, code and param.
func TestAnthropicJSON(t *testing.T) {
	p, model := "max_tokens", "model"
	for _, tc := range []struct {
		e    *Error
		want AnthropicBody
	}{
		{RateLimited.With("slow down"), AnthropicBody{"error", AnthropicError{Type: "rate_limit_error", Message: "slow down", GatewayType: "rate_limit_error", Code: "rate_limit_exceeded"}}},
		{KeyModelDenied.With("no"), AnthropicBody{"error", AnthropicError{Type: "permission_error", Message: "no", GatewayType: "key_model_access_denied", Code: "key_model_access_denied", Param: &model}}},
		{&Error{Status: 400, Type: "invalid_request_error", Code: "bad_request", Param: p, Message: "max_tokens is required"},
			AnthropicBody{"error", AnthropicError{Type: "invalid_request_error", Message: "max_tokens is required", GatewayType: "invalid_request_error", Code: "bad_request", Param: &p}}},
		{BudgetExceeded.With("over"), AnthropicBody{"error", AnthropicError{Type: "invalid_request_error", Message: "over", GatewayType: "budget_exceeded", Code: "budget_exceeded"}}},
		{&Error{Status: 418}, AnthropicBody{"error", AnthropicError{Type: "invalid_request_error", Message: "I'm a teapot", Code: "418"}}},
		{UpstreamTimeout.With("late"), AnthropicBody{"error", AnthropicError{Type: "timeout_error", Message: "late", GatewayType: "upstream_error", Code: "upstream_timeout"}}},
	} {
		var got AnthropicBody
		if err := json.Unmarshal(tc.e.AnthropicJSON(), &got); err != nil {
			t.Fatal(err)
		}
		gp, wp := "", ""
		if got.Error.Param != nil {
			gp = *got.Error.Param
		}
		if tc.want.Error.Param != nil {
			wp = *tc.want.Error.Param
		}
		got.Error.Param, tc.want.Error.Param = nil, nil
		if got != tc.want || gp != wp {
			t.Errorf("%v: got %+v (param %q), want %+v (param %q)", tc.e, got, gp, tc.want, wp)
		}
	}
}
