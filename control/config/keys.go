package config

import (
	"fmt"
	"slices"

	"github.com/gatehouse/gatehouse/policy"
)

// Key and user defaults from litellm_settings. The control plane applies
// them in its admin API (/key/generate, /key/update, /user/new); they are
// not events, since only the control plane reads them and every replica
// loads the same file.

// KeyGenerateParams is default_key_generate_params and
// upperbound_key_generate_params.
type KeyGenerateParams struct {
	Models              []string       `yaml:"models"`
	MaxBudget           *float64       `yaml:"max_budget"`
	BudgetDuration      string         `yaml:"budget_duration"`
	Duration            string         `yaml:"duration"`
	TPMLimit            *int64         `yaml:"tpm_limit"`
	RPMLimit            *int64         `yaml:"rpm_limit"`
	MaxParallelRequests *int64         `yaml:"max_parallel_requests"`
	Metadata            map[string]any `yaml:"metadata"`
	TeamID              string         `yaml:"team_id"`
}

// InternalUserParams is default_internal_user_params.
type InternalUserParams struct {
	UserRole       string   `yaml:"user_role"`
	Models         []string `yaml:"models"`
	MaxBudget      *float64 `yaml:"max_budget"`
	BudgetDuration string   `yaml:"budget_duration"`
}

// userRoles are LiteLLM's user roles (control/api accepts the same).
var userRoles = []string{"proxy_admin", "proxy_admin_viewer", "org_admin", "internal_user", "internal_user_viewer", "team", "customer"}

func validateKeyParams(v *validator, p string, k *KeyGenerateParams, upper bool) {
	if k == nil {
		return
	}
	if k.MaxBudget != nil {
		nonNegative(v, p+".max_budget", *k.MaxBudget)
	}
	for _, x := range []struct {
		name string
		n    *int64
	}{{"tpm_limit", k.TPMLimit}, {"rpm_limit", k.RPMLimit}, {"max_parallel_requests", k.MaxParallelRequests}} {
		if x.n != nil && *x.n < 0 {
			v.add(p+"."+x.name, "must be >= 0")
		}
	}
	checkDuration(v, p+".budget_duration", k.BudgetDuration)
	checkDuration(v, p+".duration", k.Duration)
	checkStrings(v, p+".models", k.Models)
	if upper {
		// LiteLLM bounds only these; a bound on models or metadata
		// would be silently meaningless.
		if k.Models != nil {
			v.add(p+".models", "is not a bound LiteLLM or gatehouse enforces; put it in default_key_generate_params")
		}
		if k.Metadata != nil || k.TeamID != "" {
			v.add(p, "bounds max_budget, budget_duration, duration, tpm_limit, rpm_limit and max_parallel_requests only")
		}
	}
}

func checkDuration(v *validator, path, s string) {
	if s == "" {
		return
	}
	if _, err := policy.ParseDuration(s); err != nil {
		v.add(path, "%v", err)
	}
}

func (f *File) validateKeySettings(v *validator) {
	s := &f.LiteLLMSettings
	const p = "litellm_settings."
	validateKeyParams(v, p+"default_key_generate_params", s.DefaultKeyGenerateParams, false)
	validateKeyParams(v, p+"upperbound_key_generate_params", s.UpperboundKeyGenerateParams, true)
	if b := s.MaxInternalUserBudget; b != nil {
		nonNegative(v, p+"max_internal_user_budget", *b)
	}
	if u := s.DefaultInternalUserParams; u != nil {
		up := p + "default_internal_user_params"
		if u.UserRole != "" && !slices.Contains(userRoles, u.UserRole) {
			v.add(up+".user_role", "%q is not a user role: use one of %v", u.UserRole, userRoles)
		}
		if u.MaxBudget != nil {
			nonNegative(v, up+".max_budget", *u.MaxBudget)
		}
		checkDuration(v, up+".budget_duration", u.BudgetDuration)
		checkStrings(v, up+".models", u.Models)
	}
	if s.MaxEndUserBudget != nil {
		nonNegative(v, p+"max_end_user_budget", *s.MaxEndUserBudget)
	}
	if len(s.KeyGenerationSettings) > 0 {
		kg, err := f.KeyGeneration()
		if err != nil {
			v.add(p+"key_generation_settings", "%v", err)
		} else if r := kg.Personal; r != nil && r.AllowedRoles != nil && !slices.Contains(r.AllowedRoles, "proxy_admin") {
			v.warn(p+"key_generation_settings.personal_key_generation.allowed_user_roles", "binds only callers that are not admins in gatehouse; LiteLLM refuses the admin's personal keys too when proxy_admin is not listed")
		}
	}
}

// KeyGenerationRule is one half of key_generation_settings
// (team_key_generation or personal_key_generation): the roles that may
// generate such a key (nil: LiteLLM checks none) and the fields its body
// must send.
type KeyGenerationRule struct {
	AllowedRoles   []string
	RequiredParams []string
}

// KeyGenerationSettings is litellm_settings.key_generation_settings, read.
// A nil rule was not configured.
type KeyGenerationSettings struct {
	Team, Personal *KeyGenerationRule
}

// KeyGeneration reads key_generation_settings: team_key_generation's
// allowed_team_member_roles, personal_key_generation's allowed_user_roles
// and each one's required_params (nil when the section is absent).
func (f *File) KeyGeneration() (*KeyGenerationSettings, error) {
	m := f.LiteLLMSettings.KeyGenerationSettings
	if len(m) == 0 {
		return nil, nil
	}
	out := &KeyGenerationSettings{}
	for name, raw := range m {
		var rolesField string
		var dst **KeyGenerationRule
		switch name {
		case "team_key_generation":
			rolesField, dst = "allowed_team_member_roles", &out.Team
		case "personal_key_generation":
			rolesField, dst = "allowed_user_roles", &out.Personal
		default:
			return nil, fmt.Errorf("unknown field %q (want team_key_generation or personal_key_generation)", name)
		}
		if raw == nil {
			continue
		}
		fields, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: must be a mapping", name)
		}
		rule := &KeyGenerationRule{}
		for k, val := range fields {
			var err error
			switch k {
			case rolesField:
				rule.AllowedRoles, err = stringList(val)
			case "required_params":
				rule.RequiredParams, err = stringList(val)
			default:
				err = fmt.Errorf("unknown field (want %s or required_params)", rolesField)
			}
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %v", name, k, err)
			}
		}
		*dst = rule
	}
	return out, nil
}

// stringList reads a YAML list of strings.
func stringList(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("must be a list of strings")
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("must be a list of strings")
		}
		out = append(out, s)
	}
	return out, nil
}

// UserDefaults returns default_internal_user_params (nil when unset).
// max_internal_user_budget is not folded in: LiteLLM applies it only to
// a user created with the internal_user role named explicitly, so the
// admin API takes it separately.
func (f *File) UserDefaults() *InternalUserParams {
	return f.LiteLLMSettings.DefaultInternalUserParams
}
