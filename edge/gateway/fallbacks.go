package gateway

import (
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/auth/jwtauth"
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
		if !snap.Router().Resolve(m).Found() {
			e := apierror.BadRequest.With("Invalid model name passed in model=%s. Call `/v1/models` to view available models for your key.", m)
			e.Param = "fallbacks"
			return nil, e
		}
		switch {
		case id.Admin:
		case id.JWT != nil:
			_, err = jwtauth.Decide(snap, id.JWT, jwtauth.Request{Route: c.Path(), Model: m, TeamHeader: c.Get("x-litellm-team-id")})
		case id.Key != nil:
			_, err = snap.CheckKey(id.Key, m, g.nowFunc())
		}
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
