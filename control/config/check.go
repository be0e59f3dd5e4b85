package config

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gatehouse/gatehouse/policy"
)

// Preflight runs the checks a start makes beyond Parse, without starting
// anything: the deployments, router and JWT settings events are built (so
// JWT auth without a key source is caught).
// getenv reads the process environment (nil: os.Getenv); the file's
// environment_variables fill what it leaves unset, as ApplyEnvironment
// would at start.
func (f *File) Preflight(getenv func(string) string) error {
	lookup := f.env(getenv)
	env := func(k string) string { v, _ := lookup(k); return v }
	now := time.Unix(0, 0)
	var errs []error
	if _, err := f.Models(now); err != nil {
		return err // Validate's errors, which the rest would repeat
	}
	if _, err := f.RoutingSettingsEvent(now); err != nil {
		errs = append(errs, err)
	}
	if _, err := f.JWTSettings(env, now); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// MasterKeyWarning says why general_settings.master_key would not resolve
// (nil if it does or is unset), or that MASTER_KEY overrides it. It is a
// warning, not an error: a MASTER_KEY in the environment (or run's
// -master-key) overrides it; without one, `gatehouse run` and `gatehouse
// control` stop on it (ResolveMasterKey).
func (f *File) MasterKeyWarning(getenv func(string) string) *FieldError {
	if getenv == nil {
		getenv = os.Getenv
	}
	if getenv("MASTER_KEY") != "" {
		if f.GeneralSettings.MasterKey != "" {
			return &FieldError{Path: "general_settings.master_key", Line: f.lines["general_settings.master_key"], Msg: "overridden by the MASTER_KEY environment variable, which gatehouse run and control use as the admin key instead"}
		}
		return nil
	}
	key, err := f.MasterKey(f.env(getenv))
	var fe *FieldError
	if errors.As(err, &fe) {
		w := *fe
		w.Msg += "; gatehouse run and control stop on this unless MASTER_KEY (or run's -master-key) is set"
		return &w
	}
	if key == DemoMasterKey {
		// LiteLLM 2026 (master_key_policy.py) flags its example key too.
		return &FieldError{Path: "general_settings.master_key", Line: f.lines["general_settings.master_key"],
			Msg: "is " + DemoMasterKey + ", the example key of LiteLLM's docs: anyone who has read them can administer this gateway; use a random one (e.g. sk- and the output of openssl rand -hex 32)"}
	}
	return nil
}

// Problems splits an error from Parse, Check or Preflight into its field
// errors (other errors are returned as they are).
func Problems(err error) []error {
	if err == nil {
		return nil
	}
	var out []error
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		out = append(out, e)
	}
	walk(err)
	return out
}

// EnvWarnings are the os.environ/ references of model_list (api_key,
// api_base, api_version, organization) that getenv (nil: os.Getenv),
// then the file's environment_variables, cannot resolve: the warnings
// `gatehouse run` logs at start, with their lines. Each edge resolves
// these from its own environment, so they are warnings: the variable may
// be set where the edges run.
func (f *File) EnvWarnings(getenv func(string) string) []*FieldError {
	env := f.env(getenv)
	ms, err := f.Models(time.Unix(0, 0))
	if err != nil {
		return nil
	}
	var out []*FieldError
	for i, m := range ms {
		for _, e := range policy.MissingEnv(m, env) {
			path := fmt.Sprintf("model_list[%d].%s", i, e.Field)
			out = append(out, &FieldError{Path: path, Line: f.lines[path],
				Msg: fmt.Sprintf("references os.environ/%s, which is not set here; requests to deployment %q fail at an edge where it is not set either", e.Name, m.ModelName)})
		}
	}
	return out
}

// env looks a variable up as a start would see it: getenv (nil:
// os.Getenv), then the file's environment_variables for what that leaves
// unset (ApplyEnvironment sets only those).
func (f *File) env(getenv func(string) string) policy.Env {
	if getenv == nil {
		getenv = os.Getenv
	}
	return func(k string) (string, bool) {
		v := getenv(k)
		if v == "" {
			v = f.EnvironmentVariables[k]
		}
		return v, v != ""
	}
}
