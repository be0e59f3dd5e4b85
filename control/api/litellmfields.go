package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/jsonscan"
)

// LiteLLM's admin bodies carry many fields gatehouse does not implement,
// and its clients (the UI, SDKs, Terraform) send many of them with their
// default values on every call: refusing each as an unknown field broke
// them. So before a body is decoded strictly, each such field is screened:
//
//   - a value that asks for nothing (null, false, 0, "", [], {} or
//     LiteLLM's own default) is accepted and dropped;
//   - a field that only labels, notifies or tunes something gatehouse
//     does not have is accepted, dropped and named in the answer's
//     "warnings";
//   - a field that asks for enforcement gatehouse does not do (a limit, a
//     budget, a guardrail) is refused, naming the field and why: accepting
//     it would promise what is not kept.
//
// A field the route's own body declares is never screened; one that is
// neither declared nor listed here stays an unknown-field 400.
type litellmOnly struct {
	reason string
	// warn: accepted with a warning rather than refused.
	warn bool
	// idle are raw JSON values, besides the empty ones, that ask for
	// nothing (LiteLLM's defaults).
	idle []string
	// budget: a number below 0 is refused, as LiteLLM refuses it.
	budget bool
}

var (
	budgetOnObject = "set max_budget and budget_duration on the key, user, team or organization"
	noGuardrails   = "gatehouse runs no guardrails, so a request would not be checked"
	noMCP          = "gatehouse has no MCP servers, agents, vector stores or search tools to permit"
	perModelLimits = "per-model rate limits are not supported; set rpm_limit/tpm_limit on the key, user, team or organization, or rpm/tpm on the model's deployment"
	throughput     = "guaranteed throughput (reserved rate-limit capacity) is not supported; limits are best effort, LiteLLM's default"
)

var litellmFields = map[string]litellmOnly{
	// Enforcement gatehouse does not do: refused when it asks for any.
	"spend":                           {reason: "spend is what requests cost, read from the spend ledger; it cannot be set"},
	"model_max_budget":                {reason: "per-model budgets (LiteLLM Enterprise) are not enforced; " + budgetOnObject},
	"budget_limits":                   {reason: "several budget windows at once are not supported; " + budgetOnObject},
	"budget_fallbacks":                {reason: "switching models when a budget is spent is not supported"},
	"budget_id":                       {reason: "gatehouse has no budget table; " + budgetOnObject},
	"throttle_on_budget_exceeded":     {reason: "a spent budget refuses requests (400 budget_exceeded); throttling instead is not supported"},
	"temp_budget_increase":            {reason: "temporary budget increases are not supported; raise max_budget with /key/update"},
	"temp_budget_expiry":              {reason: "temporary budget increases are not supported; raise max_budget with /key/update"},
	"model_rpm_limit":                 {reason: perModelLimits},
	"model_tpm_limit":                 {reason: perModelLimits},
	"mcp_rpm_limit":                   {reason: noMCP},
	"tag_rpm_limit":                   {reason: "tag-based rate limits are not supported"},
	"rpm_limit_type":                  {reason: throughput, idle: []string{`"best_effort_throughput"`}},
	"tpm_limit_type":                  {reason: throughput, idle: []string{`"best_effort_throughput"`}},
	"guardrails":                      {reason: noGuardrails},
	"policies":                        {reason: noGuardrails},
	"disable_global_guardrails":       {reason: noGuardrails},
	"enforced_params":                 {reason: "required request parameters (enforced_params, LiteLLM Enterprise) are not enforced"},
	"object_permission":               {reason: noMCP},
	"allowed_vector_store_indexes":    {reason: noMCP},
	"allowed_passthrough_routes":      {reason: "gatehouse has no pass-through endpoints"},
	"agent_id":                        {reason: "gatehouse has no agents"},
	"project_id":                      {reason: "gatehouse has no projects"},
	"prompts":                         {reason: "gatehouse has no prompt management"},
	"router_settings":                 {reason: "router settings are per model group (config.yaml router_settings), not per key or team"},
	"config":                          {reason: "LiteLLM's deprecated per-key config is not supported"},
	"permissions":                     {reason: "key permissions (such as pii_masking) are not supported"},
	"enable_prompt_caching":           {reason: "injecting prompt-caching markers is not supported"},
	"default_estimated_output_tokens": {reason: "output token estimates are not configurable per key"},
	"default_estimated_output_tokens_per_model": {reason: "output token estimates are not configurable per key"},
	"auto_rotate":                         {reason: "scheduled key rotation is not supported; rotate with /key/regenerate"},
	"rotation_interval":                   {reason: "scheduled key rotation is not supported; rotate with /key/regenerate"},
	"grace_period":                        {reason: "only /key/regenerate takes a grace period"},
	"new_master_key":                      {reason: "the master key is set in config.yaml or the environment, not through the API"},
	"secret_manager_settings":             {reason: "per-team secret managers are not supported; provider secrets are os.environ/ references each edge resolves"},
	"default_team_member_models":          {reason: "default member models are not supported; set models on the members' keys"},
	"team_member_budget_update_mode":      {reason: "members' own budgets do not move with team_member_budget; set them with /team/member_update", idle: []string{`"keep"`}},
	"enforced_batch_output_expires_after": {reason: "gatehouse has no files or batches API"},
	"enforced_file_expires_after":         {reason: "gatehouse has no files or batches API"},
	"organizations":                       {reason: "add the user with /organization/member_add"},
	"admins":                              {reason: "LiteLLM's legacy admins list is not supported; send members_with_roles with role admin"},
	"members":                             {reason: "LiteLLM's legacy members list is not supported; send members_with_roles"},
	"aliases":                             {reason: "model aliases are set on keys (aliases) or teams (model_aliases)"},
	"max_parallel_requests":               {reason: "parallel request limits are set on keys (max_parallel_requests on /key/generate or /key/update)"},
	"blocked":                             {reason: "block the user's keys with /key/block, or its team with /team/block"},

	// Labels, notifications and tuning of what gatehouse does not have:
	// accepted with a warning.
	"soft_budget":            {warn: true, budget: true, reason: "gatehouse sends no budget alerts; max_budget is what refuses requests"},
	"send_invite_email":      {warn: true, reason: "gatehouse sends no email"},
	"tags":                   {warn: true, reason: "a key's or team's tags are neither added to its requests (tag routing reads the request's own tags) nor recorded on spend rows"},
	"allowed_cache_controls": {warn: true, reason: "gatehouse has no response cache"},
	"sso_user_id":            {warn: true, reason: "users are linked to an identity provider by their JWT (user_id_jwt_field), not by an SSO id"},
}

// warningsKey is where warn leaves the answer's warnings for commit.
const warningsKey = "gatehouse.warnings"

// decode reads an admin body strictly into v after screening LiteLLM's
// fields (see litellmOnly); the warnings reach the answer through commit.
func decode(c *fiber.Ctx, v any) error { return decodeItem(c, c.Body(), v) }

// warn adds warnings to the answer commit writes: one "warnings" list,
// whichever step of the handler found them.
func warn(c *fiber.Ctx, warnings ...string) {
	if len(warnings) > 0 {
		have, _ := c.Locals(warningsKey).([]string)
		c.Locals(warningsKey, append(have, warnings...))
	}
}

// withWarnings is an answer object with a "warnings" list added (as
// /model/new answers an unset os.environ/ reference).
func withWarnings(body any, warnings []string) any {
	b, err := json.Marshal(body)
	if err != nil || len(b) < 2 || b[0] != '{' {
		return body
	}
	w, _ := json.Marshal(warnings)
	sep := `,"warnings":`
	if len(b) == 2 { // {}
		sep = sep[1:]
	}
	out := append(b[:len(b)-1:len(b)-1], sep...)
	return json.RawMessage(append(append(out, w...), '}'))
}

// screenLiteLLM applies litellmFields to the top-level fields of body that
// declared does not hold, and returns the body without the fields it
// accepted. A body that is not a JSON object is returned as it is, for the
// strict decoder to refuse.
func screenLiteLLM(body []byte, declared map[string]bool) ([]byte, []string, error) {
	if !jsonscan.Valid(body) {
		return body, nil, nil
	}
	i := jsonscan.WS(body, 0)
	if body[i] != '{' {
		return body, nil, nil
	}
	var out []byte // nil until a field is dropped
	var warnings []string
	start := i + 1 // where the members not yet copied to out begin
	i = jsonscan.WS(body, i+1)
	for body[i] != '}' {
		kEnd := jsonscan.SkipString(body, i)
		var name string
		if json.Unmarshal(body[i:kEnd], &name) != nil {
			return body, nil, nil
		}
		m := jsonscan.WS(body, kEnd)
		vStart := jsonscan.WS(body, m+1)
		vEnd := jsonscan.SkipValue(body, vStart)
		next := jsonscan.WS(body, vEnd)
		if body[next] == ',' {
			next = jsonscan.WS(body, next+1)
		}
		f, listed := litellmFields[name]
		if !listed || declared[name] {
			i = next
			continue
		}
		v := body[vStart:vEnd]
		if n, err := strconv.ParseFloat(string(v), 64); f.budget && err == nil && n < 0 {
			return nil, nil, negative(name, &n)
		}
		if !f.asksNothing(v) {
			if !f.warn {
				e := apierror.BadRequest.With("LiteLLM field %s is not supported by gatehouse: %s", name, f.reason)
				e.Param = name
				return nil, nil, e
			}
			warnings = append(warnings, fmt.Sprintf("%s: accepted but not used: %s", name, f.reason))
		}
		if out == nil {
			out = append(make([]byte, 0, len(body)), '{')
		}
		out = appendMembers(out, body[start:i])
		start, i = next, next
	}
	if out == nil {
		return body, warnings, nil
	}
	out = appendMembers(out, body[start:i])
	return append(out, '}'), warnings, nil
}

// appendMembers appends a run of "name": value members (each with its
// trailing comma, if any) to an object being rebuilt, keeping the commas
// between members right whatever was dropped around them.
func appendMembers(out, run []byte) []byte {
	run = bytes.TrimRight(bytes.TrimSpace(run), ",")
	if len(bytes.TrimSpace(run)) == 0 {
		return out
	}
	if out[len(out)-1] != '{' {
		out = append(out, ',')
	}
	return append(out, run...)
}

// asksNothing reports whether v is a value that asks for nothing.
func (f litellmOnly) asksNothing(v []byte) bool {
	switch s := string(v); s {
	case "null", "false", `""`:
		return true
	default:
		if strings.Trim(s, "[] \t\r\n") == "" || strings.Trim(s, "{} \t\r\n") == "" {
			return true
		}
		var n float64
		if json.Unmarshal(v, &n) == nil && n == 0 {
			return true
		}
		for _, idle := range f.idle {
			if s == idle {
				return true
			}
		}
	}
	return false
}

// declaredCache holds declaredFields per body type.
var declaredCache sync.Map // reflect.Type -> map[string]bool

// declaredFields are the JSON names a body type decodes, its embedded
// structs' included.
func declaredFields(t reflect.Type) map[string]bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if m, ok := declaredCache.Load(t); ok {
		return m.(map[string]bool)
	}
	m := map[string]bool{}
	if t.Kind() == reflect.Struct {
		addDeclared(t, m)
	}
	declaredCache.Store(t, m)
	return m
}

func addDeclared(t reflect.Type, m map[string]bool) {
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if tag == "-" {
			continue
		}
		ft := sf.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if sf.Anonymous && tag == "" && ft.Kind() == reflect.Struct {
			addDeclared(ft, m)
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if tag == "" {
			tag = sf.Name
		}
		m[tag] = true
	}
}
