package api

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/policy"
)

// budgetFields are the budget and rate-limit fields that key, team, user,
// org and end-user (customer) requests share. Pointers mean "not sent",
// so an update changes only what it names.
type budgetFields struct {
	MaxBudget      *float64 `json:"max_budget"`
	BudgetDuration *string  `json:"budget_duration"`
	TPMLimit       *int64   `json:"tpm_limit"`
	RPMLimit       *int64   `json:"rpm_limit"`
}

// limitFields add metadata, which every request but /customer/* takes
// (a nil map means "not sent").
type limitFields struct {
	budgetFields
	Metadata map[string]any `json:"metadata"`
}

// enforcedMetadata are the metadata entries LiteLLM enforces as if they
// were fields (its /key/generate moves model_rpm_limit, model_tpm_limit
// and guardrails into metadata; its budget check reads a key's
// temp_budget_increase and temp_budget_expiry from there): refused here
// with the field's reason, as the fields themselves are, rather than
// stored and not kept.
var enforcedMetadata = []string{"model_rpm_limit", "model_tpm_limit", "guardrails", "temp_budget_increase", "temp_budget_expiry"}

func (f *limitFields) validate() error {
	for _, name := range enforcedMetadata {
		if v, ok := f.Metadata[name]; ok {
			raw, _ := json.Marshal(v)
			if lf := litellmFields[name]; !lf.asksNothing(raw) {
				return httpx.Param("metadata", "metadata.%s is not supported by gatehouse: %s", name, lf.reason)
			}
		}
	}
	return f.budgetFields.validate()
}

func (f *budgetFields) validate() error {
	return validLimits("max_budget", f.MaxBudget, "budget_duration", f.BudgetDuration, "tpm_limit", f.TPMLimit, "rpm_limit", f.RPMLimit)
}

// validLimits refuses a negative budget or limit and a duration that does
// not parse, naming the field (nil: not sent).
func validLimits(budgetField string, budget *float64, durationField string, duration *string, tpmField string, tpm *int64, rpmField string, rpm *int64) error {
	if budget != nil && *budget < 0 {
		return negative(budgetField, budget)
	}
	if tpm != nil && *tpm < 0 {
		return httpx.Param(tpmField, "must be >= 0")
	}
	if rpm != nil && *rpm < 0 {
		return httpx.Param(rpmField, "must be >= 0")
	}
	if duration != nil && *duration != "" {
		if _, err := parseDuration(durationField, *duration); err != nil {
			return err
		}
	}
	return nil
}

// apply sets the sent fields on an object's own (events.Key, Team, User,
// Org and Customer each declare them). A budget_duration sent, the same
// as the object's or not, recomputes budget_reset_at as LiteLLM's
// get_budget_reset_time does (now: the request's time), as LiteLLM's
// /key/update, /team/update, /user/update and /budget/update do
// (LIT-3362: a shortened duration must bring the reset forward); an empty
// one clears it (the budget never resets).
func (f *budgetFields) apply(maxBudget **float64, budgetDuration *string, tpm, rpm **int64, flag *events.BudgetFlag, now time.Time) {
	setRef(maxBudget, f.MaxBudget)
	set(budgetDuration, f.BudgetDuration)
	setRef(tpm, f.TPMLimit)
	setRef(rpm, f.RPMLimit)
	if f.BudgetDuration != nil {
		flag.BudgetResetAt = nil
		if r, err := policy.NextBudgetReset(*budgetDuration, now); err == nil {
			flag.BudgetResetAt = &r
		}
	}
}

// apply sets the sent fields, metadata included.
func (f *limitFields) apply(maxBudget **float64, budgetDuration *string, tpm, rpm **int64, flag *events.BudgetFlag, now time.Time, metadata *map[string]any) {
	f.budgetFields.apply(maxBudget, budgetDuration, tpm, rpm, flag, now)
	if f.Metadata != nil {
		*metadata = maps.Clone(f.Metadata)
	}
}

// set, setRef and setList copy a field a request sent (not nil) onto the
// object's own: its value, the pointer itself, or a copy of the list.
func set[T any](dst *T, sent *T) {
	if sent != nil {
		*dst = *sent
	}
}

func setRef[T any](dst **T, sent *T) {
	if sent != nil {
		*dst = sent
	}
}

func setList[T any](dst *[]T, sent *[]T) {
	if sent != nil {
		*dst = slices.Clone(*sent)
	}
}

// validModels refuses an empty entry in a sent models list.
func validModels(models *[]string) error {
	if models == nil {
		return nil
	}
	for i, m := range *models {
		if strings.TrimSpace(m) == "" {
			return httpx.Param("models", "entry %d is empty", i)
		}
	}
	return nil
}

// negative is LiteLLM's refusal of a budget below 0.
func negative(field string, v *float64) error {
	return param(apierror.BadRequest.With("%s cannot be negative. Received: %s", field, pyFloat(v)), field)
}
