package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/control/config"
)

// runCheck is `gatehouse check -config FILE`: the config as `run` and
// `control` would load it, with no ports and no NATS. Every warning and
// error is printed as FILE:LINE: severity: path: message, like a
// compiler, so an editor or CI log links to the line.
func runCheck(args []string, stdout io.Writer) (ok bool, err error) {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	cfgPath := fs.String("config", os.Getenv("CONFIG"), "config.yaml to check (LiteLLM format) (env CONFIG)")
	strict := fs.Bool("strict", false, "treat warnings as errors (for CI)")
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	if *cfgPath == "" && fs.NArg() == 1 {
		*cfgPath = fs.Arg(0)
	}
	if *cfgPath == "" {
		return false, errors.New("check: -config FILE is required")
	}
	data, err := os.ReadFile(*cfgPath)
	if err != nil {
		return false, fmt.Errorf("check: %w", err)
	}
	f, warnings, err := config.Check(data)
	if err == nil {
		err = f.Preflight(nil)
		if w := f.MasterKeyWarning(nil); w != nil {
			warnings = append(warnings, w)
		}
		// What `gatehouse run` logs at start about this environment.
		warnings = append(warnings, f.EnvWarnings(nil)...)
		sort.SliceStable(warnings, func(i, j int) bool { return warnings[i].Line < warnings[j].Line })
	}
	problems := config.Problems(err)
	sev := "warning"
	if *strict {
		sev = "error"
	}
	for _, w := range warnings {
		fmt.Fprintln(stdout, located(*cfgPath, w, sev))
	}
	for _, p := range problems {
		fmt.Fprintln(stdout, located(*cfgPath, p, "error"))
	}
	// Counted as printed: under -strict, warnings are errors.
	nerr, nwarn := len(problems), len(warnings)
	if *strict {
		nerr, nwarn = nerr+nwarn, 0
	}
	switch {
	case nerr > 0:
		fmt.Fprintf(stdout, "%s: %d error(s), %d warning(s): gatehouse would not start\n", *cfgPath, nerr, nwarn)
		return false, nil
	default:
		fmt.Fprintf(stdout, "%s: ok, %d warning(s)\n", *cfgPath, len(warnings))
		return true, nil
	}
}

// located renders one problem; field errors carry their line.
func located(file string, e error, sev string) string {
	var fe *config.FieldError
	if errors.As(e, &fe) {
		msg := *fe
		line := msg.Line
		msg.Line = 0
		text := strings.TrimPrefix(msg.Error(), "config: ")
		if line > 0 {
			return fmt.Sprintf("%s:%d: %s: %s", file, line, sev, text)
		}
		return fmt.Sprintf("%s: %s: %s", file, sev, text)
	}
	return fmt.Sprintf("%s: %s: %s", file, sev, strings.TrimPrefix(e.Error(), "config: "))
}
