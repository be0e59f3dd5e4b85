package api

import (
	"encoding/json"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

// teamNewGuard admits an admin to /team/new and, when
// general_settings.allow_user_team_creation is set, an internal_user
// creating a standalone team (LiteLLM 2026's self-service team
// creation). The flag opens /team/new only: the other management routes
// stay admin only. A body with an organization_id is refused to the
// internal user as LiteLLM refuses it, so that self-service cannot place
// a team in an organization the caller does not administer.
func (a *API) teamNewGuard(c *fiber.Ctx) error {
	me := who(c)
	if me.admin {
		return c.Next()
	}
	if !a.opts.AllowUserTeamCreation || !me.selfKeys || me.userID == "" {
		return notAdmin(c)
	}
	var b struct {
		OrganizationID *string `json:"organization_id"`
	}
	if json.Unmarshal(c.Body(), &b) == nil && b.OrganizationID != nil {
		return notAdmin(c)
	}
	return c.Next()
}

// selfServeLimits refuses a team an internal user creates beyond the
// user's own limits, with LiteLLM's texts: its tpm and rpm limits above
// the calling key's, its max_budget above the user's, a model outside
// the key's or the user's models. LiteLLM compares the models with the
// key's list only; gatehouse also bounds them by the user's, and refuses
// what would let a team reach more than its creator (no models, which
// means every model, for a caller that has a list; no max_budget for a
// caller that has one, since a team key spends the team's budget; access
// groups, which grant models of their own).
func (a *API) selfServeLimits(me caller, req *teamRequest) error {
	role := me.role
	if k := me.key; k != nil {
		if req.TPMLimit != nil && k.TPMLimit != nil && *req.TPMLimit > *k.TPMLimit {
			return param(apierror.BadRequest.With("tpm limit higher than user max. User tpm limit=%s. User role=%s", pyInt(k.TPMLimit), role), "tpm_limit")
		}
		if req.RPMLimit != nil && k.RPMLimit != nil && *req.RPMLimit > *k.RPMLimit {
			return param(apierror.BadRequest.With("rpm limit higher than user max. User rpm limit=%s. User role=%s", pyInt(k.RPMLimit), role), "rpm_limit")
		}
	}
	u := a.store.Snapshot().User(me.userID)
	if u != nil && u.MaxBudget != nil {
		// A team key spends the team's budget, not its user's: a team
		// without one would let its creator spend past its own.
		if req.MaxBudget == nil {
			return param(apierror.BadRequest.With("max_budget is required: a team you create is bounded by your own budget. User max budget=%s. User role=%s", pyFloat(u.MaxBudget), role), "max_budget")
		}
		if *req.MaxBudget > *u.MaxBudget {
			return param(apierror.BadRequest.With("max budget higher than user max. User max budget=%s. User role=%s", pyFloat(u.MaxBudget), role), "max_budget")
		}
	}
	var models []string
	if req.Models != nil {
		models = *req.Models
	}
	for _, allowed := range [][]string{keyModels(me.key), userModels(u)} {
		if len(allowed) == 0 {
			continue
		}
		if len(models) == 0 {
			return param(apierror.BadRequest.With("Model not in allowed user models. User allowed models=%s. User id=%s. A team without models may call every model: list the team's models within yours", pyList(allowed), me.userID), "models")
		}
		for _, m := range models {
			if !slices.Contains(allowed, m) {
				return param(apierror.BadRequest.With("Model not in allowed user models. User allowed models=%s. User id=%s", pyList(allowed), me.userID), "models")
			}
		}
	}
	if req.AccessGroupIDs != nil && len(*req.AccessGroupIDs) > 0 {
		return param(apierror.BadRequest.With("access_group_ids: only a proxy admin may give a team access groups (they grant models beyond the creator's)"), "access_group_ids")
	}
	return nil
}

func keyModels(k *events.Key) []string {
	if k == nil {
		return nil
	}
	return k.Models
}

func userModels(u *events.User) []string {
	if u == nil {
		return nil
	}
	return u.Models
}

// addCreator makes the caller that creates a team one of its admins, as
// LiteLLM's /team/new does for a caller with a user id, unless it is
// listed already. A proxy admin is not added when
// general_settings.disable_auto_add_proxy_admin_to_teams is set. The
// master key is no user (LiteLLM's stands for its default_user_id), so
// nothing is added for it.
func (a *API) addCreator(me caller, t *events.Team) {
	if me.userID == "" || (me.admin && a.opts.DisableAutoAddProxyAdminToTeams) {
		return
	}
	if slices.ContainsFunc(t.MembersWithRoles, func(m events.Member) bool { return m.UserID == me.userID }) {
		return
	}
	t.MembersWithRoles = append(t.MembersWithRoles, events.Member{UserID: me.userID, Role: "admin"})
}
