package budget

import (
	"cmp"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
)

// customerBudget is an end user's budget: its own max_budget, else
// litellm_settings.max_end_user_budget. An end user without a record is
// tracked too (known) when that default exists, so the tracker can flag it.
func customerBudget(s *policy.Snapshot, id string) objBudget {
	def := s.MaxEndUserBudget()
	c := s.Customer(id)
	if c == nil {
		return objBudget{max: def, known: def != nil}
	}
	return objBudget{cmp.Or(c.MaxBudget, def), c.BudgetDuration, c.BudgetFlag, true}
}

// newExceededCustomer records an end user seen only in spend events that
// spent max_end_user_budget: LiteLLM creates the end user's row on its
// first spend; here the record exists once there is something to enforce.
// Clearing a flag on an end user without a record does nothing.
func newExceededCustomer(kind events.Kind, id string, flag events.BudgetFlag, now time.Time) (string, any, error) {
	if kind != events.KindCustomer || !flag.BudgetExceeded {
		return "", nil, nil
	}
	return events.CustomerUpserted, &events.Customer{UserID: id, BudgetFlag: flag, CreatedAt: now, UpdatedAt: now}, nil
}
