package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
)

// A minimal valid entry, for cases that break one thing at a time.
const okEntry = `model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
`

// errorCases each break one thing. want holds substrings that must all
// appear in one error line: the field path first, so every case checks that
// the message names the right field.
// errorCase is a config that Parse must refuse, and the parts one line of
// the error must contain.
type errorCase struct {
	name string
	in   string
	want []string
}

var errorCases = []errorCase{
	// Unknown fields, at every level.
	{"unknown top-level field", "model_lst: []\n",
		[]string{`config: unknown field "model_lst" (line 1)`, `did you mean "model_list"?`}},
	{"unknown general_settings field", "general_settings:\n  master_ky: sk-1\n",
		[]string{`config: general_settings: unknown field "master_ky" (line 2)`}},
	{"unknown litellm_settings field", "litellm_settings:\n  drop_parms: true\n",
		[]string{`config: litellm_settings: unknown field "drop_parms" (line 2)`, `did you mean "drop_params"?`}},
	{"unknown model_list entry field", okEntry + "    api_key: sk-x\n",
		[]string{`config: model_list[0]: unknown field "api_key" (line 5)`, `"api_key" belongs under litellm_params`}},
	{"unknown litellm_params field", okEntry + "      api_bse: https://x\n",
		[]string{`config: model_list[0].litellm_params: unknown field "api_bse" (line 5)`, `did you mean "api_base"?`}},
	{"unknown model_info field", okEntry + "    model_info:\n      acess_groups: [a]\n",
		[]string{`config: model_list[0].model_info: unknown field "acess_groups" (line 6)`, `did you mean "access_groups"?`}},

	// Type errors.
	{"number given as text", okEntry + "      timeout: abc\n",
		[]string{`config: model_list[0].litellm_params.timeout: expected a number, got "abc" (line 5)`}},
	{"quoted number", okEntry + "      stream_timeout: \"10\"\n",
		[]string{`model_list[0].litellm_params.stream_timeout: expected a number, got "10" (line 5)`}},
	{"fractional integer", okEntry + "      rpm: 1.5\n",
		[]string{`model_list[0].litellm_params.rpm: expected an integer, got "1.5" (line 5)`}},
	{"integer overflow", okEntry + "      tpm: 99999999999999999999999\n",
		[]string{`model_list[0].litellm_params.tpm: expected an integer`}},
	{"access_groups not a list", okEntry + "    model_info:\n      access_groups: beta\n",
		[]string{`model_list[0].model_info.access_groups: expected a list, got "beta" (line 6)`}},
	{"model_list not a list", "model_list:\n  model_name: x\n",
		[]string{`config: model_list: expected a list, got a mapping (line 2)`}},
	{"litellm_params not a mapping", "model_list:\n  - model_name: x\n    litellm_params: [openai/gpt-4o]\n",
		[]string{`model_list[0].litellm_params: expected a mapping, got a list (line 3)`}},
	{"string given a mapping", "general_settings:\n  master_key: {a: b}\n",
		[]string{`general_settings.master_key: expected a string, got a mapping (line 2)`}},
	{"extra_headers value a list", okEntry + "      extra_headers: {X-A: [1]}\n",
		[]string{`model_list[0].litellm_params.extra_headers.X-A: expected a string, got a list (line 5)`}},
	{"environment variable value a mapping", "environment_variables:\n  A: {b: c}\n",
		[]string{`environment_variables.A: expected a string, got a mapping (line 2)`}},
	{"top level not a mapping", "- model_name: x\n",
		[]string{`config: expected a mapping, got a list (line 1)`}},
	{"empty list element", "model_list:\n  -\n",
		[]string{`config: model_list[0]: is empty (line 2)`}},
	{"empty access group element", okEntry + "    model_info:\n      access_groups: [a, ~]\n",
		[]string{`model_list[0].model_info.access_groups[1]: is empty (line 6)`}},

	// YAML structure.
	{"duplicate key", "model_list:\n  - model_name: a\n    model_name: b\n",
		[]string{`model_list[0].model_name: set twice, first at line 2 (line 3)`}},
	{"two documents", okEntry + "---\ngeneral_settings: {}\n",
		[]string{`config: more than one YAML document`}},
	{"syntax error", "model_list:\n  - model_name: a\n   bad\n",
		[]string{`config: YAML syntax error: `, `(line 3)`}},
	{"merge of a scalar", "model_list:\n  - model_name: a\n    litellm_params: {<<: x}\n",
		[]string{`model_list[0].litellm_params: << must merge a mapping or a list of mappings (line 3)`}},
	{"unknown field arriving by merge", "model_list:\n  - model_name: a\n    litellm_params: &p {model: mock/a, api_bse: x}\n  - model_name: b\n    litellm_params: {<<: *p}\n",
		[]string{`model_list[0].litellm_params: unknown field "api_bse" (line 3)`}},
	{"self-merge", "model_list:\n  - model_name: a\n    litellm_params: &p {<<: *p}\n",
		[]string{`model_list[0].litellm_params: `}},

	// model_name and model.
	{"model_name missing", "model_list:\n  - litellm_params:\n      model: openai/gpt-4o\n",
		[]string{`config: model_list[0].model_name: is required (line 2)`}},
	{"model_name padded", "model_list:\n  - model_name: ' gpt-4o'\n    litellm_params:\n      model: openai/gpt-4o\n",
		[]string{`model_list[0].model_name: must not start or end with whitespace (line 2)`}},
	{"litellm_params missing", "model_list:\n  - model_name: a\n",
		[]string{`config: model_list[0].litellm_params.model: is required (line 2)`}},
	{"model missing", "model_list:\n  - model_name: a\n    litellm_params:\n      api_key: x\n",
		[]string{`model_list[0].litellm_params.model: is required (line 3)`}},
	{"unknown provider", "model_list:\n  - model_name: a\n    litellm_params:\n      model: foo-bar\n",
		[]string{`config: model_list[0].litellm_params.model: "foo-bar" names no known provider; use "<provider>/<model>" (e.g. openai/gpt-4o, mock/echo) (line 4)`}},
	{"unknown provider prefix", "model_list:\n  - model_name: a\n    litellm_params:\n      model: acme/llm-1\n",
		[]string{`model_list[0]: deployment "a" (litellm_params.model: acme/llm-1) is not supported: gatehouse's edge has no client for provider acme`}},
	// model "*" is openai/* (LiteLLM's get_llm_provider), still a wildcard.
	{"bare star for a plain name", "model_list:\n  - model_name: a\n    litellm_params:\n      model: '*'\n",
		[]string{`model_list[0].litellm_params.model: contains '*' but model_name "a" is not a wildcard`}},
	{"provider without model", "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/\n",
		[]string{`model_list[0].litellm_params.model: "openai/" names no model after the provider (line 4)`}},
	{"wildcard name, literal model", "model_list:\n  - model_name: openai/*\n    litellm_params:\n      model: openai/gpt-4o\n",
		[]string{`model_list[0].litellm_params.model: model_name "openai/*" is a wildcard, so model must contain '*' too`}},
	{"literal name, wildcard model", "model_list:\n  - model_name: gpt\n    litellm_params:\n      model: openai/*\n",
		[]string{`model_list[0].litellm_params.model: contains '*' but model_name "gpt" is not a wildcard`}},

	// Other litellm_params.
	{"api_base not a URL", okEntry + "      api_base: localhost:8000\n",
		[]string{`model_list[0].litellm_params.api_base: must be an absolute http(s) URL or an os.environ/VAR reference (line 5)`}},
	{"api_base relative", okEntry + "      api_base: /v1\n",
		[]string{`model_list[0].litellm_params.api_base: must be an absolute http(s) URL`}},
	{"api_base wrong scheme", okEntry + "      api_base: ftp://example.com\n",
		[]string{`model_list[0].litellm_params.api_base: must be an absolute http(s) URL`}},
	{"api_base empty reference", okEntry + "      api_base: os.environ/\n",
		[]string{`model_list[0].litellm_params.api_base: os.environ/ names no variable`}},
	{"api_key empty reference", okEntry + "      api_key: os.environ/\n",
		[]string{`model_list[0].litellm_params.api_key: os.environ/ names no variable (use os.environ/VAR) (line 5)`}},
	{"api_key bad reference", okEntry + "      api_key: os.environ/A B\n",
		[]string{`model_list[0].litellm_params.api_key: "A B" is not a valid environment variable name`}},
	{"negative timeout", okEntry + "      timeout: -1\n",
		[]string{`model_list[0].litellm_params.timeout: must be a finite number >= 0 (line 5)`}},
	{"infinite timeout", okEntry + "      timeout: .inf\n",
		[]string{`model_list[0].litellm_params.timeout: must be a finite number >= 0`}},
	{"NaN stream_timeout", okEntry + "      stream_timeout: .nan\n",
		[]string{`model_list[0].litellm_params.stream_timeout: must be a finite number >= 0`}},
	{"negative max_retries", okEntry + "      max_retries: -1\n",
		[]string{`model_list[0].litellm_params.max_retries: must be >= 0 (line 5)`}},
	{"negative rpm", okEntry + "      rpm: -1\n",
		[]string{`model_list[0].litellm_params.rpm: must be >= 0 (line 5)`}},
	{"negative tpm", okEntry + "      tpm: -5\n",
		[]string{`model_list[0].litellm_params.tpm: must be >= 0 (line 5)`}},
	{"negative params cost", okEntry + "      input_cost_per_token: -0.1\n",
		[]string{`model_list[0].litellm_params.input_cost_per_token: must be a finite number >= 0 (line 5)`}},
	{"negative params output cost", okEntry + "      output_cost_per_token: -0.1\n",
		[]string{`model_list[0].litellm_params.output_cost_per_token: must be a finite number >= 0 (line 5)`}},
	{"bad header name", okEntry + "      extra_headers: {'X A': b}\n",
		[]string{`model_list[0].litellm_params.extra_headers.X A: "X A" is not a valid HTTP header name (line 5)`}},
	{"header value with newline", okEntry + "      extra_headers: {X-A: \"b\\r\\nX-Evil: 1\"}\n",
		[]string{`model_list[0].litellm_params.extra_headers.X-A: must not contain CR, LF or NUL (line 5)`}},

	{"negative cache read cost", okEntry + "      cache_read_input_token_cost: -1e-7\n",
		[]string{`model_list[0].litellm_params.cache_read_input_token_cost: must be a finite number >= 0 (line 5)`}},
	{"negative cache creation cost", okEntry + "    model_info:\n      cache_creation_input_token_cost: -1\n",
		[]string{`model_list[0].model_info.cache_creation_input_token_cost: must be a finite number >= 0 (line 6)`}},

	// model_info.
	{"negative info cost", okEntry + "    model_info:\n      output_cost_per_token: -1\n",
		[]string{`model_list[0].model_info.output_cost_per_token: must be a finite number >= 0 (line 6)`}},
	{"negative info input cost", okEntry + "    model_info:\n      input_cost_per_token: -1\n",
		[]string{`model_list[0].model_info.input_cost_per_token: must be a finite number >= 0 (line 6)`}},
	{"negative max_tokens", okEntry + "    model_info:\n      max_tokens: -1\n",
		[]string{`model_list[0].model_info.max_tokens: must be >= 0 (line 6)`}},
	{"empty access group", okEntry + "    model_info:\n      access_groups: [beta, '']\n",
		[]string{`model_list[0].model_info.access_groups[1]: must be a non-empty string (line 6)`}},
	{"padded access group", okEntry + "    model_info:\n      access_groups: [' beta']\n",
		[]string{`model_list[0].model_info.access_groups[0]: must not start or end with whitespace (line 6)`}},
	{"padded id", okEntry + "    model_info:\n      id: ' x'\n",
		[]string{`model_list[0].model_info.id: must not start or end with whitespace (line 6)`}},
	{"duplicate explicit id", `model_list:
  - model_name: a
    litellm_params: {model: openai/gpt-4o}
    model_info: {id: dep-1}
  - model_name: b
    litellm_params: {model: openai/gpt-4o-mini}
  - model_name: c
    litellm_params: {model: openai/gpt-4}
    model_info:
      id: dep-1
`, []string{`config: model_list[2].model_info.id: "dep-1" is already the id of model_list[0] (line 10)`}},
	{"identical entries", okEntry + "  - model_name: gpt-4o\n    litellm_params:\n      model: openai/gpt-4o\n",
		[]string{`config: model_list[1]: has the same content as model_list[0], so both would get id`, `(line 5)`}},

	// Settings.
	{"negative max_request_size_mb", "general_settings:\n  max_request_size_mb: -1\n",
		[]string{`config: general_settings.max_request_size_mb: must be > 0 (line 2)`}},
	{"negative request_timeout", "litellm_settings:\n  request_timeout: -1\n",
		[]string{`config: litellm_settings.request_timeout: must be > 0 (seconds) (line 2)`}},
	{"environment reference", "environment_variables:\n  OPENAI_API_KEY: os.environ/OTHER\n",
		[]string{`config: environment_variables.OPENAI_API_KEY: must be a literal value, not an os.environ/ reference (line 2)`}},
	{"environment bad name", "environment_variables:\n  'A=B': c\n",
		[]string{`config: environment_variables.A=B: "A=B" is not a valid environment variable name (line 2)`}},
}

func TestParseErrors(t *testing.T) { testParseErrors(t, errorCases) }

// mustLoad, mustParse and mustModels are Load, Parse and File.Models for
// tests of a valid file: an error fails the test at once.
func mustLoad(t *testing.T, path string) *File {
	t.Helper()
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func mustParse(t *testing.T, doc string) *File {
	t.Helper()
	f, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// parseFails checks that doc does not parse, with an error naming want.
func parseFails(t *testing.T, doc, want string) {
	t.Helper()
	if _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%q: error %v, want it to name %s", doc, err, want)
	}
}

func mustModels(t *testing.T, f *File) []*events.Model {
	t.Helper()
	ms, err := f.Models(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func testParseErrors(t *testing.T, cases []errorCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(tc.in))
			if err == nil {
				t.Fatalf("Parse succeeded, want error containing %q", tc.want)
			}
			if f != nil {
				t.Errorf("Parse returned a File with an error")
			}
			if !anyLineHasAll(err.Error(), tc.want) {
				t.Errorf("error does not contain %q in one line:\n%v", tc.want, err)
			}
		})
	}
}

func anyLineHasAll(msg string, want []string) bool {
	for _, line := range strings.Split(msg, "\n") {
		all := true
		for _, w := range want {
			all = all && strings.Contains(line, w)
		}
		if all {
			return true
		}
	}
	return false
}

func TestParseErrorExactMessages(t *testing.T) {
	const in = `model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
  - model_name: other
    litellm_params:
      api_bse: https://example.com
      model: openai/gpt-4o-mini
      timeout: abc
`
	_, err := Parse([]byte(in))
	want := `config: model_list[1].litellm_params: unknown field "api_bse" (line 7); did you mean "api_base"?
config: model_list[1].litellm_params.timeout: expected a number, got "abc" (line 9)`
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
}

// All errors are reported, in line order, without a second report for a
// field that already has a type error.
func TestParseCollectsErrorsInLineOrder(t *testing.T) {
	const in = `litellm_settings:
  request_timeout: -1
model_list:
  - model_name: a
    litellm_params:
      model: [openai/gpt-4o]
      rpm: -1
  - litellm_params:
      model: nope
general_settings:
  max_request_size_mb: -2
  extra: 1
`
	_, err := Parse([]byte(in))
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	lines := strings.Split(err.Error(), "\n")
	wantPaths := []string{
		"litellm_settings.request_timeout:",
		"model_list[0].litellm_params.model: expected a string, got a list",
		"model_list[0].litellm_params.rpm:",
		"model_list[1].model_name: is required",
		"model_list[1].litellm_params.model: \"nope\"",
		"general_settings.max_request_size_mb:",
		"general_settings: unknown field \"extra\"",
	}
	if len(lines) != len(wantPaths) {
		t.Fatalf("got %d errors, want %d:\n%v", len(lines), len(wantPaths), err)
	}
	prev := 0
	for i, l := range lines {
		if !strings.Contains(l, wantPaths[i]) {
			t.Errorf("error %d = %q, want it to contain %q", i, l, wantPaths[i])
		}
		n := lineOf(t, l)
		if n < prev {
			t.Errorf("errors not in line order: %q after line %d", l, prev)
		}
		prev = n
	}
}

var lineRE = regexp.MustCompile(`\(line (\d+)\)`)

func lineOf(t *testing.T, s string) int {
	t.Helper()
	m := lineRE.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no line in %q", s)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestFieldErrorIsInspectable(t *testing.T) {
	_, err := Parse([]byte(okEntry + "      rpm: -1\n"))
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not a *FieldError", err)
	}
	if fe.Path != "model_list[0].litellm_params.rpm" || fe.Line != 5 {
		t.Errorf("got path %q line %d", fe.Path, fe.Line)
	}
}

func TestValidateWithoutParse(t *testing.T) {
	f := &File{ModelList: []ModelEntry{
		{ModelName: "a", LiteLLMParams: events.ModelParams{Model: "openai/gpt-4o"}},
		{ModelName: "b", LiteLLMParams: events.ModelParams{Model: "openai/gpt-4o", APIBase: "nope"}},
	}}
	err := f.Validate()
	want := "config: model_list[1].litellm_params.api_base: must be an absolute http(s) URL or an os.environ/VAR reference"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	if _, err := f.Models(time.Now()); err == nil {
		t.Error("Models accepted an invalid File")
	}
}

func TestValidFiles(t *testing.T) {
	paths, err := filepath.Glob("testdata/valid/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			f := mustLoad(t, p)
			if err := f.Validate(); err != nil {
				t.Fatal(err)
			}
			if _, err := f.Models(time.Now()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestEmptyConfigs(t *testing.T) {
	for _, in := range []string{"", "\n", "# comment\n", "---\n", "~\n", "model_list:\n", "model_list: []\n"} {
		f, err := Parse([]byte(in))
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		ms, err := f.Models(time.Now())
		if err != nil || len(ms) != 0 {
			t.Errorf("Parse(%q).Models() = %d models, %v", in, len(ms), err)
		}
	}
}

func TestLiteLLMSeedConfig(t *testing.T) {
	f := mustLoad(t, "testdata/valid/litellm_access_groups.yaml")
	ms := mustModels(t, f)
	type row struct{ name, model, key, group string }
	var got []row
	for _, m := range ms {
		got = append(got, row{m.ModelName, m.LiteLLMParams.Model, m.LiteLLMParams.APIKey, strings.Join(m.ModelInfo.AccessGroups, ",")})
	}
	want := []row{
		{"gpt-4", "openai/fake", "fake-key", "beta-models"},
		{"fireworks-llama-v3-70b-instruct", "fireworks_ai/accounts/fireworks/models/llama-v3-70b-instruct", "os.environ/FIREWORKS", "beta-models"},
		{"openai/*", "openai/*", "os.environ/OPENAI_API_KEY", "default-models"},
		{"openai/o1-*", "openai/o1-*", "os.environ/OPENAI_API_KEY", "restricted-models"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestLoadBalancingConfig(t *testing.T) {
	f := mustLoad(t, "testdata/valid/litellm_load_balancing.yaml")
	if got := f.GeneralSettings.MaxRequestBytes(); got != 32<<20 {
		t.Errorf("MaxRequestBytes = %d", got)
	}
	if got := f.LiteLLMSettings.Timeout(); got != 120*time.Second {
		t.Errorf("Timeout = %v", got)
	}
	ms := mustModels(t, f)
	if len(ms) != 5 {
		t.Fatalf("%d models", len(ms))
	}
	if p := ms[0].LiteLLMParams; p.APIBase != "os.environ/AZURE_API_BASE" || p.APIVersion != "2023-07-01-preview" || p.RPM != 6 {
		t.Errorf("first deployment params %+v", p)
	}
	if p := ms[2].LiteLLMParams; p.MaxRetries == nil || *p.MaxRetries != 2 || p.Timeout != 30 || p.StreamTimeout != 10 {
		t.Errorf("third deployment params %+v", p)
	}
	if ms[3].ID != "claude-primary" || ms[3].ModelInfo.ID != "claude-primary" || ms[3].ModelInfo.MaxInputTokens != 200000 {
		t.Errorf("explicit id deployment %+v", ms[3])
	}
	if ms[3].LiteLLMParams.ExtraHeaders["anthropic-beta"] != "prompt-caching-2024-07-31" {
		t.Errorf("extra_headers %v", ms[3].LiteLLMParams.ExtraHeaders)
	}
}

func TestAnchorsAndMerges(t *testing.T) {
	f := mustLoad(t, "testdata/valid/anchors.yaml")
	ms := mustModels(t, f)
	if p := ms[1].LiteLLMParams; p.Model != "openai/gpt-4o" || p.APIKey != "os.environ/OPENAI_API_KEY_2" || p.Timeout != 60 {
		t.Errorf("merged params %+v", p)
	}
	if g := ms[1].ModelInfo.AccessGroups; !slices.Equal(g, []string{"beta-models"}) {
		t.Errorf("aliased model_info groups %v", g)
	}
	if p := ms[2].LiteLLMParams; p.Model != "openai/gpt-4o-mini" || p.APIKey != "os.environ/OPENAI_API_KEY" {
		t.Errorf("sequence-merged params %+v", p)
	}
}

func TestStableIDs(t *testing.T) {
	const in = `model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: https://a.example.com/v1
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: https://b.example.com/v1
  - model_name: pinned
    litellm_params:
      model: openai/gpt-4o
    model_info:
      id: my-id
`
	ids := func(in string) []string {
		t.Helper()
		f := mustParse(t, in)
		ms, err := f.Models(time.Unix(1, 0))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			if m.ModelInfo.ID != m.ID {
				t.Errorf("ModelInfo.ID %q != ID %q", m.ModelInfo.ID, m.ID)
			}
			out = append(out, m.ID)
		}
		return out
	}
	first := ids(in)
	if again := ids(in); !slices.Equal(first, again) {
		t.Fatalf("ids changed between parses: %v, %v", first, again)
	}
	hex16 := regexp.MustCompile(`^[0-9a-f]{16}$`)
	for _, id := range first[:2] {
		if !hex16.MatchString(id) {
			t.Errorf("derived id %q is not 16 hex characters", id)
		}
	}
	if first[0] == first[1] {
		t.Error("different api_base gave the same id")
	}
	if first[2] != "my-id" {
		t.Errorf("explicit id = %q", first[2])
	}

	changed := ids(strings.Replace(in, "https://a.example.com/v1", "https://c.example.com/v1", 1))
	if changed[0] == first[0] || changed[1] != first[1] {
		t.Errorf("changing one api_base: ids %v -> %v", first, changed)
	}

	// Layout, comments, quoting and key order are not content.
	reformatted := ids(`# reformatted
model_list:
  - litellm_params: {api_base: "https://a.example.com/v1", model: "openai/gpt-4o"}
    model_name: "gpt-4o"
  - {model_name: gpt-4o, litellm_params: {model: openai/gpt-4o, api_base: https://b.example.com/v1}}
  - model_name: pinned
    model_info: {id: my-id}
    litellm_params: {model: openai/gpt-4o}
`)
	if !slices.Equal(reformatted, first) {
		t.Errorf("reformatting changed ids: %v -> %v", first, reformatted)
	}
}

func TestModelsEvents(t *testing.T) {
	const in = `model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/OPENAI_API_KEY
      api_base: os.environ/OPENAI_API_BASE
      max_retries: 1
      extra_headers: {X-A: b}
    model_info:
      access_groups: [beta]
`
	f := mustParse(t, in)
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	ms, err := f.Models(now)
	if err != nil {
		t.Fatal(err)
	}
	m := ms[0]
	// The reference travels in the event; edges resolve it.
	if m.LiteLLMParams.APIKey != "os.environ/OPENAI_API_KEY" || m.LiteLLMParams.APIBase != "os.environ/OPENAI_API_BASE" {
		t.Errorf("secrets were resolved or lost: %+v", m.LiteLLMParams)
	}
	if m.Source != "config" || !m.CreatedAt.Equal(now) || !m.UpdatedAt.Equal(now) {
		t.Errorf("event metadata %+v", m)
	}
	// Events are copies: changing one must not change the File.
	*m.LiteLLMParams.MaxRetries = 9
	m.LiteLLMParams.ExtraHeaders["X-A"] = "changed"
	m.ModelInfo.AccessGroups[0] = "changed"
	e := f.ModelList[0]
	if *e.LiteLLMParams.MaxRetries != 1 || e.LiteLLMParams.ExtraHeaders["X-A"] != "b" || e.ModelInfo.AccessGroups[0] != "beta" {
		t.Errorf("File changed through an event: %+v", e)
	}
	if e.ModelInfo.ID != "" {
		t.Errorf("Models wrote the derived id into the File")
	}
}

func TestMasterKey(t *testing.T) {
	env := func(vars map[string]string) policy.Env {
		return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	}
	cases := []struct {
		name, key string
		vars      map[string]string
		want      string
		wantErr   string
	}{
		{"none", "", nil, "", ""},
		{"literal", "sk-1234", nil, "sk-1234", ""},
		{"reference", "os.environ/MASTER_KEY", map[string]string{"MASTER_KEY": "sk-env"}, "sk-env", ""},
		{"literal without sk-", "secret", nil, "", `config: general_settings.master_key: must start with "sk-"`},
		{"reference without sk-", "os.environ/MASTER_KEY", map[string]string{"MASTER_KEY": "hunter2"}, "",
			`config: general_settings.master_key: the value of os.environ/MASTER_KEY must start with "sk-"`},
		{"reference unset", "os.environ/MASTER_KEY", map[string]string{}, "",
			`config: general_settings.master_key: environment variable MASTER_KEY is not set`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &File{GeneralSettings: GeneralSettings{MasterKey: tc.key}}
			got, err := f.MasterKey(env(tc.vars))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %s", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "secret") {
					t.Errorf("error leaks the key: %v", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestMasterKeyLine: a master_key that would not resolve is reported at
// its line, as `gatehouse check` reports every other setting.
func TestMasterKeyLine(t *testing.T) {
	f := mustParse(t, okModel+"general_settings:\n  master_key: secret\n")
	_, err := f.MasterKey(func(string) (string, bool) { return "", false })
	if err == nil || !strings.HasSuffix(err.Error(), "(line 7)") {
		t.Errorf("err = %v, want it at line 7", err)
	}
	w := f.MasterKeyWarning(func(k string) string {
		if k == "MASTER_KEY" {
			return "sk-env"
		}
		return ""
	})
	if w == nil || w.Line != 7 {
		t.Errorf("MASTER_KEY warning %v, want it at line 7", w)
	}
}

func TestApplyEnvironment(t *testing.T) {
	f := mustParse(t, "environment_variables:\n  B: two\n  A: 1\n  C: ''\n")
	var got []string
	err := f.ApplyEnvironment(func(k, v string) error {
		got = append(got, k+"="+v)
		return nil
	})
	if err != nil || !slices.Equal(got, []string{"A=1", "B=two", "C="}) {
		t.Errorf("set %v, err %v", got, err)
	}

	// Invalid entries: nothing is set.
	bad := &File{EnvironmentVariables: map[string]string{"A": "x", "B": "os.environ/C"}}
	err = bad.ApplyEnvironment(func(k, v string) error { t.Errorf("set %s", k); return nil })
	if err == nil || !strings.Contains(err.Error(), "environment_variables.B:") {
		t.Errorf("err = %v", err)
	}

	// setenv failures name the variable.
	err = f.ApplyEnvironment(func(k, v string) error {
		if k == "B" {
			return errors.New("nope")
		}
		return nil
	})
	if err == nil || err.Error() != "config: environment_variables.B: nope" {
		t.Errorf("err = %v", err)
	}

	t.Setenv("GATEHOUSE_CONFIG_TEST", "") // restores the variable afterwards
	f = &File{EnvironmentVariables: map[string]string{"GATEHOUSE_CONFIG_TEST": "v"}}
	if err := f.ApplyEnvironment(nil); err != nil || os.Getenv("GATEHOUSE_CONFIG_TEST") != "v" {
		t.Errorf("ApplyEnvironment(nil): %v, env %q", err, os.Getenv("GATEHOUSE_CONFIG_TEST"))
	}
	// A value already in the process environment wins over the file's.
	t.Setenv("GATEHOUSE_CONFIG_TEST", "from-process")
	if err := f.ApplyEnvironment(nil); err != nil || os.Getenv("GATEHOUSE_CONFIG_TEST") != "from-process" {
		t.Errorf("process env overwritten: %v, env %q", err, os.Getenv("GATEHOUSE_CONFIG_TEST"))
	}
}

func TestDefault(t *testing.T) {
	f := mustParse(t, string(Default()))
	if f.GeneralSettings.MasterKey != "os.environ/MASTER_KEY" {
		t.Errorf("master_key = %q", f.GeneralSettings.MasterKey)
	}
	key, err := f.MasterKey(func(string) (string, bool) { return "sk-dev", true })
	if err != nil || key != "sk-dev" {
		t.Errorf("MasterKey = %q, %v", key, err)
	}
	ms := mustModels(t, f)
	byName := map[string]*events.Model{}
	for _, m := range ms {
		byName[m.ModelName] = m
		if p, _ := policy.SplitProvider(m.LiteLLMParams.Model); p != policy.ProviderMock {
			t.Errorf("%s uses provider %q; the example must work offline", m.ModelName, p)
		}
	}
	for name, model := range map[string]string{
		"gpt-4o": "mock/gpt-4o", "gpt-4o-mini": "mock/gpt-4o-mini",
		"claude-3-5-sonnet": "mock/claude-3-5-sonnet", "mock/*": "mock/*",
		"text-embedding-3-small": "mock/text-embedding-3-small",
	} {
		if m := byName[name]; m == nil || m.LiteLLMParams.Model != model {
			t.Errorf("model %s missing or not %s", name, model)
		}
	}
	if len(ms) != 5 {
		t.Errorf("%d models, want 5", len(ms))
	}
	if g := byName["gpt-4o"].ModelInfo.AccessGroups; !slices.Equal(g, []string{"beta-models"}) {
		t.Errorf("gpt-4o groups %v", g)
	}
	if g := byName["mock/*"].ModelInfo.AccessGroups; !slices.Equal(g, []string{"default-models"}) {
		t.Errorf("mock/* groups %v", g)
	}
	if byName["gpt-4o"].ModelInfo.InputCostPerToken <= 0 || byName["gpt-4o-mini"].ModelInfo.OutputCostPerToken <= 0 {
		t.Error("example lacks costs")
	}

	// Default hands out a copy.
	d := Default()
	d[0] = 'X'
	if Default()[0] == 'X' {
		t.Error("Default returned the embedded bytes")
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.HasPrefix(err.Error(), "config: ") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v", err)
	}
}

func TestSettingDefaults(t *testing.T) {
	var f File
	if got := f.GeneralSettings.MaxRequestBytes(); got != DefaultMaxRequestSizeMB<<20 {
		t.Errorf("default MaxRequestBytes = %d", got)
	}
	if got := f.LiteLLMSettings.Timeout(); got != DefaultRequestTimeout {
		t.Errorf("default Timeout = %v", got)
	}
	f.GeneralSettings.MaxRequestSizeMB = 0.5
	f.LiteLLMSettings.RequestTimeout = 1.5
	if got := f.GeneralSettings.MaxRequestBytes(); got != 1<<19 {
		t.Errorf("MaxRequestBytes = %d", got)
	}
	if got := f.LiteLLMSettings.Timeout(); got != 1500*time.Millisecond {
		t.Errorf("Timeout = %v", got)
	}
}

// A small document that expands exponentially through aliases must fail
// fast rather than hang.
func TestAliasExpansionIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("model_list:\n  - model_name: a\n    litellm_params: &l0 {model: mock/a}\n")
	prev := "l0"
	for i := 1; i <= 30; i++ {
		name := "l" + strconv.Itoa(i)
		b.WriteString("  - model_name: m" + name + "\n    litellm_params: &" + name + " {<<: [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*" + prev)
		}
		b.WriteString("]}\n")
		prev = name
	}
	done := make(chan error, 1)
	go func() { _, err := Parse([]byte(b.String())); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Parse accepted an alias bomb")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Parse did not finish")
	}
}

func TestValidateModel(t *testing.T) {
	ok := &events.Model{ID: "m1", ModelName: "gpt-4o",
		LiteLLMParams: events.ModelParams{Model: "openai/gpt-4o", APIKey: "os.environ/OPENAI_API_KEY"},
		ModelInfo:     events.ModelInfo{ID: "m1"}}
	if err := ValidateModel(ok); err != nil {
		t.Fatalf("valid model: %v", err)
	}
	// Embedding and completion deployments are served (/v1/embeddings,
	// /v1/completions), by mode or by an OpenAI embedding model's name.
	for _, mode := range []string{"embedding", "completion", "chat"} {
		m := *ok
		m.ModelInfo.Mode = mode
		if err := ValidateModel(&m); err != nil {
			t.Errorf("mode %s: %v", mode, err)
		}
	}
	emb := *ok
	emb.LiteLLMParams.Model = "openai/text-embedding-3-large"
	if err := ValidateModel(&emb); err != nil {
		t.Errorf("embedding model: %v", err)
	}
	cases := []struct {
		name string
		edit func(m *events.Model)
		want string
	}{
		{"no id", func(m *events.Model) { m.ID, m.ModelInfo.ID = "", "" }, "id: is required"},
		{"id mismatch", func(m *events.Model) { m.ModelInfo.ID = "m2" }, `model_info.id: must equal id "m1"`},
		{"no model_name", func(m *events.Model) { m.ModelName = "" }, "model_name: is required"},
		{"unknown provider", func(m *events.Model) { m.LiteLLMParams.Model = "foo-bar" }, `litellm_params.model: "foo-bar" names no known provider`},
		{"bad api_base", func(m *events.Model) { m.LiteLLMParams.APIBase = "x" }, "litellm_params.api_base: must be an absolute http(s) URL"},
		{"negative rpm", func(m *events.Model) { m.LiteLLMParams.RPM = -1 }, "litellm_params.rpm: must be >= 0"},
		{"empty group", func(m *events.Model) { m.ModelInfo.AccessGroups = []string{""} }, "model_info.access_groups[0]: must be a non-empty string"},
		{"provider the edge cannot call", func(m *events.Model) { m.LiteLLMParams.Model = "huggingface/bigcode/starcoder" }, "litellm_params.model: provider huggingface cannot be called"},
		{"image mode", func(m *events.Model) { m.ModelInfo.Mode = "image_generation" }, "model_info.mode: image_generation is not served"},
		{"embedding mode of a provider without embeddings", func(m *events.Model) {
			m.LiteLLMParams.Model = "anthropic/claude-3-5-sonnet"
			m.ModelInfo.Mode = "embedding"
		}, "model_info.mode: embedding is not served for provider anthropic"},
		{"image model", func(m *events.Model) { m.LiteLLMParams.Model = "openai/dall-e-3" }, "litellm_params.model: dall-e-3 is not a chat, embedding or completion model"},
		{"default anthropic cannot take", func(m *events.Model) {
			n := int64(1)
			m.LiteLLMParams.Model = "anthropic/claude-3-5-sonnet"
			m.LiteLLMParams.Seed = &n
		}, "litellm_params.seed: is not a parameter anthropic/ takes"},
		{"bad default temperature", func(m *events.Model) { t := 3.0; m.LiteLLMParams.Temperature = &t }, "litellm_params.temperature: must be between 0 and 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := *ok
			tc.edit(&m)
			err := ValidateModel(&m)
			// API errors are about a request body, not the config file.
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err = %v, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestRouterSettings(t *testing.T) {
	f := mustLoad(t, "testdata/valid/litellm_load_balancing.yaml")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev, err := f.RoutingSettingsEvent(now)
	if err != nil || ev == nil {
		t.Fatalf("RoutingSettingsEvent: %v %v", ev, err)
	}
	if ev.ID != events.RoutingSettingsID || ev.Strategy() != events.RoutingLeastBusy || ev.Fails() != 1 ||
		ev.Cooldown() != 30*time.Second || !reflect.DeepEqual(ev.FallbacksFor("gpt-3.5-turbo"), []string{"claude-3-5-sonnet"}) {
		t.Errorf("router settings %+v", ev)
	}
	if n, explicit := ev.Retries(); n != 2 || !explicit {
		t.Errorf("num_retries %d %v", n, explicit)
	}
	// No router_settings: no event, so settings in the stream stay.
	if ev, err := (&File{}).RoutingSettingsEvent(now); ev != nil || err != nil {
		t.Errorf("empty file: %v %v", ev, err)
	}
	var none *events.RoutingSettings
	if n, explicit := none.Retries(); none.Strategy() != events.RoutingSimpleShuffle || n != 2 || explicit ||
		none.Fails() != 3 || none.Cooldown() != 5*time.Second {
		t.Error("nil settings must give LiteLLM's defaults")
	}
	for _, tc := range []struct{ in, want string }{
		{"router_settings:\n  routing_strategy: round-robin\n", "router_settings.routing_strategy"},
		{"router_settings:\n  redis_hots: localhost\n", "redis_hots"},
		{"router_settings:\n  num_retries: -1\n", "router_settings.num_retries: must be >= 0"},
		{"router_settings:\n  cooldown_time: -5\n", "router_settings.cooldown_time"},
		{"router_settings:\n  fallbacks: [{\"a\": []}]\n", "router_settings.fallbacks[0]"},
	} {
		parseFails(t, tc.in, tc.want)
	}
}

func TestProviderParams(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"model_list:\n  - model_name: a\n    litellm_params:\n      model: azure/dep\n      api_key: k\n", "model_list[0].litellm_params.api_base: is required for azure/"},
		{"model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      weight: -1\n", "model_list[0].litellm_params.weight"},
		{"model_list:\n  - model_name: a\n    litellm_params:\n      model: bedrock/amazon.nova-pro-v1:0\n      aws_access_key_id: AKIA0\n", "model_list[0].litellm_params.aws_secret_access_key: aws_access_key_id and aws_secret_access_key go together"},
		{"model_list:\n  - model_name: a\n    litellm_params:\n      model: bedrock/amazon.nova-pro-v1:0\n      aws_bedrock_runtime_endpoint: vpce-1.example\n", "model_list[0].litellm_params.aws_bedrock_runtime_endpoint: must be an absolute http(s) URL"},
		{"model_list:\n  - model_name: a\n    litellm_params:\n      model: vertex_ai/gemini-2.5-pro\n      vertex_credentials: os.environ/\n", "model_list[0].litellm_params.vertex_credentials"},
	} {
		parseFails(t, tc.in, tc.want)
	}
	f, err := Parse([]byte("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      weight: 2.5\n"))
	if err != nil || f.ModelList[0].LiteLLMParams.Weight != 2.5 {
		t.Fatalf("weight: %v", err)
	}

	// LiteLLM's cloud provider fields are accepted; secrets stay
	// os.environ/ references in what is published.
	f, err = Parse([]byte(`model_list:
  - model_name: br
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID
      aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY
      aws_session_token: os.environ/AWS_SESSION_TOKEN
      aws_region_name: us-west-2
      aws_role_name: arn:aws:iam::123456789012:role/bedrock
      aws_session_name: gatehouse
      aws_bedrock_runtime_endpoint: https://vpce-0abc.bedrock-runtime.us-west-2.vpce.amazonaws.com
  - model_name: vx
    litellm_params:
      model: vertex_ai/gemini-2.5-pro
      vertex_project: my-proj
      vertex_location: europe-west4
      vertex_credentials: os.environ/VERTEX_SA_JSON
  - model_name: gm
    litellm_params:
      model: gemini/gemini-2.5-flash
      api_key: os.environ/GEMINI_API_KEY
`))
	if err != nil {
		t.Fatal(err)
	}
	br, vx := f.ModelList[0].LiteLLMParams, f.ModelList[1].LiteLLMParams
	if br.AWSSecretAccessKey != "os.environ/AWS_SECRET_ACCESS_KEY" || br.AWSRegionName != "us-west-2" || br.AWSRoleName == "" ||
		br.AWSBedrockRuntimeEndpoint == "" || vx.VertexCredentials != "os.environ/VERTEX_SA_JSON" || vx.VertexLocation != "europe-west4" {
		t.Errorf("cloud params: %+v %+v", br, vx)
	}
}

// LiteLLM's cache prices are read from litellm_params and model_info.
func TestCachePrices(t *testing.T) {
	f, err := Parse([]byte(okEntry + "      cache_read_input_token_cost: 1.25e-6\n      cache_creation_input_token_cost: 0\n" +
		"    model_info:\n      cache_read_input_token_cost: 3e-7\n      cache_creation_input_token_cost: 3.75e-6\n"))
	if err != nil {
		t.Fatal(err)
	}
	ms := mustModels(t, f)
	p, mi := ms[0].LiteLLMParams, ms[0].ModelInfo
	if p.CacheReadInputTokenCost != 1.25e-6 || mi.CacheReadInputTokenCost != 3e-7 || mi.CacheCreationInputTokenCost != 3.75e-6 {
		t.Fatalf("cache prices: params %+v, model_info %+v", p, mi)
	}
}
