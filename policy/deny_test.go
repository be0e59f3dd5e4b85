package policy

import (
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

// TestDenyReasonAdminRoutes: an admin JWT outside admin_allowed_routes is
// a 401 (as LiteLLM) but the ledger still calls it a route refusal.
func TestDenyReasonAdminRoutes(t *testing.T) {
	for _, tc := range []struct {
		err  *apierror.Error
		want string
	}{
		{apierror.Unauthenticated.With("Admin not allowed to access this route").By("jwt_settings:admin_allowed_routes"), events.DenyRouteNotAllowed},
		{apierror.Forbidden.With("x").By("jwt_settings:team_allowed_routes"), events.DenyRouteNotAllowed},
		{apierror.Unauthenticated.With("No team id found in token"), events.DenyInvalidCredential},
	} {
		if got := DenyReason(tc.err); got != tc.want {
			t.Errorf("DenyReason(%v, rule %q) = %q, want %q", tc.err, tc.err.Rule, got, tc.want)
		}
	}
}
