package config

import (
	_ "embed"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/policy"
)

// LiteLLM's config.yaml has many settings that gatehouse's design makes
// irrelevant (a database, Redis, a response cache), some it implements
// under another key, and a few it does not implement at all. Each such
// setting is classified in litellm_settings.txt, so that a LiteLLM config
// is read honestly:
//
//   - ignored: accepted with one warning saying why it does not matter
//     here and what replaces it;
//   - alias: moved to the key gatehouse implements it under, before the
//     strict walk, so it is validated like the real key;
//   - refused: an error saying what would silently not happen if it were
//     accepted (a custom auth hook not running, a guardrail not checking).
//
// Anything else unknown stays an error with a did-you-mean (strict.go).
// The classification runs on the YAML tree before the walk, so lines and
// paths in messages are the ones the user wrote.

type settingKind int

const (
	ignored settingKind = iota + 1
	alias
	refused
)

// setting is the treatment of one LiteLLM key, by path pattern (list
// indices written as []).
type setting struct {
	kind settingKind
	// why: for ignored, why it does not matter and what replaces it; for
	// refused, what would silently not happen; for alias, an optional
	// warning when the alias is not exact.
	why string
	// to is an alias's target path pattern; its [] take the indices of
	// the source path.
	to string
	// judge, if set, decides from the value (callbacks: "prometheus" is
	// ignored, a Python module path is refused).
	judge func(v *yaml.Node) (settingKind, string)
	// rewrite, if set, implements an alias that is not a plain move: it
	// edits parent (the mapping holding the key) and reports an error
	// message and a warning message, each "" if none.
	rewrite func(parent, key, val *yaml.Node) (errMsg, warnMsg string)
}

const (
	whyDB          = "gatehouse has no database: keys, teams, users and deployments are events in NATS JetStream, spend rows go to ClickHouse (gatehouse sink)"
	whyRedis       = "gatehouse does not use Redis: cooldowns and least-busy counts are per edge, cross-edge rate limits and budgets go through NATS JetStream"
	whyHealth      = "gatehouse runs no background health checks: a failing deployment is cooled down by the router (allowed_fails, cooldown_time); edges serve /health/liveliness and /health/readiness"
	whyAlerting    = "gatehouse sends no Slack/email/webhook alerts: alert on its Prometheus /metrics (upstream errors, budget and spend series)"
	whyLogging     = "logging is set on the command line (-log-level, -log-format json|text), not in config.yaml"
	whyNoPrompts   = "gatehouse never logs or stores prompts and responses"
	whyUI          = "gatehouse has no admin UI; use the admin API or gatewayctl"
	whyObservation = "spend rows are in ClickHouse (/spend/logs), metrics on /metrics, one JSON access-log line per request on stderr"
)

// litellmSettings classifies LiteLLM keys that are not fields of File,
// as litellm_settings.txt lists them (TestLiteLLMSettingsParse).
// TestLiteLLMSettingsAreNotFields keeps the two apart.
var litellmSettings = mustParseSettings(litellmSettingsText)

//go:embed litellm_settings.txt
var litellmSettingsText string

// reasons are the whys litellm_settings.txt writes {name}.
var reasons = map[string]string{
	"db": whyDB, "redis": whyRedis, "health": whyHealth, "alerting": whyAlerting,
	"logging": whyLogging, "prompts": whyNoPrompts, "ui": whyUI, "observation": whyObservation,
}

// judges and rewrites are the functions litellm_settings.txt names
// ("judged by NAME", "rewritten by NAME").
var (
	judges = map[string]func(v *yaml.Node) (settingKind, string){
		"callbacks": judgeCallbacks, "default_team_settings": judgeDefaultTeamSettings,
		"tag_filtering_match_any": judgeTagMatchAny, "timezone": judgeTimezone,
	}
	rewrites = map[string]func(parent, key, val *yaml.Node) (string, string){
		"disable_cooldowns":                rewriteDisableCooldowns,
		"custom_llm_provider":              rewriteCustomProvider,
		"default_max_internal_user_budget": rewriteDefaultMaxInternalUserBudget,
		"request_default":                  rewriteRequestDefault,
		"custom_user_agent":                rewriteCustomUserAgent,
		"deployment_id":                    rewriteDeploymentID,
		"reject_metadata_tags":             rewriteRejectMetadataTags,
	}
)

var reasonRE = regexp.MustCompile(`\{([^{}]*)\}`)

// parseSettings reads the format of litellm_settings.txt (its head says
// it).
func parseSettings(text string) (map[string]setting, error) {
	sections := map[string]settingKind{"[alias]": alias, "[judged]": 0, "[ignored]": ignored, "[refused]": refused}
	out := map[string]setting{}
	section := ""
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if _, ok := sections[line]; ok {
			section = line
			continue
		}
		path, text, ok := strings.Cut(line, ": ")
		if !ok || section == "" || strings.Contains(path, " ") || text == "" {
			return nil, fmt.Errorf("line %d: want PATH: TEXT in a section [alias], [judged], [ignored] or [refused]: %q", n+1, line)
		}
		if _, dup := out[path]; dup {
			return nil, fmt.Errorf("line %d: %s is listed twice", n+1, path)
		}
		s := setting{kind: sections[section]}
		switch section {
		case "[judged]":
			name, ok := strings.CutPrefix(text, "judged by ")
			if s.judge = judges[name]; !ok || s.judge == nil {
				return nil, fmt.Errorf("line %d: %q: want \"judged by NAME\", NAME one of judges", n+1, text)
			}
		case "[alias]":
			if name, ok := strings.CutPrefix(text, "rewritten by "); ok {
				if s.rewrite = rewrites[name]; s.rewrite == nil {
					return nil, fmt.Errorf("line %d: no rewrite %q", n+1, name)
				}
			} else {
				s.to = text
			}
		default:
			var bad string
			s.why = reasonRE.ReplaceAllStringFunc(text, func(r string) string {
				why, ok := reasons[r[1:len(r)-1]]
				if !ok {
					bad = r
				}
				return why
			})
			if bad != "" {
				return nil, fmt.Errorf("line %d: no reason %s", n+1, bad)
			}
		}
		out[path] = s
	}
	return out, nil
}

func mustParseSettings(text string) map[string]setting {
	m, err := parseSettings(text)
	if err != nil {
		panic("config: litellm_settings.txt: " + err.Error())
	}
	return m
}

// observability are the callbacks gatehouse has a replacement for.
var observability = map[string]string{
	"prometheus": "gatehouse serves Prometheus metrics on /metrics (edge and control plane)",
}

// guardCallbacks are LiteLLM callbacks that check or change requests;
// not running them would let through what they stop.
var guardCallbacks = map[string]string{
	"lakera_prompt_injection": "prompt injections would not be blocked",
	"detect_prompt_injection": "prompt injections would not be blocked",
	"hide_secrets":            "secrets in prompts would reach the provider",
	"presidio":                "PII would not be masked",
	"llamaguard_moderations":  "requests would not be moderated",
	"llmguard_moderations":    "requests would not be moderated",
	"google_text_moderation":  "requests would not be moderated",
	"openai_moderations":      "requests would not be moderated",
	"aporia":                  "requests would reach the model without the guardrail's checks",
	"bedrock_guardrails":      "requests would reach the model without the guardrail's checks",
	"dynamic_rate_limiter":    "the dynamic rate limits would not be enforced",
	// dynamic_rate_limit.md's current limiter, and the per-tag limiter of
	// its tag budgets page: both refuse requests.
	"dynamic_rate_limiter_v3": "keys' shares of a deployment's rpm/tpm would not be enforced",
	"tag_rate_limiter":        "the per-tag rate limits would not be enforced",
	// Adds retrieved vector store content to requests (LiteLLM's
	// _custom_logger_compatible_callbacks_literal lists it with loggers).
	"vector_store_pre_call_hook": "the vector store's results would not be added to requests",
	// Interception hooks run a tool for the model inside the proxy.
	"websearch_interception":        "the model's web search tool calls would not be run by the proxy: they would reach the client unanswered",
	"code_interpreter_interception": "the model's code interpreter calls would not be run in the sandbox: they would reach the client unanswered",
	"max_budget_limiter":            "the budget limits of the callback would not be enforced",
}

func judgeCallbacks(v *yaml.Node) (settingKind, string) {
	var names []string
	switch v = deref(v); v.Kind {
	case yaml.ScalarNode:
		if !isNull(v) && v.Value != "" {
			names = []string{v.Value}
		}
	case yaml.SequenceNode:
		for _, c := range v.Content {
			if c = deref(c); c.Kind == yaml.ScalarNode {
				names = append(names, c.Value)
			}
		}
	default:
		return ignored, "callbacks are not run: " + whyObservation
	}
	if len(names) == 0 {
		return 0, "" // callbacks: [] asks for nothing
	}
	var whys []string
	for _, n := range names {
		if strings.Contains(n, ".") {
			// A Python object (custom_callbacks.proxy_handler_instance):
			// its hooks may reject or modify requests, which gatehouse
			// would not do.
			return refused, fmt.Sprintf("the Python callback %s would not run, so its hooks would not log, modify or reject requests", n)
		}
		if why, ok := guardCallbacks[n]; ok {
			return refused, fmt.Sprintf("the %s callback would not run: %s", n, why)
		}
		if strings.HasSuffix(n, "_interception") {
			// LiteLLM's interception hooks (advisor_interception, ...)
			// answer a tool the model calls inside the proxy.
			return refused, fmt.Sprintf("the %s callback would not run: what it does to requests and responses inside the proxy (LiteLLM's interception hooks answer the model's tool calls) would not happen", n)
		}
		if r, ok := observability[n]; ok {
			whys = append(whys, r)
		} else {
			whys = append(whys, fmt.Sprintf("gatehouse has no %s integration", n))
		}
	}
	why := strings.Join(whys, "; ")
	if len(whys) != 1 || names[0] != "prometheus" {
		why += ": " + whyObservation
	}
	return ignored, why
}

// teamLimitKeys are the keys of a default_team_settings entry that
// limit what the team spends or calls; the rest (callbacks, langfuse_*)
// configure logging.
var teamLimitKeys = []string{"max_budget", "budget_duration", "tpm_limit", "rpm_limit", "max_parallel_requests", "models", "model_max_budget"}

// judgeDefaultTeamSettings: LiteLLM's docs also put budgets in
// default_team_settings (for teams JWT team_id_upsert creates); calling
// those "logging callbacks, ignored" would hide that they are not enforced.
func judgeDefaultTeamSettings(v *yaml.Node) (settingKind, string) {
	if v = deref(v); v.Kind == yaml.SequenceNode {
		for _, e := range v.Content {
			if e = deref(e); e.Kind != yaml.MappingNode {
				continue
			}
			for _, name := range teamLimitKeys {
				if k, val := lookup(e, name); k != nil && offValue(val) == "" && !isNull(deref(val)) {
					return refused, fmt.Sprintf("the %s of these teams (line %d) would not be enforced: gatehouse applies a team's budgets and limits from /team/new and /team/update only", name, k.Line)
				}
			}
		}
	}
	return ignored, "per-team logging callbacks are not run: " + whyObservation
}

// judgeTagMatchAny: gatehouse sends a tagged request to deployments
// with any of its tags, LiteLLM's default. false asks that a deployment
// carry all of them; false is not an off value here, and accepting it
// would let a request reach deployments its tags only partly match.
// judgeTimezone: litellm_settings.timezone is the timezone of budget
// resets (budget_reset_at); gatehouse computes them in UTC.
func judgeTimezone(v *yaml.Node) (settingKind, string) {
	if v = deref(v); isNull(v) || v.Value == "" || v.Value == "UTC" {
		return ignored, "budget resets are computed in UTC"
	}
	return refused, "budgets would reset at midnight UTC, not in this timezone (gatehouse computes budget_reset_at in UTC)"
}

func judgeTagMatchAny(v *yaml.Node) (settingKind, string) {
	var matchAny bool
	if v = deref(v); isNull(v) || v.Decode(&matchAny) != nil || matchAny {
		return ignored, "a request's tags always match any deployment tag"
	}
	return refused, "a tagged request would also go to deployments that carry only some of its tags, not only to those that carry all of them"
}

// rewriteDisableCooldowns makes router_settings.disable_cooldowns: true
// into cooldown_time: 0, which the router treats as "no cooldown".
// As in LiteLLM, it wins over a cooldown_time set too (with a warning).
func rewriteDisableCooldowns(parent, key, val *yaml.Node) (string, string) {
	var on bool
	if err := deref(val).Decode(&on); err != nil {
		return "expected true or false", ""
	}
	if !on {
		return "", ""
	}
	nk := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "cooldown_time", Line: key.Line, Column: key.Column}
	nv := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "0", Line: val.Line, Column: val.Column}
	if k, _ := lookup(parent, "cooldown_time"); k != nil {
		setPair(parent, k, nk, nv)
		return "", fmt.Sprintf("disables cooldowns, so the cooldown_time set too (line %d) has no effect, as in LiteLLM", k.Line)
	}
	parent.Content = append(parent.Content, nk, nv)
	return "", ""
}

// rewriteDefaultMaxInternalUserBudget is LiteLLM's load_config: the
// value is max_internal_user_budget unless that is set too, which then
// wins.
func rewriteDefaultMaxInternalUserBudget(parent, key, val *yaml.Node) (string, string) {
	if k, _ := lookup(parent, "max_internal_user_budget"); k != nil {
		return "", ""
	}
	parent.Content = append(parent.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "max_internal_user_budget", Line: key.Line, Column: key.Column}, val)
	return "", ""
}

// childMap returns the value of parent's key name (aliases followed),
// first making it an empty mapping when it is absent or null; new nodes
// carry at's position, so errors about them point at the user's line. The
// caller checks the kind: a value of another type is the walk's to report.
func childMap(parent *yaml.Node, name string, at *yaml.Node) *yaml.Node {
	k, v := lookup(parent, name)
	if k != nil && !isNull(deref(v)) {
		return deref(v)
	}
	nb := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: at.Line, Column: at.Column}
	if k == nil {
		parent.Content = append(parent.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: name, Line: at.Line, Column: at.Column}, nb)
		return nb
	}
	setPair(parent, k, nil, nb)
	return nb
}

// setPair gives the pair of mapping m whose key is k the value v, and the
// key nk unless it is nil.
func setPair(m, k, nk, v *yaml.Node) {
	for j := 0; j+1 < len(m.Content); j += 2 {
		if deref(m.Content[j]) == k {
			if nk != nil {
				m.Content[j] = nk
			}
			m.Content[j+1] = v
		}
	}
}

// rewriteRequestDefault moves an OpenAI request parameter given in
// litellm_params (response_format, tool_choice, ...; LiteLLM sends every
// such key to the provider) into extra_body, where it is a default like
// temperature: the request's own value wins.
func rewriteRequestDefault(parent, key, val *yaml.Node) (string, string) {
	body := childMap(parent, "extra_body", key)
	if body.Kind != yaml.MappingNode {
		return "", "" // the walk reports extra_body's type
	}
	if bk, _ := lookup(body, key.Value); bk != nil {
		return fmt.Sprintf("is set in extra_body too (line %d); keep one", bk.Line), ""
	}
	body.Content = append(body.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key.Value, Line: key.Line, Column: key.Column}, val)
	return "", ""
}

// rewriteCustomUserAgent makes custom_user_agent (LiteLLM sends it as the
// provider request's User-Agent, for credentials bound to one) the
// User-Agent of extra_headers, which the edge sets last on every request.
func rewriteCustomUserAgent(parent, key, val *yaml.Node) (string, string) {
	v := deref(val)
	if isNull(v) {
		return "", "" // LiteLLM's default User-Agent
	}
	if v.Kind != yaml.ScalarNode {
		return "expected a string", ""
	}
	target := "extra_headers"
	if hk, _ := lookup(parent, "headers"); hk != nil {
		if ek, _ := lookup(parent, "extra_headers"); ek == nil {
			// headers is not moved to extra_headers yet; creating
			// extra_headers now would make that move a conflict.
			target = "headers"
		}
	}
	hs := childMap(parent, target, key)
	if hs.Kind != yaml.MappingNode {
		return "", "" // the walk reports extra_headers' type
	}
	for i := 0; i+1 < len(hs.Content); i += 2 {
		if k := deref(hs.Content[i]); k.Kind == yaml.ScalarNode && strings.EqualFold(k.Value, "User-Agent") {
			return fmt.Sprintf("is sent as the User-Agent header, which %s sets too (line %d); keep one", target, k.Line), ""
		}
	}
	hs.Content = append(hs.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "User-Agent", Line: key.Line, Column: key.Column}, val)
	return "", ""
}

// rewriteCustomProvider puts custom_llm_provider in front of the model
// name, the form gatehouse reads the provider from.
func rewriteCustomProvider(parent, key, val *yaml.Node) (string, string) {
	v := deref(val)
	if v.Kind != yaml.ScalarNode {
		return "expected a string", ""
	}
	p := v.Value
	if !policy.IsKnownProvider(p) {
		return fmt.Sprintf("%q is not a provider gatehouse knows", p), ""
	}
	_, m := lookup(parent, "model")
	if m == nil || deref(m).Kind != yaml.ScalarNode {
		return "", "" // the walk reports the missing model
	}
	m = deref(m)
	if prov, _ := policy.SplitProvider(m.Value); strings.HasPrefix(m.Value, prov+"/") {
		if prov != p {
			return fmt.Sprintf("says %s but litellm_params.model %q names provider %s", p, m.Value, prov), ""
		}
		return "", ""
	}
	m.Value = p + "/" + m.Value
	return "", ""
}

// rewriteDeploymentID is LiteLLM's completion(): a deployment_id sends
// the call to that Azure deployment, whatever litellm_params.model says,
// so the model becomes azure/<deployment_id>. Configs usually repeat the
// model's own name (azure/gpt-4o with deployment_id gpt-4o); one that
// differs is warned about, since the model line no longer says where
// requests go.
func rewriteDeploymentID(parent, key, val *yaml.Node) (string, string) {
	v := deref(val)
	if isNull(v) {
		return "", "" // LiteLLM's None: model is used as written
	}
	if v.Kind != yaml.ScalarNode || v.Value == "" {
		return "expected the name of an Azure deployment", ""
	}
	_, m := lookup(parent, "model")
	if m == nil || deref(m).Kind != yaml.ScalarNode {
		return "", "" // the walk reports the missing model
	}
	m = deref(m)
	want := policy.ProviderAzure + "/" + v.Value
	if m.Value == want {
		return "", ""
	}
	was := m.Value
	m.Value = want
	return "", fmt.Sprintf("replaces litellm_params.model %q (line %d): as in LiteLLM, requests go to the Azure deployment %s", was, m.Line, v.Value)
}

// rewriteRejectMetadataTags: reject_metadata_tags is the first name of
// reject_clientside_metadata_tags (LiteLLM PR #17088), which LiteLLM's
// reject_metadata_tags_config.yaml still writes. LiteLLM 2026 reads only
// the new name, so there the old one does nothing; gatehouse does what
// the line asks, and says so.
func rewriteRejectMetadataTags(parent, key, val *yaml.Node) (string, string) {
	if k, _ := lookup(parent, "reject_clientside_metadata_tags"); k != nil {
		return "", fmt.Sprintf("ignored: reject_clientside_metadata_tags (line %d) is set too, and wins", k.Line)
	}
	parent.Content = append(parent.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "reject_clientside_metadata_tags", Line: key.Line, Column: key.Column}, val)
	return "", "read as reject_clientside_metadata_tags, its current name: requests with metadata.tags are refused; LiteLLM 2026 reads only the new name, so there this line does nothing"
}

func lookup(m *yaml.Node, name string) (key, val *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := deref(m.Content[i]); k.Kind == yaml.ScalarNode && k.Value == name {
			return k, m.Content[i+1]
		}
	}
	return nil, nil
}

// pattern turns "model_list[3].rpm" into "model_list[].rpm".
func pattern(path string) string {
	if !strings.Contains(path, "[") {
		return path
	}
	var b strings.Builder
	skip := false
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '[':
			skip = true
			b.WriteByte(c)
		case c == ']':
			skip = false
			b.WriteByte(c)
		case !skip:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// fillIndices puts the indices of from ("model_list[3].rpm") into the []
// of to ("model_list[].litellm_params.rpm").
func fillIndices(to, from string) string {
	var idx []string
	for rest := from; ; {
		i := strings.IndexByte(rest, '[')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], ']')
		idx = append(idx, rest[i+1:i+j])
		rest = rest[i+j+1:]
	}
	for _, n := range idx {
		to = strings.Replace(to, "[]", "["+n+"]", 1)
	}
	return to
}

// classify applies litellmSettings to the tree: ignored keys are removed
// with a warning, aliases moved to their target, refused keys removed with
// an error. It runs before the walk. Only keys that are not File fields at
// their place are looked up, so a real field is never reclassified.
func (w *walker) classify(root *yaml.Node) {
	if root.Kind != yaml.MappingNode {
		return
	}
	w.classifyMapping(root, root, fileType, "", map[*yaml.Node]bool{})
}

func (w *walker) classifyMapping(root, n *yaml.Node, t reflect.Type, path string, seen map[*yaml.Node]bool) {
	if seen[n] {
		return
	}
	seen[n] = true
	var fields *fieldSet
	if t != nil {
		fields = knownFields(t)
	}
	for i := 0; i+1 < len(n.Content); {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode || (k.Value == "<<" && k.ShortTag() == "!!merge") {
			i += 2
			continue
		}
		sub := joinPath(path, k.Value)
		if fields != nil {
			if ft, ok := fields.types[k.Value]; ok {
				w.classifyChild(root, v, ft, sub, seen)
				i += 2
				continue
			}
		}
		s, ok := litellmSettings[pattern(sub)]
		if !ok && path == "litellm_settings" && (strings.HasSuffix(k.Value, "_callback_params") || strings.HasPrefix(k.Value, "langfuse_")) {
			// s3_callback_params, gcs_callback_params, ...: settings of
			// observability callbacks, which are not run.
			s, ok = setting{kind: ignored, why: "settings of an observability callback, which gatehouse does not run: " + whyObservation}, true
		}
		if cb, params := strings.CutSuffix(k.Value, "_params"); !ok && path == "litellm_settings" && params && strings.HasSuffix(cb, "_interception") {
			// advisor_interception_params, ...: the settings of a
			// callback that is refused.
			s, ok = setting{kind: ignored, why: "only used by the " + cb + " callback, which is refused"}, true
		}
		if !ok && pattern(path) == "model_list[].litellm_params" && strings.Contains(k.Value, "cost_per_") {
			// input_cost_per_token_above_128k_tokens,
			// output_cost_per_reasoning_token, input_cost_per_pixel, ...:
			// prices of LiteLLM's cost map that gatehouse does not apply.
			s, ok = setting{kind: refused, why: "gatehouse prices input, output and prompt-cache tokens only (input_cost_per_token, output_cost_per_token, cache_*_cost): this price would not be applied, so spend and budgets would be computed without it"}, true
		}
		if !ok {
			if fields != nil && pattern(path) == "model_list[].model_info" && hintFor(path, fields, k.Value, v) == "" {
				// model_info is free-form metadata in LiteLLM
				// (supports_vision, ...); gatehouse reads the fields
				// above. A near miss of one of them stays an error.
				s, ok = setting{kind: ignored, why: "model_info metadata that gatehouse does not use"}, true
			}
		}
		if !ok {
			i += 2
			continue
		}
		kind, why := s.kind, s.why
		if s.judge != nil {
			kind, why = s.judge(v)
		}
		switch kind {
		case 0:
			w.drop(n, i)
			continue
		case ignored:
			w.warns = append(w.warns, &FieldError{Path: sub, Line: k.Line, Msg: "ignored: " + why})
			w.drop(n, i)
			continue
		case refused:
			// A judge has weighed the value already: its refusal of
			// false (tag_filtering_match_any) is not LiteLLM's off.
			if off := offValue(v); off != "" && s.judge == nil {
				// Configs copied from LiteLLM's docs spell out defaults
				// (max_budget: null, enable_oauth2_auth: false): nothing
				// would silently not happen, so this is no reason to
				// refuse to start.
				w.warns = append(w.warns, &FieldError{Path: sub, Line: k.Line,
					Msg: fmt.Sprintf("ignored: %s leaves it off, and gatehouse does not support it (set, it would be refused: %s)", off, why)})
				w.drop(n, i)
				continue
			}
			w.errs = append(w.errs, &FieldError{Path: sub, Line: k.Line,
				Msg: fmt.Sprintf("LiteLLM setting %s is not supported by gatehouse: %s", k.Value, why)})
			w.drop(n, i)
			continue
		case alias:
			if s.rewrite != nil {
				msg, warn := s.rewrite(n, k, v)
				w.report(sub, k.Line, msg, warn)
				w.drop(n, i)
				continue
			}
			to := fillIndices(s.to, sub)
			w.report(sub, k.Line, "", why)
			msg, warn := moveTo(root, to, k, v, overlapOf(sub, to))
			w.report(sub, k.Line, msg, warn)
			w.drop(n, i)
			continue
		}
		i += 2
	}
}

// offValue names a refused setting's value when it is LiteLLM's "off"
// (null or false), "" otherwise. Empty lists are not off: LiteLLM reads
// some of them as "allow nothing" (allowed_ips: []).
func offValue(v *yaml.Node) string {
	v = deref(v)
	if v.Kind != yaml.ScalarNode {
		return ""
	}
	switch v.ShortTag() {
	case "!!null":
		return "null"
	case "!!bool":
		if b, err := strconv.ParseBool(strings.ToLower(v.Value)); err == nil && !b {
			return "false"
		}
	}
	return ""
}

// report records what rewriting or moving the setting at path (line)
// said: an error msg and a warning warn, "" for none.
func (w *walker) report(path string, line int, msg, warn string) {
	if msg != "" {
		w.errs = append(w.errs, &FieldError{Path: path, Line: line, Msg: msg})
	}
	if warn != "" {
		w.warns = append(w.warns, &FieldError{Path: path, Line: line, Msg: warn})
	}
}

func (w *walker) classifyChild(root, v *yaml.Node, t reflect.Type, path string, seen map[*yaml.Node]bool) {
	v = deref(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && v.Kind == yaml.MappingNode:
		w.classifyMapping(root, v, t, path, seen)
	case t.Kind() == reflect.Slice && v.Kind == yaml.SequenceNode:
		for i, c := range v.Content {
			sub := path + "[" + strconv.Itoa(i) + "]"
			if t.Elem() == modelEntryType {
				w.inferProvider(deref(c), sub)
				if w.unservable(deref(c), sub) {
					continue
				}
			}
			w.classifyChild(root, c, t.Elem(), sub, seen)
		}
	case path == "router_settings.model_group_alias" && v.Kind == yaml.MappingNode:
		// LiteLLM takes "alias: group" or "alias: {model: group,
		// hidden: true}"; the first becomes the second.
		for i := 1; i < len(v.Content); i += 2 {
			if c := deref(v.Content[i]); c.Kind == yaml.ScalarNode && !isNull(c) {
				w.rewrote = true
				v.Content[i] = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: c.Line, Column: c.Column,
					Content: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: "model", Line: c.Line, Column: c.Column}, c}}
			}
		}
	}
}

func (w *walker) drop(n *yaml.Node, i int) {
	w.rewrote = true
	n.Content = append(n.Content[:i], n.Content[i+2:]...)
}

// overlap says what moveTo does when the target is set too.
type overlap int

const (
	overlapError      overlap = iota // an error: keep one
	overlapKeepTarget                // the target's value stays (a warning)
	overlapSourceWins                // the moved value replaces it (a warning)
)

// overlapOf is LiteLLM's rule for a setting given in both litellm_settings
// and router_settings (config_settings.md: "settings on router_settings
// will override those on litellm_settings"); any other alias set twice is
// an error.
func overlapOf(from, to string) overlap {
	sec := func(p string) string { s, _, _ := strings.Cut(p, "."); return s }
	switch {
	case sec(from) == "litellm_settings" && sec(to) == "router_settings":
		return overlapKeepTarget
	case sec(from) == "router_settings" && sec(to) == "litellm_settings":
		return overlapSourceWins
	}
	return overlapError
}

// moveTo puts key: val at the dotted path to (creating mappings on the
// way). When something is there already, ov decides: an error message, or
// a warning with the one value kept.
func moveTo(root *yaml.Node, to string, key, val *yaml.Node, ov overlap) (errMsg, warnMsg string) {
	segs := splitPath(to)
	cur := root
	for i, s := range segs {
		last := i == len(segs)-1
		if s.index >= 0 {
			if cur.Kind != yaml.SequenceNode || s.index >= len(cur.Content) {
				return "", ""
			}
			cur = deref(cur.Content[s.index])
			continue
		}
		if cur.Kind != yaml.MappingNode {
			return "", "" // the walk reports the type error of the target
		}
		if !last {
			cur = childMap(cur, s.name, key)
			continue
		}
		k, v := lookup(cur, s.name)
		nk := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s.name, Line: key.Line, Column: key.Column}
		if k != nil && !isNull(deref(v)) {
			if a, b := deref(v), deref(val); a.Kind == yaml.ScalarNode && b.Kind == yaml.ScalarNode && a.Value == b.Value {
				return "", "" // the same value twice
			}
			switch ov {
			case overlapKeepTarget:
				return "", fmt.Sprintf("is set as %s too (line %d), whose value is used: router_settings overrides litellm_settings, as in LiteLLM", to, k.Line)
			case overlapSourceWins:
				setPair(cur, k, nk, val)
				return "", fmt.Sprintf("is read as %s, which is set too (line %d); this value is used: router_settings overrides litellm_settings, as in LiteLLM", to, k.Line)
			}
			return fmt.Sprintf("is LiteLLM's name for %s, which is set too (line %d); keep one", to, k.Line), ""
		}
		if k != nil {
			setPair(cur, k, nil, val)
			return "", ""
		}
		cur.Content = append(cur.Content, nk, val)
		return "", ""
	}
	return "", ""
}

type seg struct {
	name  string
	index int // -1 for a name
}

func splitPath(p string) []seg {
	var out []seg
	for _, part := range strings.Split(p, ".") {
		name, rest, _ := strings.Cut(part, "[")
		out = append(out, seg{name: name, index: -1})
		for rest != "" {
			num, after, _ := strings.Cut(rest, "]")
			n, _ := strconv.Atoi(num)
			out = append(out, seg{index: n})
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return out
}

var modelEntryType = reflect.TypeOf(ModelEntry{})

// unservable reports (once, as an error naming the deployment) a
// model_list entry that would fail on every request: a provider the edge
// has no client for, or a mode the edge has no endpoint for (it serves
// chat, embedding and completion deployments). Its other fields are not
// walked, so the user reads one reason, not a list of unknown fields
// (aws_region_name, vertex_project, ...). A deployment with mock_response
// is servable whatever its provider: it never calls the provider.
func (w *walker) unservable(e *yaml.Node, path string) bool {
	if e.Kind != yaml.MappingNode {
		return false
	}
	str := func(m *yaml.Node, name string) string {
		if m == nil || deref(m).Kind != yaml.MappingNode {
			return ""
		}
		_, v := lookup(deref(m), name)
		if v == nil || deref(v).Kind != yaml.ScalarNode || isNull(deref(v)) {
			return ""
		}
		return deref(v).Value
	}
	_, params := lookup(e, "litellm_params")
	_, info := lookup(e, "model_info")
	name := str(e, "model_name")
	model := str(params, "model")
	if model == "" || str(params, "mock_response") != "" {
		return false
	}
	if p := str(params, "custom_llm_provider"); p != "" {
		// As rewriteCustomProvider will: unless the model names its
		// provider already.
		if prov, _ := policy.SplitProvider(model); !strings.HasPrefix(model, prov+"/") {
			model = p + "/" + model
		}
	}
	provider, upstream := policy.SplitProvider(model)
	prefix, _, slash := strings.Cut(model, "/")
	why := ""
	switch mode := str(info, "mode"); {
	case provider == "" && prefix == "auto_router":
		// adaptive_router_config, oracle_router_config, ... are its
		// settings; one reason says more than an unknown field each.
		why = "LiteLLM's auto router picks another model group for each request (by semantic routes, complexity or feedback); gatehouse has no auto router, so requests to it would not be routed anywhere; call the groups it picks from by name"
	case provider == "" && slash:
		// oci/, siliconflow/, ...: LiteLLM providers the edge has no
		// client for. Its other fields (oci_region, ...) are the
		// provider's, so they are not walked either.
		why = fmt.Sprintf("gatehouse's edge has no client for provider %s (it serves OpenAI-compatible providers, azure/, anthropic/, bedrock/, gemini/ and vertex_ai/), so every request to it would fail; an OpenAI-compatible server is written openai/<model> with api_base", prefix)
	case !policy.ServedMode(mode):
		why = fmt.Sprintf("model_info.mode is %s; gatehouse serves chat, embedding and completion deployments only (/v1/chat/completions, /v1/embeddings, /v1/completions), so every request to it would fail", mode)
	case provider != "" && !modeServed(provider, mode):
		why = fmt.Sprintf("model_info.mode is %s, and gatehouse's edge has no %s API for provider %s (it serves them for OpenAI-compatible providers and azure/), so every request to it would fail", mode, mode, provider)
	case provider != "" && !policy.CanServe(provider):
		why = fmt.Sprintf("gatehouse's edge cannot call provider %s (it serves OpenAI-compatible providers, azure/, anthropic/, bedrock/, gemini/ and vertex_ai/), so every request to it would fail", provider)
	case provider == policy.ProviderOpenAI && !servedModel(upstream):
		why = fmt.Sprintf("%s is not a chat, embedding or completion model; gatehouse serves /v1/chat/completions, /v1/embeddings and /v1/completions only, so every request to it would fail", upstream)
	default:
		return false
	}
	line := e.Line
	w.errs = append(w.errs, &FieldError{Path: path, Line: line,
		Msg: fmt.Sprintf("deployment %q (litellm_params.model: %s) is not supported: %s", name, model, why)})
	w.bad = append(w.bad, path)
	w.skip(e)
	return true
}

// bedrockVendors are the model families of Bedrock ids ("anthropic.claude-3-sonnet-20240229-v1:0",
// "meta.llama3-8b-instruct-v1:0", "us.anthropic...." for cross-region
// inference profiles).
var bedrockVendors = []string{"anthropic.", "amazon.", "meta.", "cohere.", "mistral.", "ai21.", "deepseek.", "writer."}

// bedrockID reports whether m is a Bedrock model id without the bedrock/
// prefix, which LiteLLM's get_llm_provider maps to bedrock (its
// bedrock_models list holds these families).
func bedrockID(m string) bool {
	if strings.Contains(m, "/") {
		return false
	}
	for _, region := range []string{"", "us.", "eu.", "apac.", "us-gov.", "global."} {
		for _, v := range bedrockVendors {
			if strings.HasPrefix(m, region+v) && len(m) > len(region+v) {
				return true
			}
		}
	}
	return false
}

// inferProvider gives a deployment's litellm_params.model the provider
// prefix LiteLLM infers where gatehouse's own inference has none:
// "text-completion-openai/<m>" (OpenAI's completions API) is openai/<m>
// with model_info.mode completion, a bare Bedrock id is bedrock/<id>,
// and "*" is openai/* (get_llm_provider: model == "*" -> openai). A
// deployment with custom_llm_provider is left to that.
func (w *walker) inferProvider(e *yaml.Node, path string) {
	if e.Kind != yaml.MappingNode {
		return
	}
	_, params := lookup(e, "litellm_params")
	if params == nil || deref(params).Kind != yaml.MappingNode {
		return
	}
	params = deref(params)
	if k, _ := lookup(params, "custom_llm_provider"); k != nil {
		return
	}
	_, m := lookup(params, "model")
	if m == nil || deref(m).Kind != yaml.ScalarNode || isNull(deref(m)) {
		return
	}
	m = deref(m)
	switch {
	case strings.HasPrefix(m.Value, "text-completion-openai/"):
		m.Value = policy.ProviderOpenAI + "/" + strings.TrimPrefix(m.Value, "text-completion-openai/")
		w.rewrote = true
		info := childMap(e, "model_info", m)
		if info.Kind != yaml.MappingNode {
			return // the walk reports model_info's type
		}
		if mk, _ := lookup(info, "mode"); mk == nil {
			info.Content = append(info.Content,
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "mode", Line: m.Line, Column: m.Column},
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: policy.ModeCompletion, Line: m.Line, Column: m.Column})
		}
		w.warns = append(w.warns, &FieldError{Path: path + ".litellm_params.model", Line: m.Line,
			Msg: fmt.Sprintf("text-completion-openai/ is read as %s with model_info.mode completion: it is served on /v1/completions; LiteLLM also turns chat requests into text completions for it, gatehouse does not", m.Value)})
	case m.Value == "*":
		m.Value = policy.ProviderOpenAI + "/*"
		w.rewrote = true
	case bedrockID(m.Value):
		m.Value = policy.ProviderBedrock + "/" + m.Value
		w.rewrote = true
	}
}

// modeServed reports whether the edge calls provider's API for an
// embedding or completion deployment (chat: every provider it can call).
func modeServed(provider, mode string) bool {
	switch mode {
	case policy.ModeEmbedding:
		return policy.ProviderServes(provider, policy.EndpointEmbeddings)
	case policy.ModeCompletion:
		return policy.ProviderServes(provider, policy.EndpointCompletions)
	}
	return true
}

// servedModel rejects OpenAI model families served on endpoints the edge
// does not have (images, audio, moderation).
func servedModel(m string) bool {
	for _, p := range []string{"dall-e", "whisper", "tts-", "omni-moderation", "text-moderation", "gpt-image"} {
		if strings.HasPrefix(m, p) {
			return false
		}
	}
	return true
}

// skip makes the walk pass over n (its error was reported).
func (w *walker) skip(n *yaml.Node) {
	if w.skipped == nil {
		w.skipped = map[*yaml.Node]bool{}
	}
	w.skipped[n] = true
}
