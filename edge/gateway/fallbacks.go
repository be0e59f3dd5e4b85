package gateway

import (
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/edge/proxy"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// requestFallbacks reads LiteLLM's request-level "fallbacks" (model names
// tried after the requested one fails, instead of router_settings'). Like
// LiteLLM, a name that is no model is a 400 before anything is sent, and
// the caller must be allowed to call each one, as the model itself.
func (g *Gateway) requestFallbacks(c *fiber.Ctx, snap *policy.Snapshot, id auth.Identity, raw string) ([]string, error) {
	if raw == "" {
		return nil, nil
	}
	models, err := proxy.RequestFallbacks(raw)
	if err != nil {
		return nil, badJSON(err)
	}
	for _, m := range models {
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
	return models, nil
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
