package jwtauth

import (
	"strings"
	"testing"
)

func TestRouteAllowed(t *testing.T) {
	cases := []struct {
		route   string
		allowed []string
		want    bool
	}{
		{"/v1/chat/completions", []string{"openai_routes"}, true},
		{"/chat/completions", []string{"openai_routes"}, true},
		{"/openai/deployments/gpt-4o/chat/completions", []string{"openai_routes"}, true},
		{"/openai/deployments//chat/completions", []string{"openai_routes"}, false},
		{"/openai/deployments/a/b/chat/completions", []string{"openai_routes"}, false},
		{"/key/generate", []string{"openai_routes", "info_routes"}, false},
		{"/key/generate", []string{"management_routes"}, true},
		{"/key/abc/regenerate", []string{"management_routes"}, true},
		{"/key/info", []string{"info_routes"}, true},
		{"/v1/messages", []string{"anthropic_routes"}, true},
		{"/v1/messages/count_tokens", []string{"llm_api_routes"}, true},
		{"/v1/chat/completions", []string{"/v1/chat/completions"}, true},
		{"/v1/chat/completions", []string{"/v1/embeddings"}, false},
		{"/internal-models/x", []string{"/internal-models/*"}, true},
		{"/internal-models", []string{"/internal-models/*"}, false},
		{"/v1/chat/completionsX", []string{"/v1/chat/completions"}, false},
		{"/anything", nil, false},
		// ui_routes includes the info routes (LiteLLM).
		{"/key/info", []string{"ui_routes"}, true},
		{"/team/list", []string{"ui_routes"}, true},
		{"/global/spend/logs", []string{"ui_routes"}, true},
		{"/key/generate", []string{"ui_routes"}, false},
		{"/global/spend/report", []string{"global_spend_tracking_routes"}, true},
		{"/spend/logs", []string{"spend_tracking_routes"}, true},
		{"/bedrock/model/x/invoke", []string{"mapped_pass_through_routes"}, true},
		{"/bedrock", []string{"mapped_pass_through_routes"}, false},
		{"/bedrock/x", []string{"llm_api_routes"}, true},
		{"/mcp/tools/call", []string{"mcp_routes"}, true},
		{"/v1beta/models/gemini-pro:generateContent", []string{"google_routes"}, true},
		{"/global/spend/reset", []string{"master_key_only_routes"}, true},
		{"/key/generate", []string{"internal_user_routes"}, true},
		{"/team/new", []string{"internal_user_routes"}, false},
		{"/team/member_add", []string{"self_managed_routes"}, true},
		{"/organization/member_add", []string{"org_admin_only_routes"}, true},
		{"/key/block", []string{"key_management_routes"}, true},
		{"/user/list", []string{"admin_viewer_routes"}, true},
		{"/key/list", []string{"internal_user_view_only_routes"}, true},
		{"/health/readiness", []string{"public_routes"}, true},
		{"/key/info", []string{"no_such_group"}, false},
	}
	for _, c := range cases {
		if got := RouteAllowed(c.route, c.allowed); got != c.want {
			t.Errorf("RouteAllowed(%q, %v) = %v, want %v", c.route, c.allowed, got, c.want)
		}
	}
}

func TestCheckRouteItem(t *testing.T) {
	for _, c := range []struct {
		item, err string
	}{
		{"openai_routes", ""},
		{"ui_routes", ""},
		{"llm_api_routes", ""},
		{"/v1/chat/completions", ""},
		{"/key/{key_id}/regenerate", ""},
		{"/internal-models/*", ""},
		{"no_such_group", `"no_such_group" is not a route group`},
		{"v1/chat/completions", `is not a route group`},
		{"/internal-*", `"*" is only allowed as a final "/*"`},
		{"/a/*/b", `"*" is only allowed as a final "/*"`},
		{"/a b", "whitespace"},
		{"/a?x=1", "path only"},
		{"/a//b", "empty segment"},
	} {
		err := CheckRouteItem(c.item)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%q: unexpected error %v", c.item, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want one containing %q", c.item, err, c.err)
		}
	}
	for _, g := range RouteGroups() {
		if err := CheckRouteItem(g); err != nil {
			t.Errorf("group %s refused: %v", g, err)
		}
		for _, tpl := range routeGroups[g] {
			if err := CheckRouteItem(tpl); err != nil && !strings.Contains(tpl, ":") {
				t.Errorf("group %s holds a malformed template %q: %v", g, tpl, err)
			}
		}
	}
}

func TestCheckKeyRoute(t *testing.T) {
	for _, c := range []struct {
		allowed []string
		route   string
		ok      bool
	}{
		{nil, "/key/generate", true},
		{[]string{"info_routes"}, "/key/info", true},
		{[]string{"info_routes"}, "/v1/chat/completions", false},
		{[]string{"openai_routes"}, "/v1/chat/completions", true},
		{[]string{"/v1/chat/completions"}, "/chat/completions", false},
	} {
		err := CheckKeyRoute(c.allowed, c.route)
		if (err == nil) != c.ok {
			t.Errorf("CheckKeyRoute(%v, %s) = %v, want allowed %v", c.allowed, c.route, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "Tried to call route: "+c.route) {
			t.Errorf("message does not name the route: %v", err)
		}
	}
}
