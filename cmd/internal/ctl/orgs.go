package ctl

import (
	"flag"
	"net/url"
)

// Organizations and end users (customers). Appended to the command table
// from here so their flags and columns stay together.
func init() {
	commands = append(commands, orgCommands...)
	commands = append(commands, customerCommands...)
}

var (
	orgCols      = cols("ORG_ID", "organization_id", "ALIAS", "organization_alias", "MODELS", "models", "MEMBERS", "#members", "BLOCKED", "blocked", "MAX_BUDGET", "max_budget", "SPEND", "spend")
	customerCols = cols("USER_ID", "user_id", "ALIAS", "alias", "BLOCKED", "blocked", "MODELS", "models", "MAX_BUDGET", "litellm_budget_table.max_budget", "SPEND", "spend")
)

func orgFields(fs *flag.FlagSet) *fields {
	f := &fields{}
	f.str(fs, "alias", "organization_alias", "organization alias")
	f.list(fs, "models", "models", "models, access groups or wildcards the org's teams may call")
	f.num(fs, "max-budget", "max_budget", "budget in USD")
	f.str(fs, "budget-duration", "budget_duration", "budget window, e.g. 30d")
	f.int(fs, "rpm", "rpm_limit", "requests per minute")
	f.int(fs, "tpm", "tpm_limit", "tokens per minute")
	f.object(fs, "metadata", "metadata", "metadata")
	return f
}

// member flags name a user by id or email.
func memberFlags(fs *flag.FlagSet) func(m map[string]any) error {
	user := fs.String("user-id", "", "member's user id")
	email := fs.String("user-email", "", "member's email")
	return func(m map[string]any) error {
		if *user == "" && *email == "" {
			return usagef("want --user-id or --user-email")
		}
		if *user != "" {
			m["user_id"] = *user
		}
		if *email != "" {
			m["user_email"] = *email
		}
		return nil
	}
}

var orgCommands = []command{
	{"orgs", "new", "", "create an organization", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		f := orgFields(fs)
		f.str(fs, "org-id", "organization_id", "organization id; default generated")
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 0, "no arguments"); err != nil {
				return err
			}
			body, err := f.body(nil)
			if err != nil {
				return err
			}
			return r.call("POST", "/organization/new", nil, body, view{})
		}
	}},
	{"orgs", "list", "", "list organizations", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			return r.call("GET", "/organization/list", nil, nil, view{cols: orgCols})
		}
	}},
	{"orgs", "info", "ORG_ID", "show an organization, its members, teams and spend", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "ORG_ID"); err != nil {
				return err
			}
			return r.call("GET", "/organization/info", url.Values{"organization_id": {args[0]}}, nil, view{})
		}
	}},
	{"orgs", "update", "ORG_ID", "change an organization (only the flags given)", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		f := orgFields(fs)
		f.boolean(fs, "blocked", "blocked", "blocked")
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "ORG_ID"); err != nil {
				return err
			}
			body, err := f.body(map[string]any{"organization_id": args[0]})
			if err != nil {
				return err
			}
			return r.call("PATCH", "/organization/update", nil, body, view{})
		}
	}},
	{"orgs", "delete", "ORG_ID...", "delete organizations with their teams and keys", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			if len(args) == 0 {
				return usagef("want ORG_ID...")
			}
			return r.call("DELETE", "/organization/delete", nil, map[string]any{"organization_ids": args}, view{cols: orgCols})
		}
	}},
	{"orgs", "member-add", "ORG_ID", "add (or change the role of) a member", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		who := memberFlags(fs)
		role := fs.String("role", "internal_user", "org_admin, internal_user or internal_user_viewer")
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "ORG_ID"); err != nil {
				return err
			}
			m := map[string]any{"role": *role}
			if err := who(m); err != nil {
				return err
			}
			return r.call("POST", "/organization/member_add", nil, map[string]any{"organization_id": args[0], "member": m}, view{})
		}
	}},
	{"orgs", "member-delete", "ORG_ID", "remove a member", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		who := memberFlags(fs)
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "ORG_ID"); err != nil {
				return err
			}
			body := map[string]any{"organization_id": args[0]}
			if err := who(body); err != nil {
				return err
			}
			return r.call("DELETE", "/organization/member_delete", nil, body, view{})
		}
	}},
}

var customerCommands = []command{
	{"customers", "new", "USER_ID", "create an end user (the \"user\" of chat requests)", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		f := &fields{}
		f.str(fs, "alias", "alias", "alias")
		f.list(fs, "models", "models", "models the end user may call")
		f.num(fs, "max-budget", "max_budget", "budget in USD")
		f.str(fs, "budget-duration", "budget_duration", "budget window, e.g. 30d")
		f.boolean(fs, "blocked", "blocked", "blocked")
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "USER_ID"); err != nil {
				return err
			}
			body, err := f.body(map[string]any{"user_id": args[0]})
			if err != nil {
				return err
			}
			return r.call("POST", "/customer/new", nil, body, view{})
		}
	}},
	{"customers", "list", "", "list end users with a record", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			return r.call("GET", "/customer/list", nil, nil, view{cols: customerCols})
		}
	}},
	{"customers", "info", "USER_ID", "show an end user and its spend", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, "USER_ID"); err != nil {
				return err
			}
			return r.call("GET", "/customer/info", url.Values{"end_user_id": {args[0]}}, nil, view{})
		}
	}},
	{"customers", "block", "USER_ID...", "refuse end users at every edge", customerAction("/customer/block", "blocked_users")},
	{"customers", "unblock", "USER_ID...", "unblock end users", customerAction("/customer/unblock", "unblocked_users")},
	{"customers", "delete", "USER_ID...", "delete end users' records", customerAction("/customer/delete", "")},
}

func customerAction(path, list string) func(fs *flag.FlagSet) func(*runCtx, []string) error {
	return func(fs *flag.FlagSet) func(*runCtx, []string) error {
		return func(r *runCtx, args []string) error {
			if len(args) == 0 {
				return usagef("want USER_ID...")
			}
			v := view{}
			if list != "" {
				v = view{list: list, cols: customerCols}
			}
			return r.call("POST", path, nil, map[string]any{"user_ids": args}, v)
		}
	}
}
