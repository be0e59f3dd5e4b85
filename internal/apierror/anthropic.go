package apierror

import (
	"encoding/json"
	"net/http"
)

// anthropicTypes are Anthropic's error types by HTTP status.
var anthropicTypes = map[int]string{
	400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
	404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
	502: "api_error", 503: "overloaded_error", 504: "timeout_error", 529: "overloaded_error",
}

// AnthropicBody is Anthropic's error envelope.
type AnthropicBody struct {
	Type  string         `json:"type"` // "error"
	Error AnthropicError `json:"error"`
}

// AnthropicError keeps the gateway's own type, code and param next to
// Anthropic's type: Anthropic's SDKs read type and message and ignore the
// rest, while a person reading the body still sees which limit or check
// refused the call.
type AnthropicError struct {
	Type        string  `json:"type"`
	Message     string  `json:"message"`
	GatewayType string  `json:"gatehouse_type,omitempty"`
	Code        string  `json:"code,omitempty"`
	Param       *string `json:"param,omitempty"`
}

// AnthropicJSON renders e in Anthropic's envelope,
// {"type":"error","error":{"type":...,"message":...}}: on the Messages API
// routes clients are Anthropic SDKs (Claude Code), which turn it into
// their typed errors with the message readable.
func (e *Error) AnthropicJSON() []byte {
	o := e.Envelope().Error
	typ := anthropicTypes[e.Status]
	if typ == "" {
		typ = "api_error"
		if e.Status >= 400 && e.Status < 500 {
			typ = "invalid_request_error"
		}
	}
	if o.Message == "" {
		o.Message = http.StatusText(e.Status)
	}
	out, _ := json.Marshal(AnthropicBody{Type: "error", Error: AnthropicError{Type: typ, Message: o.Message,
		GatewayType: o.Type, Code: o.Code, Param: o.Param}})
	return out
}
