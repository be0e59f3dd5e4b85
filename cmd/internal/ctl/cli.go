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
	case "key", "team", "user", "model", "org", "customer":
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

// show prints the answer with render, or as call does under --json: for
// the commands whose answer no view describes.
func (r *runCtx) show(method, path string, q url.Values, body any, render func(val any) error) error {
	if r.json {
		return r.call(method, path, q, body, view{})
	}
	resp, err := r.c.Do(r.ctx, method, path, q, body)
	if err != nil {
		return err
	}
	val, err := decode(resp.Body)
	if err != nil {
		return err
	}
	return render(val)
}

// fields collects optional JSON body fields from flags: only flags that
// were given are sent, so an update never resets what it did not name.
type fields struct {
	set []func(m map[string]any) error
}

// add declares flag name for body field field; parse turns the flag's
// text into the JSON value (an error is a usage error).
func (f *fields) add(fs *flag.FlagSet, name, field, usage string, parse func(string) (any, error)) {
	var v optString
	fs.Var(&v, name, usage)
	f.set = append(f.set, func(m map[string]any) error {
		if !v.set {
			return nil
		}
		val, err := parse(v.v)
		if err != nil {
			return usagef("--%s: %q %v", name, v.v, err)
		}
		m[field] = val
		return nil
	})
}

func (f *fields) str(fs *flag.FlagSet, name, field, usage string) {
	f.add(fs, name, field, usage, func(s string) (any, error) { return s, nil })
}

func (f *fields) list(fs *flag.FlagSet, name, field, usage string) {
	f.add(fs, name, field, usage+" (comma-separated)", func(s string) (any, error) { return splitList(s), nil })
}

func (f *fields) num(fs *flag.FlagSet, name, field, usage string) {
	f.add(fs, name, field, usage, func(s string) (any, error) {
		n, err := strconv.ParseFloat(s, 64)
		return n, notA(err, "a number")
	})
}

func (f *fields) int(fs *flag.FlagSet, name, field, usage string) {
	f.add(fs, name, field, usage, func(s string) (any, error) {
		n, err := strconv.ParseInt(s, 10, 64)
		return n, notA(err, "an integer")
	})
}

func (f *fields) boolean(fs *flag.FlagSet, name, field, usage string) {
	f.add(fs, name, field, usage+" (true/false)", func(s string) (any, error) {
		b, err := strconv.ParseBool(s)
		return b, notA(err, "true or false")
	})
}

func (f *fields) object(fs *flag.FlagSet, name, field, usage string) {
	f.add(fs, name, field, usage+" (a JSON object)", func(s string) (any, error) {
		var o map[string]any
		if err := json.Unmarshal([]byte(s), &o); err != nil {
			return nil, fmt.Errorf("is not a JSON object: %v", err)
		}
		return o, nil
	})
}

// notA words a parse error as the usage messages always have.
func notA(err error, what string) error {
	if err != nil {
		return errors.New("is not " + what)
	}
	return nil
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
	f.limits(fs)
	f.int(fs, "max-parallel", "max_parallel_requests", "concurrent requests")
	f.list(fs, "allowed-routes", "allowed_routes", "routes or route groups the key may call (e.g. openai_routes,info_routes)")
	f.object(fs, "metadata", "metadata", "metadata")
	return f
}

// budget declares the budget flags keys, teams and users share; limits
// adds the rate limits keys and teams share.
func (f *fields) budget(fs *flag.FlagSet) {
	f.num(fs, "max-budget", "max_budget", "budget in USD")
	f.str(fs, "budget-duration", "budget_duration", "budget window, e.g. 30d")
}

func (f *fields) limits(fs *flag.FlagSet) {
	f.budget(fs)
	f.int(fs, "rpm", "rpm_limit", "requests per minute")
	f.int(fs, "tpm", "tpm_limit", "tokens per minute")
}

func teamFields(fs *flag.FlagSet) *fields {
	f := &fields{}
	f.str(fs, "alias", "team_alias", "team alias")
	f.list(fs, "models", "models", "models, access groups or wildcards the team may call")
	f.str(fs, "org-id", "organization_id", "organization")
	f.limits(fs)
	f.object(fs, "metadata", "metadata", "metadata")
	return f
}

var (
	teamCols    = cols("TEAM_ID", "team_id", "ALIAS", "team_alias", "ORG", "organization_id", "MODELS", "models", "MEMBERS", "#members_with_roles", "BLOCKED", "blocked", "MAX_BUDGET", "max_budget", "RPM", "rpm_limit", "TPM", "tpm_limit")
	userCols    = cols("USER_ID", "user_id", "EMAIL", "user_email", "ROLE", "user_role", "TEAMS", "teams", "MODELS", "models", "MAX_BUDGET", "max_budget")
	modelCols   = cols("ID", "id", "MODEL_NAME", "model_name", "MODEL", "litellm_params.model", "API_BASE", "litellm_params.api_base", "ACCESS_GROUPS", "model_info.access_groups", "SOURCE", "source")
	keyListCols = cols("TOKEN", "token", "ALIAS", "key_alias", "TEAM", "team_id", "USER", "user_id", "MODELS", "models", "SPEND", "spend", "MAX_BUDGET", "max_budget", "BLOCKED", "blocked")
	keyCols     = cols("TOKEN", "token", "ALIAS", "key_alias", "TEAM", "team_id", "USER", "user_id", "MODELS", "models", "BLOCKED", "blocked", "EXPIRES", "expires")
	spendCols   = cols("TIME", "startTime", "REQUEST_ID", "request_id", "CLIENT_REQUEST_ID", "metadata.client_request_id", "KEY_ALIAS", "metadata.user_api_key_alias", "TEAM", "team_id", "USER", "user", "MODEL", "model_group", "TOKENS", "total_tokens", "COST", "spend", "STATUS", "metadata.status_code", "OUTCOME", "metadata.outcome")
	edgeCols    = cols("EDGE_ID", "edge_id", "REGION", "region", "SEQ", "seq", "READY", "ready", "LIVE", "live", "STALLED", "stalled", "LAST_SEEN", "last_seen")
)

var poisonCols = cols("ID", "id", "TIME", "time", "CONSUMER", "consumer", "STREAM", "stream", "SEQ", "seq", "REQUEST_ID", "request_id", "REASON", "reason")

var commands = []command{
	api("keys", "generate", "", "create a virtual key (its plaintext is shown once)", op{method: "POST", path: "/key/generate",
		fields: func(fs *flag.FlagSet) *fields {
			f := keyFields(fs)
			f.str(fs, "key", "key", "custom plaintext key (sk-...); default generated")
			return f
		}}),
	{"keys", "list", "", "list keys (token, i.e. sha256 of the key, alias, team, models, spend), optionally of a team or user", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		team := fs.String("team-id", "", "only this team's keys")
		user := fs.String("user-id", "", "only this user's keys")
		return func(r *runCtx, args []string) error {
			q := url.Values{"return_full_object": {"true"}}
			if *team != "" {
				q.Set("team_id", *team)
			}
			if *user != "" {
				q.Set("user_id", *user)
			}
			return r.call("GET", "/key/list", q, nil, view{list: "keys", cols: keyListCols})
		}
	}},
	api("keys", "info", "KEY", "show a key (plaintext or token)", op{method: "GET", path: "/key/info", param: "key", view: view{object: "info"}}),
	api("keys", "update", "KEY", "change a key's settings (only the flags given)", op{method: "POST", path: "/key/update", field: "key",
		fields: func(fs *flag.FlagSet) *fields {
			f := keyFields(fs)
			f.boolean(fs, "blocked", "blocked", "blocked")
			return f
		}}),
	api("keys", "block", "KEY", "block a key at every edge", op{method: "POST", path: "/key/block", field: "key"}),
	api("keys", "unblock", "KEY", "unblock a key", op{method: "POST", path: "/key/unblock", field: "key"}),
	api("keys", "regenerate", "KEY", "replace a key by a new one (old one stops working)", op{method: "POST", path: "/key/regenerate", field: "key",
		fields: func(fs *flag.FlagSet) *fields {
			f := &fields{}
			f.str(fs, "new-key", "new_key", "custom replacement key; default generated")
			return f
		}}),
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

	api("teams", "new", "", "create a team", op{method: "POST", path: "/team/new",
		fields: func(fs *flag.FlagSet) *fields {
			f := teamFields(fs)
			f.str(fs, "team-id", "team_id", "team id; default generated")
			return f
		}}),
	api("teams", "list", "", "list teams", op{method: "GET", path: "/team/list", view: view{cols: teamCols}}),
	api("teams", "info", "TEAM_ID", "show a team and its spend", op{method: "GET", path: "/team/info", param: "team_id", view: view{object: "team_info"}}),
	api("teams", "update", "TEAM_ID", "change a team's settings (only the flags given)", op{method: "POST", path: "/team/update", field: "team_id", fields: teamFields}),
	api("teams", "delete", "TEAM_ID...", "delete teams and their keys", op{method: "POST", path: "/team/delete", field: "team_ids"}),
	memberAdd("teams", "TEAM_ID", "/team/member_add", "team_id", "user", "admin or user"),
	memberDelete("teams", "TEAM_ID", "POST", "/team/member_delete", "team_id"),
	api("teams", "block", "TEAM_ID", "block a team (all its keys) at every edge", op{method: "POST", path: "/team/block", field: "team_id"}),
	api("teams", "unblock", "TEAM_ID", "unblock a team", op{method: "POST", path: "/team/unblock", field: "team_id"}),

	api("users", "new", "", "create a user", op{method: "POST", path: "/user/new", fields: func(fs *flag.FlagSet) *fields {
		f := &fields{}
		f.str(fs, "user-id", "user_id", "user id; default generated")
		f.str(fs, "email", "user_email", "email")
		f.str(fs, "alias", "user_alias", "alias")
		f.str(fs, "role", "user_role", "role, e.g. internal_user, proxy_admin")
		f.list(fs, "teams", "teams", "teams to join")
		f.list(fs, "models", "models", "models the user may call")
		f.budget(fs)
		f.boolean(fs, "auto-create-key", "auto_create_key", "also create a key for the user")
		return f
	}}),
	api("users", "list", "", "list users", op{method: "GET", path: "/user/list", view: view{list: "users", cols: userCols}}),
	api("users", "info", "USER_ID", "show a user and its spend", op{method: "GET", path: "/user/info", param: "user_id", view: view{object: "user_info"}}),
	api("users", "delete", "USER_ID...", "delete users and their keys", op{method: "POST", path: "/user/delete", field: "user_ids"}),

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
	api("models", "list", "", "list deployments", op{method: "GET", path: "/model/info", view: view{list: "data", cols: modelCols}}),
	api("models", "info", "ID", "show a deployment", op{method: "GET", path: "/model/info", param: "litellm_model_id", view: view{object: "data"}}),
	api("models", "delete", "ID", "delete a deployment", op{method: "POST", path: "/model/delete", field: "id"}),

	{"spend", "logs", "", "recent requests, newest first (needs ClickHouse)", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		start := fs.String("start", "", "first day, YYYY-MM-DD (UTC)")
		end := fs.String("end", "", "last day, YYYY-MM-DD (included)")
		key := fs.String("key", "", "only this key (plaintext or token)")
		team := fs.String("team-id", "", "only this team")
		user := fs.String("user-id", "", "only this user")
		limit := fs.Int("limit", 100, "rows, at most 10000")
		return func(r *runCtx, args []string) error {
			// Rows, not LiteLLM's per-day summary that a range asks for.
			q := url.Values{"limit": {strconv.Itoa(*limit)}, "summarize": {"false"}}
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

	api("jwt", "get", "", "show the JWT auth settings", op{method: "GET", path: "/jwt/settings"}),
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

	{"state", "", "", "the control plane's policy snapshot (counts; --json for all of it); --at SEQ|TIME: as it was then, rebuilt from the audit trail", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		at := fs.String("at", "", "policy sequence (as in x-gatehouse-policy-seq) or RFC 3339 time")
		key := fs.String("key", "", "with --at: only this key (plaintext or token) and its team, org and user")
		team := fs.String("team-id", "", "with --at: only this team and its org")
		return func(r *runCtx, args []string) error {
			var q url.Values
			if *at != "" {
				q = url.Values{"at": {*at}}
			} else if *key != "" || *team != "" {
				return usagef("--key and --team-id need --at")
			}
			if *key != "" {
				q.Set("key", *key)
			}
			if *team != "" {
				q.Set("team_id", *team)
			}
			if *key != "" || *team != "" {
				return r.call("GET", "/gatehouse/state", q, nil, view{})
			}
			return r.show("GET", "/gatehouse/state", q, nil, func(val any) error {
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
			})
		}
	}},
	{"why", "", "REQUEST_ID", "why a request was allowed or denied: its ledger row and the policy objects as they were at its policy sequence (needs ClickHouse)", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "REQUEST_ID (the edge's x-request-id, the one the client sent, or the answer's id)"); err != nil {
				return err
			}
			return r.show("GET", "/gatehouse/why/"+url.PathEscape(args[0]), nil, nil, func(val any) error {
				fmt.Fprintf(r.out, "%s\n\n", lookup(val, "explanation"))
				req, _ := lookup(val, "request").(map[string]any)
				return printObject(r.out, req)
			})
		}
	}},
	{"policy", "dry-run", "-config FILE | -changes FILE", "replay recorded requests (needs ClickHouse) through a proposed config.yaml or admin API calls and the current policy: which would flip, per key and team, and the money; publishes nothing", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		cfg := fs.String("config", "", "proposed LiteLLM config.yaml")
		changes := fs.String("changes", "", `JSON file of admin API calls: [{"method":"POST","path":"/team/update","body":{...}}]`)
		since := fs.String("since", "7d", "replay the requests of this long before now (or --to)")
		from := fs.String("from", "", "replay from this RFC 3339 time instead of --since")
		to := fs.String("to", "", "replay until this RFC 3339 time (default now)")
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 0, "no arguments"); err != nil {
				return err
			}
			if (*cfg == "") == (*changes == "") {
				return usagef("want exactly one of -config FILE or -changes FILE")
			}
			body := map[string]any{"since": *since}
			if *cfg != "" {
				b, err := os.ReadFile(*cfg)
				if err != nil {
					return err
				}
				body["config"] = string(b)
			} else {
				b, err := os.ReadFile(*changes)
				if err != nil {
					return err
				}
				var list []any
				if err := json.Unmarshal(b, &list); err != nil {
					return fmt.Errorf("%s: want a JSON list of {method, path, body}: %w", *changes, err)
				}
				body["changes"] = list
			}
			for name, v := range map[string]string{"from": *from, "to": *to} {
				if v != "" {
					body[name] = v
				}
			}
			return r.show("POST", "/gatehouse/policy/dry-run", nil, body, func(val any) error { return printDryRun(r.out, val) })
		}
	}},
	api("edges", "", "", "edges and how far each has applied the policy stream", op{method: "GET", path: "/gatehouse/edges", view: view{list: "edges", cols: edgeCols}}),
	{"poison", "list", "", "messages a processor or the sink could not use (master key only; --json shows their bodies)", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		limit := fs.Int("limit", 0, "at most this many, oldest first (default 1000)")
		return func(r *runCtx, args []string) error {
			var q url.Values
			if *limit > 0 {
				q = url.Values{"limit": {strconv.Itoa(*limit)}}
			}
			return r.call("GET", "/gatehouse/poison", q, nil, view{list: "messages", cols: poisonCols})
		}
	}},
	{"poison", "replay", "ID", "put a poisoned message back into its stream for the consumer that refused it (after fixing the cause)", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "ID"); err != nil {
				return err
			}
			id, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil || id == 0 {
				return usagef("ID must be a poisoned message's id from 'poison list', got %q", args[0])
			}
			return r.call("POST", "/gatehouse/poison/replay", nil, map[string]any{"id": id}, view{})
		}
	}},
}

// op is a command that is one API call. Its positional arguments (the
// command's args: "" none, "X" exactly one, "X..." one or more) go into
// the query parameter param or the body field field; the flags fields
// declares fill the rest of the body. A GET without arguments ignores
// extra ones, as it always has.
type op struct {
	method, path string
	param, field string
	fields       func(fs *flag.FlagSet) *fields
	view         view
}

func api(group, name, args, summary string, o op) command {
	return command{group, name, args, summary, func(fs *flag.FlagSet) func(*runCtx, []string) error {
		var f *fields
		if o.fields != nil {
			f = o.fields(fs)
		}
		return func(r *runCtx, pos []string) error {
			var q url.Values
			var body map[string]any
			switch {
			case strings.HasSuffix(args, "..."):
				if len(pos) == 0 {
					return usagef("want %s", args)
				}
				body = map[string]any{o.field: pos}
			case args != "":
				if err := exactly(pos, 1, args); err != nil {
					return err
				}
				if o.param != "" {
					q = url.Values{o.param: {pos[0]}}
				} else {
					body = map[string]any{o.field: pos[0]}
				}
			case o.method != "GET":
				if err := exactly(pos, 0, "no arguments"); err != nil {
					return err
				}
			}
			if f != nil {
				var err error
				if body, err = f.body(body); err != nil {
					return err
				}
			}
			return r.call(o.method, o.path, q, body, o.view)
		}
	}}
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

// printDryRun prints a dry run's answer: the totals, the flips per team
// and key, then the requests that flip.
func printDryRun(w io.Writer, val any) error {
	evs, _ := lookup(val, "events").([]any)
	fmt.Fprintf(w, "proposal: %d event(s) on top of policy sequence %v (nothing published)\n", len(evs), lookup(val, "base_seq"))
	fmt.Fprintf(w, "replayed %v requests (%v skipped) from %v to %v at %v rows/s\n", lookup(val, "report.rows"), lookup(val, "report.skipped"),
		lookup(val, "from"), lookup(val, "to"), lookup(val, "rows_per_second"))
	fmt.Fprintf(w, "allowed -> refused: %v requests, %v USD; refused -> allowed: %v requests, %v USD\n\n",
		lookup(val, "report.total.now_refused"), lookup(val, "report.total.now_refused_cost"),
		lookup(val, "report.total.now_allowed"), lookup(val, "report.total.now_allowed_cost"))
	group := cols("ID", "id", "NOW_REFUSED", "now_refused", "USD", "now_refused_cost", "NOW_ALLOWED", "now_allowed", "USD", "now_allowed_cost")
	for _, t := range []struct{ title, path string }{{"BY TEAM", "report.by_team"}, {"BY KEY", "report.by_key"}} {
		rows, _ := lookup(val, t.path).([]any)
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintln(w, t.title)
		if err := printTable(w, rows, group); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	flips, _ := lookup(val, "report.flips").([]any)
	if len(flips) == 0 {
		return nil
	}
	fmt.Fprintln(w, "REQUESTS")
	return printTable(w, flips, cols("TIME", "time", "REQUEST_ID", "request_id", "TEAM", "team_id", "MODEL", "model", "COST", "cost",
		"NOW", "current.allowed", "PROPOSED", "proposed.allowed", "REASON", "proposed.reason", "RULE", "proposed.rule"))
}
