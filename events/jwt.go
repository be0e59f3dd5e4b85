package events

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// JWTSettingsID is the id of the one JWT settings object.
const JWTSettingsID = "jwt"

// JWTSettings is everything that governs JWT/OIDC auth: LiteLLM's
// general_settings.enable_jwt_auth, litellm_jwtauth, role_permissions,
// enforce_rbac and the JWT_* environment variables, folded into one object
// that is an event like any other, so a change reaches every edge without a
// restart.
type JWTSettings struct {
	ID      string `json:"id"`
	Enabled bool   `json:"enable_jwt_auth"`
	// PublicKeyURLs is JWT_PUBLIC_KEY_URL split on commas: JWKS URLs, or
	// OIDC discovery documents (".well-known/openid-configuration"),
	// tried in order for tokens whose issuer has no entry in Auth.Issuers.
	PublicKeyURLs []string `json:"public_key_urls"`
	// Audience is JWT_AUDIENCE: "" skips the audience check.
	Audience string `json:"audience,omitempty"`
	// Issuer is JWT_ISSUER: "" skips the issuer check.
	Issuer string `json:"issuer,omitempty"`
	// EnforceRBAC is general_settings.enforce_rbac (LiteLLM reads this one,
	// not litellm_jwtauth.enforce_rbac, for "token must carry a user or
	// team id").
	EnforceRBAC     bool             `json:"enforce_rbac"`
	Auth            JWTAuth          `json:"litellm_jwtauth"`
	RolePermissions []RolePermission `json:"role_permissions"`
	UpdatedAt       time.Time        `json:"updated_at"`
}

// JWTAuth is litellm_jwtauth. Claim paths use dot notation with "\." for a
// literal dot ("resource_access.litellm-test-client-id.roles").
type JWTAuth struct {
	AdminJWTScope          string     `json:"admin_jwt_scope" yaml:"admin_jwt_scope"`
	AdminAllowedRoutes     []string   `json:"admin_allowed_routes" yaml:"admin_allowed_routes"`
	TeamIDJWTField         string     `json:"team_id_jwt_field,omitempty" yaml:"team_id_jwt_field"`
	TeamIDsJWTField        ClaimPaths `json:"team_ids_jwt_field,omitempty" yaml:"team_ids_jwt_field"`
	TeamIDDefault          string     `json:"team_id_default,omitempty" yaml:"team_id_default"`
	TeamIDUpsert           bool       `json:"team_id_upsert" yaml:"team_id_upsert"`
	TeamAllowedRoutes      []string   `json:"team_allowed_routes" yaml:"team_allowed_routes"`
	UserIDJWTField         string     `json:"user_id_jwt_field,omitempty" yaml:"user_id_jwt_field"`
	UserEmailJWTField      string     `json:"user_email_jwt_field,omitempty" yaml:"user_email_jwt_field"`
	UserAllowedEmailDomain string     `json:"user_allowed_email_domain,omitempty" yaml:"user_allowed_email_domain"`
	UserIDUpsert           bool       `json:"user_id_upsert" yaml:"user_id_upsert"`
	OrgIDJWTField          string     `json:"org_id_jwt_field,omitempty" yaml:"org_id_jwt_field"`
	EndUserIDJWTField      string     `json:"end_user_id_jwt_field,omitempty" yaml:"end_user_id_jwt_field"`
	PublicKeyTTL           float64    `json:"public_key_ttl" yaml:"public_key_ttl"`
	// PublicKeyStaleTTL: nil means the default (3600 s); 0 fails closed as
	// soon as the key TTL passes while the provider is unreachable.
	PublicKeyStaleTTL           *float64       `json:"public_key_stale_ttl" yaml:"public_key_stale_ttl"`
	PublicAllowedRoutes         []string       `json:"public_allowed_routes,omitempty" yaml:"public_allowed_routes"`
	UserRolesJWTField           ClaimPaths     `json:"user_roles_jwt_field,omitempty" yaml:"user_roles_jwt_field"`
	UserAllowedRoles            []string       `json:"user_allowed_roles,omitempty" yaml:"user_allowed_roles"`
	EnforceRBAC                 bool           `json:"enforce_rbac" yaml:"enforce_rbac"`
	RolesJWTField               ClaimPaths     `json:"roles_jwt_field,omitempty" yaml:"roles_jwt_field"`
	ObjectIDJWTField            string         `json:"object_id_jwt_field,omitempty" yaml:"object_id_jwt_field"`
	RoleMappings                []RoleMapping  `json:"role_mappings,omitempty" yaml:"role_mappings"`
	ScopeMappings               []ScopeMapping `json:"scope_mappings,omitempty" yaml:"scope_mappings"`
	EnforceScopeBasedAccess     bool           `json:"enforce_scope_based_access" yaml:"enforce_scope_based_access"`
	EnforceTeamBasedModelAccess bool           `json:"enforce_team_based_model_access" yaml:"enforce_team_based_model_access"`
	CustomValidate              string         `json:"custom_validate,omitempty" yaml:"custom_validate"`
	Issuers                     []IssuerConfig `json:"issuers,omitempty" yaml:"issuers"`
	LeewaySeconds               float64        `json:"leeway_seconds" yaml:"leeway_seconds"`
	AllowTokensWithoutExpiry    bool           `json:"allow_tokens_without_expiry" yaml:"allow_tokens_without_expiry"`
	ScopesJWTField              ClaimPaths     `json:"scopes_jwt_field,omitempty" yaml:"scopes_jwt_field"`
	// TeamAliasJWTField and OrgAliasJWTField name claims holding a team's
	// or an organization's alias, resolved in the snapshot; the id field
	// wins when both are present (LiteLLM 2026).
	TeamAliasJWTField string `json:"team_alias_jwt_field,omitempty" yaml:"team_alias_jwt_field"`
	OrgAliasJWTField  string `json:"org_alias_jwt_field,omitempty" yaml:"org_alias_jwt_field"`
	// JWTLiteLLMRoleMap maps token roles (roles_jwt_field; shell patterns)
	// to a stored user_role; used by SyncUserRoleAndTeams.
	JWTLiteLLMRoleMap []JWTLiteLLMRoleMap `json:"jwt_litellm_role_map,omitempty" yaml:"jwt_litellm_role_map"`
	// SyncUserRoleAndTeams sets the stored user_role from
	// JWTLiteLLMRoleMap and the user's team memberships from the team
	// claims (team_ids_jwt_field and team_id_jwt_field) on each request.
	SyncUserRoleAndTeams bool `json:"sync_user_role_and_teams" yaml:"sync_user_role_and_teams"`
	// TeamClaimFallback: a team claim that names no existing team falls
	// back to the user's one stored team instead of 404/403.
	TeamClaimFallback bool `json:"team_claim_fallback" yaml:"team_claim_fallback"`
	// FallbackToDBTeams: a token with no team claim at all uses the
	// user's stored team memberships (group selection, and the
	// x-litellm-team-id header checked against them).
	FallbackToDBTeams bool `json:"fallback_to_db_teams" yaml:"fallback_to_db_teams"`
	// OIDCUserinfoEnabled reads the claims of a bearer that is not
	// JWT-shaped (an opaque access token) from OIDCUserinfoEndpoint,
	// cached per sha256 of the token for OIDCUserinfoCacheTTL seconds
	// (nil: 300).
	OIDCUserinfoEnabled  bool     `json:"oidc_userinfo_enabled" yaml:"oidc_userinfo_enabled"`
	OIDCUserinfoEndpoint string   `json:"oidc_userinfo_endpoint,omitempty" yaml:"oidc_userinfo_endpoint"`
	OIDCUserinfoCacheTTL *float64 `json:"oidc_userinfo_cache_ttl,omitempty" yaml:"oidc_userinfo_cache_ttl"`
}

// JWTLiteLLMRoleMap is one entry of jwt_litellm_role_map.
type JWTLiteLLMRoleMap struct {
	// JWTRole is a shell pattern (fnmatch: * ? [..]) over token roles.
	JWTRole string `json:"jwt_role" yaml:"jwt_role"`
	// LiteLLMRole is a LitellmUserRoles value.
	LiteLLMRole string `json:"litellm_role" yaml:"litellm_role"`
}

// LiteLLMUserRoles are the stored user roles (LitellmUserRoles).
var LiteLLMUserRoles = []string{"proxy_admin", "proxy_admin_viewer", "org_admin", "internal_user", "internal_user_viewer", "team", "customer"}

// DefaultOIDCUserinfoCacheTTL is in seconds.
const DefaultOIDCUserinfoCacheTTL = 300

// IssuerConfig is one entry of litellm_jwtauth.issuers: an identity
// provider with its own keys, audience and claim mapping, chosen by the
// token's exact "iss".
type IssuerConfig struct {
	Issuer                    string `json:"issuer" yaml:"issuer"`
	Audience                  string `json:"audience,omitempty" yaml:"audience"`
	DisableAudienceValidation bool   `json:"disable_audience_validation,omitempty" yaml:"disable_audience_validation"`
	// JWKSURL is a JWKS URL or an OIDC discovery URL; empty means
	// <issuer>/.well-known/openid-configuration.
	JWKSURL           string     `json:"jwks_url,omitempty" yaml:"jwks_url"`
	TeamIDJWTField    string     `json:"team_id_jwt_field,omitempty" yaml:"team_id_jwt_field"`
	TeamIDsJWTField   ClaimPaths `json:"team_ids_jwt_field,omitempty" yaml:"team_ids_jwt_field"`
	UserIDJWTField    string     `json:"user_id_jwt_field,omitempty" yaml:"user_id_jwt_field"`
	UserEmailJWTField string     `json:"user_email_jwt_field,omitempty" yaml:"user_email_jwt_field"`
	OrgIDJWTField     string     `json:"org_id_jwt_field,omitempty" yaml:"org_id_jwt_field"`
	EndUserIDJWTField string     `json:"end_user_id_jwt_field,omitempty" yaml:"end_user_id_jwt_field"`
	RolesJWTField     ClaimPaths `json:"roles_jwt_field,omitempty" yaml:"roles_jwt_field"`
}

// RoleMapping maps a token role to an RBAC role.
type RoleMapping struct {
	Role         string `json:"role" yaml:"role"`
	InternalRole string `json:"internal_role" yaml:"internal_role"`
}

// ScopeMapping grants models (and routes) to a token scope.
type ScopeMapping struct {
	Scope  string   `json:"scope" yaml:"scope"`
	Models []string `json:"models,omitempty" yaml:"models"`
	Routes []string `json:"routes,omitempty" yaml:"routes"`
}

// RolePermission is one entry of general_settings.role_permissions.
type RolePermission struct {
	Role   string   `json:"role" yaml:"role"`
	Models []string `json:"models,omitempty" yaml:"models"`
	Routes []string `json:"routes,omitempty" yaml:"routes"`
}

// The RBAC roles.
const (
	RoleProxyAdmin   = "proxy_admin"
	RoleTeam         = "team"
	RoleInternalUser = "internal_user"
)

// ClaimPaths is one claim path or several (roles spread over "roles",
// "realm_access.roles" and "groups", LiteLLM #20001). In YAML and JSON it is
// a string (comma-separated paths allowed) or a list of strings.
type ClaimPaths []string

func splitPaths(s string) ClaimPaths {
	var out ClaimPaths
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// UnmarshalJSON accepts a string or a list.
func (c *ClaimPaths) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*c = splitPaths(s)
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("claim path: want a string or a list of strings")
	}
	*c = l
	return nil
}

// UnmarshalYAML accepts a string or a list.
func (c *ClaimPaths) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*c = splitPaths(n.Value)
		return nil
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		*c = l
		return nil
	}
	return fmt.Errorf("claim path: want a string or a list of strings")
}

// Defaults, as LiteLLM's (2026) where it has one.
var (
	DefaultAdminJWTScope      = "litellm_proxy_admin"
	DefaultAdminAllowedRoutes = []string{"management_routes", "spend_tracking_routes", "global_spend_tracking_routes", "info_routes"}
	DefaultTeamAllowedRoutes  = []string{"openai_routes", "info_routes", "mcp_routes", "/v1/messages", "/v1/messages/count_tokens"}
)

// DefaultPublicKeyTTL and DefaultPublicKeyStaleTTL are in seconds.
const (
	DefaultPublicKeyTTL      = 600
	DefaultPublicKeyStaleTTL = 3600
)

// WithDefaults returns a copy with LiteLLM's defaults filled in where a
// field was left empty.
func (a JWTAuth) WithDefaults() JWTAuth {
	if a.AdminJWTScope == "" {
		a.AdminJWTScope = DefaultAdminJWTScope
	}
	if a.AdminAllowedRoutes == nil {
		a.AdminAllowedRoutes = DefaultAdminAllowedRoutes
	}
	if a.TeamAllowedRoutes == nil {
		a.TeamAllowedRoutes = DefaultTeamAllowedRoutes
	}
	if a.PublicKeyTTL == 0 {
		a.PublicKeyTTL = DefaultPublicKeyTTL
	}
	if a.PublicKeyStaleTTL == nil {
		v := float64(DefaultPublicKeyStaleTTL)
		a.PublicKeyStaleTTL = &v
	}
	return a
}
