// Package httpx holds what the control plane and the edge share over HTTP:
// the one error handler that renders every error in the OpenAI envelope,
// credential extraction, request body limits, and strict JSON decoding
// with messages that name the bad field.
//
// It guarantees that every error leaving a server through ErrorHandler is
// an OpenAI envelope with the status of its apierror type (an untyped
// error is a 500 whose detail is logged, not sent), and that
// DecodeStrict refuses unknown fields and trailing data instead of
// guessing.
package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/internal/apierror"
)

// ErrorHandler renders any error returned by a handler (or raised by Fiber
// itself: unknown route, body too large) as an OpenAI error envelope. Only
// *apierror.Error messages reach the client; other errors are logged and
// become a generic 500.
func ErrorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		e := toAPIError(err)
		if e.Status >= 500 && log != nil {
			// The id is on the response already when the obs middleware runs.
			log.Error("request failed", "request_id", string(c.Response().Header.Peek("X-Request-Id")),
				"method", c.Method(), "route", c.Route().Path, "status", e.Status, "err", err)
		}
		for k, v := range e.Header {
			c.Set(k, v)
		}
		if e.Status == fiber.StatusUnauthorized && e.Header["WWW-Authenticate"] == "" {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="gatehouse"`)
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
		if AnthropicRoute(c.Path()) {
			return c.Status(e.Status).Send(e.AnthropicJSON())
		}
		return c.Status(e.Status).Send(e.JSON())
	}
}

// AnthropicRoute reports a route of Anthropic's Messages API, whose
// clients (Anthropic's SDKs, Claude Code) read errors in Anthropic's
// envelope (apierror.Error.AnthropicJSON); every other route answers in
// OpenAI's.
func AnthropicRoute(path string) bool {
	return strings.HasPrefix(path, "/v1/messages")
}

func toAPIError(err error) *apierror.Error {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		switch fe.Code {
		case fiber.StatusRequestEntityTooLarge:
			return apierror.TooLarge.With("request body too large")
		case fiber.StatusNotFound:
			return apierror.NotFound.With("route not found: %s", strings.TrimPrefix(fe.Message, "Cannot "))
		case fiber.StatusMethodNotAllowed:
			return apierror.MethodNotAllowed.With("method not allowed")
		case fiber.StatusRequestTimeout: // ServerConfig's ReadTimeout
			return apierror.RequestTimeout.With("the request did not arrive in time: a whole request must be sent within %d s of the connection opening or of its first byte", int(readTimeout.Seconds()))
		case fiber.StatusRequestHeaderFieldsTooLarge: // past HeaderBufferSize
			return apierror.HeadersTooLarge.With("request headers too large: the request line and headers together may take %d bytes", HeaderBufferSize)
		}
		if fe.Code >= 400 && fe.Code < 500 {
			return &apierror.Error{Status: fe.Code, Type: "invalid_request_error", Code: "bad_request", Message: fe.Message}
		}
	}
	return apierror.From(err)
}

// Credential returns the caller's secret in LiteLLM's order: Authorization
// (Bearer/Basic), api-key (Azure clients), x-api-key (Anthropic clients),
// x-goog-api-key. present is false when no such header was sent; a header
// with an unsupported scheme is present with an empty credential.
func Credential(c *fiber.Ctx) (cred string, present bool) {
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		for _, p := range []string{"Bearer ", "bearer ", "Basic "} {
			if v, ok := strings.CutPrefix(h, p); ok {
				return strings.TrimSpace(v), true
			}
		}
		return "", true
	}
	for _, name := range []string{"api-key", "x-api-key", "x-goog-api-key"} {
		if v := c.Get(name); v != "" {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// DecodeStrict decodes a JSON object into v, refusing unknown fields,
// trailing data and non-objects, with messages that name the field.
func DecodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apierror.InvalidJSON.With("request body is empty; expected a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(body, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return apierror.InvalidJSON.With("invalid JSON: unexpected data after the top-level object")
	}
	return nil
}

func jsonError(body []byte, err error) *apierror.Error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return apierror.InvalidJSON.With("invalid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		// typ.Field is a Go path (embedded structs appear by type name:
		// "keyFields.max_budget"); the client wrote a JSON path.
		field := jsonPathAt(body, typ.Offset)
		if field == "" {
			field = typ.Field
		}
		e := apierror.BadRequest.With("field %q: expected %s, got JSON %s", field, jsonKind(typ.Type), typ.Value)
		e.Param = field
		return e
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		e := apierror.BadRequest.With("unknown field %q", f)
		e.Param = f
		return e
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return apierror.InvalidJSON.With("invalid JSON: unexpected end of input")
	}
	return apierror.InvalidJSON.With("invalid JSON: %v", err)
}

// jsonKind names the JSON type a Go type decodes from.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a JSON value of another type"
}

// jsonPathAt returns the dotted path of keys ("metadata.tags", "models.1")
// of the value that ends at offset in body, by re-reading the tokens: the
// decoder's own path names Go fields, not what the client sent.
func jsonPathAt(body []byte, offset int64) string {
	type frame struct {
		key     string
		index   int
		isArray bool
		wantKey bool
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var stack []frame
	var path string
	render := func() string {
		parts := make([]string, 0, len(stack))
		for _, f := range stack {
			if f.isArray {
				parts = append(parts, strconv.Itoa(f.index))
			} else {
				parts = append(parts, f.key)
			}
		}
		return strings.Join(parts, ".")
	}
	// value records that a value was read in the innermost container.
	value := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].isArray {
				stack[n-1].index++
			} else {
				stack[n-1].wantKey = true
			}
		}
	}
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return path
		}
		if n := len(stack); n > 0 && !stack[n-1].isArray && stack[n-1].wantKey {
			if k, ok := tok.(string); ok {
				stack[n-1].key, stack[n-1].wantKey = k, false
				continue
			}
		}
		if before < offset {
			path = render()
		}
		if dec.InputOffset() >= offset {
			return path
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{wantKey: true})
		case json.Delim('['):
			stack = append(stack, frame{isArray: true})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			value()
		default:
			value()
		}
	}
}

// Required is the 400 for a required field that was not sent, naming it.
func Required(field string) *apierror.Error {
	e := apierror.MissingParam.With("%s is required", field)
	e.Param = field
	return e
}

// Param builds a 400 naming a request field.
func Param(field, format string, args ...any) *apierror.Error {
	e := apierror.BadRequest.With("%s: %s", field, fmt.Sprintf(format, args...))
	e.Param = field
	return e
}
