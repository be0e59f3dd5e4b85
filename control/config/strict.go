package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
	"gopkg.in/yaml.v3"
)

// FieldError is one problem in a config file. It is located by the YAML path
// a user wrote (model_list[1].litellm_params.api_base) rather than by Go type
// names, which is what yaml.v3 reports and what a LiteLLM user cannot map
// back to their file.
type FieldError struct {
	// Path is the dotted field path; "" for the document itself.
	Path string
	// Line is 1-based; 0 when unknown (Validate on a File built in code).
	Line int
	Msg  string
	// Hint follows the line, e.g. `did you mean "api_base"?`.
	Hint string
	// bare drops the "config: " prefix for errors about API bodies.
	bare bool
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if !e.bare {
		b.WriteString("config: ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Parse decodes config.yaml strictly and validates it. Every problem found
// is reported, ordered by line, so a user fixes a file in one pass.
//
// The document is first read as a yaml.Node tree and walked against the
// struct tags: that is what lets errors carry the field path. The values
// are then decoded with yaml.v3's own KnownFields decoder, which also
// guards against anything the walk missed.
func Parse(data []byte) (f *File, err error) {
	// yaml.v3 panics on some documents instead of failing (FuzzParse found
	// a merge key whose alias is a mapping used as a key: "hash of
	// unhashable type"); a config file must never crash the process that
	// loads it, nor /model/new bodies checked with the same rules.
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("config: the YAML parser failed on this document (%v); check anchors, aliases and merge keys (<<)", r)
		}
	}()
	f, _, err = parse(data)
	return f, err
}

// Check is Parse for `gatehouse check`: it also returns the warnings when
// the file has errors, so that one run lists everything.
func Check(data []byte) (f *File, warnings []*FieldError, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("config: the YAML parser failed on this document (%v); check anchors, aliases and merge keys (<<)", r)
		}
	}()
	f, warnings, err = parse(data)
	if f != nil {
		warnings = append(warnings, f.jwtWarnings()...)
	}
	return f, warnings, err
}

func parse(data []byte) (*File, []*FieldError, error) {
	root, err := parseNode(data)
	if err != nil {
		return nil, nil, err
	}
	f := &File{}
	if root == nil {
		return f, nil, nil
	}
	w := &walker{lines: map[string]int{"": root.Line}, budget: walkBudget, fileEnv: fileEnvironment(root)}
	w.classify(root)
	w.walk(root, fileType, "")
	if w.exhausted {
		return nil, w.warns, joinSorted(w.errs)
	}
	if len(w.errs) == 0 {
		if w.rewrote {
			// The tree, not data: classify removed LiteLLM's ignored
			// keys and moved its aliases. It is decoded as it is, never
			// written back to text and read again: yaml.v3 cannot read
			// back some of what it writes (a key with a comment whose
			// mapping was emptied becomes "key: # c\n{}"; an alias
			// whose anchor was dropped names nothing), and errors would
			// count lines of the rewritten text, not the user's. The
			// walk above has refused unknown fields already.
			if err := root.Decode(f); err != nil {
				return nil, w.warns, fmt.Errorf("config: %w", err)
			}
		} else {
			// The user's text as written: yaml.v3's KnownFields decoder
			// also guards against anything the walk missed.
			dec := yaml.NewDecoder(bytes.NewReader(data))
			dec.KnownFields(true)
			if err := dec.Decode(f); err != nil {
				return nil, w.warns, fmt.Errorf("config: %w", err)
			}
		}
	} else if err := decodeAfterErrors(root, w.prune, w.dups, f); err != nil {
		// A type error leaves the rest of the struct decoded, which is
		// enough to validate it too; anything else aborted decoding and
		// the struct is not worth validating.
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, w.warns, joinSorted(w.errs)
		}
	}
	v := &validator{lines: w.lines, bad: w.bad}
	f.validate(v)
	if errs := append(w.errs, v.errs...); len(errs) > 0 {
		return nil, sortWarnings(append(w.warns, v.warns...)), joinSorted(errs)
	}
	f.notes = sortWarnings(append(w.warns, v.warns...))
	f.lines = w.lines
	return f, f.notes, nil
}

// parseNode returns the root node of the single document in data, or nil
// for an empty document.
func parseNode(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(data, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(data, err)
	case !isEmptyDoc(&extra):
		// LiteLLM reads one document; a second one is most likely a
		// concatenation mistake whose settings would be silently lost.
		return nil, &FieldError{Msg: "more than one YAML document", Line: extra.Line}
	}
	if isEmptyDoc(&doc) {
		return nil, nil
	}
	return doc.Content[0], nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns yaml.v3's "yaml: line N: msg" into a FieldError at
// the line to fix, so that check prints it as FILE:LINE like the rest.
// yaml.v3 gives the line where the enclosing block began ("did not find
// expected key" at general_settings: for a key indented wrongly ten lines
// further); the line to fix is the first one after which no prefix of
// the file parses (badLine). A tab in that line's indentation is named:
// YAML indents with spaces only.
func syntaxError(data []byte, err error) error {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("config: %w", err)
	}
	noticed, _ := strconv.Atoi(m[1])
	line := badLine(data)
	if line == 0 {
		line = noticed
	}
	fe := &FieldError{Line: line, Msg: "YAML syntax error: " + m[2]}
	if line != noticed {
		fe.Msg += fmt.Sprintf(" (the YAML parser reports line %d)", noticed)
	}
	lines := strings.Split(string(data), "\n")
	if line >= 1 && line <= len(lines) {
		text := lines[line-1]
		if indent := text[:len(text)-len(strings.TrimLeft(text, " \t"))]; strings.Contains(indent, "\t") {
			fe.Msg = "YAML syntax error: a tab character indents this line; YAML indents with spaces only"
		}
	}
	return fe
}

// badLineBudget bounds badLine's work, in bytes of prefixes parsed: a
// few hundred attempts for a config of a few hundred lines, a fraction of
// a second at worst.
const badLineBudget = 8 << 20

// badLine is the line after the longest prefix of data (in lines) that
// parses, or 0 when finding it would take more than badLineBudget.
func badLine(data []byte) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	size, spent := len(data), 0
	for j := len(lines) - 1; j >= 0; j-- {
		size -= len(lines[j])
		if spent += size; spent > badLineBudget {
			return 0
		}
		if parses(data[:size]) {
			return j + 1
		}
	}
	return 0
}

func parses(data []byte) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		switch err := dec.Decode(&n); {
		case errors.Is(err, io.EOF):
			return true
		case err != nil:
			return false
		}
	}
}

func isEmptyDoc(doc *yaml.Node) bool {
	return len(doc.Content) == 0 || isNull(doc.Content[0])
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// sortWarnings orders warnings by line, dropping repeats.
func sortWarnings(ws []*FieldError) []*FieldError {
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].Line < ws[j].Line })
	seen := map[string]bool{}
	out := ws[:0]
	for _, w := range ws {
		if s := w.Error(); !seen[s] {
			seen[s] = true
			out = append(out, w)
		}
	}
	return out
}

// joinSorted orders errors by line (stable, so same-line errors keep the
// order they were found in) and drops repeats, which merge keys produce
// when one anchor is merged in several places.
func joinSorted(errs []*FieldError) error {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	seen := map[string]bool{}
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		if s := e.Error(); !seen[s] {
			seen[s] = true
			out = append(out, e)
		}
	}
	return errors.Join(out...)
}

var (
	fileType       = reflect.TypeOf(File{})
	claimPathsType = reflect.TypeOf(events.ClaimPaths(nil))
	stringType     = reflect.TypeOf("")
)

// walkBudget bounds the work of a walk. Aliases and merge keys let a small
// document describe an exponentially large one; a config never needs that.
const walkBudget = 1 << 20

// walker checks a node tree against a Go type, recording the line of every
// field path it sees so later validation errors can point into the file.
type walker struct {
	errs      []*FieldError
	warns     []*FieldError // LiteLLM settings accepted but ignored
	rewrote   bool          // classify changed the tree
	skipped   map[*yaml.Node]bool
	lines     map[string]int
	bad       []string // paths with structural errors; validation skips them
	budget    int
	exhausted bool
	merging   map[*yaml.Node]bool // merge sources being expanded, against cycles
	dups      map[*yaml.Node]bool // repeated keys, left out by decodeAfterErrors
	// fileEnv is the file's environment_variables, which os.environ/
	// references in numbers read when the process environment lacks them.
	fileEnv map[string]string
	// prune holds nodes whose type's UnmarshalYAML returns an error that
	// is not a *yaml.TypeError, which aborts a whole decode rather than
	// skipping the field; see decodeAfterErrors.
	prune map[*yaml.Node]bool
}

// dropKey marks a repeated key, which decodeAfterErrors leaves out:
// yaml.v3 refuses a whole mapping with a repeated key, which would leave
// its other fields unset and report them as missing too.
func (w *walker) dropKey(k *yaml.Node) {
	if w.dups == nil {
		w.dups = map[*yaml.Node]bool{}
	}
	w.dups[k] = true
}

func (w *walker) unmarshalerFails(n *yaml.Node) {
	if w.prune == nil {
		w.prune = map[*yaml.Node]bool{}
	}
	w.prune[n] = true
}

// decodeAfterErrors decodes a tree the walk found errors in, so that the
// rest of the file can still be validated. Nodes in prune are decoded as
// null (on a copy of the tree), since decoding them would abort; repeated
// keys (dups) are left out with their values.
func decodeAfterErrors(root *yaml.Node, prune, dups map[*yaml.Node]bool, f *File) error {
	if len(prune) == 0 && len(dups) == 0 {
		return root.Decode(f)
	}
	memo := map[*yaml.Node]*yaml.Node{}
	var cp func(n *yaml.Node) *yaml.Node
	cp = func(n *yaml.Node) *yaml.Node {
		if n == nil {
			return nil
		}
		if c, ok := memo[n]; ok {
			return c
		}
		if prune[n] {
			c := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Anchor: n.Anchor, Line: n.Line, Column: n.Column}
			memo[n] = c
			return c
		}
		c := *n
		memo[n] = &c
		if n.Content != nil {
			c.Content = make([]*yaml.Node, 0, len(n.Content))
			for i := 0; i < len(n.Content); i++ {
				if n.Kind == yaml.MappingNode && i%2 == 0 && dups[deref(n.Content[i])] {
					i++ // a repeated key and its value: the first one stays
					continue
				}
				c.Content = append(c.Content, cp(n.Content[i]))
			}
		}
		c.Alias = cp(n.Alias)
		return &c
	}
	return cp(root).Decode(f)
}

func (w *walker) fail(path string, line int, hint string, format string, args ...any) {
	w.errs = append(w.errs, &FieldError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...), Hint: hint})
	w.bad = append(w.bad, path)
}

func (w *walker) spend() bool {
	if w.exhausted {
		return false
	}
	if w.budget--; w.budget < 0 {
		w.exhausted = true
		w.fail("", 0, "", "document is too large or uses too many aliases")
		return false
	}
	return true
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	if !w.spend() {
		return
	}
	n = deref(n)
	if isNull(n) || w.skipped[n] {
		return // an empty value means the zero value, as in LiteLLM
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() == reflect.Interface {
		return // free-form (metadata): any value
	}
	if t == claimPathsType && n.Kind != yaml.SequenceNode {
		// A claim path field is a string (one path, or several separated
		// by commas) or a list of strings; the list goes through the
		// slice case below.
		if n.Kind != yaml.ScalarNode {
			w.typeError(n, path, "a string or a list of strings")
			w.unmarshalerFails(n)
			return
		}
		t = stringType
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.typeError(n, path, "a mapping")
			return
		}
		fields := knownFields(t)
		for _, p := range w.pairs(n, path) {
			name := p.key.Value
			sub := joinPath(path, name)
			ft, ok := fields.types[name]
			if !ok {
				// The message names the mapping the field sits in (that
				// is where the user looks), while validation skips only
				// the unknown field itself.
				w.errs = append(w.errs, &FieldError{Path: path, Line: p.key.Line,
					Msg: fmt.Sprintf("unknown field %q", name), Hint: hintFor(path, fields, name, p.val)})
				w.bad = append(w.bad, sub)
				continue
			}
			w.lines[sub] = p.key.Line
			w.walk(p.val, ft, sub)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.typeError(n, path, "a mapping")
			return
		}
		for _, p := range w.pairs(n, path) {
			sub := joinPath(path, p.key.Value)
			w.lines[sub] = p.key.Line
			w.walk(p.val, t.Elem(), sub)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.typeError(n, path, "a list")
			return
		}
		for i, c := range n.Content {
			sub := path + "[" + strconv.Itoa(i) + "]"
			w.lines[sub] = c.Line
			if isNull(deref(c)) {
				// yaml.v3 silently drops such an element.
				w.fail(sub, c.Line, "", "is empty")
				continue
			}
			w.walk(c, t.Elem(), sub)
		}
	default:
		want := scalarWant(t)
		if n.Kind == yaml.SequenceNode && pattern(path) == "model_list[].litellm_params.organization" {
			// LiteLLM's "Multiple OpenAI Organizations": one deployment
			// per organization.
			w.fail(path, n.Line, "", "a list of organizations (which LiteLLM splits into one deployment each) is not supported; write one model_list entry per organization, each with its own organization")
			return
		}
		if n.Kind != yaml.ScalarNode {
			w.typeError(n, path, want)
			return
		}
		if !w.numberFromText(n, t, path) {
			return
		}
		// yaml.v3 truncates 1.5 into an int field; a rate limit of 1.5
		// is a mistake worth reporting.
		isInt := t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64
		if err := n.Decode(reflect.New(t).Interface()); err != nil || (isInt && n.ShortTag() != "!!int") {
			w.typeError(n, path, want)
		}
	}
}

// numberFromText reads what LiteLLM reads in place of a number or a
// boolean: an os.environ/VAR reference (LiteLLM resolves every such value
// when it loads the file; "this works for ANY value on the config.yaml"),
// and max_retries given as a string ("3", which LiteLLM converts). The
// node is rewritten to the value, so the value is checked and decoded as
// if written there. Strings (keys, URLs) keep their references: each edge
// resolves those itself; loadResolved strings are resolved here too, and
// an unset one is left empty with a warning. false: an error was reported.
func (w *walker) numberFromText(n *yaml.Node, t reflect.Type, path string) bool {
	if (t.Kind() == reflect.String && !loadResolved[pattern(path)]) || n.ShortTag() != "!!str" {
		return true
	}
	if name, ok := strings.CutPrefix(n.Value, policy.EnvPrefix); ok {
		v := os.Getenv(name)
		if v == "" {
			v = w.fileEnv[name]
		}
		if v == "" && t.Kind() == reflect.String {
			// LiteLLM's get_secret reads an unset variable as None: the
			// setting is left at its default.
			w.warns = append(w.warns, &FieldError{Path: path, Line: n.Line,
				Msg: fmt.Sprintf("%s is not set, so this setting is left unset, as LiteLLM leaves it (the variable is read when the config is loaded)", n.Value)})
			n.Value, n.Tag, n.Style = "", "", 0
			w.rewrote = true
			return true
		}
		if v == "" {
			w.fail(path, n.Line, "", "%s is not set (a number or true/false given as %sVAR is read from the environment when the config is loaded)", n.Value, policy.EnvPrefix)
			return false
		}
		ref := n.Value
		n.Value, n.Tag, n.Style = strings.TrimSpace(v), "", 0
		w.rewrote = true
		if n.Decode(reflect.New(t).Interface()) != nil {
			w.fail(path, n.Line, "", "expected %s, got %s, which is %s", scalarWant(t), ref, describe(n))
			return false
		}
		return true
	}
	if pattern(path) == "model_list[].litellm_params.max_retries" {
		if _, err := strconv.Atoi(strings.TrimSpace(n.Value)); err == nil {
			n.Value, n.Tag, n.Style = strings.TrimSpace(n.Value), "", 0
			w.rewrote = true
		}
	}
	return true
}

// loadResolved are string settings checked against a fixed set of values
// when the file is loaded, so an os.environ/ reference in one is resolved
// then, as LiteLLM resolves every reference, rather than kept for each
// edge to resolve as keys and URLs are (LiteLLM's tests set user_role
// from DEFAULT_USER_ROLE).
var loadResolved = map[string]bool{
	"litellm_settings.default_internal_user_params.user_role": true,
}

// fileEnvironment reads environment_variables from the tree (strings
// only; the walk reports the rest).
func fileEnvironment(root *yaml.Node) map[string]string {
	if root.Kind != yaml.MappingNode {
		return nil
	}
	_, ev := lookup(root, "environment_variables")
	if ev == nil || deref(ev).Kind != yaml.MappingNode {
		return nil
	}
	out := map[string]string{}
	ev = deref(ev)
	for i := 0; i+1 < len(ev.Content); i += 2 {
		if k, v := deref(ev.Content[i]), deref(ev.Content[i+1]); k.Kind == yaml.ScalarNode && v.Kind == yaml.ScalarNode {
			out[k.Value] = v.Value
		}
	}
	return out
}

func scalarWant(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	}
	return "a " + t.Kind().String()
}

func (w *walker) typeError(n *yaml.Node, path, want string) {
	w.fail(path, n.Line, "", "expected %s, got %s", want, describe(n))
}

// describe names what a node is for an error message. Only scalars given
// where a number or similar was expected reach here with their text, and
// those are never secrets.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	v := n.Value
	if r := []rune(v); len(r) > 40 {
		v = string(r[:40]) + "..."
	}
	return strconv.Quote(v)
}

type pair struct{ key, val *yaml.Node }

// pairs returns a mapping's effective key/value pairs with merge keys (<<)
// applied the way yaml.v3 decodes them: explicit keys win over merged ones,
// and among merged mappings the first to define a key wins.
func (w *walker) pairs(n *yaml.Node, path string) []pair {
	var out []pair
	seen := map[string]int{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !w.spend() {
			return out
		}
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			w.fail(path, k.Line, "", "field names must be plain strings, got %s", describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			w.fail(joinPath(path, k.Value), k.Line, "", "set twice, first at line %d", first)
			w.dropKey(k)
			continue
		}
		seen[k.Value] = k.Line
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		out = append(out, pair{k, v})
	}
	for _, m := range merges {
		w.merge(&out, seen, m, path)
	}
	return out
}

func (w *walker) merge(out *[]pair, seen map[string]int, m *yaml.Node, path string) {
	line := m.Line
	m = deref(m)
	var srcs []*yaml.Node
	ok := true
	switch m.Kind {
	case yaml.MappingNode:
		srcs = []*yaml.Node{m}
	case yaml.SequenceNode:
		for _, c := range m.Content {
			c = deref(c)
			ok = ok && c.Kind == yaml.MappingNode
			srcs = append(srcs, c)
		}
	default:
		ok = false
	}
	if !ok {
		w.fail(path, line, "", "<< must merge a mapping or a list of mappings")
		return
	}
	if w.merging == nil {
		w.merging = map[*yaml.Node]bool{}
	}
	for _, s := range srcs {
		if w.merging[s] {
			w.fail(path, line, "", "<< merges a mapping into itself")
			return
		}
		w.merging[s] = true
		for _, p := range w.pairs(s, path) {
			if _, ok := seen[p.key.Value]; !ok {
				seen[p.key.Value] = p.key.Line
				*out = append(*out, p)
			}
		}
		delete(w.merging, s)
	}
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// fieldSet is what a struct type accepts, derived from its yaml tags so the
// walk can never disagree with the decoder about field names.
type fieldSet struct {
	types map[string]reflect.Type
	names []string // sorted, for hints
	// nested maps a field name of a child struct to that child's key, so a
	// field put one level too high can be pointed to its place.
	nested map[string]string
}

var fieldSets sync.Map // reflect.Type -> *fieldSet

func knownFields(t reflect.Type) *fieldSet {
	if fs, ok := fieldSets.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{types: map[string]reflect.Type{}, nested: map[string]string{}}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name) // yaml.v3's default
		}
		fs.types[name] = f.Type
		fs.names = append(fs.names, name)
	}
	sort.Strings(fs.names)
	for _, name := range fs.names {
		if ft := fs.types[name]; ft.Kind() == reflect.Struct {
			for _, sub := range knownFields(ft).names {
				if _, own := fs.types[sub]; !own {
					if _, taken := fs.nested[sub]; !taken {
						fs.nested[sub] = name
					}
				}
			}
		}
	}
	fieldSets.Store(t, fs)
	return fs
}

// sections are the top-level settings sections; a field written in the
// wrong one is pointed to the right one.
var sections = []string{"general_settings", "litellm_settings", "router_settings"}

// hintFor suggests what an unknown field name at path was meant to be: the
// section it belongs in (a child of this mapping, or a sibling section),
// or a near spelling among this mapping's fields and LiteLLM settings
// classified at this place. A spelling is suggested only when the value
// would fit it (val nil: any), so a URL is never offered a number field.
func hintFor(path string, fs *fieldSet, name string, val *yaml.Node) string {
	if parent, ok := fs.nested[name]; ok {
		return fmt.Sprintf("%q belongs under %s", name, parent)
	}
	if slices.Contains(sections, path) {
		for _, sec := range sections {
			if sec == path {
				continue
			}
			st := knownFields(fileType).types[sec]
			if _, ok := knownFields(st).types[name]; ok {
				return fmt.Sprintf("%q belongs under %s", name, sec)
			}
			if s, ok := litellmSettings[sec+"."+name]; ok && s.kind == alias {
				return fmt.Sprintf("%q belongs under %s", name, sec)
			}
		}
	}
	best, bestD := "", 3
	try := func(n string, t reflect.Type) {
		if d := editDistance(name, n); d < bestD && d <= len(n)/3 && fits(val, t) {
			best, bestD = n, d
		}
	}
	for _, n := range fs.names {
		try(n, fs.types[n])
	}
	prefix := pattern(path) + "."
	if path == "" {
		prefix = ""
	}
	for k := range litellmSettings {
		if rest, ok := strings.CutPrefix(k, prefix); ok && !strings.ContainsAny(rest, ".[") {
			try(rest, nil)
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return ""
}

// fits reports whether a value node could be decoded as t (nil t or nil
// val: yes). Only the shape is compared for mappings and lists.
func fits(val *yaml.Node, t reflect.Type) bool {
	if val == nil || t == nil {
		return true
	}
	val = deref(val)
	if isNull(val) {
		return true
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return val.Kind == yaml.MappingNode
	case reflect.Slice:
		return val.Kind == yaml.SequenceNode || (t == claimPathsType && val.Kind == yaml.ScalarNode)
	}
	if val.Kind != yaml.ScalarNode {
		return false
	}
	return val.Decode(reflect.New(t).Interface()) == nil
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
