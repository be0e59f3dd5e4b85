package api

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

// TestRedactModel: /model/info never shows a literal provider secret
// (API key, AWS secret and session token, a service account's JSON);
// os.environ/ references and non-secret settings stay visible.
func TestRedactModel(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   events.ModelParams
		want events.ModelParams
	}{
		{"literal secrets",
			events.ModelParams{Model: "bedrock/m", APIKey: "sk-literal", AWSAccessKeyID: "AKIA0", AWSSecretAccessKey: "secret",
				AWSSessionToken: "token", AWSRegionName: "us-east-1", VertexCredentials: ` {"type":"service_account","private_key":"x"}`},
			events.ModelParams{Model: "bedrock/m", APIKey: "[REDACTED]", AWSAccessKeyID: "AKIA0", AWSSecretAccessKey: "[REDACTED]",
				AWSSessionToken: "[REDACTED]", AWSRegionName: "us-east-1", VertexCredentials: "[REDACTED]"}},
		{"references and paths",
			events.ModelParams{Model: "vertex_ai/m", APIKey: "os.environ/K", AWSSecretAccessKey: "os.environ/S", VertexCredentials: "/etc/gcp/sa.json"},
			events.ModelParams{Model: "vertex_ai/m", APIKey: "os.environ/K", AWSSecretAccessKey: "os.environ/S", VertexCredentials: "/etc/gcp/sa.json"}},
	} {
		m := &events.Model{ID: "x", ModelName: "x", LiteLLMParams: tc.in}
		got := redactModel(m)["litellm_params"].(events.ModelParams)
		if got.Model != tc.want.Model || got.APIKey != tc.want.APIKey || got.AWSAccessKeyID != tc.want.AWSAccessKeyID ||
			got.AWSSecretAccessKey != tc.want.AWSSecretAccessKey || got.AWSSessionToken != tc.want.AWSSessionToken ||
			got.AWSRegionName != tc.want.AWSRegionName || got.VertexCredentials != tc.want.VertexCredentials {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
		if m.LiteLLMParams.APIKey != tc.in.APIKey || m.LiteLLMParams.VertexCredentials != tc.in.VertexCredentials {
			t.Errorf("%s: the stored model was changed", tc.name)
		}
	}
}

// An access group with an empty models entry is refused before anything
// is written, naming the entry, as for keys and teams.
func TestAccessGroupEmptyModelEntry(t *testing.T) {
	var got error
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error { got = err; return nil }})
	app.Post("/", (&API{}).accessGroupPut(false))
	req := httptest.NewRequest("POST", "/", strings.NewReader(`{"access_group_id":"g","models":["gpt-4o"," "]}`))
	req.Header.Set("Content-Type", "application/json")
	if _, err := app.Test(req); err != nil {
		t.Fatal(err)
	}
	var e *apierror.Error
	if !errors.As(got, &e) || e.Status != 400 || e.Param != "models" || e.Message != "models: entry 1 is empty" {
		t.Fatalf("error = %#v", got)
	}
}
