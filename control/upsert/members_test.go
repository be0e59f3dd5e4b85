package upsert

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/control/store"
	"github.com/gatehouse/gatehouse/control/store/storetest"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

func newStore(t *testing.T) *store.Store {
	t.Helper()
	_, js := testutil.NewJetStream(t)
	st := storetest.New(t, js)
	st.SyncTimeout = time.Second
	return st
}

// A membership from a token fills both sides (LiteLLM's
// map_user_to_teams, as /team/member_add): the team lists the user and
// the user lists the team. A half-done pair is completed; a done pair is
// not written again.
func TestTeamMemberBothSides(t *testing.T) {
	st := newStore(t)
	ctx := context.Background()
	apply := func(reqs ...events.UpsertRequest) {
		t.Helper()
		for _, r := range reqs {
			if err := Apply(ctx, st, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	member := func(user, email, team string) events.UpsertRequest {
		return events.UpsertRequest{Kind: events.UpsertTeamMember, UserID: user, UserEmail: email, TeamID: team}
	}
	apply(events.UpsertRequest{Kind: events.UpsertTeam, TeamID: "ml-team"},
		events.UpsertRequest{Kind: events.UpsertUser, UserID: "dev@my-co.com", UserEmail: "dev@my-co.com"},
		member("dev@my-co.com", "dev@my-co.com", "ml-team"))
	check := func(team, user string, wantTeamSide, wantUserSide bool) {
		t.Helper()
		s := st.Snapshot()
		tm := s.Team(team)
		inTeam := tm != nil && slices.ContainsFunc(tm.MembersWithRoles, func(m events.Member) bool { return m.UserID == user && m.Role == "user" })
		u := s.User(user)
		inUser := u != nil && slices.Contains(u.Teams, team)
		if inTeam != wantTeamSide || inUser != wantUserSide {
			t.Errorf("%s in %s: team side %v (want %v), user side %v (want %v)", user, team, inTeam, wantTeamSide, inUser, wantUserSide)
		}
	}
	check("ml-team", "dev@my-co.com", true, true)

	// Repeated: nothing is written.
	seq := st.Snapshot().Seq()
	apply(member("dev@my-co.com", "dev@my-co.com", "ml-team"))
	if got := st.Snapshot().Seq(); got != seq {
		t.Errorf("a repeated membership wrote %d events", got-seq)
	}

	// The team side exists (e.g. written by an older release), the user
	// side does not: completed.
	apply(events.UpsertRequest{Kind: events.UpsertTeam, TeamID: "half"})
	if _, err := st.Mutate(ctx, "test", events.KindTeam, "half", func(cur any) (string, any, error) {
		t := *cur.(*events.Team)
		t.MembersWithRoles = []events.Member{{UserID: "dev@my-co.com", Role: "user"}}
		return events.TeamMemberAdded, &t, nil
	}); err != nil {
		t.Fatal(err)
	}
	check("half", "dev@my-co.com", true, false)
	apply(member("dev@my-co.com", "", "half"))
	check("half", "dev@my-co.com", true, true)

	// A user that does not exist: the team side only. A team that does
	// not exist: nothing.
	apply(member("ghost", "", "ml-team"))
	check("ml-team", "ghost", true, false)
	apply(member("dev@my-co.com", "", "no-such-team"))
	if u := st.Snapshot().User("dev@my-co.com"); slices.Contains(u.Teams, "no-such-team") {
		t.Error("a team that does not exist was added to the user")
	}
}
