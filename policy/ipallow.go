package policy

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

// CheckKeyIP refuses a key bound to client addresses (its allowed_ips)
// when client, the request's address, is none of them: LiteLLM's 403
// "Access forbidden: IP address <ip> not allowed.". A key without
// allowed_ips passes whatever client is (callers skip working it out).
func CheckKeyIP(k *events.Key, client string) error {
	if k == nil || len(k.AllowedIPs) == 0 {
		return nil
	}
	if IPAllowed(k.AllowedIPs, client) {
		return nil
	}
	return apierror.Forbidden.With("Access forbidden: IP address %s not allowed.", client).By(Rule("key", k.Token, "allowed_ips"))
}

// IPAllowed reports whether client (an IP address, IPv4-mapped IPv6
// read as IPv4) is one of allowed's addresses or inside one of its CIDR
// ranges. A client that is not an address matches nothing; an entry that
// is neither is skipped (the admin API refuses those when they are
// written, CheckIPEntry). Entries are read as CompileIPAllowlist reads
// them, without compiling a list: few keys have allowed_ips.
func IPAllowed(allowed []string, client string) bool {
	addr, err := netip.ParseAddr(strings.TrimSpace(client))
	if err != nil {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, e := range allowed {
		if p, ok := ipEntry(e); ok && p.Contains(addr) {
			return true
		}
	}
	return false
}

// ipEntry reads one allowed_ips entry, an IP address or a CIDR range, as
// a prefix (an address is a single-address one).
func ipEntry(e string) (netip.Prefix, bool) {
	e = strings.TrimSpace(e)
	if strings.Contains(e, "/") {
		p, err := netip.ParsePrefix(e)
		return p.Masked(), err == nil
	}
	a, err := netip.ParseAddr(e)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), true
}

// CheckIPEntry says what is wrong with one allowed_ips entry (nil for an
// IP address or a CIDR range), so that a typo is refused when it is
// written rather than silently allowing nothing.
func CheckIPEntry(entry string) error {
	if strings.Contains(entry, "/") {
		if _, err := netip.ParsePrefix(entry); err != nil {
			return fmt.Errorf("%q is not a CIDR range (e.g. 10.0.0.0/8)", entry)
		}
		return nil
	}
	if _, err := netip.ParseAddr(entry); err != nil {
		return fmt.Errorf("%q is not an IP address or CIDR range", entry)
	}
	return nil
}

// ForwardedClient is the client address an X-Forwarded-For header names:
// its leftmost entry, as LiteLLM reads it under use_x_forwarded_for; ""
// when the header is empty.
func ForwardedClient(xff string) string {
	first, _, _ := strings.Cut(xff, ",")
	return strings.TrimSpace(first)
}

// IPAllowlist is a proxy-wide allowed_ips (general_settings), compiled:
// addresses become single-address prefixes so one scan answers.
type IPAllowlist struct {
	prefixes []netip.Prefix
}

// CompileIPAllowlist parses entries (IP addresses and CIDR ranges); an
// entry that is neither is skipped, as IPAllowed does (the config refuses
// it before it gets here). No entries allows no address, as LiteLLM's
// empty allowed_ips does.
func CompileIPAllowlist(entries []string) *IPAllowlist {
	l := &IPAllowlist{prefixes: make([]netip.Prefix, 0, len(entries))}
	for _, e := range entries {
		if p, ok := ipEntry(e); ok {
			l.prefixes = append(l.prefixes, p)
		}
	}
	return l
}

// Allows reports whether addr (IPv4-mapped IPv6 read as IPv4) is in the
// list; an invalid addr (a client address that could not be read) is not.
func (l *IPAllowlist) Allows(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, p := range l.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// ProxyIPForbidden is LiteLLM's refusal of a client address that
// general_settings.allowed_ips does not list; shown is the address as
// the request gave it.
func ProxyIPForbidden(shown string) error {
	return apierror.Forbidden.With("Access forbidden: IP address %s not allowed.", shown).By("general_settings:allowed_ips")
}

// ClientAddr is the address allowed_ips (the proxy's and a key's) judge
// for a request from peer (the connection's address, as net.IP bytes)
// with the X-Forwarded-For header xff: the header's leftmost entry when
// trust (the edge's flag) or use_x_forwarded_for says a load balancer
// writes it and it names one, else the peer. shown is that entry as the
// client wrote it ("" for the peer), for a refusal to name even when it
// is no address (which no entry allows).
func (r *Routing) ClientAddr(peer []byte, xff string, trust bool) (addr netip.Addr, shown string) {
	if trust || r.UseXFF {
		if shown = ForwardedClient(xff); shown != "" {
			addr, _ = netip.ParseAddr(shown)
			return addr, shown
		}
	}
	addr, _ = netip.AddrFromSlice(peer)
	return addr.Unmap(), ""
}

// CheckClientIP applies allowed_ips to a request (ClientAddr's
// arguments). Nil without allowed_ips.
func (r *Routing) CheckClientIP(peer []byte, xff string, trustXFF bool) error {
	if r.IPAllow == nil {
		return nil
	}
	addr, shown := r.ClientAddr(peer, xff, trustXFF)
	if r.IPAllow.Allows(addr) {
		return nil
	}
	if shown == "" {
		shown = addr.String()
	}
	return ProxyIPForbidden(shown)
}
