package gateway

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/edge/proxy"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// clientTagsRefused is LiteLLM's answer to metadata.tags under
// general_settings.reject_clientside_metadata_tags.
var clientTagsRefused = &apierror.Error{Status: 400, Type: "bad_request_error", Code: "400", Param: "metadata.tags",
	Message: "Client-side 'metadata.tags' not allowed in request. 'reject_clientside_metadata_tags'=True. Tags can only be set via API key metadata.",
	Rule:    "general_settings:reject_clientside_metadata_tags"}

// checkClientTags refuses a body whose metadata object has a "tags" key
// (any value, null included), as LiteLLM's common_checks does; the
// top-level "tags" is not its concern there either.
func checkClientTags(r *policy.Routing, body []byte) error {
	if !r.RejectClientTags {
		return nil
	}
	var b struct {
		Metadata json.RawMessage `json:"metadata"`
	}
	if json.Unmarshal(body, &b) != nil {
		return nil // the request's own validation reports a bad body
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b.Metadata, &m) != nil {
		return nil // not an object: LiteLLM checks only a dict
	}
	if _, ok := m["tags"]; ok {
		return clientTagsRefused
	}
	return nil
}

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

// tagsKey is the body key spendTags looks for before decoding anything.
var tagsKey = []byte(`"tags"`)

// spendTags are the request's tags for its spend row, as LiteLLM's
// request_tags: the body's "tags" (else its metadata.tags), else the
// x-litellm-tags header (comma separated), then the key's and the team's
// metadata "tags" not already there. An untagged request (no "tags" in
// the body, no header, no metadata tags) costs a substring scan and two
// map lookups, and allocates nothing.
func spendTags(body, header []byte, key *events.Key, team *events.Team) []string {
	var tags []string
	if bytes.Contains(body, tagsKey) {
		tags = proxy.RequestTags(body)
	}
	if len(tags) == 0 && len(header) > 0 {
		for t := range strings.SplitSeq(string(header), ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	if key != nil {
		tags = mergeMetadataTags(tags, key.Metadata)
	}
	if team != nil {
		tags = mergeMetadataTags(tags, team.Metadata)
	}
	return tags
}

// mergeMetadataTags appends the string tags of a key's or team's
// metadata "tags" that tags lacks, in their order (LiteLLM's _merge_tags).
func mergeMetadataTags(tags []string, md map[string]any) []string {
	list, _ := md["tags"].([]any)
	for _, v := range list {
		if t, ok := v.(string); ok && t != "" && !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags
}
