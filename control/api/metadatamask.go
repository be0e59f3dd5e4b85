package api

import (
	"maps"
	"strings"
)

// secretWords are the words of a metadata name that mark its value a
// credential (LiteLLM's sensitive-field patterns): a key's metadata often
// carries a logging callback's secret (metadata.logging[].callback_vars.
// langfuse_secret_key), which anyone who may read the key must not read back.
var secretWords = map[string]bool{
	"password": true, "passwd": true, "secret": true, "key": true, "apikey": true, "token": true,
	"auth": true, "authorization": true, "credential": true, "credentials": true, "private": true, "certificate": true,
}

// isSecretName says whether a metadata name holds a secret word, as a word
// of a snake, kebab or dotted name (api_key, langfuse-secret-key) or the
// whole name (keyboard is not one).
func isSecretName(name string) bool {
	for _, w := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool { return r == '_' || r == '-' || r == '.' }) {
		if secretWords[w] {
			return true
		}
	}
	return false
}

// maskSecret keeps LiteLLM's first and last four characters of a secret
// with a star for each one hidden; a value of eight or fewer is all stars.
func maskSecret(s string) string {
	if len(s) <= 8 {
		return strings.Repeat("*", len(s))
	}
	return s[:4] + strings.Repeat("*", len(s)-8) + s[len(s)-4:]
}

// maskMetadata answers md with every string under a secret name masked, at
// any depth (lists included), as LiteLLM's /key/info does. md itself is
// shared with the policy snapshot and is never changed: a copy is made
// only when there is something to mask.
func maskMetadata(md map[string]any) map[string]any {
	out, _ := mask("", md)
	m, _ := out.(map[string]any)
	return m
}

// mask returns v masked under name and whether anything was (v itself
// when nothing was).
func mask(name string, v any) (any, bool) {
	switch x := v.(type) {
	case string:
		if isSecretName(name) && x != "" {
			return maskSecret(x), true
		}
	case map[string]any:
		var cp map[string]any
		for k, e := range x {
			if m, changed := mask(k, e); changed {
				if cp == nil {
					cp = maps.Clone(x)
				}
				cp[k] = m
			}
		}
		if cp != nil {
			return cp, true
		}
	case []any:
		var cp []any
		for i, e := range x {
			if m, changed := mask(name, e); changed {
				if cp == nil {
					cp = append([]any(nil), x...)
				}
				cp[i] = m
			}
		}
		if cp != nil {
			return cp, true
		}
	}
	return v, false
}
