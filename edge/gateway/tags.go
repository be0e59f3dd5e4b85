package gateway

import (
	"strings"

	"github.com/gatehouse/gatehouse/edge/proxy"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// routeByTags narrows a route to the deployments the request's tags
// select (router_settings.enable_tag_filtering). A request whose tags no
// deployment carries is refused rather than sent to an untagged one: tags
// typically separate tenants or tiers.
func routeByTags(route policy.Route, body []byte) (policy.Route, error) {
	tags := proxy.RequestTags(body)
	ds := policy.FilterByTags(route.Deployments, tags)
	if len(ds) == 0 {
		e := apierror.BadRequest.With("no deployment of model group %s has any of the request's tags [%s]", route.Group, strings.Join(tags, ", "))
		e.Param = "tags"
		return route, e
	}
	route.Deployments = ds
	return route, nil
}
