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
// request_tags (add_litellm_data_to_request since v1.84.0, which reverted
// v1.83.10's allow_client_tags opt-in): the body's metadata.tags, then the
// key's and the team's metadata "tags", and last the body's top-level
// "tags" (else the x-litellm-tags header, comma separated), each tag
// added once. A client's own tags are taken as tag routing takes them;
// reject_clientside_metadata_tags is how an operator refuses them. An
// untagged request (no "tags" in the body, no header, no metadata tags)
// costs a substring scan and a few map lookups, and allocates nothing.
func spendTags(body, header []byte, key *events.Key, team *events.Team) []string {
	var keyMD, teamMD map[string]any
	if key != nil {
		keyMD = key.Metadata
	}
	if team != nil {
		teamMD = team.Metadata
	}
	var tags, last []string
	if bytes.Contains(body, tagsKey) {
		var b struct {
			Tags     json.RawMessage `json:"tags"`
			Metadata json.RawMessage `json:"metadata"`
		}
		if json.Unmarshal(body, &b) == nil {
			var md struct {
				Tags []string `json:"tags"`
			}
			if json.Unmarshal(b.Metadata, &md) == nil {
				tags = md.Tags
			}
			// LiteLLM takes the top-level tags only as a list; an empty
			// one still wins over the header.
			// (Decoded into a variable of this block: one whose address
			// escapes is allocated where it is declared, on every call.)
			if l := []string{}; len(b.Tags) > 0 && b.Tags[0] == '[' && json.Unmarshal(b.Tags, &l) == nil {
				last = l
			}
		}
	}
	tags = mergeTags(tags, metadataTags(keyMD))
	tags = mergeTags(tags, metadataTags(teamMD))
	if last == nil && len(header) > 0 {
		for t := range strings.SplitSeq(string(header), ",") {
			if t = strings.TrimSpace(t); t != "" {
				last = append(last, t)
			}
		}
	}
	return mergeTags(tags, last)
}

// metadataTags are the string tags of a key's or team's metadata "tags".
func metadataTags(md map[string]any) []any {
	l, _ := md["tags"].([]any)
	return l
}

// mergeTags appends to tags those of add (strings) it lacks, in their
// order: LiteLLM's _merge_tags.
func mergeTags[T any](tags []string, add []T) []string {
	for _, v := range add {
		if t, ok := any(v).(string); ok && !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags
}
