package api

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/control/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// The list routes apply LiteLLM's filters, sort and pages, and refuse a
// parameter they do not know rather than list everything.
func TestListQueries(t *testing.T) {
	_, js := testutil.NewJetStream(t)
	app := New(storetest.New(t, js), Options{MasterKey: testMaster})
	must := func(path string, body map[string]any) map[string]any {
		t.Helper()
		code, out := do(t, app, "POST", path, testMaster, body)
		if code != 200 {
			t.Fatalf("%s: %d %v", path, code, out)
		}
		return out
	}
	must("/organization/new", map[string]any{"organization_id": "o1", "organization_alias": "Org One"})
	must("/organization/new", map[string]any{"organization_id": "o2", "organization_alias": "Org Two"})
	must("/team/new", map[string]any{"team_id": "t1", "team_alias": "b-team", "organization_id": "o1"})
	must("/team/new", map[string]any{"team_id": "t2", "team_alias": "a-team"})
	must("/user/new", map[string]any{"user_id": "ann", "user_email": "Ann@Example.com", "user_role": "proxy_admin", "auto_create_key": false})
	must("/user/new", map[string]any{"user_id": "bob", "user_email": "bob@example.com", "teams": []string{"t1"}, "auto_create_key": false})
	k1 := must("/key/generate", map[string]any{"key_alias": "ci", "team_id": "t1"})["token"].(string)
	must("/key/generate", map[string]any{"key_alias": "dev", "user_id": "bob", "organization_id": "o2"})
	must("/key/generate", map[string]any{"key_alias": "web"})

	list := func(path string) (int, map[string]any) {
		t.Helper()
		return do(t, app, "GET", path, testMaster, nil)
	}
	keys := func(path string) []any {
		t.Helper()
		code, out := list(path)
		if code != 200 {
			t.Fatalf("%s: %d %v", path, code, out)
		}
		return out["keys"].([]any)
	}
	for _, c := range []struct {
		path string
		want int
	}{
		{"/key/list", 3},
		{"/key/list?key_alias=ci", 1},
		{"/key/list?key_alias=nope", 0},
		{"/key/list?team_id=t1", 1},
		{"/key/list?organization_id=o2", 1},
		{"/key/list?user_id=bob&organization_id=o2", 1},
		{"/key/list?key_hash=" + k1, 1},
		{"/key/list?size=2&page=2", 1},
	} {
		if got := len(keys(c.path)); got != c.want {
			t.Errorf("%s: %d keys, want %d", c.path, got, c.want)
		}
	}
	code, out := list("/key/list?return_full_object=true&sort_by=key_alias&sort_order=asc")
	if ks, _ := out["keys"].([]any); code != 200 || len(ks) != 3 || ks[0].(map[string]any)["key_alias"] != "ci" || ks[2].(map[string]any)["key_alias"] != "web" {
		t.Errorf("sorted by alias: %d %v", code, out)
	}
	for _, c := range []struct{ path, param string }{
		{"/key/list?key_aliass=ci", "key_aliass"},
		{"/key/list?sort_by=spend", "sort_by"},
		{"/key/list?sort_order=up", "sort_order"},
		{"/team/list?team_alias=a-team", "team_alias"},
		{"/user/list?user_role=proxy_admin", "user_role"},
		{"/customer/list?user_id=x", "user_id"},
	} {
		if code, out := list(c.path); code != 400 || errParam(out) != c.param || !strings.Contains(errMessage(out), "must") && !strings.Contains(errMessage(out), "unknown query parameter") {
			t.Errorf("%s: %d %v, want a 400 naming %s", c.path, code, out, c.param)
		}
	}
	rawList := func(path string) (int, string) {
		t.Helper()
		code, out := list(path)
		return code, fmt.Sprint(out["raw"])
	}
	teams := func(path string) []any {
		t.Helper()
		code, out := do(t, app, "GET", path, testMaster, nil)
		if code != 200 {
			t.Fatalf("%s: %d %v", path, code, out)
		}
		return out["teams"].([]any)
	}
	if code, raw := rawList("/team/list?organization_id=o1"); code != 200 || strings.Count(raw, `"team_id"`) != 1 || !strings.Contains(raw, `"t1"`) {
		t.Errorf("/team/list?organization_id=o1: %d %s", code, raw)
	}
	if code, raw := rawList("/team/list?user_id=bob"); code != 200 || strings.Count(raw, `"team_id"`) != 1 {
		t.Errorf("/team/list?user_id=bob: %d %s", code, raw)
	}
	if ts := teams("/v2/team/list?team_alias=a-team"); len(ts) != 1 {
		t.Errorf("/v2/team/list?team_alias: %v", ts)
	}
	if ts := teams("/v2/team/list?sort_by=team_alias&sort_order=asc"); len(ts) != 2 || ts[0].(map[string]any)["team_id"] != "t2" {
		t.Errorf("/v2/team/list sorted: %v", ts)
	}
	users := func(path string) []any {
		t.Helper()
		code, out := list(path)
		if code != 200 {
			t.Fatalf("%s: %d %v", path, code, out)
		}
		return out["users"].([]any)
	}
	for _, c := range []struct {
		path string
		want int
	}{
		{"/user/list", 2},
		{"/user/list?role=proxy_admin", 1},
		{"/user/list?user_email=EXAMPLE.com", 2},
		{"/user/list?user_email=ann@", 1},
		{"/user/list?user_ids=ann,bob", 2},
		{"/user/list?team=t1", 1},
		{"/user/list?page=2&page_size=1", 1},
	} {
		if got := len(users(c.path)); got != c.want {
			t.Errorf("%s: %d users, want %d", c.path, got, c.want)
		}
	}
	if code, raw := rawList("/organization/list?org_alias=Org%20Two"); code != 200 || strings.Count(raw, `"organization_id"`) != 1 || !strings.Contains(raw, `"o2"`) {
		t.Errorf("/organization/list?org_alias: %d %s", code, raw)
	}
}
