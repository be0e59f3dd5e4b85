package security

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// smuggling: a caller names a team its credential does not grant.
func smuggling(t *testing.T, s *stack) {
	const cat = "team header smuggling"
	chatURL := s.edge + "/v1/chat/completions"
	creds := map[string]string{
		"team JWT":            s.token(t, "team-a-svc"),
		"JWT with groups":     s.token(t, "groups-a"),
		"user JWT":            s.token(t, "user-1-app"),
		"team-a virtual key":  s.newKey(t, map[string]any{"team_id": "team-a", "models": []string{"gpt-4o"}}),
		"key without a team":  s.newKey(t, map[string]any{"models": []string{"gpt-4o"}}),
		"key of another user": s.newKey(t, map[string]any{"user_id": "user-1", "models": []string{"gpt-4o"}}),
	}
	for name, cred := range creds {
		// Controls: each credential works on its own model.
		if r := s.do(t, "POST", chatURL, cred, chat("gpt-4o"), nil); r.status != 200 {
			t.Fatalf("control: %s refused on gpt-4o: %d %s", name, r.status, r.body)
		}
		for _, h := range []string{"team-b", " team-b ", "TEAM-B", "team-a,team-b", "team-b\tteam-a"} {
			attack{name: fmt.Sprintf("%s with x-litellm-team-id %q", name, h), url: chatURL, cred: cred, body: chat("team-b-model"),
				header: map[string]string{"x-litellm-team-id": h}, status: 403}.run(t, s, cat)
		}
		attack{name: name + " with x-litellm-team-id team-b on /v1/models", method: "GET", url: s.edge + "/v1/models", cred: cred,
			header: map[string]string{"x-litellm-team-id": "team-b"}, status: 403}.runIfRefused(t, s, cat, "team-b-model")
		attack{name: name + " reads team-b's info with the header", method: "GET", url: s.control + "/team/info?team_id=team-b", cred: cred,
			header: map[string]string{"x-litellm-team-id": "team-b"}, status: 403}.run(t, s, cat)
	}
	// The header twice: neither copy may select a team the token lacks.
	for name, cred := range map[string]string{"team JWT": creds["team JWT"], "JWT with groups": creds["JWT with groups"]} {
		r := rawRequest(t, s.edge, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+cred+
			"\r\nx-litellm-team-id: team-a\r\nx-litellm-team-id: team-b\r\nContent-Type: application/json\r\n", `{"model":"team-b-model","messages":[{"role":"user","content":"hi"}]}`)
		countRaw(t, cat, name+" with the header twice", r, 403)
	}
}

// runIfRefused is run for routes that answer 200 with a filtered list: a
// 200 is acceptable when it does not list what the caller may not see.
func (a attack) runIfRefused(t *testing.T, s *stack, category, forbidden string) {
	t.Helper()
	r := s.do(t, a.method, a.url, a.cred, a.body, a.header)
	leaked := r.status < 400 && bytes.Contains(r.body, []byte(forbidden))
	count(category, leaked)
	switch {
	case leaked:
		t.Errorf("ACCEPTED %s: %d lists %s: %s", a.name, r.status, forbidden, trim(r.body))
	case r.status >= 400:
		if err := checkEnvelope(r); err != nil {
			t.Errorf("%s: %v", a.name, err)
		}
	}
}

// rawRequest writes head (request line and headers, without the blank
// line) and body on a new connection, and reads one response.
func rawRequest(t *testing.T, base, head, body string) response {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if !strings.Contains(strings.ToLower(head), "content-length") && !strings.Contains(strings.ToLower(head), "transfer-encoding") {
		head += fmt.Sprintf("Content-Length: %d\r\n", len(body))
	}
	if _, err := c.Write([]byte(head + "\r\n" + body)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b.Bytes()}
}

func countRaw(t *testing.T, category, name string, r response, status int) {
	t.Helper()
	count(category, r.status < 400)
	switch {
	case r.status < 400:
		t.Errorf("ACCEPTED %s: %d %s", name, r.status, trim(r.body))
	case r.status != status:
		t.Errorf("%s: status %d, want %d: %s", name, r.status, status, trim(r.body))
	default:
		if err := checkEnvelope(r); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func gz(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// bodies: oversized, compressed past the limit, and malformed requests.
// Every one is sent with a valid credential, so only the body decides.
func bodies(t *testing.T, s *stack) {
	const cat = "request bodies"
	key := s.newKey(t, map[string]any{"team_id": "team-a", "models": []string{"gpt-4o"}})
	chatURL := s.edge + "/v1/chat/completions"
	big := `{"model":"gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat("a", bodyLimit) + `"}]}`
	for _, u := range []string{chatURL, s.control + "/key/generate", s.edge + "/key/generate"} {
		cred := key
		if !strings.HasSuffix(u, "/completions") {
			cred = s.masterKey
		}
		attack{name: "body over the limit @" + u, url: u, cred: cred, body: big, status: 413}.run(t, s, cat)
		pu, _ := url.Parse(u)
		r := rawRequest(t, pu.Host, "POST "+pu.Path+" HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+cred+
			"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n", chunked(big))
		countRaw(t, cat, "chunked body over the limit @"+u, r, 413)
	}
	// Compressed bodies: the limit is on what the handler reads, not on
	// the bytes on the wire (a 100 KiB gzip is 100 MiB of JSON).
	bomb := gz(t, []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"pad":"`+strings.Repeat("a", 100<<20)+`"}`))
	for _, enc := range []string{"gzip", "GZIP", "gzip, identity", "x-gzip"} {
		for _, u := range []string{chatURL, s.control + "/key/generate"} {
			cred := key
			if !strings.HasSuffix(u, "/completions") {
				cred = s.masterKey
			}
			r := s.do(t, "POST", u, cred, bomb, map[string]string{"Content-Encoding": enc})
			countRaw(t, cat, fmt.Sprintf("%d-byte gzip of 100 MiB (Content-Encoding %q) @%s", len(bomb), enc, u), r, 413)
		}
	}
	layered := gz(t, gz(t, gz(t, []byte(`{"model":"gpt-4o","pad":"`+strings.Repeat("a", 20<<20)+`"}`))))
	r := s.do(t, "POST", chatURL, key, layered, map[string]string{"Content-Encoding": "gzip, gzip, gzip"})
	countRaw(t, cat, "three layers of gzip", r, 413)
	r = s.do(t, "POST", chatURL, key, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, map[string]string{"Content-Encoding": "br"})
	countRaw(t, cat, "Content-Encoding br on a plain body", r, 415)

	malformed := map[string]string{
		"empty body":              "",
		"not JSON":                "model=gpt-4o",
		"truncated":               `{"model":"gpt-4o","messages":[`,
		"array":                   `[{"model":"gpt-4o"}]`,
		"string":                  `"gpt-4o"`,
		"null":                    `null`,
		"model a number":          `{"model":4,"messages":[{"role":"user","content":"hi"}]}`,
		"model null":              `{"model":null,"messages":[{"role":"user","content":"hi"}]}`,
		"no model":                `{"messages":[{"role":"user","content":"hi"}]}`,
		"messages a string":       `{"model":"gpt-4o","messages":"hi"}`,
		"messages empty":          `{"model":"gpt-4o","messages":[]}`,
		"trailing garbage":        `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}}`,
		"invalid UTF-8":           "{\"model\":\"gpt-4o\xff\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
		"lone surrogate model":    `{"model":"\ud800","messages":[{"role":"user","content":"hi"}]}`,
		"deep nesting":            `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"x":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`,
		"NaN":                     `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":NaN}`,
		"model team-b's, cased":   `{"model":"gpt-4o","Model":"team-b-model","messages":[{"role":"user","content":"hi"}]}`,
		"model team-b's, escaped": `{"model":"gpt-4o","mod\u0065l":"team-b-model","messages":[{"role":"user","content":"hi"}]}`,
		"model team-b's, last":    `{"model":"gpt-4o","model":"team-b-model","messages":[{"role":"user","content":"hi"}]}`,
	}
	for name, body := range malformed {
		want := 400
		if strings.Contains(name, "team-b") || strings.Contains(name, "UTF-8") || strings.Contains(name, "surrogate") {
			want = 403 // a model name the key does not have
		}
		attack{name: name, url: chatURL, cred: key, body: body, status: want}.run(t, s, cat)
	}
	for name, body := range map[string]string{
		"unknown field":      `{"team_id":"t-x","is_admin":true}`,
		"wrong type":         `{"team_id":5}`,
		"trailing object":    `{"team_id":"t-x"}{"team_id":"t-y"}`,
		"models not strings": `{"team_id":"t-x","models":[1]}`,
	} {
		attack{name: "/team/new " + name, url: s.control + "/team/new", cred: s.masterKey, body: body, status: 400}.run(t, s, cat)
	}
}

func chunked(body string) string {
	var b strings.Builder
	for len(body) > 0 {
		n := min(len(body), 64<<10)
		fmt.Fprintf(&b, "%x\r\n%s\r\n", n, body[:n])
		body = body[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}
