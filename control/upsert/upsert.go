// Package upsert creates the users, teams and team memberships that JWT
// callers imply (user_id_upsert, team_id_upsert, LiteLLM's
// map_user_to_teams). Edges ask over NATS and do not wait: the request that
// triggered it is already admitted, and the object exists at every edge
// once the event is applied.
package upsert

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gatehouse/gatehouse/control/store"
	"github.com/gatehouse/gatehouse/events"
)

// Queue is the control replicas' queue group: each request is handled by
// one replica.
const Queue = "gatehouse-control"

// Serve handles requests until the subscription is drained.
func Serve(nc *nats.Conn, st *store.Store, log *slog.Logger) (*nats.Subscription, error) {
	return nc.QueueSubscribe(events.UpsertSubject, Queue, func(m *nats.Msg) {
		var reqs []events.UpsertRequest
		if err := json.Unmarshal(m.Data, &reqs); err != nil {
			log.Warn("bad upsert request", "err", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, r := range reqs {
			if err := Apply(ctx, st, r); err != nil {
				log.Warn("upsert failed", "kind", r.Kind, "err", err)
			}
		}
		if m.Reply != "" {
			_ = m.Respond([]byte(`{"ok":true}`))
		}
	})
}

// Apply creates the object if it does not exist; existing objects are left
// alone (an upsert never overwrites what an admin set).
func Apply(ctx context.Context, st *store.Store, r events.UpsertRequest) error {
	now := st.Now()
	switch r.Kind {
	case events.UpsertUser:
		if r.UserID == "" {
			return nil
		}
		_, err := st.Mutate(ctx, "jwt-upsert", events.KindUser, r.UserID, func(cur any) (string, any, error) {
			if cur != nil {
				return "", nil, nil
			}
			return events.UserUpserted, &events.User{UserID: r.UserID, UserEmail: r.UserEmail, UserRole: "internal_user",
				Models: []string{}, Teams: []string{}, CreatedAt: now, UpdatedAt: now}, nil
		})
		return err
	case events.UpsertTeam:
		if r.TeamID == "" {
			return nil
		}
		_, err := st.Mutate(ctx, "jwt-upsert", events.KindTeam, r.TeamID, func(cur any) (string, any, error) {
			if cur != nil {
				return "", nil, nil
			}
			return events.TeamUpserted, &events.Team{TeamID: r.TeamID, Models: []string{}, MembersWithRoles: []events.Member{},
				CreatedAt: now, UpdatedAt: now}, nil
		})
		return err
	case events.UpsertTeamMember:
		if r.TeamID == "" || (r.UserID == "" && r.UserEmail == "") {
			return nil
		}
		_, err := st.Mutate(ctx, "jwt-upsert", events.KindTeam, r.TeamID, func(cur any) (string, any, error) {
			t, _ := cur.(*events.Team)
			if t == nil {
				return "", nil, nil
			}
			for _, m := range t.MembersWithRoles {
				if (r.UserID != "" && m.UserID == r.UserID) || (r.UserEmail != "" && strings.EqualFold(m.UserEmail, r.UserEmail)) {
					return "", nil, nil
				}
			}
			nt := *t
			nt.MembersWithRoles = append(slices.Clone(t.MembersWithRoles), events.Member{UserID: r.UserID, UserEmail: r.UserEmail, Role: "user"})
			nt.UpdatedAt = now
			return events.TeamMemberAdded, &nt, nil
		})
		return err
	case events.UpsertUserRole, events.UpsertTeamMemberRemove:
		return applySync(ctx, st, r, now)
	}
	return nil
}
