package policy

import (
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// Env resolves "os.environ/VAR" references. nil means the process
// environment.
type Env func(name string) (string, bool)

// EnvPrefix marks a secret given by reference in config and events.
const EnvPrefix = "os.environ/"

// ResolveSecret returns the value of a literal or an os.environ/ reference.
func ResolveSecret(v string, env Env) (string, error) {
	name, ok := strings.CutPrefix(v, EnvPrefix)
	if !ok {
		return v, nil
	}
	if env == nil {
		env = os.LookupEnv
	}
	val, found := env(name)
	if !found || val == "" {
		return "", &MissingEnvError{Name: name}
	}
	return val, nil
}

// Deployment is a model deployment compiled for forwarding.
type Deployment struct {
	ID        string
	ModelName string // the model group; may hold '*'
	// Provider is the litellm_params.model prefix ("openai", "mock", ...).
	Provider string
	// UpstreamModel is litellm_params.model without the provider; for a
	// wildcard deployment it may hold '*', replaced per request.
	UpstreamModel string
	APIBase       string
	// PublicAPIBase is APIBase as a client may see it (LiteLLM's
	// x-litellm-model-api-base): without userinfo, query and fragment,
	// where credentials hide (Azure's ?api-key=); "" when unset or not a URL.
	PublicAPIBase string
	// APIKey is the resolved provider secret. Never log or return it.
	APIKey        string
	APIVersion    string
	Organization  string
	Timeout       time.Duration
	StreamTimeout time.Duration
	MockResponse  string
	ExtraHeaders  map[string]string
	AccessGroups  []string
	// Weight, RPM and TPM weigh the deployment within its group under
	// simple-shuffle (weight first, else rpm, else tpm, as LiteLLM does).
	Weight   float64
	RPM, TPM int64
	// InputCostPerToken and OutputCostPerToken price usage (model_info wins
	// over litellm_params).
	InputCostPerToken  float64
	OutputCostPerToken float64
	// CacheReadCostPerToken and CacheCreationCostPerToken price the
	// prompt tokens read from and written to the provider's prompt cache
	// (see Cost and cachePrices).
	CacheReadCostPerToken     float64
	CacheCreationCostPerToken float64
	Wildcard                  bool
	// Mode is model_info.mode ("" when unset, except that OpenAI
	// embedding models are inferred as "embedding"); see Serves.
	Mode string
	// Tags are litellm_params.tags, for tag filtering.
	Tags []string
	// Defaults are the default request parameters, each a top-level key
	// and its JSON value, added to a request that does not set the key.
	Defaults []DefaultParam
	// Cloud credentials and placement, resolved (bedrock/, vertex_ai/).
	// The secret ones are never logged or returned, like APIKey.
	AWS    AWSParams
	Vertex VertexParams
	// Err says why this deployment cannot serve (e.g. a missing secret);
	// the catalog keeps it so the error is clear instead of "unknown model".
	Err   error
	Model *events.Model
}

func compileDeployment(m *events.Model, env Env) *Deployment {
	p := m.LiteLLMParams
	provider, upstream := SplitProvider(p.Model)
	d := &Deployment{
		ID: m.ID, ModelName: m.ModelName, Provider: provider, UpstreamModel: upstream,
		APIBase: strings.TrimRight(p.APIBase, "/"), APIVersion: p.APIVersion, Organization: p.Organization,
		Timeout:       seconds(p.Timeout),
		StreamTimeout: seconds(p.StreamTimeout),
		MockResponse:  p.MockResponse, ExtraHeaders: p.ExtraHeaders,
		Weight: p.Weight, RPM: p.RPM, TPM: p.TPM, Tags: p.Tags,
		AccessGroups:       m.ModelInfo.AccessGroups,
		InputCostPerToken:  firstNonZero(m.ModelInfo.InputCostPerToken, p.InputCostPerToken),
		OutputCostPerToken: firstNonZero(m.ModelInfo.OutputCostPerToken, p.OutputCostPerToken),
		Wildcard:           strings.Contains(m.ModelName, "*"),
		Mode:               inferMode(m.ModelInfo.Mode, upstream),
		Model:              m,
		AWS: AWSParams{AccessKeyID: p.AWSAccessKeyID, SecretAccessKey: p.AWSSecretAccessKey, SessionToken: p.AWSSessionToken,
			Region: p.AWSRegionName, RoleName: p.AWSRoleName, SessionName: p.AWSSessionName, RuntimeEndpoint: p.AWSBedrockRuntimeEndpoint},
		Vertex: VertexParams{Project: p.VertexProject, Location: p.VertexLocation, Credentials: p.VertexCredentials},
	}
	if provider == "" {
		d.Err = fmt.Errorf("deployment %s: litellm_params.model %q names no known provider", m.ID, p.Model)
	}
	if d.InputCostPerToken == 0 && d.OutputCostPerToken == 0 {
		// No prices configured: the list price of the base model or the
		// upstream model, if it is a common one. The mock provider, and a
		// deployment answering with mock_response (it never calls its
		// provider), are free unless priced explicitly.
		if provider != ProviderMock && p.MockResponse == "" {
			name := m.ModelInfo.BaseModel
			if name == "" {
				name = upstream
			}
			d.InputCostPerToken, d.OutputCostPerToken, _ = BuiltinPrice(name)
		}
	}
	priceName := m.ModelInfo.BaseModel
	if priceName == "" {
		priceName = upstream
	}
	d.CacheReadCostPerToken, d.CacheCreationCostPerToken = cachePrices(priceName, d.InputCostPerToken,
		firstNonZero(m.ModelInfo.CacheReadInputTokenCost, p.CacheReadInputTokenCost),
		firstNonZero(m.ModelInfo.CacheCreationInputTokenCost, p.CacheCreationInputTokenCost))
	if env == nil {
		env = os.LookupEnv
	}
	// As in LiteLLM, a deployment without api_key (api_base, api_version
	// for Azure) uses the provider's standard environment variable of the
	// process serving it, when that is set.
	if p.APIKey == "" {
		if name := ProviderKeyEnv(provider); name != "" {
			if _, ok := env(name); ok {
				p.APIKey = EnvPrefix + name
			}
		}
	}
	if provider == ProviderAzure {
		if d.APIBase == "" {
			d.APIBase = EnvPrefix + "AZURE_API_BASE"
		}
		if _, ok := env("AZURE_API_VERSION"); ok && d.APIVersion == "" {
			d.APIVersion = EnvPrefix + "AZURE_API_VERSION"
		}
	}
	d.Defaults = compileDefaults(p)
	if p.APIKey != "" {
		key, err := ResolveSecret(p.APIKey, env)
		if me := missingEnvOf(err); me != nil {
			me.Field = "litellm_params.api_key"
		}
		if err != nil {
			d.Err = fmt.Errorf("deployment %s: api_key: %w", m.ID, err)
		}
		d.APIKey = key
	}
	// Any of these may be an os.environ/ reference (Azure configs often
	// keep api_version there too); resolve each from this process's env.
	for _, f := range []struct {
		name string
		dst  *string
	}{{"api_base", &d.APIBase}, {"api_version", &d.APIVersion}, {"organization", &d.Organization},
		{"aws_access_key_id", &d.AWS.AccessKeyID}, {"aws_secret_access_key", &d.AWS.SecretAccessKey},
		{"aws_session_token", &d.AWS.SessionToken}, {"aws_region_name", &d.AWS.Region},
		{"aws_role_name", &d.AWS.RoleName}, {"aws_session_name", &d.AWS.SessionName},
		{"aws_bedrock_runtime_endpoint", &d.AWS.RuntimeEndpoint},
		{"vertex_project", &d.Vertex.Project}, {"vertex_location", &d.Vertex.Location},
		{"vertex_credentials", &d.Vertex.Credentials}} {
		v, err := ResolveSecret(*f.dst, env)
		if me := missingEnvOf(err); me != nil {
			me.Field = "litellm_params." + f.name
		}
		if err != nil {
			d.Err = fmt.Errorf("deployment %s: %s: %w", m.ID, f.name, err)
			continue
		}
		*f.dst = v
	}
	d.APIBase = strings.TrimRight(d.APIBase, "/")
	d.AWS.RuntimeEndpoint = strings.TrimRight(d.AWS.RuntimeEndpoint, "/")
	d.PublicAPIBase = PublicURL(d.APIBase)
	if d.PublicAPIBase == "" && provider == ProviderBedrock {
		d.PublicAPIBase = PublicURL(d.AWS.RuntimeEndpoint)
	}
	return d
}

// AWSParams are a bedrock/ deployment's AWS settings. Empty credentials
// mean the standard AWS chain (environment, shared profile, instance
// role); RoleName, when set, is assumed through STS with them.
type AWSParams struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Region                                     string
	RoleName, SessionName                      string
	// RuntimeEndpoint replaces https://bedrock-runtime.<region>.amazonaws.com.
	RuntimeEndpoint string
}

// VertexParams are a vertex_ai/ deployment's Google Cloud settings.
// Credentials is a service-account JSON document or a path to one; empty
// means Application Default Credentials.
type VertexParams struct {
	Project, Location, Credentials string
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

func firstNonZero(a, b float64) float64 {
	if a != 0 {
		return a
	}
	return b
}

// Catalog is the compiled model list: it maps requested model names to
// the deployments that serve them (a Route) and knows the access groups.
// It is derived from the snapshot's models and access groups, rebuilt only
// when one of those changes, and immutable.
type Catalog struct {
	byName map[string][]*Deployment
	// byID are the deployments that are no wildcard, by model_info.id: a
	// fallback may name one (LiteLLM's fallbacks to a deployment id).
	byID      map[string]*Deployment
	wildcards []*Deployment // most specific (longest literal prefix) first
	// groups are the explicit access-group objects.
	groups map[string]*events.AccessGroup
	// groupNames are all known group names: explicit and model_info ones.
	groupNames map[string]bool
	// aliases are router_settings.model_group_alias.
	aliases map[string]events.GroupAlias
	// nested are, per explicit group, the groups it holds, directly or
	// through others (LiteLLM's nested access groups, #28032), each once.
	nested map[string][]string
}

func buildCatalog(models map[string]*events.Model, groups map[string]*events.AccessGroup, env Env, rs *events.RoutingSettings) *Catalog {
	r := &Catalog{byName: map[string][]*Deployment{}, byID: map[string]*Deployment{}, groups: groups, groupNames: map[string]bool{}}
	if rs != nil {
		r.aliases = rs.ModelGroupAlias
	}
	ids := make([]string, 0, len(models))
	for id := range models {
		ids = append(ids, id)
	}
	sort.Strings(ids) // stable deployment order within a group
	for _, id := range ids {
		d := compileDeployment(models[id], env)
		for _, g := range d.AccessGroups {
			r.groupNames[g] = true
		}
		if d.Wildcard {
			r.wildcards = append(r.wildcards, d)
		} else {
			r.byName[d.ModelName] = append(r.byName[d.ModelName], d)
			r.byID[d.ID] = d
		}
	}
	// Sorted, so a deployment's groups come in the same order on every
	// edge and every rebuild.
	for _, g := range slices.Sorted(maps.Keys(groups)) {
		r.groupNames[g] = true
		for _, id := range groups[g].ModelIDs {
			// Clipped so the append copies: the deployment's slice is
			// the stored model's model_info.access_groups.
			if d := r.byID[id]; d != nil && !slices.Contains(d.AccessGroups, g) {
				d.AccessGroups = append(slices.Clip(d.AccessGroups), g)
			}
		}
	}
	r.nestGroups()
	sort.SliceStable(r.wildcards, func(i, j int) bool {
		return literalPrefix(r.wildcards[i].ModelName) > literalPrefix(r.wildcards[j].ModelName)
	})
	return r
}

func literalPrefix(p string) int {
	if i := strings.IndexByte(p, '*'); i >= 0 {
		return i
	}
	return len(p)
}

// Route is where a requested model goes.
type Route struct {
	// Requested is the model name the client sent.
	Requested string
	// Group is the matched model_name (possibly a wildcard pattern).
	Group       string
	Deployments []*Deployment
}

// Found reports whether any deployment serves the model.
func (r Route) Found() bool { return len(r.Deployments) > 0 }

// ResolveFallback finds a fallback: a model name as Resolve finds it, else
// the one deployment whose model_info.id it is (LiteLLM's router falls
// back to a deployment id too; a wildcard deployment has no one model to
// call and is not found by id).
func (r *Catalog) ResolveFallback(name string) Route {
	if rt := r.Resolve(name); rt.Found() {
		return rt
	}
	if d := r.byID[name]; d != nil {
		return Route{Requested: d.ModelName, Group: d.ModelName, Deployments: []*Deployment{d}}
	}
	return Route{Requested: name}
}

// Resolve finds the deployments for a requested model: an exact model_name
// first, then a model_group_alias (LiteLLM checks aliases before
// deployments, but a deployment named like an alias is what a config that
// has both means), then the provider-qualified name ("gpt-4o" ->
// "openai/gpt-4o"), then the most specific wildcard deployment group.
func (r *Catalog) Resolve(model string) Route {
	if ds := r.byName[model]; len(ds) > 0 {
		return Route{Requested: model, Group: model, Deployments: ds}
	}
	if a, ok := r.aliases[model]; ok && a.Model != model {
		if ds := r.byName[a.Model]; len(ds) > 0 {
			// Requested stays the alias: a wildcard target is not
			// possible here (byName has no wildcards), so the upstream
			// model is the deployment's own.
			return Route{Requested: model, Group: a.Model, Deployments: ds}
		}
	}
	if ds := r.byQualified(model); len(ds) > 0 {
		return Route{Requested: model, Group: ds[0].ModelName, Deployments: ds}
	}
	for i, d := range r.wildcards {
		if !matchModel(d.ModelName, model) {
			continue
		}
		// Every deployment sharing this pattern serves the group.
		end := i + 1
		for end < len(r.wildcards) && r.wildcards[end].ModelName == d.ModelName {
			end++
		}
		if end == i+1 {
			return Route{Requested: model, Group: d.ModelName, Deployments: r.wildcards[i:end]}
		}
		var ds []*Deployment
		for _, w := range r.wildcards[i:] {
			if w.ModelName == d.ModelName {
				ds = append(ds, w)
			}
		}
		return Route{Requested: model, Group: d.ModelName, Deployments: ds}
	}
	return Route{Requested: model}
}

func (r *Catalog) byQualified(model string) []*Deployment {
	if strings.IndexByte(model, '/') >= 0 {
		return nil
	}
	p := InferProvider(model)
	if p == "" {
		return nil
	}
	return r.byName[p+"/"+model]
}

// UpstreamModel is the model name sent to d's provider for a request.
func (d *Deployment) UpstreamModelFor(requested string) string {
	if !d.Wildcard || !strings.Contains(d.UpstreamModel, "*") {
		return d.UpstreamModel
	}
	_, bare := SplitProvider(requested)
	// "openai/*" with "openai/gpt-4" or "gpt-4": the star stands for the
	// part after the pattern's literal prefix.
	pat := d.ModelName
	lit := pat[:literalPrefix(pat)]
	captured := bare
	if strings.HasPrefix(requested, lit) {
		captured = requested[len(lit):]
	} else if _, after, ok := strings.Cut(lit, "/"); ok && strings.HasPrefix(bare, after) {
		captured = bare[len(after):]
	}
	if suffix := pat[literalPrefix(pat)+1:]; !strings.Contains(suffix, "*") {
		captured = strings.TrimSuffix(captured, suffix)
	}
	return strings.Replace(d.UpstreamModel, "*", captured, 1)
}

// IsGroup reports whether name is an access group.
func (r *Catalog) IsGroup(name string) bool { return r.groupNames[name] }

// childGroup reports whether an explicit group's member m names a group
// rather than a model: a name that is both a deployed model and a group is
// the model (LiteLLM's _classify_member_names).
func (r *Catalog) childGroup(m string) bool {
	return r.groupNames[m] && len(r.byName[m]) == 0
}

// nestGroups resolves, once per catalog, the groups each explicit group
// holds through its members, as LiteLLM's resolve_nested_groups does: depth
// first, each group once (a diamond is no cycle), a cycle (A holds B holds
// A, or A holds A) stops where it closes, and a member naming a group with
// neither models nor members adds nothing.
func (r *Catalog) nestGroups() {
	for name := range r.groups {
		seen := map[string]bool{name: true}
		var out []string
		var walk func(g *events.AccessGroup)
		walk = func(g *events.AccessGroup) {
			for _, m := range g.Models {
				if seen[m] || !r.childGroup(m) {
					continue
				}
				seen[m] = true
				out = append(out, m)
				if child := r.groups[m]; child != nil {
					walk(child)
				}
			}
		}
		walk(r.groups[name])
		if len(out) > 0 {
			if r.nested == nil {
				r.nested = map[string][]string{}
			}
			r.nested[name] = out
		}
	}
}

// InGroup reports whether a requested model belongs to an access group,
// directly or through a group it holds (nestGroups).
// Membership follows routing: the deployments a request for the model would
// go to decide. So a specific deployment's groups win over a wildcard that
// also matches ("openai/gpt-4o" in group B beats "openai/*" in group A), and
// a more specific wildcard wins over a broader one ("openai/o1-*" in
// restricted-models beats "openai/*" in default-models), which is what the
// "all models except o1" setup in LiteLLM's docs relies on.
func (r *Catalog) InGroup(group, model string) bool {
	if r.explicitMember(group, model) {
		return true
	}
	ds := r.Resolve(model).Deployments
	if deploymentsInGroup(ds, group) {
		return true
	}
	for _, child := range r.nested[group] {
		if r.explicitMember(child, model) || deploymentsInGroup(ds, child) {
			return true
		}
	}
	return false
}

// explicitMember reports whether model is a member, by name or wildcard,
// of the explicit group named group.
func (r *Catalog) explicitMember(group, model string) bool {
	g := r.groups[group]
	if g == nil {
		return false
	}
	for _, m := range g.Models {
		if m == model || (strings.IndexByte(m, '*') >= 0 && matchModel(m, model)) {
			return true
		}
	}
	return false
}

func deploymentsInGroup(ds []*Deployment, group string) bool {
	for _, d := range ds {
		if deploymentInGroup(d, group) {
			return true
		}
	}
	return false
}

func deploymentInGroup(d *Deployment, group string) bool {
	for _, g := range d.AccessGroups {
		if g == group {
			return true
		}
	}
	return false
}

// GroupNames lists every access group's name, sorted.
func (r *Catalog) GroupNames() []string {
	out := make([]string, 0, len(r.groupNames))
	for g := range r.groupNames {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// GroupModels lists the model names in a group (for /v1/models and admin
// checks): model_info members and explicit members.
func (r *Catalog) GroupModels(group string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(m string) {
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	for _, name := range r.ModelNames() {
		if r.InGroup(group, name) {
			add(name)
		}
	}
	// Explicit members not deployed (yet) are listed as named; the groups
	// a group holds are listed by their models, never by their names.
	for _, name := range append([]string{group}, r.nested[group]...) {
		if g := r.groups[name]; g != nil {
			for _, m := range g.Models {
				if !r.childGroup(m) {
					add(m)
				}
			}
		}
	}
	return out
}

// AliasTarget is the model group a router_settings.model_group_alias
// name stands for ("" when model is no alias).
func (r *Catalog) AliasTarget(model string) string {
	if a, ok := r.aliases[model]; ok && a.Model != model {
		return a.Model
	}
	return ""
}

// ModelNames lists every model_name (model groups), wildcards included,
// and the model_group_alias names that are not hidden, sorted.
func (r *Catalog) ModelNames() []string {
	seen := map[string]bool{}
	var out []string
	for n := range r.byName {
		seen[n] = true
		out = append(out, n)
	}
	for n, a := range r.aliases {
		if !a.Hidden && !seen[n] && len(r.byName[a.Model]) > 0 {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, d := range r.wildcards {
		if !seen[d.ModelName] {
			seen[d.ModelName] = true
			out = append(out, d.ModelName)
		}
	}
	sort.Strings(out)
	return out
}

// PublicURL is raw without what may carry a secret: userinfo
// (https://user:pass@host), query (?api-key=...) and fragment; "" when raw
// is empty or does not parse as an absolute URL, so nothing unchecked is
// shown. LiteLLM drops only the query.
func PublicURL(raw string) string {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return strings.TrimRight(u.String(), "/")
}
