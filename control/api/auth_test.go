package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/control/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

const testMaster = "sk-test-master-0000000000"

// do sends one request to app with cred and returns the status and the
// decoded body.
func do(t *testing.T, app *fiber.App, method, path, cred string, body any) (int, map[string]any) {
	t.Helper()
	code, raw := send(t, app, method, path, cred, body)
	var out map[string]any
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	} else {
		out = map[string]any{"raw": string(raw)}
	}
	return code, out
}

// send sends one request to app with cred and returns the status and the
// raw body.
func send(t *testing.T, app *fiber.App, method, path, cred string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, r)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+cred)
	resp, err := app.Test(req, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func errMessage(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

// TestVirtualKeyCallers: what a virtual key may do on the admin API follows
// LiteLLM (reference section 5): its user's role decides, its standing is
// checked on every route, the info routes are open and scoped, and a
// management route refused says who asked.
func TestVirtualKeyCallers(t *testing.T) {
	_, js := testutil.NewJetStream(t)
	st := storetest.New(t, js)
	app := New(st, Options{MasterKey: testMaster})
	newKey := func(body map[string]any) string {
		t.Helper()
		code, out := do(t, app, "POST", "/key/generate", testMaster, body)
		if code != 200 {
			t.Fatalf("/key/generate %v: %d %v", body, code, out)
		}
		return out["key"].(string)
	}
	for _, u := range []map[string]any{
		{"user_id": "boss", "user_role": "proxy_admin"},
		{"user_id": "auditor", "user_role": "proxy_admin_viewer"},
		{"user_id": "dev", "user_role": "internal_user"},
	} {
		if code, out := do(t, app, "POST", "/user/new", testMaster, u); code != 200 {
			t.Fatalf("/user/new: %d %v", code, out)
		}
	}
	for _, team := range []map[string]any{
		{"team_id": "t-dev", "members_with_roles": []map[string]any{{"user_id": "dev", "role": "user"}}},
		{"team_id": "t-other"},
		{"team_id": "t-blocked"},
	} {
		if code, out := do(t, app, "POST", "/team/new", testMaster, team); code != 200 {
			t.Fatalf("/team/new: %d %v", code, out)
		}
	}
	boss, auditor := newKey(map[string]any{"user_id": "boss"}), newKey(map[string]any{"user_id": "auditor"})
	dev, devToo := newKey(map[string]any{"user_id": "dev", "team_id": "t-dev"}), newKey(map[string]any{"user_id": "dev"})
	other := newKey(map[string]any{"team_id": "t-other"})
	blockedTeam := newKey(map[string]any{"team_id": "t-blocked"})
	expiring := newKey(map[string]any{"duration": "1s", "key_alias": "short-lived"})
	if code, out := do(t, app, "POST", "/team/block", testMaster, map[string]any{"team_id": "t-blocked"}); code != 200 {
		t.Fatalf("/team/block: %d %v", code, out)
	}

	// A proxy_admin user's key is an admin; a viewer reads and writes nothing.
	if code, out := do(t, app, "POST", "/team/new", boss, map[string]any{"team_id": "t-boss"}); code != 200 {
		t.Errorf("proxy_admin user's key on /team/new: %d %v", code, out)
	}
	code, out := do(t, app, "POST", "/team/new", auditor, map[string]any{"team_id": "t-viewer"})
	if want := "user not allowed to access this route, role= proxy_admin_viewer. Trying to access: /team/new"; code != 403 || errMessage(out) != want {
		t.Errorf("viewer on /team/new: %d %q, want 403 %q", code, errMessage(out), want)
	}
	code, out = do(t, app, "POST", "/key/generate", other, map[string]any{})
	if want := "Only proxy admin can be used to generate, delete, update info for new keys/users/teams. Route=/key/generate. Your role=None. Your user_id=None"; code != 401 || errMessage(out) != want {
		t.Errorf("plain key on /key/generate: %d %q, want 401 %q", code, errMessage(out), want)
	}
	if code, out := do(t, app, "POST", "/user/update", auditor, map[string]any{"user_id": "auditor", "user_email": "a@example.com"}); code != 200 {
		t.Errorf("viewer updating its own user_email: %d %v", code, out)
	}
	for _, tc := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"user_id": "auditor", "user_role": "proxy_admin"}, "user not allowed to access this route, role= proxy_admin_viewer. Trying to access: /user/update and updating invalid param: user_role. only user_email and password can be updated"},
		{map[string]any{"user_id": "dev", "user_email": "x@example.com"}, "user not allowed to access this route, role= proxy_admin_viewer. Trying to access: /user/update"},
	} {
		if code, out := do(t, app, "POST", "/user/update", auditor, tc.body); code != 403 || errMessage(out) != tc.want {
			t.Errorf("viewer's /user/update %v: %d %q, want 403 %q", tc.body, code, errMessage(out), tc.want)
		}
	}
	for _, path := range []string{"/user/list", "/team/info?team_id=t-other", "/user/info?user_id=dev"} {
		if code, out := do(t, app, "GET", path, auditor, nil); code != 200 {
			t.Errorf("viewer on %s: %d %v", path, code, out)
		}
	}

	// /key/list is an info route: a non-admin sees its own.
	code, out = do(t, app, "GET", "/key/list", dev, nil)
	if keys, _ := out["keys"].([]any); code != 200 || len(keys) != 3 {
		t.Errorf("dev's /key/list: %d, %v (want its user's 3: /user/new made one)", code, out)
	}
	code, out = do(t, app, "GET", "/key/list", other, nil)
	if keys, _ := out["keys"].([]any); code != 200 || len(keys) != 1 {
		t.Errorf("a userless key's /key/list: %d, %v (want itself)", code, out)
	}
	code, out = do(t, app, "GET", "/key/list", boss, nil)
	if keys, _ := out["keys"].([]any); code != 200 || len(keys) < 7 {
		t.Errorf("admin's /key/list: %d, %v", code, out)
	}
	// /team/list as LiteLLM's: a non-admin names itself, or is refused.
	if code, out := do(t, app, "GET", "/team/list", devToo, nil); code != 401 || !strings.Contains(fmt.Sprint(out), "Only admin users can query all teams/other teams. Your user role=") {
		t.Errorf("a member's /team/list without user_id: %d %v (want LiteLLM's 401)", code, out)
	}
	req := httptest.NewRequest("GET", "/team/list?user_id=dev", nil)
	req.Header.Set("Authorization", "Bearer "+devToo)
	resp, err := app.Test(req, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	var teams []map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&teams)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(teams) != 1 || teams[0]["team_id"] != "t-dev" {
		t.Errorf("a member's /team/list: %d %v (want t-dev only)", resp.StatusCode, teams)
	}

	code, out = do(t, app, "GET", "/v2/team/list?page=1&page_size=1", testMaster, nil)
	if teams, _ := out["teams"].([]any); code != 200 || len(teams) != 1 || out["total"] != float64(4) || out["total_pages"] != float64(4) {
		t.Errorf("admin's /v2/team/list page 1 of size 1: %d %v", code, out)
	}
	if code, out := do(t, app, "POST", "/key/health", other, nil); code != 200 || out["key"] != "healthy" {
		t.Errorf("/key/health: %d %v", code, out)
	}

	// Another user's info names both users, as LiteLLM's refusal does.
	code, out = do(t, app, "GET", "/user/info?user_id=boss", dev, nil)
	if want := "key not allowed to access this user's info. user_id=boss, key's user_id=dev"; code != 403 || errMessage(out) != want {
		t.Errorf("dev reads boss: %d %q, want 403 %q", code, errMessage(out), want)
	}

	// A key's standing is checked on every route.
	if code, out := do(t, app, "GET", "/key/info", blockedTeam, nil); code != 401 || !strings.Contains(errMessage(out), "is blocked") {
		t.Errorf("blocked team's key on /key/info: %d %v", code, out)
	}
	time.Sleep(1100 * time.Millisecond) // the one-second key expires
	if code, out := do(t, app, "GET", "/key/info", expiring, nil); code != 401 || !strings.Contains(errMessage(out), "Expired Key") {
		t.Errorf("expired key on /key/info: %d %v", code, out)
	}

	// key_alias is unique across keys.
	code, out = do(t, app, "POST", "/key/generate", testMaster, map[string]any{"key_alias": "short-lived"})
	if want := "Key with alias 'short-lived' already exists. Unique key aliases across all keys are required."; code != 400 || errMessage(out) != want {
		t.Errorf("duplicate key_alias on generate: %d %q", code, errMessage(out))
	}
	if code, out := do(t, app, "POST", "/key/update", testMaster, map[string]any{"key": other, "key_alias": "short-lived"}); code != 400 {
		t.Errorf("duplicate key_alias on update: %d %v", code, out)
	}
	if code, out := do(t, app, "POST", "/key/update", testMaster, map[string]any{"key": expiring, "key_alias": "short-lived"}); code != 200 {
		t.Errorf("a key keeping its own alias: %d %v", code, out)
	}

	// /model_group/info is an info route: a key sees the groups it may call.
	if code, out := do(t, app, "POST", "/model/new", testMaster, map[string]any{"model_name": "m-open", "litellm_params": map[string]any{"model": "mock/m"}}); code != 200 {
		t.Fatalf("/model/new: %d %v", code, out)
	}
	if code, out := do(t, app, "POST", "/model/new", testMaster, map[string]any{"model_name": "m-closed", "litellm_params": map[string]any{"model": "mock/m"}}); code != 200 {
		t.Fatalf("/model/new: %d %v", code, out)
	}
	limited := newKey(map[string]any{"models": []string{"m-open"}})
	code, out = do(t, app, "GET", "/model_group/info", limited, nil)
	if data, _ := out["data"].([]any); code != 200 || len(data) != 1 || data[0].(map[string]any)["model_group"] != "m-open" {
		t.Errorf("a limited key's /model_group/info: %d %v", code, out)
	}
	code, out = do(t, app, "GET", "/model_group/info?model_group=m-closed", testMaster, nil)
	if data, _ := out["data"].([]any); code != 200 || len(data) != 1 || fmt.Sprint(data[0].(map[string]any)["providers"]) != "[mock]" {
		t.Errorf("admin's /model_group/info?model_group=m-closed: %d %v", code, out)
	}

	// /team/member_add of a user_id without a user creates the user, in
	// the team, as LiteLLM does.
	if code, out := do(t, app, "POST", "/team/member_add", testMaster, map[string]any{"team_id": "t-other", "member": map[string]any{"user_id": "newbie", "role": "user"}}); code != 200 {
		t.Fatalf("/team/member_add: %d %v", code, out)
	}
	code, out = do(t, app, "GET", "/user/info?user_id=newbie", testMaster, nil)
	if info, _ := out["user_info"].(map[string]any); code != 200 || fmt.Sprint(info["teams"]) != "[t-other]" || info["user_role"] != "internal_user" {
		t.Errorf("the member's user: %d %v", code, out)
	}

	// An unknown key is named by its sha256, never shown.
	code, out = do(t, app, "GET", "/key/info", "sk-not-a-key-0000000000", nil)
	if msg := errMessage(out); code != 401 || !strings.Contains(msg, "not found in db. Create key via `/key/generate` call.") || strings.Contains(msg, "sk-not-a-key") {
		t.Errorf("unknown key: %d %q", code, msg)
	}
}

// TestModelUpdate: /model/update merges what is sent into the deployment
// model_info.id names, as LiteLLM's updateDeployment does.
func TestModelUpdate(t *testing.T) {
	_, js := testutil.NewJetStream(t)
	app := New(storetest.New(t, js), Options{MasterKey: testMaster})
	code, out := do(t, app, "POST", "/model/new", testMaster, map[string]any{"model_name": "m",
		"litellm_params": map[string]any{"model": "openai/gpt-4o", "api_base": "http://old/v1", "input_cost_per_token": 0.5}})
	if code != 200 {
		t.Fatalf("/model/new: %d %v", code, out)
	}
	id := out["id"].(string)
	code, out = do(t, app, "POST", "/model/update", testMaster, map[string]any{
		"litellm_params": map[string]any{"api_base": "http://new/v1"}, "model_info": map[string]any{"id": id, "description": "moved"}})
	if code != 200 {
		t.Fatalf("/model/update: %d %v", code, out)
	}
	p, _ := out["litellm_params"].(map[string]any)
	info, _ := out["model_info"].(map[string]any)
	if p["api_base"] != "http://new/v1" || p["model"] != "openai/gpt-4o" || p["input_cost_per_token"] != 0.5 || info["description"] != "moved" || info["id"] != id {
		t.Errorf("updated deployment: %v", out)
	}
	for _, tc := range []struct {
		body map[string]any
		code int
	}{
		{map[string]any{"litellm_params": map[string]any{"api_bse": "x"}, "model_info": map[string]any{"id": id}}, 400},
		{map[string]any{"litellm_params": map[string]any{"api_base": "x"}}, 400},
		{map[string]any{"model_info": map[string]any{"id": "no-such-id"}}, 404},
	} {
		if code, out := do(t, app, "POST", "/model/update", testMaster, tc.body); code != tc.code {
			t.Errorf("/model/update %v: %d %v, want %d", tc.body, code, out, tc.code)
		}
	}
}
