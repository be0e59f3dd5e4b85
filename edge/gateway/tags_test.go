package gateway

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// LiteLLM's general_settings.reject_clientside_metadata_tags
// (_reject_clientside_metadata_tags_check in its common_checks): a body
// whose metadata object has a tags key is a 400 naming metadata.tags;
// every other body is served, and with the setting off so is that one.
func TestRejectClientsideMetadataTags(t *testing.T) {
	e := startEdge(t, true)
	e.put(t, &events.Model{ID: "m1", ModelName: "m", LiteLLMParams: events.ModelParams{Model: "mock/m"}})
	body := func(extra string) string {
		return `{"model":"m",` + extra + `"messages":[{"role":"user","content":"hi"}]}`
	}
	tagged := body(`"metadata":{"tags":["paid"]},`)
	testutil.Eventually(t, 10*time.Second, func() error {
		if code, b := do(t, "POST", e.url+"/v1/chat/completions", bearer("sk-master-test-key"), tagged); code != 200 {
			return errors.New(b)
		}
		return nil
	})
	e.put(t, &events.RoutingSettings{ID: events.RoutingSettingsID, RejectClientsideMetadataTags: true})
	testutil.Eventually(t, 10*time.Second, func() error {
		if !e.live.Load().Routing().RejectClientTags {
			return errors.New("not applied")
		}
		return nil
	})
	for _, tc := range []struct {
		name, body string
		refused    bool
	}{
		{"metadata_tags", tagged, true},
		{"metadata_tags_null", body(`"metadata":{"tags":null},`), true},
		{"metadata_tags_empty", body(`"metadata":{"tags":[]},`), true},
		{"metadata_without_tags", body(`"metadata":{"team":"a"},`), false},
		{"metadata_not_an_object", body(`"metadata":"tags",`), false},
		{"top_level_tags", body(`"tags":["paid"],`), false},
		{"no_metadata", body(""), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, b := do(t, "POST", e.url+"/v1/chat/completions", bearer("sk-master-test-key"), tc.body)
			if !tc.refused {
				if code != 200 {
					t.Fatalf("%d %s, want it served", code, b)
				}
				return
			}
			var env struct {
				Error struct {
					Message, Type, Code string
					Param               *string
				}
			}
			if err := json.Unmarshal([]byte(b), &env); err != nil {
				t.Fatal(b)
			}
			want := "Client-side 'metadata.tags' not allowed in request. 'reject_clientside_metadata_tags'=True. Tags can only be set via API key metadata."
			if code != 400 || env.Error.Type != "bad_request_error" || env.Error.Param == nil || *env.Error.Param != "metadata.tags" || env.Error.Message != want {
				t.Fatalf("%d %s, want LiteLLM's 400 naming metadata.tags", code, b)
			}
		})
	}
}

// Each spend row carries the request's tags as LiteLLM's request_tags
// (add_request_tag_to_metadata, then _merge_tags with the key's and the
// team's metadata tags): the body's tags win over metadata.tags and the
// x-litellm-tags header; key then team tags are appended, each once.
func TestSpendEventCarriesRequestTags(t *testing.T) {
	e, spends := spendEdge(t)
	e.put(t, &events.Model{ID: "m1", ModelName: "m", LiteLLMParams: events.ModelParams{Model: "mock/m"}})
	e.put(t, &events.Team{TeamID: "tt", Metadata: map[string]any{"tags": []any{"team-tag", "shared", 7}}})
	const tagged, plain = "sk-key-tagged-0000000001", "sk-key-plain-00000000001"
	e.put(t, &events.Key{Token: events.HashKey(tagged), TeamID: "tt", Metadata: map[string]any{"tags": []any{"key-tag", "shared"}}})
	e.put(t, &events.Key{Token: events.HashKey(plain)})
	testutil.Eventually(t, 10*time.Second, func() error {
		if code, b := do(t, "POST", e.url+"/v1/chat/completions", bearer(plain), `{"model":"m","messages":[{"role":"user","content":"hi"}]}`); code != 200 {
			return errors.New(b)
		}
		if code, b := do(t, "POST", e.url+"/v1/chat/completions", bearer(tagged), `{"model":"m","messages":[{"role":"user","content":"hi"}]}`); code != 200 {
			return errors.New(b)
		}
		return nil
	})
	for ev := nextSpend(t, spends); ev.KeyHash != events.HashKey(tagged); ev = nextSpend(t, spends) {
	}
	body := func(extra string) string {
		return `{"model":"m",` + extra + `"messages":[{"role":"user","content":"hi"}]}`
	}
	for _, tc := range []struct {
		name, key, body, header string
		want                    []string
	}{
		{"untagged", plain, body(""), "", nil},
		{"body_tags", plain, body(`"tags":["a","b"],`), "", []string{"a", "b"}},
		{"metadata_tags", plain, body(`"metadata":{"tags":["m"]},`), "", []string{"m"}},
		{"body_tags_over_metadata", plain, body(`"tags":["a"],"metadata":{"tags":["m"]},`), "", []string{"a"}},
		{"header_tags", plain, body(""), " h1, h2 ,", []string{"h1", "h2"}},
		{"body_tags_over_header", plain, body(`"tags":["a"],`), "h1", []string{"a"}},
		{"tags_not_a_list", plain, body(`"tags":"a",`), "", nil},
		{"key_and_team_tags", tagged, body(""), "", []string{"key-tag", "shared", "team-tag"}},
		{"request_then_key_and_team_tags", tagged, body(`"tags":["shared","x"],`), "", []string{"shared", "x", "key-tag", "team-tag"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := bearer(tc.key)
			if tc.header != "" {
				h["x-litellm-tags"] = tc.header
			}
			if code, b := do(t, "POST", e.url+"/v1/chat/completions", h, tc.body); code != 200 {
				t.Fatalf("%d %s", code, b)
			}
			if ev := nextSpend(t, spends); !slices.Equal(ev.RequestTags, tc.want) || (tc.want == nil && ev.RequestTags != nil) {
				t.Fatalf("request_tags %q, want %q", ev.RequestTags, tc.want)
			}
		})
	}
}
