package api

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/policy"
)

// Team member permissions: LiteLLM's team_member_permissions, the key
// management routes a team lets its members who are not its admins call
// on its keys (TeamMemberPermissionChecks in LiteLLM's
// management_helpers/team_member_permission_checks.py), set on /team/new,
// /team/update and /team/permissions_update and read on
// /team/permissions_list.

// defaultTeamMemberPermissions is LiteLLM's DEFAULT_TEAM_MEMBER_PERMISSIONS:
// what a plain member may do when its team sets no permissions.
var defaultTeamMemberPermissions = []string{"/key/info", "/key/health"}

// availableTeamMemberPermissions is LiteLLM's
// LiteLLMRoutes.key_management_routes, which
// get_all_available_team_member_permissions answers on
// /team/permissions_list.
var availableTeamMemberPermissions = []string{
	"/key/generate", "/key/update", "/key/delete", "/key/info", "/key/regenerate",
	"/key/service-account/generate", "/key/{key_id}/regenerate", "/key/list",
	"/key/block", "/key/unblock", "/key/bulk_update", "/team/key/bulk_update",
	"/team/daily/activity", "/team/daily/activity/aggregated", "/spend/logs",
	"/spend/logs/v2", "/key/{key_id}/reset_spend", "/key/aliases",
	"/key/access_group_assignment",
}

// teamMemberPermissionNames is every value of LiteLLM's KeyManagementRoutes:
// the names a team's list may hold. LiteLLM stores any string and then
// fails the permission check on one outside this enum
// (KeyManagementRoutes(permission) raises); gatehouse refuses it when it
// is written.
var teamMemberPermissionNames = append(slices.Clone(availableTeamMemberPermissions), "/key/health", "/auto_router/manage")

// teamPermissionFields is team_member_permissions on /team/new and
// /team/update.
type teamPermissionFields struct {
	TeamMemberPermissions *[]string `json:"team_member_permissions"`
}

func (f *teamPermissionFields) validate() error {
	if f.TeamMemberPermissions == nil {
		return nil
	}
	return validTeamMemberPermissions(*f.TeamMemberPermissions)
}

func (f *teamPermissionFields) apply(t *events.Team) {
	setList(&t.TeamMemberPermissions, f.TeamMemberPermissions)
}

// validTeamMemberPermissions refuses a name that is not one of LiteLLM's
// key management routes, naming it.
func validTeamMemberPermissions(perms []string) error {
	for _, p := range perms {
		if !slices.Contains(teamMemberPermissionNames, p) {
			return httpx.Param("team_member_permissions", "%q is not a team member permission; allowed: %s",
				p, strings.Join(teamMemberPermissionNames, ", "))
		}
	}
	return nil
}

// teamMemberPermissions is LiteLLM's get_permissions_for_team_member: the
// team's list, or the defaults when it sets none (an empty list included).
func teamMemberPermissions(team *events.Team) []string {
	if len(team.TeamMemberPermissions) > 0 {
		return team.TeamMemberPermissions
	}
	return defaultTeamMemberPermissions
}

// checkTeamMemberPermission is LiteLLM's
// TeamMemberPermissionChecks.does_team_member_have_permissions_for_endpoint:
// a team admin may; a plain member may call the routes its team's
// permissions list; a caller outside the team (m nil, as for a key of no
// team) is not refused here.
func checkTeamMemberPermission(team *events.Team, m *events.Member, route string) error {
	if m == nil || m.Role == "admin" {
		return nil
	}
	perms := teamMemberPermissions(team)
	if slices.Contains(perms, route) {
		return nil
	}
	return teamMemberPermission.With("Team member does not have permissions for endpoint: %s. You only have access to the following endpoints: %s for team %s. To create keys for this team, please ask your proxy admin to check the team member permission settings and update the settings to allow team member users to create keys.",
		route, apierror.PyList(perms), team.TeamID)
}

// teamGrants reports whether the caller (member m of team) may call route
// on the team's key k: the team's admin, or a member whose team's
// permissions list the route. Stricter than LiteLLM: a key whose user is
// an admin (proxy_admin or proxy_admin_viewer) is never the team's to
// change, since its new plaintext would carry that user's role.
func teamGrants(snap *policy.Snapshot, team *events.Team, m *events.Member, k *events.Key, route string) bool {
	if team == nil || m == nil || k.TeamID != team.TeamID {
		return false
	}
	if u := snap.User(k.UserID); u != nil && (u.UserRole == "proxy_admin" || u.UserRole == policy.ViewerRole) {
		return false
	}
	return checkTeamMemberPermission(team, m, route) == nil
}

// teamPermissionsDenied is the refusal of /team/permissions_list and
// /team/permissions_update to a caller that is neither a proxy admin nor
// the team's admin: LiteLLM's HTTPException(403), whose text names
// /team/member_add on both routes.
func teamPermissionsDenied(teamID string) error {
	return apierror.Forbidden.With("Call not allowed. User not proxy admin OR team admin. route=/team/member_add, team_id=%s", teamID)
}

// teamPermissionRoutes registers LiteLLM's /team/permissions_list and
// /team/permissions_update. LiteLLM lists them in self_managed_routes:
// every caller reaches the handler, which admits a proxy admin and the
// team's admin.
func (a *API) teamPermissionRoutes(r fiber.Router) {
	r.Get("/team/permissions_list", a.teamPermissionsList)
	r.Post("/team/permissions_update", a.teamPermissionsUpdate)
}

// teamForPermissions finds the team for a permissions route and checks
// the caller may manage it: an admin, or the team's admin (LiteLLM's
// _is_user_team_admin). change refuses a view-only admin, which changes
// nothing (gatehouse's rule; LiteLLM's handler refuses it too unless it
// leads the team). A caller that leads no team at all is refused before
// the team is looked up, so that it cannot probe which teams exist.
func (a *API) teamForPermissions(c *fiber.Ctx, id string, change bool) (*events.Team, error) {
	me := who(c)
	snap := a.store.Snapshot()
	if !me.admin && !leadsATeam(snap, me.userID) {
		return nil, teamPermissionsDenied(pyStr(id))
	}
	if id == "" {
		return nil, apierror.MissingParam.With("team_id is required")
	}
	t := snap.Team(id)
	if t == nil {
		return nil, apierror.NotFound.With("Team not found for team_id=%s", id)
	}
	if me.admin {
		return t, nil
	}
	if !teamAdmin(t, me.userID) || (change && me.viewer) {
		return nil, teamPermissionsDenied(id)
	}
	return t, nil
}

// leadsATeam reports whether user is the admin of some team.
func leadsATeam(snap *policy.Snapshot, user string) bool {
	if user == "" {
		return false
	}
	return slices.ContainsFunc(snap.Teams(), func(t *events.Team) bool { return teamAdmin(t, user) })
}

// teamPermissionsList is GET /team/permissions_list?team_id=: LiteLLM's
// GetTeamMemberPermissionsResponse.
func (a *API) teamPermissionsList(c *fiber.Ctx) error {
	id := c.Query("team_id")
	t, err := a.teamForPermissions(c, id, false)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{
		"team_id":                   t.TeamID,
		"team_member_permissions":   teamMemberPermissions(t),
		"all_available_permissions": availableTeamMemberPermissions,
	})
}

// teamPermissionsUpdate is POST /team/permissions_update {team_id,
// team_member_permissions}: it replaces the team's list and answers the
// team, as LiteLLM does.
func (a *API) teamPermissionsUpdate(c *fiber.Ctx) error {
	var req struct {
		TeamID                string    `json:"team_id"`
		TeamMemberPermissions *[]string `json:"team_member_permissions"`
	}
	admin := who(c).admin
	if !admin {
		// Authorize before reading the body: a caller that may not
		// manage the team learns nothing from its validation. The
		// strict decode below reads the same team_id.
		var probe struct {
			TeamID string `json:"team_id"`
		}
		_ = json.Unmarshal(c.Body(), &probe)
		if _, err := a.teamForPermissions(c, probe.TeamID, true); err != nil {
			return err
		}
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	if req.TeamMemberPermissions == nil {
		return apierror.MissingParam.With("team_member_permissions is required")
	}
	if err := validTeamMemberPermissions(*req.TeamMemberPermissions); err != nil {
		return err
	}
	if admin {
		// The team_id is required and the team must exist.
		if _, err := a.teamForPermissions(c, req.TeamID, true); err != nil {
			return err
		}
	}
	res, t, err := a.mutateTeam(c, req.TeamID, events.TeamUpserted, func(t *events.Team) error {
		// The store may re-run this on a concurrent write: the caller
		// must still lead the team it changes.
		if me := who(c); !me.admin && !teamAdmin(t, me.userID) {
			return teamPermissionsDenied(t.TeamID)
		}
		t.TeamMemberPermissions = slices.Clone(*req.TeamMemberPermissions)
		return nil
	})
	if err != nil {
		return err
	}
	return commit(c, res, t)
}
