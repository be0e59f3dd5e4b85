package policy

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

// build applies objects as events in order and returns the snapshot.
func build(t testing.TB, objs ...any) *Snapshot {
	t.Helper()
	s, err := SnapshotOf(nil, objs...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dep(name, model string, groups ...string) *events.Model {
	return &events.Model{ID: name + "|" + model, ModelName: name,
		LiteLLMParams: events.ModelParams{Model: model}, ModelInfo: events.ModelInfo{AccessGroups: groups}}
}

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		pat, s string
		want   bool
	}{
		{"openai/*", "openai/gpt-4", true},
		{"openai/*", "openai/", true},
		{"openai/*", "anthropic/claude", false},
		{"bedrock/us.*", "bedrock/us.anthropic.claude-3", true},
		{"bedrock/us.*", "bedrock/usa", false}, // '.' is literal, unlike LiteLLM's regex
		{"*", "anything/at/all", true},
		{"openai/o1-*", "openai/o1-mini", true},
		{"openai/o1-*", "openai/gpt-4o", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"gpt-4", "gpt-4", true},
		{"gpt-4", "gpt-4o", false},
	}
	for i, c := range cases {
		if got := globMatch(c.pat, "", c.s); got != c.want {
			t.Errorf("%d: globMatch(%q, %q) = %v, want %v", i, c.pat, c.s, got, c.want)
		}
	}
	if !globMatch("openai/*", "openai/", "gpt-4") {
		t.Error("prefix form must match like the concatenation")
	}
}

// TestAllowedReferenceTable is the model-access table of the reference
// (litellm-auth-behaviour.md section 4), one row per rule.
func TestAllowedReferenceTable(t *testing.T) {
	s := build(t,
		dep("gpt-4", "openai/fake", "beta-models"),
		dep("fireworks-llama-v3-70b-instruct", "fireworks_ai/accounts/fireworks/models/llama-v3-70b-instruct", "beta-models"),
		dep("gpt-4o", "openai/gpt-4o"),
		dep("openai/*", "openai/*", "public-openai-models", "default-models"),
		dep("openai/gpt-4o", "openai/gpt-4o", "private-openai-models"),
		dep("openai/o1-*", "openai/o1-*", "restricted-models"),
		dep("anthropic/*", "anthropic/*", "claude-group"),
		dep("bedrock/us.*", "bedrock/us.*"),
		&events.AccessGroup{AccessGroupID: "explicit-group", Models: []string{"azure-gpt-3.5", "mistral/*"}},
	)
	cases := []struct {
		name    string
		allowed []string
		model   string
		want    bool
	}{
		{"empty list is unrestricted", nil, "anything", true},
		{"star is unrestricted", []string{"*"}, "gpt-4o", true},
		{"all-proxy-models is unrestricted", []string{"all-proxy-models"}, "gpt-4o", true},
		{"exact name", []string{"gpt-3.5-turbo", "gpt-4"}, "gpt-4", true},
		{"exact name miss", []string{"gpt-3.5-turbo", "gpt-4"}, "gpt-4o", false},
		{"access group member", []string{"beta-models"}, "gpt-4", true},
		{"access group member 2", []string{"beta-models"}, "fireworks-llama-v3-70b-instruct", true},
		{"access group non-member", []string{"beta-models"}, "gpt-4o", false},
		{"only non-matching groups is not empty", []string{"beta-models", "claude-group"}, "openai/o1-mini", false},
		{"wildcard pattern in list", []string{"openai/*"}, "openai/gpt-4", true},
		{"wildcard with provider inference", []string{"openai/*"}, "gpt-4", true},
		{"wildcard provider inference anthropic", []string{"anthropic/*"}, "claude-3-5-sonnet-20240620", true},
		{"wildcard does not cross providers", []string{"openai/*"}, "claude-3-5-sonnet", false},
		{"bedrock us prefix", []string{"bedrock/us.*"}, "bedrock/us.anthropic.claude-3-haiku", true},
		{"bedrock us prefix other region", []string{"bedrock/us.*"}, "bedrock/eu.anthropic.claude-3-haiku", false},
		{"group of wildcard deployment", []string{"default-models"}, "openai/gpt-4", true},
		{"group of wildcard deployment, bare name (PR 37492)", []string{"default-models"}, "gpt-4-turbo", true},
		{"more specific wildcard wins: default excludes o1", []string{"default-models"}, "openai/o1-mini", false},
		{"restricted-models group", []string{"restricted-models"}, "openai/o1-mini", true},
		{"restricted-models group excludes others", []string{"restricted-models"}, "openai/gpt-4", false},
		{"specific deployment beats wildcard: public denies gpt-4o", []string{"public-openai-models"}, "openai/gpt-4o", false},
		{"specific deployment beats wildcard: public allows mini", []string{"public-openai-models"}, "openai/gpt-4o-mini", true},
		{"specific deployment beats wildcard: private allows gpt-4o", []string{"private-openai-models"}, "openai/gpt-4o", true},
		{"explicit access group", []string{"explicit-group"}, "azure-gpt-3.5", true},
		{"explicit access group wildcard member", []string{"explicit-group"}, "mistral/mistral-large", true},
		{"explicit access group miss", []string{"explicit-group"}, "gpt-4", false},
	}
	for _, c := range cases {
		if got := s.Allowed(c.allowed, c.model); got != c.want {
			t.Errorf("%s: Allowed(%v, %q) = %v, want %v", c.name, c.allowed, c.model, got, c.want)
		}
	}
}

func TestCheckKey(t *testing.T) {
	past := time.Now().Add(-time.Hour)
	future := time.Now().Add(time.Hour)
	tok := func(i int) string { return events.HashKey("sk-test-" + strconv.Itoa(i)) }
	s := build(t,
		dep("gpt-4", "mock/gpt-4", "beta-models"),
		dep("gpt-4o", "mock/gpt-4o"),
		dep("azure-gpt-3.5", "mock/azure-gpt-3.5"),
		dep("openai/*", "openai/*"),
		&events.Team{TeamID: "t-dev", Models: []string{"azure-gpt-3.5"}},
		&events.Team{TeamID: "t-beta", Models: []string{"beta-models"}},
		&events.Team{TeamID: "t-all", Models: []string{"all-proxy-models"}},
		&events.Team{TeamID: "t-blocked", Blocked: true},
		&events.Team{TeamID: "t-openai", Models: []string{"openai/*"}},
		&events.User{UserID: "u-limited", Models: []string{"gpt-4"}},
		&events.User{UserID: "u-teamonly", Models: []string{"no-default-models"}},
		&events.Team{TeamID: "t-broke", BudgetFlag: events.BudgetFlag{BudgetExceeded: true}},
		&events.User{UserID: "u-broke", BudgetFlag: events.BudgetFlag{BudgetExceeded: true}},
		&events.User{UserID: "u-viewer", UserRole: ViewerRole},
		&events.Team{TeamID: "t-4o", Models: []string{"gpt-4o"}},
		&events.User{UserID: "u-4o", Models: []string{"gpt-4o"}},
		&events.RoutingSettings{ID: events.RoutingSettingsID, ModelGroupAlias: map[string]events.GroupAlias{"gpt-4-alias": {Model: "gpt-4o"}}},
		&events.Org{OrganizationID: "org-4o", Models: []string{"gpt-4o"}},
		&events.Team{TeamID: "t-org-4o", OrganizationID: "org-4o"},
		&events.Team{TeamID: "t-aliases", Models: []string{"gpt-4o", "azure-gpt-3.5"}, ModelAliases: map[string]string{"fast": "azure-gpt-3.5", "smart": "gpt-4"}},
		&events.AccessGroup{AccessGroupID: "g-4o", Models: []string{"gpt-4o"}},
		&events.Team{TeamID: "t-groups", Models: []string{"azure-gpt-3.5"}, AccessGroupIDs: []string{"g-4o"}},
	)
	cases := []struct {
		name  string
		key   events.Key
		model string
		want  *apierror.Error // nil: allowed
	}{
		{"unrestricted key", events.Key{}, "gpt-4o", nil},
		{"key models allow", events.Key{Models: []string{"gpt-4"}}, "gpt-4", nil},
		{"key models deny", events.Key{Models: []string{"gpt-4"}}, "gpt-4o", apierror.KeyModelDenied},
		{"blocked key", events.Key{Blocked: true}, "gpt-4", apierror.KeyBlocked},
		{"expired key", events.Key{Expires: &past}, "gpt-4", apierror.ExpiredKey},
		{"not yet expired", events.Key{Expires: &future}, "gpt-4", nil},
		{"team restricts", events.Key{TeamID: "t-dev"}, "gpt-4", apierror.TeamModelDenied},
		{"team allows", events.Key{TeamID: "t-dev"}, "azure-gpt-3.5", nil},
		{"team access group", events.Key{TeamID: "t-beta"}, "gpt-4", nil},
		{"team access group deny", events.Key{TeamID: "t-beta"}, "gpt-4o", apierror.TeamModelDenied},
		{"team all-proxy-models (LiteLLM 8662)", events.Key{TeamID: "t-all"}, "gpt-4o", nil},
		{"team wildcard (LiteLLM 5227)", events.Key{TeamID: "t-openai"}, "gpt-4-turbo", nil},
		{"blocked team", events.Key{TeamID: "t-blocked"}, "gpt-4", apierror.TeamBlocked},
		{"deleted team", events.Key{TeamID: "t-gone"}, "gpt-4", apierror.Unauthenticated},
		{"all-team-models expands", events.Key{TeamID: "t-dev", Models: []string{"all-team-models"}}, "azure-gpt-3.5", nil},
		{"all-team-models bounded by team", events.Key{TeamID: "t-dev", Models: []string{"all-team-models"}}, "gpt-4", apierror.KeyModelDenied},
		{"all-team-models without team is unrestricted", events.Key{Models: []string{"all-team-models"}}, "gpt-4o", nil},
		{"key narrower than team", events.Key{TeamID: "t-all", Models: []string{"gpt-4"}}, "gpt-4o", apierror.KeyModelDenied},
		{"personal key checks user models", events.Key{UserID: "u-limited"}, "gpt-4o", apierror.UserModelDenied},
		{"personal key user allows", events.Key{UserID: "u-limited"}, "gpt-4", nil},
		{"no-default-models user", events.Key{UserID: "u-teamonly"}, "gpt-4", apierror.UserModelDenied},
		{"team key ignores user list", events.Key{UserID: "u-teamonly", TeamID: "t-dev"}, "azure-gpt-3.5", nil},
		{"key over budget", events.Key{BudgetFlag: events.BudgetFlag{BudgetExceeded: true}}, "gpt-4", apierror.BudgetExceeded},
		{"team over budget", events.Key{TeamID: "t-broke"}, "gpt-4", apierror.BudgetExceeded},
		{"user over budget", events.Key{UserID: "u-broke"}, "gpt-4", apierror.BudgetExceeded},
		{"alias target allowed", events.Key{Models: []string{"gpt-4"}, Aliases: map[string]string{"my-model": "gpt-4"}}, "my-model", nil},
		// LiteLLM's order (reference section 2): the key's models come
		// before expiry, the key's budget and common_checks (team blocked,
		// team models, budgets), so a request wrong in several ways gets
		// the key-model refusal.
		{"expired key, model outside the key's", events.Key{Expires: &past, Models: []string{"gpt-4"}}, "gpt-4o", apierror.KeyModelDenied},
		{"blocked team, model outside the key's", events.Key{TeamID: "t-blocked", Models: []string{"gpt-4"}}, "gpt-4o", apierror.KeyModelDenied},
		{"key over budget, model outside the key's", events.Key{BudgetFlag: events.BudgetFlag{BudgetExceeded: true}, Models: []string{"gpt-4"}}, "gpt-4o", apierror.KeyModelDenied},
		{"expired key of a blocked team", events.Key{Expires: &past, TeamID: "t-blocked"}, "gpt-4", apierror.ExpiredKey},
		{"key over budget in a blocked team", events.Key{BudgetFlag: events.BudgetFlag{BudgetExceeded: true}, TeamID: "t-blocked"}, "gpt-4", apierror.BudgetExceeded},
		{"blocked team over budget", events.Key{TeamID: "t-broke", Models: []string{"gpt-4o"}}, "gpt-4", apierror.KeyModelDenied},
		// A model_group_alias passes a models check when its target does
		// (LiteLLM's _can_object_call_model tries both).
		{"model_group_alias on key models", events.Key{Models: []string{"gpt-4o"}}, "gpt-4-alias", nil},
		{"model_group_alias on team models", events.Key{TeamID: "t-4o"}, "gpt-4-alias", nil},
		{"model_group_alias on user models", events.Key{UserID: "u-4o"}, "gpt-4-alias", nil},
		{"model_group_alias does not widen", events.Key{Models: []string{"gpt-4"}}, "gpt-4-alias", apierror.KeyModelDenied},
		{"model_group_alias on org models", events.Key{TeamID: "t-org-4o"}, "gpt-4-alias", nil},
		{"model_group_alias on org models, key's own org", events.Key{OrganizationID: "org-4o"}, "gpt-4-alias", nil},
		{"org models still refuse", events.Key{TeamID: "t-org-4o"}, "gpt-4", apierror.OrgModelDenied},
		{"view-only admin calls no model", events.Key{UserID: "u-viewer"}, "gpt-4", apierror.Forbidden},
		// A team's model_aliases: the alias passes the key's models
		// (LiteLLM's _check_model_access_helper, step 2) and goes to its
		// target, which the team's models must still allow.
		{"team alias", events.Key{TeamID: "t-aliases"}, "fast", nil},
		{"team alias passes the key's models", events.Key{TeamID: "t-aliases", Models: []string{"gpt-4o"}}, "fast", nil},
		{"team alias target outside the team's models", events.Key{TeamID: "t-aliases"}, "smart", apierror.TeamModelDenied},
		{"team alias of another team", events.Key{TeamID: "t-dev"}, "fast", apierror.TeamModelDenied},
		{"key alias before the team's", events.Key{TeamID: "t-aliases", Aliases: map[string]string{"fast": "gpt-4o"}}, "fast", nil},
		// access_group_ids: LiteLLM's fallback after the models list.
		{"key access group", events.Key{Models: []string{"gpt-4"}, AccessGroupIDs: []string{"g-4o"}}, "gpt-4o", nil},
		{"key access group does not widen further", events.Key{Models: []string{"gpt-4"}, AccessGroupIDs: []string{"g-4o"}}, "azure-gpt-3.5", apierror.KeyModelDenied},
		{"key access group id that is no group", events.Key{Models: []string{"gpt-4"}, AccessGroupIDs: []string{"gpt-4o"}}, "gpt-4o", apierror.KeyModelDenied},
		{"team access group", events.Key{TeamID: "t-groups"}, "gpt-4o", nil},
		{"team access group, other model", events.Key{TeamID: "t-groups"}, "gpt-4", apierror.TeamModelDenied},
	}
	for i, c := range cases {
		k := c.key
		k.Token = tok(i)
		g, err := s.CheckKey(&k, c.model, time.Now())
		switch {
		case c.want == nil && err != nil:
			t.Errorf("%s: unexpected denial: %v", c.name, err)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%s: got %v, want %s", c.name, err, c.want.Type)
		case c.want == nil && c.model != "" && !g.Route.Found() && c.model != "my-model" && c.model != "gpt-4-alias":
			t.Errorf("%s: allowed but no route for %q", c.name, c.model)
		}
		if want := map[string]string{"team alias": "azure-gpt-3.5", "team alias passes the key's models": "azure-gpt-3.5", "key alias before the team's": "gpt-4o"}[c.name]; want != "" && g.Model != want {
			t.Errorf("%s: routed to %q, want %q", c.name, g.Model, want)
		}
	}
}

func TestResolveAndUpstreamModel(t *testing.T) {
	s := build(t,
		dep("openai/*", "openai/*"),
		dep("openai/gpt-4o", "openai/gpt-4o-2024-08-06"),
		dep("my-llama", "hosted_vllm/meta-llama/Llama-3-8b"),
		dep("mock/*", "mock/*"),
	)
	cases := []struct{ req, group, upstream string }{
		{"openai/gpt-4", "openai/*", "gpt-4"},
		{"gpt-4", "openai/*", "gpt-4"},
		{"gpt-4o", "openai/gpt-4o", "gpt-4o-2024-08-06"},
		{"openai/gpt-4o", "openai/gpt-4o", "gpt-4o-2024-08-06"},
		{"my-llama", "my-llama", "meta-llama/Llama-3-8b"},
		{"mock/echo", "mock/*", "echo"},
		{"unknown-model", "", ""},
	}
	for _, c := range cases {
		r := s.Catalog().Resolve(c.req)
		if r.Group != c.group {
			t.Errorf("Resolve(%q).Group = %q, want %q", c.req, r.Group, c.group)
			continue
		}
		if !r.Found() {
			continue
		}
		if got := r.Deployments[0].UpstreamModelFor(c.req); got != c.upstream {
			t.Errorf("UpstreamModelFor(%q) = %q, want %q", c.req, got, c.upstream)
		}
	}
}

func TestVisibleModelsExpandsSentinels(t *testing.T) {
	s := build(t,
		dep("gpt-4", "mock/gpt-4", "beta-models"),
		dep("gpt-4o", "mock/gpt-4o"),
		&events.Team{TeamID: "t", Models: []string{"beta-models"}},
	)
	k := &events.Key{Token: events.HashKey("sk-x"), TeamID: "t", Models: []string{"all-team-models"}}
	got := s.VisibleModels(k)
	if len(got) != 1 || got[0] != "gpt-4" {
		t.Fatalf("VisibleModels = %v, want [gpt-4]", got)
	}
}

func TestSecretResolution(t *testing.T) {
	env := func(n string) (string, bool) {
		if n == "OPENAI_API_KEY" {
			return "sk-upstream", true
		}
		return "", false
	}
	m := dep("a", "openai/gpt-4")
	m.LiteLLMParams.APIKey = "os.environ/OPENAI_API_KEY"
	m2 := dep("b", "openai/gpt-4")
	m2.LiteLLMParams.APIKey = "os.environ/MISSING"
	s, err := SnapshotOf(env, m, m2)
	if err != nil {
		t.Fatal(err)
	}
	if d := s.Catalog().Resolve("a").Deployments[0]; d.APIKey != "sk-upstream" || d.Err != nil {
		t.Fatalf("resolved %+v", d)
	}
	if d := s.Catalog().Resolve("b").Deployments[0]; d.Err == nil {
		t.Fatal("a missing env var must mark the deployment unusable")
	}

	// The cloud providers' secrets resolve the same way, at the edge.
	env = func(n string) (string, bool) {
		v, ok := map[string]string{"AWS_SECRET": "aws-secret-value", "SA_JSON": `{"type":"service_account"}`}[n]
		return v, ok
	}
	br := dep("br", "bedrock/amazon.nova-pro-v1:0")
	br.LiteLLMParams.AWSAccessKeyID, br.LiteLLMParams.AWSSecretAccessKey = "AKIA0", "os.environ/AWS_SECRET"
	br.LiteLLMParams.AWSRegionName, br.LiteLLMParams.AWSBedrockRuntimeEndpoint = "eu-central-1", "http://fake/"
	vx := dep("vx", "vertex_ai/gemini-2.5-pro")
	vx.LiteLLMParams.VertexCredentials, vx.LiteLLMParams.VertexProject = "os.environ/SA_JSON", "p"
	bad := dep("bad", "bedrock/amazon.nova-pro-v1:0")
	bad.LiteLLMParams.AWSSessionToken = "os.environ/MISSING"
	s, err = SnapshotOf(env, br, vx, bad)
	if err != nil {
		t.Fatal(err)
	}
	if d := s.Catalog().Resolve("br").Deployments[0]; d.Err != nil || d.AWS != (AWSParams{AccessKeyID: "AKIA0",
		SecretAccessKey: "aws-secret-value", Region: "eu-central-1", RuntimeEndpoint: "http://fake"}) || d.InputCostPerToken != 0.8e-6 {
		t.Errorf("bedrock: %+v %v", d.AWS, d.Err)
	}
	if d := s.Catalog().Resolve("vx").Deployments[0]; d.Err != nil || d.Vertex.Credentials != `{"type":"service_account"}` || d.Vertex.Project != "p" {
		t.Errorf("vertex: %+v %v", d.Vertex, d.Err)
	}
	if d := s.Catalog().Resolve("bad").Deployments[0]; d.Err == nil || !strings.Contains(d.Err.Error(), "aws_session_token") {
		t.Errorf("missing aws_session_token variable: %v", d.Err)
	}
}

// BenchmarkKeyAuthAndDecision is the per-request policy cost of a virtual
// key: digest lookup plus the model decision (key, team, route).
func BenchmarkKeyAuthAndDecision(b *testing.B) {
	s := build(b,
		dep("gpt-4o", "mock/gpt-4o"),
		dep("openai/*", "openai/*", "default"),
		&events.Team{TeamID: "t", Models: []string{"gpt-4o", "default"}},
		&events.Key{Token: events.HashKey("sk-bench-key-0000000000"), TeamID: "t", Models: []string{"gpt-4o"}},
	)
	benchCheckKey(b, s)
}

// benchCheckKey times the lookup of the bench key and CheckKey for gpt-4o.
func benchCheckKey(b *testing.B, s *Snapshot) {
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		k := s.Key(KeyHash(sha256Sum("sk-bench-key-0000000000")))
		if _, err := s.CheckKey(k, "gpt-4o", now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKeyAuthAndDecisionTeamMember: the same for a key whose user
// is a member of its team with a max_budget_in_team (the member budget
// check finds the member among others without allocating).
func BenchmarkKeyAuthAndDecisionTeamMember(b *testing.B) {
	budget := 5.0
	members := []events.Member{{UserEmail: "x@example.com", Role: "user"}, {UserID: "other", Role: "admin"},
		{UserID: "u", Role: "user", MaxBudgetInTeam: &budget, BudgetID: "b-u"}}
	s := build(b,
		dep("gpt-4o", "mock/gpt-4o"),
		&events.User{UserID: "u"},
		&events.Team{TeamID: "t", Models: []string{"gpt-4o"}, MembersWithRoles: members},
		&events.Key{Token: events.HashKey("sk-bench-key-0000000000"), TeamID: "t", UserID: "u", Models: []string{"gpt-4o"}},
	)
	benchCheckKey(b, s)
}

func TestPrices(t *testing.T) {
	cases := []struct {
		model   string
		in, out float64
		ok      bool
	}{
		{"gpt-4o", 2.5e-6, 10e-6, true},
		{"openai/gpt-4o-2024-08-06", 2.5e-6, 10e-6, true},
		{"gpt-4o-mini", 0.15e-6, 0.6e-6, true},
		{"gpt-4", 30e-6, 60e-6, true},
		{"anthropic/claude-3-5-sonnet-20240620", 3e-6, 15e-6, true},
		{"my-own-model", 0, 0, false},
		{"gpt-4.1", 2e-6, 8e-6, true},
		{"bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0", 3e-6, 15e-6, true},
		{"bedrock/us.anthropic.claude-3-7-sonnet-20250219-v1:0", 3e-6, 15e-6, true},
		{"bedrock/arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.amazon.nova-pro-v1:0", 0.8e-6, 3.2e-6, true},
		{"bedrock/mistral.mistral-large-2402-v1:0", 4e-6, 12e-6, true},
		{"gemini/gemini-2.5-flash", 0.3e-6, 2.5e-6, true},
		{"gemini/gemini-2.5-flash-lite", 0.1e-6, 0.4e-6, true},
		{"vertex_ai/gemini-2.5-pro", 1.25e-6, 10e-6, true},
		{"vertex_ai/claude-sonnet-4@20250514", 3e-6, 15e-6, true},
		{"bedrock/unknown.model-v1", 0, 0, false},
	}
	for _, c := range cases {
		in, out, ok := BuiltinPrice(c.model)
		if in != c.in || out != c.out || ok != c.ok {
			t.Errorf("%s: %v %v %v", c.model, in, out, ok)
		}
	}
	s := build(t, dep("a", "openai/gpt-4o-mini"), dep("b", "mock/gpt-4o"))
	if d := s.Catalog().Resolve("a").Deployments[0]; d.InputCostPerToken != 0.15e-6 {
		t.Errorf("builtin price not applied: %v", d.InputCostPerToken)
	}
	if d := s.Catalog().Resolve("b").Deployments[0]; d.InputCostPerToken != 0 {
		t.Error("mock deployments are free unless priced")
	}
	m := dep("c", "openai/gpt-4o")
	m.ModelInfo.InputCostPerToken, m.ModelInfo.OutputCostPerToken = 1e-6, 2e-6
	if d := build(t, m).Catalog().Resolve("c").Deployments[0]; d.InputCostPerToken != 1e-6 || d.OutputCostPerToken != 2e-6 {
		t.Error("configured prices must win over the table")
	}
}

// TestCheckKeyMessages pins the refusal texts LiteLLM's clients grep.
func TestCheckKeyMessages(t *testing.T) {
	s := build(t, dep("gpt-4", "mock/gpt-4"),
		&events.User{UserID: "u-teamonly", Models: []string{"no-default-models"}},
		&events.User{UserID: "u-viewer", UserRole: ViewerRole},
		&events.Team{TeamID: "t-blocked", Blocked: true})
	for _, c := range []struct {
		key  events.Key
		want string
	}{
		{events.Key{UserID: "u-teamonly"}, "User not allowed to access model. No default model access, only team models allowed. Tried to access gpt-4"},
		{events.Key{UserID: "u-viewer"}, "user not allowed to access this OpenAI routes, role= proxy_admin_viewer"},
		{events.Key{TeamID: "t-blocked"}, "Team=t-blocked is blocked. Update via `/team/unblock` if your admin."},
	} {
		k := c.key
		k.Token = events.HashKey("sk-msg")
		if _, err := s.CheckKey(&k, "gpt-4", time.Now()); err == nil || apierror.From(err).Message != c.want {
			t.Errorf("key %+v: got %v, want %q", c.key, err, c.want)
		}
	}
}

// TestKeyStanding: the checks the admin API runs for a key, whatever the
// route; its budget is not one of them (LiteLLM's test_key_over_budget).
func TestKeyStanding(t *testing.T) {
	past := time.Now().Add(-time.Hour)
	s := build(t, &events.Team{TeamID: "t-blocked", Blocked: true}, &events.Team{TeamID: "t-ok"})
	for _, c := range []struct {
		name string
		key  events.Key
		want *apierror.Error
	}{
		{"good", events.Key{TeamID: "t-ok"}, nil},
		{"blocked", events.Key{Blocked: true}, apierror.KeyBlocked},
		{"expired", events.Key{Expires: &past}, apierror.ExpiredKey},
		{"over budget", events.Key{BudgetFlag: events.BudgetFlag{BudgetExceeded: true}}, nil},
		{"blocked team", events.Key{TeamID: "t-blocked"}, apierror.TeamBlocked},
		{"deleted team", events.Key{TeamID: "t-gone"}, apierror.Unauthenticated},
	} {
		k := c.key
		k.Token = events.HashKey("sk-standing")
		err := s.KeyStanding(&k, time.Now())
		if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

// TestMemberBudgetIndex: a membership's budget is found by user id, or by
// the user's email for a member named only by email; a team event
// replaces its members' entries (a budget removed, a member dropped, the
// team deleted), and a published snapshot never sees a later change.
func TestMemberBudgetIndex(t *testing.T) {
	five := 5.0
	team := func(members ...events.Member) *events.Team {
		return &events.Team{TeamID: "ml", Models: []string{}, MembersWithRoles: members}
	}
	alice := events.Member{UserID: "alice", Role: "user", MaxBudgetInTeam: &five, BudgetID: "b-a"}
	carol := events.Member{UserEmail: "Carol@Example.com", Role: "user", MaxBudgetInTeam: &five, BudgetID: "b-c"}
	flagged := events.Member{UserID: "dave", Role: "user", BudgetID: "b-d", BudgetFlag: events.BudgetFlag{BudgetExceeded: true}}
	s1 := build(t, &events.User{UserID: "alice"}, &events.User{UserID: "bob"}, &events.User{UserID: "carol", UserEmail: "carol@example.com"},
		&events.User{UserID: "dave"}, team(alice, events.Member{UserID: "bob", Role: "admin"}, carol, flagged))
	budgetOf := func(s *Snapshot, user string) string {
		if m := s.MemberBudget(s.Team("ml"), user); m != nil {
			return m.BudgetID
		}
		return ""
	}
	for user, want := range map[string]string{"alice": "b-a", "bob": "", "carol": "b-c", "dave": "b-d", "nobody": ""} {
		if got := budgetOf(s1, user); got != want {
			t.Errorf("%s: budget %q, want %q", user, got, want)
		}
	}
	// Alice's budget removed, Carol dropped: their entries go.
	s2, err := s1.With(nil, team(events.Member{UserID: "alice", Role: "user", BudgetID: "b-a"}, flagged))
	if err != nil {
		t.Fatal(err)
	}
	if a, c, d := budgetOf(s2, "alice"), budgetOf(s2, "carol"), budgetOf(s2, "dave"); a != "" || c != "" || d != "b-d" {
		t.Errorf("after the update: alice %q, carol %q, dave %q", a, c, d)
	}
	if a, c := budgetOf(s1, "alice"), budgetOf(s1, "carol"); a != "b-a" || c != "b-c" {
		t.Errorf("the earlier snapshot changed: alice %q, carol %q", a, c)
	}
	// The team deleted: nothing left.
	b := s2.Edit(nil)
	typ := events.TypeFor(events.KindTeam, events.ActionDeleted)
	info, _ := events.Lookup(typ)
	if err := b.Apply(events.Event{Envelope: events.Envelope{Type: typ}, Seq: s2.Seq() + 1, Info: info, Object: team()}); err != nil {
		t.Fatal(err)
	}
	s3 := b.Snapshot()
	if len(s3.budgeted.byUser) != 0 || len(s3.budgeted.email) != 0 || budgetOf(s2, "dave") != "b-d" {
		t.Errorf("after the delete: index %v %v; the earlier snapshot's dave %q", s3.budgeted.byUser, s3.budgeted.email, budgetOf(s2, "dave"))
	}
	// The same builder goes on (as the policy follower's does): what it
	// applies next is not in the snapshot it published.
	typ = events.TypeFor(events.KindTeam, events.ActionUpserted)
	info, _ = events.Lookup(typ)
	if err := b.Apply(events.Event{Envelope: events.Envelope{Type: typ}, Seq: s3.Seq() + 1, Info: info, Object: team(alice)}); err != nil {
		t.Fatal(err)
	}
	if s4 := b.Snapshot(); budgetOf(s4, "alice") != "b-a" || len(s3.budgeted.byUser) != 0 {
		t.Errorf("builder reused: new snapshot alice %q, published snapshot's index %v", budgetOf(s4, "alice"), s3.budgeted.byUser)
	}
}

// TestMemberLimits: each of a member's limits is its own, else its team's
// member default; the budget's window is team_member_budget_duration;
// members of a team with defaults are found by the index (by email too),
// and lose their limits with the defaults.
func TestMemberLimits(t *testing.T) {
	one, five := 1.0, 5.0
	r2, t9 := int64(2), int64(9)
	defaults := events.MemberDefaults{TeamMemberBudget: &one, TeamMemberBudgetDuration: "1d", TeamMemberRPMLimit: &r2}
	team := func(d events.MemberDefaults) *events.Team {
		return &events.Team{TeamID: "ml", Models: []string{}, MemberDefaults: d, MembersWithRoles: []events.Member{
			{UserID: "alice", Role: "user"},
			{UserID: "bob", Role: "user", MaxBudgetInTeam: &five, TPMLimit: &t9},
			{UserEmail: "carol@example.com", Role: "user"},
		}}
	}
	users := []any{&events.User{UserID: "alice"}, &events.User{UserID: "bob"}, &events.User{UserID: "carol", UserEmail: "Carol@example.com"}}
	s1 := build(t, append(users, team(defaults))...)
	s2, err := s1.With(nil, team(events.MemberDefaults{}))
	if err != nil {
		t.Fatal(err)
	}
	num := func(f *float64) any {
		if f == nil {
			return nil
		}
		return *f
	}
	inum := func(n *int64) any {
		if n == nil {
			return nil
		}
		return *n
	}
	for _, tc := range []struct {
		snap             *Snapshot
		user             string
		member           bool
		budget, rpm, tpm any
		duration         string
	}{
		{s1, "alice", true, 1.0, int64(2), nil, "1d"},
		{s1, "bob", true, 5.0, int64(2), int64(9), "1d"},
		{s1, "carol", true, 1.0, int64(2), nil, "1d"},
		{s1, "nobody", false, nil, nil, nil, ""},
		{s2, "alice", false, nil, nil, nil, ""},
		{s2, "bob", true, 5.0, nil, int64(9), ""},
		{s2, "carol", false, nil, nil, nil, ""},
	} {
		l := tc.snap.MemberLimits(tc.snap.Team("ml"), tc.user)
		if (l.Member != nil) != tc.member || num(l.MaxBudget) != tc.budget || inum(l.RPM) != tc.rpm || inum(l.TPM) != tc.tpm || l.Duration != tc.duration {
			t.Errorf("%s (defaults %v): %+v", tc.user, tc.snap == s1, l)
		}
	}
}
