package gateway

import (
	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
)

// scopeLimits admits a request under the rpm/tpm limits of its
// organization and its end user (customer), counted across all edges like
// the key's and team's. It returns the objects whose tpm limits the
// response's tokens must feed (nil when they have none).
func (g *Gateway) scopeLimits(h *fasthttp.ResponseHeader, snap *policy.Snapshot, orgID, endUser string) (*events.Org, *events.Customer, error) {
	if g.limiter == nil {
		return nil, nil, nil
	}
	var org *events.Org
	var cu *events.Customer
	if orgID != "" {
		if o := snap.Org(orgID); o != nil {
			if err := g.allow(h, "org:", o.OrganizationID, o.RPMLimit, o.TPMLimit); err != nil {
				return nil, nil, err
			}
			if o.TPMLimit != nil {
				org = o
			}
		}
	}
	if endUser != "" {
		if c := snap.Customer(endUser); c != nil {
			if err := g.allow(h, "end_user:", c.UserID, c.RPMLimit, c.TPMLimit); err != nil {
				return nil, nil, err
			}
			if c.TPMLimit != nil {
				cu = c
			}
		}
	}
	return org, cu, nil
}

// countScopeTokens feeds the org's and end user's tpm limits.
func (g *Gateway) countScopeTokens(org *events.Org, cu *events.Customer, tokens int64) {
	if g.limiter == nil || tokens <= 0 {
		return
	}
	if org != nil {
		g.limiter.AddTokens("org:"+org.OrganizationID, tokens)
	}
	if cu != nil {
		g.limiter.AddTokens("end_user:"+cu.UserID, tokens)
	}
}
