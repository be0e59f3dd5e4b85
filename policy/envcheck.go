package policy

import (
	"errors"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/events"
)

// MissingEnvError is an os.environ/ reference whose variable is unset (or
// empty) in the process that resolves it. It names the variable, never a
// value, so it may reach clients and logs.
type MissingEnvError struct {
	// Field is the deployment field holding the reference
	// ("litellm_params.api_key"); empty when not known.
	Field string
	// Name is the environment variable.
	Name string
}

func (e *MissingEnvError) Error() string {
	return "environment variable " + e.Name + " is not set"
}

// secretFields are the deployment fields that may hold os.environ/
// references, by their config.yaml names.
func secretFields(p *events.ModelParams) []struct{ name, v string } {
	return []struct{ name, v string }{
		{"litellm_params.api_key", p.APIKey}, {"litellm_params.api_base", p.APIBase},
		{"litellm_params.api_version", p.APIVersion}, {"litellm_params.organization", p.Organization},
	}
}

// MissingEnv lists the os.environ/ references of a deployment that env
// cannot resolve (nil env: this process's environment), for warnings when
// a deployment is added or a process starts: the request that needs it
// would fail.
func MissingEnv(m *events.Model, env Env) []MissingEnvError {
	var out []MissingEnvError
	for _, f := range secretFields(&m.LiteLLMParams) {
		if !strings.HasPrefix(f.v, EnvPrefix) {
			continue
		}
		if _, err := ResolveSecret(f.v, env); err != nil {
			out = append(out, MissingEnvError{Field: f.name, Name: strings.TrimPrefix(f.v, EnvPrefix)})
		}
	}
	return out
}

// MissingEnvWarnings describes, one line per reference, the deployments
// of a snapshot whose os.environ/ references this process cannot resolve,
// sorted for stable logs.
func MissingEnvWarnings(s *Snapshot, env Env) []string {
	var out []string
	for _, m := range s.Models() {
		for _, e := range MissingEnv(m, env) {
			out = append(out, "deployment "+m.ID+" (model_name "+m.ModelName+"): "+e.Field+" references os.environ/"+e.Name+", which is not set; requests to it will fail")
		}
	}
	sort.Strings(out)
	return out
}

// missingEnvOf finds the MissingEnvError in a deployment error.
func missingEnvOf(err error) *MissingEnvError {
	var me *MissingEnvError
	if errors.As(err, &me) {
		return me
	}
	return nil
}

// MissingEnvOf returns the unset variable behind a deployment's Err (nil
// when Err is something else).
func (d *Deployment) MissingEnvOf() *MissingEnvError { return missingEnvOf(d.Err) }
