package policy

import (
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
// A group name that does not hold the model is an ordinary entry, so a
// list of only such groups allows nothing (it is not "empty"), and a name
// that is both a group and a deployed model allows that model too (LiteLLM
// filters out only the groups holding the model).
func (s *Snapshot) Allowed(allowed []string, model string) bool {
	if len(allowed) == 0 {
		return true
	}
	r := s.catalog
	for _, m := range allowed {
		if r.IsGroup(m) && r.InGroup(m, model) {
			return true
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
// order (its virtual-key path, then common_checks): blocked key, the key's
// models, expiry, the key's budget; then the team (deleted, blocked), the
// team's models (the user's for a key without a team), the team's and the
// user's budgets, the org, and the caller's role. A request that is wrong
// in several ways gets the refusal LiteLLM gives it. A model passes a
// models check when its name, its key alias target or its
// model_group_alias target does. With model "" only the standing is
// checked. The returned errors are *apierror.Error.
func (s *Snapshot) CheckKey(k *events.Key, model string, now time.Time) (KeyAccess, error) {
	g := KeyAccess{Key: k, Model: model}
	if err := keyBlocked(k); err != nil {
		return g, err
	}
	var team *events.Team
	if k.TeamID != "" {
		team = s.teams[k.TeamID]
	}
	if k.UserID != "" {
		g.User = s.users[k.UserID]
	}
	var aliased string // the model_group_alias target, if model is one
	if model != "" {
		// A key's aliases first, then its team's model_aliases, as
		// LiteLLM's model_alias_map merges them. A team alias passes the
		// key's models check (LiteLLM's _check_model_access_helper, step
		// 2); its target must still pass the team's.
		teamAlias := false
		if target, ok := k.Aliases[model]; ok && target != "" {
			g.Model = target
		} else if target := TeamAlias(team, model); target != "" {
			g.Model, teamAlias = target, true
		}
		aliased = s.catalog.AliasTarget(model)
		keyModels := s.keyModels(k, team)
		keyMay := func(m string) bool { return s.Allowed(keyModels, m) || s.inAccessGroups(k.AccessGroupIDs, m) }
		if !teamAlias && !s.allowedAs(model, g.Model, aliased, keyMay) {
			return g, apierror.KeyModelDenied.With("key not allowed to access model. This key can only access models=%s. Tried to access %s",
				apierror.PyList(keyModels), model).By(Rule("key", k.Token, "models"))
		}
	}
	if err := s.keyStanding(k, team, now); err != nil {
		return g, err
	}
	g.Team = team
	if model != "" {
		if team != nil && !s.allowedAs(model, g.Model, aliased, func(m string) bool { return s.TeamAllowed(team, m) }) {
			return g, apierror.TeamModelDenied.With("Team not allowed to access model. Team=%s, Model=%s. Allowed team models = %s",
				team.TeamID, model, apierror.PyList(s.TeamModels(team))).By(Rule("team", team.TeamID, "models"))
		}
		if team == nil && g.User != nil {
			if err := s.userMayCall(g.User, model, g.Model, aliased); err != nil {
				return g, err
			}
		}
	}
	if err := BudgetCheck(nil, team, g.User); err != nil {
		return g, err
	}
	if err := s.CheckMemberBudget(team, k.UserID); err != nil {
		return g, err
	}
	orgID := OrgIDOf(k, team)
	if err := s.CheckOrgStanding(orgID); err != nil {
		return g, err
	}
	if err := s.CheckOrgMemberBudget(orgID, k.UserID); err != nil {
		return g, err
	}
	if err := checkRole(g.User); err != nil {
		return g, err
	}
	if model == "" {
		return g, nil
	}
	if err := s.CheckOrgModel(orgID, model, g.Model); err != nil {
		return g, err
	}
	g.Route = s.catalog.Resolve(g.Model)
	return g, nil
}

// KeyStanding refuses a key the admin API does not serve at all: blocked,
// expired, or of a deleted or blocked team. Its budget is not checked
// there: as in LiteLLM (test_key_over_budget), a key that spent its budget
// still reads its own info and spend; the model routes, /v1/models
// included, refuse it (CheckKey).
func (s *Snapshot) KeyStanding(k *events.Key, now time.Time) error {
	if err := keyBlocked(k); err != nil {
		return err
	}
	if err := keyExpired(k, now); err != nil {
		return err
	}
	return s.keyTeamStanding(k, s.teams[k.TeamID])
}

// keyBlocked is the first check of every key, whatever the route.
func keyBlocked(k *events.Key) error {
	if k.Blocked {
		return apierror.KeyBlocked.With("Key is blocked. Update via `/key/unblock` if you're admin.").By(Rule("key", k.Token, "blocked"))
	}
	return nil
}

// keyStanding is a key's standing on the model routes, after the blocked
// check: expiry, the key's budget, then the team's existence and block.
func (s *Snapshot) keyStanding(k *events.Key, team *events.Team, now time.Time) error {
	if err := keyExpired(k, now); err != nil {
		return err
	}
	if err := BudgetCheck(k, nil, nil); err != nil {
		return err
	}
	return s.keyTeamStanding(k, team)
}

func keyExpired(k *events.Key, now time.Time) error {
	if k.Expires != nil && !now.IsZero() && !now.Before(*k.Expires) {
		return apierror.ExpiredKey.With("Authentication Error - Expired Key. Key Expiry time %s and current time %s",
			k.Expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)).By(Rule("key", k.Token, "expires"))
	}
	return nil
}

// keyTeamStanding refuses a team key whose team was deleted or blocked.
func (s *Snapshot) keyTeamStanding(k *events.Key, team *events.Team) error {
	if k.TeamID == "" {
		return nil
	}
	if team == nil {
		// The team was deleted: its keys must stop working even if a
		// key tombstone has not arrived yet.
		return apierror.Unauthenticated.With("Authentication Error - team %s of this key does not exist", k.TeamID).By(Rule("team", k.TeamID, "deleted"))
	}
	if team.Blocked {
		return apierror.TeamBlocked.With("Team=%s is blocked. Update via `/team/unblock` if your admin.", k.TeamID).By(Rule("team", k.TeamID, "blocked"))
	}
	return nil
}

// allowedAs reports whether a models check passes for the name the caller
// sent, its key alias target (routed) or its model_group_alias target
// (aliased): LiteLLM's _can_object_call_model tries the model and its
// alias target, and either passing is enough.
func (s *Snapshot) allowedAs(model, routed, aliased string, ok func(string) bool) bool {
	return ok(model) || (routed != model && ok(routed)) || (aliased != "" && aliased != routed && ok(aliased))
}

// ViewerRole is the user_role that may read everything in the admin API
// and call no model (LiteLLM's proxy_admin_viewer).
const ViewerRole = "proxy_admin_viewer"

// checkRole refuses the keys of a view-only admin on the model routes, as
// LiteLLM does (403).
func checkRole(u *events.User) error {
	if u != nil && u.UserRole == ViewerRole {
		return apierror.Forbidden.With("user not allowed to access this OpenAI routes, role= %s", ViewerRole).By(Rule("user", u.UserID, "user_role"))
	}
	return nil
}

// BudgetCheck refuses a caller whose key, team or user has spent its
// budget for the current window (LiteLLM: 400 budget_exceeded). The flag is
// set by the control plane's budget tracker as an event, so every edge
// enforces it once applied.
func BudgetCheck(k *events.Key, t *events.Team, u *events.User) error {
	switch {
	case k != nil && k.BudgetExceeded:
		return (&BudgetRefusal{Kind: events.KindKey, ID: k.Token, Max: deref(k.MaxBudget), Duration: k.BudgetDuration, ResetAt: k.BudgetResetAt}).Refusal(-1)
	case t != nil && t.BudgetExceeded:
		return (&BudgetRefusal{Kind: events.KindTeam, ID: t.TeamID, Max: deref(t.MaxBudget), Duration: t.BudgetDuration, ResetAt: t.BudgetResetAt}).Refusal(-1)
	case u != nil && u.BudgetExceeded:
		return (&BudgetRefusal{Kind: events.KindUser, ID: u.UserID, Max: deref(u.MaxBudget), Duration: u.BudgetDuration, ResetAt: u.BudgetResetAt}).Refusal(-1)
	}
	return nil
}

// MemberBudget is user userID's membership of team t when it has limits:
// its own (max_budget_in_team, rpm_limit, tpm_limit, or the tracker's
// budget_exceeded flag) or its team's member defaults
// (team_member_budget, team_member_rpm_limit, team_member_tpm_limit); nil
// otherwise. A member is matched by user_id, else, for a member named
// only by email, by the user's email (case-insensitive, as the admin API
// matches members). On the request path: an index lookup, not a walk of
// the team's members.
func (s *Snapshot) MemberBudget(t *events.Team, userID string) *events.Member {
	if t == nil || userID == "" {
		return nil
	}
	m, byEmail := s.budgeted.member(t.TeamID, userID)
	if m != nil || !byEmail {
		return m
	}
	u := s.users[userID]
	if u == nil || u.UserEmail == "" {
		return nil
	}
	for i := range t.MembersWithRoles {
		if m := &t.MembersWithRoles[i]; m.UserID == "" && HasMemberLimits(t, m) && strings.EqualFold(m.UserEmail, u.UserEmail) {
			return m
		}
	}
	return nil
}

// MemberLimits are the limits of one membership: each of the member's own
// and, where it sets none, its team's default for members (LiteLLM gives a
// member without a budget row of its own the team's default row, and
// copies that row into the member's own when one of its limits is set).
// The budget's window is the team's team_member_budget_duration.
type MemberLimits struct {
	Member    *events.Member // nil: the membership has no limits
	MaxBudget *float64
	Duration  string
	RPM, TPM  *int64
}

// LimitsOf resolves member m of team t (m nil: none).
func LimitsOf(t *events.Team, m *events.Member) MemberLimits {
	if m == nil {
		return MemberLimits{}
	}
	l := MemberLimits{Member: m, MaxBudget: m.MaxBudgetInTeam, Duration: t.TeamMemberBudgetDuration, RPM: m.RPMLimit, TPM: m.TPMLimit}
	if l.MaxBudget == nil {
		l.MaxBudget = t.TeamMemberBudget
	}
	if l.RPM == nil {
		l.RPM = t.TeamMemberRPMLimit
	}
	if l.TPM == nil {
		l.TPM = t.TeamMemberTPMLimit
	}
	return l
}

// MemberLimits are user userID's limits within team t.
func (s *Snapshot) MemberLimits(t *events.Team, userID string) MemberLimits {
	return LimitsOf(t, s.MemberBudget(t, userID))
}

// CheckMemberBudget refuses user userID in team t once its spend in the
// team reached its budget there (max_budget_in_team, else the team's
// team_member_budget: LiteLLM's team member budget check in
// common_checks, after the team's and the user's budgets: 400
// budget_exceeded, "Budget has been exceeded! User=<u> in Team=<t> ...").
// The flag is the budget tracker's, on the member in the team's event; the
// rule names the membership's budget_id ("team_member:<budget_id>:max_budget").
func (s *Snapshot) CheckMemberBudget(t *events.Team, userID string) error {
	m := s.MemberBudget(t, userID)
	if m == nil || !m.BudgetExceeded {
		return nil
	}
	l := LimitsOf(t, m)
	return (&BudgetRefusal{Kind: events.KindTeamMember, ID: m.BudgetID, Team: t.TeamID, User: userID, Max: deref(l.MaxBudget), Duration: l.Duration, ResetAt: m.BudgetResetAt}).Refusal(-1)
}

// Rule names a policy rule for the decision ledger: "<kind>:<id>:<field>",
// e.g. "team:ml:max_budget" or "key:<sha256>:models".
func Rule(kind, id, field string) string { return kind + ":" + id + ":" + field }

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

// deref is a budget's value (0 for none: a flagged object has one).
func deref(b *float64) float64 {
	if b == nil {
		return 0
	}
	return *b
}

// userMayCall refuses a model outside a teamless key's user's models
// (routed and aliased as for allowedAs).
func (s *Snapshot) userMayCall(u *events.User, model, routed, aliased string) error {
	for _, m := range u.Models {
		if m == NoDefaultModels {
			return apierror.UserModelDenied.With("User not allowed to access model. No default model access, only team models allowed. Tried to access %s",
				model).By(Rule("user", u.UserID, "models"))
		}
	}
	if !s.allowedAs(model, routed, aliased, func(m string) bool { return s.Allowed(u.Models, m) }) {
		return apierror.UserModelDenied.With("User not allowed to access model. User=%s, Model=%s. Allowed user models = %s",
			u.UserID, model, apierror.PyList(u.Models)).By(Rule("user", u.UserID, "models"))
	}
	return nil
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
