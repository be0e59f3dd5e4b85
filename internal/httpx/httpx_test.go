package httpx

import (
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/internal/apierror"
)

// keyFields is embedded, as in control/api: encoding/json names it by its
// Go type in UnmarshalTypeError.Field, which a client never wrote.
type keyFields struct {
	MaxBudget *float64          `json:"max_budget"`
	Models    []string          `json:"models"`
	Metadata  map[string]any    `json:"metadata"`
	Limits    map[string]int    `json:"limits"`
	Blocked   bool              `json:"blocked"`
	Tags      map[string]string `json:"tags"`
}

type keyBody struct {
	keyFields
	Duration string `json:"duration"`
	RPM      *int   `json:"rpm_limit"`
	Nested   struct {
		Inner []int `json:"inner"`
	} `json:"nested"`
}

func TestDecodeStrictNamesTheAPIField(t *testing.T) {
	for _, tc := range []struct {
		body, param, msg string
	}{
		{`{"max_budget":"10"}`, "max_budget", `field "max_budget": expected a number, got JSON string`},
		{`{"duration":"1h","rpm_limit":1.5}`, "rpm_limit", `field "rpm_limit": expected an integer, got JSON number 1.5`},
		{`{"models":"gpt-4o"}`, "models", `field "models": expected an array, got JSON string`},
		{`{"models":["a",3]}`, "models.1", `field "models.1": expected a string, got JSON number`},
		{`{"models":{"a":1}}`, "models", `field "models": expected an array, got JSON object`},
		{`{"limits":{"a":1,"b":"x"}}`, "limits.b", `field "limits.b": expected an integer, got JSON string`},
		{`{"blocked":"yes"}`, "blocked", `field "blocked": expected a boolean, got JSON string`},
		{`{"metadata":{"k":[1,{"x":2}]},"nested":{"inner":[1,true]}}`, "nested.inner.1", `field "nested.inner.1": expected an integer, got JSON bool`},
		{`{"duration":5}`, "duration", `field "duration": expected a string, got JSON number`},
		{`{"modles":[]}`, "modles", `unknown field "modles"`},
	} {
		t.Run(tc.body, func(t *testing.T) {
			var v keyBody
			err := DecodeStrict([]byte(tc.body), &v)
			var e *apierror.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an API error", err)
			}
			if e.Param != tc.param || e.Message != tc.msg {
				t.Errorf("got param %q message %q, want %q %q", e.Param, e.Message, tc.param, tc.msg)
			}
		})
	}
}
