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
// (add_litellm_data_to_request since v1.84.0): the client's tags (body
// tags, metadata.tags, the x-litellm-tags header) merged with the key's
// and the team's metadata tags, each tag once; allow_client_tags, the
// opt-in v1.84.0 reverted, changes nothing. Rows are named after
// LiteLLM's tests where one covers the case
// (tests/test_litellm/proxy/test_litellm_pre_call_utils.py).
func TestSpendEventCarriesRequestTags(t *testing.T) {
	e, spends := spendEdge(t)
	e.put(t, &events.Model{ID: "m1", ModelName: "m", LiteLLMParams: events.ModelParams{Model: "mock/m"}})
	e.put(t, &events.Team{TeamID: "tt", Metadata: map[string]any{"tags": []any{"team-tag", "shared", 7}}})
	e.put(t, &events.Team{TeamID: "open", Metadata: map[string]any{"tags": []any{"static-team-tag"}, "allow_client_tags": true}})
	const (
		plain    = "sk-key-plain-00000000001" // no tags of its own
		tagged   = "sk-key-tagged-0000000001" // key and team tags
		client   = "sk-key-client-0000000001" // key tags (and the inert allow_client_tags)
		teamOpen = "sk-key-team-open-0000001" // team tags (and the inert allow_client_tags)
	)
	e.put(t, &events.Key{Token: events.HashKey(plain)})
	e.put(t, &events.Key{Token: events.HashKey(tagged), TeamID: "tt", Metadata: map[string]any{"tags": []any{"key-tag", "shared"}}})
	e.put(t, &events.Key{Token: events.HashKey(client), Metadata: map[string]any{"tags": []any{"static-key-tag", "shared-tag"}, "allow_client_tags": true}})
	e.put(t, &events.Key{Token: events.HashKey(teamOpen), TeamID: "open"})
	testutil.Eventually(t, 10*time.Second, func() error {
		for _, k := range []string{plain, tagged, client, teamOpen} {
			if code, b := do(t, "POST", e.url+"/v1/chat/completions", bearer(k), `{"model":"m","messages":[{"role":"user","content":"hi"}]}`); code != 200 {
				return errors.New(b)
			}
		}
		return nil
	})
	for ev := nextSpend(t, spends); ev.KeyHash != events.HashKey(teamOpen); ev = nextSpend(t, spends) {
	}
	body := func(extra string) string {
		return `{"model":"m",` + extra + `"messages":[{"role":"user","content":"hi"}]}`
	}
	for _, tc := range []struct {
		name, key, body, header string
		want                    []string
	}{
		{"untagged", plain, body(""), "", nil},
		{"client_tags_without_allow_client_tags", plain, body(`"tags":["a"],"metadata":{"tags":["m"]},`), "h1", []string{"m", "a"}},
		{"client_tags_merged_with_static_tags", tagged, body(`"tags":["a"],`), "h1", []string{"key-tag", "shared", "team-tag", "a"}},
		{"header_tags_without_allow_client_tags", plain, body(""), "h1, h2", []string{"h1", "h2"}},
		{"key_and_team_tags", tagged, body(""), "", []string{"key-tag", "shared", "team-tag"}},
		{"test_add_litellm_data_to_request_unions_caller_tags_with_static_key_tags", client,
			body(`"tags":["caller-tag-1","caller-tag-2","shared-tag"],`), "", []string{"static-key-tag", "shared-tag", "caller-tag-1", "caller-tag-2"}},
		{"test_add_litellm_data_to_request_unions_caller_tags_with_static_team_tags", teamOpen,
			body(`"tags":["caller-tag"],`), "", []string{"static-team-tag", "caller-tag"}},
		{"test_add_litellm_data_to_request_unions_caller_header_tags_with_static_key_tags", client,
			body(""), " tenant:1681 , shared-tag,", []string{"static-key-tag", "shared-tag", "tenant:1681"}},
		{"metadata_tags_first", client, body(`"metadata":{"tags":["m"]},`), "", []string{"m", "static-key-tag", "shared-tag"}},
		{"body_tags_over_header", client, body(`"tags":["a"],`), "h1", []string{"static-key-tag", "shared-tag", "a"}},
		{"empty_body_tags_over_header", client, body(`"tags":[],`), "h1", []string{"static-key-tag", "shared-tag"}},
		{"body_tags_not_a_list", client, body(`"tags":"a",`), "h1", []string{"static-key-tag", "shared-tag", "h1"}},
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

// LiteLLM's test_merge_tags (_merge_tags): the request's tags, then those
// to add that are not there yet; a value that is not a list adds nothing.
func TestMergeTags(t *testing.T) {
	for _, tc := range []struct {
		name      string
		have, add []string
		want      []string
	}{
		{"request_tags_none", nil, []string{"tag1"}, []string{"tag1"}},
		{"tags_to_add_none", []string{"tag1"}, nil, []string{"tag1"}},
		{"both_unique", []string{"tag1", "tag2"}, []string{"tag3", "tag4"}, []string{"tag1", "tag2", "tag3", "tag4"}},
		{"overlapping", []string{"tag1", "tag2"}, []string{"tag2", "tag3"}, []string{"tag1", "tag2", "tag3"}},
		{"both_empty", []string{}, []string{}, []string{}},
		{"duplicate_tags_in_inputs", []string{"tag1"}, []string{"tag1", "tag2"}, []string{"tag1", "tag2"}},
	} {
		if got := mergeTags(tc.have, tc.add); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	// Non-list values ("not_a_list") are a JSON decoder's concern here:
	// metadataTags of a string is nothing to add.
	if got := mergeTags([]string{"tag1"}, metadataTags(map[string]any{"tags": "not_a_list"})); !slices.Equal(got, []string{"tag1"}) {
		t.Errorf("tags_to_add not a list: %q", got)
	}
}
