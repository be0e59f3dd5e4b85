package policy

import (
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

// The refusals of an end user. A blocked one is LiteLLM's 400 "User
// blocked from making LLM API Calls"; both name the request's "user"
// field, where the end user usually comes from.
var (
	EndUserBlocked     = &apierror.Error{Status: 400, Type: "invalid_request_error", Code: "end_user_blocked", Param: "user"}
	EndUserModelDenied = &apierror.Error{Status: 403, Type: "end_user_model_access_denied", Code: "end_user_model_access_denied", Param: "user"}
)

// EndUserID is the end user of a request: the JWT's end_user_id_jwt_field
// claim when the token carries one (it wins, as in LiteLLM 2026, so a
// caller cannot bill or unblock itself by choosing "user"), else the
// body's "user" field.
func EndUserID(fromJWT, fromBody string) string {
	if fromJWT != "" {
		return fromJWT
	}
	return fromBody
}

// CheckEndUser refuses a request for an end user that is blocked, has
// spent its budget (its own max_budget, or litellm_settings'
// max_end_user_budget), or may not call the model. An end user without a
// record passes. requested is the model the caller sent, model the one
// routed after aliases ("" for routes without a model).
func (s *Snapshot) CheckEndUser(id, requested, model string) error {
	if id == "" {
		return nil
	}
	c := s.customers[id]
	switch {
	case c == nil:
		return nil
	case c.Blocked:
		return EndUserBlocked.With("User blocked from making LLM API Calls. User=%s", id).By(Rule("end_user", id, "blocked"))
	case c.BudgetExceeded:
		b := c.MaxBudget
		if b == nil {
			b = s.MaxEndUserBudget()
		}
		return (&BudgetRefusal{Kind: events.KindCustomer, ID: id, Max: deref(b)}).Refusal(-1)
	case model != "" && len(c.Models) > 0 && !s.Allowed(c.Models, model):
		return EndUserModelDenied.With("End User not allowed to access model. End User=%s, Model=%s. Allowed end user models = %s",
			id, requested, apierror.PyList(c.Models)).By(Rule("end_user", id, "models"))
	}
	return nil
}
