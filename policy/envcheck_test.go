package policy

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/events"
)

func TestMissingEnv(t *testing.T) {
	env := func(name string) (string, bool) {
		switch name {
		case "SET":
			return "value-never-shown", true
		case "EMPTY":
			return "", true
		}
		return "", false
	}
	for _, tc := range []struct {
		name   string
		params events.ModelParams
		want   []string // field=variable
	}{
		{"literals only", events.ModelParams{Model: "openai/gpt-4o", APIKey: "sk-literal"}, nil},
		{"set", events.ModelParams{Model: "openai/gpt-4o", APIKey: "os.environ/SET"}, nil},
		{"unset key", events.ModelParams{Model: "openai/gpt-4o", APIKey: "os.environ/OPENAI_API_KEY"}, []string{"litellm_params.api_key=OPENAI_API_KEY"}},
		{"empty counts as unset", events.ModelParams{Model: "openai/gpt-4o", APIKey: "os.environ/EMPTY"}, []string{"litellm_params.api_key=EMPTY"}},
		{"azure, several", events.ModelParams{Model: "azure/d", APIKey: "os.environ/AZ_KEY", APIBase: "os.environ/AZ_BASE", APIVersion: "os.environ/SET"},
			[]string{"litellm_params.api_key=AZ_KEY", "litellm_params.api_base=AZ_BASE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &events.Model{ID: "m1", ModelName: "g", LiteLLMParams: tc.params}
			var got []string
			for _, e := range MissingEnv(m, env) {
				got = append(got, e.Field+"="+e.Name)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			// The compiled deployment carries the same, typed, with its field.
			d := compileDeployment(m, env)
			me := d.MissingEnvOf()
			switch {
			case len(tc.want) == 0 && d.Err != nil:
				t.Fatalf("unexpected deployment error %v", d.Err)
			case len(tc.want) > 0 && (me == nil || me.Field == ""):
				t.Fatalf("deployment error %v names no variable and field", d.Err)
			}
			if d.Err != nil && strings.Contains(d.Err.Error(), "value-never-shown") {
				t.Fatalf("error leaks a value: %v", d.Err)
			}
		})
	}
}
