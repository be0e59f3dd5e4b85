package jwtauth

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"cel.dev/cel-go/cel"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// The tests in this file and identity_test.go run every litellm_jwtauth
// field (and general_settings.enforce_rbac / role_permissions) through
// NewIdentity + Decide against a snapshot built from events, one table per
// field, with allowed and refused rows. Claims are JSON, decoded the way the
// verifier hands them over (numbers float64, lists []any).

// build applies objects as events in order and returns the snapshot (as
// policy's own tests do).
func build(t testing.TB, objs ...any) *policy.Snapshot {
	t.Helper()
	s, err := policy.SnapshotOf(nil, objs...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dep(name, model string, groups ...string) *events.Model {
	return &events.Model{ID: name + "|" + model, ModelName: name,
		LiteLLMParams: events.ModelParams{Model: model}, ModelInfo: events.ModelInfo{AccessGroups: groups}}
}

// world is the policy state every table runs against.
//
//	deployments: gpt-4o (group "beta"), gpt-4, claude-3 (group "claude-group")
//	explicit access group ag-explicit = [claude-3]
//	teams: t-open (all models), t-gpt4o, t-claude, t-blocked, t-blocked2,
//	       t-allproxy, t-star, t-group (beta), t-ag (ag-explicit),
//	       t-openai (openai/*), t-members, 42, t-default (gpt-4o)
//	users: u1 (Alice@Example.com, in t-members), u-half (member on the
//	       team's side only), boss (Boss@Corp.com, stored proxy_admin),
//	       u-limited (gpt-4), u-nodefault, legacy-uuid (bob@corp.com), 1001
//	orgs:  org1
func world(t testing.TB) *policy.Snapshot {
	t.Helper()
	return build(t,
		dep("gpt-4o", "openai/gpt-4o", "beta"),
		dep("gpt-4", "openai/gpt-4"),
		dep("claude-3", "anthropic/claude-3", "claude-group"),
		&events.AccessGroup{AccessGroupID: "ag-explicit", Models: []string{"claude-3"}},
		&events.Org{OrganizationID: "org1"},
		&events.Team{TeamID: "t-open"},
		&events.Team{TeamID: "t-gpt4o", Models: []string{"gpt-4o"}},
		&events.Team{TeamID: "t-claude", Models: []string{"claude-3"}},
		&events.Team{TeamID: "t-blocked", Blocked: true},
		&events.Team{TeamID: "t-blocked2", Blocked: true, Models: []string{"gpt-4o"}},
		&events.Team{TeamID: "t-allproxy", Models: []string{policy.AllProxyModels}},
		&events.Team{TeamID: "t-star", Models: []string{policy.AnyModel}},
		&events.Team{TeamID: "t-group", Models: []string{"beta"}},
		&events.Team{TeamID: "t-ag", Models: []string{"ag-explicit"}},
		&events.Team{TeamID: "t-openai", Models: []string{"openai/*"}},
		&events.Team{TeamID: "t-members", MembersWithRoles: []events.Member{
			{UserID: "u1", Role: "user"}, {UserEmail: "Carol@Example.com", Role: "user"}, {UserID: "u-half", Role: "user"}}},
		&events.Team{TeamID: "42"},
		&events.Team{TeamID: "t-default", Models: []string{"gpt-4o"}},
		&events.User{UserID: "u1", UserEmail: "Alice@Example.com", Teams: []string{"t-members"}},
		&events.User{UserID: "u-half"}, // on t-members' list, t-members not on its own
		&events.User{UserID: "boss", UserEmail: "Boss@Corp.com", UserRole: events.RoleProxyAdmin},
		&events.User{UserID: "u-limited", Models: []string{"gpt-4"}},
		&events.User{UserID: "u-nodefault", Models: []string{policy.NoDefaultModels}},
		&events.User{UserID: "legacy-uuid", UserEmail: "bob@corp.com"},
		&events.User{UserID: "1001"},
	)
}

// settings returns enabled JWT settings with LiteLLM's defaults filled in
// after mut, as the Engine does.
func settings(mut func(s *events.JWTSettings)) *events.JWTSettings {
	s := &events.JWTSettings{ID: events.JWTSettingsID, Enabled: true}
	if mut != nil {
		mut(s)
	}
	s.Auth = s.Auth.WithDefaults()
	return s
}

func decodeClaims(t testing.TB, js string) map[string]any {
	t.Helper()
	if js == "" {
		js = "{}"
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatalf("bad claims fixture %s: %v", js, err)
	}
	return m
}

// check inspects an allowed decision.
type check func(t *testing.T, id *Identity, d Decision)

// row is one request: a token's claims and what it asks for.
type row struct {
	name   string
	claims string // JSON payload
	route  string // default /v1/chat/completions
	model  string
	header string // x-litellm-team-id
	// want is nil for an allowed request, else the apierror sentinel the
	// error must match (errors.Is, and the same HTTP status).
	want *apierror.Error
	msg  string // substring of the refusal's message
	// idErr: NewIdentity itself must fail with this substring.
	idErr string
	check check // for allowed rows
}

const chatRoute = "/v1/chat/completions"

func runRows(t *testing.T, s *policy.Snapshot, set *events.JWTSettings, prog cel.Program, rows []row) {
	t.Helper()
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			id, d, err := decide(t, s, set, prog, r)
			if r.idErr != "" {
				if err == nil || !strings.Contains(err.Error(), r.idErr) {
					t.Fatalf("NewIdentity error = %v, want one containing %q", err, r.idErr)
				}
				return
			}
			if r.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if r.check != nil {
					r.check(t, id, d)
				}
				return
			}
			if err == nil {
				t.Fatalf("allowed (team=%v user=%q admin=%v role=%q), want %v", teamID(d.Team), d.UserID, d.Admin, d.Role, r.want)
			}
			if !errors.Is(err, r.want) {
				t.Fatalf("error = %v, want %s/%s", err, r.want.Type, r.want.Code)
			}
			var ae *apierror.Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an *apierror.Error", err)
			}
			if ae.Status != r.want.Status {
				t.Errorf("status = %d, want %d", ae.Status, r.want.Status)
			}
			if r.msg != "" && !strings.Contains(ae.Message, r.msg) {
				t.Errorf("message = %q, want it to contain %q", ae.Message, r.msg)
			}
		})
	}
}

// decide runs one row through NewIdentity and Decide; an error from
// NewIdentity is returned as is.
func decide(t testing.TB, s *policy.Snapshot, set *events.JWTSettings, prog cel.Program, r row) (*Identity, Decision, error) {
	t.Helper()
	id, err := NewIdentity(decodeClaims(t, r.claims), set, prog)
	if err != nil {
		return nil, Decision{}, err
	}
	route := r.route
	if route == "" {
		route = chatRoute
	}
	d, err := Decide(s, id, Request{Route: route, Model: r.model, TeamHeader: r.header})
	return id, d, err
}

func teamID(t *events.Team) string {
	if t == nil {
		return ""
	}
	return t.TeamID
}

func all(cs ...check) check {
	return func(t *testing.T, id *Identity, d Decision) {
		t.Helper()
		for _, c := range cs {
			c(t, id, d)
		}
	}
}

// team: the decision's team ("" for none).
func team(want string) check {
	return is("team", func(_ *Identity, d Decision) string { return teamID(d.Team) }, want)
}

// is checks one string the identity or decision carries; what names it
// in the failure.
func is(what string, get func(*Identity, Decision) string, want string) check {
	return func(t *testing.T, id *Identity, d Decision) {
		t.Helper()
		if got := get(id, d); got != want {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
	}
}

// user: the decision's (canonical) user id.
func user(want string) check {
	return is("user id", func(_ *Identity, d Decision) string { return d.UserID }, want)
}

// dbUser: the user object found in the snapshot ("" for none).
func dbUser(want string) check {
	return func(t *testing.T, _ *Identity, d Decision) {
		t.Helper()
		got := ""
		if d.User != nil {
			got = d.User.UserID
		}
		if got != want {
			t.Errorf("user object = %q, want %q", got, want)
		}
	}
}

func role(want string) check {
	return func(t *testing.T, id *Identity, d Decision) {
		t.Helper()
		if id.Role != want || d.Role != want {
			t.Errorf("role = %q (decision %q), want %q", id.Role, d.Role, want)
		}
	}
}

func admin(want bool) check {
	return func(t *testing.T, id *Identity, d Decision) {
		t.Helper()
		if d.Admin != want || id.Admin != want {
			t.Errorf("admin = %v (identity %v), want %v", d.Admin, id.Admin, want)
		}
	}
}

func upserts(want ...events.UpsertRequest) check {
	return func(t *testing.T, _ *Identity, d Decision) {
		t.Helper()
		if len(want) == 0 && len(d.Upserts) == 0 {
			return
		}
		if !reflect.DeepEqual(d.Upserts, want) {
			t.Errorf("upserts = %+v, want %+v", d.Upserts, want)
		}
	}
}

func routed(t *testing.T, _ *Identity, d Decision) {
	t.Helper()
	if !d.Route.Found() {
		t.Errorf("model route not resolved: %+v", d.Route)
	}
}

// routedTo checks the decision routes to model group g.
func routedTo(g string) func(*testing.T, *Identity, Decision) {
	return func(t *testing.T, _ *Identity, d Decision) {
		t.Helper()
		if d.Route.Group != g {
			t.Errorf("routed to %q, want %q", d.Route.Group, g)
		}
	}
}

func upUser(id, email string) events.UpsertRequest {
	return events.UpsertRequest{Kind: events.UpsertUser, UserID: id, UserEmail: email}
}

func upTeam(id string) events.UpsertRequest {
	return events.UpsertRequest{Kind: events.UpsertTeam, TeamID: id}
}

func upMember(user, email, team string) events.UpsertRequest {
	return events.UpsertRequest{Kind: events.UpsertTeamMember, UserID: user, UserEmail: email, TeamID: team}
}

// ---------------------------------------------------------------------------

func TestAdminAllowedRoutes(t *testing.T) {
	s := world(t)
	const adm = `{"scope":"openid litellm_proxy_admin"}`
	t.Run("default groups", func(t *testing.T) {
		runRows(t, s, settings(nil), nil, []row{
			{name: "management route", claims: adm, route: "/team/new", check: admin(true)},
			{name: "block team", claims: adm, route: "/team/block", check: admin(true)},
			{name: "spend tracking", claims: adm, route: "/spend/logs", check: admin(true)},
			{name: "global spend", claims: adm, route: "/global/spend/report", check: admin(true)},
			{name: "info route", claims: adm, route: "/key/info", check: admin(true)},
			{name: "template route", claims: adm, route: "/key/sk-abc/regenerate", check: admin(true)},
			{name: "llm route not in defaults", claims: adm, route: chatRoute, model: "gpt-4o",
				want: apierror.Unauthenticated, msg: "Admin not allowed to access this route. Route=/v1/chat/completions, Allowed Routes=['/user/new', '/user/update',"},
			{name: "anthropic route not in defaults", claims: adm, route: "/v1/messages",
				want: apierror.Unauthenticated, msg: "Admin not allowed"},
			{name: "suffix of a management route", claims: adm, route: "/team/new/extra", want: apierror.Unauthenticated},
		})
	})
	t.Run("custom literal and prefix", func(t *testing.T) {
		set := settings(func(s *events.JWTSettings) {
			s.Auth.AdminAllowedRoutes = []string{chatRoute, "/internal-models/*"}
		})
		runRows(t, s, set, nil, []row{
			{name: "literal", claims: adm, model: "gpt-4o", check: all(admin(true), routed)},
			{name: "below prefix", claims: adm, route: "/internal-models/x", check: admin(true)},
			{name: "deep below prefix", claims: adm, route: "/internal-models/x/y", check: admin(true)},
			{name: "prefix itself", claims: adm, route: "/internal-models", want: apierror.Unauthenticated},
			{name: "literal is exact", claims: adm, route: "/v1/chat/completionsX", want: apierror.Unauthenticated},
			{name: "groups replaced: management", claims: adm, route: "/team/new", want: apierror.Unauthenticated},
			{name: "groups replaced: info", claims: adm, route: "/key/info", want: apierror.Unauthenticated},
			// The message lists the routes, groups expanded, as Python prints
			// a list (LiteLLM's get_actual_routes).
			{name: "message lists the routes", claims: adm, route: "/key/list", want: apierror.Unauthenticated,
				msg: "Admin not allowed to access this route. Route=/key/list, Allowed Routes=['/v1/chat/completions', '/internal-models/*']"},
		})
	})
	t.Run("custom group", func(t *testing.T) {
		set := settings(func(s *events.JWTSettings) { s.Auth.AdminAllowedRoutes = []string{"llm_api_routes"} })
		runRows(t, s, set, nil, []row{
			{name: "anthropic via llm_api_routes", claims: adm, route: "/v1/messages", model: "claude-3", check: admin(true)},
			{name: "management not included", claims: adm, route: "/key/generate", want: apierror.Unauthenticated,
				msg: "Allowed Routes=['/chat/completions', '/v1/chat/completions', '/engines/{model}/chat/completions',"},
		})
	})
}

func TestTeamAllowedRoutes(t *testing.T) {
	s := world(t)
	// The three ways a team is chosen; the route check must apply to all of
	// them (LiteLLM #31189: the header and specific-team paths skipped it).
	paths := []struct {
		name, claims, header string
	}{
		{"specific team", `{"team":"t-open"}`, ""},
		{"header", `{"groups":["t-claude","t-open"]}`, "t-open"},
		{"group", `{"groups":["t-open"]}`, ""},
	}
	type rc struct {
		route string
		ok    bool
	}
	cases := []struct {
		name   string
		routes []string
		try    []rc
	}{
		{"default", nil, []rc{
			{"/v1/messages", true}, // anthropic routes are in the default (#31189)
			{"/v1/messages/count_tokens", true},
			{chatRoute, true},
			{"/chat/completions", true},
			{"/key/info", true},
			{"/key/generate", false},
			{"/team/new", false},
			{"/global/spend", false},
		}},
		{"custom", []string{chatRoute, "/custom/*"}, []rc{
			{chatRoute, true},
			{"/custom/x", true},
			{"/custom", false},
			{"/v1/messages", false}, // setting the list replaces the defaults
			{"/key/info", false},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			set := settings(func(s *events.JWTSettings) {
				s.Auth.TeamIDJWTField = "team"
				s.Auth.TeamIDsJWTField = events.ClaimPaths{"groups"}
				s.Auth.TeamAllowedRoutes = c.routes
			})
			var rows []row
			for _, p := range paths {
				for _, r := range c.try {
					rw := row{name: p.name + " " + strings.ReplaceAll(r.route, "/", "_"), claims: p.claims, header: p.header, route: r.route}
					if r.ok {
						rw.check = team("t-open")
					} else {
						rw.want = apierror.Forbidden
					}
					rows = append(rows, rw)
				}
			}
			runRows(t, s, set, nil, rows)
		})
	}
}

func TestTeamHeader(t *testing.T) {
	s := world(t)
	set := settings(func(s *events.JWTSettings) {
		s.Auth.TeamIDJWTField = "team"
		s.Auth.TeamIDsJWTField = events.ClaimPaths{"groups"}
	})
	const tok = `{"team":"t-open","groups":["t-gpt4o","t-blocked","t-missing"]}`
	runRows(t, s, set, nil, []row{
		{name: "no header: the token's team", claims: tok, model: "claude-3", check: team("t-open")},
		{name: "header picks a group team over the team claim", claims: tok, header: "t-gpt4o", model: "gpt-4o", check: all(team("t-gpt4o"), routed)},
		{name: "header naming the team claim", claims: tok, header: "t-open", model: "claude-3", check: team("t-open")},
		{name: "header is trimmed", claims: tok, header: " t-gpt4o ", model: "gpt-4o", check: team("t-gpt4o")},
		{name: "header team without the model: no fallback", claims: tok, header: "t-gpt4o", model: "claude-3",
			want: apierror.TeamModelDenied, msg: "Team=t-gpt4o"},
		{name: "team not in token", claims: tok, header: "t-claude", model: "claude-3",
			want: apierror.Forbidden, msg: "x-litellm-team-id 't-claude' does not resolve to a team id or a unique team alias in your JWT's allowed teams. Allowed team ids: ['t-blocked', 't-gpt4o', 't-missing', 't-open']"},
		{name: "ids are case-sensitive", claims: tok, header: "T-GPT4O", want: apierror.Forbidden},
		{name: "token without teams", claims: `{}`, header: "t-open", want: apierror.Forbidden},
		{name: "blocked team", claims: tok, header: "t-blocked", want: apierror.TeamBlocked, msg: "Team=t-blocked is blocked"},
		{name: "team not in db", claims: tok, header: "t-missing", want: apierror.NotFound, msg: "Team doesn't exist in db. Team=t-missing"},
		{name: "admin ignores the header", claims: `{"scope":"litellm_proxy_admin"}`, header: "t-claude", route: "/team/new",
			check: all(admin(true), team(""))},
	})
}

func TestTeamIDUpsert(t *testing.T) {
	s := world(t)
	with := settings(func(s *events.JWTSettings) {
		s.Auth.TeamIDJWTField = "team"
		s.Auth.TeamIDsJWTField = events.ClaimPaths{"groups"}
		s.Auth.TeamIDUpsert = true
	})
	without := settings(func(s *events.JWTSettings) {
		s.Auth.TeamIDJWTField = "team"
		s.Auth.TeamIDsJWTField = events.ClaimPaths{"groups"}
	})
	t.Run("on", func(t *testing.T) {
		runRows(t, s, with, nil, []row{
			{name: "missing team is upserted and unrestricted", claims: `{"team":"t-new"}`, model: "claude-3",
				check: all(team("t-new"), upserts(upTeam("t-new")), routed)},
			{name: "missing header team is upserted", claims: `{"groups":["t-new"]}`, header: "t-new", model: "gpt-4o",
				check: all(team("t-new"), upserts(upTeam("t-new")))},
			{name: "existing team: no upsert", claims: `{"team":"t-gpt4o"}`, model: "gpt-4o",
				check: all(team("t-gpt4o"), upserts())},
			{name: "existing team keeps its models", claims: `{"team":"t-gpt4o"}`, model: "claude-3",
				want: apierror.TeamModelDenied},
			// LiteLLM's group selection loads teams without upserting them.
			{name: "group path does not upsert", claims: `{"groups":["t-new"]}`, model: "gpt-4o",
				want: apierror.TeamModelDenied, msg: "No team has access to the requested model"},
		})
	})
	t.Run("off", func(t *testing.T) {
		runRows(t, s, without, nil, []row{
			{name: "missing team is 404", claims: `{"team":"t-new"}`, model: "claude-3",
				want: apierror.NotFound, msg: "Team doesn't exist in db. Team=t-new. Create team via `/team/new` call."},
			{name: "missing header team is 404", claims: `{"groups":["t-new"]}`, header: "t-new", want: apierror.NotFound},
			{name: "existing team", claims: `{"team":"t-open"}`, model: "claude-3", check: all(team("t-open"), upserts())},
		})
	})
}

func TestUserIDUpsert(t *testing.T) {
	s := world(t)
	mk := func(upsert, idField bool) *events.JWTSettings {
		return settings(func(s *events.JWTSettings) {
			if idField {
				s.Auth.UserIDJWTField = "sub"
			}
			s.Auth.UserEmailJWTField = "email"
			s.Auth.TeamIDJWTField = "team"
			s.Auth.UserIDUpsert = upsert
		})
	}
	t.Run("on", func(t *testing.T) {
		runRows(t, s, mk(true, true), nil, []row{
			{name: "missing user is upserted", claims: `{"sub":"new-user","email":"new@example.com"}`, model: "gpt-4o",
				check: all(user("new-user"), dbUser(""), upserts(upUser("new-user", "new@example.com")))},
			{name: "missing user without email", claims: `{"sub":"new-user"}`,
				check: upserts(upUser("new-user", ""))},
			{name: "existing user: no upsert", claims: `{"sub":"u1"}`, model: "gpt-4o",
				check: all(user("u1"), dbUser("u1"), upserts())},
			{name: "missing user joins the token's team", claims: `{"sub":"new-user","email":"new@example.com","team":"t-open"}`,
				check: all(team("t-open"), upserts(upUser("new-user", "new@example.com"), upMember("new-user", "new@example.com", "t-open")))},
			{name: "existing user, not a member, is added", claims: `{"sub":"u1","team":"t-open"}`,
				check: upserts(upMember("u1", "", "t-open"))},
			{name: "member by id: no member upsert", claims: `{"sub":"u1","team":"t-members"}`, check: upserts()},
			{name: "member on the team's side only: the user's side is completed", claims: `{"sub":"u-half","team":"t-members"}`,
				check: upserts(upMember("u-half", "", "t-members"))},
			{name: "member by email (any case): only the user upsert", claims: `{"sub":"carol","email":"carol@example.com","team":"t-members"}`,
				check: upserts(upUser("carol", "carol@example.com"))},
			{name: "upserted user on an existing restricted team", claims: `{"sub":"new-user","team":"t-gpt4o"}`, model: "claude-3",
				want: apierror.TeamModelDenied},
		})
	})
	t.Run("on, email as id", func(t *testing.T) {
		runRows(t, s, mk(true, false), nil, []row{
			{name: "user id is the email", claims: `{"email":"fresh@example.com"}`,
				check: all(user("fresh@example.com"), upserts(upUser("fresh@example.com", "fresh@example.com")))},
			{name: "existing by email: canonical id, no upsert", claims: `{"email":"alice@example.com"}`,
				check: all(user("u1"), dbUser("u1"), upserts())},
		})
	})
	t.Run("off", func(t *testing.T) {
		runRows(t, s, mk(false, true), nil, []row{
			{name: "missing user is 401", claims: `{"sub":"new-user"}`,
				want: apierror.Unauthenticated, msg: "User doesn't exist in db. 'user_id'=new-user. Create user via `/user/new` call."},
			{name: "missing user with a team is 401 too", claims: `{"sub":"new-user","team":"t-open"}`, want: apierror.Unauthenticated},
			{name: "existing user", claims: `{"sub":"u1"}`, check: all(user("u1"), upserts())},
		})
	})
}

func TestOrgIDJWTField(t *testing.T) {
	s := world(t)
	set := settings(func(s *events.JWTSettings) {
		s.Auth.OrgIDJWTField = "tenant.org"
		s.Auth.UserIDJWTField = "sub"
		s.Auth.TeamIDJWTField = "team"
	})
	orgIs := func(want string) check {
		return is("org", func(_ *Identity, d Decision) string { return d.OrgID }, want)
	}
	runRows(t, s, set, nil, []row{
		{name: "org exists", claims: `{"sub":"u1","tenant":{"org":"org1"}}`, check: orgIs("org1")},
		{name: "org exists, team token", claims: `{"team":"t-open","tenant":{"org":"org1"}}`, check: all(orgIs("org1"), team("t-open"))},
		{name: "no org claim", claims: `{"sub":"u1"}`, check: orgIs("")},
		{name: "org not in db", claims: `{"sub":"u1","tenant":{"org":"org-x"}}`,
			want: apierror.Unauthenticated, msg: "Organization doesn't exist in db. Organization=org-x."},
		{name: "org not in db, team token", claims: `{"team":"t-open","tenant":{"org":"org-x"}}`, want: apierror.Unauthenticated},
		{name: "org claim at the top level is not the path", claims: `{"sub":"u1","org":"org-x"}`, check: orgIs("")},
		// The admin short-circuit does no DB lookups (LiteLLM).
		{name: "admin skips the org lookup", claims: `{"scope":"litellm_proxy_admin","tenant":{"org":"org-x"}}`,
			route: "/team/new", check: all(admin(true), orgIs("org-x"))},
	})
}

func TestEndUserIDJWTField(t *testing.T) {
	s := world(t)
	set := settings(func(s *events.JWTSettings) {
		s.Auth.EndUserIDJWTField = "customer"
		s.Auth.UserIDJWTField = "sub"
		s.Auth.TeamIDJWTField = "team"
	})
	endUser := func(want string) check {
		return is("end user", func(_ *Identity, d Decision) string { return d.EndUserID }, want)
	}
	runRows(t, s, set, nil, []row{
		{name: "carried", claims: `{"sub":"u1","customer":"cust-1"}`, model: "gpt-4o", check: endUser("cust-1")},
		{name: "numeric id", claims: `{"sub":"u1","customer":77}`, check: endUser("77")},
		{name: "team token", claims: `{"team":"t-open","customer":"cust-2"}`, check: all(team("t-open"), endUser("cust-2"))},
		{name: "admin", claims: `{"scope":"litellm_proxy_admin","customer":"cust-3"}`, route: "/team/new", check: endUser("cust-3")},
		{name: "missing", claims: `{"sub":"u1"}`, check: endUser("")},
		{name: "unknown end user is no error", claims: `{"sub":"u1","customer":"never-seen"}`, check: endUser("never-seen")},
		{name: "does not bypass the team's models", claims: `{"team":"t-gpt4o","customer":"cust-1"}`, model: "claude-3",
			want: apierror.TeamModelDenied},
	})
}

func TestEnforceRBAC(t *testing.T) {
	s := world(t)
	mk := func(enforce bool) *events.JWTSettings {
		return settings(func(s *events.JWTSettings) {
			s.Auth.EnforceRBAC = enforce
			s.Auth.TeamIDJWTField = "team"
			s.Auth.UserIDJWTField = "sub"
			s.Auth.RolesJWTField = events.ClaimPaths{"roles"}
			s.Auth.RoleMappings = []events.RoleMapping{{Role: "admins", InternalRole: events.RoleProxyAdmin}}
			s.RolePermissions = []events.RolePermission{
				{Role: events.RoleTeam, Models: []string{"gpt-4*"}, Routes: []string{"openai_routes"}},
				{Role: events.RoleInternalUser, Models: []string{"beta"}, Routes: []string{chatRoute, "/key/*"}},
			}
		})
	}
	t.Run("on", func(t *testing.T) {
		runRows(t, s, mk(true), nil, []row{
			{name: "no role", claims: `{}`, want: apierror.Forbidden,
				msg: "Unmatched token passed in. enforce_rbac is set to True. Token must belong to a proxy admin, team, or user."},
			{name: "no role, unmapped roles", claims: `{"roles":["viewer"]}`, want: apierror.Forbidden, msg: "Unmatched token"},
			{name: "team: wildcard model", claims: `{"team":"t-open"}`, model: "gpt-4o", check: all(role(events.RoleTeam), team("t-open"))},
			{name: "team: wildcard model 2", claims: `{"team":"t-open"}`, model: "gpt-4", check: team("t-open")},
			{name: "team: model outside the wildcard", claims: `{"team":"t-open"}`, model: "claude-3",
				want: apierror.Forbidden, msg: "Role=team not allowed to call model=claude-3"},
			{name: "team: route in group", claims: `{"team":"t-open"}`, route: "/v1/models", check: team("t-open")},
			{name: "team: route outside group", claims: `{"team":"t-open"}`, route: "/v1/messages", model: "gpt-4o",
				want: apierror.Forbidden, msg: "Role=team not allowed to call route=/v1/messages"},
			{name: "user: access group model", claims: `{"sub":"u1"}`, model: "gpt-4o", check: all(role(events.RoleInternalUser), user("u1"))},
			{name: "user: model outside the access group", claims: `{"sub":"u1"}`, model: "gpt-4",
				want: apierror.Forbidden, msg: "Role=internal_user not allowed to call model=gpt-4"},
			{name: "user: prefix route", claims: `{"sub":"u1"}`, route: "/key/info", check: user("u1")},
			{name: "user: route not listed", claims: `{"sub":"u1"}`, route: "/v1/embeddings", model: "gpt-4o",
				want: apierror.Forbidden, msg: "not allowed to call route"},
			{name: "admin via role mapping: no permissions entry, no restriction", claims: `{"roles":["admins"]}`, route: "/team/new",
				check: all(admin(true), role(events.RoleProxyAdmin))},
		})
	})
	t.Run("star model", func(t *testing.T) {
		set := mk(true)
		set.RolePermissions = []events.RolePermission{{Role: events.RoleInternalUser, Models: []string{"*"}}}
		runRows(t, s, set, nil, []row{
			{name: "star allows any model", claims: `{"sub":"u1"}`, model: "claude-3", check: user("u1")},
			{name: "no routes listed: any route", claims: `{"sub":"u1"}`, route: "/v1/messages", model: "claude-3", check: user("u1")},
		})
	})
	t.Run("off: role_permissions ignored", func(t *testing.T) {
		runRows(t, s, mk(false), nil, []row{
			// team_id_jwt_field is configured and the token names nothing.
			{name: "no role, no team claim", claims: `{}`, want: apierror.Unauthenticated, msg: "No team found in token. Checked team_id field 'team' and team_alias field 'None'"},
			{name: "team model outside role models", claims: `{"team":"t-open"}`, model: "claude-3", check: team("t-open")},
			{name: "team models still apply", claims: `{"team":"t-gpt4o"}`, model: "claude-3", want: apierror.TeamModelDenied},
		})
	})
}

func TestScopeMappings(t *testing.T) {
	s := world(t)
	mappings := []events.ScopeMapping{
		{Scope: "models.gpt", Models: []string{"gpt-4o"}},
		{Scope: "models.claude", Models: []string{"claude-group"}},
		{Scope: "models.openai", Models: []string{"openai/*"}},
		{Scope: "models.all", Models: []string{"*"}},
	}
	mk := func(enforce bool) *events.JWTSettings {
		return settings(func(s *events.JWTSettings) {
			s.Auth.EnforceScopeBasedAccess = enforce
			s.Auth.ScopeMappings = mappings
			s.Auth.UserIDJWTField = "sub"
		})
	}
	t.Run("enforced", func(t *testing.T) {
		runRows(t, s, mk(true), nil, []row{
			{name: "exact model", claims: `{"sub":"u1","scope":"openid models.gpt"}`, model: "gpt-4o", check: all(user("u1"), routed)},
			{name: "model of another scope", claims: `{"sub":"u1","scope":"models.gpt"}`, model: "claude-3",
				want: apierror.Forbidden, msg: "model=claude-3 not allowed. Allowed_models=['gpt-4o']"},
			{name: "union of scopes", claims: `{"sub":"u1","scope":"models.gpt models.claude"}`, model: "claude-3", check: user("u1")},
			{name: "union of scopes 2", claims: `{"sub":"u1","scope":"models.gpt models.claude"}`, model: "gpt-4o", check: user("u1")},
			{name: "access group entry, scope list", claims: `{"sub":"u1","scope":["models.claude"]}`, model: "claude-3", check: user("u1")},
			{name: "access group entry excludes others", claims: `{"sub":"u1","scope":["models.claude"]}`, model: "gpt-4",
				want: apierror.Forbidden},
			{name: "wildcard entry", claims: `{"sub":"u1","scope":"models.openai"}`, model: "gpt-4", check: user("u1")},
			{name: "wildcard entry excludes other providers", claims: `{"sub":"u1","scope":"models.openai"}`, model: "claude-3",
				want: apierror.Forbidden},
			{name: "star entry", claims: `{"sub":"u1","scope":"models.all"}`, model: "claude-3", check: user("u1")},
			{name: "scp claim", claims: `{"sub":"u1","scp":["models.gpt"]}`, model: "gpt-4o", check: user("u1")},
			{name: "no scope: empty union denies", claims: `{"sub":"u1"}`, model: "gpt-4o", want: apierror.Forbidden},
			{name: "unmapped scope", claims: `{"sub":"u1","scope":"openid profile"}`, model: "gpt-4o", want: apierror.Forbidden},
			{name: "scope names are exact", claims: `{"sub":"u1","scope":"models.GPT"}`, model: "gpt-4o", want: apierror.Forbidden},
			{name: "no model requested passes", claims: `{"sub":"u1"}`, route: "/v1/models", check: user("u1")},
			{name: "scope does not widen the user's models", claims: `{"sub":"u-limited","scope":"models.all"}`, model: "gpt-4o",
				want: apierror.UserModelDenied},
		})
	})
	t.Run("not enforced", func(t *testing.T) {
		runRows(t, s, mk(false), nil, []row{
			{name: "no scope", claims: `{"sub":"u1"}`, model: "claude-3", check: user("u1")},
			{name: "other scope", claims: `{"sub":"u1","scope":"models.gpt"}`, model: "claude-3", check: user("u1")},
		})
	})
	// Reference §3.2 step 4: only with enforce_scope_based_access AND
	// scope_mappings; LiteLLM skips the check otherwise (audit finding 8).
	t.Run("enforced without mappings", func(t *testing.T) {
		set := settings(func(s *events.JWTSettings) {
			s.Auth.EnforceScopeBasedAccess = true
			s.Auth.UserIDJWTField = "sub"
		})
		runRows(t, s, set, nil, []row{
			{name: "no scope", claims: `{"sub":"u1"}`, model: "claude-3", check: all(user("u1"), routed)},
			{name: "some scope", claims: `{"sub":"u1","scope":"models.gpt"}`, model: "gpt-4o", check: user("u1")},
		})
	})
}

func TestEnforceTeamBasedModelAccess(t *testing.T) {
	s := world(t)
	mk := func(enforce bool) *events.JWTSettings {
		return settings(func(s *events.JWTSettings) {
			s.Auth.EnforceTeamBasedModelAccess = enforce
			s.Auth.TeamIDsJWTField = events.ClaimPaths{"groups"}
			s.Auth.UserIDJWTField = "sub"
		})
	}
	t.Run("on", func(t *testing.T) {
		runRows(t, s, mk(true), nil, []row{
			{name: "user token without teams", claims: `{"sub":"u1"}`, model: "gpt-4o", want: apierror.Forbidden,
				msg: "No teams found in token. `enforce_team_based_model_access` is set to True. Token must belong to a team."},
			{name: "empty groups", claims: `{"sub":"u1","groups":[]}`, model: "gpt-4o", want: apierror.Forbidden, msg: "No teams found"},
			{name: "no claims, no model", claims: `{}`, route: "/v1/models", want: apierror.Forbidden},
			{name: "team with the model", claims: `{"sub":"u1","groups":["t-gpt4o"]}`, model: "gpt-4o", check: all(team("t-gpt4o"), user("u1"))},
			{name: "team without the model", claims: `{"sub":"u1","groups":["t-claude"]}`, model: "gpt-4o", want: apierror.TeamModelDenied},
			{name: "teams not in db", claims: `{"sub":"u1","groups":["t-missing"]}`, model: "gpt-4o", want: apierror.TeamModelDenied},
			{name: "admin needs no team", claims: `{"scope":"litellm_proxy_admin"}`, route: "/team/new", check: admin(true)},
		})
	})
	t.Run("off", func(t *testing.T) {
		runRows(t, s, mk(false), nil, []row{
			{name: "user token without teams", claims: `{"sub":"u1"}`, model: "gpt-4o", check: all(team(""), user("u1"))},
			{name: "user models still apply", claims: `{"sub":"u-limited"}`, model: "gpt-4o", want: apierror.UserModelDenied},
		})
	})
}

// TestGeneralEnforceRBAC is general_settings.enforce_rbac (JWTSettings
// .EnforceRBAC), which LiteLLM's validate_object_id reads, as opposed to
// litellm_jwtauth.enforce_rbac.
func TestGeneralEnforceRBAC(t *testing.T) {
	s := world(t)
	mk := func(general, auth bool) *events.JWTSettings {
		return settings(func(s *events.JWTSettings) {
			s.EnforceRBAC = general
			s.Auth.EnforceRBAC = auth
			s.Auth.TeamIDJWTField = "team"
			s.Auth.TeamIDsJWTField = events.ClaimPaths{"groups"}
			s.Auth.UserIDJWTField = "sub"
			s.Auth.UserRolesJWTField = events.ClaimPaths{"roles"}
			s.Auth.UserAllowedRoles = []string{"member"}
		})
	}
	const noID = "No user or team id found in token. enforce_rbac is set to True. Token must belong to a proxy admin, team, or user."
	t.Run("general on", func(t *testing.T) {
		runRows(t, s, mk(true, false), nil, []row{
			{name: "no user or team", claims: `{}`, want: apierror.Unauthenticated, msg: "No team found in token. Checked team_id field 'team' and team_alias field 'None'"},
			{name: "allowed role but no id", claims: `{"roles":["member"]}`, want: apierror.Forbidden, msg: noID},
			{name: "groups resolve to no team", claims: `{"groups":["t-missing"]}`, route: "/v1/models", want: apierror.Forbidden, msg: noID},
			{name: "team", claims: `{"team":"t-open"}`, check: team("t-open")},
			{name: "team from groups", claims: `{"groups":["t-open"]}`, route: "/v1/models", check: team("t-open")},
			{name: "user", claims: `{"sub":"u1"}`, check: user("u1")},
			{name: "admin", claims: `{"scope":"litellm_proxy_admin"}`, route: "/team/new", check: admin(true)},
		})
	})
	t.Run("only litellm_jwtauth.enforce_rbac", func(t *testing.T) {
		runRows(t, s, mk(false, true), nil, []row{
			{name: "allowed role but no id passes", claims: `{"roles":["member"]}`, check: all(role(events.RoleInternalUser), user(""), team(""))},
			{name: "no role at all", claims: `{}`, want: apierror.Forbidden, msg: "Unmatched token"},
		})
	})
}

func TestTeamBlocked(t *testing.T) {
	s := world(t)
	set := settings(func(s *events.JWTSettings) {
		s.Auth.TeamIDJWTField = "team"
		s.Auth.TeamIDsJWTField = events.ClaimPaths{"groups"}
	})
	runRows(t, s, set, nil, []row{
		{name: "specific team blocked", claims: `{"team":"t-blocked"}`, model: "gpt-4o",
			want: apierror.TeamBlocked, msg: "Team=t-blocked is blocked. Update via `/team/unblock` if your admin."}, // LiteLLM's typo, kept
		{name: "blocked beats the model check", claims: `{"team":"t-blocked2"}`, model: "claude-3", want: apierror.TeamBlocked},
		{name: "all group teams blocked", claims: `{"groups":["t-blocked","t-blocked2"]}`, model: "gpt-4o",
			want: apierror.TeamBlocked, msg: "Team=t-blocked is"},
		{name: "all group teams blocked, no model", claims: `{"groups":["t-blocked2","t-blocked"]}`, route: "/v1/models",
			want: apierror.TeamBlocked, msg: "Team=t-blocked2 is"},
		// Reference §3.2 step 7: blocked is not a selection criterion; the
		// first team chosen by the rule is then refused (audit finding 6).
		{name: "a blocked group team chosen first is refused, not skipped", claims: `{"groups":["t-blocked2","t-gpt4o"]}`, model: "gpt-4o",
			want: apierror.TeamBlocked, msg: "Team=t-blocked2 is blocked"},
		{name: "a blocked group team without the model is not chosen", claims: `{"groups":["t-blocked2","t-claude"]}`, model: "claude-3",
			check: team("t-claude")},
		{name: "a blocked group team after the chosen one does not matter", claims: `{"groups":["t-gpt4o","t-blocked2"]}`, model: "gpt-4o",
			check: team("t-gpt4o")},
		{name: "blocked and missing teams", claims: `{"groups":["t-missing","t-blocked"]}`, model: "gpt-4o", want: apierror.TeamBlocked},
		{name: "admin is never blocked", claims: `{"scope":"litellm_proxy_admin","team":"t-blocked"}`, route: "/team/unblock", check: admin(true)},
	})
}

// TestGroupSelection is the choice among team_ids_jwt_field teams: the first
// in claim order that exists, may use the model and the route (a blocked
// one is then refused: TestTeamBlocked).
func TestGroupSelection(t *testing.T) {
	s := world(t)
	set := settings(func(s *events.JWTSettings) { s.Auth.TeamIDsJWTField = events.ClaimPaths{"groups"} })
	runRows(t, s, set, nil, []row{
		{name: "first with access", claims: `{"groups":["t-claude","t-gpt4o"]}`, model: "gpt-4o", check: all(team("t-gpt4o"), role(""))},
		{name: "claim order decides between two", claims: `{"groups":["t-gpt4o","t-open"]}`, model: "gpt-4o", check: team("t-gpt4o")},
		{name: "claim order decides between two, reversed", claims: `{"groups":["t-open","t-gpt4o"]}`, model: "gpt-4o", check: team("t-open")},
		{name: "missing teams are skipped", claims: `{"groups":["t-missing","t-claude"]}`, model: "claude-3", check: team("t-claude")},
		{name: "no model: first existing team", claims: `{"groups":["t-missing","t-claude","t-open"]}`, route: "/v1/models", check: team("t-claude")},
		{name: "no model, no existing team: teamless", claims: `{"groups":["t-missing"]}`, route: "/v1/models", check: team("")},
		{name: "none has the model", claims: `{"groups":["t-claude","t-gpt4o"]}`, model: "gpt-4",
			want: apierror.TeamModelDenied, msg: "No team has access to the requested model: gpt-4."},
		{name: "none exists", claims: `{"groups":["t-missing"]}`, model: "gpt-4", want: apierror.TeamModelDenied},
		{name: "all-proxy-models team (#8662)", claims: `{"groups":["t-claude","t-allproxy"]}`, model: "gpt-4o", check: team("t-allproxy")},
		{name: "access-group team (#13453)", claims: `{"groups":["t-claude","t-group"]}`, model: "gpt-4o", check: team("t-group")},
		{name: "group route check on the no-model path", claims: `{"groups":["t-open"]}`, route: "/key/generate",
			want: apierror.Forbidden, msg: "No team in the token may access route /key/generate"},
	})
	t.Run("deterministic", func(t *testing.T) {
		r := row{claims: `{"groups":["t-star","t-open","t-allproxy","t-gpt4o","t-group"]}`, model: "gpt-4o"}
		for i := 0; i < 50; i++ {
			_, d, err := decide(t, s, set, nil, r)
			if err != nil || teamID(d.Team) != "t-star" {
				t.Fatalf("run %d: team %q, err %v; want t-star every time", i, teamID(d.Team), err)
			}
		}
	})
}

// TestTeamSpecialModels: the special names in a team's models work on the
// JWT path as for keys (LiteLLM #8662, #13453, #5227), on the specific-team
// path (the group path is in TestGroupSelection).
func TestTeamSpecialModels(t *testing.T) {
	s := world(t)
	set := settings(func(s *events.JWTSettings) { s.Auth.TeamIDJWTField = "team" })
	tm := func(id string) string { return `{"team":"` + id + `"}` }
	runRows(t, s, set, nil, []row{
		{name: "empty list: all", claims: tm("t-open"), model: "claude-3", check: all(team("t-open"), routed)},
		{name: "all-proxy-models", claims: tm("t-allproxy"), model: "claude-3", check: team("t-allproxy")},
		{name: "star", claims: tm("t-star"), model: "gpt-4", check: team("t-star")},
		{name: "deployment access group", claims: tm("t-group"), model: "gpt-4o", check: team("t-group")},
		{name: "deployment access group miss", claims: tm("t-group"), model: "gpt-4", want: apierror.TeamModelDenied,
			msg: "Team not allowed to access model. Team=t-group, Model=gpt-4."},
		{name: "explicit access group", claims: tm("t-ag"), model: "claude-3", check: team("t-ag")},
		{name: "explicit access group miss", claims: tm("t-ag"), model: "gpt-4o", want: apierror.TeamModelDenied},
		{name: "wildcard with provider inference", claims: tm("t-openai"), model: "gpt-4", check: team("t-openai")},
		{name: "wildcard other provider", claims: tm("t-openai"), model: "claude-3", want: apierror.TeamModelDenied},
		{name: "exact list", claims: tm("t-gpt4o"), model: "gpt-4o", check: team("t-gpt4o")},
		{name: "exact list miss", claims: tm("t-gpt4o"), model: "gpt-4", want: apierror.TeamModelDenied},
	})
}

// LiteLLM takes admin from the stored user: a user whose user_role is
// proxy_admin is an admin whatever the token says (scope, roles), found
// by user id or by email. As in LiteLLM, admin_allowed_routes (the admin
// scope's list) do not limit it: every route, every model.
func TestStoredProxyAdmin(t *testing.T) {
	s := world(t)
	set := settings(func(s *events.JWTSettings) {
		s.Auth.UserIDJWTField = "sub"
		s.Auth.UserEmailJWTField = "email"
		s.Auth.TeamIDJWTField = "team"
	})
	stored := func(t *testing.T, id *Identity, d Decision) {
		t.Helper()
		if !d.Admin || d.Role != events.RoleProxyAdmin || d.UserID != "boss" {
			t.Errorf("decision admin=%v role=%q user=%q, want the stored admin boss", d.Admin, d.Role, d.UserID)
		}
	}
	runRows(t, s, set, nil, []row{
		{name: "management route by user id", claims: `{"sub":"boss"}`, route: "/key/list", check: stored},
		{name: "found by email, any case", claims: `{"sub":"dex-opaque-sub","email":"boss@corp.com"}`, route: "/team/new", check: stored},
		{name: "a team that may not use the model does not limit an admin", claims: `{"sub":"boss","team":"t-gpt4o"}`,
			route: "/key/generate", check: stored},
		{name: "a missing team does not refuse an admin", claims: `{"sub":"boss","team":"no-such-team"}`, route: "/key/list", check: stored},
		{name: "chat with any model", claims: `{"sub":"boss","team":"t-gpt4o"}`, model: "claude-3", check: all(stored, routed)},
		{name: "the admin scope still has admin_allowed_routes", claims: `{"sub":"u1","scope":"litellm_proxy_admin"}`, model: "claude-3",
			want: apierror.Unauthenticated, msg: "Admin not allowed to access this route"},
		{name: "an ordinary stored user is not an admin", claims: `{"sub":"u1","team":"t-open"}`, model: "gpt-4o",
			check: all(admin(false), team("t-open"))},
	})
}
