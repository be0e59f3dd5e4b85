package gateway

import (
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/obs"
	"github.com/gatehouse/gatehouse/policy"
)

// modelObject is OpenAI's model object, with one gatehouse extension:
// Endpoints, the APIs the model's deployments serve ("chat",
// "embeddings", "completions"), so a client can tell an embedding model
// from a chat one. OpenAI's clients ignore fields they do not know.
type modelObject struct {
	ID        string   `json:"id"`
	Object    string   `json:"object"`
	Created   int64    `json:"created"`
	OwnedBy   string   `json:"owned_by"`
	Endpoints []string `json:"endpoints"`
}

// newModelObject describes model name n: owned by its first deployment's
// provider, serving what any of its deployments serves.
func newModelObject(snap *policy.Snapshot, n string) modelObject {
	m := modelObject{ID: n, Object: "model", Created: 1677610602, OwnedBy: "gatehouse", Endpoints: []string{}}
	rt := snap.Catalog().Resolve(n)
	if !rt.Found() {
		return m
	}
	m.OwnedBy = rt.Deployments[0].Provider
	for _, d := range rt.Deployments {
		for _, e := range d.Endpoints() {
			if !slices.Contains(m.Endpoints, e) {
				m.Endpoints = append(m.Endpoints, e)
			}
		}
	}
	return m
}

// models is GET /v1/models: the models the caller may call. LiteLLM's
// include_model_access_groups adds the access groups the caller holds
// (whose every model it may call), only_model_access_groups lists only
// those.
func (g *Gateway) models(c *fiber.Ctx) error {
	snap, _, names, err := g.visibleModels(c, c.Path())
	if err != nil {
		return err
	}
	if queryTrue(c, "include_model_access_groups") || queryTrue(c, "only_model_access_groups") {
		groups := heldGroups(snap, names)
		if queryTrue(c, "only_model_access_groups") {
			names = nil
		}
		names = append(names, groups...)
	}
	data := make([]modelObject, 0, len(names))
	for _, n := range names {
		data = append(data, newModelObject(snap, n))
	}
	return c.JSON(fiber.Map{"object": "list", "data": data})
}

// queryTrue reads a LiteLLM boolean query parameter ("True" or "true").
func queryTrue(c *fiber.Ctx, name string) bool {
	return strings.EqualFold(c.Query(name), "true")
}

// heldGroups are the access groups every model of which the caller may
// call (callable: the names /v1/models lists for it): what a key naming
// the group, or an unrestricted caller, holds.
func heldGroups(snap *policy.Snapshot, callable []string) []string {
	may := make(map[string]bool, len(callable))
	for _, n := range callable {
		may[n] = true
	}
	var out []string
	for _, g := range snap.Catalog().GroupNames() {
		ms := snap.Catalog().GroupModels(g)
		if len(ms) > 0 && !slices.ContainsFunc(ms, func(m string) bool { return !may[m] }) {
			out = append(out, g)
		}
	}
	return out
}

// model is GET /v1/models/{id}: the model object of a model the caller
// may call, else 404 (the same answer for a model that does not exist and
// one the caller may not use, so the answer does not reveal the catalog).
// Model names may hold '/' ("openai/gpt-4o"), sent as is or escaped.
func (g *Gateway) model(c *fiber.Ctx) error {
	raw := c.Params("+")
	name, err := url.PathUnescape(raw)
	if err != nil {
		name = raw
	}
	name = strings.Clone(name)
	// The route the JWT and allowed_routes checks see names the model as
	// one segment, as /v1/models/{model_id} does in LiteLLM's groups.
	route := strings.TrimSuffix(c.Path(), raw) + url.PathEscape(name)
	snap, id, names, err := g.visibleModels(c, route)
	if err != nil {
		return err
	}
	if !slices.Contains(names, name) {
		// A concrete name served by a wildcard deployment ("openai/gpt-4o"
		// under "openai/*") is not listed; the caller's decision says.
		if !snap.Catalog().Resolve(name).Found() {
			return modelNotFound(name)
		}
		r := g.request(c, name)
		r.Route = route
		if _, err := id.Grant(snap, r); err != nil {
			return modelNotFound(name)
		}
	}
	return c.JSON(newModelObject(snap, name))
}

func modelNotFound(name string) error {
	e := apierror.ModelNotFound.With("The model `%s` does not exist or you do not have access to it. Check /v1/models for the models you can use.", name)
	e.Param = "model"
	return e
}

// visibleModels authenticates the caller and lists the model names it may
// call, with route as the path its route checks see.
func (g *Gateway) visibleModels(c *fiber.Ctx, route string) (*policy.Snapshot, auth.Identity, []string, error) {
	snap, id, err := g.identify(c)
	if err != nil {
		g.metrics.denied(failedMethod(c, snap), err)
		return nil, id, nil, err
	}
	r := g.request(c, "")
	r.Route = route
	names, upserts, err := id.Models(snap, r)
	if err != nil {
		g.metrics.denied(methodOf(id.Method()), err)
		return nil, id, nil, err
	}
	g.upserts.send(upserts, obs.EnsureRequestID(c))
	g.metrics.allowed(methodOf(id.Method()))
	return snap, id, names, nil
}
