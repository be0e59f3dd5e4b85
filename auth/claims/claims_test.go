package claims

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func mustClaims(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("bad fixture: %v", err)
	}
	return m
}

const fixture = `{
	"sub": "u1",
	"n": 42,
	"nullish": null,
	"empty": "",
	"metadata": {"team": "from-metadata-claim"},
	"team": "top-level-team",
	"kubernetes.io": {"namespace": "ns1", "serviceaccount": {"name": "sa"}},
	"resource_access": {"litellm-test-client-id": {"roles": ["r1", "r2"]}},
	"realm_access": {"roles": ["r2", "r3"]},
	"a": {"b": {"c": "deep"}},
	"list": ["x", "y"],
	"odd\\key": "backslash",
	"": {"": "empty-keys"}
}`

func TestLookup(t *testing.T) {
	c := mustClaims(t, fixture)
	tests := []struct {
		path string
		want any
		ok   bool
	}{
		{"sub", "u1", true},
		{"n", 42.0, true},
		{"a.b.c", "deep", true},
		{"a.b", map[string]any{"c": "deep"}, true},
		{`kubernetes\.io.namespace`, "ns1", true},
		{`kubernetes\.io.serviceaccount.name`, "sa", true},
		{"kubernetes.io.namespace", nil, false}, // unescaped dot splits
		{"resource_access.litellm-test-client-id.roles", []any{"r1", "r2"}, true},
		// metadata. is not stripped: the real claim is reachable.
		{"metadata.team", "from-metadata-claim", true},
		{"team", "top-level-team", true},
		// no array indexing
		{"list.0", nil, false},
		{"list[0]", nil, false},
		// missing / non-object on the way / null
		{"missing", nil, false},
		{"a.x.c", nil, false},
		{"sub.x", nil, false},
		{"a.b.c.d", nil, false},
		{"nullish", nil, false},
		{"", nil, false},
		{"empty", "", true},
		// a backslash not before a dot is literal
		{`odd\key`, "backslash", true},
		// empty segments are literal empty keys
		{".", "empty-keys", true},
		{"sub.", nil, false},
	}
	for _, tt := range tests {
		got, ok := Lookup(c, tt.path)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Lookup(%q) = %#v, %v; want %#v, %v", tt.path, got, ok, tt.want, tt.ok)
		}
	}
	if _, ok := Lookup(nil, "a"); ok {
		t.Error("Lookup(nil) found something")
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		in   any
		want string
		ok   bool
	}{
		{"team1", "team1", true},
		{"", "", false},
		{42.0, "42", true},
		{-7.0, "-7", true},
		{1e15, "1000000000000000", true},
		{1.5, "", false},
		{json.Number("12345678901234567890"), "12345678901234567890", true},
		{json.Number("1e3"), "1000", true},
		{json.Number("1.25"), "", false},
		{7, "7", true},
		{int64(8), "8", true},
		{[]any{"first", "second"}, "first", true},
		{[]any{}, "", false},
		{[]any{1.0, "x"}, "", false},
		{[]string{"s"}, "s", true},
		{true, "", false},
		{map[string]any{"a": "b"}, "", false},
		{nil, "", false},
	}
	for _, tt := range tests {
		got, ok := String(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("String(%#v) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		in   any
		want []string
	}{
		{[]any{"a", 1.0, " b ", "", true, "c"}, []string{"a", "b", "c"}},
		{[]string{"a", " ", "b"}, []string{"a", "b"}},
		{"single", []string{"single"}},
		{"  spaced value  ", []string{"spaced value"}},
		{"a, b ,,c", []string{"a", "b", "c"}},
		{`["a","b"]`, []string{"a", "b"}},
		{` ["a", 1, "b"] `, []string{"a", "b"}},
		{`['a', 'b']`, []string{"a", "b"}},
		{`['team one', "team two", bare]`, []string{"team one", "team two", "bare"}},
		{`[]`, nil},
		{`['']`, nil},
		{"", nil},
		{"   ", nil},
		{42.0, nil},
		{nil, nil},
		{map[string]any{}, nil},
	}
	for _, tt := range tests {
		got := Strings(tt.in)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Strings(%#v) = %#v; want %#v", tt.in, got, tt.want)
		}
	}
}

func TestScopes(t *testing.T) {
	tests := []struct {
		name   string
		claims string
		paths  []string
		want   []string
		err    string
	}{
		{"string", `{"scope":"openid  litellm_proxy_admin openid"}`, nil, []string{"openid", "litellm_proxy_admin"}, ""},
		{"list", `{"scope":["a","b",3,"a"]}`, nil, []string{"a", "b"}, ""},
		{"missing", `{"sub":"x"}`, nil, nil, ""},
		{"azure scp", `{"scp":"User.Read litellm_proxy_admin"}`, nil, []string{"User.Read", "litellm_proxy_admin"}, ""},
		{"scope and scp", `{"scope":"a b","scp":"b c"}`, nil, []string{"a", "b", "c"}, ""},
		{"explicit path ignores scp", `{"scope":"a","scp":"b","perm":{"s":["x"]}}`, []string{"perm.s"}, []string{"x"}, ""},
		{"several paths", `{"scope":"a","perm":"b a"}`, []string{"scope", "perm"}, []string{"a", "b"}, ""},
		{"int", `{"scope":5}`, nil, nil, "Unmapped scope type - int. Supported types - list, str."},
		{"float", `{"scope":5.5}`, nil, nil, "Unmapped scope type - float. Supported types - list, str."},
		{"dict", `{"scope":{"a":1}}`, nil, nil, "Unmapped scope type - dict. Supported types - list, str."},
		{"bool in scp", `{"scp":true}`, nil, nil, "Unmapped scope type - bool. Supported types - list, str."},
		{"null is missing", `{"scope":null}`, nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Scopes(mustClaims(t, tt.claims), tt.paths)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v; want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v; want %#v", got, tt.want)
			}
		})
	}
}

func TestUnion(t *testing.T) {
	c := mustClaims(t, `{
		"roles": ["admin", "dev"],
		"realm_access": {"roles": ["dev", "ops"]},
		"groups": "ops, finance",
		"stringified": "['x', 'admin']",
		"num": 5
	}`)
	tests := []struct {
		paths []string
		want  []string
	}{
		{[]string{"roles", "realm_access.roles", "groups"}, []string{"admin", "dev", "ops", "finance"}},
		{[]string{"stringified", "roles"}, []string{"x", "admin", "dev"}},
		{[]string{"missing", "num"}, nil},
		{nil, nil},
	}
	for _, tt := range tests {
		if got := Union(c, tt.paths); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Union(%v) = %#v; want %#v", tt.paths, got, tt.want)
		}
	}
}

// The hot path: claim paths are looked up on every request.
func TestLookupDoesNotAllocate(t *testing.T) {
	c := mustClaims(t, fixture)
	for _, p := range []string{"sub", "a.b.c", "resource_access.litellm-test-client-id.roles", "missing.x", `kubernetes\.io.namespace`} {
		if n := testing.AllocsPerRun(100, func() { Lookup(c, p) }); n != 0 {
			t.Errorf("Lookup(%q) allocates %v times", p, n)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	c := mustClaims(b, fixture)
	for _, p := range []string{"sub", "resource_access.litellm-test-client-id.roles", `kubernetes\.io.namespace`} {
		b.Run(strings.ReplaceAll(p, "\\", "_"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := Lookup(c, p); !ok {
					b.Fatal("not found")
				}
			}
		})
	}
}

func BenchmarkUnion(b *testing.B) {
	c := mustClaims(b, `{"roles":["admin","dev"],"realm_access":{"roles":["dev","ops"]},"groups":"ops, finance"}`)
	paths := []string{"roles", "realm_access.roles", "groups"}
	b.ReportAllocs()
	for b.Loop() {
		Union(c, paths)
	}
}

func FuzzLookup(f *testing.F) {
	f.Add(fixture, "a.b.c")
	f.Add(fixture, `kubernetes\.io.namespace`)
	f.Add(`{"a":{"b.c":1}}`, `a.b\.c`)
	f.Add(`{"a":[1,2]}`, `a.0`)
	f.Add(`{}`, `\`)
	f.Add(`{"":{"":1}}`, `.\.\\..`)
	f.Fuzz(func(t *testing.T, doc, path string) {
		var c map[string]any
		if json.Unmarshal([]byte(doc), &c) != nil {
			return
		}
		v, ok := Lookup(c, path)
		if ok && v == nil {
			t.Fatalf("Lookup(%q) reported a nil value as found", path)
		}
		// A path without dots or backslashes is a plain key.
		if path != "" && !strings.ContainsAny(path, `.\`) {
			want, wantOK := c[path]
			if wantOK && want == nil {
				wantOK = false
			}
			if ok != wantOK {
				t.Fatalf("Lookup(%q) ok=%v, map says %v", path, ok, wantOK)
			}
		}
		// Escaping every dot of a plain key finds that key.
		for k, want := range c {
			if want == nil || strings.Contains(k, `\`) || k == "" {
				continue
			}
			got, ok := Lookup(c, strings.ReplaceAll(k, ".", `\.`))
			if !ok || !reflect.DeepEqual(got, want) {
				t.Fatalf("escaped key %q not found", k)
			}
		}
		String(v)
		Strings(v)
		Union(c, []string{path})
		_, _ = Scopes(c, []string{path})
	})
}
