package jwtauth

import "strings"

// Route groups, LiteLLM's LiteLLMRoutes (abridged to the routes this
// gateway serves or relays, plus LiteLLM's names so configs carry over).
// "{param}" matches one path segment.
var routeGroups = map[string][]string{
	"openai_routes": {
		"/chat/completions", "/v1/chat/completions", "/engines/{model}/chat/completions",
		"/openai/deployments/{model}/chat/completions",
		"/completions", "/v1/completions", "/engines/{model}/completions", "/openai/deployments/{model}/completions",
		"/embeddings", "/v1/embeddings", "/engines/{model}/embeddings", "/openai/deployments/{model}/embeddings",
		"/images/generations", "/v1/images/generations", "/images/edits", "/v1/images/edits",
		"/audio/transcriptions", "/v1/audio/transcriptions", "/audio/speech", "/v1/audio/speech",
		"/moderations", "/v1/moderations", "/batches", "/v1/batches", "/files", "/v1/files",
		"/fine_tuning/jobs", "/v1/fine_tuning/jobs", "/assistants", "/v1/assistants", "/threads", "/v1/threads",
		"/models", "/v1/models", "/utils/token_counter", "/rerank", "/v1/rerank", "/v2/rerank",
		"/realtime", "/v1/realtime", "/responses", "/v1/responses",
	},
	"anthropic_routes": {"/v1/messages", "/v1/messages/count_tokens"},
	"mcp_routes":       {"/mcp", "/mcp/tools", "/mcp/tools/list", "/mcp/tools/call"},
	"info_routes": {
		"/key/info", "/key/health", "/team/info", "/team/list", "/v2/team/list", "/organization/list",
		"/team/available", "/user/info", "/model/info", "/v1/model/info", "/v2/model/info", "/v2/key/info",
		"/model_group/info", "/health", "/key/list", "/user/filter/ui",
	},
	"management_routes": {
		"/user/new", "/user/update", "/user/delete", "/user/info", "/user/list",
		"/team/new", "/team/update", "/team/delete", "/team/list", "/team/info", "/team/block", "/team/unblock",
		"/team/available", "/team/member_add", "/team/member_delete",
		"/model/new", "/model/update", "/model/delete", "/model/info",
		"/key/generate", "/key/update", "/key/delete", "/key/info", "/key/regenerate", "/key/{key_id}/regenerate",
		"/key/list", "/key/block", "/key/unblock",
		"/access_group/new", "/access_group/update", "/access_group/info", "/access_group/delete",
		"/jwt/settings",
	},
	"spend_tracking_routes":        {"/spend/keys", "/spend/users", "/spend/tags", "/spend/calculate", "/spend/logs"},
	"global_spend_tracking_routes": {"/global/spend", "/global/spend/logs", "/global/spend/keys", "/global/spend/teams", "/global/spend/report", "/global/spend/models", "/global/spend/reset"},
	"public_routes":                {"/routes", "/", "/health/liveliness", "/health/liveness", "/health/readiness", "/test", "/metrics"},
}

func init() {
	var llm []string
	for _, g := range []string{"openai_routes", "anthropic_routes", "mcp_routes"} {
		llm = append(llm, routeGroups[g]...)
	}
	routeGroups["llm_api_routes"] = llm
}

// IsRouteGroup reports whether name is a route group.
func IsRouteGroup(name string) bool { _, ok := routeGroups[name]; return ok }

// RouteAllowed reports whether route passes an allow list whose items are
// group names (templates, anchored, "{param}" = one segment), literal
// routes, or prefixes ending in "/*" that match routes below the prefix
// (not the prefix itself).
func RouteAllowed(route string, allowed []string) bool {
	for _, item := range allowed {
		if tpls, ok := routeGroups[item]; ok {
			for _, t := range tpls {
				if matchTemplate(t, route) {
					return true
				}
			}
			continue
		}
		if prefix, ok := strings.CutSuffix(item, "*"); ok {
			if strings.HasPrefix(route, prefix) && len(route) > len(prefix) && strings.HasSuffix(prefix, "/") {
				return true
			}
			continue
		}
		if item == route {
			return true
		}
	}
	return false
}

// matchTemplate matches "/key/{key_id}/regenerate" against a path.
func matchTemplate(tpl, path string) bool {
	for {
		if tpl == "" || path == "" {
			return tpl == path
		}
		i := strings.IndexByte(tpl, '{')
		if i < 0 {
			return tpl == path
		}
		if !strings.HasPrefix(path, tpl[:i]) {
			return false
		}
		j := strings.IndexByte(tpl[i:], '}')
		if j < 0 {
			return false
		}
		path = path[i:]
		tpl = tpl[i+j+1:]
		k := strings.IndexByte(path, '/')
		if k == 0 {
			return false // an empty segment does not fill a parameter
		}
		if k < 0 {
			return tpl == ""
		}
		path = path[k:]
	}
}

// IsLLMRoute reports whether a route calls a model.
func IsLLMRoute(route string) bool { return RouteAllowed(route, []string{"llm_api_routes"}) }
