package jwtauth

import "testing"

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
	}
	for _, c := range cases {
		if got := RouteAllowed(c.route, c.allowed); got != c.want {
			t.Errorf("RouteAllowed(%q, %v) = %v, want %v", c.route, c.allowed, got, c.want)
		}
	}
}
