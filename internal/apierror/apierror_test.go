package apierror

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

func TestIsAndFrom(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", KeyModelDenied.With("key not allowed to access model %s", "gpt-4o"))
	if !errors.Is(err, KeyModelDenied) {
		t.Fatal("errors.Is must match the sentinel through wrapping")
	}
	if errors.Is(err, TeamModelDenied) {
		t.Fatal("must not match another type")
	}
	e := From(err)
	if e.Status != 403 || e.Type != "key_model_access_denied" {
		t.Fatalf("got %+v", e)
	}
	secret := errors.New("dial tcp: api_key=sk-upstream-secret")
	g := From(secret)
	if g.Status != 500 || string(g.JSON()) == "" || json.Valid(g.JSON()) == false {
		t.Fatalf("generic: %+v", g)
	}
	var body Body
	_ = json.Unmarshal(g.JSON(), &body)
	if body.Error.Message != "internal error" || body.Error.Param != nil {
		t.Fatalf("generic error leaks or wrong shape: %s", g.JSON())
	}
}

func TestEnvelopeShape(t *testing.T) {
	var m map[string]map[string]any
	if err := json.Unmarshal(MissingParam.With("model is required").JSON(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := m["error"][k]; !ok {
			t.Fatalf("envelope lacks %q: %v", k, m)
		}
	}
}
