package ctl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// column is a table column: a title and a dotted path into each row
// ("model_info.id"); a "#" prefix shows the length of an array.
type column struct{ title, path string }

func cols(spec ...string) []column {
	out := make([]column, 0, len(spec)/2)
	for i := 0; i+1 < len(spec); i += 2 {
		out = append(out, column{spec[i], spec[i+1]})
	}
	return out
}

// lookup follows a dotted path through decoded JSON.
func lookup(v any, path string) any {
	if path == "" {
		return v
	}
	for _, p := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// cell renders one value: scalars as text, lists of scalars
// comma-separated, anything else as compact JSON.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			switch e.(type) {
			case map[string]any, []any:
				return compact(x)
			}
			parts = append(parts, cell(e))
		}
		return strings.Join(parts, ",")
	}
	return compact(v)
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// printTable writes rows as an aligned table with a header.
func printTable(w io.Writer, rows []any, columns []column) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	titles := make([]string, len(columns))
	for i, c := range columns {
		titles[i] = c.title
	}
	fmt.Fprintln(tw, strings.Join(titles, "\t"))
	for _, r := range rows {
		cells := make([]string, len(columns))
		for i, c := range columns {
			if p, ok := strings.CutPrefix(c.path, "#"); ok {
				a, _ := lookup(r, p).([]any)
				cells[i] = strconv.Itoa(len(a))
				continue
			}
			cells[i] = oneLine(cell(lookup(r, c.path)))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// printObject writes an object as FIELD VALUE lines, fields sorted.
func printObject(w io.Writer, obj map[string]any) error {
	keys := slices.Sorted(maps.Keys(obj))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIELD\tVALUE")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\n", k, oneLine(cell(obj[k])))
	}
	return tw.Flush()
}

// oneLine keeps a table a table: tabs and newlines inside values would
// break the alignment.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\t\n\r") {
		return s
	}
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}

// decode parses an answer keeping numbers exact (ids, sequences, costs).
func decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the answer is not JSON: %w", err)
	}
	return v, nil
}

// printJSON writes the raw answer indented.
func printJSON(w io.Writer, b []byte) error {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		_, err = w.Write(b)
		return err
	}
	out.WriteByte('\n')
	_, err := w.Write(out.Bytes())
	return err
}
