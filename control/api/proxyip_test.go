package api

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/control/store/storetest"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// general_settings.allowed_ips on the admin API: LiteLLM checks it in
// user_api_key_auth, which every management route depends on, before the
// credential; the health probes (no user_api_key_auth in LiteLLM either)
// stay reachable for Kubernetes. The test client's address is fiber's
// test connection's, so X-Forwarded-For under use_x_forwarded_for stands
// for the clients.
func TestAdminAllowedIPs(t *testing.T) {
	_, js := testutil.NewJetStream(t)
	st := storetest.New(t, js)
	app := New(st, Options{MasterKey: testMaster})
	put := func(ips *[]string, xff bool) {
		t.Helper()
		if _, err := st.Put(t.Context(), "test", &events.RoutingSettings{ID: events.RoutingSettingsID, AllowedIPs: ips, UseXForwardedFor: xff}, nil); err != nil {
			t.Fatal(err)
		}
	}
	call := func(path, cred, xff string) (int, string) {
		t.Helper()
		req := httptest.NewRequest("GET", path, nil)
		if cred != "" {
			req.Header.Set("Authorization", "Bearer "+cred)
		}
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := app.Test(req, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return resp.StatusCode, errMessage(out)
	}
	if code, msg := call("/key/list", testMaster, "8.8.8.8"); code != 200 {
		t.Fatalf("without allowed_ips: %d %s", code, msg)
	}
	put(&[]string{"10.0.0.0/8", "192.168.1.1"}, true)
	for _, c := range []struct {
		name, path, cred, xff string
		code                  int
		msg                   string
	}{
		{"listed range", "/key/list", testMaster, "10.1.2.3", 200, ""},
		{"listed address, leftmost of a chain", "/key/list", testMaster, "192.168.1.1, 10.9.9.9", 200, ""},
		{"unlisted", "/key/list", testMaster, "8.8.8.8", 403, "Access forbidden: IP address 8.8.8.8 not allowed."},
		{"unlisted, before the credential", "/key/list", "sk-not-a-key", "8.8.8.8", 403, "Access forbidden: IP address 8.8.8.8 not allowed."},
		{"unlisted, no credential", "/team/list", "", "8.8.8.8", 403, "Access forbidden: IP address 8.8.8.8 not allowed."},
		{"liveliness", "/health/liveliness", "", "8.8.8.8", 200, ""},
		{"readiness", "/health/readiness", "", "8.8.8.8", 200, ""},
	} {
		if code, msg := call(c.path, c.cred, c.xff); code != c.code || msg != c.msg {
			t.Errorf("%s: %d %q, want %d %q", c.name, code, msg, c.code, c.msg)
		}
	}
	// Not trusted, the header is anyone's to write: the peer decides.
	put(&[]string{"10.0.0.0/8"}, false)
	if code, msg := call("/key/list", testMaster, "10.1.2.3"); code != 403 {
		t.Errorf("header not trusted: %d %q", code, msg)
	}
	put(nil, false)
	if code, msg := call("/key/list", testMaster, "8.8.8.8"); code != 200 {
		t.Errorf("allowed_ips removed: %d %q", code, msg)
	}
}
