package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/internal/apierror"
)

// budgetTableRoutes are LiteLLM's budget-table routes (/budget/new, ...):
// named budgets that customers, organizations and team members link to by
// budget_id. Gatehouse keeps a budget on the object it limits, so there is
// no table to link to; each route answers why and what to send instead,
// rather than 404 (which reads as a wrong URL) or storing budgets nothing
// would enforce.
var budgetTableRoutes = []struct{ method, path string }{
	{fiber.MethodPost, "/budget/new"},
	{fiber.MethodPost, "/budget/update"},
	{fiber.MethodPost, "/budget/info"},
	{fiber.MethodGet, "/budget/list"},
	{fiber.MethodPost, "/budget/delete"},
	{fiber.MethodGet, "/budget/settings"},
}

func (a *API) budgetTable(c *fiber.Ctx) error {
	return apierror.BadRequest.With("%s is not supported by gatehouse: there is no budget table (budget_id); "+
		"a budget lives on what it limits: set max_budget, budget_duration, tpm_limit and rpm_limit "+
		"with /key/*, /user/*, /team/*, /organization/* or /customer/* (a team member's with max_budget_in_team)", c.Path())
}
