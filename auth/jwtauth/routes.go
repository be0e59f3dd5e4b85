package jwtauth

import (
	"fmt"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"slices"
	"sort"
	"strings"
)

// Route groups: LiteLLM's LiteLLMRoutes, with LiteLLM's names so configs
// carry over, in admin_allowed_routes, team_allowed_routes,
// role_permissions, scope mappings and a key's allowed_routes. "{param}"
// matches one path segment; a template ending in "/*" matches the routes
// below it (LiteLLM matches pass-through prefixes).
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
		"/models", "/v1/models", "/models/{model_id}", "/v1/models/{model_id}", "/utils/token_counter", "/rerank", "/v1/rerank", "/v2/rerank",
		"/realtime", "/v1/realtime", "/responses", "/v1/responses",
		"/responses/{response_id}", "/v1/responses/{response_id}",
		"/responses/{response_id}/input_items", "/v1/responses/{response_id}/input_items",
		"/responses/{response_id}/cancel", "/v1/responses/{response_id}/cancel",
	},
	"anthropic_routes": {"/v1/messages", "/v1/messages/count_tokens", "/v1/skills"},
	"google_routes": {
		"/v1beta/models/{model_name}:countTokens", "/v1beta/models/{model_name}:generateContent",
		"/v1beta/models/{model_name}:streamGenerateContent", "/models/{model_name}:countTokens",
		"/models/{model_name}:generateContent", "/models/{model_name}:streamGenerateContent",
	},
	"mcp_routes": {"/mcp", "/mcp/tools", "/mcp/tools/list", "/mcp/tools/call", "/mcp/*"},
	"mapped_pass_through_routes": {
		"/bedrock/*", "/vertex-ai/*", "/vertex_ai/*", "/cohere/*", "/gemini/*", "/anthropic/*", "/langfuse/*",
		"/azure/*", "/openai/*", "/assemblyai/*", "/eu.assemblyai/*", "/vllm/*", "/mistral/*",
	},
	"info_routes": {
		"/key/info", "/key/health", "/team/info", "/team/list", "/v2/team/list", "/organization/list",
		"/team/available", "/user/info", "/model/info", "/v1/model/info", "/v2/model/info", "/v2/key/info",
		"/model_group/info", "/health", "/key/list", "/user/filter/ui", "/v2/user/info",
	},
	"management_routes": {
		"/user/new", "/user/update", "/user/delete", "/user/info", "/user/list",
		"/team/new", "/team/update", "/team/delete", "/team/list", "/team/info", "/team/block", "/team/unblock",
		"/team/available", "/team/member_add", "/team/member_delete", "/team/member_update",
		"/team/permissions_list", "/team/permissions_update",
		"/model/new", "/model/update", "/model/{model_id}/update", "/model/delete", "/model/info",
		"/key/generate", "/key/update", "/key/delete", "/key/info", "/key/regenerate", "/key/{key_id}/regenerate",
		"/key/list", "/key/aliases", "/key/block", "/key/unblock",
		"/access_group/new", "/access_group/update", "/access_group/info", "/access_group/delete",
		"/access_group/list", "/access_group/{access_group}/info", "/access_group/{access_group}/update", "/access_group/{access_group}/delete",
		"/jwt/settings",
	},
	"key_management_routes": {
		"/key/generate", "/key/update", "/key/delete", "/key/info", "/key/regenerate", "/key/{key_id}/regenerate",
		"/key/list", "/key/aliases", "/key/block", "/key/unblock",
	},
	"spend_tracking_routes": {"/spend/keys", "/spend/users", "/spend/tags", "/spend/calculate", "/spend/logs"},
	"global_spend_tracking_routes": {
		"/global/spend", "/global/spend/logs", "/global/spend/keys", "/global/spend/teams", "/global/spend/end_users",
		"/global/spend/report", "/global/spend/models", "/global/spend/tags", "/global/spend/provider",
		"/global/spend/reset", "/global/activity", "/global/activity/model", "/global/predict/spend/logs",
	},
	"public_routes":          {"/routes", "/", "/health/liveliness", "/health/liveness", "/health/readiness", "/test", "/config/yaml", "/metrics"},
	"master_key_only_routes": {"/global/spend/reset"},
	// ui_routes is what LiteLLM's admin UI calls: these plus the info
	// routes (added in init).
	"ui_routes": {
		"/sso", "/sso/get/ui_settings", "/login", "/key/info", "/config", "/spend", "/model/info", "/v2/model/info",
		"/v2/key/info", "/models", "/v1/models", "/global/spend", "/global/spend/logs", "/global/spend/keys",
		"/global/spend/models", "/global/predict/spend/logs", "/global/activity", "/health/services",
	},
	"internal_user_routes": {
		"/key/generate", "/key/{token_id}/regenerate", "/key/update", "/key/delete", "/key/health", "/key/info",
		"/global/spend/tags", "/global/spend/keys", "/global/spend/models", "/global/spend/provider",
		"/global/spend/end_users", "/global/activity", "/global/activity/model",
		"/spend/keys", "/spend/users", "/spend/tags", "/spend/calculate", "/spend/logs",
	},
	"internal_user_view_only_routes": {"/spend/logs", "/key/info", "/key/list", "/user/info", "/team/info", "/model/info"},
	"self_managed_routes":            {"/team/member_add", "/team/member_delete", "/model/new", "/model/update", "/model/delete", "/model/{model_id}/update"},
	"admin_viewer_routes": {
		"/user/list", "/team/list", "/key/list", "/model/info", "/v1/model/info", "/v2/model/info",
		"/global/spend", "/global/spend/logs", "/global/spend/keys", "/global/spend/teams", "/global/spend/report",
		"/global/spend/models", "/spend/logs",
	},
	"org_admin_only_routes": {
		"/organization/info", "/organization/delete", "/organization/member_add", "/organization/member_update",
		"/organization/member_delete",
	},
	"org_admin_allowed_routes": {
		"/organization/info", "/organization/list", "/organization/update", "/organization/member_add",
		"/organization/member_update", "/organization/member_delete",
		"/team/new", "/team/update", "/team/delete", "/team/list", "/team/info", "/team/member_add",
		"/team/member_delete", "/user/new", "/user/update", "/user/delete", "/user/info", "/user/list",
		"/key/generate", "/key/update", "/key/delete", "/key/info", "/key/list",
	},
}

func init() {
	var llm []string
	for _, g := range []string{"openai_routes", "anthropic_routes", "google_routes", "mcp_routes", "mapped_pass_through_routes"} {
		llm = append(llm, routeGroups[g]...)
	}
	routeGroups["llm_api_routes"] = llm
	routeGroups["ui_routes"] = append(routeGroups["ui_routes"], routeGroups["info_routes"]...)
	for name := range routeGroups {
		groupNames = append(groupNames, name)
	}
	sort.Strings(groupNames)
}

var groupNames []string

// RouteGroups lists the route group names, sorted.
func RouteGroups() []string { return slices.Clone(groupNames) }

// CheckRouteItem says what is wrong with one entry of an allowed-routes
// list (nil when it is a known group name, a literal route, or a prefix
// ending in "/*"), so a list is refused when it is written instead of
// silently matching nothing.
func CheckRouteItem(item string) error {
	if _, ok := routeGroups[item]; ok {
		return nil
	}
	if !strings.HasPrefix(item, "/") {
		return fmt.Errorf("%q is not a route group (one of %s) nor a route (starting with \"/\")", item, strings.Join(groupNames, ", "))
	}
	if strings.ContainsFunc(item, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("route %q contains whitespace or a control character", item)
	}
	if i := strings.IndexAny(item, "?#"); i >= 0 {
		return fmt.Errorf("route %q contains %q: routes are matched on the path only", item, item[i])
	}
	if i := strings.IndexByte(item, '*'); i >= 0 && (i != len(item)-1 || !strings.HasSuffix(item, "/*")) {
		return fmt.Errorf("route %q: \"*\" is only allowed as a final \"/*\" (the routes below a prefix)", item)
	}
	if strings.Contains(item, "//") {
		return fmt.Errorf("route %q contains an empty segment", item)
	}
	return nil
}

// CheckRoutes checks every entry of an allowed-routes list.
func CheckRoutes(items []string) error {
	for _, it := range items {
		if err := CheckRouteItem(it); err != nil {
			return err
		}
	}
	return nil
}

// ExpandRoutes is LiteLLM's get_actual_routes: each group name replaced by
// its routes, in order, other items kept as written.
func ExpandRoutes(items []string) []string {
	var out []string
	for _, it := range items {
		if tpls, ok := routeGroups[it]; ok {
			out = append(out, tpls...)
			continue
		}
		out = append(out, it)
	}
	return out
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
				if matchTemplate(t, route) || matchBelow(t, route) {
					return true
				}
			}
			continue
		}
		if strings.HasSuffix(item, "*") {
			if matchBelow(item, route) {
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

// matchBelow matches "/prefix/*" against the routes below the prefix (not
// the prefix itself).
func matchBelow(pattern, route string) bool {
	prefix, ok := strings.CutSuffix(pattern, "*")
	return ok && strings.HasSuffix(prefix, "/") && strings.HasPrefix(route, prefix) && len(route) > len(prefix)
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
		if k < 0 {
			k = len(path)
		}
		seg := path[:k]
		// A literal glued to the parameter ("{model}:generateContent")
		// ends the segment.
		lit := tpl
		if e := strings.IndexAny(lit, "/{"); e >= 0 {
			lit = lit[:e]
		}
		if lit != "" && lit == tpl {
			// A parameter glued to the template's end ("{model_name}:generateContent")
			// takes the rest, "/" included: LiteLLM's google routes serve
			// "bedrock/claude-sonnet-3.7:generateContent".
			return len(path) > len(lit) && strings.HasSuffix(path, lit)
		}
		if len(seg) <= len(lit) || !strings.HasSuffix(seg, lit) {
			return false // an empty value does not fill a parameter
		}
		path, tpl = path[k:], tpl[len(lit):]
		if path == "" {
			return tpl == ""
		}
	}
}

// CheckKeyRoute enforces a virtual key's allowed_routes (LiteLLM's
// is_virtual_key_allowed_to_call_route): an empty list restricts nothing.
func CheckKeyRoute(allowed []string, route string) error {
	if len(allowed) == 0 || RouteAllowed(route, allowed) {
		return nil
	}
	return apierror.Forbidden.With("Virtual key is not allowed to call this route. Only allowed to call routes: %s. Tried to call route: %s", apierror.PyList(allowed), route)
}

// IsLLMRoute reports whether a route calls a model.
func IsLLMRoute(route string) bool { return RouteAllowed(route, []string{"llm_api_routes"}) }
