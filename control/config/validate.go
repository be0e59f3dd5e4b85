package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
)

// Validate checks the values of a File, whether parsed or built in code.
// Each error names the field path; messages never echo a secret.
func (f *File) Validate() error {
	v := &validator{}
	f.validate(v)
	return v.err()
}

// ValidateModel checks one deployment (from /model/new) with the rules of a
// model_list entry, so the admin API and config.yaml cannot drift apart.
// Paths are relative to the deployment (litellm_params.api_base).
func ValidateModel(m *events.Model) error {
	v := &validator{bare: true}
	if m.ID == "" {
		v.add("id", "is required")
	} else if m.ModelInfo.ID != "" && m.ModelInfo.ID != m.ID {
		v.add("model_info.id", "must equal id %q", m.ID)
	}
	e := ModelEntry{ModelName: m.ModelName, LiteLLMParams: m.LiteLLMParams, ModelInfo: m.ModelInfo}
	e.validate(v, "")
	return v.err()
}

// validator collects errors. Within Parse it knows each path's line and the
// paths that already have a structural error, so a field given as a list
// where a string belongs is not also reported as missing.
type validator struct {
	errs  []*FieldError
	warns []*FieldError
	lines map[string]int
	bad   []string
	bare  bool // errors without the "config: " prefix
	// environment is the file's environment_variables, consulted with
	// the process environment for settings LiteLLM reads from there.
	environment map[string]string
}

// env returns a variable from the file's environment_variables or the
// process environment.
func (v *validator) env(name string) string {
	if s := v.environment[name]; s != "" {
		return s
	}
	return os.Getenv(name)
}

func (v *validator) add(path, format string, args ...any) {
	for _, b := range v.bad {
		if path == b || strings.HasPrefix(path, b+".") || strings.HasPrefix(path, b+"[") {
			return
		}
	}
	v.errs = append(v.errs, &FieldError{Path: path, Line: v.line(path), Msg: fmt.Sprintf(format, args...), bare: v.bare})
}

// line finds the line of path, or of its nearest ancestor present in the
// file when the field itself is missing.
func (v *validator) line(path string) int {
	if v.lines == nil {
		return 0
	}
	for {
		if l, ok := v.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return v.lines[""]
		}
		path = path[:i]
	}
}

// warn records a setting that is accepted but does not do all it does in
// LiteLLM.
func (v *validator) warn(path, format string, args ...any) {
	v.warns = append(v.warns, &FieldError{Path: path, Line: v.line(path), Msg: fmt.Sprintf(format, args...), bare: v.bare})
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return joinSorted(v.errs)
}

func (f *File) validate(v *validator) {
	v.environment = f.EnvironmentVariables
	if mb := f.GeneralSettings.MaxRequestSizeMB; mb != 0 && !positive(mb) {
		v.add("general_settings.max_request_size_mb", "must be > 0")
	}
	if t := f.LiteLLMSettings.RequestTimeout; t != 0 && !positive(t) {
		v.add("litellm_settings.request_timeout", "must be > 0 (seconds)")
	}
	f.validateEnvironment(v)
	f.validateJWT(v)
	f.validateRouting(v)
	f.validateKeySettings(v)
	ids := map[string]int{}
	for i := range f.ModelList {
		e := &f.ModelList[i]
		path := "model_list[" + strconv.Itoa(i) + "]"
		e.validate(v, path)
		id := e.ID()
		if j, dup := ids[id]; dup {
			if e.ModelInfo.ID != "" {
				v.add(path+".model_info.id", "%q is already the id of model_list[%d]", id, j)
			} else {
				v.add(path, "has the same content as model_list[%d], so both would get id %s; remove one or give each a model_info.id", j, id)
			}
			continue
		}
		ids[id] = i
	}
}

func (f *File) validateEnvironment(v *validator) {
	keys := slices.Sorted(maps.Keys(f.EnvironmentVariables))
	for _, k := range keys {
		path := "environment_variables." + k
		if !validEnvName(k) {
			v.add(path, "%q is not a valid environment variable name", k)
			continue
		}
		val := f.EnvironmentVariables[k]
		if strings.HasPrefix(val, policy.EnvPrefix) {
			// LiteLLM sets these values verbatim; a reference here would
			// put the literal text "os.environ/..." into the variable.
			v.add(path, "must be a literal value, not an %s reference", policy.EnvPrefix)
		} else if strings.IndexByte(val, 0) >= 0 {
			v.add(path, "must not contain a NUL byte")
		}
	}
}

func (e *ModelEntry) validate(v *validator, path string) {
	name := e.ModelName
	switch np := joinPath(path, "model_name"); {
	case name == "":
		v.add(np, "is required")
	case strings.TrimSpace(name) != name:
		v.add(np, "must not start or end with whitespace")
	}

	p := &e.LiteLLMParams
	pp := joinPath(path, "litellm_params")
	switch provider, upstream := policy.SplitProvider(p.Model); {
	case p.Model == "":
		v.add(pp+".model", "is required")
	case strings.TrimSpace(p.Model) != p.Model:
		v.add(pp+".model", "must not start or end with whitespace")
	case provider == "":
		v.add(pp+".model", "%q names no known provider; use \"<provider>/<model>\" (e.g. openai/gpt-4o, mock/echo)", p.Model)
	case upstream == "":
		v.add(pp+".model", "%q names no model after the provider", p.Model)
	case strings.Contains(name, "*") && !strings.Contains(p.Model, "*") && p.Model != name:
		// The router substitutes what the request's '*' matched into
		// the upstream model; without a '*' there is nowhere to put it.
		v.add(pp+".model", "model_name %q is a wildcard, so model must contain '*' too (e.g. model_name: openai/*, model: openai/*)", name)
	case strings.Contains(p.Model, "*") && !strings.Contains(name, "*"):
		v.add(pp+".model", "contains '*' but model_name %q is not a wildcard", name)
	}

	if prov, up := policy.SplitProvider(p.Model); p.MockResponse == "" && prov != "" {
		// Parse reports these per deployment before the walk (and skips
		// them here); this is for deployments from /model/new.
		switch {
		case !policy.ServedMode(e.ModelInfo.Mode):
			v.add(joinPath(path, "model_info.mode"), "%s is not served: gatehouse serves chat, embedding and completion deployments only", e.ModelInfo.Mode)
		case !modeServed(prov, e.ModelInfo.Mode):
			v.add(joinPath(path, "model_info.mode"), "%s is not served for provider %s: gatehouse calls embeddings and completions APIs of OpenAI-compatible providers and azure/ only", e.ModelInfo.Mode, prov)
		case !policy.CanServe(prov):
			v.add(pp+".model", "provider %s cannot be called by gatehouse's edge (it serves OpenAI-compatible providers, azure/, anthropic/, bedrock/, gemini/ and vertex_ai/)", prov)
		case prov == policy.ProviderOpenAI && !servedModel(up):
			v.add(pp+".model", "%s is not a chat, embedding or completion model; gatehouse serves /v1/chat/completions, /v1/embeddings and /v1/completions only", up)
		}
	}
	if p.APIBase != "" {
		if strings.HasPrefix(p.APIBase, policy.EnvPrefix) {
			checkRef(v, pp+".api_base", p.APIBase)
		} else if u, err := url.Parse(p.APIBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add(pp+".api_base", "must be an absolute http(s) URL or an %sVAR reference", policy.EnvPrefix)
		}
	}
	checkRef(v, pp+".api_key", p.APIKey)
	checkRef(v, pp+".api_version", p.APIVersion)
	checkRef(v, pp+".organization", p.Organization)
	for _, f := range []struct{ name, val string }{
		{"aws_access_key_id", p.AWSAccessKeyID}, {"aws_secret_access_key", p.AWSSecretAccessKey},
		{"aws_session_token", p.AWSSessionToken}, {"aws_region_name", p.AWSRegionName},
		{"aws_role_name", p.AWSRoleName}, {"aws_session_name", p.AWSSessionName},
		{"vertex_project", p.VertexProject}, {"vertex_location", p.VertexLocation},
		{"vertex_credentials", p.VertexCredentials},
	} {
		checkRef(v, pp+"."+f.name, f.val)
	}
	if (p.AWSAccessKeyID == "") != (p.AWSSecretAccessKey == "") {
		// One without the other cannot sign; the AWS chain would be used
		// silently instead of the key the config names.
		v.add(pp+".aws_secret_access_key", "aws_access_key_id and aws_secret_access_key go together: set both, or neither to use the AWS credential chain")
	}
	if e := p.AWSBedrockRuntimeEndpoint; e != "" {
		if strings.HasPrefix(e, policy.EnvPrefix) {
			checkRef(v, pp+".aws_bedrock_runtime_endpoint", e)
		} else if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add(pp+".aws_bedrock_runtime_endpoint", "must be an absolute http(s) URL or an %sVAR reference", policy.EnvPrefix)
		}
	}
	nonNegative(v, pp+".timeout", p.Timeout)
	nonNegative(v, pp+".stream_timeout", p.StreamTimeout)
	if p.MaxRetries != nil && *p.MaxRetries < 0 {
		v.add(pp+".max_retries", "must be >= 0")
	} else if p.MaxRetries != nil && *p.MaxRetries > 0 {
		v.warn(pp+".max_retries", "not applied per deployment: a failed request is retried on the group's other deployments as router_settings.num_retries says")
	}
	nonNegativeInt(v, pp+".rpm", p.RPM)
	nonNegativeInt(v, pp+".tpm", p.TPM)
	nonNegative(v, pp+".weight", p.Weight)
	switch prov, _ := policy.SplitProvider(p.Model); {
	case p.APIBase != "" || p.MockResponse != "":
	case prov == policy.ProviderAzure && v.env("AZURE_API_BASE") == "":
		// Azure has no shared host; without api_base every call would
		// fail. LiteLLM (and each edge) falls back to AZURE_API_BASE.
		v.add(pp+".api_base", "is required for azure/ deployments (https://<resource>.openai.azure.com), or set AZURE_API_BASE")
	case prov != policy.ProviderAzure && policy.NeedsAPIBase(prov):
		v.add(pp+".api_base", "is required for %s/ deployments (the server's URL, e.g. http://localhost:8000/v1): the provider has no public endpoint", prov)
	}
	for _, k := range slices.Sorted(maps.Keys(p.ExtraBody)) {
		if reservedBodyParams[k] {
			v.add(pp+".extra_body."+k, "is part of the request itself (what is asked, of which model, in which form), not a default a deployment can set")
		}
	}
	if prov, _ := policy.SplitProvider(p.Model); prov == policy.ProviderAnthropic && p.MockResponse == "" {
		// The Anthropic translation refuses what it cannot honour; a
		// default it refuses would fail every request.
		for _, x := range []struct {
			name string
			set  bool
		}{{"seed", p.Seed != nil}, {"frequency_penalty", p.FrequencyPenalty != nil}, {"presence_penalty", p.PresencePenalty != nil}, {"reasoning_effort", p.ReasoningEffort != ""},
			{"thinking", p.Thinking != nil}} {
			if x.set {
				v.add(pp+"."+x.name, "is not a parameter anthropic/ takes: as a default it would fail every request")
			}
		}
		for _, k := range slices.Sorted(maps.Keys(p.ExtraBody)) {
			if !anthropicBodyParams[k] {
				v.add(pp+".extra_body."+k, "is not a parameter anthropic/ takes: as a default it would fail every request")
			}
		}
	}
	for i, tag := range p.Tags {
		tp := pp + ".tags[" + strconv.Itoa(i) + "]"
		if tag == "" {
			v.add(tp, "must be a non-empty string")
		} else {
			checkPadded(v, tp, tag)
		}
	}
	if t := p.Temperature; t != nil && !(*t >= 0 && *t <= 2) {
		v.add(pp+".temperature", "must be between 0 and 2")
	}
	if t := p.TopP; t != nil && !(*t >= 0 && *t <= 1) {
		v.add(pp+".top_p", "must be between 0 and 1")
	}
	for _, x := range []struct {
		name string
		n    *int64
	}{{"max_tokens", p.MaxTokens}, {"max_completion_tokens", p.MaxCompletionTokens}} {
		if x.n != nil && *x.n < 1 {
			v.add(pp+"."+x.name, "must be >= 1")
		}
	}
	for _, x := range []struct {
		name string
		f    *float64
	}{{"frequency_penalty", p.FrequencyPenalty}, {"presence_penalty", p.PresencePenalty}} {
		if x.f != nil && !(*x.f >= -2 && *x.f <= 2) {
			v.add(pp+"."+x.name, "must be between -2 and 2")
		}
	}
	nonNegative(v, pp+".input_cost_per_token", p.InputCostPerToken)
	nonNegative(v, pp+".output_cost_per_token", p.OutputCostPerToken)
	nonNegative(v, pp+".cache_read_input_token_cost", p.CacheReadInputTokenCost)
	nonNegative(v, pp+".cache_creation_input_token_cost", p.CacheCreationInputTokenCost)
	headers := slices.Sorted(maps.Keys(p.ExtraHeaders))
	for _, h := range headers {
		hp := pp + ".extra_headers." + h
		if !validHeaderName(h) {
			v.add(hp, "%q is not a valid HTTP header name", h)
		} else if strings.ContainsAny(p.ExtraHeaders[h], "\r\n\x00") {
			// A newline would let the value smuggle extra headers.
			v.add(hp, "must not contain CR, LF or NUL")
		}
	}

	mi := &e.ModelInfo
	ip := joinPath(path, "model_info")
	if strings.TrimSpace(mi.ID) != mi.ID {
		v.add(ip+".id", "must not start or end with whitespace")
	}
	for j, g := range mi.AccessGroups {
		gp := ip + ".access_groups[" + strconv.Itoa(j) + "]"
		if g == "" {
			v.add(gp, "must be a non-empty string")
		} else if strings.TrimSpace(g) != g {
			v.add(gp, "must not start or end with whitespace")
		}
	}
	nonNegativeInt(v, ip+".max_tokens", mi.MaxTokens)
	nonNegativeInt(v, ip+".max_input_tokens", mi.MaxInputTokens)
	nonNegativeInt(v, ip+".max_output_tokens", mi.MaxOutputTokens)
	nonNegative(v, ip+".input_cost_per_token", mi.InputCostPerToken)
	nonNegative(v, ip+".output_cost_per_token", mi.OutputCostPerToken)
	nonNegative(v, ip+".cache_read_input_token_cost", mi.CacheReadInputTokenCost)
	nonNegative(v, ip+".cache_creation_input_token_cost", mi.CacheCreationInputTokenCost)
}

func positive(f float64) bool { return f > 0 && !math.IsInf(f, 1) }

// nonNegative also rejects NaN and infinities, which YAML can spell (.nan,
// .inf) and which would break durations and the JSON of events.
func nonNegative(v *validator, path string, f float64) {
	if !(f >= 0) || math.IsInf(f, 1) {
		v.add(path, "must be a finite number >= 0")
	}
}

func nonNegativeInt(v *validator, path string, n int64) {
	if n < 0 {
		v.add(path, "must be >= 0")
	}
}

// checkRef validates an os.environ/ reference's variable name; literals
// pass, as any literal is a plausible secret.
func checkRef(v *validator, path, val string) {
	name, ok := strings.CutPrefix(val, policy.EnvPrefix)
	if !ok {
		return
	}
	if name == "" {
		v.add(path, "%s names no variable (use %sVAR)", policy.EnvPrefix, policy.EnvPrefix)
	} else if !validEnvName(name) {
		v.add(path, "%q is not a valid environment variable name", name)
	}
}

func validEnvName(s string) bool {
	return s != "" && !strings.ContainsAny(s, "=\x00 \t\r\n")
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// ID is the deployment id: model_info.id when given, else the first 16 hex
// characters of a sha256 over the entry's canonical JSON. Deriving it from
// content means a restart with an unchanged config yields the same ids (so
// nothing is re-published) and an edited entry gets a new one. The JSON
// uses the events' tags, which omit zero values, so a field added to the
// events later does not change existing ids.
func (e ModelEntry) ID() string {
	if e.ModelInfo.ID != "" {
		return e.ModelInfo.ID
	}
	canon := struct {
		ModelName     string             `json:"model_name"`
		LiteLLMParams events.ModelParams `json:"litellm_params"`
		ModelInfo     events.ModelInfo   `json:"model_info"`
	}{e.ModelName, e.LiteLLMParams, e.ModelInfo}
	b, err := json.Marshal(canon)
	if err != nil {
		// Only NaN or infinite numbers get here, which Validate rejects,
		// but the id must still be deterministic: print the values, with
		// the pointer replaced by what it points to.
		retries := "nil"
		if r := canon.LiteLLMParams.MaxRetries; r != nil {
			retries = strconv.Itoa(*r)
		}
		canon.LiteLLMParams.MaxRetries = nil
		b = fmt.Appendf(nil, "%v|%s", canon, retries)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// anthropicBodyParams are the OpenAI parameters the Anthropic translation
// takes (edge/proxy/anthropic_request.go), so extra_body may default them.
var anthropicBodyParams = map[string]bool{
	"temperature": true, "top_p": true, "top_k": true, "stop": true, "user": true, "tools": true,
	"tool_choice": true, "parallel_tool_calls": true, "max_tokens": true, "max_completion_tokens": true,
}

// reservedBodyParams are body keys extra_body may not default: the
// request always sets the first ones, the gateway reads the others
// (stream decides the response's form, tags route the request).
var reservedBodyParams = map[string]bool{
	"model": true, "messages": true, "input": true, "prompt": true, "stream": true, "stream_options": true, "tags": true,
}
