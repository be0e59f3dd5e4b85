package ctl_test

import (
	"strings"
	"testing"
)

// TestOrgsAndCustomers drives the orgs and customers commands against a
// real control plane.
func TestOrgsAndCustomers(t *testing.T) {
	url := startControl(t, "")
	m := okJSON(t, url, "orgs", "new", "--org-id", "acme", "--alias", "Acme", "--models", "gpt-4o,gpt-4o-mini", "--max-budget", "10")
	if m["organization_id"] != "acme" || m["max_budget"] != 10.0 {
		t.Fatalf("orgs new: %v", m)
	}
	ok(t, url, "org", "member-add", "acme", "--user-id", "alice", "--role", "org_admin")
	ok(t, url, "orgs", "update", "acme", "--budget-duration", "30d")
	ok(t, url, "teams", "new", "--team-id", "ml", "--org-id", "acme", "--models", "all-org-models")
	list := ok(t, url, "orgs", "list")
	if !strings.Contains(list, "acme") || !strings.Contains(list, "ORG_ID") {
		t.Fatalf("orgs list:\n%s", list)
	}
	info := okJSON(t, url, "orgs", "info", "acme")
	if teams, _ := info["teams"].([]any); len(teams) != 1 || info["budget_duration"] != "30d" {
		t.Fatalf("orgs info: %v", info)
	}
	ok(t, url, "orgs", "member-delete", "acme", "--user-id", "alice")

	cases := []struct {
		args []string
		code int
		want string // in stderr
	}{
		{[]string{"orgs", "member-add", "acme", "--user-id", "bob", "--role", "owner"}, 1, "member.role"},
		{[]string{"teams", "new", "--org-id", "nope"}, 1, "Organization doesn't exist"},
		{[]string{"orgs", "member-add", "acme"}, 2, "--user-id"},
		{[]string{"customers", "block"}, 2, "USER_ID"},
		{[]string{"customers", "info", "nobody"}, 1, "does not exist"},
	}
	for _, c := range cases {
		r := run(t, url, c.args...)
		if r.code != c.code || !strings.Contains(r.errout, c.want) {
			t.Errorf("gatewayctl %s: exit %d, want %d with %q\n%s", strings.Join(c.args, " "), r.code, c.code, c.want, r.errout)
		}
	}

	ok(t, url, "customers", "new", "cust-1", "--alias", "One", "--max-budget", "1")
	out := ok(t, url, "customers", "block", "cust-1", "cust-2")
	if !strings.Contains(out, "cust-2") || !strings.Contains(out, "BLOCKED") {
		t.Fatalf("customers block:\n%s", out)
	}
	c := okJSON(t, url, "customers", "info", "cust-2")
	if c["blocked"] != true {
		t.Fatalf("customers info: %v", c)
	}
	ok(t, url, "customer", "unblock", "cust-2")
	if list := ok(t, url, "customers", "list"); strings.Count(list, "cust-") != 2 {
		t.Fatalf("customers list:\n%s", list)
	}
	ok(t, url, "customers", "delete", "cust-1")
	ok(t, url, "orgs", "delete", "acme")
	if r := run(t, url, "orgs", "info", "acme"); r.code != 1 {
		t.Fatalf("deleted org still there: %d %s", r.code, r.out)
	}
}
