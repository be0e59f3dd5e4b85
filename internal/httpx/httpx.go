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
		return c.Status(e.Status).Send(e.JSON())
	}
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
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return apierror.InvalidJSON.With("invalid JSON: unexpected data after the top-level object")
	}
	return nil
}

func jsonError(err error) *apierror.Error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return apierror.InvalidJSON.With("invalid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		e := apierror.BadRequest.With("field %q: expected %s, got JSON %s", typ.Field, typ.Type, typ.Value)
		e.Param = typ.Field
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

// Param builds a 400 naming a request field.
func Param(field, format string, args ...any) *apierror.Error {
	e := apierror.BadRequest.With("%s: %s", field, fmt.Sprintf(format, args...))
	e.Param = field
	return e
}
