package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// general_settings.allowed_ips on an edge: every route that reads a
// credential refuses another address with LiteLLM's 403 before the
// credential is looked at; the health probes stay reachable; a change
// reaches the running edge. The test client is 127.0.0.1, and
// use_x_forwarded_for lets X-Forwarded-For stand for other clients.
func TestProxyAllowedIPs(t *testing.T) {
	e := startEdge(t, true)
	const key = "sk-key-ip-bound-00000001"
	e.put(t, &events.Model{ID: "m1", ModelName: "m", LiteLLMParams: events.ModelParams{Model: "mock/m"}})
	e.put(t, &events.Key{Token: events.HashKey(key), AllowedIPs: []string{"10.5.5.5"}})
	settings := func(ips *[]string, xff bool) {
		t.Helper()
		e.put(t, &events.RoutingSettings{ID: events.RoutingSettingsID, AllowedIPs: ips, UseXForwardedFor: xff})
		testutil.Eventually(t, 10*time.Second, func() error {
			rs := e.live.Load().RoutingSettings()
			if rs == nil || !reflect.DeepEqual(rs.AllowedIPs, ips) || rs.UseXForwardedFor != xff {
				return errors.New("settings not applied")
			}
			return nil
		})
	}
	master := bearer("sk-master-test-key")
	with := func(h map[string]string, xff string) map[string]string {
		out := map[string]string{"X-Forwarded-For": xff}
		for k, v := range h {
			out[k] = v
		}
		return out
	}
	check := func(name string, hdr map[string]string, method, path, body string, want int, shown string) {
		t.Helper()
		code, b := do(t, method, e.url+path, hdr, body)
		if code != want {
			t.Fatalf("%s: %d %s, want %d", name, code, b, want)
		}
		if shown == "" {
			return
		}
		var env struct {
			Error struct{ Message, Type, Code string }
		}
		if err := json.Unmarshal([]byte(b), &env); err != nil || env.Error.Message != "Access forbidden: IP address "+shown+" not allowed." {
			t.Fatalf("%s: %s", name, b)
		}
	}
	testutil.Eventually(t, 10*time.Second, func() error {
		if code, b := do(t, "POST", e.url+"/v1/chat/completions", master, chatBody); code != 200 {
			return errors.New(b)
		}
		return nil
	})

	settings(&[]string{"10.0.0.1"}, false)
	check("chat from another address", master, "POST", "/v1/chat/completions", chatBody, 403, "127.0.0.1")
	// Before authentication: an unknown key learns nothing either.
	check("unknown key", bearer("sk-nope"), "POST", "/v1/chat/completions", chatBody, 403, "127.0.0.1")
	check("no key", nil, "POST", "/v1/chat/completions", chatBody, 403, "127.0.0.1")
	check("models", master, "GET", "/v1/models", "", 403, "127.0.0.1")
	check("embeddings", master, "POST", "/v1/embeddings", `{"model":"m","input":"hi"}`, 403, "127.0.0.1")
	// Not trusted, the header is anyone's to write.
	check("header not trusted", with(master, "10.0.0.1"), "POST", "/v1/chat/completions", chatBody, 403, "127.0.0.1")
	check("liveliness", nil, "GET", "/health/liveliness", "", 200, "")
	check("readiness", nil, "GET", "/health/readiness", "", 200, "")

	settings(&[]string{"127.0.0.0/8"}, false)
	check("listed by range", master, "POST", "/v1/chat/completions", chatBody, 200, "")

	settings(&[]string{"10.0.0.0/8"}, true)
	check("forwarded, listed", with(master, "10.1.2.3, 127.0.0.1"), "POST", "/v1/chat/completions", chatBody, 200, "")
	check("forwarded, not listed", with(master, "8.8.8.8"), "POST", "/v1/chat/completions", chatBody, 403, "8.8.8.8")
	check("no header: the peer", master, "POST", "/v1/chat/completions", chatBody, 403, "127.0.0.1")
	// The key's own allowed_ips reads the same client address.
	check("key bound, forwarded from its address", with(bearer(key), "10.5.5.5"), "POST", "/v1/chat/completions", chatBody, 200, "")
	check("key bound, forwarded from another", with(bearer(key), "10.5.5.6"), "POST", "/v1/chat/completions", chatBody, 403, "10.5.5.6")

	// [] allows no address, as in LiteLLM.
	settings(&[]string{}, false)
	check("empty list", master, "POST", "/v1/chat/completions", chatBody, 403, "127.0.0.1")
	check("readiness with empty list", nil, "GET", "/health/readiness", "", 200, "")

	// use_x_forwarded_for alone: only keys' allowed_ips read the header.
	settings(nil, true)
	check("no list", master, "POST", "/v1/chat/completions", chatBody, 200, "")
	check("key bound, config's use_x_forwarded_for", with(bearer(key), "10.5.5.5"), "POST", "/v1/chat/completions", chatBody, 200, "")
	settings(nil, false)
	check("key bound, header not trusted", with(bearer(key), "10.5.5.5"), "POST", "/v1/chat/completions", chatBody, 403, "127.0.0.1")
}

// On management routes the edge relays, allowed_ips is judged at the edge
// (the hop the client reached), and the control plane is told the client
// address it judged in X-Forwarded-For, not the header the client sent.
func TestProxyAllowedIPsRelay(t *testing.T) {
	seen := make(chan string, 4)
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Get("X-Forwarded-For")
		_, _ = w.Write([]byte(`{"info":{}}`))
	}))
	t.Cleanup(control.Close)
	e := startEdgeWith(t, true, Options{MasterKey: "sk-master-test-key", ControlURL: control.URL}, nil)
	e.put(t, &events.RoutingSettings{ID: events.RoutingSettingsID, AllowedIPs: &[]string{"10.0.0.0/8"}, UseXForwardedFor: true})
	testutil.Eventually(t, 10*time.Second, func() error {
		if e.live.Load().Routing().IPAllow == nil {
			return errors.New("settings not applied")
		}
		return nil
	})
	hdr := func(xff string) map[string]string {
		return map[string]string{"Authorization": "Bearer sk-master-test-key", "X-Forwarded-For": xff}
	}
	if code, b := do(t, "GET", e.url+"/key/info", hdr("8.8.8.8"), ""); code != 403 || !strings.Contains(b, "IP address 8.8.8.8 not allowed") {
		t.Fatalf("relayed from an unlisted client: %d %s", code, b)
	}
	select {
	case x := <-seen:
		t.Fatalf("a refused request reached the control plane (X-Forwarded-For %q)", x)
	default:
	}
	if code, b := do(t, "GET", e.url+"/key/info", hdr("10.1.2.3, 8.8.8.8"), ""); code != 200 {
		t.Fatalf("relayed from a listed client: %d %s", code, b)
	}
	if x := <-seen; x != "10.1.2.3" {
		t.Fatalf("control plane told X-Forwarded-For %q, want the client 10.1.2.3", x)
	}
}
