package policy

import (
	"bytes"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

func fptr(f float64) *float64 { return &f }

// TestOrgsAndSentinels covers organizations and the model sentinels on
// the key path: all-team-models on a team (every proxy model, as LiteLLM
// expands it), all-org-models on keys and teams, the org's models
// bounding its teams, and the org's block and budget.
func TestOrgsAndSentinels(t *testing.T) {
	tok := func(i int) string { return events.HashKey("sk-org-" + strconv.Itoa(i)) }
	s := build(t,
		dep("gpt-4o", "mock/gpt-4o"),
		dep("gpt-4o-mini", "mock/gpt-4o-mini"),
		dep("claude", "anthropic/claude-3-5-sonnet"),
		&events.Org{OrganizationID: "o-open"},
		&events.Org{OrganizationID: "o-small", Models: []string{"gpt-4o-mini"}},
		&events.Org{OrganizationID: "o-broke", BudgetFlag: events.BudgetFlag{BudgetExceeded: true}, MaxBudget: fptr(1)},
		&events.Org{OrganizationID: "o-blocked", Blocked: true},
		&events.Team{TeamID: "t-allteam", Models: []string{"all-team-models"}},
		&events.Team{TeamID: "t-small-open", OrganizationID: "o-small"},
		&events.Team{TeamID: "t-small-wide", OrganizationID: "o-small", Models: []string{"gpt-4o", "gpt-4o-mini"}},
		&events.Team{TeamID: "t-small-orgmodels", OrganizationID: "o-small", Models: []string{"all-org-models"}},
		&events.Team{TeamID: "t-open-orgmodels", OrganizationID: "o-open", Models: []string{"all-org-models"}},
		&events.Team{TeamID: "t-noorg-orgmodels", Models: []string{"all-org-models"}},
		&events.Team{TeamID: "t-broke", OrganizationID: "o-broke"},
		&events.Team{TeamID: "t-blocked", OrganizationID: "o-blocked"},
		&events.Team{TeamID: "t-gone-org", OrganizationID: "o-deleted"},
	)
	cases := []struct {
		name  string
		key   events.Key
		model string
		want  *apierror.Error // nil: allowed
	}{
		{"team all-team-models is every proxy model", events.Key{TeamID: "t-allteam"}, "claude", nil},
		{"key all-team-models under such a team", events.Key{TeamID: "t-allteam", Models: []string{"all-team-models"}}, "gpt-4o", nil},
		{"org models bound an unrestricted team", events.Key{TeamID: "t-small-open"}, "gpt-4o", apierror.OrgModelDenied},
		{"org models allow", events.Key{TeamID: "t-small-open"}, "gpt-4o-mini", nil},
		{"team wider than org is still bounded", events.Key{TeamID: "t-small-wide"}, "gpt-4o", apierror.OrgModelDenied},
		{"team all-org-models expands", events.Key{TeamID: "t-small-orgmodels"}, "gpt-4o-mini", nil},
		{"team all-org-models bounded", events.Key{TeamID: "t-small-orgmodels"}, "gpt-4o", apierror.TeamModelDenied},
		{"team all-org-models, org without list", events.Key{TeamID: "t-open-orgmodels"}, "claude", nil},
		{"team all-org-models without org allows nothing", events.Key{TeamID: "t-noorg-orgmodels"}, "gpt-4o", apierror.TeamModelDenied},
		{"key all-org-models via team's org", events.Key{TeamID: "t-small-open", Models: []string{"all-org-models"}}, "gpt-4o-mini", nil},
		{"key all-org-models via team's org denies", events.Key{TeamID: "t-small-open", Models: []string{"all-org-models"}}, "claude", apierror.KeyModelDenied},
		{"key all-org-models via own org", events.Key{OrganizationID: "o-small", Models: []string{"all-org-models"}}, "gpt-4o-mini", nil},
		{"key own org bounds it", events.Key{OrganizationID: "o-small"}, "claude", apierror.OrgModelDenied},
		{"key all-org-models without org", events.Key{Models: []string{"all-org-models"}}, "gpt-4o", apierror.KeyModelDenied},
		{"key all-team-models over all-org-models team", events.Key{TeamID: "t-small-orgmodels", Models: []string{"all-team-models"}}, "gpt-4o-mini", nil},
		{"key all-team-models over all-org-models team denies", events.Key{TeamID: "t-small-orgmodels", Models: []string{"all-team-models"}}, "gpt-4o", apierror.KeyModelDenied},
		{"org over budget", events.Key{TeamID: "t-broke"}, "gpt-4o", apierror.BudgetExceeded},
		{"org over budget, no model", events.Key{TeamID: "t-broke"}, "", apierror.BudgetExceeded},
		{"org blocked", events.Key{TeamID: "t-blocked"}, "gpt-4o", orgBlocked},
		{"deleted org bounds nothing", events.Key{TeamID: "t-gone-org"}, "claude", nil},
	}
	for i, c := range cases {
		k := c.key
		k.Token = tok(i)
		_, err := s.CheckKey(&k, c.model, time.Now())
		switch {
		case c.want == nil && err != nil:
			t.Errorf("%s: unexpected denial: %v", c.name, err)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%s: got %v, want %s/%s", c.name, err, c.want.Type, c.want.Code)
		}
	}
}

// TestAllowedAllTeamModels: on a team's list the sentinel is unrestricted
// (LiteLLM expands it to every proxy model), however it is combined.
func TestAllowedAllTeamModels(t *testing.T) {
	s := build(t, dep("gpt-4o", "mock/gpt-4o"), dep("claude", "anthropic/claude"))
	cases := []struct {
		list  []string
		model string
		want  bool
	}{
		{[]string{"all-team-models"}, "gpt-4o", true},
		{[]string{"all-team-models"}, "claude", true},
		{[]string{"gpt-4o", "all-team-models"}, "claude", true},
		{[]string{"gpt-4o"}, "claude", false},
		{[]string{"all-org-models"}, "gpt-4o", false}, // literal without an org
	}
	for _, c := range cases {
		if got := s.Allowed(c.list, c.model); got != c.want {
			t.Errorf("Allowed(%v, %q) = %v, want %v", c.list, c.model, got, c.want)
		}
	}
}

func TestCheckEndUser(t *testing.T) {
	s := build(t,
		dep("gpt-4o", "mock/gpt-4o", "cheap"),
		dep("claude", "anthropic/claude"),
		&events.Customer{UserID: "c-ok"},
		&events.Customer{UserID: "c-blocked", Blocked: true},
		&events.Customer{UserID: "c-broke", BudgetFlag: events.BudgetFlag{BudgetExceeded: true}, MaxBudget: fptr(0.5)},
		&events.Customer{UserID: "c-default-broke", BudgetFlag: events.BudgetFlag{BudgetExceeded: true}},
		&events.Customer{UserID: "c-cheap", Models: []string{"cheap"}},
		&events.LiteLLMSettings{ID: events.LiteLLMSettingsID, MaxEndUserBudget: fptr(2)},
	)
	cases := []struct {
		id, model string
		want      *apierror.Error
		msg       string
	}{
		{"", "gpt-4o", nil, ""},
		{"c-unknown", "gpt-4o", nil, ""},
		{"c-ok", "claude", nil, ""},
		{"c-blocked", "gpt-4o", EndUserBlocked, "User blocked from making LLM API Calls. User=c-blocked"},
		{"c-blocked", "", EndUserBlocked, ""},
		{"c-broke", "gpt-4o", apierror.BudgetExceeded, "ExceededBudget: End User=c-broke over budget. Spend=0.5, Budget=0.5"},
		{"c-default-broke", "gpt-4o", apierror.BudgetExceeded, "ExceededBudget: End User=c-default-broke over budget. Spend=2.0, Budget=2.0"},
		{"c-cheap", "gpt-4o", nil, ""},
		{"c-cheap", "claude", EndUserModelDenied, ""},
		{"c-cheap", "", nil, ""},
	}
	for _, c := range cases {
		err := s.CheckEndUser(c.id, c.model, c.model)
		switch {
		case c.want == nil && err != nil:
			t.Errorf("%s/%s: unexpected denial: %v", c.id, c.model, err)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%s/%s: got %v, want %s", c.id, c.model, err, c.want.Code)
		case c.want != nil:
			e := apierror.From(err)
			if e.Param != "user" {
				t.Errorf("%s: param %q, want user", c.id, e.Param)
			}
			if c.msg != "" && e.Message != c.msg {
				t.Errorf("%s: message %q, want %q", c.id, e.Message, c.msg)
			}
		}
	}
	if got := EndUserID("from-jwt", "from-body"); got != "from-jwt" {
		t.Errorf("the JWT's end user must win, got %q", got)
	}
	if got := EndUserID("", "from-body"); got != "from-body" {
		t.Errorf("body user: got %q", got)
	}
}

// TestCustomersSurviveSnapshot: end users and litellm_settings are part
// of the persisted snapshot and of the export.
func TestCustomersSurviveSnapshot(t *testing.T) {
	s := build(t,
		&events.Customer{UserID: "c-1", Blocked: true},
		&events.Org{OrganizationID: "o-1", Members: []events.OrgMember{{UserID: "u", UserRole: events.OrgRoleAdmin}}},
		&events.LiteLLMSettings{ID: events.LiteLLMSettingsID, MaxEndUserBudget: fptr(3)},
	)
	var buf bytes.Buffer
	if err := WriteSnapshot(&buf, s, time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	r, _, err := ReadSnapshot(&buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Customer("c-1"); c == nil || !c.Blocked {
		t.Errorf("customer lost: %+v", c)
	}
	if b := r.MaxEndUserBudget(); b == nil || *b != 3 {
		t.Errorf("max_end_user_budget lost: %v", b)
	}
	if o := r.Org("o-1"); o == nil || len(o.Members) != 1 || o.Members[0].UserRole != events.OrgRoleAdmin {
		t.Errorf("org members lost: %+v", o)
	}
	st := Export(r)
	if len(st.Customers) != 1 || st.LiteLLM == nil {
		t.Errorf("export: %+v %+v", st.Customers, st.LiteLLM)
	}
}

// TestWithinModels: what /key/generate may grant under a team's list, and
// /team/new under an org's.
func TestWithinModels(t *testing.T) {
	s := build(t,
		dep("gpt-4o", "mock/gpt-4o", "cheap"),
		dep("claude", "anthropic/claude"),
		dep("openai/*", "openai/*"),
		&events.Org{OrganizationID: "o", Models: []string{"cheap"}},
		&events.Team{TeamID: "t", OrganizationID: "o", Models: []string{"all-org-models"}},
	)
	cases := []struct {
		entry string
		bound []string
		want  bool
	}{
		{"openai/*", []string{"all-team-models"}, true},
		{"claude", []string{"all-team-models"}, true},
		{"gpt-4o", []string{"cheap"}, true},
		{"claude", []string{"cheap"}, false},
		{"openai/*", []string{"cheap"}, false},
		{"all-org-models", []string{"cheap"}, true},
		{"gpt-4o", s.TeamModels(s.Team("t")), true},
		{"claude", s.TeamModels(s.Team("t")), false},
	}
	for _, c := range cases {
		if got := WithinModels(s, c.entry, c.bound); got != c.want {
			t.Errorf("WithinModels(%q, %v) = %v, want %v", c.entry, c.bound, got, c.want)
		}
	}
}

// TestSnapshotWithUnknownKind: a snapshot holding a kind this build does
// not know (written by a newer control plane) is an error, so the edge
// falls back to replaying the stream, not a panic.
func TestSnapshotWithUnknownKind(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteSnapshot(&buf, build(t), time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("wormhole\t{\"id\":\"w\"}\n")
	if _, _, err := ReadSnapshot(&buf, nil); !errors.Is(err, events.ErrUnknownType) {
		t.Fatalf("got %v, want ErrUnknownType", err)
	}
}

// TestOrgMemberBudgetIndex: the request path finds an org member's budget
// through the index, which follows the org's events (budget set, moved to
// another member, removed, org deleted) and members named by email.
func TestOrgMemberBudgetIndex(t *testing.T) {
	one := 1.0
	s := build(t, &events.User{UserID: "bob", UserEmail: "bob@example.com"},
		&events.Org{OrganizationID: "o", Members: []events.OrgMember{{UserID: "alice", MaxBudgetInOrg: &one}, {UserID: "carol"}}})
	has := func(s *Snapshot, user string) bool { return s.OrgMemberBudget("o", user) != nil }
	if !has(s, "alice") || has(s, "carol") || has(s, "bob") || s.OrgMemberBudget("other", "alice") != nil {
		t.Fatal("initial index wrong")
	}
	s, err := s.With(nil, &events.Org{OrganizationID: "o", Members: []events.OrgMember{{UserID: "alice"}, {UserID: "carol", MaxBudgetInOrg: &one}, {UserEmail: "BOB@example.com", MaxBudgetInOrg: &one}}})
	if err != nil {
		t.Fatal(err)
	}
	if has(s, "alice") || !has(s, "carol") || !has(s, "bob") {
		t.Fatal("index did not follow the org's update")
	}
	s, err = s.With(nil, &events.Org{OrganizationID: "o"})
	if err != nil {
		t.Fatal(err)
	}
	if has(s, "carol") || has(s, "bob") {
		t.Fatal("members removed from the org keep their budget")
	}
}
