package policy

import (
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

// Special model names, as in LiteLLM.
const (
	AllProxyModels  = "all-proxy-models"
	AllTeamModels   = "all-team-models" // on a team: every proxy model
	NoDefaultModels = "no-default-models"
	AnyModel        = "*"
)

// Allowed reports whether an object whose models list is allowed may call
// model, per LiteLLM's _check_model_access_helper:
//  1. an entry naming an access group that holds the model allows it;
//  2. an entry with '*' that matches the model, or "<provider>/<model>",
//     allows it;
//  3. an empty list, "*" or "all-proxy-models" allows everything, and so
//     does "all-team-models" (on a key it was expanded to the team's
//     models before; on a team LiteLLM expands it to every proxy model);
//  4. otherwise only an exact entry allows it.
//
// Group names that do not hold the model are ignored, so a list of only
// such groups allows nothing (it is not "empty").
func (s *Snapshot) Allowed(allowed []string, model string) bool {
	if len(allowed) == 0 {
		return true
	}
	r := s.catalog
	for _, m := range allowed {
		if r.IsGroup(m) {
			if r.InGroup(m, model) {
				return true
			}
			continue
		}
		if m == model || m == AnyModel || m == AllProxyModels || m == AllTeamModels {
			return true
		}
		if strings.IndexByte(m, '*') >= 0 && matchModel(m, model) {
			return true
		}
	}
	return false
}

// KeyAccess is what the access rules give a virtual key for one request
// (auth.Grant turns it into the decision every credential kind produces).
type KeyAccess struct {
	Key   *events.Key
	Team  *events.Team // nil for a key without a team
	User  *events.User // nil when the key has no (known) user
	Route Route
	// Model is the model name routed, after key aliases.
	Model string
}

// CheckKey authorizes a key (already found) for a model, in LiteLLM's
// order: blocked key, expiry, team existence and block, key models, team
// models, then the user's models for personal keys and the org's models.
// The returned errors are *apierror.Error.
func (s *Snapshot) CheckKey(k *events.Key, model string, now time.Time) (KeyAccess, error) {
	g := KeyAccess{Key: k, Model: model}
	if k.Blocked {
		return g, apierror.KeyBlocked.With("Key is blocked. Update via `/key/unblock` if you're admin.").By(Rule("key", k.Token, "blocked"))
	}
	if k.Expires != nil && !now.Before(*k.Expires) {
		return g, apierror.ExpiredKey.With("Authentication Error - Expired Key. Key Expiry time %s and current time %s",
			k.Expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)).By(Rule("key", k.Token, "expires"))
	}
	if k.TeamID != "" {
		g.Team = s.teams[k.TeamID]
		if g.Team == nil {
			// The team was deleted: its keys must stop working even if a
			// key tombstone has not arrived yet.
			return g, apierror.Unauthenticated.With("Authentication Error - team %s of this key does not exist", k.TeamID).By(Rule("team", k.TeamID, "deleted"))
		}
		if g.Team.Blocked {
			return g, apierror.TeamBlocked.With("Team=%s is blocked. Update via `/team/unblock` if you're admin.", k.TeamID).By(Rule("team", k.TeamID, "blocked"))
		}
	}
	if k.UserID != "" {
		g.User = s.users[k.UserID]
	}
	if err := BudgetCheck(k, g.Team, g.User); err != nil {
		return g, err
	}
	orgID := OrgIDOf(k, g.Team)
	if err := s.CheckOrgStanding(orgID); err != nil {
		return g, err
	}
	if model == "" {
		return g, nil
	}
	if target, ok := k.Aliases[model]; ok && target != "" {
		g.Model = target
	}
	keyModels := s.keyModels(k, g.Team)
	if !s.Allowed(keyModels, model) && (g.Model == model || !s.Allowed(keyModels, g.Model)) {
		return g, apierror.KeyModelDenied.With("key not allowed to access model. This key can only access models=%s. Tried to access %s",
			listString(keyModels), model).By(Rule("key", k.Token, "models"))
	}
	if g.Team != nil && !s.TeamAllowed(g.Team, g.Model) {
		return g, apierror.TeamModelDenied.With("Team not allowed to access model. Team=%s, Model=%s. Allowed team models = %s",
			g.Team.TeamID, model, listString(s.TeamModels(g.Team))).By(Rule("team", g.Team.TeamID, "models"))
	}
	if g.Team == nil && g.User != nil && !s.userMayCall(g.User, g.Model) {
		return g, apierror.UserModelDenied.With("User not allowed to access model. User=%s, Model=%s. Allowed user models = %s",
			g.User.UserID, model, listString(g.User.Models)).By(Rule("user", g.User.UserID, "models"))
	}
	if err := s.CheckOrgModel(orgID, model, g.Model); err != nil {
		return g, err
	}
	g.Route = s.catalog.Resolve(g.Model)
	return g, nil
}

// BudgetCheck refuses a caller whose key, team or user has spent its
// budget for the current window (LiteLLM: 400 budget_exceeded). The flag is
// set by the control plane's budget tracker as an event, so every edge
// enforces it once applied.
func BudgetCheck(k *events.Key, t *events.Team, u *events.User) error {
	switch {
	case k != nil && k.BudgetExceeded:
		return BudgetError("Current cost exceeds max_budget for this key", "key", k.Token, k.MaxBudget, k.BudgetDuration, k.BudgetResetAt)
	case t != nil && t.BudgetExceeded:
		return BudgetError("Team="+t.TeamID+teamAlias(t), "team", t.TeamID, t.MaxBudget, t.BudgetDuration, t.BudgetResetAt)
	case u != nil && u.BudgetExceeded:
		return BudgetError("User="+u.UserID, "user", u.UserID, u.MaxBudget, u.BudgetDuration, u.BudgetResetAt)
	}
	return nil
}

func teamAlias(t *events.Team) string {
	if t.TeamAlias == "" {
		return ""
	}
	return " ('" + t.TeamAlias + "')"
}

// Rule names a policy rule for the decision ledger: "<kind>:<id>:<field>",
// e.g. "team:ml:max_budget" or "key:<sha256>:models".
func Rule(kind, id, field string) string { return kind + ":" + id + ":" + field }

// BudgetError is the refusal of an object over its budget (LiteLLM's 400
// budget_exceeded, its "Budget has been exceeded!" prefix kept): it names
// the object, max_budget, and the window (budget_duration, when it resets)
// when the object has one. Only the budget tracker knows the spend; the
// edge's own view adds it (edge/budget).
func BudgetError(who, kind, id string, maxBudget *float64, duration string, resetAt *time.Time) *apierror.Error {
	var w strings.Builder
	w.WriteString("Budget has been exceeded! " + who + ": spend >= max_budget " + budgetString(maxBudget) + " USD")
	WriteWindow(&w, duration, resetAt)
	return apierror.BudgetExceeded.With("%s", w.String()).By(Rule(kind, id, "max_budget"))
}

// WriteWindow appends a budget's window to a refusal: ", budget_duration
// 30d, resets <RFC3339>", or nothing for a budget without a window.
func WriteWindow(w *strings.Builder, duration string, resetAt *time.Time) {
	if duration != "" {
		w.WriteString(", budget_duration " + duration)
	}
	if resetAt != nil {
		w.WriteString(", resets " + resetAt.UTC().Format(time.RFC3339))
	}
}

func budgetString(b *float64) string {
	if b == nil {
		return "(none)"
	}
	return fmt.Sprintf("%g", *b)
}

func (s *Snapshot) userMayCall(u *events.User, model string) bool {
	for _, m := range u.Models {
		if m == NoDefaultModels {
			return false
		}
	}
	return s.Allowed(u.Models, model)
}

func listString(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	return fmt.Sprintf("[%s]", strings.Join(l, ", "))
}

// VisibleModels lists the model names a key may call, for /v1/models:
// sentinels and access groups are expanded to model names, never shown as
// such (LiteLLM #3275). Wildcard deployments are listed by their pattern.
func (s *Snapshot) VisibleModels(k *events.Key) []string {
	var team *events.Team
	if k != nil && k.TeamID != "" {
		team = s.teams[k.TeamID]
	}
	var out []string
	for _, name := range s.catalog.ModelNames() {
		if k == nil {
			out = append(out, name)
			continue
		}
		if _, err := s.CheckKey(k, name, time.Time{}); err == nil {
			out = append(out, name)
		}
	}
	// A key limited to "openai/gpt-4o" under an "openai/*" deployment may
	// call that one name: list the concrete names it holds that a
	// deployment serves.
	if k != nil {
		seen := make(map[string]bool, len(out))
		for _, n := range out {
			seen[n] = true
		}
		for _, m := range s.keyModels(k, team) {
			if seen[m] || strings.Contains(m, "*") || s.catalog.IsGroup(m) || m == AllProxyModels || m == AllTeamModels || m == AllOrgModels {
				continue
			}
			if s.catalog.Resolve(m).Found() {
				if _, err := s.CheckKey(k, m, time.Time{}); err == nil {
					seen[m] = true
					out = append(out, m)
				}
			}
		}
	}
	return out
}
