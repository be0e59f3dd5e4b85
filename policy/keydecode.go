package policy

import (
	"encoding/json"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/jsonscan"
)

// decodeKey decodes a snapshot's key line into k, which must be zero.
//
// Keys are nearly all of a large snapshot, and encoding/json spends most
// of a start-up on them (reflection, a validating pre-scan, then the
// decode). A snapshot's keys are what json.Marshal wrote, in the struct's
// field order, so a scanner that expects exactly that encoding decodes a
// typical key several times faster. Anything else it does not vouch for
// (whitespace, another order, aliases or metadata, a string or number
// outside what jsonscan.Strict reads) goes to json.Unmarshal, so the
// result is always what json.Unmarshal gives (FuzzDecodeKey checks it).
func decodeKey(b []byte, k *events.Key) error {
	if scanKey(b, k) {
		return nil
	}
	*k = events.Key{}
	return json.Unmarshal(b, k)
}

// scanKey reads json.Marshal's encoding of an events.Key; false is
// anything unexpected, and the caller falls back.
func scanKey(b []byte, k *events.Key) bool {
	s := jsonscan.NewStrict(b)
	ok := s.Lit(`{"token":`) && s.Str(&k.Token) &&
		s.Lit(`,"key_name":`) && s.Str(&k.KeyName) &&
		s.OptStr(`,"key_alias":`, &k.KeyAlias) &&
		s.Lit(`,"models":`) && s.List(&k.Models) &&
		s.OptStr(`,"team_id":`, &k.TeamID) &&
		s.OptStr(`,"user_id":`, &k.UserID) &&
		s.OptStr(`,"organization_id":`, &k.OrganizationID) &&
		s.Lit(`,"blocked":`) && s.Bool(&k.Blocked) &&
		s.Lit(`,"expires":`) && s.TimePtr(&k.Expires) &&
		s.Lit(`,"max_budget":`) && s.FloatPtr(&k.MaxBudget) &&
		s.OptStr(`,"budget_duration":`, &k.BudgetDuration) &&
		s.Lit(`,"tpm_limit":`) && s.Int64Ptr(&k.TPMLimit) &&
		s.Lit(`,"rpm_limit":`) && s.Int64Ptr(&k.RPMLimit) &&
		s.Lit(`,"max_parallel_requests":`) && s.Int64Ptr(&k.MaxParallelRequests)
	if !ok {
		return false
	}
	// aliases and metadata (maps) are rare: json.Unmarshal decodes those keys.
	if s.Has(`,"aliases":`) || s.Has(`,"metadata":`) {
		return false
	}
	if s.Has(`,"allowed_routes":`) && !(s.Lit(`,"allowed_routes":`) && s.List(&k.AllowedRoutes)) {
		return false
	}
	ok = s.OptStr(`,"regenerated_from":`, &k.RegeneratedFrom) &&
		s.OptStr(`,"created_by":`, &k.CreatedBy) &&
		s.Lit(`,"created_at":`) && s.Time(&k.CreatedAt) &&
		s.Lit(`,"updated_at":`) && s.Time(&k.UpdatedAt)
	if !ok {
		return false
	}
	if s.Has(`,"budget_exceeded":`) && !(s.Lit(`,"budget_exceeded":`) && s.Bool(&k.BudgetExceeded)) {
		return false
	}
	if s.Has(`,"budget_reset_at":`) && !(s.Lit(`,"budget_reset_at":`) && s.TimePtr(&k.BudgetResetAt)) {
		return false
	}
	return s.Lit(`}`) && s.Done()
}
