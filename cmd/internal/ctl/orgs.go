package ctl

import "flag"

// Organizations and end users (customers), and the member commands teams
// share with organizations. Appended to the command table
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
	f.limits(fs)
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

// memberAdd is the member-add command of teams and orgs: arg names the
// object in usage, idField in the body; --role defaults to role.
func memberAdd(group, arg, path, idField, role, roleHelp string) command {
	return command{group, "member-add", arg, "add (or change the role of) a member", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		who := memberFlags(fs)
		role := fs.String("role", role, roleHelp)
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, arg); err != nil {
				return err
			}
			m := map[string]any{"role": *role}
			if err := who(m); err != nil {
				return err
			}
			return r.call("POST", path, nil, map[string]any{idField: args[0], "member": m}, view{})
		}
	}}
}

// memberDelete is the member-delete command of teams and orgs.
func memberDelete(group, arg, method, path, idField string) command {
	return command{group, "member-delete", arg, "remove a member", func(fs *flag.FlagSet) func(*runCtx, []string) error {
		who := memberFlags(fs)
		return func(r *runCtx, args []string) error {
			if err := exactly(args, 1, arg); err != nil {
				return err
			}
			body := map[string]any{idField: args[0]}
			if err := who(body); err != nil {
				return err
			}
			return r.call(method, path, nil, body, view{})
		}
	}}
}

var orgCommands = []command{
	api("orgs", "new", "", "create an organization", op{method: "POST", path: "/organization/new", fields: func(fs *flag.FlagSet) *fields {
		f := orgFields(fs)
		f.str(fs, "org-id", "organization_id", "organization id; default generated")
		return f
	}}),
	api("orgs", "list", "", "list organizations", op{method: "GET", path: "/organization/list", view: view{cols: orgCols}}),
	api("orgs", "info", "ORG_ID", "show an organization, its members, teams and spend", op{method: "GET", path: "/organization/info", param: "organization_id"}),
	api("orgs", "update", "ORG_ID", "change an organization (only the flags given)", op{method: "PATCH", path: "/organization/update", field: "organization_id", fields: func(fs *flag.FlagSet) *fields {
		f := orgFields(fs)
		f.boolean(fs, "blocked", "blocked", "blocked")
		return f
	}}),
	api("orgs", "delete", "ORG_ID...", "delete organizations with their teams and keys", op{method: "DELETE", path: "/organization/delete", field: "organization_ids", view: view{cols: orgCols}}),
	memberAdd("orgs", "ORG_ID", "/organization/member_add", "organization_id", "internal_user", "org_admin, internal_user or internal_user_viewer"),
	memberDelete("orgs", "ORG_ID", "DELETE", "/organization/member_delete", "organization_id"),
}

var customerCommands = []command{
	api("customers", "new", "USER_ID", "create an end user (the \"user\" of chat requests)", op{method: "POST", path: "/customer/new", field: "user_id", fields: func(fs *flag.FlagSet) *fields {
		f := &fields{}
		f.str(fs, "alias", "alias", "alias")
		f.list(fs, "models", "models", "models the end user may call")
		f.budget(fs)
		f.boolean(fs, "blocked", "blocked", "blocked")
		return f
	}}),
	api("customers", "list", "", "list end users with a record", op{method: "GET", path: "/customer/list", view: view{cols: customerCols}}),
	api("customers", "info", "USER_ID", "show an end user and its spend", op{method: "GET", path: "/customer/info", param: "end_user_id"}),
	api("customers", "block", "USER_ID...", "refuse end users at every edge", op{method: "POST", path: "/customer/block", field: "user_ids", view: view{list: "blocked_users", cols: customerCols}}),
	api("customers", "unblock", "USER_ID...", "unblock end users", op{method: "POST", path: "/customer/unblock", field: "user_ids", view: view{list: "unblocked_users", cols: customerCols}}),
	api("customers", "delete", "USER_ID...", "delete end users' records", op{method: "POST", path: "/customer/delete", field: "user_ids"}),
}
