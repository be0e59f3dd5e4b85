package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testutil"
)

// orgConfig is spendConfig's priced model and two unpriced ones.
const orgConfig = spendConfig + `  - model_name: cheap
    litellm_params: {model: mock/cheap}
  - model_name: other
    litellm_params: {model: mock/other}
`

// expectError checks a response is an OpenAI envelope with this status,
// type or code, and param, and that the message holds want.
func expectError(t *testing.T, what string, code int, raw []byte, status int, typeOrCode, param, want string) {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(raw, &e); err != nil || e.Error.Message == "" {
		t.Fatalf("%s: not an OpenAI error envelope: %d %s", what, code, raw)
	}
	p := ""
	if e.Error.Param != nil {
		p = *e.Error.Param
	}
	if code != status || (e.Error.Type != typeOrCode && e.Error.Code != typeOrCode) || p != param || !strings.Contains(e.Error.Message, want) {
		t.Fatalf("%s: %d %s; want %d %s param=%q message containing %q", what, code, raw, status, typeOrCode, param, want)
	}
}

// refusedEverywhere waits until every edge refuses the request the way
// expectError describes.
func refusedEverywhere(t *testing.T, edges []*proc, key string, body map[string]any, status int, typeOrCode, param, want string) {
	t.Helper()
	for _, e := range edges {
		testutil.Eventually(t, 10*time.Second, func() error {
			code, raw := callRaw(t, "POST", e.url("/v1/chat/completions"), key, body)
			if code != status {
				return fmt.Errorf("%s: %d %s", e.name, code, raw)
			}
			return nil
		})
		code, raw := callRaw(t, "POST", e.url("/v1/chat/completions"), key, body)
		expectError(t, e.name, code, raw, status, typeOrCode, param, want)
	}
}

func chatAs(model, user string) map[string]any {
	b := chat(model)
	b["user"] = user
	return b
}

// TestOrganizationsAndCustomers drives organizations and end users the
// way a LiteLLM user would, every admin call through an edge's relay and
// every chat at both edges: an org bounds its teams' models, all-org-models
// expands to them, the org's budget stops every key of every team in it,
// and end users are blocked and budgeted by the request's "user".
func TestOrganizationsAndCustomers(t *testing.T) {
	sys := startSystem(t, orgConfig, 2)
	a, b := sys.edges[0], sys.edges[1]
	edges := sys.edges
	admin := func(method, path string, body any) (int, []byte) {
		t.Helper()
		return callRaw(t, method, a.url(path), masterKey, body)
	}
	mustAdmin := func(method, path string, body any) []byte {
		t.Helper()
		code, raw := admin(method, path, body)
		if code != 200 {
			t.Fatalf("%s %s: %d %s", method, path, code, raw)
		}
		return raw
	}

	// Organizations.
	var org struct {
		OrganizationID string   `json:"organization_id"`
		Models         []string `json:"models"`
		Budget         struct {
			MaxBudget float64 `json:"max_budget"`
		} `json:"litellm_budget_table"`
	}
	if err := json.Unmarshal(mustAdmin("POST", "/organization/new", map[string]any{
		"organization_id": "acme", "organization_alias": "Acme", "models": []string{"priced", "cheap"}, "max_budget": 0.0002,
	}), &org); err != nil || org.OrganizationID != "acme" || org.Budget.MaxBudget != 0.0002 || len(org.Models) != 2 {
		t.Fatalf("/organization/new: %+v %v", org, err)
	}
	bad := []struct {
		name, method, path string
		body               any
		status             int
		code, param, want  string
	}{
		{"unknown org on a team", "POST", "/team/new", map[string]any{"organization_id": "nope"}, 400, "bad_request", "organization_id", "Organization doesn't exist in db. Organization=nope"},
		{"unknown org on a key", "POST", "/key/generate", map[string]any{"organization_id": "nope"}, 400, "bad_request", "organization_id", "Organization doesn't exist"},
		{"team model outside the org", "POST", "/team/new", map[string]any{"organization_id": "acme", "models": []string{"other"}}, 400, "bad_request", "models", `"other"`},
		{"unknown member role", "POST", "/organization/member_add", map[string]any{"organization_id": "acme", "member": []map[string]any{{"role": "superuser", "user_id": "mallory"}}}, 400, "bad_request", "member.role", "superuser"},
		{"unknown role on update", "PATCH", "/organization/member_update", map[string]any{"organization_id": "acme", "user_id": "alice", "role": "owner"}, 400, "bad_request", "role", "org_admin"},
		{"org without alias", "POST", "/organization/new", map[string]any{"models": []string{}}, 400, "missing_param", "organization_alias", "organization_alias"},
		{"unknown org info", "GET", "/organization/info?organization_id=nope", nil, 404, "not_found", "", "Organization doesn't exist"},
		{"bad region", "POST", "/customer/new", map[string]any{"user_id": "c", "allowed_model_region": "mars"}, 400, "bad_request", "allowed_model_region", "mars"},
		{"customer without id", "POST", "/customer/new", map[string]any{"alias": "x"}, 400, "missing_param", "user_id", "user_id"},
	}
	for _, c := range bad {
		code, raw := admin(c.method, c.path, c.body)
		expectError(t, c.name, code, raw, c.status, c.code, c.param, c.want)
	}
	mustAdmin("POST", "/team/new", map[string]any{"team_id": "acme-ml", "organization_id": "acme", "models": []string{"all-org-models"}})
	mustAdmin("POST", "/team/new", map[string]any{"team_id": "everything", "models": []string{"all-team-models"}})
	mustAdmin("POST", "/organization/member_add", map[string]any{"organization_id": "acme", "member": []map[string]any{{"role": "org_admin", "user_id": "alice"}, {"user_id": "bob"}}})
	mustAdmin("PATCH", "/organization/member_update", map[string]any{"organization_id": "acme", "user_id": "bob", "role": "internal_user_viewer"})
	mustAdmin("DELETE", "/organization/member_delete", map[string]any{"organization_id": "acme", "user_id": "alice"})
	var info struct {
		Members []struct {
			UserID   string `json:"user_id"`
			UserRole string `json:"user_role"`
		} `json:"members"`
		Teams []struct {
			TeamID string `json:"team_id"`
		} `json:"teams"`
	}
	_ = json.Unmarshal(mustAdmin("GET", "/organization/info?organization_id=acme", nil), &info)
	if len(info.Members) != 1 || info.Members[0].UserID != "bob" || info.Members[0].UserRole != "internal_user_viewer" || len(info.Teams) != 1 || info.Teams[0].TeamID != "acme-ml" {
		t.Fatalf("/organization/info: %+v", info)
	}
	var bobInfo struct {
		UserInfo struct {
			OrganizationID string `json:"organization_id"`
		} `json:"user_info"`
	}
	if code := call(t, "GET", a.url("/user/info?user_id=bob"), masterKey, nil, &bobInfo); code != 200 {
		t.Fatalf("member_add did not create user bob: %d", code)
	}

	// Model access: all-org-models on the key and the team; all-team-models
	// on a team is every proxy model.
	orgKey := generateKey(t, b, map[string]any{"team_id": "acme-ml", "models": []string{"all-org-models"}})
	allKey := generateKey(t, b, map[string]any{"team_id": "everything"})
	for _, e := range edges {
		expectChat(t, e, orgKey, "cheap", 200, "")
		expectChat(t, e, orgKey, "other", 403, "key_model_access_denied")
		expectChat(t, e, allKey, "other", 200, "")
	}

	// The org's budget: spend of the team's key rolls up to the org, which
	// then refuses at both edges.
	crossed := false
	for i := 0; i < 100 && !crossed; i++ {
		_, ok := chatUsage(t, a, orgKey, false, i)
		crossed = !ok
	}
	refusedEverywhere(t, edges, orgKey, chat("cheap"), 400, "budget_exceeded", "", "Organization=acme")
	// The edges refuse on their local view, before the tracker has
	// counted the crossing request: its total follows.
	testutil.Eventually(t, 10*time.Second, func() error {
		var spent struct {
			Spend float64 `json:"spend"`
		}
		_ = json.Unmarshal(mustAdmin("GET", "/organization/info?organization_id=acme", nil), &spent)
		if spent.Spend < 0.0002 {
			return fmt.Errorf("org spend %.6f below the budget it crossed", spent.Spend)
		}
		return nil
	})
	expectChat(t, b, allKey, "cheap", 200, "") // a team outside the org is not affected

	// End users: blocked, then over budget; the "user" of the request.
	mustAdmin("POST", "/customer/new", map[string]any{"user_id": "cust-1", "alias": "Customer One", "max_budget": 0.0001})
	mustAdmin("POST", "/customer/block", map[string]any{"user_ids": []string{"cust-2"}})
	refusedEverywhere(t, edges, allKey, chatAs("cheap", "cust-2"), 400, "end_user_blocked", "user", "User blocked from making LLM API Calls. User=cust-2")
	mustAdmin("POST", "/customer/unblock", map[string]any{"user_ids": []string{"cust-2"}})
	for _, e := range edges {
		if code, raw := callRaw(t, "POST", e.url("/v1/chat/completions"), allKey, chatAs("cheap", "cust-2")); code != 200 {
			t.Fatalf("%s: unblocked end user refused: %d %s", e.name, code, raw)
		}
	}
	for i := 0; i < 100; i++ {
		code, _ := callRaw(t, "POST", a.url("/v1/chat/completions"), allKey, chatAs("priced", "cust-1"))
		if code != 200 {
			break
		}
	}
	refusedEverywhere(t, edges, allKey, chatAs("cheap", "cust-1"), 400, "budget_exceeded", "user", "End User=cust-1")
	if code, raw := callRaw(t, "POST", b.url("/v1/chat/completions"), allKey, chatAs("cheap", "cust-3")); code != 200 {
		t.Fatalf("another end user refused: %d %s", code, raw)
	}
	testutil.Eventually(t, 10*time.Second, func() error { // the tracker follows the edges' refusal
		var cust struct {
			UserID string  `json:"user_id"`
			Alias  string  `json:"alias"`
			Spend  float64 `json:"spend"`
		}
		_ = json.Unmarshal(mustAdmin("GET", "/customer/info?end_user_id=cust-1", nil), &cust)
		if cust.Alias != "Customer One" || cust.Spend < 0.0001 {
			return fmt.Errorf("/customer/info: %+v", cust)
		}
		return nil
	})
	var list []map[string]any
	_ = json.Unmarshal(mustAdmin("GET", "/customer/list", nil), &list)
	if len(list) != 2 {
		t.Fatalf("/customer/list: %d customers, want cust-1 and cust-2", len(list))
	}

	// rpm limits of an org and of an end user count across both edges.
	mustAdmin("POST", "/organization/new", map[string]any{"organization_id": "slow", "organization_alias": "Slow", "rpm_limit": 2})
	mustAdmin("POST", "/team/new", map[string]any{"team_id": "slow-team", "organization_id": "slow"})
	slowKey := generateKey(t, a, map[string]any{"team_id": "slow-team"})
	mustAdmin("POST", "/customer/new", map[string]any{"user_id": "cust-slow", "rpm_limit": 2})
	for _, c := range []struct {
		key, user, obj string
	}{{slowKey, "", "org:slow"}, {allKey, "cust-slow", "end_user:cust-slow"}} {
		for i := range 2 {
			if code, raw := callRaw(t, "POST", a.url("/v1/chat/completions"), c.key, chatAs("cheap", c.user)); code != 200 {
				t.Fatalf("%s: request %d within the limit refused: %d %s", c.obj, i, code, raw)
			}
		}
		refusedEverywhere(t, edges, c.key, chatAs("cheap", c.user), 429, "rate_limit_error", "", c.obj)
	}

	// Deleting the org takes its teams and their keys with it.
	mustAdmin("DELETE", "/organization/delete", map[string]any{"organization_ids": []string{"acme"}})
	for _, e := range edges {
		expectChat(t, e, orgKey, "cheap", http.StatusUnauthorized, "")
	}
	mustAdmin("POST", "/customer/delete", map[string]any{"user_ids": []string{"cust-1"}})
	if code, raw := callRaw(t, "POST", a.url("/v1/chat/completions"), allKey, chatAs("cheap", "cust-1")); code != 200 {
		t.Fatalf("deleted customer's record still applies: %d %s", code, raw)
	}
}
