package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/jsonscan"
	"github.com/gatehouse/gatehouse/policy"
)

// ChatRequest is what the edge reads from a request body (a chat
// completion, an embedding, a text completion) before forwarding it as
// sent.
type ChatRequest struct {
	// Model is the top-level "model" (the last one if repeated, as for
	// encoding/json); "" when absent or null.
	Model string
	// Stream is "stream": true.
	Stream bool
	// Messages is false unless "messages" is a non-empty array.
	Messages bool
	// User is the top-level "user" (the end user, LiteLLM's customer);
	// "" when absent or null.
	User string
	// Input and Prompt are the first byte of the top-level "input"
	// (embeddings) and "prompt" (text completions) values ('"', '[', 'n'
	// for null, ...); 0 when absent. The edge checks them per endpoint.
	Input, Prompt byte
	// Fallbacks is the raw "fallbacks" value (LiteLLM's request-level
	// fallback models); "" when absent or null. Copied (it outlives the
	// body), which costs an allocation only for requests that carry it.
	Fallbacks string
}

// RequestFallbacks decodes a request's "fallbacks" for a request routed to
// model group group. It takes LiteLLM's shapes: model names, objects with a
// "model" (which may carry "fallbacks" of their own), and the router
// config's [{"<group>": [...]}], whose lists apply to the group named (else
// its name without a provider prefix, else "*"), as router_settings'
// fallbacks do. use is what the request falls back to, in order; check is
// every model name the body names, nested ones included, each of which the
// caller must be allowed to call: LiteLLM validates them all against the
// key (test_router_override_fallback_auth), so no list the body carries can
// name a model the key may not use, even one this request never reaches.
func RequestFallbacks(raw, group string) (use, check []string, err error) {
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &items); err != nil {
		return nil, nil, &FieldTypeError{Field: "fallbacks", Want: "array", Got: jsonKind([]byte(raw))}
	}
	var byGroup map[string][]string // the router-config shape's lists
	for i, it := range items {
		field := fmt.Sprintf("fallbacks.%d", i)
		var name string
		if json.Unmarshal(it, &name) == nil {
			use, check = append(use, name), append(check, name)
			continue
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(it, &obj) != nil {
			return nil, nil, fallbackShapeError(field, it)
		}
		if m, ok := obj["model"]; ok {
			if json.Unmarshal(m, &name) != nil || name == "" {
				return nil, nil, fallbackShapeError(field, it)
			}
			use, check = append(use, name), append(check, name)
			if nested, ok := obj["fallbacks"]; ok && string(nested) != "null" {
				_, more, err := RequestFallbacks(string(nested), name)
				if err != nil {
					return nil, nil, prefixField(field, err)
				}
				check = append(check, more...)
			}
			continue
		}
		if len(obj) != 1 {
			return nil, nil, fallbackShapeError(field, it)
		}
		for primary, list := range obj {
			_, names, err := RequestFallbacks(string(list), primary)
			if err != nil {
				return nil, nil, prefixField(field+"."+primary, err)
			}
			check = append(check, names...)
			if byGroup == nil {
				byGroup = map[string][]string{}
			}
			if _, seen := byGroup[primary]; !seen {
				byGroup[primary] = topLevelNames(list)
			}
		}
	}
	if byGroup != nil {
		use = append(use, policy.FallbacksIn(byGroup, group)...)
	}
	return use, check, nil
}

// topLevelNames are the names a list of fallbacks (already validated)
// falls back to, without the nested lists of its deployment objects.
func topLevelNames(list json.RawMessage) []string {
	var items []json.RawMessage
	_ = json.Unmarshal(list, &items)
	out := make([]string, 0, len(items))
	for _, it := range items {
		var name string
		if json.Unmarshal(it, &name) != nil {
			var obj struct {
				Model string `json:"model"`
			}
			_ = json.Unmarshal(it, &obj)
			name = obj.Model
		}
		out = append(out, name)
	}
	return out
}

func fallbackShapeError(field string, it json.RawMessage) error {
	return &FieldTypeError{Field: field, Want: "string (a model name), object with \"model\" or {\"<model>\": [fallbacks]}", Got: jsonKind(it)}
}

// prefixField names a nested list's bad entry by its full path.
func prefixField(prefix string, err error) error {
	var fe *FieldTypeError
	if errors.As(err, &fe) {
		f := *fe
		f.Field = prefix + strings.TrimPrefix(f.Field, "fallbacks")
		return &f
	}
	return err
}

// FieldTypeError is a top-level field of the wrong JSON type.
type FieldTypeError struct {
	Field, Want, Got string
}

func (e *FieldTypeError) Error() string {
	return fmt.Sprintf("field %q: expected %s, got JSON %s", e.Field, e.Want, e.Got)
}

// ParseChatRequest validates body as JSON and reads the fields the edge
// needs. It replaces a json.Unmarshal into a struct: one validating pass
// (jsonscan.Valid, which accepts what json.Valid accepts, faster and
// without allocating) and one scan of the top-level keys, with no allocation unless the model name holds escapes. The
// error is ErrInvalidJSON (wrapping the decoder's message), ErrNotObject or
// a *FieldTypeError.
func ParseChatRequest(body []byte) (ChatRequest, error) {
	var r ChatRequest
	if !jsonscan.Valid(body) {
		// The slow path only for bad input, for the decoder's message.
		var v any
		err := json.Unmarshal(body, &v)
		if err == nil {
			err = ErrInvalidJSON
		}
		return r, fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	i := jsonscan.WS(body, 0)
	if body[i] != '{' {
		return r, ErrNotObject
	}
	i = jsonscan.WS(body, i+1)
	for body[i] != '}' {
		kEnd := jsonscan.SkipString(body, i) // the body was validated: never -1
		key := body[i:kEnd]
		i = jsonscan.WS(body, kEnd) // at ':'
		i = jsonscan.WS(body, i+1)  // at the value
		vEnd := jsonscan.SkipValue(body, i)
		v := body[i:vEnd]
		var err error
		switch f := chatField(key); f {
		case "model", "user":
			dst := &r.Model
			if f == "user" {
				dst = &r.User
			}
			if *dst, err = stringField(f, v); err != nil {
				return r, err
			}
		case "stream":
			switch v[0] {
			case 't':
				r.Stream = true
			case 'f', 'n':
				r.Stream = false
			default:
				return r, &FieldTypeError{Field: "stream", Want: "bool", Got: jsonKind(v)}
			}
		case "input":
			r.Input = v[0]
		case "prompt":
			r.Prompt = v[0]
		case "messages":
			r.Messages = v[0] == '[' && body[jsonscan.WS(body, i+1)] != ']'
		case "fallbacks":
			r.Fallbacks = ""
			if v[0] != 'n' {
				r.Fallbacks = string(v)
			}
		}
		i = jsonscan.WS(body, vEnd)
		if body[i] == ',' {
			i = jsonscan.WS(body, i+1)
		}
	}
	return r, nil
}

// stringField is a valid JSON value read as an optional string: "" for
// null, a *FieldTypeError for another type. A string without escapes is
// copied straight from the body; only one with escapes or invalid UTF-8
// (which json.Unmarshal replaces) goes through encoding/json.
func stringField(field string, v []byte) (string, error) {
	switch v[0] {
	case '"':
		if bytes.IndexByte(v, '\\') < 0 && utf8.Valid(v) {
			return string(v[1 : len(v)-1]), nil
		}
		var out string
		if err := json.Unmarshal(v, &out); err != nil {
			return "", fmt.Errorf("%w: %v", ErrInvalidJSON, err)
		}
		return out, nil
	case 'n':
		return "", nil
	}
	return "", &FieldTypeError{Field: field, Want: "string", Got: jsonKind(v)}
}

// chatFields are the top-level keys ParseChatRequest reads.
var chatFields = [...]string{"model", "stream", "user", "input", "prompt", "messages", "fallbacks"}

// chatField is the field of chatFields the quoted key names (matched as
// keyFold does), or "". The key is unquoted and checked once, not once per
// field.
func chatField(quoted []byte) string {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') < 0 && isASCII(raw) {
		for _, f := range chatFields {
			if len(raw) == len(f) && bytes.EqualFold(raw, []byte(f)) {
				return f
			}
		}
		return ""
	}
	var k string
	if json.Unmarshal(quoted, &k) != nil {
		return ""
	}
	for _, f := range chatFields {
		if strings.EqualFold(k, f) {
			return f
		}
	}
	return ""
}

// keyFold reports whether the quoted key names field case-insensitively,
// as encoding/json matches struct fields: the edge must decide on the
// same field a case-insensitive upstream would read ("Model" after
// "model" wins there), never on a different one.
func keyFold(quoted []byte, field string) bool {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') < 0 && isASCII(raw) {
		return bytes.EqualFold(raw, []byte(field))
	}
	var k string
	return json.Unmarshal(quoted, &k) == nil && strings.EqualFold(k, field)
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// jsonKind names a valid JSON value's type as encoding/json's
// UnmarshalTypeError does.
func jsonKind(v []byte) string {
	switch v[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}
