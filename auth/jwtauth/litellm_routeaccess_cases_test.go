package jwtauth

import (
	"strings"
	"testing"
)

// Route group and allow-list cases of LiteLLM 2026's
// tests/test_litellm/proxy/auth/test_info_routes.py,
// test_route_access_contract.py (test_virtual_key_allowed_routes) and
// test_pass_through_access.py (the team_allowed_routes entries that name a
// path), one row per case, named after the LiteLLM test. The role checks
// of the same files are in control/api/litellm_routeaccess_cases_test.go.
//
// Skipped: test_pass_through_access.py's grants of pass-through endpoints
// (PassThroughGrants, allowed_passthrough_routes in key and team metadata,
// NotAuthEnforced, which token kinds receive the JWT config's grants, and
// the entries "/*" and "/" that grant no pass-through route though they
// would match one): gatehouse serves no pass-through endpoints
// (pass_through_endpoints is refused in config), so nothing below a
// pass-through prefix exists to grant.

// liteLLMInfoRoutes is LiteLLMRoutes.info_routes in LiteLLM 2026.
var liteLLMInfoRoutes = []string{
	"/key/info", "/key/health", "/team/info", "/team/list", "/v2/team/list", "/organization/list",
	"/team/available", "/user/info", "/model/info", "/v1/model/info", "/v2/model/info", "/v2/key/info",
	"/model_group/info", "/health", "/key/list", "/user/filter/ui", "/v2/user/info",
}

func TestLiteLLMRouteAccessGroups(t *testing.T) {
	t.Run("test_info_route_identification", func(t *testing.T) {
		for _, r := range liteLLMInfoRoutes {
			if !RouteAllowed(r, []string{"info_routes"}) {
				t.Errorf("%s is not an info route", r)
			}
		}
		for _, r := range []string{"/chat/completions", "/key/generate"} {
			if RouteAllowed(r, []string{"info_routes"}) {
				t.Errorf("%s is an info route", r)
			}
		}
	})
	t.Run("test_v2_user_info_route_in_info_routes", func(t *testing.T) {
		if !RouteAllowed("/v2/user/info", []string{"info_routes"}) {
			t.Error("/v2/user/info is not an info route")
		}
	})
	t.Run("test_virtual_key_allowed_routes", func(t *testing.T) {
		for _, c := range []struct {
			allowed []string
			route   string
			ok      bool
		}{
			{[]string{"/chat/completions", "/key/info"}, "/chat/completions", true},
			{[]string{"/chat/completions"}, "/config/update", false},
			{[]string{"llm_api_routes"}, "/v1/chat/completions", true},
			// LiteLLM admits these two; gatehouse's key check passes them
			// too, and the role check decides (control/api: a key's
			// allowed_routes never grants a management route; no custom
			// routes are served).
			{[]string{"/user/new", "/chat/completions"}, "/user/new", true},
			{[]string{"/my-custom/endpoint"}, "/my-custom/endpoint", true},
		} {
			if err := CheckKeyRoute(c.allowed, c.route); (err == nil) != c.ok {
				t.Errorf("CheckKeyRoute(%v, %q) = %v, want allowed %v", c.allowed, c.route, err, c.ok)
			}
		}
	})
	t.Run("test_jwt_team_is_granted_only_by_team_allowed_routes_entries_that_name_a_path", func(t *testing.T) {
		const endpoint = "/model-host/v1/demographics-extractor"
		const subpath = endpoint + "/predict"
		for _, c := range []struct {
			allowed []string
			route   string
			ok      bool
		}{
			{[]string{"/model-host/*"}, subpath, true},
			{[]string{"/model-host/*"}, endpoint, true},
			{[]string{"/model-host/*"}, "/model-host", false},
			{[]string{"/model-host/*"}, "/model-hosting/v1", false},
			{[]string{endpoint}, endpoint, true},
			{[]string{endpoint}, subpath, false},
			{RouteGroups(), subpath, false},
			{[]string{"openai_routes", "/model-host/*"}, subpath, true},
			{[]string{"/*", "/model-host/*"}, subpath, true},
			{nil, subpath, false},
		} {
			if got := RouteAllowed(c.route, c.allowed); got != c.ok {
				t.Errorf("RouteAllowed(%q, %v) = %v, want %v", c.route, c.allowed, got, c.ok)
			}
		}
		// A bare "*" grants nothing in LiteLLM; here it is refused when
		// the list is written, naming the entry.
		if err := CheckRouteItem("*"); err == nil || !strings.Contains(err.Error(), `"*"`) {
			t.Errorf(`CheckRouteItem("*") = %v`, err)
		}
	})
}
