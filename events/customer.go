package events

import "time"

// Customer is an end user (LiteLLM's LiteLLM_EndUserTable with its budget
// row folded in): the "user" of a chat request, or the claim named by
// end_user_id_jwt_field. Unlike keys and teams, an end user need not be
// created first: a request naming an unknown one is served (and its spend
// recorded); a Customer object exists to block it, bound its models or
// give it a budget. The budget tracker also creates one, flagged, for an
// unknown end user that spent litellm_settings.max_end_user_budget.
type Customer struct {
	UserID string `json:"user_id"`
	Alias  string `json:"alias,omitempty"`
	// Blocked end users are refused at every edge.
	Blocked bool `json:"blocked"`
	// Models bounds what the end user may call (empty: everything its key
	// or token may call). Access groups and wildcards work as on keys.
	Models         []string `json:"models,omitempty"`
	MaxBudget      *float64 `json:"max_budget"`
	BudgetDuration string   `json:"budget_duration,omitempty"`
	BudgetID       string   `json:"budget_id,omitempty"`
	TPMLimit       *int64   `json:"tpm_limit,omitempty"`
	RPMLimit       *int64   `json:"rpm_limit,omitempty"`
	// AllowedModelRegion ("eu" or "us") and DefaultModel are LiteLLM's
	// fields, kept and returned as given.
	AllowedModelRegion string         `json:"allowed_model_region,omitempty"`
	DefaultModel       string         `json:"default_model,omitempty"`
	Metadata           map[string]any `json:"metadata,omitempty"`
	CreatedAt          time.Time      `json:"created_at"`
	UpdatedAt          time.Time      `json:"updated_at"`
	BudgetFlag
}

// LiteLLMSettingsID is the id of the one litellm_settings object.
const LiteLLMSettingsID = "litellm_settings"

// LiteLLMSettings holds the parts of config.yaml's litellm_settings that
// edges or the budget tracker enforce. It is an event, like the router
// settings, so a change applies everywhere without a restart.
type LiteLLMSettings struct {
	ID string `json:"id"`
	// MaxEndUserBudget is the budget (USD) of every end user without a
	// max_budget of its own (nil: none).
	MaxEndUserBudget *float64  `json:"max_end_user_budget,omitempty"`
	UpdatedAt        time.Time `json:"updated_at"`
}

func init() {
	// Registered here rather than in types.go's table so the contract for
	// end users stays in one file; the rules of that table apply.
	for typ, ti := range map[string]TypeInfo{
		CustomerUpserted:        {KindCustomer, ActionUpserted},
		CustomerDeleted:         {KindCustomer, ActionDeleted},
		CustomerBlocked:         {KindCustomer, ActionBlocked},
		CustomerUnblocked:       {KindCustomer, ActionUnblocked},
		LiteLLMSettingsUpserted: {KindLiteLLMSettings, ActionUpserted},
	} {
		registry[typ] = ti
	}
}
