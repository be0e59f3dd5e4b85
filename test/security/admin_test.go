package security

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/auth/jwtauth"
	"github.com/gatehouse/gatehouse/control/api"
	"github.com/gatehouse/gatehouse/events"
)

// access classes of management routes.
const (
	public    = "public"    // anyone, no credential
	adminOnly = "admin"     // master key, or an admin JWT where admin_allowed_routes lets it
	master    = "master"    // the master key only
	ownInfo   = "own-info"  // admin, or the owner: probed with a foreign object, so only admins pass
	anyCaller = "any-authn" // any authenticated caller (answers filtered to what it may see)
	// ownKeys: an admin, or an internal_user for its own keys (LiteLLM's
	// internal_user_routes; the handlers check ownership, see
	// control/api TestSelfServiceKeys).
	ownKeys = "own-keys"
	// teamAdmin: an admin, or the team's admin (LiteLLM lists the route
	// in self_managed_routes and its handler decides, with a 403); the
	// matrix's callers lead no team, so only admins pass (see control/api
	// TestTeamMemberPermissions).
	teamAdmin = "team-admin"
	// selfManaged: LiteLLM's self_managed_routes whose handlers scope a
	// caller that is not an admin to its own rows: the master key, a user
	// JWT and a virtual key; an admin JWT is outside admin_allowed_routes
	// (401) and a team JWT outside team_allowed_routes (403).
	selfManaged = "self-managed"
	// ownList: an admin, or a caller naming itself by user_id (LiteLLM's
	// /v2/team/list); probed without user_id, so others get LiteLLM's 401.
	ownList = "own-list"
	// ownSpend: LiteLLM's spend_tracking_routes that gatehouse scopes to
	// the caller's own keys, user and models (/spend/keys, /spend/users,
	// /spend/calculate, /spend/tags over its own requests): admins, admin
	// JWTs (the routes are in admin_allowed_routes), user JWTs and
	// virtual keys; a team JWT is outside team_allowed_routes (403).
	ownSpend = "own-spend"
)

// routeAccess is the authorization matrix: every route of the admin API
// must have an entry, so a new route cannot ship without one.
var routeAccess = map[string]string{
	"GET /health/liveliness":             public,
	"GET /health/liveness":               public,
	"GET /health/readiness":              public,
	"POST /key/generate":                 ownKeys,
	"POST /key/service-account/generate": adminOnly,
	"GET /key/info":                      ownInfo,
	"GET /key/aliases":                   adminOnly,
	"GET /key/list":                      anyCaller,
	"POST /key/update":                   ownKeys,
	"POST /key/delete":                   ownKeys,
	"POST /key/regenerate":               ownKeys,
	"POST /key/:key/regenerate":          ownKeys,
	"POST /key/block":                    ownKeys,
	"POST /key/unblock":                  ownKeys,
	"POST /team/new":                     adminOnly,
	"POST /team/bulk_member_add":         adminOnly,
	"POST /key/bulk_update":              adminOnly,
	"POST /user/bulk_update":             adminOnly,
	"POST /team/update":                  adminOnly,
	"GET /team/info":                     ownInfo,
	"GET /team/list":                     ownList,
	"GET /v2/team/list":                  ownList,
	"GET /v2/user/info":                  anyCaller,
	"GET /team/available":                anyCaller,
	"POST /key/health":                   anyCaller,
	"POST /team/delete":                  adminOnly,
	"POST /team/block":                   adminOnly,
	"POST /team/unblock":                 adminOnly,
	"POST /team/member_add":              adminOnly,
	"POST /team/member_delete":           adminOnly,
	"POST /team/member_update":           adminOnly,
	"POST /user/new":                     adminOnly,
	"POST /user/update":                  adminOnly,
	"GET /user/info":                     ownInfo,
	"GET /user/list":                     adminOnly,
	"POST /user/delete":                  adminOnly,
	"POST /model/new":                    teamAdmin,
	"GET /model/info":                    anyCaller,
	"GET /v1/model/info":                 anyCaller,
	"GET /v2/model/info":                 anyCaller,
	"GET /model_group/info":              anyCaller,
	"POST /model/delete":                 teamAdmin,
	"POST /model/update":                 teamAdmin,
	"POST /access_group/new":             adminOnly,
	"POST /access_group/update":          adminOnly,
	"GET /access_group/info":             adminOnly,
	"POST /access_group/delete":          adminOnly,
	"GET /spend/logs":                    adminOnly,
	"GET /spend/logs/v2":                 adminOnly,
	"GET /spend/logs/ui":                 adminOnly,
	"GET /spend/keys":                    ownSpend,
	"GET /spend/users":                   ownSpend,
	"POST /spend/calculate":              ownSpend,
	"GET /spend/tags":                    ownSpend,
	"GET /global/spend/tags":             adminOnly,
	"POST /global/spend/end_users":       adminOnly,
	"GET /global/spend/report":           adminOnly,
	"GET /global/spend":                  adminOnly,
	"GET /global/spend/keys":             adminOnly,
	"GET /global/spend/models":           adminOnly,
	"GET /global/spend/teams":            adminOnly,
	"POST /global/spend/reset":           master,
	"POST /budget/new":                   adminOnly,
	"POST /budget/update":                adminOnly,
	"POST /budget/info":                  adminOnly,
	"GET /budget/list":                   adminOnly,
	"POST /budget/delete":                adminOnly,
	"GET /budget/settings":               adminOnly,
	"GET /user/daily/activity":           selfManaged,
	"GET /team/daily/activity":           selfManaged,
	"GET /tag/daily/activity":            adminOnly,
	"GET /gatehouse/decisions":           adminOnly,
	"GET /jwt/settings":                  adminOnly,
	"POST /jwt/settings":                 adminOnly,
	"GET /gatehouse/state":               adminOnly,
	// Organizations: LiteLLM's methods, and POST for each PATCH/DELETE.
	"POST /organization/new":             adminOnly,
	"PATCH /organization/update":         adminOnly,
	"POST /organization/update":          adminOnly,
	"GET /organization/info":             ownInfo,
	"GET /organization/list":             anyCaller,
	"DELETE /organization/delete":        adminOnly,
	"POST /organization/delete":          adminOnly,
	"POST /organization/member_add":      adminOnly,
	"PATCH /organization/member_update":  adminOnly,
	"POST /organization/member_update":   adminOnly,
	"DELETE /organization/member_delete": adminOnly,
	"POST /organization/member_delete":   adminOnly,
	// End users.
	"POST /customer/new":     adminOnly,
	"POST /customer/update":  adminOnly,
	"GET /customer/info":     adminOnly,
	"GET /customer/list":     adminOnly,
	"POST /customer/delete":  adminOnly,
	"POST /customer/block":   adminOnly,
	"POST /customer/unblock": adminOnly,
	"POST /end_user/new":     adminOnly,
	"POST /end_user/update":  adminOnly,
	"GET /end_user/info":     adminOnly,
	"GET /end_user/list":     adminOnly,
	"POST /end_user/delete":  adminOnly,
	"POST /end_user/block":   adminOnly,
	"POST /end_user/unblock": adminOnly,
	"GET /gatehouse/edges":   adminOnly,
	// Provenance: every tenant's ledger rows and past policy.
	"GET /gatehouse/why/:id":         adminOnly,
	"POST /gatehouse/policy/dry-run": adminOnly,

	// LiteLLM's team_member_permissions routes.
	"GET /team/permissions_list":    teamAdmin,
	"POST /team/permissions_update": teamAdmin,

	// The poison queue holds other tenants' messages and replays re-run
	// processors: not for admin JWTs.
	"GET /gatehouse/poison":         master,
	"POST /gatehouse/poison/replay": master,

	// LiteLLM 2026's routes naming the deployment or access group in the
	// path (the model write routes are self-managed there, as above).
	"PATCH /model/:model_id/update":             teamAdmin,
	"GET /access_group/list":                    adminOnly,
	"GET /access_group/:access_group/info":      adminOnly,
	"PUT /access_group/:access_group/update":    adminOnly,
	"DELETE /access_group/:access_group/delete": adminOnly,
}

// adminRoutes lists the admin API's routes from its own route table (the
// one the edge relays).
func adminRoutes(t *testing.T) []string {
	var out []string
	for _, r := range api.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	if len(out) < 30 {
		t.Fatalf("only %d routes found in the admin API's table: %v", len(out), out)
	}
	return out
}

// TestAuthorizationMatrixCoversEveryRoute fails when a route is added
// without deciding who may call it.
func TestAuthorizationMatrixCoversEveryRoute(t *testing.T) {
	routes := adminRoutes(t)
	have := map[string]bool{}
	for _, r := range routes {
		have[r] = true
		if _, ok := routeAccess[r]; !ok {
			t.Errorf("route %s has no entry in the authorization matrix (security/admin_test.go routeAccess)", r)
		}
	}
	for r := range routeAccess {
		if !have[r] {
			t.Errorf("matrix entry %s names no route", r)
		}
	}
}

type role struct {
	name  string
	cred  string
	admin bool // master key
	jwtAd bool // admin JWT
	team  bool // team JWT: its routes are team_allowed_routes (403 outside them)
	// internal: an internal_user (a user JWT without a role is one, as in
	// LiteLLM): it may call the ownKeys routes.
	internal bool
	authn    bool // authenticated at all
}

// adminMatrix calls every management route as every kind of caller, on
// the control plane and through the edge's relay.
func adminMatrix(t *testing.T, s *stack) {
	const cat = "admin API authorization"
	vkey := s.newKey(t, map[string]any{"team_id": "team-a", "models": []string{"gpt-4o"}})
	other := s.newKey(t, map[string]any{"team_id": "team-b", "models": []string{"team-b-model"}})
	s.must(t, "POST", s.control+"/user/new", map[string]any{"user_id": "user-2"})
	s.must(t, "POST", s.control+"/organization/new", map[string]any{"organization_id": "org-b", "organization_alias": "b"})
	roles := []role{
		{name: "master key", cred: s.masterKey, admin: true, authn: true},
		{name: "admin JWT", cred: s.token(t, "admin-cli"), jwtAd: true, authn: true},
		{name: "team JWT", cred: s.token(t, "team-a-svc"), authn: true, team: true},
		{name: "user JWT", cred: s.token(t, "user-1-app"), authn: true, internal: true},
		{name: "virtual key", cred: vkey, authn: true},
		{name: "unknown key", cred: "sk-" + randomHex(11)},
		{name: "none"},
	}
	// Foreign objects for the info routes and path parameters: a caller
	// that is not an admin owns none of them.
	query := map[string]string{
		"/key/info":          "?key=" + events.HashKey(other),
		"/team/info":         "?team_id=team-b",
		"/user/info":         "?user_id=user-2",
		"/organization/info": "?organization_id=org-b",
		"/customer/info":     "?end_user_id=cust-b",
	}
	probe := `{"matrix_probe":true}` // refused by every handler's strict decoding once past auth
	bases := []struct{ name, url string }{{"control", s.control}, {"edge relay", s.edge}}
	for _, route := range adminRoutes(t) {
		method, path, _ := strings.Cut(route, " ")
		class := routeAccess[route]
		path = strings.ReplaceAll(path, ":key", events.HashKey(other))
		for _, base := range bases {
			// Every route is served at the edge too: health by the edge
			// itself, the rest relayed from the same table.
			if res := s.do(t, method, base.url+path, "", bodyFor(method, probe), nil); res.status == 404 {
				t.Errorf("%s @%s: 404 %s: the route is not served there", route, base.name, trim(res.body))
			} else if res.status == 401 && res.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s @%s: 401 without WWW-Authenticate", route, base.name)
			}
			for _, r := range roles {
				url := base.url + path + query[path]
				allowed := false
				switch class {
				case public:
					allowed = true
				case adminOnly, ownInfo, teamAdmin, ownList:
					allowed = r.admin || (r.jwtAd && jwtauth.RouteAllowed(path, events.DefaultAdminAllowedRoutes))
				case ownKeys:
					allowed = r.admin || r.internal || (r.jwtAd && jwtauth.RouteAllowed(path, events.DefaultAdminAllowedRoutes))
				case master:
					allowed = r.admin
				case anyCaller:
					allowed = r.authn
				case selfManaged:
					allowed = r.authn && !r.team && !r.jwtAd
				case ownSpend:
					allowed = r.authn && !r.team
				}
				name := route + " as " + r.name + " @" + base.name
				if allowed {
					res := s.do(t, method, url, r.cred, bodyFor(method, probe), nil)
					if res.status == 401 || res.status == 403 || res.status >= 500 {
						t.Errorf("%s: refused an allowed caller: %d %s", name, res.status, trim(res.body))
					}
					if res.status >= 400 {
						if err := checkEnvelope(res); err != nil {
							t.Errorf("%s: %v", name, err)
						}
					}
					continue
				}
				// LiteLLM refuses a management route to a non-admin, and
				// an admin JWT a route outside admin_allowed_routes, with
				// a 401 (its auth path raises them); a team JWT outside
				// team_allowed_routes and an info route about another
				// object get a 403.
				want := 403
				if !r.authn || class == ownList || ((class == adminOnly || class == ownKeys) && !r.team) || (r.jwtAd && !jwtauth.RouteAllowed(path, events.DefaultAdminAllowedRoutes)) {
					want = 401
				}
				attack{name: name, method: method, url: url, cred: r.cred, body: bodyFor(method, probe), status: want}.run(t, s, cat)
			}
		}
	}
}

func bodyFor(method, probe string) any {
	if method == "GET" {
		return nil
	}
	return probe
}
