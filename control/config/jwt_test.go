package config

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/auth/celrule"
	"github.com/gatehouse/gatehouse/events"
)

// jwtBase opens litellm_jwtauth; fields added after it are on line 4 on.
const jwtBase = "general_settings:\n  enable_jwt_auth: true\n  litellm_jwtauth:\n"

// jwtErrorCases are errorCases for the JWT settings: each breaks one rule,
// and want holds substrings that must all appear in one error line.
var jwtErrorCases = []errorCase{
	// Strictness: unknown fields at every level.
	{"unknown litellm_jwtauth field", jwtBase + "    team_id_jwt_feld: client_id\n",
		[]string{`config: general_settings.litellm_jwtauth: unknown field "team_id_jwt_feld" (line 4)`, `did you mean "team_id_jwt_field"?`}},
	{"unsupported LiteLLM field", jwtBase + "    routing_overrides: []\n",
		[]string{`general_settings.litellm_jwtauth.routing_overrides: LiteLLM setting routing_overrides is not supported by gatehouse: matching tokens would not be sent to OAuth2 introspection`, `(line 4)`}},
	{"sync with nothing to sync", jwtBase + "    sync_user_role_and_teams: true\n",
		[]string{`general_settings.litellm_jwtauth.sync_user_role_and_teams: syncs nothing without jwt_litellm_role_map or team_ids_jwt_field (line 4)`}},
	{"role map without roles field", jwtBase + "    jwt_litellm_role_map: [{jwt_role: 'admin-*', litellm_role: proxy_admin}]\n",
		[]string{`general_settings.litellm_jwtauth.jwt_litellm_role_map: needs roles_jwt_field`}},
	{"role map unknown role", jwtBase + "    roles_jwt_field: roles\n    jwt_litellm_role_map: [{jwt_role: 'admin-*', litellm_role: superuser}]\n",
		[]string{`general_settings.litellm_jwtauth.jwt_litellm_role_map[0].litellm_role: "superuser" is not a user role: use one of proxy_admin`}},
	{"role map bad pattern", jwtBase + "    roles_jwt_field: roles\n    jwt_litellm_role_map: [{jwt_role: 'admin-[', litellm_role: proxy_admin}]\n",
		[]string{`general_settings.litellm_jwtauth.jwt_litellm_role_map[0].jwt_role: "admin-[" is not a valid pattern`}},
	{"role map unknown field", jwtBase + "    roles_jwt_field: roles\n    jwt_litellm_role_map: [{role: a, litellm_role: proxy_admin}]\n",
		[]string{`general_settings.litellm_jwtauth.jwt_litellm_role_map[0]: unknown field "role"`}},
	{"userinfo without endpoint", jwtBase + "    oidc_userinfo_enabled: true\n",
		[]string{`general_settings.litellm_jwtauth.oidc_userinfo_endpoint: must be an absolute http(s) URL when oidc_userinfo_enabled is true`}},
	{"userinfo negative ttl", jwtBase + "    oidc_userinfo_enabled: true\n    oidc_userinfo_endpoint: https://idp.example.com/userinfo\n    oidc_userinfo_cache_ttl: -1\n",
		[]string{`general_settings.litellm_jwtauth.oidc_userinfo_cache_ttl: `}},
	{"team alias claim path", jwtBase + "    team_alias_jwt_field: 'a..b'\n",
		[]string{`general_settings.litellm_jwtauth.team_alias_jwt_field: `}},
	{"JWT field one level too high", "general_settings:\n  user_id_jwt_field: sub\n",
		[]string{`config: general_settings: unknown field "user_id_jwt_field" (line 2)`, `"user_id_jwt_field" belongs under litellm_jwtauth`}},
	{"unknown role_permissions field", "general_settings:\n  role_permissions:\n    - role: team\n      model: [a]\n",
		[]string{`config: general_settings.role_permissions[0]: unknown field "model" (line 4)`, `did you mean "models"?`}},
	{"unknown role_mappings field", jwtBase + "    roles_jwt_field: roles\n    role_mappings:\n      - role: a\n        internal_roles: team\n",
		[]string{`general_settings.litellm_jwtauth.role_mappings[0]: unknown field "internal_roles" (line 7)`, `did you mean "internal_role"?`}},
	{"unknown scope_mappings field", jwtBase + "    enforce_scope_based_access: true\n    scope_mappings:\n      - scope: a\n        model: [b]\n",
		[]string{`general_settings.litellm_jwtauth.scope_mappings[0]: unknown field "model" (line 7)`}},
	{"unknown issuers field", jwtBase + "    issuers:\n      - issuer: https://idp.example.com\n        audience: x\n        jwks_uri: https://idp.example.com/keys\n",
		[]string{`general_settings.litellm_jwtauth.issuers[0]: unknown field "jwks_uri" (line 7)`, `did you mean "jwks_url"?`}},

	// Types.
	{"enable_jwt_auth not a bool", "general_settings:\n  enable_jwt_auth: enabled\n",
		[]string{`config: general_settings.enable_jwt_auth: expected true or false, got "enabled" (line 2)`}},
	{"litellm_jwtauth not a mapping", "general_settings:\n  litellm_jwtauth: [a]\n",
		[]string{`general_settings.litellm_jwtauth: expected a mapping, got a list (line 2)`}},
	{"role_permissions not a list", "general_settings:\n  role_permissions: {role: team}\n",
		[]string{`general_settings.role_permissions: expected a list, got a mapping (line 2)`}},
	{"claim paths a mapping", jwtBase + "    roles_jwt_field: {a: b}\n",
		[]string{`general_settings.litellm_jwtauth.roles_jwt_field: expected a string or a list of strings, got a mapping (line 4)`}},
	{"claim paths list of mappings", jwtBase + "    roles_jwt_field: [roles, {a: b}]\n",
		[]string{`general_settings.litellm_jwtauth.roles_jwt_field[1]: expected a string, got a mapping (line 4)`}},
	{"claim paths empty element", jwtBase + "    team_ids_jwt_field: [groups, ~]\n",
		[]string{`general_settings.litellm_jwtauth.team_ids_jwt_field[1]: is empty (line 4)`}},
	{"issuer claim paths a mapping", jwtBase + "    issuers:\n      - issuer: https://a.example.com\n        audience: x\n        roles_jwt_field: {a: b}\n",
		[]string{`general_settings.litellm_jwtauth.issuers[0].roles_jwt_field: expected a string or a list of strings, got a mapping (line 7)`}},
	{"public_key_ttl text", jwtBase + "    public_key_ttl: 10m\n",
		[]string{`general_settings.litellm_jwtauth.public_key_ttl: expected a number, got "10m" (line 4)`}},

	// Rules LiteLLM has, with its messages.
	{"user_roles without allowed roles", jwtBase + "    user_roles_jwt_field: roles\n",
		[]string{`config: general_settings.litellm_jwtauth.user_roles_jwt_field: user_allowed_roles must be provided if user_roles_jwt_field is set (line 4)`}},
	{"user_roles with empty allowed roles", jwtBase + "    user_roles_jwt_field: [roles, groups]\n    user_allowed_roles: []\n",
		[]string{`general_settings.litellm_jwtauth.user_roles_jwt_field: user_allowed_roles must be provided if user_roles_jwt_field is set (line 4)`}},
	{"object_id without role_mappings", jwtBase + "    object_id_jwt_field: oid\n    roles_jwt_field: roles\n",
		[]string{`config: general_settings.litellm_jwtauth.object_id_jwt_field: if object_id_jwt_field is set, role_mappings must also be set. Needed to infer if the caller is a user or team. (line 4)`}},
	{"scope_mappings not enforced", jwtBase + "    scope_mappings:\n      - scope: a\n        models: [m]\n",
		[]string{`config: general_settings.litellm_jwtauth.scope_mappings: scope_mappings are only enforced with enforce_scope_based_access: true (line 4)`}},
	{"scope_mappings enforced false", jwtBase + "    enforce_scope_based_access: false\n    scope_mappings: [{scope: a, models: [m]}]\n",
		[]string{`general_settings.litellm_jwtauth.scope_mappings: scope_mappings are only enforced with enforce_scope_based_access: true (line 5)`}},
	{"scope mapping without scope", jwtBase + "    enforce_scope_based_access: true\n    scope_mappings:\n      - models: [m]\n",
		[]string{`general_settings.litellm_jwtauth.scope_mappings[0].scope: is required (line 6)`}},
	{"scope with a space", jwtBase + "    enforce_scope_based_access: true\n    scope_mappings:\n      - scope: a b\n",
		[]string{`general_settings.litellm_jwtauth.scope_mappings[0].scope: must not contain whitespace`}},
	{"scope mapping empty model", jwtBase + "    enforce_scope_based_access: true\n    scope_mappings:\n      - scope: a\n        models: [m, '']\n",
		[]string{`general_settings.litellm_jwtauth.scope_mappings[0].models[1]: must be a non-empty string (line 7)`}},

	// RBAC roles.
	{"role_mappings unknown internal_role", jwtBase + "    roles_jwt_field: roles\n    role_mappings:\n      - role: admins\n        internal_role: admin\n",
		[]string{`config: general_settings.litellm_jwtauth.role_mappings[0].internal_role: "admin" is not an RBAC role: use one of proxy_admin, team, internal_user (line 7)`}},
	{"role_mappings LiteLLM user role", jwtBase + "    roles_jwt_field: roles\n    role_mappings: [{role: a, internal_role: proxy_admin_viewer}]\n",
		[]string{`general_settings.litellm_jwtauth.role_mappings[0].internal_role: "proxy_admin_viewer" is not an RBAC role`}},
	{"role_mappings missing internal_role", jwtBase + "    roles_jwt_field: roles\n    role_mappings:\n      - role: admins\n",
		[]string{`general_settings.litellm_jwtauth.role_mappings[0].internal_role: is required: one of proxy_admin, team, internal_user (line 6)`}},
	{"role_mappings missing role", jwtBase + "    roles_jwt_field: roles\n    role_mappings:\n      - internal_role: team\n",
		[]string{`general_settings.litellm_jwtauth.role_mappings[0].role: is required (the role as it appears in the token) (line 6)`}},
	{"role_mappings duplicate role", jwtBase + "    roles_jwt_field: roles\n    role_mappings:\n      - {role: a, internal_role: team}\n      - {role: a, internal_role: proxy_admin}\n",
		[]string{`general_settings.litellm_jwtauth.role_mappings[1].role: "a" is already mapped by role_mappings[0] (line 7)`}},
	{"role_permissions unknown role", "general_settings:\n  role_permissions:\n    - role: internal_user_viewer\n",
		[]string{`config: general_settings.role_permissions[0].role: "internal_user_viewer" is not an RBAC role: use one of proxy_admin, team, internal_user (line 3)`}},
	{"role_permissions missing role", "general_settings:\n  role_permissions:\n    - models: [a]\n",
		[]string{`general_settings.role_permissions[0].role: is required: one of proxy_admin, team, internal_user (line 3)`}},
	{"role_permissions duplicate role", "general_settings:\n  role_permissions:\n    - role: team\n      models: [a]\n    - role: internal_user\n    - role: team\n      models: [b]\n",
		[]string{`config: general_settings.role_permissions[2].role: "team" is already configured by role_permissions[0] (line 6)`}},
	{"role_permissions empty route", "general_settings:\n  role_permissions:\n    - role: team\n      routes: ['']\n",
		[]string{`general_settings.role_permissions[0].routes[0]: must be a non-empty string (line 4)`}},

	// Issuers.
	{"issuer missing", jwtBase + "    issuers:\n      - audience: x\n",
		[]string{`config: general_settings.litellm_jwtauth.issuers[0].issuer: is required (the exact "iss" of the provider's tokens) (line 5)`}},
	{"issuer not a URL", jwtBase + "    issuers:\n      - issuer: idp.example.com\n        audience: x\n",
		[]string{`general_settings.litellm_jwtauth.issuers[0].issuer: must be an absolute URL (the exact "iss" of the provider's tokens) (line 5)`}},
	{"issuer not http without jwks_url", jwtBase + "    issuers:\n      - issuer: spiffe://example.org\n        audience: x\n",
		[]string{`general_settings.litellm_jwtauth.issuers[0].issuer: must be an http(s) URL unless jwks_url is set (keys are discovered at <issuer>/.well-known/openid-configuration) (line 5)`}},
	{"issuer without audience", jwtBase + "    issuers:\n      - issuer: https://idp.example.com\n",
		[]string{`config: general_settings.litellm_jwtauth.issuers[0].audience: must configure audience or set disable_audience_validation: true (line 5)`}},
	{"issuer audience validation false", jwtBase + "    issuers:\n      - issuer: https://idp.example.com\n        disable_audience_validation: false\n",
		[]string{`general_settings.litellm_jwtauth.issuers[0].audience: must configure audience or set disable_audience_validation: true (line 5)`}},
	{"issuer with both", jwtBase + "    issuers:\n      - issuer: https://idp.example.com\n        audience: x\n        disable_audience_validation: true\n",
		[]string{`config: general_settings.litellm_jwtauth.issuers[0].disable_audience_validation: cannot set audience and disable_audience_validation: true together (line 7)`}},
	{"duplicate issuer", jwtBase + "    issuers:\n      - {issuer: https://idp.example.com, audience: a}\n      - {issuer: https://other.example.com, audience: b}\n      - {issuer: https://idp.example.com, audience: c}\n",
		[]string{`config: general_settings.litellm_jwtauth.issuers[2].issuer: "https://idp.example.com" is already configured by issuers[0] (line 7)`}},
	{"jwks_url relative", jwtBase + "    issuers:\n      - issuer: https://idp.example.com\n        audience: x\n        jwks_url: /keys\n",
		[]string{`general_settings.litellm_jwtauth.issuers[0].jwks_url: must be an absolute http(s) URL (a JWKS or an OIDC discovery document) (line 7)`}},
	{"jwks_url wrong scheme", jwtBase + "    issuers:\n      - issuer: spiffe://example.org\n        audience: x\n        jwks_url: file:///etc/keys.json\n",
		[]string{`general_settings.litellm_jwtauth.issuers[0].jwks_url: must be an absolute http(s) URL`}},
	{"issuer bad claim path", jwtBase + "    issuers:\n      - issuer: https://idp.example.com\n        audience: x\n        team_ids_jwt_field: [groups, 'a..b']\n",
		[]string{`general_settings.litellm_jwtauth.issuers[0].team_ids_jwt_field[1]: claim path "a..b" has an empty segment`, `(line 7)`}},

	// Numbers.
	{"negative public_key_ttl", jwtBase + "    public_key_ttl: -1\n",
		[]string{`config: general_settings.litellm_jwtauth.public_key_ttl: must be a finite number >= 0 (line 4)`}},
	{"NaN public_key_ttl", jwtBase + "    public_key_ttl: .nan\n",
		[]string{`general_settings.litellm_jwtauth.public_key_ttl: must be a finite number >= 0 (line 4)`}},
	{"negative public_key_stale_ttl", jwtBase + "    public_key_stale_ttl: -5\n",
		[]string{`general_settings.litellm_jwtauth.public_key_stale_ttl: must be a finite number >= 0 (line 4)`}},
	{"leeway too large", jwtBase + "    leeway_seconds: 301\n",
		[]string{`config: general_settings.litellm_jwtauth.leeway_seconds: must be between 0 and 300 (seconds) (line 4)`}},
	{"negative leeway", jwtBase + "    leeway_seconds: -1\n",
		[]string{`general_settings.litellm_jwtauth.leeway_seconds: must be between 0 and 300 (seconds) (line 4)`}},

	// Claim paths.
	{"claim path empty segment", jwtBase + "    user_id_jwt_field: 'a..b'\n",
		[]string{`config: general_settings.litellm_jwtauth.user_id_jwt_field: claim path "a..b" has an empty segment (segments are separated by "."; write "\." for a literal dot) (line 4)`}},
	{"claim path leading dot", jwtBase + "    team_id_jwt_field: .team\n",
		[]string{`general_settings.litellm_jwtauth.team_id_jwt_field: claim path ".team" has an empty segment`}},
	{"claim path trailing dot", jwtBase + "    org_id_jwt_field: 'org.'\n",
		[]string{`general_settings.litellm_jwtauth.org_id_jwt_field: claim path "org." has an empty segment`}},
	{"claim path trailing backslash", jwtBase + "    end_user_id_jwt_field: 'customer\\'\n",
		[]string{`general_settings.litellm_jwtauth.end_user_id_jwt_field: claim path "customer\\" ends with a backslash (write "\." for a literal dot) (line 4)`}},
	{"claim path padded", jwtBase + "    user_email_jwt_field: ' email'\n",
		[]string{`general_settings.litellm_jwtauth.user_email_jwt_field: must not start or end with whitespace (line 4)`}},
	{"claim path in a CSV", jwtBase + "    roles_jwt_field: 'roles, realm_access..roles'\n",
		[]string{`general_settings.litellm_jwtauth.roles_jwt_field[1]: claim path "realm_access..roles" has an empty segment`, `(line 4)`}},
	{"claim path empty list entry", jwtBase + "    scopes_jwt_field: ['']\n",
		[]string{`general_settings.litellm_jwtauth.scopes_jwt_field: must be a non-empty claim path (line 4)`}},
	{"object_id claim path", jwtBase + "    object_id_jwt_field: 'oid.'\n    roles_jwt_field: roles\n    role_mappings: [{role: a, internal_role: team}]\n",
		[]string{`general_settings.litellm_jwtauth.object_id_jwt_field: claim path "oid." has an empty segment`, `(line 4)`}},

	// custom_validate.
	{"custom_validate Python path", jwtBase + "    custom_validate: custom_validate.my_custom_validate\n",
		[]string{`config: general_settings.litellm_jwtauth.custom_validate: custom_validate is a CEL expression over claims (e.g. claims.tenant_id in ["my-unique-tenant"]); Python import paths are not supported (line 4)`}},
	{"custom_validate syntax error", jwtBase + "    custom_validate: 'claims.tenant_id in ['\n",
		[]string{`general_settings.litellm_jwtauth.custom_validate: invalid CEL expression: 1:`, `(line 4)`}},
	{"custom_validate unknown variable", jwtBase + "    custom_validate: 'token.tenant_id == \"x\"'\n",
		[]string{`general_settings.litellm_jwtauth.custom_validate: invalid CEL expression: 1:1: undeclared reference to 'token'`}},
	{"custom_validate not bool", jwtBase + "    custom_validate: claims.tenant_id\n",
		[]string{`general_settings.litellm_jwtauth.custom_validate: must be a CEL expression returning bool, but it returns dyn`}},
	{"custom_validate string", jwtBase + "    custom_validate: '\"yes\"'\n",
		[]string{`general_settings.litellm_jwtauth.custom_validate: must be a CEL expression returning bool, but it returns string`}},

	// Other fields.
	{"email domain with @", jwtBase + "    user_allowed_email_domain: '@my-co.com'\n",
		[]string{`config: general_settings.litellm_jwtauth.user_allowed_email_domain: must be a domain such as my-co.com, without "@" (line 4)`}},
	{"admin scope with a space", jwtBase + "    admin_jwt_scope: litellm proxy admin\n",
		[]string{`general_settings.litellm_jwtauth.admin_jwt_scope: must not contain whitespace`}},
	{"unknown route group", jwtBase + "    admin_allowed_routes: [management_routes, no_such_group]\n",
		[]string{`general_settings.litellm_jwtauth.admin_allowed_routes[1]: "no_such_group" is not a route group (one of `, `ui_routes`, `(line 4)`}},
	{"malformed route pattern", jwtBase + "    team_allowed_routes: [openai_routes, '/internal-*']\n",
		[]string{`general_settings.litellm_jwtauth.team_allowed_routes[1]: route "/internal-*": "*" is only allowed as a final "/*"`}},
	{"unknown group in role_permissions", "general_settings:\n  role_permissions:\n    - role: team\n      routes: [openai_route]\n",
		[]string{`general_settings.role_permissions[0].routes[0]: "openai_route" is not a route group`}},
	{"empty allowed route", jwtBase + "    team_allowed_routes: [openai_routes, '']\n",
		[]string{`general_settings.litellm_jwtauth.team_allowed_routes[1]: must be a non-empty string (line 4)`}},
	{"empty allowed role", jwtBase + "    user_roles_jwt_field: roles\n    user_allowed_roles: ['']\n",
		[]string{`general_settings.litellm_jwtauth.user_allowed_roles[0]: must be a non-empty string (line 5)`}},
	{"key URL in environment_variables", "environment_variables:\n  JWT_PUBLIC_KEY_URL: 'https://a.example.com/keys, a.example.com/keys'\n",
		[]string{`config: environment_variables.JWT_PUBLIC_KEY_URL: entry 2 must be an absolute http(s) URL (a JWKS or an OIDC discovery document) (line 2)`}},
	{"padded audience in environment_variables", "environment_variables:\n  JWT_AUDIENCE: 'api://x '\n",
		[]string{`environment_variables.JWT_AUDIENCE: must not start or end with whitespace (line 2)`}},
}

func TestJWTParseErrors(t *testing.T) { testParseErrors(t, jwtErrorCases) }

// The whole error for a file with several JWT mistakes: all reported, in
// line order, one per line, each naming its field.
func TestJWTParseErrorExactMessages(t *testing.T) {
	const in = `general_settings:
  enable_jwt_auth: true
  litellm_jwtauth:
    user_roles_jwt_field: roles
    leeway_seconds: 600
    custom_validate: custom_validate.my_custom_validate
    issuers:
      - issuer: https://idp.example.com
  role_permissions:
    - role: admin
`
	_, err := Parse([]byte(in))
	want := `config: general_settings.litellm_jwtauth.user_roles_jwt_field: user_allowed_roles must be provided if user_roles_jwt_field is set (line 4)
config: general_settings.litellm_jwtauth.leeway_seconds: must be between 0 and 300 (seconds) (line 5)
config: general_settings.litellm_jwtauth.custom_validate: custom_validate is a CEL expression over claims (e.g. claims.tenant_id in ["my-unique-tenant"]); Python import paths are not supported (line 6)
config: general_settings.litellm_jwtauth.issuers[0].audience: must configure audience or set disable_audience_validation: true (line 8)
config: general_settings.role_permissions[0].role: "admin" is not an RBAC role: use one of proxy_admin, team, internal_user (line 10)`
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "general_settings.litellm_jwtauth.user_roles_jwt_field" || fe.Line != 4 {
		t.Errorf("first error %+v", fe)
	}
}

// A claim path field of the wrong type is reported once (not also as
// "user_allowed_roles must be provided"), and does not hide the file's
// other errors.
func TestJWTClaimPathsTypeError(t *testing.T) {
	const in = jwtBase + `    user_roles_jwt_field: &m {a: b}
    roles_jwt_field: [roles, *m]
    leeway_seconds: 600
  role_permissions: [{role: admin}]
`
	_, err := Parse([]byte(in))
	want := `config: general_settings.litellm_jwtauth.user_roles_jwt_field: expected a string or a list of strings, got a mapping (line 4)
config: general_settings.litellm_jwtauth.roles_jwt_field[1]: expected a string, got a mapping (line 4)
config: general_settings.litellm_jwtauth.leeway_seconds: must be between 0 and 300 (seconds) (line 6)
config: general_settings.role_permissions[0].role: "admin" is not an RBAC role: use one of proxy_admin, team, internal_user (line 7)`
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
}

func TestJWTSeedRBAC(t *testing.T) {
	f := mustLoad(t, "testdata/valid/litellm_jwt_rbac.yaml")
	g := f.GeneralSettings
	a := g.LiteLLMJWTAuth
	if !g.EnableJWTAuth || g.EnforceRBAC || !a.EnforceRBAC {
		t.Errorf("enable_jwt_auth %v, general enforce_rbac %v, litellm_jwtauth.enforce_rbac %v", g.EnableJWTAuth, g.EnforceRBAC, a.EnforceRBAC)
	}
	if !slices.Equal(a.UserRolesJWTField, events.ClaimPaths{"resource_access.litellm-test-client-id.roles"}) {
		t.Errorf("user_roles_jwt_field = %q", a.UserRolesJWTField)
	}
	if !slices.Equal(a.UserAllowedRoles, []string{"basic_user"}) {
		t.Errorf("user_allowed_roles = %q", a.UserAllowedRoles)
	}
	want := []events.RolePermission{{Role: events.RoleInternalUser, Models: []string{"anthropic-claude"}}}
	if !reflect.DeepEqual(g.RolePermissions, want) {
		t.Errorf("role_permissions = %+v", g.RolePermissions)
	}
	if w := f.Warnings(); len(w) != 0 {
		t.Errorf("warnings %q", w)
	}
	s, err := f.JWTSettings(noEnv, time.Unix(5, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.PublicKeyURLs, []string{"https://login.microsoftonline.com/my-tenant/discovery/v2.0/keys"}) {
		t.Errorf("public key URLs %q", s.PublicKeyURLs)
	}
	if !reflect.DeepEqual(s.RolePermissions, want) {
		t.Errorf("settings role_permissions = %+v", s.RolePermissions)
	}
}

func TestJWTSeedRoleMappings(t *testing.T) {
	f := mustLoad(t, "testdata/valid/litellm_jwt_role_mappings.yaml")
	a := f.GeneralSettings.LiteLLMJWTAuth
	if a.ObjectIDJWTField != "oid" || !slices.Equal(a.RolesJWTField, events.ClaimPaths{"roles"}) || !a.EnforceRBAC {
		t.Errorf("litellm_jwtauth %+v", a)
	}
	if want := []events.RoleMapping{{Role: "litellm.api.consumer", InternalRole: events.RoleTeam}}; !reflect.DeepEqual(a.RoleMappings, want) {
		t.Errorf("role_mappings = %+v", a.RoleMappings)
	}
	want := []events.RolePermission{{Role: events.RoleTeam, Models: []string{"anthropic-claude"}, Routes: []string{"/v1/chat/completions"}}}
	if !reflect.DeepEqual(f.GeneralSettings.RolePermissions, want) {
		t.Errorf("role_permissions = %+v", f.GeneralSettings.RolePermissions)
	}
	// The seed relies on the environment for the key URL and on
	// environment_variables for the audience, as LiteLLM's docs do.
	if _, err := f.JWTSettings(noEnv, time.Now()); err == nil || !strings.Contains(err.Error(), "no key source") {
		t.Fatalf("without JWT_PUBLIC_KEY_URL: %v", err)
	}
	s, err := f.JWTSettings(env(map[string]string{EnvJWTPublicKeyURL: "https://login.microsoftonline.com/t/discovery/v2.0/keys"}), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if s.Audience != "api://LiteLLM_Proxy" || s.Issuer != "" {
		t.Errorf("audience %q issuer %q", s.Audience, s.Issuer)
	}
}

func TestJWTSeedScopes(t *testing.T) {
	f := mustLoad(t, "testdata/valid/litellm_jwt_scopes.yaml")
	a := f.GeneralSettings.LiteLLMJWTAuth
	want := []events.ScopeMapping{
		{Scope: "litellm.api.consumer", Models: []string{"anthropic-claude"}},
		{Scope: "litellm.api.gpt_3_5_turbo", Models: []string{"gpt-3.5-turbo-testing"}},
	}
	if !reflect.DeepEqual(a.ScopeMappings, want) || !a.EnforceScopeBasedAccess || a.TeamIDJWTField != "client_id" || !a.TeamIDUpsert {
		t.Errorf("litellm_jwtauth %+v", a)
	}
}

func TestJWTSeedCustomValidate(t *testing.T) {
	f := mustLoad(t, "testdata/valid/litellm_jwt_custom_validate.yaml")
	a := f.GeneralSettings.LiteLLMJWTAuth
	if a.UserIDJWTField != "sub" || a.TeamIDJWTField != "tenant_id" || !a.UserIDUpsert {
		t.Errorf("litellm_jwtauth %+v", a)
	}
	prg, err := celrule.Compile(a.CustomValidate)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		claims  string
		want    bool
		wantErr bool
	}{
		// The docs' "Expected JWT", which their function rejects.
		{`{"sub": "my-unique-user", "tenant_id": "INVALID_TENANT", "claims": ["proxy-admin"]}`, false, false},
		{`{"sub": "my-unique-user", "tenant_id": "my-unique-tenant", "claims": ["proxy-admin"]}`, true, false},
		{`{"sub": "my-unique-user", "tenant_id": "my-unique-tenant", "claims": ["viewer"]}`, false, false},
		// A missing claim is an evaluation error, which callers treat as
		// a failed check.
		{`{"sub": "my-unique-user"}`, false, true},
	} {
		var claims map[string]any
		if err := json.Unmarshal([]byte(tc.claims), &claims); err != nil {
			t.Fatal(err)
		}
		out, _, err := prg.Eval(map[string]any{"claims": claims})
		if tc.wantErr {
			if err == nil {
				t.Errorf("%s: no error, got %v", tc.claims, out)
			}
			continue
		}
		if err != nil || out.Value() != tc.want {
			t.Errorf("%s: got %v, %v; want %v", tc.claims, out, err, tc.want)
		}
	}
}

func TestJWTIssuersConfig(t *testing.T) {
	f := mustLoad(t, "testdata/valid/jwt_issuers.yaml")
	a := f.GeneralSettings.LiteLLMJWTAuth
	if !slices.Equal(a.RolesJWTField, events.ClaimPaths{"roles", "realm_access.roles", "groups"}) {
		t.Errorf("roles_jwt_field (list) = %q", a.RolesJWTField)
	}
	if !slices.Equal(a.ScopesJWTField, events.ClaimPaths{"scp"}) {
		t.Errorf("scopes_jwt_field = %q", a.ScopesJWTField)
	}
	if len(a.Issuers) != 3 {
		t.Fatalf("%d issuers", len(a.Issuers))
	}
	if got := a.Issuers[1].RolesJWTField; !slices.Equal(got, events.ClaimPaths{"resource_access.gatehouse.roles", "realm_access.roles"}) {
		t.Errorf("issuers[1].roles_jwt_field (CSV) = %q", got)
	}
	if got := a.Issuers[2].UserIDJWTField; got != `kubernetes\.io.serviceaccount.name` {
		t.Errorf("issuers[2].user_id_jwt_field = %q", got)
	}
	// Issuers are a key source of their own.
	s, err := f.JWTSettings(noEnv, time.Unix(7, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Enabled || !s.EnforceRBAC || len(s.PublicKeyURLs) != 0 || s.Auth.LeewaySeconds != 30 || s.Auth.PublicKeyStaleTTL == nil || *s.Auth.PublicKeyStaleTTL != 900 {
		t.Errorf("settings %+v", s)
	}
	if err := ValidateJWTSettings(s); err != nil {
		t.Errorf("ValidateJWTSettings rejects what JWTSettings produced: %v", err)
	}
}

func TestClaimPathsForms(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want events.ClaimPaths
	}{
		{`roles`, events.ClaimPaths{"roles"}},
		{`"resource_access.litellm-test-client-id.roles"`, events.ClaimPaths{"resource_access.litellm-test-client-id.roles"}},
		{`"roles, realm_access.roles,groups"`, events.ClaimPaths{"roles", "realm_access.roles", "groups"}},
		{`"roles,,"`, events.ClaimPaths{"roles"}},
		{`[roles, realm_access.roles]`, events.ClaimPaths{"roles", "realm_access.roles"}},
		{"\n      - roles\n      - groups", events.ClaimPaths{"roles", "groups"}},
		{`'kubernetes\.io.namespace'`, events.ClaimPaths{`kubernetes\.io.namespace`}},
		{`~`, nil},
		{`""`, nil},
	} {
		in := jwtBase + "    roles_jwt_field: " + tc.yaml + "\n"
		f, err := Parse([]byte(in))
		if err != nil {
			t.Errorf("%s: %v", tc.yaml, err)
			continue
		}
		if got := f.GeneralSettings.LiteLLMJWTAuth.RolesJWTField; !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.yaml, got, tc.want)
		}
	}
}

func TestClaimPathSyntax(t *testing.T) {
	for p, ok := range map[string]bool{
		"sub":                      true,
		"realm_access.roles":       true,
		`kubernetes\.io.namespace`: true,
		`a\b`:                      true, // a backslash escapes only a dot
		`a\.`:                      true, // the segment is "a."
		"a b.c":                    true,
		"":                         false,
		".":                        false,
		"a.":                       false,
		".a":                       false,
		"a..b":                     false,
		`a\`:                       false,
		`a.\`:                      false,
		" a":                       false,
	} {
		if got := claimPathError(p) == ""; got != ok {
			t.Errorf("claimPathError(%q) = %q, want ok=%v", p, claimPathError(p), ok)
		}
	}
}

func noEnv(string) string { return "" }

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestJWTSettingsEnvironment(t *testing.T) {
	const file = `general_settings:
  enable_jwt_auth: true
environment_variables:
  JWT_PUBLIC_KEY_URL: "https://file.example.com/keys"
  JWT_AUDIENCE: file-audience
`
	f := mustParse(t, file)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	// environment_variables alone.
	s, err := f.JWTSettings(noEnv, now)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.PublicKeyURLs, []string{"https://file.example.com/keys"}) || s.Audience != "file-audience" || s.Issuer != "" {
		t.Errorf("from the file: %+v", s)
	}
	if s.ID != events.JWTSettingsID || !s.Enabled || !s.UpdatedAt.Equal(now) {
		t.Errorf("id %q enabled %v updated %v", s.ID, s.Enabled, s.UpdatedAt)
	}

	// The process environment wins, variable by variable; its key URL
	// list is split, trimmed and emptied of blanks.
	s, err = f.JWTSettings(env(map[string]string{
		EnvJWTPublicKeyURL: " https://a.example.com/.well-known/openid-configuration , ,https://b.example.com/jwks,",
		EnvJWTIssuer:       "https://a.example.com",
	}), now)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://a.example.com/.well-known/openid-configuration", "https://b.example.com/jwks"}; !slices.Equal(s.PublicKeyURLs, want) {
		t.Errorf("key URLs %q, want %q", s.PublicKeyURLs, want)
	}
	if s.Audience != "file-audience" || s.Issuer != "https://a.example.com" {
		t.Errorf("audience %q issuer %q", s.Audience, s.Issuer)
	}
	s, err = f.JWTSettings(env(map[string]string{EnvJWTAudience: "process-audience"}), now)
	if err != nil || s.Audience != "process-audience" || s.PublicKeyURLs[0] != "https://file.example.com/keys" {
		t.Errorf("process audience: %+v, %v", s, err)
	}

	// A bad URL from the process environment is named as such.
	_, err = f.JWTSettings(env(map[string]string{EnvJWTPublicKeyURL: "https://a.example.com/keys,keys.json"}), now)
	if err == nil || err.Error() != "config: JWT_PUBLIC_KEY_URL: entry 2 must be an absolute http(s) URL (a JWKS or an OIDC discovery document)" {
		t.Errorf("bad process URL: %v", err)
	}
	_, err = f.JWTSettings(env(map[string]string{EnvJWTIssuer: "https://a.example.com "}), now)
	if err == nil || err.Error() != "config: JWT_ISSUER: must not start or end with whitespace" {
		t.Errorf("padded process issuer: %v", err)
	}

	// No key source anywhere: the error has enable_jwt_auth's line, as
	// `gatehouse check` prints every error (LiteLLM's token_auth.md
	// sets it in config.yaml and JWT_PUBLIC_KEY_URL in the shell).
	bare := mustParse(t, "general_settings:\n  enable_jwt_auth: true\n")
	_, err = bare.JWTSettings(noEnv, now)
	if err == nil || err.Error() != "config: general_settings.enable_jwt_auth: enable_jwt_auth is set but no key source: set JWT_PUBLIC_KEY_URL or litellm_jwtauth.issuers (line 2)" {
		t.Errorf("no key source: %v", err)
	}
	// A value of only commas is no key source either.
	if _, err := bare.JWTSettings(env(map[string]string{EnvJWTPublicKeyURL: " , "}), now); err == nil {
		t.Error("JWT_PUBLIC_KEY_URL of only commas accepted")
	}
	if s, err := bare.JWTSettings(env(map[string]string{EnvJWTPublicKeyURL: "https://k.example.com"}), now); err != nil || len(s.PublicKeyURLs) != 1 {
		t.Errorf("process key URL: %+v, %v", s, err)
	}

	// nil getenv reads the process environment.
	t.Setenv(EnvJWTPublicKeyURL, "https://env.example.com/keys")
	if s, err := bare.JWTSettings(nil, now); err != nil || !slices.Equal(s.PublicKeyURLs, []string{"https://env.example.com/keys"}) {
		t.Errorf("nil getenv: %+v, %v", s, err)
	}
}

func TestJWTSettingsNotConfigured(t *testing.T) {
	for _, in := range []string{
		"",
		okEntry,
		"general_settings:\n  enable_jwt_auth: false\n",
		"general_settings:\n  litellm_jwtauth: {}\n",
		// role_permissions and enforce_rbac alone do not configure JWT
		// auth.
		"general_settings:\n  enforce_rbac: true\n  role_permissions: [{role: team, models: [a]}]\n",
	} {
		f, err := Parse([]byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if s, err := f.JWTSettings(noEnv, time.Now()); s != nil || err != nil {
			t.Errorf("%q: got %+v, %v; want nil, nil", in, s, err)
		}
	}
}

// litellm_jwtauth without enable_jwt_auth is published disabled (so a
// running edge turns JWT auth off) and needs no key source.
func TestJWTSettingsDisabled(t *testing.T) {
	s := parseJWTSettings(t, "general_settings:\n  litellm_jwtauth:\n    user_id_jwt_field: sub\n")
	if s.Enabled || s.Auth.UserIDJWTField != "sub" {
		t.Errorf("settings %+v", s)
	}
}

func TestJWTSettingsValidatesFile(t *testing.T) {
	f := &File{GeneralSettings: GeneralSettings{
		EnableJWTAuth:   true,
		RolePermissions: []events.RolePermission{{Role: "root"}},
	}}
	_, err := f.JWTSettings(env(map[string]string{EnvJWTPublicKeyURL: "https://k.example.com"}), time.Now())
	if err == nil || err.Error() != `config: general_settings.role_permissions[0].role: "root" is not an RBAC role: use one of proxy_admin, team, internal_user` {
		t.Errorf("err = %v", err)
	}
}

func TestJWTSettingsDefaults(t *testing.T) {
	f := mustParse(t, jwtBase+"    user_id_jwt_field: sub\n    public_key_ttl: 0\n    team_allowed_routes: []\n    issuers: [{issuer: 'https://i.example.com', audience: a}]\n")
	s, err := f.JWTSettings(noEnv, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	a := s.Auth
	if a.AdminJWTScope != "litellm_proxy_admin" || a.PublicKeyTTL != 600 || (a.PublicKeyStaleTTL == nil || *a.PublicKeyStaleTTL != 3600) || a.LeewaySeconds != 0 {
		t.Errorf("defaults: %+v", a)
	}
	if !slices.Equal(a.AdminAllowedRoutes, events.DefaultAdminAllowedRoutes) {
		t.Errorf("admin_allowed_routes = %q", a.AdminAllowedRoutes)
	}
	// An explicit empty list is kept: the team may call no route.
	if a.TeamAllowedRoutes == nil || len(a.TeamAllowedRoutes) != 0 {
		t.Errorf("team_allowed_routes = %#v", a.TeamAllowedRoutes)
	}
	if f.GeneralSettings.LiteLLMJWTAuth.AdminJWTScope != "" {
		t.Error("JWTSettings changed the File")
	}

	// The event shares no memory with the File or the package defaults.
	before := slices.Clone(events.DefaultAdminAllowedRoutes)
	s.Auth.AdminAllowedRoutes[0] = "changed"
	s.Auth.Issuers[0].Audience = "changed"
	if !slices.Equal(events.DefaultAdminAllowedRoutes, before) {
		events.DefaultAdminAllowedRoutes = before
		t.Fatal("the event aliases events.DefaultAdminAllowedRoutes")
	}
	if f.GeneralSettings.LiteLLMJWTAuth.Issuers[0].Audience != "a" {
		t.Error("the event aliases the File's issuers")
	}
}

func TestJWTWarnings(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{okEntry, nil},
		{"general_settings:\n  enable_jwt_auth: true\n  litellm_jwtauth: {user_id_jwt_field: sub}\n", nil},
		{"general_settings:\n  litellm_jwtauth:\n    user_id_jwt_field: sub\n", []string{
			"general_settings.litellm_jwtauth: ignored because general_settings.enable_jwt_auth is not true",
		}},
		{"general_settings:\n  enable_jwt_auth: false\n  litellm_jwtauth: {enforce_rbac: true}\n  role_permissions: [{role: team}]\n", []string{
			"general_settings.litellm_jwtauth: ignored because general_settings.enable_jwt_auth is not true",
			"general_settings.role_permissions: ignored because general_settings.enable_jwt_auth is not true",
		}},
		{jwtBase + "    user_allowed_roles: [a]\n    role_mappings: [{role: a, internal_role: team}]\n  role_permissions: [{role: team}]\n", []string{
			"general_settings.litellm_jwtauth.user_allowed_roles: has no effect without user_roles_jwt_field (the claim holding the token's roles)",
			"general_settings.litellm_jwtauth.role_mappings: has no effect without roles_jwt_field (the claim holding the token's roles)",
			"general_settings.role_permissions: only applied with litellm_jwtauth.enforce_rbac: true",
		}},
	} {
		f, err := Parse([]byte(tc.in))
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if got := f.Warnings(); !slices.Equal(got, tc.want) {
			t.Errorf("%q:\ngot  %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestValidateJWTSettings(t *testing.T) {
	ok := &events.JWTSettings{
		ID:            events.JWTSettingsID,
		Enabled:       true,
		PublicKeyURLs: []string{"https://idp.example.com/jwks"},
		Auth: events.JWTAuth{
			UserRolesJWTField: events.ClaimPaths{"resource_access.litellm-test-client-id.roles"},
			UserAllowedRoles:  []string{"basic_user"},
			EnforceRBAC:       true,
		},
		RolePermissions: []events.RolePermission{{Role: events.RoleInternalUser, Models: []string{"anthropic-claude"}}},
	}
	if err := ValidateJWTSettings(ok); err != nil {
		t.Fatal(err)
	}
	// Defaults applied or not, and no id yet, are both fine.
	withDefaults := *ok
	withDefaults.ID = ""
	withDefaults.Auth = ok.Auth.WithDefaults()
	if err := ValidateJWTSettings(&withDefaults); err != nil {
		t.Fatal(err)
	}

	bad := &events.JWTSettings{
		ID:            "other",
		Enabled:       true,
		PublicKeyURLs: []string{"https://idp.example.com/jwks", "jwks.json"},
		Audience:      " api://x",
		Auth: events.JWTAuth{
			ObjectIDJWTField: "oid",
			ScopeMappings:    []events.ScopeMapping{{Scope: "s"}},
			LeewaySeconds:    -1,
			CustomValidate:   "custom_validate.my_custom_validate",
			Issuers: []events.IssuerConfig{
				{Issuer: "https://a.example.com", Audience: "x", DisableAudienceValidation: true},
				{Issuer: "https://a.example.com", DisableAudienceValidation: true, JWKSURL: "ftp://a.example.com/keys"},
			},
		},
		RolePermissions: []events.RolePermission{{Role: "team"}, {Role: "team"}},
	}
	err := ValidateJWTSettings(bad)
	want := `id: must be "jwt" (there is one JWT settings object)
public_key_urls[1]: must be an absolute http(s) URL (a JWKS or an OIDC discovery document)
audience: must not start or end with whitespace
litellm_jwtauth.leeway_seconds: must be between 0 and 300 (seconds)
litellm_jwtauth.object_id_jwt_field: if object_id_jwt_field is set, role_mappings must also be set. Needed to infer if the caller is a user or team.
litellm_jwtauth.scope_mappings: scope_mappings are only enforced with enforce_scope_based_access: true
litellm_jwtauth.custom_validate: custom_validate is a CEL expression over claims (e.g. claims.tenant_id in ["my-unique-tenant"]); Python import paths are not supported
litellm_jwtauth.issuers[0].disable_audience_validation: cannot set audience and disable_audience_validation: true together
litellm_jwtauth.issuers[1].issuer: "https://a.example.com" is already configured by issuers[0]
litellm_jwtauth.issuers[1].jwks_url: must be an absolute http(s) URL (a JWKS or an OIDC discovery document)
role_permissions[1].role: "team" is already configured by role_permissions[0]`
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}

	noKeys := &events.JWTSettings{Enabled: true, Auth: events.JWTAuth{Issuers: []events.IssuerConfig{{Issuer: "https://a.example.com"}}}}
	err = ValidateJWTSettings(noKeys)
	if err == nil || err.Error() != "litellm_jwtauth.issuers[0].audience: must configure audience or set disable_audience_validation: true" {
		t.Errorf("issuer without audience: %v", err)
	}
	err = ValidateJWTSettings(&events.JWTSettings{Enabled: true})
	if err == nil || err.Error() != "enable_jwt_auth: enable_jwt_auth is set but no key source: set public_key_urls or litellm_jwtauth.issuers" {
		t.Errorf("no key source: %v", err)
	}
	// Disabled settings need no key source.
	if err := ValidateJWTSettings(&events.JWTSettings{}); err != nil {
		t.Errorf("disabled: %v", err)
	}
	if err := ValidateJWTSettings(nil); err == nil {
		t.Error("nil accepted")
	}

	// The admin API decodes JSON; claim paths may be a string or a list
	// there too, and the same rules apply.
	var fromJSON events.JWTSettings
	body := `{"enable_jwt_auth": true, "public_key_urls": ["https://k.example.com"],
		"litellm_jwtauth": {"roles_jwt_field": "roles,groups", "team_ids_jwt_field": ["a..b"]}}`
	if err := json.Unmarshal([]byte(body), &fromJSON); err != nil {
		t.Fatal(err)
	}
	err = ValidateJWTSettings(&fromJSON)
	if err == nil || err.Error() != `litellm_jwtauth.team_ids_jwt_field: claim path "a..b" has an empty segment (segments are separated by "."; write "\." for a literal dot)` {
		t.Errorf("from JSON: %v", err)
	}
}

// The commented-out JWT block in the built-in example is a working config
// once uncommented.
func TestExampleJWTBlock(t *testing.T) {
	var out []string
	on := false
	for _, l := range strings.Split(string(Default()), "\n") {
		if strings.HasPrefix(l, "  # enable_jwt_auth:") {
			on = true
		}
		if rest, ok := strings.CutPrefix(l, "  # "); on && ok {
			l = "  " + rest
		} else {
			on = false
		}
		out = append(out, l)
	}
	in := strings.Join(out, "\n")
	if !strings.Contains(in, "\n  enable_jwt_auth: true\n") {
		t.Fatal("no JWT block in the example")
	}
	f := mustParse(t, in)
	s, err := f.JWTSettings(noEnv, time.Now())
	if err != nil || !s.Enabled || len(s.Auth.Issuers) != 1 || s.Auth.CustomValidate == "" {
		t.Fatalf("settings %+v, %v", s, err)
	}
}

// TestJWT2026Fields: LiteLLM's newer litellm_jwtauth fields are accepted
// and carried into the settings event.
func TestJWT2026Fields(t *testing.T) {
	s := parseJWTSettings(t, jwtBase+`    user_id_jwt_field: sub
    team_alias_jwt_field: team_alias
    org_alias_jwt_field: org.alias
    roles_jwt_field: roles
    team_ids_jwt_field: groups
    jwt_litellm_role_map: [{jwt_role: 'admin-*', litellm_role: proxy_admin}, {jwt_role: dev, litellm_role: internal_user}]
    sync_user_role_and_teams: true
    team_claim_fallback: true
    fallback_to_db_teams: true
    oidc_userinfo_enabled: true
    oidc_userinfo_endpoint: https://idp.example.com/userinfo
    oidc_userinfo_cache_ttl: 60
    issuers: [{issuer: 'https://i.example.com', audience: a}]
`)
	a := s.Auth
	if a.TeamAliasJWTField != "team_alias" || a.OrgAliasJWTField != "org.alias" || !a.SyncUserRoleAndTeams || !a.TeamClaimFallback || !a.FallbackToDBTeams ||
		!a.OIDCUserinfoEnabled || a.OIDCUserinfoEndpoint != "https://idp.example.com/userinfo" || a.OIDCUserinfoCacheTTL == nil || *a.OIDCUserinfoCacheTTL != 60 ||
		len(a.JWTLiteLLMRoleMap) != 2 || a.JWTLiteLLMRoleMap[0] != (events.JWTLiteLLMRoleMap{JWTRole: "admin-*", LiteLLMRole: "proxy_admin"}) {
		t.Fatalf("settings: %+v", a)
	}
	if err := ValidateJWTSettings(s); err != nil {
		t.Fatalf("POST /jwt/settings would refuse them: %v", err)
	}
}

// parseJWTSettings is the JWT settings of the config file doc, which must
// parse and give them without the environment.
func parseJWTSettings(t *testing.T, doc string) *events.JWTSettings {
	t.Helper()
	f := mustParse(t, doc)
	s, err := f.JWTSettings(noEnv, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestJWTPublicAllowedRoutesWarns: public_allowed_routes is a no-op in
// LiteLLM and here; it is accepted with a warning saying it opens nothing,
// not silently (audit finding 7).
func TestJWTPublicAllowedRoutesWarns(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"set", jwtBase + "    public_allowed_routes: [\"/v1/models\"]\n",
			"general_settings.litellm_jwtauth.public_allowed_routes: accepted and ignored, as in LiteLLM (which declares it but never reads it): it opens no route"},
		{"not set", jwtBase + "    team_id_jwt_field: client_id\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(f.Warnings(), "\n")
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("warnings %q, want %q", got, tc.want)
			}
		})
	}
}

// TestJWTEnforceScopesWithoutMappingsWarns: LiteLLM starts with
// enforce_scope_based_access: true and no scope_mappings and skips the
// scope check; so does gatehouse, with a warning saying so (audit
// finding 8), in the config file and in POST /jwt/settings.
func TestJWTEnforceScopesWithoutMappingsWarns(t *testing.T) {
	f, err := Parse([]byte(jwtBase + "    enforce_scope_based_access: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := "general_settings.litellm_jwtauth.enforce_scope_based_access: without scope_mappings no scope check runs"
	if got := strings.Join(f.Warnings(), "\n"); !strings.Contains(got, want) {
		t.Errorf("warnings %q, want %q", got, want)
	}
	s := &events.JWTSettings{ID: events.JWTSettingsID, Enabled: true, PublicKeyURLs: []string{"https://idp.example/jwks"},
		Auth: events.JWTAuth{EnforceScopeBasedAccess: true}}
	if err := ValidateJWTSettings(s); err != nil {
		t.Errorf("POST /jwt/settings body refused: %v", err)
	}
}
