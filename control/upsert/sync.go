package upsert

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/control/store"
	"github.com/gatehouse/gatehouse/events"
)

// applySync applies sync_user_role_and_teams: unlike the creating upserts
// it changes existing objects, but only the stored role and the
// memberships the token is authoritative for.
func applySync(ctx context.Context, st *store.Store, r events.UpsertRequest, now time.Time) error {
	switch r.Kind {
	case events.UpsertUserRole:
		if r.UserID == "" || !slices.Contains(events.LiteLLMUserRoles, r.UserRole) {
			return nil
		}
		_, err := st.Mutate(ctx, "jwt-sync", events.KindUser, r.UserID, func(cur any) (string, any, error) {
			u, _ := cur.(*events.User)
			if u == nil || u.UserRole == r.UserRole {
				return "", nil, nil
			}
			nu := *u
			nu.UserRole, nu.UpdatedAt = r.UserRole, now
			return events.UserUpserted, &nu, nil
		})
		return err
	case events.UpsertTeamMemberRemove:
		if r.TeamID == "" || r.UserID == "" {
			return nil
		}
		_, err := st.Mutate(ctx, "jwt-sync", events.KindTeam, r.TeamID, func(cur any) (string, any, error) {
			t, _ := cur.(*events.Team)
			if t == nil {
				return "", nil, nil
			}
			keep := slices.DeleteFunc(slices.Clone(t.MembersWithRoles), func(m events.Member) bool {
				return m.UserID == r.UserID || (r.UserEmail != "" && strings.EqualFold(m.UserEmail, r.UserEmail))
			})
			if len(keep) == len(t.MembersWithRoles) {
				return "", nil, nil
			}
			nt := *t
			nt.MembersWithRoles, nt.UpdatedAt = keep, now
			return events.TeamUpserted, &nt, nil
		})
		if err != nil {
			return err
		}
		_, err = st.Mutate(ctx, "jwt-sync", events.KindUser, r.UserID, func(cur any) (string, any, error) {
			u, _ := cur.(*events.User)
			if u == nil || !slices.Contains(u.Teams, r.TeamID) {
				return "", nil, nil
			}
			nu := *u
			nu.Teams = slices.DeleteFunc(slices.Clone(u.Teams), func(id string) bool { return id == r.TeamID })
			nu.UpdatedAt = now
			return events.UserUpserted, &nu, nil
		})
		return err
	}
	return nil
}
