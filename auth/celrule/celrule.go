// Package celrule owns the CEL environment of litellm_jwtauth.custom_validate:
// the config check and the edge compile an expression through Compile, so an
// expression accepted at load time means the same thing when it runs.
package celrule

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
)

// The environment has one variable, claims, of type map(string, dyn): the
// token's decoded payload. Only CEL's standard library is available.

// CostLimit bounds the work one evaluation may do, in CEL cost
// units (roughly one per operation and per list element visited). An
// expression over a token's claims needs far less; the limit only stops a
// pathological expression from costing every request a long computation.
const CostLimit = 100_000

// celEnv is built once: a cel.Env is immutable and safe for concurrent use.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("claims", cel.MapType(cel.StringType, cel.DynType)),
	)
})

// pythonPath matches LiteLLM's custom_validate value, a dotted Python import
// path such as custom_validate.my_custom_validate.
var pythonPath = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$`)

// errPythonPath is the error for a LiteLLM-style custom_validate.
var errPythonPath = errors.New(`custom_validate is a CEL expression over claims (e.g. claims.tenant_id in ["my-unique-tenant"]); Python import paths are not supported`)

// CompileCustomValidate compiles a litellm_jwtauth.custom_validate
// expression: CEL over the variable claims (map(string, dyn)) that must
// return a bool, e.g.
//
//	claims.tenant_id in ["my-unique-tenant"]
//
// The program is evaluated with
//
//	prg.Eval(map[string]any{"claims": claims})
//
// and a token passes only when the result is the bool true. An evaluation
// error (a missing claim such as claims.tenant_id on a token without it;
// guard with has(claims.tenant_id)) or exceeding CostLimit
// must be treated as a failed check, never as a pass.
//
// Errors are single-line and name no field, so callers can prefix the
// path; a dotted Python import path (LiteLLM's form) gets an error saying
// so.
func Compile(expr string) (cel.Program, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, errors.New("is empty")
	}
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		if e := strings.TrimSpace(expr); pythonPath.MatchString(e) && !strings.HasPrefix(e, "claims.") {
			return nil, errPythonPath
		}
		return nil, issuesError(iss)
	}
	if out := ast.OutputType(); !out.IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("must be a CEL expression returning bool, but it returns %s; compare explicitly (e.g. claims.email_verified == true)", typeName(out))
	}
	prg, err := env.Program(ast, cel.CostLimit(CostLimit))
	if err != nil {
		return nil, fmt.Errorf("invalid CEL expression: %v", err)
	}
	return prg, nil
}

// issuesError flattens CEL's compile errors (which quote the source over
// several lines) into one line per the package's error format.
func issuesError(iss *cel.Issues) error {
	errs := iss.Errors()
	if len(errs) == 0 {
		return fmt.Errorf("invalid CEL expression: %s", strings.Join(strings.Fields(iss.Err().Error()), " "))
	}
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		m := strings.Join(strings.Fields(e.Message), " ")
		if l := e.Location; l != nil && l.Line() > 0 {
			m = fmt.Sprintf("%d:%d: %s", l.Line(), l.Column()+1, m)
		}
		msgs = append(msgs, m)
	}
	return fmt.Errorf("invalid CEL expression: %s", strings.Join(msgs, "; "))
}

func typeName(t *cel.Type) string {
	if t == nil {
		return "nothing"
	}
	if s := t.String(); s != "" {
		return s
	}
	return "an unknown type"
}
