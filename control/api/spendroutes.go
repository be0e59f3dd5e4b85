package api

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/edge/proxy"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/spend/query"
)

// LiteLLM's spend_tracking_routes besides /spend/logs's rows: the
// summary of /spend/logs, /spend/logs/v2, /spend/keys, /spend/users,
// /spend/calculate, /global/spend/end_users, /spend/tags and
// /global/spend/tags.

// spendSummary is LiteLLM's summarized /spend/logs (start_date and
// end_date given): per UTC day, oldest first, the day's spend, its spend
// per key (a member named by the key's sha256), per user ("users") and
// per upstream model ("models"); as in LiteLLM, the days after the last
// day with spend up to end_date follow with zero spend.
func (a *API) spendSummary(c *fiber.Ctx) error {
	st, f, err := a.filtered(c)
	if err != nil {
		return err
	}
	rows, err := query.Summary(c.UserContext(), st.Conn, st.Database, f)
	if err != nil {
		return apierror.Unavailable.Wrap(err, "spend store unavailable")
	}
	out := []fiber.Map{}
	var day fiber.Map
	var last time.Time
	for _, r := range rows {
		if day == nil || !r.Date.Equal(last) {
			last = r.Date
			day = fiber.Map{"startTime": r.Date.Format(time.DateOnly), "spend": 0.0, "users": map[string]float64{}, "models": map[string]float64{}}
			out = append(out, day)
		}
		day["spend"] = day["spend"].(float64) + r.Cost
		spent, _ := day[r.KeyHash].(float64)
		day[r.KeyHash] = spent + r.Cost
		day["users"].(map[string]float64)[r.User] += r.Cost
		day["models"].(map[string]float64)[r.Model] += r.Cost
	}
	roundMoney(out)
	if len(out) > 0 {
		end, _ := dateParam(c, "end_date")
		end = end.Truncate(24 * time.Hour)
		for d := last.AddDate(0, 0, 1); !d.After(end); d = d.AddDate(0, 0, 1) {
			out = append(out, fiber.Map{"startTime": d.Format(time.DateOnly), "spend": 0, "users": fiber.Map{}, "models": fiber.Map{}})
		}
	}
	return c.JSON(out)
}

// roundMoney rounds every amount in rows (a float64 value, or one of a
// map[string]float64 value) as Money does.
func roundMoney(rows []fiber.Map) {
	for _, d := range rows {
		for k, v := range d {
			switch v := v.(type) {
			case float64:
				d[k] = Money(v)
			case map[string]float64:
				for n, x := range v {
					v[n] = Money(x)
				}
			}
		}
	}
}

// spendLogsV2 is LiteLLM's /spend/logs/v2 (and the UI's /spend/logs/ui):
// a page of the requests between start_date and end_date (required), in
// LiteLLM's row shape, as {data, total, page, page_size, total_pages}.
func (a *API) spendLogsV2(c *fiber.Ctx) error {
	if err := checkQuery(c, "api_key", "user_id", "request_id", "session_id", "team_id", "min_spend", "max_spend",
		"start_date", "end_date", "page", "page_size", "status_filter", "model", "model_id", "model_group", "key_alias",
		"end_user", "error_code", "error_message", "sort_by", "sort_order"); err != nil {
		return err
	}
	for _, name := range []string{"session_id", "error_message"} {
		if c.Query(name) != "" {
			return httpx.Param(name, "is not supported by gatehouse: the spend ledger does not record a request's %s", name)
		}
	}
	for _, name := range []string{"start_date", "end_date"} {
		if c.Query(name) == "" {
			return param(apierror.MissingParam.With("Start date and end date are required (%s is missing)", name), name)
		}
	}
	st, f, err := a.filtered(c)
	if err != nil {
		return err
	}
	f.Model, f.ModelGroup, f.Deployment = c.Query("model"), c.Query("model_group"), c.Query("model_id")
	f.EndUser, f.KeyAliasLike = c.Query("end_user"), c.Query("key_alias")
	switch f.Status = c.Query("status_filter"); f.Status {
	case "", "success", "failure":
	default:
		return httpx.Param("status_filter", "%q is not a status: want success or failure", f.Status)
	}
	if v := c.Query("error_code"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 || n > 599 {
			return httpx.Param("error_code", "%q is not an HTTP status code", v)
		}
		f.ErrorCode = uint16(n)
	}
	for _, b := range []struct {
		name string
		to   **float64
	}{{"min_spend", &f.MinSpend}, {"max_spend", &f.MaxSpend}} {
		if v := c.Query(b.name); v != "" {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return httpx.Param(b.name, "%q is not a number", v)
			}
			*b.to = &x
		}
	}
	sortBy, order := c.Query("sort_by", "startTime"), c.Query("sort_order", "desc")
	if _, ok := query.LogSorts[sortBy]; !ok {
		return httpx.Param("sort_by", "%q: want spend, total_tokens, startTime, endTime, request_duration_ms, model or ttft_ms", sortBy)
	}
	if order != "asc" && order != "desc" {
		return httpx.Param("sort_order", "must be asc or desc, got %q", order)
	}
	p, err := pageOf(c, "page_size", 0, 50)
	if err != nil {
		return err
	}
	if p.size > 100 {
		return httpx.Param("page_size", "must be between 1 and 100")
	}
	rows, total, err := query.LogsPage(c.UserContext(), st.Conn, st.Database, f, (p.n-1)*p.size, p.size, sortBy, order == "asc")
	if err != nil {
		return apierror.Unavailable.Wrap(err, "spend store unavailable")
	}
	data := make([]spendLog, 0, len(rows))
	for _, r := range rows {
		data = append(data, liteLLMSpendLog(r))
	}
	p.total = int(total)
	return c.JSON(fiber.Map{"data": data, "total": total, "page": p.n, "page_size": p.size, "total_pages": p.pages()})
}

// bySpend sorts rendered objects by their "spend", highest first, then by
// the id field.
func bySpend(rows []fiber.Map, id string) {
	slices.SortStableFunc(rows, func(a, b fiber.Map) int {
		x, _ := a["spend"].(float64)
		y, _ := b["spend"].(float64)
		s, _ := a[id].(string)
		t, _ := b[id].(string)
		return cmp.Or(cmp.Compare(y, x), cmp.Compare(s, t))
	})
}

// spendKeys is LiteLLM's /spend/keys: every key with its spend (the
// current budget window's, as /key/info shows), highest spend first. A
// caller that is not an admin or view-only admin lists its own keys only,
// as /key/list does (LiteLLM lists every key to any caller it admits).
func (a *API) spendKeys(c *fiber.Ctx) error {
	if err := checkQuery(c); err != nil {
		return err
	}
	me := who(c)
	out := []fiber.Map{}
	for _, k := range keysWhere(a.store.Snapshot(), func(k *events.Key) bool { return me.reads() || ownKey(me, k) }) {
		out = append(out, withSpend(viewKey(k), a.spendOf(c, events.KindKey, k.Token)))
	}
	bySpend(out, "token")
	return c.JSON(out)
}

// spendUsers is LiteLLM's /spend/users: every user with its spend,
// highest first, or the one user_id names (a list of one). A caller that
// is not an admin or view-only admin reads its own user only.
func (a *API) spendUsers(c *fiber.Ctx) error {
	if err := checkQuery(c, "user_id"); err != nil {
		return err
	}
	me, snap := who(c), a.store.Snapshot()
	var users []*events.User
	if id := c.Query("user_id"); id != "" {
		if !me.reads() && id != me.userID {
			return apierror.Forbidden.With("key not allowed to access this user's info. user_id=%s, key's user_id=%s", id, cmp.Or(me.userID, "None"))
		}
		u := snap.User(id)
		if u == nil {
			return param(apierror.NotFound.With("User not found, passed user_id=%s", id), "user_id")
		}
		users = []*events.User{u}
	} else if me.reads() {
		users = snap.Users()
	} else if u := snap.User(me.userID); u != nil {
		users = []*events.User{u}
	}
	out := []fiber.Map{}
	for _, u := range users {
		out = append(out, withSpend(u, a.spendOf(c, events.KindUser, u.UserID)))
	}
	bySpend(out, "user_id")
	return c.JSON(out)
}

// globalSpendEndUsers is LiteLLM's POST /global/spend/end_users: the 100
// end users that spent the most between startTime and endTime (default:
// the last 30 days; read as their UTC days, from the daily end user
// rollup), optionally for one api_key, as [{end_user, total_count,
// total_spend}].
func (a *API) globalSpendEndUsers(c *fiber.Ctx) error {
	var req struct {
		APIKey    *string `json:"api_key"`
		StartTime *string `json:"startTime"`
		EndTime   *string `json:"endTime"`
	}
	if len(c.Body()) > 0 {
		if err := decode(c, &req); err != nil {
			return err
		}
	}
	st, err := a.spendStore()
	if err != nil {
		return err
	}
	now := a.store.Now().UTC()
	start, end := now.AddDate(0, 0, -30), now
	for _, t := range []struct {
		name string
		v    *string
		to   *time.Time
	}{{"startTime", req.StartTime, &start}, {"endTime", req.EndTime, &end}} {
		if t.v != nil && *t.v != "" {
			if *t.to, err = parseDate(t.name, *t.v); err != nil {
				return err
			}
		}
	}
	if end.Before(start) {
		return httpx.Param("endTime", "is before startTime")
	}
	var key string
	if req.APIKey != nil && *req.APIKey != "" {
		if key, err = tokenOf("api_key", *req.APIKey); err != nil {
			return err
		}
	}
	rows, err := query.EndUsers(c.UserContext(), st.Conn, st.Database, start, end, key, 100)
	if err != nil {
		return apierror.Unavailable.Wrap(err, "spend store unavailable")
	}
	for i := range rows {
		rows[i].Cost = Money(rows[i].Cost)
	}
	return c.JSON(rows)
}

// spendCalculate is LiteLLM's POST /spend/calculate: the cost of
// {model, messages} before a call (prompt tokens estimated as the edge
// estimates them, proxy.EstimateTokens; no completion) or of a
// {completion_response} after one (its usage, else estimated), priced by
// the first deployment of the model as the edge prices a request
// (policy.Deployment.Cost). A caller that is not an admin or view-only
// admin prices only models it may call.
func (a *API) spendCalculate(c *fiber.Ctx) error {
	var req struct {
		Model              *string         `json:"model"`
		Messages           json.RawMessage `json:"messages"`
		CompletionResponse json.RawMessage `json:"completion_response"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	var model, field string
	var u proxy.Usage
	switch {
	case req.Model != nil:
		if len(req.Messages) == 0 || string(req.Messages) == "null" {
			return httpx.Param("messages", "Bad Request - messages must be provided if 'model' is provided")
		}
		body, err := json.Marshal(map[string]json.RawMessage{"messages": req.Messages})
		if err != nil {
			return httpx.Param("messages", "%v", err)
		}
		model, field, u = *req.Model, "model", proxy.AnswerUsage([]byte("{}"), body)
	case len(req.CompletionResponse) > 0 && string(req.CompletionResponse) != "null":
		var head struct {
			Model string `json:"model"`
		}
		if err := json.Unmarshal(req.CompletionResponse, &head); err != nil || head.Model == "" {
			return httpx.Param("completion_response", "must be a chat completion object with its \"model\"")
		}
		model, field, u = head.Model, "completion_response", proxy.AnswerUsage(req.CompletionResponse, []byte("{}"))
	default:
		return httpx.Param("model", "Bad Request - Either 'model' or 'completion_response' must be provided")
	}
	d := a.pricing(who(c), a.store.Snapshot(), model)
	if d == nil {
		return httpx.Param(field, "model %q is not served by this gateway (or not to this caller): no deployment prices it", model)
	}
	return c.JSON(fiber.Map{"cost": Money(d.Cost(u.PromptTokens, u.CachedTokens, u.CacheCreationTokens, u.CompletionTokens))})
}

// pricing is the deployment that prices model for me: the first of the
// model's route (a model name, alias or wildcard as a request resolves
// it), else the first whose upstream model it is (a completion's
// "model"); nil when there is none me may call.
func (a *API) pricing(me caller, snap *policy.Snapshot, model string) *policy.Deployment {
	cat := snap.Catalog()
	if rt := cat.Resolve(model); rt.Found() && a.mayList(me, snap, model) {
		return rt.Deployments[0]
	}
	for _, name := range cat.ModelNames() {
		for _, d := range cat.Resolve(name).Deployments {
			if d.UpstreamModel == model && a.mayList(me, snap, name) {
				return d
			}
		}
	}
	return nil
}

// spendTags is LiteLLM's /spend/tags: per request tag, the requests
// that carried it and their spend, [{individual_request_tag, log_count,
// total_spend}], highest spend first. LiteLLM's query ignores its
// start_date and end_date; they bound the rows here (UTC days, the end
// day included), as their names say. A caller that is not an admin or
// view-only admin reads the tags of its own requests only (its user's,
// else its key's): LiteLLM answers every caller with everyone's.
func (a *API) spendTags(c *fiber.Ctx) error {
	if err := checkQuery(c, "start_date", "end_date"); err != nil {
		return err
	}
	f, err := tagFilter(c)
	if err != nil {
		return err
	}
	me := who(c)
	if !me.reads() {
		switch {
		case me.userID != "":
			f.UserID = me.userID
		case me.key != nil:
			f.KeyHash = me.key.Token
		default:
			return c.JSON([]fiber.Map{}) // no requests of its own to sum
		}
	}
	rows, err := a.tagSpend(c, f)
	if err != nil {
		return err
	}
	out := make([]fiber.Map, 0, len(rows))
	for _, r := range rows {
		out = append(out, fiber.Map{"individual_request_tag": r.Tag, "log_count": r.Requests, "total_spend": Money(r.Spend)})
	}
	return c.JSON(out)
}

// globalSpendTags is LiteLLM's /global/spend/tags (admins and view-only
// admins): {"spend_per_tag": [{name, spend, log_count}]}, highest spend
// first, spend rounded to 4 decimals as LiteLLM's ui_get_spend_by_tags
// does; tags (comma separated; "all-tags" among them for every tag)
// keeps those tags, limit (default 100) and offset page them.
func (a *API) globalSpendTags(c *fiber.Ctx) error {
	if err := checkQuery(c, "start_date", "end_date", "tags", "limit", "offset"); err != nil {
		return err
	}
	f, err := tagFilter(c)
	if err != nil {
		return err
	}
	if tags := c.Query("tags"); tags != "" {
		if l := strings.Split(tags, ","); !slices.Contains(l, "all-tags") {
			f.Tags = l
		}
	}
	if f.Limit, err = limitParam(c, 100); err != nil {
		return err
	}
	if f.Offset, err = intParam(c, "offset", 0); err != nil {
		return err
	}
	if f.Offset < 0 {
		return httpx.Param("offset", "must be >= 0")
	}
	rows, err := a.tagSpend(c, f)
	if err != nil {
		return err
	}
	out := make([]fiber.Map, 0, len(rows))
	for _, r := range rows {
		out = append(out, fiber.Map{"name": r.Tag, "spend": math.Round(r.Spend*1e4) / 1e4, "log_count": r.Requests})
	}
	return c.JSON(fiber.Map{"spend_per_tag": out})
}

// tagFilter reads start_date and end_date (UTC; a date's whole day is
// included) of the tag spend routes.
func tagFilter(c *fiber.Ctx) (query.TagFilter, error) {
	var f query.TagFilter
	var err error
	if f.Start, err = dateParam(c, "start_date"); err != nil {
		return f, err
	}
	if f.End, err = dateParam(c, "end_date"); err != nil {
		return f, err
	}
	if !f.Start.IsZero() && !f.End.IsZero() && f.End.Before(f.Start) {
		return f, httpx.Param("end_date", "is before start_date")
	}
	f.End = exclusiveEnd(c, f.End)
	return f, nil
}

// intParam reads an integer query parameter, def when absent.
func intParam(c *fiber.Ctx, name string, def int) (int, error) {
	v := c.Query(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, httpx.Param(name, "%q is not an integer", v)
	}
	return n, nil
}

// tagSpend runs the tag spend query of f on the spend store.
func (a *API) tagSpend(c *fiber.Ctx, f query.TagFilter) ([]query.TagSpend, error) {
	st, err := a.spendStore()
	if err != nil {
		return nil, err
	}
	rows, err := query.SpendByTag(c.UserContext(), st.Conn, st.Database, f)
	if err != nil {
		return nil, apierror.Unavailable.Wrap(err, "spend store unavailable")
	}
	return rows, nil
}

// tagDailyActivity is LiteLLM's /tag/daily/activity: the daily activity
// of request tags (tags comma separated, default every tag), a request
// under each of its tags, in /team/daily/activity's shape and paging
// (page_size 10 by default, as LiteLLM's). It is proxy-wide, so an
// admin's and a view-only admin's, as the /global/spend routes.
func (a *API) tagDailyActivity(c *fiber.Ctx) error {
	if err := checkQuery(c, "tags", "start_date", "end_date", "model", "api_key", "page", "page_size", "timezone"); err != nil {
		return err
	}
	f := query.ActivityFilter{By: "tag"}
	p, err := activityQuery(c, &f, 10)
	if err != nil {
		return err
	}
	if tags := c.Query("tags"); tags != "" {
		f.IDs = strings.Split(tags, ",")
	}
	return a.activity(c, f, p, func(string) map[string]any { return nil })
}
