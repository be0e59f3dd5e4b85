package policy

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

// reasons map a refusal's error code to its ledger reason code.
var reasons = map[string]string{
	apierror.Unauthenticated.Code: events.DenyInvalidCredential,
	apierror.ExpiredKey.Code:      events.DenyExpired,
	apierror.KeyBlocked.Code:      events.DenyKeyBlocked,
	apierror.TeamBlocked.Code:     events.DenyTeamBlocked,
	orgBlocked.Code:               events.DenyOrgBlocked,
	EndUserBlocked.Code:           events.DenyEndUserBlocked,
	apierror.KeyModelDenied.Code:  events.DenyModelNotAllowed,
	apierror.TeamModelDenied.Code: events.DenyModelNotAllowed,
	apierror.UserModelDenied.Code: events.DenyModelNotAllowed,
	apierror.OrgModelDenied.Code:  events.DenyModelNotAllowed,
	EndUserModelDenied.Code:       events.DenyModelNotAllowed,
	apierror.ModelNotFound.Code:   events.DenyModelNotFound,
	apierror.BudgetExceeded.Code:  events.DenyBudgetExceeded,
	apierror.RateLimited.Code:     events.DenyRateLimited,
	apierror.NotReady.Code:        events.DenyPolicyNotReady,
}

// DenyReason maps a refusal to the ledger's reason code (events.Deny*);
// "" for an error that is not a policy decision (bad JSON, a missing
// field, an internal error). The edge records it on denial rows and a
// dry run (control/dryrun) compares with it, so both name a refusal alike.
func DenyReason(e *apierror.Error) string {
	if strings.HasSuffix(e.Rule, "routes") {
		// A route rule decided, whatever the status: 403 for most, 401
		// for an admin JWT outside admin_allowed_routes (LiteLLM's plain
		// Exception).
		return events.DenyRouteNotAllowed
	}
	if e.Code == apierror.Forbidden.Code {
		// One code for every forbidden thing: the rule tells them apart.
		if strings.HasSuffix(e.Rule, "models") {
			return events.DenyModelNotAllowed
		}
		return events.DenyForbidden
	}
	if r, ok := reasons[e.Code]; ok {
		return r
	}
	if e.Status == http.StatusUnauthorized {
		return events.DenyInvalidCredential
	}
	return ""
}
