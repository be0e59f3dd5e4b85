package auth

import (
	"errors"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/gatehouse/gatehouse/auth/jwtauth"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

const testKey = "sk-grant-key-0123456789"

func grantSnapshot(t testing.TB) (*policy.Snapshot, *events.JWTSettings) {
	t.Helper()
	jwt := &events.JWTSettings{ID: events.JWTSettingsID, Enabled: true,
		Auth: events.JWTAuth{TeamIDJWTField: "team", UserIDJWTField: "sub", OrgIDJWTField: "org", EndUserIDJWTField: "end_user",
			TeamIDUpsert: true}.WithDefaults()}
	s, err := policy.SnapshotOf(nil,
		&events.Model{ID: "m1", ModelName: "gpt-4o", LiteLLMParams: events.ModelParams{Model: "mock/gpt-4o"}},
		&events.Model{ID: "m2", ModelName: "claude", LiteLLMParams: events.ModelParams{Model: "mock/claude"}},
		&events.Org{OrganizationID: "org-1"},
		&events.Team{TeamID: "team-a", OrganizationID: "org-1", Models: []string{"gpt-4o"}},
		&events.User{UserID: "u1"},
		&events.Key{Token: events.HashKey(testKey), KeyAlias: "ci", TeamID: "team-a", UserID: "u1"},
		jwt,
	)
	if err != nil {
		t.Fatal(err)
	}
	return s, jwt
}

func jwtIdentity(t testing.TB, set *events.JWTSettings, claims map[string]any) Identity {
	t.Helper()
	id, err := jwtauth.NewIdentity(claims, set, nil)
	if err != nil {
		t.Fatal(err)
	}
	return Identity{JWT: id}
}

// TestGrant checks that every credential kind yields the same Grant
// fields for the spend ledger, the limits and routing, and that the
// refusals are the ones of its decision flow.
func TestGrant(t *testing.T) {
	s, set := grantSnapshot(t)
	key, err := New("sk-master", nil).AuthenticateKey(s, testKey, true)
	if err != nil {
		t.Fatal(err)
	}
	admin := Identity{Admin: true}
	teamToken := jwtIdentity(t, set, map[string]any{"sub": "u1", "team": "team-a", "end_user": "e1"})
	newTeamToken := jwtIdentity(t, set, map[string]any{"sub": "u1", "team": "team-new", "org": "org-1"})
	now := time.Now()
	cases := []struct {
		name    string
		id      Identity
		model   string
		want    Grant
		group   string
		wantErr *apierror.Error
	}{
		{name: "master key", id: admin, model: "claude",
			want: Grant{Method: MethodMasterKey, Admin: true}, group: "claude"},
		{name: "virtual key", id: key, model: "gpt-4o",
			want:  Grant{Method: MethodKey, KeyHash: events.HashKey(testKey), KeyAlias: "ci", UserID: "u1", TeamID: "team-a", OrgID: "org-1"},
			group: "gpt-4o"},
		{name: "virtual key, model of no team", id: key, model: "claude", wantErr: apierror.TeamModelDenied},
		{name: "virtual key, unknown model", id: key, model: "gpt-5", wantErr: apierror.TeamModelDenied},
		{name: "jwt team token", id: teamToken, model: "gpt-4o",
			want: Grant{Method: MethodJWT, UserID: "u1", TeamID: "team-a", OrgID: "org-1", EndUserID: "e1"}, group: "gpt-4o"},
		{name: "jwt team token, model of no team", id: teamToken, model: "claude", wantErr: apierror.TeamModelDenied},
		{name: "jwt upserted team", id: newTeamToken, model: "claude",
			want: Grant{Method: MethodJWT, UserID: "u1", TeamID: "team-new", OrgID: "org-1"}, group: "claude"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := c.id.Grant(s, Request{Request: jwtauth.Request{Route: "/v1/chat/completions", Model: c.model}, Now: now})
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) || g.Method != c.id.Method() {
					t.Fatalf("got %v (method %v), want %v", err, g.Method, c.wantErr.Code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			who := Grant{Method: g.Method, Admin: g.Admin, KeyHash: g.KeyHash, KeyAlias: g.KeyAlias,
				UserID: g.UserID, TeamID: g.TeamID, OrgID: g.OrgID, EndUserID: g.EndUserID}
			if !reflect.DeepEqual(who, c.want) {
				t.Errorf("grant\n got %+v\nwant %+v", who, c.want)
			}
			if g.Route.Group != c.group || !g.Route.Found() {
				t.Errorf("route %+v, want group %q", g.Route, c.group)
			}
			if (g.Key != nil) != (g.Method == MethodKey) {
				t.Errorf("key limits: %v for %v", g.Key, g.Method)
			}
			if c.want.TeamID != "" && (g.Team == nil || g.Team.TeamID != c.want.TeamID) {
				t.Errorf("team limits: %+v", g.Team)
			}
		})
	}
	// An upserted team is asked of the control plane, with its member.
	g, _ := newTeamToken.Grant(s, Request{Request: jwtauth.Request{Route: "/v1/chat/completions", Model: "claude"}, Now: now})
	if len(g.Upserts) != 2 || g.Upserts[0].Kind != events.UpsertTeam || g.Upserts[0].TeamID != "team-new" {
		t.Errorf("upserts: %+v", g.Upserts)
	}
}

func TestMethodString(t *testing.T) {
	// The spend ledger's auth column: stored values, never to change.
	for m, want := range map[Method]string{MethodKey: "key", MethodJWT: "jwt", MethodMasterKey: "master_key"} {
		if m.String() != want {
			t.Errorf("%d: %q, want %q", m, m.String(), want)
		}
	}
}

// BenchmarkGrant is the per-request decision cost after authentication,
// per credential kind; each must stay at 0 allocations.
func BenchmarkGrant(b *testing.B) {
	s, set := grantSnapshot(b)
	a := New("sk-master", nil)
	// A team token whose objects exist: nothing to upsert.
	tok := jwtIdentity(b, set, map[string]any{"team": "team-a"})
	now := time.Now()
	for _, bc := range []struct {
		name string
		cred string
		id   Identity
	}{
		{name: "master", cred: "sk-master"},
		{name: "key", cred: testKey},
		{name: "jwt-cached", id: tok},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				id := bc.id
				if bc.cred != "" {
					var err error
					if id, err = a.AuthenticateKey(s, bc.cred, true); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := id.Grant(s, Request{Request: jwtauth.Request{Route: "/v1/chat/completions", Model: "gpt-4o"}, Now: now}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestGrantCopiesTeamHeader: the header arrives as a string over the
// server's request buffer, which the next request on the connection
// overwrites; the team id a Grant keeps (for a stream's spend event, for
// an upsert sent later) must not change with it.
func TestGrantCopiesTeamHeader(t *testing.T) {
	s, set := grantSnapshot(t)
	id := jwtIdentity(t, set, map[string]any{"team": "team-new"})
	buf := []byte("team-new")
	header := unsafe.String(&buf[0], len(buf))
	g, err := id.Grant(s, Request{Request: jwtauth.Request{Route: "/v1/chat/completions", Model: "claude", TeamHeader: header}, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXXXXX")
	if g.TeamID != "team-new" || g.Team.TeamID != "team-new" || g.Upserts[0].TeamID != "team-new" {
		t.Errorf("grant follows the reused buffer: %q %q %+v", g.TeamID, g.Team.TeamID, g.Upserts)
	}
}
