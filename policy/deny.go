package policy

import (
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

// DenyReason maps a refusal to the ledger's reason code (events.Deny*);
// "" for an error that is not a policy decision (bad JSON, a missing
// field, an internal error). The edge records it on denial rows and a
// dry run (control/dryrun) compares with it, so both name a refusal alike.
func DenyReason(e *apierror.Error) string {
	switch e.Code {
	case apierror.Unauthenticated.Code, "invalid_token":
		return events.DenyInvalidCredential
	case apierror.ExpiredKey.Code:
		return events.DenyExpired
	case apierror.KeyBlocked.Code:
		return events.DenyKeyBlocked
	case apierror.TeamBlocked.Code:
		return events.DenyTeamBlocked
	case orgBlocked.Code:
		return events.DenyOrgBlocked
	case EndUserBlocked.Code:
		return events.DenyEndUserBlocked
	case apierror.KeyModelDenied.Code, apierror.TeamModelDenied.Code, apierror.UserModelDenied.Code,
		apierror.OrgModelDenied.Code, EndUserModelDenied.Code:
		return events.DenyModelNotAllowed
	case apierror.ModelNotFound.Code:
		return events.DenyModelNotFound
	case apierror.Forbidden.Code:
		if strings.HasSuffix(e.Rule, ":allowed_routes") || strings.HasPrefix(e.Rule, "route_group:") {
			return events.DenyRouteNotAllowed
		}
		return events.DenyForbidden
	case apierror.BudgetExceeded.Code:
		return events.DenyBudgetExceeded
	case apierror.RateLimited.Code:
		return events.DenyRateLimited
	case apierror.NotReady.Code:
		return events.DenyPolicyNotReady
	}
	if e.Status == http.StatusUnauthorized {
		return events.DenyInvalidCredential
	}
	return ""
}
