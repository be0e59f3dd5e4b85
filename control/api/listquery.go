package api

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/internal/httpx"
)

// checkQuery refuses a query parameter a list route does not know. A
// filter ignored silently lists everything, and a script that acts on
// the list (delete the keys of alias x) would act on everything; so an
// unknown parameter is a 400 naming it and the ones the route takes.
func checkQuery(c *fiber.Ctx, known ...string) error {
	var bad string
	c.Context().QueryArgs().VisitAll(func(k, _ []byte) {
		if bad == "" && !slices.Contains(known, string(k)) {
			bad = string(k)
		}
	})
	if bad != "" {
		return httpx.Param(bad, "unknown query parameter for %s; it takes %s", c.Path(), strings.Join(known, ", "))
	}
	return nil
}

// page is LiteLLM's page/page_size (or page/size) paging of a list: page
// from 1; without a size, the whole list (what gatehouse answered before
// it paged, so no client sees fewer rows than it did).
type page struct{ n, size, total int }

func pageOf(c *fiber.Ctx, sizeParam string, total, defaultSize int) (page, error) {
	p := page{n: c.QueryInt("page", 1), size: c.QueryInt(sizeParam, defaultSize), total: total}
	if p.n < 1 {
		return p, httpx.Param("page", "must be >= 1")
	}
	if c.Query(sizeParam) != "" && p.size < 1 {
		return p, httpx.Param(sizeParam, "must be >= 1")
	}
	p.size = max(p.size, 1)
	return p, nil
}

// bounds are the indexes of the page's rows.
func (p page) bounds() (from, to int) {
	from = min((p.n-1)*p.size, p.total)
	return from, min(from+p.size, p.total)
}

func (p page) pages() int { return (p.total + p.size - 1) / p.size }

// sortBy orders rows by LiteLLM's sort_by (one of the fields given, each
// a string getter) and sort_order (asc or desc; without it, the route's
// LiteLLM default order). No sort_by keeps the list's order.
func sortBy[T any](c *fiber.Ctx, rows []T, order string, fields map[string]func(T) string) error {
	by, order := c.Query("sort_by"), strings.ToLower(c.Query("sort_order", order))
	if order != "asc" && order != "desc" {
		return httpx.Param("sort_order", "must be asc or desc, got %q", order)
	}
	if by == "" {
		return nil
	}
	get, ok := fields[by]
	if !ok {
		names := make([]string, 0, len(fields))
		for n := range fields {
			names = append(names, n)
		}
		slices.Sort(names)
		return httpx.Param("sort_by", "must be one of %s, got %q", strings.Join(names, ", "), by)
	}
	slices.SortStableFunc(rows, func(a, b T) int {
		if order == "asc" {
			return cmp.Compare(get(a), get(b))
		}
		return cmp.Compare(get(b), get(a))
	})
	return nil
}

// sortTime is a time as a string that sorts as the time does (fixed
// width, UTC).
func sortTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000") }
