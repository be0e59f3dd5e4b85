package api

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/policy"
	"github.com/gatehouse/gatehouse/spend/query"
)

// LiteLLM's daily activity routes (/user/daily/activity,
// /team/daily/activity: the LiteLLM UI's usage pages), in its
// SpendAnalyticsPaginatedResponse shape. A page holds rows of LiteLLM's
// daily spend tables (one per UTC day, user or team, key, model, model
// group, provider and endpoint), folded per day; metadata's totals are
// the page's, as LiteLLM's are.

// spendMetrics is LiteLLM's SpendMetrics, the fields gatehouse records.
type spendMetrics struct {
	Spend                    float64 `json:"spend"`
	PromptTokens             uint64  `json:"prompt_tokens"`
	CompletionTokens         uint64  `json:"completion_tokens"`
	CacheReadInputTokens     uint64  `json:"cache_read_input_tokens"`
	CacheCreationInputTokens uint64  `json:"cache_creation_input_tokens"`
	TotalTokens              uint64  `json:"total_tokens"`
	SuccessfulRequests       uint64  `json:"successful_requests"`
	FailedRequests           uint64  `json:"failed_requests"`
	APIRequests              uint64  `json:"api_requests"`
}

// add is LiteLLM's update_metrics: total_tokens is prompt + completion.
func (m *spendMetrics) add(r query.ActivityRow) {
	m.Spend += r.Cost
	m.PromptTokens += r.PromptTokens
	m.CompletionTokens += r.CompletionTokens
	m.TotalTokens += r.PromptTokens + r.CompletionTokens
	m.CacheReadInputTokens += r.CacheRead
	m.CacheCreationInputTokens += r.CacheCreation
	m.APIRequests += r.Requests
	m.SuccessfulRequests += r.Successful
	m.FailedRequests += r.Failed
}

func (m *spendMetrics) round() { m.Spend = Money(m.Spend) }

// keyMetadata is LiteLLM's KeyMetadata.
type keyMetadata struct {
	KeyAlias  *string `json:"key_alias"`
	TeamID    *string `json:"team_id"`
	UserID    *string `json:"user_id"`
	UserEmail *string `json:"user_email"`
	KeyExists bool    `json:"key_exists"`
}

type keyMetric struct {
	Metrics  spendMetrics `json:"metrics"`
	Metadata keyMetadata  `json:"metadata"`
}

// metricWithMetadata is LiteLLM's MetricWithMetadata.
type metricWithMetadata struct {
	Metrics         spendMetrics          `json:"metrics"`
	Metadata        map[string]any        `json:"metadata"`
	APIKeyBreakdown map[string]*keyMetric `json:"api_key_breakdown"`
}

// breakdown is LiteLLM's BreakdownMetrics (mcp_servers stays empty:
// gatehouse serves no MCP).
type breakdown struct {
	MCPServers  map[string]*metricWithMetadata `json:"mcp_servers"`
	Models      map[string]*metricWithMetadata `json:"models"`
	ModelGroups map[string]*metricWithMetadata `json:"model_groups"`
	Providers   map[string]*metricWithMetadata `json:"providers"`
	Endpoints   map[string]*metricWithMetadata `json:"endpoints"`
	APIKeys     map[string]*keyMetric          `json:"api_keys"`
	Entities    map[string]*metricWithMetadata `json:"entities"`
}

type dailySpend struct {
	Date      string       `json:"date"`
	Metrics   spendMetrics `json:"metrics"`
	Breakdown breakdown    `json:"breakdown"`
}

type dailySpendMetadata struct {
	TotalSpend                    float64 `json:"total_spend"`
	TotalPromptTokens             uint64  `json:"total_prompt_tokens"`
	TotalCompletionTokens         uint64  `json:"total_completion_tokens"`
	TotalTokens                   uint64  `json:"total_tokens"`
	TotalAPIRequests              uint64  `json:"total_api_requests"`
	TotalSuccessfulRequests       uint64  `json:"total_successful_requests"`
	TotalFailedRequests           uint64  `json:"total_failed_requests"`
	TotalCacheReadInputTokens     uint64  `json:"total_cache_read_input_tokens"`
	TotalCacheCreationInputTokens uint64  `json:"total_cache_creation_input_tokens"`
	Page                          int     `json:"page"`
	TotalPages                    int     `json:"total_pages"`
	HasMore                       bool    `json:"has_more"`
}

// activityPage folds rows into LiteLLM's answer; entityMeta gives an
// entity bucket's metadata (a team's alias).
func activityPage(snap *policy.Snapshot, rows []query.ActivityRow, p page, entityMeta func(string) map[string]any) fiber.Map {
	days := map[string]*dailySpend{}
	var order []string
	var total spendMetrics
	keyMeta := func(r query.ActivityRow) keyMetadata {
		m := keyMetadata{KeyAlias: optional(r.KeyAlias), TeamID: optional(r.TeamID), UserID: optional(r.UserID)}
		if h, err := policy.ParseKeyHash(r.KeyHash); err == nil {
			if k := snap.Key(h); k != nil {
				m = keyMetadata{KeyAlias: optional(k.KeyAlias), TeamID: optional(k.TeamID), UserID: optional(k.UserID), KeyExists: true}
			}
		}
		if m.UserID != nil {
			if u := snap.User(*m.UserID); u != nil {
				m.UserEmail = optional(u.UserEmail)
			}
		}
		return m
	}
	// keyBucket adds r to its key's metrics in a per-key breakdown.
	keyBucket := func(in map[string]*keyMetric, r query.ActivityRow) {
		k := in[r.KeyHash]
		if k == nil {
			k = &keyMetric{Metadata: keyMeta(r)}
			in[r.KeyHash] = k
		}
		k.Metrics.add(r)
	}
	bucket := func(in map[string]*metricWithMetadata, name string, meta map[string]any, r query.ActivityRow) {
		b := in[name]
		if b == nil {
			if meta == nil {
				meta = map[string]any{}
			}
			b = &metricWithMetadata{Metadata: meta, APIKeyBreakdown: map[string]*keyMetric{}}
			in[name] = b
		}
		b.Metrics.add(r)
		keyBucket(b.APIKeyBreakdown, r)
	}
	for _, r := range rows {
		date := r.Date.Format(time.DateOnly)
		d := days[date]
		if d == nil {
			d = &dailySpend{Date: date, Breakdown: breakdown{MCPServers: map[string]*metricWithMetadata{},
				Models: map[string]*metricWithMetadata{}, ModelGroups: map[string]*metricWithMetadata{},
				Providers: map[string]*metricWithMetadata{}, Endpoints: map[string]*metricWithMetadata{},
				APIKeys: map[string]*keyMetric{}, Entities: map[string]*metricWithMetadata{}}}
			days[date] = d
			order = append(order, date)
		}
		d.Metrics.add(r)
		total.add(r)
		b := &d.Breakdown
		if r.Model != "" {
			bucket(b.Models, r.Model, nil, r)
		}
		if g := cmp.Or(r.ModelGroup, r.Model); g != "" {
			bucket(b.ModelGroups, g, nil, r)
		}
		bucket(b.Providers, cmp.Or(r.Provider, "unknown"), nil, r)
		if r.Endpoint != "" {
			bucket(b.Endpoints, r.Endpoint, nil, r)
		}
		entity := cmp.Or(r.Entity, "Unassigned")
		bucket(b.Entities, entity, entityMeta(entity), r)
		keyBucket(b.APIKeys, r)
	}
	results := make([]*dailySpend, 0, len(order))
	for _, date := range order {
		d := days[date]
		d.Metrics.round()
		b := d.Breakdown
		for _, m := range []map[string]*metricWithMetadata{b.Models, b.ModelGroups, b.Providers, b.Endpoints, b.Entities} {
			for _, x := range m {
				x.Metrics.round()
				for _, k := range x.APIKeyBreakdown {
					k.Metrics.round()
				}
			}
		}
		for _, k := range b.APIKeys {
			k.Metrics.round()
		}
		results = append(results, d)
	}
	// Rows come newest day first; LiteLLM sorts the days so too.
	slices.SortStableFunc(results, func(a, b *dailySpend) int { return strings.Compare(b.Date, a.Date) })
	return fiber.Map{"results": results, "metadata": dailySpendMetadata{
		TotalSpend: Money(total.Spend), TotalPromptTokens: total.PromptTokens, TotalCompletionTokens: total.CompletionTokens,
		TotalTokens: total.TotalTokens, TotalAPIRequests: total.APIRequests, TotalSuccessfulRequests: total.SuccessfulRequests,
		TotalFailedRequests: total.FailedRequests, TotalCacheReadInputTokens: total.CacheReadInputTokens,
		TotalCacheCreationInputTokens: total.CacheCreationInputTokens,
		Page:                          p.n, TotalPages: p.pages(), HasMore: p.n*p.size < p.total,
	}}
}

// optional is s, or nil (JSON null) when empty.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// activityQuery reads the query parameters both daily activity routes
// take (start_date and end_date required, as in LiteLLM) into f, and the
// page (page_size 1..1000, default defaultSize).
func activityQuery(c *fiber.Ctx, f *query.ActivityFilter, defaultSize int) (page, error) {
	var err error
	for _, name := range []string{"start_date", "end_date"} {
		if c.Query(name) == "" {
			return page{}, param(apierror.MissingParam.With("Please provide start_date and end_date (%s is missing)", name), name)
		}
	}
	if f.Start, err = dateParam(c, "start_date"); err != nil {
		return page{}, err
	}
	if f.End, err = dateParam(c, "end_date"); err != nil {
		return page{}, err
	}
	if f.End.Before(f.Start) {
		return page{}, httpx.Param("end_date", "is before start_date")
	}
	if tz := c.Query("timezone"); tz != "" {
		// LiteLLM's caller offset (minutes); its daily buckets are UTC
		// days whatever it is, as gatehouse's are.
		if _, err := strconv.Atoi(tz); err != nil {
			return page{}, httpx.Param("timezone", "%q is not an offset in minutes", tz)
		}
	}
	f.Model = c.Query("model")
	if k := c.Query("api_key"); k != "" {
		if f.KeyHash, err = tokenOf("api_key", k); err != nil {
			return page{}, err
		}
	}
	p, err := pageOf(c, "page_size", 0, defaultSize)
	if err != nil {
		return p, err
	}
	if p.size > 1000 {
		return p, httpx.Param("page_size", "must be between 1 and 1000")
	}
	f.Offset, f.Limit = (p.n-1)*p.size, p.size
	return p, nil
}

// activity runs f and answers the page.
func (a *API) activity(c *fiber.Ctx, f query.ActivityFilter, p page, entityMeta func(string) map[string]any) error {
	st, err := a.spendStore()
	if err != nil {
		return err
	}
	rows, total, err := query.Activity(c.UserContext(), st.Conn, st.Database, f)
	if err != nil {
		return apierror.Unavailable.Wrap(err, "spend store unavailable")
	}
	p.total = int(total)
	return c.JSON(activityPage(a.store.Snapshot(), rows, p, entityMeta))
}

// userDailyActivity is LiteLLM's /user/daily/activity: an admin or
// view-only admin reads every user's rows (user_id filters), anyone else
// only its own user's (another user_id is LiteLLM's 403).
func (a *API) userDailyActivity(c *fiber.Ctx) error {
	if err := checkQuery(c, "start_date", "end_date", "model", "api_key", "user_id", "page", "page_size", "timezone"); err != nil {
		return err
	}
	f := query.ActivityFilter{By: "user"}
	p, err := activityQuery(c, &f, 50)
	if err != nil {
		return err
	}
	me, id := who(c), c.Query("user_id")
	if !me.reads() {
		if id != "" && id != me.userID {
			return apierror.Forbidden.With("Non-admin users can only view their own spend data.")
		}
		id = me.userID
		if id == "" {
			f.IDs = []string{} // a caller of no user owns no user rows
		}
	}
	if id != "" {
		f.IDs = []string{id}
	}
	return a.activity(c, f, p, func(string) map[string]any { return nil })
}

// teamDailyActivity is LiteLLM's /team/daily/activity: team_ids and
// exclude_team_ids are comma separated; a caller that is not an admin
// reads its teams only (default: all of them; another team is LiteLLM's
// 404). Team buckets carry the team's alias.
func (a *API) teamDailyActivity(c *fiber.Ctx) error {
	if err := checkQuery(c, "team_ids", "exclude_team_ids", "start_date", "end_date", "model", "api_key", "page", "page_size", "timezone"); err != nil {
		return err
	}
	f := query.ActivityFilter{By: "team"}
	p, err := activityQuery(c, &f, 10)
	if err != nil {
		return err
	}
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	f.IDs, f.Exclude = split(c.Query("team_ids")), split(c.Query("exclude_team_ids"))
	if me := who(c); !me.reads() {
		own := []string{}
		for _, t := range a.visibleTeams(me) {
			own = append(own, t.TeamID)
		}
		for _, id := range f.IDs {
			if !slices.Contains(own, id) {
				return apierror.NotFound.With("User does not belong to Team= %s. Call `/user/info` to see user's teams", id)
			}
		}
		if f.IDs == nil {
			f.IDs = own
		}
	}
	snap := a.store.Snapshot()
	return a.activity(c, f, p, func(id string) map[string]any {
		if t := snap.Team(id); t != nil {
			return map[string]any{"team_alias": t.TeamAlias}
		}
		return nil
	})
}
