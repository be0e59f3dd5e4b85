package gateway

import (
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/edge/proxy"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// requestFallbacks reads LiteLLM's request-level "fallbacks" (model groups
// tried after the requested one's, group, instead of router_settings'). Like
// LiteLLM, a name that is no model is a 400 before anything is sent, and
// the caller must be allowed to call every name the body carries, as the
// model itself (a router-config shaped list for another group, or a
// deployment's nested fallbacks, included).
func (g *Gateway) requestFallbacks(c *fiber.Ctx, snap *policy.Snapshot, id auth.Identity, raw, group string) ([]string, error) {
	if raw == "" {
		return nil, nil
	}
	use, check, err := proxy.RequestFallbacks(raw, group)
	if err != nil {
		return nil, badJSON(err)
	}
	for _, m := range check {
		if !snap.Catalog().Resolve(m).Found() {
			e := apierror.BadRequest.With("Invalid model name passed in model=%s. Call `/v1/models` to view available models for your key.", m)
			e.Param = "fallbacks"
			return nil, e
		}
		// Each fallback must pass the caller's own decision, as the
		// requested model did.
		_, err = id.Grant(snap, g.request(c, m))
		if err != nil {
			return nil, err
		}
	}
	if use == nil {
		// A router-config list with no entry for this group: an empty,
		// not absent, list, so router_settings' do not apply either.
		use = []string{}
	}
	return use, nil
}

// identifyOpaque authenticates an opaque OIDC access token through the
// provider's userinfo endpoint (cached), as a JWT identity.
func (g *Gateway) identifyOpaque(c *fiber.Ctx, snap *policy.Snapshot, cred string) (*policy.Snapshot, auth.Identity, error) {
	eng, err := g.jwt.Engine(snap.JWT())
	if err != nil {
		return nil, auth.Identity{}, err
	}
	jid, err := eng.AuthenticateOpaque(c.UserContext(), cred, g.nowFunc())
	return snap, auth.Identity{JWT: jid}, err
}
