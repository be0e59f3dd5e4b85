package policy

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/events"
)

func tagged(id string, tags ...string) *events.Model {
	return &events.Model{ID: id, ModelName: "g", LiteLLMParams: events.ModelParams{Model: "openai/" + id, Tags: tags}}
}

func TestFilterByTags(t *testing.T) {
	s := build(t, tagged("free", "free"), tagged("paid", "paid", "premium"), tagged("untagged"))
	withDefault := build(t, tagged("free", "free", "default"), tagged("paid", "paid"))
	ids := func(ds []*Deployment) string {
		var out []string
		for _, d := range ds {
			out = append(out, d.ID)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		name string
		s    *Snapshot
		tags []string
		want string
	}{
		{"one tag", s, []string{"paid"}, "paid"},
		{"any of the tags", s, []string{"premium", "free"}, "free,paid"},
		{"no deployment has the tag", s, []string{"enterprise"}, ""},
		{"no tags, no default: all", s, nil, "free,paid,untagged"},
		{"no tags: the default ones", withDefault, nil, "free"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(FilterByTags(tc.s.Catalog().Resolve("g").Deployments, tc.tags)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestModelGroupAlias(t *testing.T) {
	rs := &events.RoutingSettings{ID: events.RoutingSettingsID, ModelGroupAlias: map[string]events.GroupAlias{
		"gpt-4": {Model: "gpt-4o"}, "secret": {Model: "gpt-4o", Hidden: true}, "dangling": {Model: "nope"},
		"gpt-4o-mini": {Model: "gpt-4o"}, // a deployment of that name wins
	}}
	s := build(t, dep("gpt-4o", "openai/gpt-4o", "grp"), dep("gpt-4o-mini", "openai/gpt-4o-mini"), rs)
	r := s.Catalog()
	for model, group := range map[string]string{"gpt-4": "gpt-4o", "secret": "gpt-4o", "dangling": "", "gpt-4o-mini": "gpt-4o-mini"} {
		rt := r.Resolve(model)
		if rt.Group != group || (group != "" && rt.Requested != model) {
			t.Errorf("%s: group %q (requested %q), want %q", model, rt.Group, rt.Requested, group)
		}
	}
	if !r.InGroup("grp", "gpt-4") {
		t.Error("an alias belongs to the access groups of the deployments serving it")
	}
	names := strings.Join(r.ModelNames(), ",")
	if !strings.Contains(names, "gpt-4,") || strings.Contains(names, "secret") || strings.Contains(names, "dangling") {
		t.Errorf("model names %s: want gpt-4 listed, hidden and dangling aliases not", names)
	}
}

func TestProviderKeyFromEnvironment(t *testing.T) {
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"OPENAI_API_KEY": "sk-env", "AZURE_API_BASE": "https://az.example.com", "AZURE_API_VERSION": "2024-06-01"}[k]
		return v, ok
	}
	s, err := SnapshotOf(env, dep("a", "openai/gpt-4o"), dep("b", "azure/dep"), dep("c", "groq/llama"),
		&events.Model{ID: "d", ModelName: "d", LiteLLMParams: events.ModelParams{Model: "openai/gpt-4o", APIKey: "sk-own"}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string) *Deployment { return s.Catalog().Resolve(name).Deployments[0] }
	if d := get("a"); d.APIKey != "sk-env" || d.Err != nil {
		t.Errorf("openai without api_key: key %q err %v", d.APIKey, d.Err)
	}
	if d := get("b"); d.APIBase != "https://az.example.com" || d.APIVersion != "2024-06-01" || d.Err != nil {
		t.Errorf("azure from env: base %q version %q err %v", d.APIBase, d.APIVersion, d.Err)
	}
	if d := get("c"); d.APIKey != "" || d.Err != nil {
		t.Errorf("groq without GROQ_API_KEY: key %q err %v", d.APIKey, d.Err)
	}
	if d := get("d"); d.APIKey != "sk-own" {
		t.Errorf("own api_key replaced: %q", d.APIKey)
	}
	s, _ = SnapshotOf(func(string) (string, bool) { return "", false }, dep("b", "azure/dep"))
	if d := s.Catalog().Resolve("b").Deployments[0]; d.Err == nil || !strings.Contains(d.Err.Error(), "AZURE_API_BASE") {
		t.Errorf("azure without api_base nor AZURE_API_BASE: err %v", d.Err)
	}
}
