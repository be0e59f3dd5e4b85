package obs

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func TestValidRequestID(t *testing.T) {
	for id, want := range map[string]bool{
		"":                                     false,
		"a":                                    true,
		"550e8400-e29b-41d4-a716-446655440000": true,
		"01ARZ3NDEKTSV4RRFFQ69G5FAV":           true,
		"Root=1-5759e988-bd862e3fe1be46a9/x+y@z:1.2_3": true,
		strings.Repeat("a", 128):                       true,
		strings.Repeat("a", 129):                       false,
		"has space":                                    false,
		"semi;colon":                                   false,
		"comma,separated":                              false,
		`quote"`:                                       false,
		"new\nline":                                    false,
		"tab\t":                                        false,
		"nul\x00":                                      false,
		"ünïcode":                                      false,
		"{json}":                                       false,
	} {
		if got := ValidRequestID([]byte(id)); got != want {
			t.Errorf("ValidRequestID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestNewRequestID(t *testing.T) {
	hex32 := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[string]bool{}
	for range 10000 {
		id := NewRequestID()
		if !hex32.MatchString(id) || seen[id] || !ValidRequestID([]byte(id)) {
			t.Fatalf("id %q: malformed or repeated", id)
		}
		seen[id] = true
	}
}

func TestRedactPath(t *testing.T) {
	for in, want := range map[string]string{
		"/v1/chat/completions":              "/v1/chat/completions",
		"/key/sk-abc123/regenerate":         "/key/[REDACTED]/regenerate",
		"/x/eyJhbGciOiJSUzI1NiJ9.e30.sig/y": "/x/[REDACTED]/y",
		"/task-sk-1":                        "/task-sk-1",
	} {
		if got := RedactPath(in); got != want {
			t.Errorf("RedactPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewLogger(t *testing.T) {
	var b bytes.Buffer
	l, err := NewLogger(&b, "", "")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hello", "k", 1)
	l.Debug("hidden")
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil || m["msg"] != "hello" || strings.Contains(b.String(), "hidden") {
		t.Fatalf("default: JSON at info, got %q (%v)", b.String(), err)
	}
	b.Reset()
	l, _ = NewLogger(&b, "text", "debug")
	l.Debug("shown")
	if !strings.Contains(b.String(), "level=DEBUG msg=shown") {
		t.Fatalf("text/debug: %q", b.String())
	}
	if _, err := NewLogger(&b, "xml", "info"); err == nil {
		t.Fatal("format xml accepted")
	}
	if _, err := NewLogger(&b, "json", "loud"); err == nil {
		t.Fatal("level loud accepted")
	}
}
