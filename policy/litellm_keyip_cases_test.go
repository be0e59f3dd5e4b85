package policy

import (
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

// LiteLLM 2026's tests/test_litellm/proxy/auth/test_key_ip_restrictions.py
// (TestCheckKeyIpAllowed), one row per case: a key's allowed_ips against
// the request's address, which is X-Forwarded-For's leftmost entry only
// when the edge is told to trust it (gateway.Options.UseXForwardedFor;
// the edge's clientIP does what address below does).
//
// TestKeyIpRestrictionIntegration's cases are pydantic models (the field
// on UserAPIKeyAuth, LiteLLM_VerificationToken, GenerateKeyRequest,
// UpdateKeyRequest and its exclude_unset dump): gatehouse's equivalent,
// allowed_ips on /key/generate, /key/update and /key/info, is in
// control/api's TestLiteLLMRouteAccessCases (test_should_include_allowed_ips_*).
func TestLiteLLMKeyIPCases(t *testing.T) {
	address := func(peer, xff string, useXFF bool) string {
		if ip := ForwardedClient(xff); useXFF && ip != "" {
			return ip
		}
		return peer
	}
	for _, c := range []struct {
		name      string
		allowed   []string
		peer, xff string
		useXFF    bool
		ok        bool
	}{
		{"test_should_allow_when_allowed_ips_is_none", nil, "192.168.1.100", "", false, true},
		{"test_should_allow_when_allowed_ips_is_empty", []string{}, "192.168.1.100", "", false, true},
		{"test_should_allow_exact_ip_match", []string{"10.0.0.5"}, "10.0.0.5", "", false, true},
		{"test_should_reject_ip_not_in_list", []string{"10.0.0.5", "10.0.0.10"}, "10.0.0.99", "", false, false},
		{"test_should_allow_ip_in_cidr_range", []string{"10.0.0.0/24"}, "10.0.0.42", "", false, true},
		{"test_should_reject_ip_outside_cidr_range", []string{"10.0.0.0/24"}, "10.0.1.42", "", false, false},
		{"test_should_allow_with_mixed_exact_and_cidr", []string{"192.168.1.1", "10.0.0.0/8"}, "10.5.3.2", "", false, true},
		{"test_should_allow_with_mixed_exact_and_cidr", []string{"192.168.1.1", "10.0.0.0/8"}, "192.168.1.1", "", false, true},
		{"test_should_allow_with_mixed_exact_and_cidr", []string{"192.168.1.1", "10.0.0.0/8"}, "172.16.0.1", "", false, false},
		{"test_should_support_wide_cidr_range", []string{"172.16.0.0/12"}, "172.20.5.10", "", false, true},
		{"test_should_reject_ip_outside_wide_cidr", []string{"172.16.0.0/12"}, "172.32.0.1", "", false, false},
		{"test_should_use_xff_header_when_enabled", []string{"203.0.113.50"}, "127.0.0.1", "203.0.113.50", true, true},
		{"test_should_ignore_xff_when_disabled", []string{"10.0.0.1"}, "10.0.0.1", "203.0.113.50", false, true},
		{"test_should_ignore_xff_when_disabled/the header is not the address", []string{"203.0.113.50"}, "10.0.0.1", "203.0.113.50", false, false},
		{"test_should_use_leftmost_xff_ip", []string{"203.0.113.0/24"}, "127.0.0.1", "203.0.113.50, 10.0.0.1, 192.168.1.1", true, true},
		{"test_should_reject_xff_ip_not_in_allowed", []string{"203.0.113.0/24"}, "127.0.0.1", "8.8.8.8, 10.0.0.1", true, false},
		{"test_should_reject_empty_client_ip", []string{"10.0.0.0/8"}, "", "", false, false},
		{"test_should_reject_invalid_client_ip", []string{"10.0.0.0/8"}, "not-an-ip", "", false, false},
		{"test_should_skip_invalid_allowed_ip_entries", []string{"bad-cidr", "10.0.0.0/24"}, "10.0.0.1", "", false, true},
		{"test_should_support_ipv6_exact", []string{"::1"}, "::1", "", false, true},
		{"test_should_support_ipv6_cidr", []string{"fd12:3456:789a::/48"}, "fd12:3456:789a::1", "", false, true},
		{"test_should_reject_ipv6_outside_cidr", []string{"fd12:3456:789a::/48"}, "fd12:3456:789b::1", "", false, false},
		{"test_should_support_single_host_cidr", []string{"10.0.0.5/32"}, "10.0.0.5", "", false, true},
		{"test_should_support_single_host_cidr", []string{"10.0.0.5/32"}, "10.0.0.6", "", false, false},
		// An IPv4 client on a dual-stack listener arrives IPv4-mapped.
		{"ipv4-mapped peer", []string{"10.0.0.0/8"}, "::ffff:10.1.2.3", "", false, true},
	} {
		k := &events.Key{Token: "t", AllowedIPs: c.allowed}
		ip := address(c.peer, c.xff, c.useXFF)
		err := CheckKeyIP(k, ip)
		if (err == nil) != c.ok {
			t.Errorf("%s: CheckKeyIP(%v, %q) = %v, want allowed %v", c.name, c.allowed, ip, err, c.ok)
			continue
		}
		if err != nil {
			if e := apierror.From(err); !errors.Is(err, apierror.Forbidden) || e.Message != "Access forbidden: IP address "+ip+" not allowed." || e.Rule != Rule("key", "t", "allowed_ips") {
				t.Errorf("%s: %+v", c.name, e)
			}
		}
	}
	// The admin API refuses what IPAllowed would skip (LiteLLM skips it).
	for entry, ok := range map[string]bool{"10.0.0.1": true, "10.0.0.0/8": true, "::1": true, "fd12::/16": true, "bad-cidr": false, "10.0.0.0/33": false, "10.0.0/8": false, "": false} {
		if err := CheckIPEntry(entry); (err == nil) != ok {
			t.Errorf("CheckIPEntry(%q) = %v", entry, err)
		}
	}
}
