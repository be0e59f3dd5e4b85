package gateway

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/edge/proxy"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// responses is OpenAI's POST /v1/responses (and /responses).
func (g *Gateway) responses(c *fiber.Ctx) error { return g.llmCall(c, policy.EndpointResponses) }

// pinPrevious keeps only the deployment that created previous_response_id
// (the upstream keeps a conversation's state where it was created),
// when that deployment serves the route; otherwise the route as is.
func pinPrevious(route policy.Route, body []byte) policy.Route {
	if !strings.Contains(string(body), `"previous_response_id"`) {
		return route
	}
	var p struct {
		Prev string `json:"previous_response_id"`
	}
	if json.Unmarshal(body, &p) != nil {
		return route
	}
	_, _, depID, ok := proxy.ParseResponseID(p.Prev)
	if !ok {
		return route
	}
	for _, d := range route.Deployments {
		if d.ID == depID {
			route.Deployments = []*policy.Deployment{d}
			return route
		}
	}
	return route
}

// responseByID relays GET and DELETE /v1/responses/{id} (and GET
// .../input_items, POST .../cancel) to the deployment that created the
// response, which the id names (proxy.ResponseIDSuffix): any edge can
// serve it, with nothing stored. The caller needs access to the model the
// response was created with, checked as for a new request.
func (g *Gateway) responseByID(c *fiber.Ctx) error {
	snap, id, err := g.identify(c)
	if err != nil {
		g.metrics.denied(failedMethod(c, snap), err)
		return err
	}
	rid, err := url.PathUnescape(c.Params("id"))
	if err != nil {
		rid = c.Params("id")
	}
	upstream, requested, depID, ok := proxy.ParseResponseID(rid)
	if !ok {
		e := apierror.NotFound.With("response %q not found: it was not created through this gateway", rid)
		e.Param = "response_id"
		return e
	}
	grant, err := id.Grant(snap, g.request(c, requested))
	if err != nil {
		g.metrics.denied(methodOf(grant.Method), err)
		return err
	}
	if _, err := g.admit(c, snap, &grant); err != nil {
		return err
	}
	var d *policy.Deployment
	for _, dd := range grant.Route.Deployments {
		if dd.ID == depID {
			d = dd
		}
	}
	if d == nil {
		e := apierror.NotFound.With("response %q not found: the deployment of model %s that created it is no longer configured", rid, requested)
		e.Param = "response_id"
		return e
	}
	sub := ""
	if i := strings.LastIndexByte(c.Path(), '/'); i >= 0 {
		if last := c.Path()[i+1:]; last == "input_items" || last == "cancel" {
			sub = "/" + last
		}
	}
	return g.fwd.RelayResponse(c.Context(), d, c.Method(), upstream, "/"+url.PathEscape(upstream)+sub,
		rid[len(upstream):], c.Request().URI().QueryString())
}
