package celrule

import (
	"strings"
	"testing"
)

func TestCompile(t *testing.T) {
	for _, tc := range []struct {
		expr    string
		claims  map[string]any
		want    bool
		wantErr string
	}{
		{expr: `claims.tenant_id in ["my-unique-tenant"]`, claims: map[string]any{"tenant_id": "my-unique-tenant"}, want: true},
		{expr: `claims.tenant_id in ["my-unique-tenant"]`, claims: map[string]any{"tenant_id": "other"}, want: false},
		{expr: `has(claims.email_verified) && claims.email_verified == true`, claims: map[string]any{}, want: false},
		{expr: `claims.email.endsWith("@my-co.com")`, claims: map[string]any{"email": "a@my-co.com"}, want: true},
		{expr: `"admins" in claims.groups`, claims: map[string]any{"groups": []any{"users", "admins"}}, want: true},
		{expr: `claims["kubernetes.io"].namespace == "prod"`, claims: map[string]any{"kubernetes.io": map[string]any{"namespace": "prod"}}, want: true},
		{expr: `true`, claims: map[string]any{}, want: true},
		{expr: "  my_module.validators.check  ", wantErr: "Python import paths are not supported"},
		{expr: "custom_validate.my_custom_validate", wantErr: "Python import paths are not supported"},
		{expr: "claims.tenant", wantErr: "must be a CEL expression returning bool, but it returns dyn; compare explicitly"},
		{expr: "claims.a ==", wantErr: "invalid CEL expression: 1:"},
		{expr: "", wantErr: "is empty"},
		{expr: " \n", wantErr: "is empty"},
	} {
		prg, err := Compile(tc.expr)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%q: err = %v, want one line containing %q", tc.expr, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.expr, err)
			continue
		}
		out, _, err := prg.Eval(map[string]any{"claims": tc.claims})
		if err != nil || out.Value() != tc.want {
			t.Errorf("%q on %v = %v, %v; want %v", tc.expr, tc.claims, out, err, tc.want)
		}
	}
}

// An expression that would run away is stopped by the cost limit.
func TestCompileCostLimit(t *testing.T) {
	prg, err := Compile(`claims.items.all(a, claims.items.all(b, claims.items.all(c, a + b + c >= 0)))`)
	if err != nil {
		t.Fatal(err)
	}
	items := make([]any, 200)
	for i := range items {
		items[i] = i
	}
	if _, _, err := prg.Eval(map[string]any{"claims": map[string]any{"items": items}}); err == nil || !strings.Contains(err.Error(), "cost") {
		t.Errorf("err = %v, want a cost limit error", err)
	}
}

// The edge may compile the same expression from many goroutines.
func TestCompileConcurrent(t *testing.T) {
	done := make(chan error)
	for range 8 {
		go func() {
			prg, err := Compile(`claims.tenant_id == "t"`)
			if err == nil {
				_, _, err = prg.Eval(map[string]any{"claims": map[string]any{"tenant_id": "t"}})
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
