package proxy

import (
	"bytes"
	"encoding/json"
	"sort"

	"github.com/gatehouse/gatehouse/policy"
)

var tagsKey = []byte(`"tags"`)

// ApplyDefaults returns the body to send to deployment d: body itself when
// d has no default request parameters and the body has no "tags" (the
// common case: one byte scan, no allocation), else body with every
// default whose key the request does not set added at the top level
// (LiteLLM's litellm_params temperature, max_tokens, ...: the client's
// value wins) and the top-level "tags" removed. Tags are for the router
// (LiteLLM's request tags) and OpenAI refuses them as an unknown
// parameter. body must be a JSON object (ParseChatRequest checked it).
func ApplyDefaults(d *policy.Deployment, body []byte) []byte {
	dropTags := bytes.Contains(body, tagsKey)
	if len(d.Defaults) == 0 && !dropTags {
		return body
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return body
	}
	changed := false
	if dropTags {
		if _, ok := m["tags"]; ok {
			delete(m, "tags")
			changed = true
		}
	}
	for _, p := range d.Defaults {
		if v, ok := m[p.Key]; !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			m[p.Key] = p.JSON
			changed = true
		}
	}
	if !changed {
		return body
	}
	// Keys in a stable order, so the upstream (and a recorded test) sees
	// the same body for the same request.
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]byte, 0, len(body)+64)
	out = append(out, '{')
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		kb, _ := json.Marshal(k)
		out = append(out, kb...)
		out = append(out, ':')
		out = append(out, m[k]...)
	}
	return append(out, '}')
}

// RequestTags reads the request's tags for tag routing: the top-level
// "tags" or "metadata.tags" (LiteLLM reads both), as a list of strings.
func RequestTags(body []byte) []string {
	var r struct {
		Tags     []string `json:"tags"`
		Metadata struct {
			Tags []string `json:"tags"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil
	}
	if len(r.Tags) > 0 {
		return r.Tags
	}
	return r.Metadata.Tags
}
