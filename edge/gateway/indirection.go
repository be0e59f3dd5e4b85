package gateway

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/httpx"
)

// indirections are the prefixes LiteLLM's config uses to name a secret the
// proxy resolves (os.environ/VAR, oidc/...). gatehouse never resolves one
// from a request, so a body carrying one would only be forwarded as text;
// LiteLLM 2026 refuses it (is_request_body_safe), and so does the edge, so
// that a client learns at once that the value is not read.
var indirections = []string{"os.environ/", "oidc/"}

// checkIndirection refuses a body whose top-level string fields, or the
// string values of its metadata object, start with an indirection, as
// LiteLLM does; message content and other nested values are not looked
// at. Bodies that do not mention either prefix, nearly all, cost one scan.
func checkIndirection(body []byte) error {
	// No slash in the needles: JSON may write "/" as "\/".
	if !bytes.Contains(body, []byte("os.environ")) && !bytes.Contains(body, []byte("oidc")) {
		return nil
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return nil // the body's parser names what is wrong with it
	}
	if err := indirectionIn(top, ""); err != nil {
		return err
	}
	var md map[string]json.RawMessage
	if json.Unmarshal(top["metadata"], &md) == nil {
		return indirectionIn(md, "metadata.")
	}
	return nil
}

// indirectionIn names the first field (in sorted order, so the answer is
// stable) of fields whose string value starts with an indirection.
func indirectionIn(fields map[string]json.RawMessage, prefix string) error {
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		var s string
		if json.Unmarshal(fields[k], &s) != nil {
			continue
		}
		for _, p := range indirections {
			if strings.HasPrefix(s, p) {
				return httpx.Param(prefix+k, "Rejected Request: %q names a secret indirection (%s); only the gateway's config may name secrets this way, and a request's value is never resolved", s, p)
			}
		}
	}
	return nil
}
