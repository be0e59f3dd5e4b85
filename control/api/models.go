package api

import (
	"cmp"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/policy"
)

// ModelValidator checks a deployment sent to /model/new with the same rules
// as config.yaml's model_list, naming the bad field. Set by the wiring so
// the API and the config loader cannot drift.
type ModelValidator func(m *events.Model) error

type modelRequest struct {
	ModelName     string             `json:"model_name"`
	LiteLLMParams events.ModelParams `json:"litellm_params"`
	ModelInfo     events.ModelInfo   `json:"model_info"`
}

func (a *API) modelNew(c *fiber.Ctx) error {
	var req modelRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	now := a.store.Now()
	m := &events.Model{ID: req.ModelInfo.ID, ModelName: req.ModelName, LiteLLMParams: req.LiteLLMParams,
		ModelInfo: req.ModelInfo, Source: "api", CreatedAt: now, UpdatedAt: now}
	if m.ID == "" {
		m.ID = newID()
		m.ModelInfo.ID = m.ID
	}
	if err := a.validateModel(m); err != nil {
		return err
	}
	res, err := a.store.Mutate(c.UserContext(), who(c).actor(), events.KindModel, m.ID, func(cur any) (string, any, error) {
		if cur != nil {
			return "", nil, apierror.Conflict.With("model id %q already exists", m.ID)
		}
		return events.ModelUpserted, m, nil
	})
	if err != nil {
		return err
	}
	out := redactModel(m)
	// LiteLLM answers the stored row, whose id is model_id.
	out["model_id"] = m.ID
	// Edges resolve os.environ/ from their own environment, so this is a
	// warning from the control plane's, not a refusal: an unset variable
	// here is likely unset on the edges too.
	var warnings []string
	for _, e := range policy.MissingEnv(m, nil) {
		warnings = append(warnings, e.Field+" references os.environ/"+e.Name+", which is not set in the control plane's environment; requests to this deployment fail on every edge where it is unset too")
	}
	if len(warnings) > 0 {
		warn(c, warnings...)
		a.log.Warn("model added with unset environment variables", "model_id", m.ID, "model_name", m.ModelName, "warnings", warnings)
	}
	return commit(c, res, out)
}

func (a *API) validateModel(m *events.Model) error {
	if a.validator != nil {
		if err := a.validator(m); err != nil {
			return httpx.Param("model", "%v", err)
		}
		return nil
	}
	if strings.TrimSpace(m.ModelName) == "" {
		return httpx.Param("model_name", "is required")
	}
	if m.LiteLLMParams.Model == "" {
		return httpx.Param("litellm_params.model", "is required")
	}
	if p, _ := policy.SplitProvider(m.LiteLLMParams.Model); p == "" {
		return httpx.Param("litellm_params.model", "%q names no known provider; use <provider>/<model>", m.LiteLLMParams.Model)
	}
	return nil
}

// redactModel hides literal provider secrets; os.environ/ references are
// not secret and stay visible.
func redactModel(m *events.Model) fiber.Map {
	p, _ := policy.RedactParams(m.LiteLLMParams)
	return fiber.Map{"model_name": m.ModelName, "litellm_params": p, "model_info": m.ModelInfo, "id": m.ID, "source": m.Source}
}

func (a *API) modelInfo(c *fiber.Ctx) error {
	me := who(c)
	snap := a.store.Snapshot()
	id := c.Query("litellm_model_id")
	data := []fiber.Map{}
	for _, m := range snap.Models() {
		if id != "" && m.ID != id {
			continue
		}
		if !a.mayList(me, snap, m.ModelName) {
			continue
		}
		data = append(data, redactModel(m))
	}
	if id != "" && len(data) == 0 {
		return apierror.NotFound.With("model id %q not found", id)
	}
	return c.JSON(fiber.Map{"data": data})
}

// mayList reports whether the model info routes show model name to me:
// everything to an admin or a view-only admin, to a key what it may call.
// JWT callers list their models at the edge's /v1/models.
func (a *API) mayList(me caller, snap *policy.Snapshot, name string) bool {
	if me.reads() {
		return true
	}
	if me.key == nil {
		return false
	}
	_, err := snap.CheckKey(me.key, name, a.store.Now())
	return err == nil
}

// modelGroup is LiteLLM's ModelGroupInfo: one model name callers use, what
// serves it, what it costs. Fields LiteLLM fills from its model cost map
// (supports_vision, ...) are left out: gatehouse has no such map.
type modelGroup struct {
	ModelGroup         string   `json:"model_group"`
	Providers          []string `json:"providers"`
	Mode               string   `json:"mode"`
	MaxInputTokens     *int64   `json:"max_input_tokens"`
	MaxOutputTokens    *int64   `json:"max_output_tokens"`
	InputCostPerToken  float64  `json:"input_cost_per_token"`
	OutputCostPerToken float64  `json:"output_cost_per_token"`
	AccessGroups       []string `json:"access_groups"`
}

// modelGroupInfo is GET /model_group/info (an info route): the model
// groups the caller may call, or the one named by model_group.
func (a *API) modelGroupInfo(c *fiber.Ctx) error {
	me := who(c)
	snap := a.store.Snapshot()
	want := c.Query("model_group")
	data := []modelGroup{}
	for _, name := range snap.Catalog().ModelNames() {
		if (want != "" && name != want) || !a.mayList(me, snap, name) {
			continue
		}
		rt := snap.Catalog().Resolve(name)
		if !rt.Found() {
			continue
		}
		g := modelGroup{ModelGroup: name, Providers: []string{}, AccessGroups: []string{}, Mode: "chat"}
		for i, d := range rt.Deployments {
			if !slices.Contains(g.Providers, d.Provider) {
				g.Providers = append(g.Providers, d.Provider)
			}
			for _, ag := range d.AccessGroups {
				if !slices.Contains(g.AccessGroups, ag) {
					g.AccessGroups = append(g.AccessGroups, ag)
				}
			}
			if i == 0 {
				g.InputCostPerToken, g.OutputCostPerToken = d.InputCostPerToken, d.OutputCostPerToken
				if d.Mode != "" {
					g.Mode = d.Mode
				}
				if m := snap.Model(d.ID); m != nil {
					if v := m.ModelInfo.MaxInputTokens; v > 0 {
						g.MaxInputTokens = &v
					}
					if v := cmp.Or(m.ModelInfo.MaxOutputTokens, m.ModelInfo.MaxTokens); v > 0 {
						g.MaxOutputTokens = &v
					}
				}
			}
		}
		data = append(data, g)
	}
	if want != "" && len(data) == 0 {
		return apierror.NotFound.With("model group %q not found", want)
	}
	return c.JSON(fiber.Map{"data": data})
}

// modelUpdate is POST /model/update (LiteLLM's updateDeployment): the
// deployment named by model_info.id gets the fields sent, litellm_params
// and model_info merged field by field into what it has. A deployment from
// config.yaml is refused: the next start would load the file's again.
func (a *API) modelUpdate(c *fiber.Ctx) error {
	req, err := decodeModelWrite(c)
	if err != nil {
		return err
	}
	if req.id == "" {
		return apierror.MissingParam.With("model_info.id is required: it names the deployment to update")
	}
	return a.updateModel(c, req.id, req.ModelName, req.LiteLLMParams, req.ModelInfo)
}

// modelPatch is PATCH /model/{model_id}/update, the route LiteLLM's own
// dashboard uses: the same field-by-field merge as /model/update, the
// deployment named by the path. A model_info.id in the body naming
// another deployment is refused rather than silently ignored.
func (a *API) modelPatch(c *fiber.Ctx) error {
	id := c.Params("model_id")
	req, err := decodeModelWrite(c)
	if err != nil {
		return err
	}
	if req.id != "" && req.id != id {
		return httpx.Param("model_info.id", "%q is not the deployment the path names (%q); a deployment's id cannot change", req.id, id)
	}
	return a.updateModel(c, id, req.ModelName, req.LiteLLMParams, req.ModelInfo)
}

// modelWrite is the body of /model/update and its PATCH form; id is
// model_info.id ("" when not sent).
type modelWrite struct {
	ModelName     *string         `json:"model_name"`
	LiteLLMParams json.RawMessage `json:"litellm_params"`
	ModelInfo     json.RawMessage `json:"model_info"`
	id            string
}

func decodeModelWrite(c *fiber.Ctx) (modelWrite, error) {
	var req modelWrite
	if err := decode(c, &req); err != nil {
		return req, err
	}
	if len(req.ModelInfo) > 0 {
		var sel struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(req.ModelInfo, &sel); err != nil {
			return req, httpx.Param("model_info", "must be an object")
		}
		req.id = sel.ID
	}
	return req, nil
}

func (a *API) updateModel(c *fiber.Ctx, id string, name *string, params, info json.RawMessage) error {
	var out *events.Model
	res, err := a.store.Mutate(c.UserContext(), who(c).actor(), events.KindModel, id, func(cur any) (string, any, error) {
		old, _ := cur.(*events.Model)
		if old == nil {
			return "", nil, apierror.NotFound.With("model id %q not found", id)
		}
		if old.Source == "config" {
			return "", nil, httpx.Param("model_info.id", "deployment %q comes from config.yaml; change it there", id)
		}
		m := *old
		if name != nil {
			m.ModelName = *name
		}
		if err := mergeJSON("litellm_params", &m.LiteLLMParams, params); err != nil {
			return "", nil, err
		}
		if err := mergeJSON("model_info", &m.ModelInfo, info); err != nil {
			return "", nil, err
		}
		m.ID, m.ModelInfo.ID, m.UpdatedAt = old.ID, old.ID, a.store.Now()
		if err := a.validateModel(&m); err != nil {
			return "", nil, err
		}
		out = &m
		return events.ModelUpserted, &m, nil
	})
	if err != nil {
		return err
	}
	return commit(c, res, redactModel(out))
}

// mergeJSON sets the fields of patch (a JSON object) on *dst, keeping the
// others, with the strict decoding of every admin body (an unknown field
// is a 400 naming it).
func mergeJSON[T any](field string, dst *T, patch json.RawMessage) error {
	if len(patch) == 0 || string(patch) == "null" {
		return nil
	}
	var cur, add map[string]json.RawMessage
	b, err := json.Marshal(dst)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &cur); err != nil {
		return err
	}
	if err := json.Unmarshal(patch, &add); err != nil {
		return httpx.Param(field, "must be an object")
	}
	if cur == nil {
		cur = map[string]json.RawMessage{}
	}
	maps.Copy(cur, add)
	merged, err := json.Marshal(cur)
	if err != nil {
		return err
	}
	var next T
	if err := httpx.DecodeStrict(merged, &next); err != nil {
		return err
	}
	*dst = next
	return nil
}

func (a *API) modelDelete(c *fiber.Ctx) error {
	var req struct {
		ID string `json:"id"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	if req.ID == "" {
		return apierror.MissingParam.With("id is required")
	}
	res, existed, err := a.store.Delete(c.UserContext(), who(c).actor(), events.KindModel, req.ID)
	if err != nil {
		return err
	}
	if !existed {
		return apierror.NotFound.With("model id %q not found", req.ID)
	}
	// LiteLLM's wording, which its clients match on ("deleted successfully").
	return commit(c, res, fiber.Map{"message": "Model: " + req.ID + " deleted successfully", "id": req.ID})
}

// accessGroupRequest is both shapes of /access_group/new and update:
// gatehouse's (access_group_id, models) and LiteLLM 2026's (access_group,
// model_names, model_ids).
type accessGroupRequest struct {
	AccessGroupID string   `json:"access_group_id"`
	AccessGroup   string   `json:"access_group"`
	Models        []string `json:"models"`
	ModelNames    []string `json:"model_names"`
	ModelIDs      []string `json:"model_ids"`
	Description   string   `json:"description"`
}

// group checks req and answers the access group it describes, named path
// when the route names it. Every refusal comes before the store is read.
func (req *accessGroupRequest) group(path string) (*events.AccessGroup, error) {
	name := cmp.Or(req.AccessGroupID, req.AccessGroup)
	switch {
	case req.AccessGroupID != "" && req.AccessGroup != "" && req.AccessGroupID != req.AccessGroup:
		return nil, httpx.Param("access_group", "%q and access_group_id %q name different groups; send one", req.AccessGroup, req.AccessGroupID)
	case path != "" && name != "" && name != path:
		return nil, httpx.Param("access_group", "%q is not the group the path names (%q); an access group cannot be renamed", name, path)
	}
	name = cmp.Or(path, name)
	if strings.TrimSpace(name) == "" {
		return nil, param(apierror.MissingParam.With("access_group_id is required (LiteLLM's access_group)"), "access_group_id")
	}
	if len(req.Models) > 0 && len(req.ModelNames) > 0 && !slices.Equal(req.Models, req.ModelNames) {
		return nil, httpx.Param("model_names", "and models list different models; send one")
	}
	models := req.Models
	if len(models) == 0 {
		models = req.ModelNames
	}
	if err := validModels(&models); err != nil {
		return nil, err
	}
	for i, id := range req.ModelIDs {
		if strings.TrimSpace(id) == "" {
			return nil, httpx.Param("model_ids", "entry %d is empty", i)
		}
	}
	// LiteLLM refuses a group with nothing in it (its groups exist only
	// as tags on deployments).
	if len(models) == 0 && len(req.ModelIDs) == 0 {
		return nil, httpx.Param("model_names", "Either model_names or model_ids must be provided and non-empty")
	}
	// A group may hold other groups, never itself (LiteLLM's
	// upsert_group_memberships: 400 "cannot include itself").
	if slices.Contains(models, name) {
		return nil, httpx.Param("models", "access group %q cannot include itself", name)
	}
	if len(req.ModelIDs) > 0 {
		// LiteLLM's precedence: model_ids name the deployments exactly,
		// model_names are then not applied (a warning says so).
		models = nil
	}
	return &events.AccessGroup{AccessGroupID: name, Models: append([]string{}, models...), ModelIDs: req.ModelIDs, Description: req.Description}, nil
}

// accessGroupPut serves POST /access_group/new and /access_group/update,
// and with path LiteLLM 2026's PUT /access_group/{access_group}/update.
func (a *API) accessGroupPut(update bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req accessGroupRequest
		if err := decode(c, &req); err != nil {
			return err
		}
		g, err := req.group(c.Params("access_group"))
		if err != nil {
			return err
		}
		snap := a.store.Snapshot()
		for i, id := range g.ModelIDs {
			if snap.Model(id) == nil {
				return httpx.Param("model_ids", "entry %d: Deployment with model_id %q not found", i, id)
			}
		}
		if len(g.ModelIDs) > 0 && (len(req.Models) > 0 || len(req.ModelNames) > 0) {
			warn(c, "model_names not applied: model_ids name the deployments of the group (LiteLLM's precedence)")
		}
		now := a.store.Now()
		g.CreatedAt, g.UpdatedAt = now, now
		res, err := a.store.Mutate(c.UserContext(), who(c).actor(), events.KindAccessGroup, g.AccessGroupID, func(cur any) (string, any, error) {
			old, _ := cur.(*events.AccessGroup)
			switch {
			case update && old == nil && snap.Catalog().IsGroup(g.AccessGroupID):
				return "", nil, httpx.Param("access_group", "access group %q is made of deployments' model_info.access_groups; change those deployments", g.AccessGroupID)
			case update && old == nil:
				return "", nil, apierror.NotFound.With("Access group '%s' not found", g.AccessGroupID)
			case !update && (old != nil || snap.Catalog().IsGroup(g.AccessGroupID)):
				return "", nil, apierror.Conflict.With("Access group '%s' already exists. Use PUT /access_group/%s/update to modify it.", g.AccessGroupID, g.AccessGroupID)
			}
			if old != nil {
				g.CreatedAt = old.CreatedAt
			}
			return events.AccessGroupUpserted, g, nil
		})
		if err != nil {
			return err
		}
		// Both answers: gatehouse's stored group and LiteLLM's
		// NewModelGroupResponse (models_updated: the deployments the
		// group now holds).
		return commit(c, res, fiber.Map{
			"access_group_id": g.AccessGroupID, "models": g.Models, "model_ids": g.ModelIDs, "description": g.Description,
			"created_at": g.CreatedAt, "updated_at": g.UpdatedAt,
			"access_group": g.AccessGroupID, "model_names": req.ModelNames, "models_updated": len(groupDeployments(snap, g)),
		})
	}
}

// groupDeployments are the deployments g holds: by id, by name, or
// tagged with it in model_info.access_groups.
func groupDeployments(snap *policy.Snapshot, g *events.AccessGroup) []*events.Model {
	var out []*events.Model
	for _, m := range snap.Models() {
		if slices.Contains(m.ModelInfo.AccessGroups, g.AccessGroupID) || slices.Contains(g.ModelIDs, m.ID) || slices.Contains(g.Models, m.ModelName) {
			out = append(out, m)
		}
	}
	return out
}

// accessGroupView is LiteLLM's AccessGroupInfo. gatehouse has no access
// group budgets: spend is 0 and budget null, as for a LiteLLM group
// without one.
func accessGroupView(snap *policy.Snapshot, name string) fiber.Map {
	g := snap.AccessGroup(name)
	if g == nil {
		g = &events.AccessGroup{AccessGroupID: name}
	}
	names := snap.Catalog().GroupModels(name)
	slices.Sort(names)
	names = orEmpty(names)
	return fiber.Map{"access_group": name, "model_names": names, "deployment_count": len(groupDeployments(snap, g)), "spend": 0.0, "budget": nil}
}

// accessGroupList is GET /access_group/list: every group, explicit or
// made of model_info.access_groups, by name.
func (a *API) accessGroupList(c *fiber.Ctx) error {
	snap := a.store.Snapshot()
	out := []fiber.Map{}
	for _, name := range snap.Catalog().GroupNames() {
		out = append(out, accessGroupView(snap, name))
	}
	return c.JSON(fiber.Map{"access_groups": out})
}

// accessGroupInfoPath is GET /access_group/{access_group}/info.
func (a *API) accessGroupInfoPath(c *fiber.Ctx) error {
	snap := a.store.Snapshot()
	name := c.Params("access_group")
	if snap.AccessGroup(name) == nil && !snap.Catalog().IsGroup(name) {
		return apierror.NotFound.With("Access group '%s' not found", name)
	}
	return c.JSON(accessGroupView(snap, name))
}

func (a *API) accessGroupInfo(c *fiber.Ctx) error {
	snap := a.store.Snapshot()
	id := c.Query("access_group_id")
	if id == "" {
		return c.JSON(fiber.Map{"access_groups": snap.AccessGroups()})
	}
	g := snap.AccessGroup(id)
	if g == nil && !snap.Catalog().IsGroup(id) {
		return apierror.NotFound.With("access group %q not found", id)
	}
	return c.JSON(fiber.Map{"access_group_id": id, "access_group": g, "models": snap.Catalog().GroupModels(id)})
}

// accessGroupDelete serves POST /access_group/delete (access_group_id in
// the body) and LiteLLM 2026's DELETE /access_group/{access_group}/delete.
func (a *API) accessGroupDelete(c *fiber.Ctx) error {
	name := c.Params("access_group")
	if name == "" {
		var req struct {
			AccessGroupID string `json:"access_group_id"`
			AccessGroup   string `json:"access_group"`
		}
		if err := decode(c, &req); err != nil {
			return err
		}
		if name = cmp.Or(req.AccessGroupID, req.AccessGroup); name == "" {
			return param(apierror.MissingParam.With("access_group_id is required"), "access_group_id")
		}
	}
	snap := a.store.Snapshot()
	g := snap.AccessGroup(name)
	if g == nil && snap.Catalog().IsGroup(name) {
		return httpx.Param("access_group", "access group %q is made of deployments' model_info.access_groups; change those deployments", name)
	}
	res, existed, err := a.store.Delete(c.UserContext(), who(c).actor(), events.KindAccessGroup, name)
	if err != nil {
		return err
	}
	if !existed {
		return apierror.NotFound.With("Access group '%s' not found", name)
	}
	n := 0
	if g != nil {
		n = len(groupDeployments(snap, g))
	}
	return commit(c, res, fiber.Map{"deleted": name, "access_group": name, "models_updated": n,
		"message": "Access group '" + name + "' deleted successfully"})
}
