package gateway

import (
	"encoding/json"
	"errors"
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
