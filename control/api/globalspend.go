package api

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/spend/query"
)

// LiteLLM's /global/spend routes (global_spend_tracking_routes: admins
// and view-only admins) over LiteLLM's last 30 days: the UTC days from
// today - 30 to today, read from the daily rollups as
// /global/spend/report reads them.

// last30Days is LiteLLM's "startTime >= CURRENT_DATE - INTERVAL '30 days'"
// as UTC days, both included.
func (a *API) last30Days(c *fiber.Ctx, groupBy string) ([]query.ReportRow, error) {
	today := a.store.Now().UTC().Truncate(24 * time.Hour)
	return a.report(c, today.AddDate(0, 0, -30), today, groupBy)
}

// spendPer sums a report's rows per group, highest spend first (then by
// group), with the group's name (a key's alias).
func spendPer(rows []query.ReportRow) []query.ReportRow {
	at := map[string]int{}
	var out []query.ReportRow
	for _, r := range rows {
		i, ok := at[r.Group]
		if !ok {
			i = len(out)
			at[r.Group] = i
			out = append(out, query.ReportRow{Group: r.Group})
		}
		out[i].Cost += r.Cost
		out[i].Name = cmp.Or(out[i].Name, r.Name)
	}
	slices.SortFunc(out, func(a, b query.ReportRow) int {
		return cmp.Or(cmp.Compare(b.Cost, a.Cost), cmp.Compare(a.Group, b.Group))
	})
	return out
}

// limitParam reads LiteLLM's limit (>= 1; def when absent, 0 for none).
func limitParam(c *fiber.Ctx, def int) (int, error) {
	v := c.Query("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, httpx.Param("limit", "Invalid limit: %s, must be an integer greater than 0", v)
	}
	return n, nil
}

// globalSpend is LiteLLM's /global/spend: the last 30 days' spend and the
// proxy-wide max_budget (null: gatehouse refuses a proxy-wide budget).
func (a *API) globalSpend(c *fiber.Ctx) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	rows, err := a.last30Days(c, "team")
	if err != nil {
		return err
	}
	var sum float64
	for _, r := range rows {
		sum += r.Cost
	}
	return c.JSON(fiber.Map{"spend": Money(sum), "max_budget": nil})
}

// globalSpendKeys is LiteLLM's /global/spend/keys?limit=: its
// Last30dKeysBySpend view, keys by spend over the last 30 days, with the
// key's alias and masked name (null for a key that no longer exists, as
// LiteLLM's LEFT JOIN gives).
func (a *API) globalSpendKeys(c *fiber.Ctx) error {
	rows, err := a.topSpend(c, "key", 0)
	if err != nil {
		return err
	}
	snap := a.store.Snapshot()
	out := []fiber.Map{}
	for _, r := range rows {
		var alias, name *string
		if h, err := policy.ParseKeyHash(r.Group); err == nil {
			if k := snap.Key(h); k != nil {
				alias, name = optional(k.KeyAlias), optional(k.KeyName)
			}
		}
		out = append(out, fiber.Map{"api_key": r.Group, "key_alias": alias, "key_name": name, "total_spend": Money(r.Cost)})
	}
	return c.JSON(out)
}

// globalSpendModels is LiteLLM's /global/spend/models?limit= (default
// 10): its Last30dModelsBySpend view, per model group (the name clients
// call), highest spend first.
func (a *API) globalSpendModels(c *fiber.Ctx) error {
	rows, err := a.topSpend(c, "model", 10)
	if err != nil {
		return err
	}
	out := []fiber.Map{}
	for _, r := range rows {
		out = append(out, fiber.Map{"model": r.Group, "total_spend": Money(r.Cost)})
	}
	return c.JSON(out)
}

// topSpend is the last 30 days' spend per groupBy, highest first, at most
// LiteLLM's limit parameter (def when absent, 0 for no limit).
func (a *API) topSpend(c *fiber.Ctx, groupBy string, def int) ([]query.ReportRow, error) {
	if err := checkQuery(c, "limit"); err != nil {
		return nil, err
	}
	limit, err := limitParam(c, def)
	if err != nil {
		return nil, err
	}
	rows, err := a.last30Days(c, groupBy)
	if err != nil {
		return nil, err
	}
	// Requests of no key (the master key, JWTs) or of no model group are
	// not a key's or a model's spend: LiteLLM's views leave them out.
	rows = slices.DeleteFunc(spendPer(rows), func(r query.ReportRow) bool { return r.Group == "" })
	if limit > 0 && len(rows) > limit {
		rows = rows[:limit]
	}
	return rows, nil
}

// globalSpendTeams is LiteLLM's /global/spend/teams: spend per day and
// team alias over the last 30 days ("Unassigned" for requests of no team
// or of a team without an alias), the aliases, and the 10 teams that
// spent the most. Amounts are exact (LiteLLM rounds them to cents).
func (a *API) globalSpendTeams(c *fiber.Ctx) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	rows, err := a.last30Days(c, "team")
	if err != nil {
		return err
	}
	snap := a.store.Snapshot()
	alias := func(id string) string {
		if t := snap.Team(id); t != nil && t.TeamAlias != "" {
			return t.TeamAlias
		}
		return "Unassigned"
	}
	var days []fiber.Map
	dayAt := map[string]fiber.Map{}
	perTeam := map[string]float64{}
	for _, r := range rows {
		d, name := r.Date.Format(time.DateOnly), alias(r.Group)
		m := dayAt[d]
		if m == nil {
			m = fiber.Map{"date": d}
			dayAt[d] = m
			days = append(days, m)
		}
		spent, _ := m[name].(float64)
		m[name] = spent + r.Cost
		perTeam[name] += r.Cost
	}
	roundMoney(days)
	teams := make([]string, 0, len(perTeam))
	for t := range perTeam {
		teams = append(teams, t)
	}
	slices.SortFunc(teams, func(x, y string) int { return cmp.Or(cmp.Compare(perTeam[y], perTeam[x]), cmp.Compare(x, y)) })
	top := []fiber.Map{}
	for _, t := range teams[:min(10, len(teams))] {
		top = append(top, fiber.Map{"team_id": t, "total_spend": Money(perTeam[t])})
	}
	if days == nil {
		days = []fiber.Map{}
	}
	return c.JSON(fiber.Map{"daily_spend": days, "teams": teams, "total_spend_per_team": top})
}

// globalSpendReset is LiteLLM's /global/spend/reset (master key only
// there), which zeroes every key's and team's spend. Gatehouse's ledger is
// append-only and budgets reset by their windows, so it refuses.
func (a *API) globalSpendReset(c *fiber.Ctx) error {
	return apierror.BadRequest.With("/global/spend/reset is not supported by gatehouse: the spend ledger is append-only, " +
		"so spend is never zeroed; budgets start again when their budget_duration window ends, or raise max_budget with /key/update, /team/update or /user/update")
}
