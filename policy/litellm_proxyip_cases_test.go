package policy

import (
	"errors"
	"net"
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

// LiteLLM's general_settings.allowed_ips (_check_valid_ip, called first in
// user_api_key_auth): test_check_valid_ip and
// test_check_valid_ip_sent_with_x_forwarded_for of its
// test_user_api_key_auth.py (tests/proxy_unit_tests, tests/local_testing),
// one row per parametrized case, through the compiled router settings as
// edges and the admin API apply them. LiteLLM's allowed_ips: None is no
// event field (nil); [] allows no address.
//
// Rows after the ported ones are where gatehouse goes further, as its
// README says: CIDR ranges (LiteLLM compares strings, so "10.0.0.0/8"
// matches no client), X-Forwarded-For's leftmost entry (LiteLLM compares
// the whole header, so a chain "client, proxy" matched nothing), an
// IPv4-mapped peer read as IPv4.
func TestLiteLLMProxyIPCases(t *testing.T) {
	list := func(ips ...string) *[]string { return &ips }
	for _, c := range []struct {
		name    string
		allowed *[]string
		peer    string // "" is no client address (LiteLLM's request.client.host None)
		xff     string
		useXFF  bool
		ok      bool
		shown   string // the address the refusal names
	}{
		{"test_check_valid_ip/none", nil, "127.0.0.1", "", false, true, ""},
		{"test_check_valid_ip/in_list", list("127.0.0.1"), "127.0.0.1", "", false, true, ""},
		{"test_check_valid_ip/not_in_list", list("192.168.1.1"), "127.0.0.1", "", false, false, "127.0.0.1"},
		{"test_check_valid_ip/empty_list", list(), "127.0.0.1", "", false, false, "127.0.0.1"},
		{"test_check_valid_ip/second_entry", list("192.168.1.1", "10.0.0.1"), "10.0.0.1", "", false, true, ""},
		{"test_check_valid_ip/no_client_ip", list("192.168.1.1"), "", "", false, false, "invalid IP"},
		// The header is the client's address too; the peer is a proxy.
		{"test_check_valid_ip_sent_with_x_forwarded_for/none", nil, "10.9.9.9", "127.0.0.1", true, true, ""},
		{"test_check_valid_ip_sent_with_x_forwarded_for/in_list", list("127.0.0.1"), "10.9.9.9", "127.0.0.1", true, true, ""},
		{"test_check_valid_ip_sent_with_x_forwarded_for/not_in_list", list("192.168.1.1"), "10.9.9.9", "127.0.0.1", true, false, "127.0.0.1"},
		{"test_check_valid_ip_sent_with_x_forwarded_for/empty_list", list(), "10.9.9.9", "127.0.0.1", true, false, "127.0.0.1"},
		{"test_check_valid_ip_sent_with_x_forwarded_for/second_entry", list("192.168.1.1", "10.0.0.1"), "10.9.9.9", "10.0.0.1", true, true, ""},
		{"test_check_valid_ip_sent_with_x_forwarded_for/no_client_ip", list("192.168.1.1"), "", "", true, false, "invalid IP"},

		{"cidr_inside", list("10.0.0.0/8"), "10.20.30.40", "", false, true, ""},
		{"cidr_outside", list("10.0.0.0/8"), "11.0.0.1", "", false, false, "11.0.0.1"},
		{"ipv6_cidr", list("fd12::/16"), "fd12::1", "", false, true, ""},
		{"ipv4_mapped_peer", list("10.0.0.1"), "::ffff:10.0.0.1", "", false, true, ""},
		{"xff_leftmost_of_chain", list("203.0.113.7"), "10.0.0.1", "203.0.113.7, 10.1.1.1", true, true, ""},
		{"xff_chain_client_refused", list("10.1.1.1"), "10.1.1.1", "203.0.113.7, 10.1.1.1", true, false, "203.0.113.7"},
		// Not trusted, the header is the client's to write: the peer decides.
		{"xff_untrusted_ignored", list("203.0.113.7"), "10.0.0.1", "203.0.113.7", false, false, "10.0.0.1"},
		{"xff_absent_peer_decides", list("10.0.0.1"), "10.0.0.1", "", true, true, ""},
		{"xff_not_an_address", list("10.0.0.1"), "10.0.0.1", "unknown", true, false, "unknown"},
	} {
		r := CompileRouting(&events.RoutingSettings{ID: events.RoutingSettingsID, AllowedIPs: c.allowed, UseXForwardedFor: c.useXFF})
		err := r.CheckClientIP(net.ParseIP(c.peer), c.xff, false)
		if (err == nil) != c.ok {
			t.Errorf("%s: CheckClientIP = %v, want allowed %v", c.name, err, c.ok)
			continue
		}
		if err != nil {
			e := apierror.From(err)
			if !errors.Is(err, apierror.Forbidden) || e.Message != "Access forbidden: IP address "+c.shown+" not allowed." || e.Rule != "general_settings:allowed_ips" {
				t.Errorf("%s: %+v", c.name, e)
			}
		}
		// The edge's -use-x-forwarded-for trusts the header as the
		// config's use_x_forwarded_for does.
		if c.useXFF {
			r := CompileRouting(&events.RoutingSettings{ID: events.RoutingSettingsID, AllowedIPs: c.allowed})
			if err2 := r.CheckClientIP(net.ParseIP(c.peer), c.xff, true); (err2 == nil) != c.ok {
				t.Errorf("%s: trusted by the edge's flag: %v, want allowed %v", c.name, err2, c.ok)
			}
		}
	}
}

// An allowed request costs no allocation: the list is parsed when the
// settings event is applied, not per request.
func TestCheckClientIPAllocs(t *testing.T) {
	none := CompileRouting(nil)
	list := &[]string{"192.168.0.0/16", "10.0.0.1", "fd12::/16"}
	r := CompileRouting(&events.RoutingSettings{AllowedIPs: list, UseXForwardedFor: true})
	peer := net.ParseIP("10.9.9.9")
	if n := testing.AllocsPerRun(100, func() {
		if none.CheckClientIP(peer, "", false) != nil || r.CheckClientIP(peer, "10.0.0.1, 10.9.9.9", false) != nil {
			t.Fatal("refused")
		}
	}); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}
