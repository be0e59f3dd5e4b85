// Package claims reads values out of verified JWT claims the way LiteLLM's
// get_nested_value / get_scopes / get_team_id do, with the leniency LiteLLM
// users ask for (BerriAI/litellm#20001): roles and team ids spread over
// several claims, or sent as a CSV or a stringified list.
//
// Claims are the map a JSON decoder produces (map[string]any, []any,
// string, float64 or json.Number, bool, nil). Nothing here mutates them.
//
// Deviations from LiteLLM, all deliberate:
//   - A leading "metadata." in a path is NOT stripped. LiteLLM strips it
//     silently, which makes a real "metadata" claim unreachable and lets a
//     path mean two different things.
//   - A claim whose value is JSON null counts as absent (LiteLLM treats None
//     as "use the default" too, but in a type-dependent way).
//   - Lists of ids are read from a string as well (CSV or a stringified
//     list); LiteLLM's typed default makes a string claim read as [].
//   - Scopes also come from "scp" (Azure AD) when no scope paths are
//     configured; LiteLLM reads only "scope".
package claims

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Lookup returns the value at a dot path: "a.b.c" walks nested objects,
// "\." is a literal dot inside one segment ("kubernetes\.io.namespace").
// There is no array indexing ("roles.0" looks for a key "0" in an object).
// A missing segment, a non-object on the way, or a null value gives false.
//
// It does not allocate (for segments up to 128 bytes): this runs for every
// claim mapping on every request.
func Lookup(claims map[string]any, path string) (any, bool) {
	if claims == nil || path == "" {
		return nil, false
	}
	if strings.IndexByte(path, '\\') >= 0 {
		return lookupEscaped(claims, path)
	}
	cur := claims
	for {
		seg, rest, more := strings.Cut(path, ".")
		v, ok := cur[seg]
		if !ok || v == nil {
			return nil, false
		}
		if !more {
			return v, true
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, path = m, rest
	}
}

// lookupEscaped is Lookup for paths with "\." escapes. The unescaped
// segment is built in a stack buffer; m[string(b)] does not allocate.
func lookupEscaped(claims map[string]any, path string) (any, bool) {
	cur := claims
	var buf [128]byte
	for i := 0; ; {
		seg := buf[:0]
		for ; i < len(path); i++ {
			c := path[i]
			if c == '\\' && i+1 < len(path) && path[i+1] == '.' {
				seg = append(seg, '.')
				i++
				continue
			}
			if c == '.' {
				break
			}
			seg = append(seg, c)
		}
		v, ok := cur[string(seg)]
		if !ok || v == nil {
			return nil, false
		}
		if i >= len(path) {
			return v, true
		}
		i++ // skip the separator
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		cur = m
	}
}

// String turns a claim value into an id: a non-empty string as is; an
// integral number formatted without exponent or fraction (numeric user or
// group ids); a list gives its first element when that is a string (Azure
// AD puts the team in a "roles" list, LiteLLM 2026 takes the first). Empty
// strings, other numbers, booleans and objects give false: an empty or
// fractional id must never match anything.
func String(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, t != ""
	case float64:
		return formatFloat(t)
	case json.Number:
		if isDigits(string(t)) { // the literal is exact, even beyond 2^53
			return string(t), true
		}
		f, err := t.Float64()
		if err != nil {
			return "", false
		}
		return formatFloat(f)
	case int:
		return strconv.Itoa(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	case []any:
		if len(t) > 0 {
			if s, ok := t[0].(string); ok && s != "" {
				return s, true
			}
		}
	case []string:
		if len(t) > 0 && t[0] != "" {
			return t[0], true
		}
	}
	return "", false
}

func formatFloat(f float64) (string, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
		return "", false
	}
	return strconv.FormatFloat(f, 'f', -1, 64), true
}

func isDigits(s string) bool {
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Strings reads a list of ids (roles, groups, team ids) leniently:
//   - a list: its strings, non-strings skipped;
//   - a string that looks like a list, JSON `["a","b"]` or Python-ish
//     `['a', 'b']` (what some IdP mappers emit): its elements;
//   - a string with commas: split on commas ("a, b");
//   - any other string: one element.
//
// Elements are trimmed and empty ones dropped; order is kept and nothing is
// deduplicated (Union does that). Anything else gives nil.
func Strings(v any) []string {
	switch t := v.(type) {
	case []any:
		var out []string
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = appendTrimmed(out, s)
			}
		}
		return out
	case []string:
		var out []string
		for _, s := range t {
			out = appendTrimmed(out, s)
		}
		return out
	case string:
		s := strings.TrimSpace(t)
		if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
			return stringList(s)
		}
		if strings.IndexByte(s, ',') >= 0 {
			var out []string
			for _, p := range strings.Split(s, ",") {
				out = appendTrimmed(out, p)
			}
			return out
		}
		return appendTrimmed(nil, s)
	}
	return nil
}

// stringList parses a stringified list: JSON first, then the Python repr
// form ['a', 'b'] (quotes of either kind stripped from each element).
func stringList(s string) []string {
	var l []any
	if err := json.Unmarshal([]byte(s), &l); err == nil {
		return Strings(l)
	}
	var out []string
	for _, p := range strings.Split(s[1:len(s)-1], ",") {
		p = strings.TrimSpace(p)
		if len(p) >= 2 && (p[0] == '\'' || p[0] == '"') && p[len(p)-1] == p[0] {
			p = p[1 : len(p)-1]
		}
		out = appendTrimmed(out, p)
	}
	return out
}

func appendTrimmed(out []string, s string) []string {
	if s = strings.TrimSpace(s); s != "" {
		out = append(out, s)
	}
	return out
}

// Scopes returns the token scopes, as LiteLLM's get_scopes: a string claim
// is split on whitespace ("openid litellm_proxy_admin"), a list is taken as
// is (its strings), a missing claim adds nothing, any other type is an
// error (LiteLLM's message, which the caller turns into a 401).
//
// paths defaults to "scope" and then "scp": Azure AD puts delegated scopes
// in "scp", which LiteLLM ignores, so an Azure admin scope never matched.
// Scopes from several paths are unioned, deduplicated, in order.
func Scopes(claims map[string]any, paths []string) ([]string, error) {
	if len(paths) == 0 {
		paths = defaultScopePaths
	}
	var out []string
	for _, p := range paths {
		v, ok := Lookup(claims, p)
		if !ok {
			continue
		}
		switch t := v.(type) {
		case string:
			for _, s := range strings.Fields(t) {
				out = appendUnique(out, s)
			}
		case []any:
			for _, e := range t {
				if s, ok := e.(string); ok && s != "" {
					out = appendUnique(out, s)
				}
			}
		case []string:
			for _, s := range t {
				if s != "" {
					out = appendUnique(out, s)
				}
			}
		default:
			return nil, fmt.Errorf("Unmapped scope type - %s. Supported types - list, str.", pyType(v))
		}
	}
	return out, nil
}

var defaultScopePaths = []string{"scope", "scp"}

// pyType names a JSON value's type the way Python would, so the error text
// matches LiteLLM's ("<class 'int'>" there; the bare name here).
func pyType(v any) string {
	switch t := v.(type) {
	case bool:
		return "bool"
	case float64:
		if t == math.Trunc(t) {
			return "int"
		}
		return "float"
	case json.Number:
		if isDigits(string(t)) {
			return "int"
		}
		return "float"
	case int, int64:
		return "int"
	case map[string]any:
		return "dict"
	}
	return fmt.Sprintf("%T", v)
}

// Union reads every path with Strings and concatenates the results,
// deduplicated, in path order: roles spread over "roles",
// "realm_access.roles" and "groups" become one list (#20001).
func Union(claims map[string]any, paths []string) []string {
	var out []string
	for _, p := range paths {
		v, ok := Lookup(claims, p)
		if !ok {
			continue
		}
		for _, s := range Strings(v) {
			out = appendUnique(out, s)
		}
	}
	return out
}

// appendUnique is a linear dedup: claim lists are short, and a map would
// cost more than it saves.
func appendUnique(out []string, s string) []string {
	for _, o := range out {
		if o == s {
			return out
		}
	}
	return append(out, s)
}
