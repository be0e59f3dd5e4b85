package security

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/control/api"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// keyAttacks guesses, replays and borrows virtual keys and the master key.
func keyAttacks(t *testing.T, s *stack) {
	const cat = "virtual keys"
	chatURL := s.edge + "/v1/chat/completions"
	good := s.newKey(t, map[string]any{"team_id": "team-a", "models": []string{"gpt-4o"}})
	teamB := s.newKey(t, map[string]any{"team_id": "team-b", "models": []string{"team-b-model"}})
	if r := s.do(t, "POST", chatURL, good, chat("gpt-4o"), nil); r.status != 200 {
		t.Fatalf("control: a valid key is refused: %d %s", r.status, r.body)
	}
	if r := s.do(t, "POST", chatURL, teamB, chat("team-b-model"), nil); r.status != 200 {
		t.Fatalf("control: team-b's key is refused on its model: %d %s", r.status, r.body)
	}
	flip := func(k string, i int) string {
		b := []byte(k)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	var masked struct {
		Info struct {
			KeyName string `json:"key_name"`
		} `json:"info"`
	}
	_ = json.Unmarshal(s.must(t, "GET", s.control+"/key/info?key="+good, nil), &masked)
	guesses := map[string]string{
		"key minus its last character":       good[:len(good)-1],
		"key plus a character":               good + "A",
		"last character changed":             flip(good, len(good)-1),
		"first random character changed":     flip(good, 3),
		"key upper-cased":                    strings.ToUpper(good),
		"half the key":                       good[:len(good)/2],
		"just the prefix":                    "sk-",
		"the stored token (sha256) as a key": events.HashKey(good),
		"sk- and the stored token":           "sk-" + events.HashKey(good),
		"the masked key_name":                masked.Info.KeyName,
		"master key minus a character":       s.masterKey[:len(s.masterKey)-1],
		"master key plus a character":        s.masterKey + "x",
		"master key upper-cased":             strings.ToUpper(s.masterKey),
		"master key's sha256":                events.HashKey(s.masterKey),
	}
	for name, cred := range guesses {
		for _, u := range []string{chatURL, s.control + "/key/info"} {
			method, body := "POST", any(chat("gpt-4o"))
			if strings.HasSuffix(u, "/key/info") {
				method, body = "GET", nil
			}
			attack{name: name, method: method, url: u, cred: cred, body: body, status: 401, typ: "auth_error"}.run(t, s, cat)
		}
	}
	for name, h := range map[string]map[string]string{
		"no credential":             {},
		"empty bearer":              {"Authorization": "Bearer "},
		"bearer without a space":    {"Authorization": "Bearer" + good},
		"unknown scheme":            {"Authorization": "Token " + good},
		"wrong key in x-api-key":    {"x-api-key": flip(good, 5)},
		"wrong key in api-key":      {"api-key": flip(good, 5)},
		"only a cookie":             {"Cookie": "token=" + good},
		"key in a query string (?)": {},
	} {
		u := chatURL
		if name == "key in a query string (?)" {
			u += "?key=" + good
		}
		attack{name: name, url: u, body: chat("gpt-4o"), header: h, status: 401, typ: "auth_error"}.run(t, s, cat)
	}

	// Borrowing: a key used outside its team.
	attack{name: "team-a key on team-b's model", url: chatURL, cred: good, body: chat("team-b-model"), status: 403}.run(t, s, cat)
	attack{name: "team-a key on team-b's model with x-litellm-team-id: team-b", url: chatURL, cred: good, body: chat("team-b-model"),
		header: map[string]string{"x-litellm-team-id": "team-b"}, status: 403}.run(t, s, cat)
	attack{name: "team-a key reads team-b's key", method: "GET", url: s.control + "/key/info?key=" + teamB, cred: good, status: 403}.run(t, s, cat)
	attack{name: "team-a key reads team-b's key by token", method: "GET", url: s.control + "/key/info?key=" + events.HashKey(teamB), cred: good, status: 403}.run(t, s, cat)
	attack{name: "team-a key reads team-b", method: "GET", url: s.control + "/team/info?team_id=team-b", cred: good, status: 403}.run(t, s, cat)
	attack{name: "team-a key blocks team-b's key", url: s.control + "/key/block", cred: good, body: map[string]any{"key": teamB}, status: 401}.run(t, s, cat)
	attack{name: "team-a key widens itself", url: s.control + "/key/update", cred: good, body: map[string]any{"key": good, "models": []string{"team-b-model"}}, status: 401}.run(t, s, cat)
	attack{name: "team-a key mints a key", url: s.control + "/key/generate", cred: good, body: map[string]any{"team_id": "team-b"}, status: 401}.run(t, s, cat)
	// The admin may not mint a team key beyond the team's models either.
	r := s.do(t, "POST", s.control+"/key/generate", s.masterKey, map[string]any{"team_id": "team-a", "models": []string{"team-b-model"}}, nil)
	if r.status < 400 {
		var out struct{ Key string }
		_ = json.Unmarshal(r.body, &out)
		s.secret("virtual key", out.Key)
		t.Errorf("a team-a key with team-b's model was minted: %s", r.body)
	}

	// Revoked, blocked, expired, regenerated: refused at the edge as soon
	// as the admin call returns (writes wait for every edge).
	del := s.newKey(t, map[string]any{"team_id": "team-a", "models": []string{"gpt-4o"}})
	s.must(t, "POST", s.control+"/key/delete", map[string]any{"keys": []string{del}})
	attack{name: "deleted key", url: chatURL, cred: del, body: chat("gpt-4o"), status: 401, typ: "auth_error"}.run(t, s, cat)
	attack{name: "deleted key on the control plane", method: "GET", url: s.control + "/key/info", cred: del, status: 401, typ: "auth_error"}.run(t, s, cat)

	blk := s.newKey(t, map[string]any{"team_id": "team-a", "models": []string{"gpt-4o"}})
	s.must(t, "POST", s.control+"/key/block", map[string]any{"key": blk})
	attack{name: "blocked key", url: chatURL, cred: blk, body: chat("gpt-4o"), status: 401, typ: "auth_error"}.run(t, s, cat)
	attack{name: "blocked key lists models", method: "GET", url: s.edge + "/v1/models", cred: blk, status: 401, typ: "auth_error"}.run(t, s, cat)
	attack{name: "blocked key on the control plane", method: "GET", url: s.control + "/key/info", cred: blk, status: 401, typ: "auth_error"}.run(t, s, cat)

	old := s.newKey(t, map[string]any{"team_id": "team-a", "models": []string{"gpt-4o"}})
	var regen struct {
		Key string `json:"key"`
	}
	_ = json.Unmarshal(s.must(t, "POST", s.control+"/key/regenerate", map[string]any{"key": old}), &regen)
	s.secret("virtual key", regen.Key)
	if r := s.do(t, "POST", chatURL, regen.Key, chat("gpt-4o"), nil); r.status != 200 {
		t.Fatalf("control: the regenerated key is refused: %d %s", r.status, r.body)
	}
	attack{name: "key after regeneration", url: chatURL, cred: old, body: chat("gpt-4o"), status: 401, typ: "auth_error"}.run(t, s, cat)

	exp := s.newKey(t, map[string]any{"team_id": "team-a", "models": []string{"gpt-4o"}, "duration": "1s"})
	testutil.Eventually(t, 10*time.Second, func() error { // the clock, not the system, is awaited
		if r := s.do(t, "POST", chatURL, exp, chat("gpt-4o"), nil); r.status == 200 {
			return fmt.Errorf("not expired yet")
		}
		return nil
	})
	attack{name: "expired key", url: chatURL, cred: exp, body: chat("gpt-4o"), status: 401, typ: "expired_key"}.run(t, s, cat)

	// A key of a blocked team, and of a deleted team.
	s.must(t, "POST", s.control+"/team/new", map[string]any{"team_id": "team-c", "models": []string{"gpt-4o"}})
	kc := s.newKey(t, map[string]any{"team_id": "team-c", "models": []string{"gpt-4o"}})
	s.must(t, "POST", s.control+"/team/block", map[string]any{"team_id": "team-c"})
	attack{name: "key of a blocked team", url: chatURL, cred: kc, body: chat("gpt-4o"), status: 401, typ: "auth_error"}.run(t, s, cat)
	s.must(t, "POST", s.control+"/team/new", map[string]any{"team_id": "team-d", "models": []string{"gpt-4o"}})
	kd := s.newKey(t, map[string]any{"team_id": "team-d", "models": []string{"gpt-4o"}})
	s.must(t, "POST", s.control+"/team/delete", map[string]any{"team_ids": []string{"team-d"}})
	attack{name: "key of a deleted team", url: chatURL, cred: kd, body: chat("gpt-4o"), status: 401}.run(t, s, cat)
}

// TestCredentialsComparedInConstantTime checks by construction that the
// time to refuse a credential does not depend on how much of it matches:
// the master key is kept only as a sha256 digest and compared with
// crypto/subtle; virtual keys are found by a map lookup on their sha256
// (the stored token), so a guess shares no prefix with anything compared.
func TestCredentialsComparedInConstantTime(t *testing.T) {
	// No plaintext master key is held: nothing could compare it with ==.
	for _, typ := range []reflect.Type{reflect.TypeOf(auth.Authenticator{}), reflect.TypeOf(api.API{})} {
		for i := range typ.NumField() {
			f := typ.Field(i)
			if strings.Contains(strings.ToLower(f.Name), "master") && f.Type != reflect.TypeOf([32]byte{}) && f.Type.Kind() != reflect.Bool {
				t.Errorf("%s.%s is a %s: the master key must be held only as its sha256", typ, f.Name, f.Type)
			}
		}
	}
	// Every use of the digest is an argument of subtle.ConstantTimeCompare
	// (or its assignment).
	for _, file := range []string{"../../auth/auth.go", "../../control/api/api.go"} {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		compares := 0
		var stack []ast.Node
		ast.Inspect(f, func(n ast.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			stack = append(stack, n)
			sel, ok := n.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "masterSum" {
				return true
			}
			for i := len(stack) - 2; i >= 0; i-- {
				switch p := stack[i].(type) {
				case *ast.CallExpr:
					if fn, ok := p.Fun.(*ast.SelectorExpr); ok && fn.Sel.Name == "ConstantTimeCompare" {
						if x, ok := fn.X.(*ast.Ident); ok && x.Name == "subtle" {
							compares++
							return true
						}
					}
				case *ast.AssignStmt:
					return true
				case *ast.BinaryExpr:
					t.Errorf("%s: masterSum used in %s at %s", file, p.Op, fset.Position(p.Pos()))
					return true
				}
			}
			t.Errorf("%s: masterSum used outside a constant-time compare at %s", file, fset.Position(sel.Pos()))
			return true
		})
		if compares == 0 {
			t.Errorf("%s: no constant-time compare of the master key found", file)
		}
	}
}
