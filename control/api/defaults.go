package api

import (
	"maps"
	"slices"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// KeyParams are key fields set by configuration rather than by a request:
// LiteLLM's litellm_settings.default_key_generate_params (values for
// fields a /key/generate body leaves out) and
// upperbound_key_generate_params (limits no key may exceed). Nil or empty
// fields are not set.
type KeyParams struct {
	Models              []string
	MaxBudget           *float64
	BudgetDuration      string
	Duration            string
	TPMLimit            *int64
	RPMLimit            *int64
	MaxParallelRequests *int64
	Metadata            map[string]any
	TeamID              string
}

// UserParams are LiteLLM's default_internal_user_params and
// max_internal_user_budget: values for fields a /user/new body leaves out.
type UserParams struct {
	UserRole       string
	Models         []string
	MaxBudget      *float64
	BudgetDuration string
	// InternalUserMaxBudget is max_internal_user_budget: the max_budget of
	// a user created with user_role internal_user named in the request
	// and no max_budget (after the defaults above), as in LiteLLM.
	InternalUserMaxBudget *float64
}

// fillKey sets the defaults of d on the fields f does not send.
func fillKey(f *keyFields, d *KeyParams) {
	if d == nil {
		return
	}
	fillList(&f.Models, d.Models)
	fillCopy(&f.MaxBudget, d.MaxBudget)
	fillStr(&f.BudgetDuration, d.BudgetDuration)
	fillStr(&f.Duration, d.Duration)
	fillStr(&f.TeamID, d.TeamID)
	fillCopy(&f.TPMLimit, d.TPMLimit)
	fillCopy(&f.RPMLimit, d.RPMLimit)
	fillCopy(&f.MaxParallelRequests, d.MaxParallelRequests)
	if f.Metadata == nil && d.Metadata != nil {
		f.Metadata = maps.Clone(d.Metadata)
	}
}

// boundKey enforces upperbound_key_generate_params as LiteLLM does: a sent
// value above the bound is a 400 naming the field; with fill (key
// generation) an absent value becomes the bound, so no key escapes it by
// leaving the field out. Durations compare by length; "" (never expires,
// never resets) is above any bound.
func boundKey(f *keyFields, b *KeyParams, fill bool) error {
	if b == nil {
		return nil
	}
	over := func(field string, got, max any) error {
		return httpx.Param(field, "%v is over the limit set in config (upperbound_key_generate_params.%s: %v)", got, field, max)
	}
	if b.MaxBudget != nil {
		switch {
		case f.MaxBudget != nil && *f.MaxBudget > *b.MaxBudget:
			return over("max_budget", *f.MaxBudget, *b.MaxBudget)
		case f.MaxBudget == nil && fill:
			v := *b.MaxBudget
			f.MaxBudget = &v
		}
	}
	for _, x := range []struct {
		name string
		dst  **int64
		max  *int64
	}{{"tpm_limit", &f.TPMLimit, b.TPMLimit}, {"rpm_limit", &f.RPMLimit, b.RPMLimit}, {"max_parallel_requests", &f.MaxParallelRequests, b.MaxParallelRequests}} {
		if x.max == nil {
			continue
		}
		switch {
		case *x.dst != nil && **x.dst > *x.max:
			return over(x.name, **x.dst, *x.max)
		case *x.dst == nil && fill:
			v := *x.max
			*x.dst = &v
		}
	}
	for _, x := range []struct {
		name string
		dst  **string
		max  string
	}{{"duration", &f.Duration, b.Duration}, {"budget_duration", &f.BudgetDuration, b.BudgetDuration}} {
		if x.max == "" {
			continue
		}
		limit, err := parseDuration(x.name, x.max)
		if err != nil {
			return apierror.Internal.Wrap(err, "upperbound_key_generate_params.%s is invalid", x.name)
		}
		switch {
		case *x.dst == nil:
			if fill {
				v := x.max
				*x.dst = &v
			}
		case **x.dst == "":
			return over(x.name, `"" (no limit)`, x.max)
		default:
			got, err := parseDuration(x.name, **x.dst)
			if err != nil {
				return err
			}
			if got > limit {
				return over(x.name, **x.dst, x.max)
			}
		}
	}
	return nil
}

// fillUser sets the defaults of d on the fields r does not send (and on
// an empty models list), as LiteLLM's _update_internal_new_user_params:
// not for a user created as a proxy_admin.
func fillUser(r *userRequest, d *UserParams) {
	if d == nil || (r.UserRole != nil && *r.UserRole == "proxy_admin") {
		return
	}
	explicitInternal := r.UserRole != nil && *r.UserRole == "internal_user"
	defer func() {
		if explicitInternal {
			fillCopy(&r.MaxBudget, d.InternalUserMaxBudget)
		}
	}()
	fillStr(&r.UserRole, d.UserRole)
	if r.Models != nil && len(*r.Models) == 0 {
		r.Models = nil
	}
	fillList(&r.Models, d.Models)
	fillCopy(&r.MaxBudget, d.MaxBudget)
	fillStr(&r.BudgetDuration, d.BudgetDuration)
}

// fillStr, fillCopy and fillList set a field the body left out (nil) to
// its default when that is set (not "", not nil), as a copy.
func fillStr(dst **string, d string) {
	if *dst == nil && d != "" {
		*dst = &d
	}
}

func fillCopy[T any](dst **T, d *T) {
	if *dst == nil && d != nil {
		v := *d
		*dst = &v
	}
}

func fillList[T any](dst **[]T, d []T) {
	if *dst == nil && d != nil {
		l := slices.Clone(d)
		*dst = &l
	}
}
