// Package apierror holds the user-facing errors of the gateway: typed errors
// that carry an HTTP status and an OpenAI error type, rendered in the OpenAI
// envelope {"error":{"message","type","param","code"}} by one handler per
// server. Only an *Error's Message reaches a client; its cause (Err) is for
// logs, so upstream secrets and stack traces never leave the process.
package apierror

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Error is an error a client may see.
type Error struct {
	Status  int
	Type    string
	Code    string
	Param   string
	Message string
	// Err is the internal cause; never rendered.
	Err error
	// Header is extra response headers (e.g. WWW-Authenticate).
	Header map[string]string
	// Rule names the policy rule that refused the request, for the
	// decision ledger (e.g. "team:<id>:max_budget", "key:<sha256>:rpm");
	// never rendered (a key's hash is not the caller's business).
	Rule string
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Type, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches another *Error of the same type and (when the target sets one)
// code, so callers can write errors.Is(err, apierror.KeyModelAccessDenied).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return t.Type == e.Type && (t.Code == "" || t.Code == e.Code)
}

// With returns a copy of a sentinel with a message.
func (e *Error) With(format string, args ...any) *Error {
	c := *e
	c.Message = fmt.Sprintf(format, args...)
	return &c
}

// By sets the rule that decided on e (a copy made by With or Wrap) and
// returns it.
func (e *Error) By(rule string) *Error {
	e.Rule = rule
	return e
}

// Wrap returns a copy of a sentinel with a message and an internal cause.
func (e *Error) Wrap(cause error, format string, args ...any) *Error {
	c := e.With(format, args...)
	c.Err = cause
	return c
}

// Sentinels. Match with errors.Is; build client errors with With/Wrap.
var (
	BadRequest    = &Error{Status: 400, Type: "invalid_request_error", Code: "bad_request"}
	InvalidJSON   = &Error{Status: 400, Type: "invalid_request_error", Code: "invalid_json"}
	MissingParam  = &Error{Status: 400, Type: "invalid_request_error", Code: "missing_param"}
	TooLarge      = &Error{Status: 413, Type: "invalid_request_error", Code: "request_too_large"}
	BadEncoding   = &Error{Status: 415, Type: "invalid_request_error", Code: "unsupported_content_encoding"}
	ModelNotFound = &Error{Status: 404, Type: "invalid_request_error", Code: "model_not_found"}
	// InvalidModel is a model name no deployment serves, on an LLM route:
	// LiteLLM's 400 (ProxyModelNotFoundError), which clients written for
	// it catch as a bad request. GET /v1/models/{id} keeps OpenAI's 404.
	InvalidModel     = &Error{Status: 400, Type: "invalid_request_error", Code: "model_not_found"}
	NotFound         = &Error{Status: 404, Type: "not_found_error", Code: "not_found"}
	Conflict         = &Error{Status: 409, Type: "conflict_error", Code: "conflict"}
	Unauthenticated  = &Error{Status: 401, Type: "auth_error", Code: "invalid_api_key"}
	KeyBlocked       = &Error{Status: 401, Type: "auth_error", Code: "key_blocked"}
	TeamBlocked      = &Error{Status: 401, Type: "auth_error", Code: "team_blocked"}
	ExpiredKey       = &Error{Status: 401, Type: "expired_key", Code: "expired_key"}
	Forbidden        = &Error{Status: 403, Type: "permission_denied", Code: "forbidden"}
	KeyModelDenied   = &Error{Status: 403, Type: "key_model_access_denied", Code: "key_model_access_denied", Param: "model"}
	TeamModelDenied  = &Error{Status: 403, Type: "team_model_access_denied", Code: "team_model_access_denied", Param: "model"}
	UserModelDenied  = &Error{Status: 403, Type: "user_model_access_denied", Code: "user_model_access_denied", Param: "model"}
	OrgModelDenied   = &Error{Status: 403, Type: "org_model_access_denied", Code: "org_model_access_denied", Param: "model"}
	NotReady         = &Error{Status: 503, Type: "service_unavailable", Code: "policy_not_ready"}
	Unavailable      = &Error{Status: 503, Type: "service_unavailable", Code: "unavailable"}
	UpstreamError    = &Error{Status: 502, Type: "upstream_error", Code: "upstream_error"}
	UpstreamTimeout  = &Error{Status: 504, Type: "upstream_error", Code: "upstream_timeout"}
	RateLimited      = &Error{Status: 429, Type: "rate_limit_error", Code: "rate_limit_exceeded"}
	BudgetExceeded   = &Error{Status: 400, Type: "budget_exceeded", Code: "budget_exceeded"}
	MethodNotAllowed = &Error{Status: 405, Type: "invalid_request_error", Code: "method_not_allowed"}
	RequestTimeout   = &Error{Status: 408, Type: "invalid_request_error", Code: "request_timeout"}
	HeadersTooLarge  = &Error{Status: 431, Type: "invalid_request_error", Code: "headers_too_large"}
	Internal         = &Error{Status: 500, Type: "internal_error", Code: "internal_error"}

	// NotAdmin is LiteLLM's refusal of a management route to a caller that
	// is not a proxy admin: 401 auth_error, as its auth path raises it.
	NotAdmin = &Error{Status: 401, Type: "auth_error", Code: "not_admin"}
)

// From turns any error into a client-safe *Error: an *Error anywhere in the
// chain is used as is; anything else becomes a generic 500 whose message
// says nothing about the cause.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal.Wrap(err, "internal error")
}

// Body is the OpenAI error envelope.
type Body struct {
	Error BodyError `json:"error"`
}

// BodyError is the inside of the envelope. Param is null when unset, as in
// OpenAI's responses.
type BodyError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code"`
}

// Envelope returns the body a client receives for e.
func (e *Error) Envelope() Body {
	b := Body{Error: BodyError{Message: e.Message, Type: e.Type, Code: e.Code}}
	if b.Error.Message == "" {
		b.Error.Message = http.StatusText(e.Status)
	}
	if b.Error.Code == "" {
		b.Error.Code = strconv.Itoa(e.Status)
	}
	if e.Param != "" {
		p := e.Param
		b.Error.Param = &p
	}
	return b
}

// JSON returns the encoded envelope.
func (e *Error) JSON() []byte {
	out, _ := json.Marshal(e.Envelope())
	return out
}

// PyList renders a list as Python prints one (['a', 'b']): LiteLLM's
// refusals show their lists so, and clients match on the text.
func PyList(l []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, v := range l {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('\'')
		b.WriteString(v)
		b.WriteByte('\'')
	}
	b.WriteByte(']')
	return b.String()
}
