// Package upsert creates the users, teams and team memberships that JWT
// callers imply (user_id_upsert, team_id_upsert, LiteLLM's
// map_user_to_teams). Edges publish requests to the upsert work queue
// (events.UpsertStream) and do not wait: the request that triggered it is
// already admitted, and the object exists at every edge once the event is
// applied. The consumer is a processor (package control/processor): a
// failed write is retried and redelivered, not dropped, and a request that
// does not decode goes to the poison queue.
package upsert

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/gatehouse/gatehouse/control/processor"
	"github.com/gatehouse/gatehouse/control/store"
	"github.com/gatehouse/gatehouse/events"
)

// Source is where upsert requests arrive: the upsert work queue, one
// message at a time so requests apply in the order edges sent them (a team
// before its membership).
var Source = processor.Source{Stream: events.UpsertStream, Durable: events.UpsertDurable, Filter: events.UpsertSubject}

// Register adds the upsert consumer to a control process's processors.
func Register(p *processor.Router, st *store.Store) {
	p.Handle("upsert", Source, func(ctx context.Context, msg *message.Message) error {
		return Handle(ctx, st, msg.Payload)
	})
}

// Handle applies one message (a JSON list of requests). A message that does
// not decode is poisoned; a failed write is returned for retry (the
// requests already applied are no-ops the second time: Apply never
// overwrites).
func Handle(ctx context.Context, st *store.Store, data []byte) error {
	var reqs []events.UpsertRequest
	if err := json.Unmarshal(data, &reqs); err != nil {
		return processor.Permanent(fmt.Errorf("upsert: bad request: %w", err))
	}
	for _, r := range reqs {
		if err := Apply(ctx, st, r); err != nil {
			return fmt.Errorf("upsert %s: %w", r.Kind, err)
		}
	}
	return nil
}

// Apply creates the object if it does not exist; existing objects are left
// alone (an upsert never overwrites what an admin set).
func Apply(ctx context.Context, st *store.Store, r events.UpsertRequest) error {
	now := st.Now()
	switch r.Kind {
	case events.UpsertUser:
		return create(ctx, st, events.KindUser, r.UserID, events.UserUpserted, &events.User{UserID: r.UserID, UserEmail: r.UserEmail,
			UserRole: "internal_user", Models: []string{}, Teams: []string{}, CreatedAt: now, UpdatedAt: now})
	case events.UpsertTeam:
		return create(ctx, st, events.KindTeam, r.TeamID, events.TeamUpserted, &events.Team{TeamID: r.TeamID, Models: []string{},
			MembersWithRoles: []events.Member{}, CreatedAt: now, UpdatedAt: now})
	case events.UpsertTeamMember:
		return addTeamMember(ctx, st, r, now)
	case events.UpsertUserRole, events.UpsertTeamMemberRemove:
		return applySync(ctx, st, r, now)
	}
	return nil
}

// create publishes obj as a typ event unless an object of kind with id
// exists; a request without an id creates nothing.
func create(ctx context.Context, st *store.Store, kind events.Kind, id, typ string, obj any) error {
	if id == "" {
		return nil
	}
	_, err := st.Mutate(ctx, "jwt-upsert", kind, id, func(cur any) (string, any, error) {
		if cur != nil {
			return "", nil, nil
		}
		return typ, obj, nil
	})
	return err
}

// addTeamMember is LiteLLM's map_user_to_teams: the user becomes a member
// of the team ("user" role) and, when the user exists, the team goes into
// the user's teams, as /team/member_add does, so /team/info and
// /user/info agree. Each side is changed only when it lacks the other, so
// a repeated request (or one that finds one side already done, e.g. after
// a crash between the two writes) completes the pair and writes nothing
// else. A team that does not exist is left alone (team_id_upsert creates
// it first, in the same batch).
func addTeamMember(ctx context.Context, st *store.Store, r events.UpsertRequest, now time.Time) error {
	if r.TeamID == "" || (r.UserID == "" && r.UserEmail == "") {
		return nil
	}
	team := false
	_, err := st.Mutate(ctx, "jwt-upsert", events.KindTeam, r.TeamID, func(cur any) (string, any, error) {
		t, _ := cur.(*events.Team)
		if t == nil {
			return "", nil, nil
		}
		team = true
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
	if err != nil || !team || r.UserID == "" {
		return err
	}
	_, err = st.Mutate(ctx, "jwt-upsert", events.KindUser, r.UserID, func(cur any) (string, any, error) {
		u, _ := cur.(*events.User)
		if u == nil || slices.Contains(u.Teams, r.TeamID) {
			return "", nil, nil
		}
		nu := *u
		nu.Teams = append(slices.Clone(u.Teams), r.TeamID)
		nu.UpdatedAt = now
		return events.UserUpserted, &nu, nil
	})
	return err
}
