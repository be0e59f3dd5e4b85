package api

import (
	"sort"
	"strings"
	"sync"
)

// Route is one route of the admin API: an HTTP method and a Fiber path
// ("/key/:key/regenerate").
type Route struct {
	Method, Path string
}

var (
	routesOnce sync.Once
	routeTable []Route
)

// Routes lists every route the admin API serves, read from the Fiber app
// New builds, so it cannot drift from the handlers: the edge relays exactly
// these, and the security suite's authorization matrix must name each.
// HEAD twins, middleware and /metrics (served by whoever exposes metrics)
// are left out.
func Routes() []Route {
	routesOnce.Do(func() {
		app := New(nil, Options{})
		seen := map[Route]bool{}
		for _, r := range app.GetRoutes(true) {
			if r.Method == "HEAD" || r.Method == "USE" || r.Path == "/" || strings.HasSuffix(r.Path, "*") {
				continue
			}
			rt := Route{Method: r.Method, Path: r.Path}
			if !seen[rt] {
				seen[rt] = true
				routeTable = append(routeTable, rt)
			}
		}
		sort.Slice(routeTable, func(i, j int) bool {
			if routeTable[i].Path != routeTable[j].Path {
				return routeTable[i].Path < routeTable[j].Path
			}
			return routeTable[i].Method < routeTable[j].Method
		})
	})
	return append([]Route(nil), routeTable...)
}
