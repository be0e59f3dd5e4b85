package config

import (
	"strings"
	"testing"
)

// Documents on which yaml.v3 panics are refused with an error.
func TestParseRecoversFromYAMLPanics(t *testing.T) {
	for _, doc := range []string{
		// Found by FuzzParse: an alias to a mapping as a key next to a merge key.
		"model_list:\n  - litellm_params: &p {model: \\}\n  - litellm_params: {<<, *p}",
		"model_list:\n  - litellm_params: &p {model: x}\n  - litellm_params: {<<, *p}",
	} {
		f, err := Parse([]byte(doc))
		if err == nil || f != nil || !strings.HasPrefix(err.Error(), "config: ") {
			t.Errorf("%q: got %v, %v", doc, f, err)
		}
	}
}
