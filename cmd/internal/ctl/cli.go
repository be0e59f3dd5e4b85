package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// DefaultURL is the control plane of `make run`.
const DefaultURL = "http://127.0.0.1:4001"

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1 // the API refused, or could not be reached
	ExitUsage = 2
)

// runCtx is what a command runs with.
type runCtx struct {
	ctx  context.Context
	c    *Client
	out  io.Writer
	errw io.Writer
	json bool
}

// command is one "group name" subcommand. setup declares its flags and
// returns the function that runs it with the positional arguments.
type command struct {
	group, name, args, summary string
	setup                      func(fs *flag.FlagSet) func(r *runCtx, args []string) error
}

// usageError is a mistake on the command line (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// Main runs gatewayctl with args (without the program name) and returns the
// exit code.
func Main(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if getenv == nil {
		getenv = os.Getenv
	}
	global := flag.NewFlagSet("gatewayctl", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	base := global.String("url", envOr(getenv, "GATEWAY_URL", DefaultURL), "control plane (or edge) URL (env GATEWAY_URL)")
	// No default from the environment here: -h would print the secret.
	key := global.String("key", "", "master key (env GATEWAY_KEY)")
	asJSON := global.Bool("json", false, "print the API's JSON instead of a table")
	timeout := global.Duration("timeout", 60*time.Second, "request timeout")
	err := global.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		writeUsage(stdout, global)
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "gatewayctl: %v\n\n", err)
		writeUsage(stderr, global)
		return ExitUsage
	}
	if *key == "" {
		*key = getenv("GATEWAY_KEY")
	}
	rest := global.Args()
	if len(rest) == 0 || rest[0] == "help" {
		if len(rest) == 0 {
			writeUsage(stderr, global)
			return ExitUsage
		}
		writeUsage(stdout, global)
		return ExitOK
	}
	cmd, argv, err := find(rest)
	if err != nil {
		fmt.Fprintf(stderr, "gatewayctl: %v\n\n", err)
		writeUsage(stderr, global)
		return ExitUsage
	}
	fs := flag.NewFlagSet("gatewayctl "+cmd.group+" "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(asJSON, "json", *asJSON, "print the API's JSON instead of a table")
	run := cmd.setup(fs)
	pos, err := parseInterleaved(fs, argv)
	if errors.Is(err, flag.ErrHelp) {
		commandUsage(stdout, cmd, fs)
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "gatewayctl: %v\n\n", err)
		commandUsage(stderr, cmd, fs)
		return ExitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	r := &runCtx{ctx: ctx, c: &Client{BaseURL: *base, Key: *key, HTTP: &http.Client{Timeout: *timeout}}, out: stdout, errw: stderr, json: *asJSON}
	err = run(r, pos)
	var ue usageError
	var ae *APIError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "gatewayctl: %v\n\n", err)
		commandUsage(stderr, cmd, fs)
		return ExitUsage
	case errors.As(err, &ae):
		fmt.Fprintf(stderr, "gatewayctl: %s %s: %v\n", cmd.group, cmd.name, ae)
		if ae.Status == http.StatusUnauthorized && *key == "" {
			fmt.Fprintln(stderr, "gatewayctl: no key given: set GATEWAY_KEY or pass --key")
		}
		return ExitError
	}
	fmt.Fprintf(stderr, "gatewayctl: %s %s: %v\n", cmd.group, cmd.name, err)
	return ExitError
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// find picks the command from "group name ...", accepting singular group
// names (key, team, user, model).
func find(args []string) (*command, []string, error) {
	group := args[0]
	switch group {
	case "key", "team", "user", "model":
		group += "s"
	}
	var single *command
	for i := range commands {
		c := &commands[i]
		if c.group != group {
			continue
		}
		if c.name == "" {
			single = c
			continue
		}
		if len(args) > 1 && c.name == args[1] {
			return c, args[2:], nil
		}
	}
	if single != nil {
		return single, args[1:], nil
	}
	for _, c := range commands {
		if c.group == group {
			if len(args) < 2 {
				return nil, nil, fmt.Errorf("%s: which command? (%s)", group, strings.Join(names(group), ", "))
			}
			return nil, nil, fmt.Errorf("%s: unknown command %q (%s)", group, args[1], strings.Join(names(group), ", "))
		}
	}
	return nil, nil, fmt.Errorf("unknown command %q", args[0])
}

func names(group string) []string {
	var out []string
	for _, c := range commands {
		if c.group == group {
			out = append(out, c.name)
		}
	}
	return out
}

// parseInterleaved lets flags follow positional arguments ("keys info
// sk-... --json"), which the flag package alone stops at.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func writeUsage(w io.Writer, global *flag.FlagSet) {
	fmt.Fprint(w, `gatewayctl: manage a gatehouse gateway (keys, teams, users, models, spend) over its admin API.

usage: gatewayctl [global flags] <command> [flags] [args]

commands:
`)
	for _, c := range commands {
		name := strings.TrimSpace(c.group + " " + c.name + " " + c.args)
		fmt.Fprintf(w, "  %-44s %s\n", name, c.summary)
	}
	fmt.Fprint(w, "\nglobal flags:\n")
	global.SetOutput(w)
	global.PrintDefaults()
	global.SetOutput(io.Discard)
	fmt.Fprint(w, `
Output is a table; --json prints the API's answer as is. Errors print the
API's message and exit 1; usage mistakes exit 2. "gatewayctl <command> -h"
lists a command's flags.
`)
}

func commandUsage(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: gatewayctl %s [flags]\n\n%s\n\nflags:\n", strings.TrimSpace(c.group+" "+c.name+" "+c.args), c.summary)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// view says how to print an answer: a table of the array at list (""
// means the answer itself) with cols, or, without cols, the object at
// object as FIELD VALUE lines.
type view struct {
	list   string
	cols   []column
	object string
}

func (r *runCtx) call(method, path string, q url.Values, body any, v view) error {
	resp, err := r.c.Do(r.ctx, method, path, q, body)
	if err != nil {
		return err
	}
	if p := resp.Header.Get("X-Gatehouse-Propagation"); strings.HasPrefix(p, "partial") {
		fmt.Fprintf(r.errw, "gatewayctl: warning: not every edge confirmed the change in time (%s)\n", p)
	}
	if r.json {
		return printJSON(r.out, resp.Body)
	}
	val, err := decode(resp.Body)
	if err != nil {
		return err
	}
	if v.cols != nil {
		rows := val
		if v.list != "" {
			rows = lookup(val, v.list)
		}
		arr, ok := rows.([]any)
		if !ok && rows != nil {
			return printJSON(r.out, resp.Body)
		}
		return printTable(r.out, arr, v.cols)
	}
	obj := val
	if v.object != "" {
		obj = lookup(val, v.object)
	}
	if a, ok := obj.([]any); ok && len(a) == 1 {
		obj = a[0]
	}
	m, ok := obj.(map[string]any)
	if !ok {
		return printJSON(r.out, resp.Body)
	}
	return printObject(r.out, m)
}

// fields collects optional JSON body fields from flags: only flags that
// were given are sent, so an update never resets what it did not name.
type fields struct {
	set []func(m map[string]any) error
}

func (f *fields) str(fs *flag.FlagSet, name, field, usage string) {
	var v optString
	fs.Var(&v, name, usage)
	f.set = append(f.set, func(m map[string]any) error {
		if v.set {
			m[field] = v.v
		}
		return nil
	})
}

func (f *fields) list(fs *flag.FlagSet, name, field, usage string) {
	var v optString
	fs.Var(&v, name, usage+" (comma-separated)")
	f.set = append(f.set, func(m map[string]any) error {
		if v.set {
			m[field] = splitList(v.v)
		}
		return nil
	})
}

func (f *fields) num(fs *flag.FlagSet, name, field, usage string) {
	var v optString
	fs.Var(&v, name, usage)
	f.set = append(f.set, func(m map[string]any) error {
		if !v.set {
			return nil
		}
		n, err := strconv.ParseFloat(v.v, 64)
		if err != nil {
			return usagef("--%s: %q is not a number", name, v.v)
		}
		m[field] = n
		return nil
	})
}

func (f *fields) int(fs *flag.FlagSet, name, field, usage string) {
	var v optString
	fs.Var(&v, name, usage)
	f.set = append(f.set, func(m map[string]any) error {
		if !v.set {
			return nil
		}
		n, err := strconv.ParseInt(v.v, 10, 64)
		if err != nil {
			return usagef("--%s: %q is not an integer", name, v.v)
		}
		m[field] = n
		return nil
	})
}

func (f *fields) boolean(fs *flag.FlagSet, name, field, usage string) {
	var v optString
	fs.Var(&v, name, usage+" (true/false)")
	f.set = append(f.set, func(m map[string]any) error {
		if !v.set {
			return nil
		}
		b, err := strconv.ParseBool(v.v)
		if err != nil {
			return usagef("--%s: %q is not true or false", name, v.v)
		}
		m[field] = b
		return nil
	})
}

func (f *fields) object(fs *flag.FlagSet, name, field, usage string) {
	var v optString
	fs.Var(&v, name, usage+" (a JSON object)")
	f.set = append(f.set, func(m map[string]any) error {
		if !v.set {
			return nil
		}
		var o map[string]any
		if err := json.Unmarshal([]byte(v.v), &o); err != nil {
			return usagef("--%s: not a JSON object: %v", name, err)
		}
		m[field] = o
		return nil
	})
}

func (f *fields) body(m map[string]any) (map[string]any, error) {
	if m == nil {
		m = map[string]any{}
	}
	for _, s := range f.set {
		if err := s(m); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// optString is a string flag that knows whether it was given.
type optString struct {
	v   string
	set bool
}

func (o *optString) String() string     { return o.v }
func (o *optString) Set(s string) error { o.v, o.set = s, true; return nil }

func splitList(s string) []string {
	out := []string{}
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func exactly(args []string, n int, what string) error {
	if len(args) != n {
		return usagef("want %s, got %d argument(s)", what, len(args))
	}
	return nil
}

// keyFields are the flags of /key/generate and /key/update.
func keyFields(fs *flag.FlagSet) *fields {
	f := &fields{}
	f.str(fs, "alias", "key_alias", "key alias")
	f.list(fs, "models", "models", "models, access groups or wildcards the key may call")
	f.str(fs, "team-id", "team_id", "team the key belongs to")
	f.str(fs, "user-id", "user_id", "user the key belongs to")
	f.str(fs, "org-id", "organization_id", "organization")
	f.str(fs, "duration", "duration", "lifetime, e.g. 30d, 12h")
	f.num(fs, "max-budget", "max_budget", "budget in USD")
	f.str(fs, "budget-duration", "budget_duration", "budget window, e.g. 30d")
	f.int(fs, "rpm", "rpm_limit", "requests per minute")
	f.int(fs, "tpm", "tpm_limit", "tokens per minute")
	f.int(fs, "max-parallel", "max_parallel_requests", "concurrent requests")
	f.object(fs, "metadata", "metadata", "metadata")
	return f
}

func teamFields(fs *flag.FlagSet) *fields {
	f := &fields{}
	f.str(fs, "alias", "team_alias", "team alias")
	f.list(fs, "models", "models", "models, access groups or wildcards the team may call")
	f.str(fs, "org-id", "organization_id", "organization")
	f.num(fs, "max-budget", "max_budget", "budget in USD")
	f.str(fs, "budget-duration", "budget_duration", "budget window, e.g. 30d")
	f.int(fs, "rpm", "rpm_limit", "requests per minute")
	f.int(fs, "tpm", "tpm_limit", "tokens per minute")
	f.object(fs, "metadata", "metadata", "metadata")
	return f
}

var (
	teamCols  = cols("TEAM_ID", "team_id", "ALIAS", "team_alias", "ORG", "organization_id", "MODELS", "models", "MEMBERS", "#members_with_roles", "BLOCKED", "blocked", "MAX_BUDGET", "max_budget", "RPM", "rpm_limit", "TPM", "tpm_limit")
	userCols  = cols("USER_ID", "user_id", "EMAIL", "user_email", "ROLE", "user_role", "TEAMS", "teams", "MODELS", "models", "MAX_BUDGET", "max_budget")
	modelCols = cols("ID", "id", "MODEL_NAME", "model_name", "MODEL", "litellm_params.model", "API_BASE", "litellm_params.api_base", "ACCESS_GROUPS", "model_info.access_groups", "SOURCE", "source")
	keyCols   = cols("TOKEN", "token", "ALIAS", "key_alias", "TEAM", "team_id", "USER", "user_id", "MODELS", "models", "BLOCKED", "blocked", "EXPIRES", "expires")
	spendCols = cols("TIME", "time", "REQUEST_ID", "request_id", "CLIENT_REQUEST_ID", "client_request_id", "KEY_ALIAS", "key_alias", "TEAM", "team_id", "USER", "user_id", "MODEL", "model_group", "TOKENS", "total_tokens", "COST", "cost", "STATUS", "status", "OUTCOME", "outcome")
	edgeCols  = cols("EDGE_ID", "edge_id", "REGION", "region", "SEQ", "seq", "READY", "ready", "LIVE", "live", "STALLED", "stalled", "LAST_SEEN", "last_seen")
)

var commands = []command{
	{"keys", "generate", "", "create a virtual key (its plaintext is shown once)", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		f := keyFields(fs)
		custom := fs.String("key", "", "custom plaintext key (sk-...); default generated")
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 0, "no arguments"); err != nil {
				return err
			}
			body, err := f.body(nil)
			if err != nil {
				return err
			}
			if *custom != "" {
				body["key"] = *custom
			}
			return r.call("POST", "/key/generate", nil, body, view{})
		}
	}},
	{"keys", "list", "", "list keys (tokens, i.e. sha256 of the keys), optionally of a team or user", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		team := fs.String("team-id", "", "only this team's keys")
		user := fs.String("user-id", "", "only this user's keys")
		return func(r *runCtx, args []string) error {
			q := url.Values{}
			if *team != "" {
				q.Set("team_id", *team)
			}
			if *user != "" {
				q.Set("user_id", *user)
			}
			return r.call("GET", "/key/list", q, nil, view{list: "keys", cols: cols("TOKEN", "")})
		}
	}},
	{"keys", "info", "KEY", "show a key (plaintext or token)", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "KEY"); err != nil {
				return err
			}
			return r.call("GET", "/key/info", url.Values{"key": {args[0]}}, nil, view{object: "info"})
		}
	}},
	{"keys", "update", "KEY", "change a key's settings (only the flags given)", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		f := keyFields(fs)
		f.boolean(fs, "blocked", "blocked", "blocked")
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "KEY"); err != nil {
				return err
			}
			body, err := f.body(map[string]any{"key": args[0]})
			if err != nil {
				return err
			}
			return r.call("POST", "/key/update", nil, body, view{})
		}
	}},
	{"keys", "block", "KEY", "block a key at every edge", keyAction("/key/block")},
	{"keys", "unblock", "KEY", "unblock a key", keyAction("/key/unblock")},
	{"keys", "regenerate", "KEY", "replace a key by a new one (old one stops working)", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		newKey := fs.String("new-key", "", "custom replacement key; default generated")
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "KEY"); err != nil {
				return err
			}
			body := map[string]any{"key": args[0]}
			if *newKey != "" {
				body["new_key"] = *newKey
			}
			return r.call("POST", "/key/regenerate", nil, body, view{})
		}
	}},
	{"keys", "delete", "KEY...", "delete keys", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		var aliases optString
		fs.Var(&aliases, "alias", "delete by key alias instead (comma-separated)")
		return func(r *runCtx, args []string) error {
			if len(args) == 0 && !aliases.set {
				return usagef("want KEY... or --alias")
			}
			body := map[string]any{}
			if len(args) > 0 {
				body["keys"] = args
			}
			if aliases.set {
				body["key_aliases"] = splitList(aliases.v)
			}
			return r.call("POST", "/key/delete", nil, body, view{})
		}
	}},

	{"teams", "new", "", "create a team", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		f := teamFields(fs)
		f.str(fs, "team-id", "team_id", "team id; default generated")
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 0, "no arguments"); err != nil {
				return err
			}
			body, err := f.body(nil)
			if err != nil {
				return err
			}
			return r.call("POST", "/team/new", nil, body, view{})
		}
	}},
	{"teams", "list", "", "list teams", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			return r.call("GET", "/team/list", nil, nil, view{cols: teamCols})
		}
	}},
	{"teams", "info", "TEAM_ID", "show a team and its spend", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "TEAM_ID"); err != nil {
				return err
			}
			return r.call("GET", "/team/info", url.Values{"team_id": {args[0]}}, nil, view{object: "team_info"})
		}
	}},
	{"teams", "update", "TEAM_ID", "change a team's settings (only the flags given)", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		f := teamFields(fs)
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "TEAM_ID"); err != nil {
				return err
			}
			body, err := f.body(map[string]any{"team_id": args[0]})
			if err != nil {
				return err
			}
			return r.call("POST", "/team/update", nil, body, view{})
		}
	}},
	{"teams", "delete", "TEAM_ID...", "delete teams and their keys", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			if len(args) == 0 {
				return usagef("want TEAM_ID...")
			}
			return r.call("POST", "/team/delete", nil, map[string]any{"team_ids": args}, view{})
		}
	}},
	{"teams", "member-add", "TEAM_ID", "add (or change the role of) a member", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		user := fs.String("user-id", "", "member's user id")
		email := fs.String("user-email", "", "member's email")
		role := fs.String("role", "user", "admin or user")
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "TEAM_ID"); err != nil {
				return err
			}
			if *user == "" && *email == "" {
				return usagef("want --user-id or --user-email")
			}
			m := map[string]any{"role": *role}
			if *user != "" {
				m["user_id"] = *user
			}
			if *email != "" {
				m["user_email"] = *email
			}
			return r.call("POST", "/team/member_add", nil, map[string]any{"team_id": args[0], "member": m}, view{})
		}
	}},
	{"teams", "member-delete", "TEAM_ID", "remove a member", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		user := fs.String("user-id", "", "member's user id")
		email := fs.String("user-email", "", "member's email")
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "TEAM_ID"); err != nil {
				return err
			}
			if *user == "" && *email == "" {
				return usagef("want --user-id or --user-email")
			}
			body := map[string]any{"team_id": args[0]}
			if *user != "" {
				body["user_id"] = *user
			}
			if *email != "" {
				body["user_email"] = *email
			}
			return r.call("POST", "/team/member_delete", nil, body, view{})
		}
	}},
	{"teams", "block", "TEAM_ID", "block a team (all its keys) at every edge", teamAction("/team/block")},
	{"teams", "unblock", "TEAM_ID", "unblock a team", teamAction("/team/unblock")},

	{"users", "new", "", "create a user", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		f := &fields{}
		f.str(fs, "user-id", "user_id", "user id; default generated")
		f.str(fs, "email", "user_email", "email")
		f.str(fs, "alias", "user_alias", "alias")
		f.str(fs, "role", "user_role", "role, e.g. internal_user, proxy_admin")
		f.list(fs, "teams", "teams", "teams to join")
		f.list(fs, "models", "models", "models the user may call")
		f.num(fs, "max-budget", "max_budget", "budget in USD")
		f.str(fs, "budget-duration", "budget_duration", "budget window, e.g. 30d")
		f.boolean(fs, "auto-create-key", "auto_create_key", "also create a key for the user")
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 0, "no arguments"); err != nil {
				return err
			}
			body, err := f.body(nil)
			if err != nil {
				return err
			}
			return r.call("POST", "/user/new", nil, body, view{})
		}
	}},
	{"users", "list", "", "list users", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			return r.call("GET", "/user/list", nil, nil, view{list: "users", cols: userCols})
		}
	}},
	{"users", "info", "USER_ID", "show a user and its spend", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "USER_ID"); err != nil {
				return err
			}
			return r.call("GET", "/user/info", url.Values{"user_id": {args[0]}}, nil, view{object: "user_info"})
		}
	}},
	{"users", "delete", "USER_ID...", "delete users and their keys", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			if len(args) == 0 {
				return usagef("want USER_ID...")
			}
			return r.call("POST", "/user/delete", nil, map[string]any{"user_ids": args}, view{})
		}
	}},

	{"models", "new", "MODEL_NAME", "add a deployment (--model provider/name)", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		model := fs.String("model", "", "upstream model, provider/name (required)")
		p := &fields{}
		p.str(fs, "api-base", "api_base", "upstream base URL")
		p.str(fs, "api-key", "api_key", "upstream key; prefer os.environ/VAR so the secret stays on the edges")
		p.str(fs, "aws-region-name", "aws_region_name", "bedrock/: AWS region")
		p.str(fs, "aws-access-key-id", "aws_access_key_id", "bedrock/: access key id (else the edges' AWS credential chain)")
		p.str(fs, "aws-secret-access-key", "aws_secret_access_key", "bedrock/: secret key; prefer os.environ/VAR")
		p.str(fs, "aws-role-name", "aws_role_name", "bedrock/: role ARN to assume through STS")
		p.str(fs, "aws-bedrock-runtime-endpoint", "aws_bedrock_runtime_endpoint", "bedrock/: runtime endpoint URL (PrivateLink)")
		p.str(fs, "vertex-project", "vertex_project", "vertex_ai/: Google Cloud project")
		p.str(fs, "vertex-location", "vertex_location", "vertex_ai/: region (default us-central1)")
		p.str(fs, "vertex-credentials", "vertex_credentials", "vertex_ai/: service-account JSON file path or os.environ/VAR (else ADC)")
		p.num(fs, "input-cost", "input_cost_per_token", "USD per prompt token")
		p.num(fs, "output-cost", "output_cost_per_token", "USD per completion token")
		p.num(fs, "timeout", "timeout", "upstream timeout in seconds")
		p.int(fs, "rpm", "rpm", "deployment requests per minute")
		p.int(fs, "tpm", "tpm", "deployment tokens per minute")
		info := &fields{}
		info.str(fs, "id", "id", "deployment id; default generated")
		info.list(fs, "access-groups", "access_groups", "access groups")
		info.str(fs, "description", "description", "description")
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "MODEL_NAME"); err != nil {
				return err
			}
			if *model == "" {
				return usagef("--model is required")
			}
			params, err := p.body(map[string]any{"model": *model})
			if err != nil {
				return err
			}
			mi, err := info.body(nil)
			if err != nil {
				return err
			}
			return r.call("POST", "/model/new", nil, map[string]any{"model_name": args[0], "litellm_params": params, "model_info": mi}, view{})
		}
	}},
	{"models", "list", "", "list deployments", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			return r.call("GET", "/model/info", nil, nil, view{list: "data", cols: modelCols})
		}
	}},
	{"models", "info", "ID", "show a deployment", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "ID"); err != nil {
				return err
			}
			return r.call("GET", "/model/info", url.Values{"litellm_model_id": {args[0]}}, nil, view{object: "data"})
		}
	}},
	{"models", "delete", "ID", "delete a deployment", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "ID"); err != nil {
				return err
			}
			return r.call("POST", "/model/delete", nil, map[string]any{"id": args[0]}, view{})
		}
	}},

	{"spend", "logs", "", "recent requests, newest first (needs ClickHouse)", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		start := fs.String("start", "", "first day, YYYY-MM-DD (UTC)")
		end := fs.String("end", "", "last day, YYYY-MM-DD (included)")
		key := fs.String("key", "", "only this key (plaintext or token)")
		team := fs.String("team-id", "", "only this team")
		user := fs.String("user-id", "", "only this user")
		limit := fs.Int("limit", 100, "rows, at most 10000")
		return func(r *runCtx, args []string) error {
			q := url.Values{"limit": {strconv.Itoa(*limit)}}
			for name, v := range map[string]string{"start_date": *start, "end_date": *end, "api_key": *key, "team_id": *team, "user_id": *user} {
				if v != "" {
					q.Set(name, v)
				}
			}
			return r.call("GET", "/spend/logs", q, nil, view{cols: spendCols})
		}
	}},
	{"spend", "report", "", "spend per day and group (needs ClickHouse)", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		start := fs.String("start", "", "first day, YYYY-MM-DD (default: 30 days before --end)")
		end := fs.String("end", "", "last day, YYYY-MM-DD (default: today)")
		group := fs.String("group-by", "team", "team, key, user, model or org (per month)")
		return func(r *runCtx, args []string) error {
			q := url.Values{"group_by": {*group}}
			if *start != "" {
				q.Set("start_date", *start)
			}
			if *end != "" {
				q.Set("end_date", *end)
			}
			return r.call("GET", "/global/spend/report", q, nil, view{list: "data",
				cols: cols("DATE", "date", strings.ToUpper(*group), "group", "NAME", "name", "SPEND", "spend", "REQUESTS", "requests", "TOKENS", "total_tokens", "ERRORS", "errors")})
		}
	}},

	{"jwt", "get", "", "show the JWT auth settings", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			return r.call("GET", "/jwt/settings", nil, nil, view{})
		}
	}},
	{"jwt", "set", "-f FILE", "replace the JWT auth settings (JSON or YAML file; - for stdin)", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		file := fs.String("f", "", "settings file (JSON or YAML), - for stdin")
		return func(r *runCtx, args []string) error {
			if *file == "" {
				return usagef("-f FILE is required")
			}
			body, err := readSettings(*file)
			if err != nil {
				return err
			}
			return r.call("POST", "/jwt/settings", nil, body, view{})
		}
	}},

	{"state", "", "", "the control plane's policy snapshot (counts; --json for all of it)", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			if r.json {
				return r.call("GET", "/gatehouse/state", nil, nil, view{})
			}
			resp, err := r.c.Do(r.ctx, "GET", "/gatehouse/state", nil, nil)
			if err != nil {
				return err
			}
			val, err := decode(resp.Body)
			if err != nil {
				return err
			}
			m, _ := val.(map[string]any)
			summary := map[string]any{}
			for k, v := range m {
				if a, ok := v.([]any); ok {
					summary[k] = strconv.Itoa(len(a))
				} else {
					summary[k] = v
				}
			}
			return printObject(r.out, summary)
		}
	}},
	{"edges", "", "", "edges and how far each has applied the policy stream", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			return r.call("GET", "/gatehouse/edges", nil, nil, view{list: "edges", cols: edgeCols})
		}
	}},
}

func keyAction(path string) func(fs *flag.FlagSet) func(*runCtx, []string) error {
	return func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "KEY"); err != nil {
				return err
			}
			return r.call("POST", path, nil, map[string]any{"key": args[0]}, view{})
		}
	}
}

func teamAction(path string) func(fs *flag.FlagSet) func(*runCtx, []string) error {
	return func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "TEAM_ID"); err != nil {
				return err
			}
			return r.call("POST", path, nil, map[string]any{"team_id": args[0]}, view{})
		}
	}
}

// readSettings reads a JSON or YAML settings file as a JSON object.
func readSettings(path string) (map[string]any, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(os.Stdin)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if json.Unmarshal(b, &m) == nil {
		return m, nil
	}
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: neither JSON nor YAML: %w", path, err)
	}
	if m == nil {
		return nil, fmt.Errorf("%s: empty", path)
	}
	return m, nil
}

// Commands lists "group name" of every command, for docs and tests.
func Commands() []string {
	out := make([]string, 0, len(commands))
	for _, c := range commands {
		out = append(out, strings.TrimSpace(c.group+" "+c.name))
	}
	sort.Strings(out)
	return out
}
