package api

import (
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/control/store"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// End users: LiteLLM's /customer/* routes: admins change them, and view-only
// admins read them too (LiteLLM's /customer/list admits PROXY_ADMIN_VIEW_ONLY).
func (a *API) customerRoutes(admin fiber.Router) {
	// /end_user/* is LiteLLM's older name for the same routes, which its
	// tests and older clients still call.
	for _, prefix := range []string{"/customer", "/end_user"} {
		admin.Post(prefix+"/new", a.adminOnly, a.customerNew)
		admin.Post(prefix+"/update", a.adminOnly, a.customerUpdate)
		admin.Get(prefix+"/info", a.readOnly, a.customerInfo)
		admin.Get(prefix+"/list", a.readOnly, a.customerList)
		admin.Post(prefix+"/delete", a.adminOnly, a.customerDelete)
		admin.Post(prefix+"/block", a.adminOnly, a.customerBlock(true))
		admin.Post(prefix+"/unblock", a.adminOnly, a.customerBlock(false))
	}
}

type customerRequest struct {
	UserID             *string   `json:"user_id"`
	Alias              *string   `json:"alias"`
	Blocked            *bool     `json:"blocked"`
	Models             *[]string `json:"models"`
	BudgetID           *string   `json:"budget_id"`
	AllowedModelRegion *string   `json:"allowed_model_region"`
	DefaultModel       *string   `json:"default_model"`
	// No metadata: LiteLLM's /customer/* routes do not take it.
	budgetFields
}

func (r *customerRequest) validate() error {
	if r.UserID == nil || strings.TrimSpace(*r.UserID) == "" {
		return httpx.Required("user_id")
	}
	if err := r.budgetFields.validate(); err != nil {
		return err
	}
	if r.BudgetID != nil && *r.BudgetID != "" {
		// LiteLLM links a row of /budget/new; there are no budget objects
		// here, and accepting an id that nothing enforces would mislead.
		return httpx.Param("budget_id", "shared budgets (/budget/new) are not supported; set max_budget and budget_duration on the customer")
	}
	if r.AllowedModelRegion != nil && *r.AllowedModelRegion != "" && *r.AllowedModelRegion != "eu" && *r.AllowedModelRegion != "us" {
		return httpx.Param("allowed_model_region", "must be \"eu\" or \"us\", got %q", *r.AllowedModelRegion)
	}
	return validModels(r.Models)
}

func (r *customerRequest) apply(cu *events.Customer, now time.Time) {
	set(&cu.Alias, r.Alias)
	set(&cu.Blocked, r.Blocked)
	setList(&cu.Models, r.Models)
	r.budgetFields.apply(&cu.MaxBudget, &cu.BudgetDuration, &cu.TPMLimit, &cu.RPMLimit, &cu.BudgetFlag, now)
	set(&cu.AllowedModelRegion, r.AllowedModelRegion)
	set(&cu.DefaultModel, r.DefaultModel)
}

// customerNotFound is LiteLLM's 404 for an end user without a record,
// naming the field that named it (user_id, or /customer/info's
// end_user_id).
func customerNotFound(id, field string) *apierror.Error {
	return param(apierror.NotFound.With("End User Id=%s does not exist in db", id), field)
}

// customerView renders an end user as LiteLLM's LiteLLM_EndUserTable: its
// fields, its spend and the budget row.
func (a *API) customerView(c *fiber.Ctx, cu *events.Customer) fiber.Map {
	m := withSpend(cu, a.spendOf(c, events.KindCustomer, cu.UserID))
	maxBudget := cu.MaxBudget
	if maxBudget == nil {
		maxBudget = a.store.Snapshot().MaxEndUserBudget()
	}
	m["litellm_budget_table"] = fiber.Map{"max_budget": maxBudget, "budget_duration": nilIfEmpty(cu.BudgetDuration),
		"tpm_limit": cu.TPMLimit, "rpm_limit": cu.RPMLimit, "budget_reset_at": cu.BudgetResetAt}
	return m
}

func (a *API) customerNew(c *fiber.Ctx) error {
	req, err := decodeValid[customerRequest](c)
	if err != nil {
		return err
	}
	if err := a.checkDefaultModel(req.DefaultModel); err != nil {
		return err
	}
	id := *req.UserID
	now := a.store.Now()
	cu := &events.Customer{UserID: id, CreatedAt: now, UpdatedAt: now}
	req.apply(cu, now)
	res, err := a.create(c, events.KindCustomer, id, events.CustomerUpserted, cu, param(apierror.BadRequest.With("Customer already exists, passed user_id=%s. Please pass a new user_id.", id), "user_id"))
	if err != nil {
		return err
	}
	return commit(c, res, a.customerView(c, cu))
}

// checkDefaultModel is /customer/new's check of default_model, as
// LiteLLM's: a model name the proxy serves (LiteLLM answers 422, a 400
// here as every refusal of a body). /customer/update does not check it,
// as in LiteLLM.
func (a *API) checkDefaultModel(m *string) error {
	if m == nil {
		return nil
	}
	names := a.store.Snapshot().Catalog().ModelNames()
	if slices.Contains(names, *m) {
		return nil
	}
	set := "set()"
	if len(names) > 0 {
		set = "{" + strings.Trim(pyList(names), "[]") + "}"
	}
	return param(apierror.BadRequest.With("Default Model not on proxy. Configure via `/model/new` or config.yaml. Default_model=%s, proxy_model_names=%s", *m, set), "default_model")
}

// mutateCustomer runs a read-modify-write on an end user; create makes a
// missing one (block and unblock work on end users never seen, as in
// LiteLLM) instead of answering 404.
func (a *API) mutateCustomer(c *fiber.Ctx, id, typ string, create bool, change func(cu *events.Customer)) (store.Result, *events.Customer, error) {
	var out *events.Customer
	res, err := a.store.Mutate(c.UserContext(), who(c).actor(), events.KindCustomer, id, func(cur any) (string, any, error) {
		now := a.store.Now()
		cu := &events.Customer{UserID: id, CreatedAt: now}
		if old, _ := cur.(*events.Customer); old != nil {
			cp := *old
			cu = &cp
		} else if !create {
			return "", nil, customerNotFound(id, "user_id")
		}
		change(cu)
		cu.UpdatedAt = now
		out = cu
		return typ, cu, nil
	})
	return res, out, err
}

func (a *API) customerUpdate(c *fiber.Ctx) error {
	req, err := decodeValid[customerRequest](c)
	if err != nil {
		return err
	}
	res, cu, err := a.mutateCustomer(c, *req.UserID, events.CustomerUpserted, false, func(cu *events.Customer) { req.apply(cu, a.store.Now()) })
	if err != nil {
		return err
	}
	return commit(c, res, a.customerView(c, cu))
}

func (a *API) customerInfo(c *fiber.Ctx) error {
	id := c.Query("end_user_id")
	if id == "" {
		return httpx.Required("end_user_id")
	}
	cu := a.store.Snapshot().Customer(id)
	if cu == nil {
		return customerNotFound(id, "end_user_id")
	}
	return c.JSON(a.customerView(c, cu))
}

func (a *API) customerList(c *fiber.Ctx) error {
	if err := checkQuery(c); err != nil { // LiteLLM's takes no filter either
		return err
	}
	out := []fiber.Map{}
	for _, cu := range a.store.Snapshot().Customers() {
		out = append(out, a.customerView(c, cu))
	}
	return c.JSON(out)
}

type customerIDs struct {
	UserIDs []string `json:"user_ids"`
}

func (r *customerIDs) decode(c *fiber.Ctx) error {
	if err := decode(c, r); err != nil {
		return err
	}
	if len(r.UserIDs) == 0 {
		return httpx.Required("user_ids")
	}
	for i, id := range r.UserIDs {
		if strings.TrimSpace(id) == "" {
			return httpx.Param("user_ids", "entry %d is empty", i)
		}
	}
	return nil
}

// customerDelete deletes every end user named, or none: one without a
// record is LiteLLM's 404 naming all that are missing.
func (a *API) customerDelete(c *fiber.Ctx) error {
	var req customerIDs
	if err := req.decode(c); err != nil {
		return err
	}
	snap := a.store.Snapshot()
	var missing []string
	for _, id := range req.UserIDs {
		if snap.Customer(id) == nil {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return param(apierror.NotFound.With("End User Id(s)=%s do not exist in db", strings.Join(missing, ", ")), "user_ids")
	}
	var last store.Result
	deleted := 0
	for _, id := range req.UserIDs {
		res, existed, err := a.store.Delete(c.UserContext(), who(c).actor(), events.KindCustomer, id)
		if err != nil {
			return err
		}
		if existed { // an id named twice is deleted once
			deleted++
		}
		last = later(last, res)
	}
	return commit(c, last, fiber.Map{"deleted_customers": deleted,
		"message": "Successfully deleted customers with ids: " + pyList(req.UserIDs)})
}

// customerBlock is /customer/block and /customer/unblock: every edge
// refuses a blocked end user's requests once the call returns.
func (a *API) customerBlock(block bool) fiber.Handler {
	typ, field := events.CustomerUnblocked, "unblocked_users"
	if block {
		typ, field = events.CustomerBlocked, "blocked_users"
	}
	return func(c *fiber.Ctx) error {
		var req customerIDs
		if err := req.decode(c); err != nil {
			return err
		}
		var last store.Result
		out := make([]fiber.Map, 0, len(req.UserIDs))
		for _, id := range req.UserIDs {
			res, cu, err := a.mutateCustomer(c, id, typ, block, func(cu *events.Customer) { cu.Blocked = block })
			if err != nil {
				return err
			}
			last = later(last, res)
			out = append(out, a.customerView(c, cu))
		}
		return commit(c, last, fiber.Map{field: out})
	}
}
