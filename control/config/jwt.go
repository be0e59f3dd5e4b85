package config

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/auth/celrule"
	"github.com/gatehouse/gatehouse/auth/jwtauth"

	"github.com/gatehouse/gatehouse/events"
)

// JWT/OIDC auth: general_settings.enable_jwt_auth, litellm_jwtauth,
// role_permissions and enforce_rbac, plus the JWT_* environment variables.
// The rules are LiteLLM's (same fields, same defaults, its error messages
// where it has one), tightened where LiteLLM accepts a setting that can only
// fail later: a role that is not an RBAC role, an issuer configured twice, a
// scope mapping that is never enforced.

// The environment variables LiteLLM reads for JWT auth.
const (
	// EnvJWTPublicKeyURL is a comma-separated list of JWKS or OIDC
	// discovery URLs.
	EnvJWTPublicKeyURL = "JWT_PUBLIC_KEY_URL"
	// EnvJWTAudience is the expected "aud"; unset skips the check.
	EnvJWTAudience = "JWT_AUDIENCE"
	// EnvJWTIssuer is the expected "iss"; unset skips the check.
	EnvJWTIssuer = "JWT_ISSUER"
)

// MaxLeewaySeconds bounds litellm_jwtauth.leeway_seconds: clock skew
// tolerance beyond five minutes stops being tolerance.
const MaxLeewaySeconds = 300

var rbacRoles = []string{events.RoleProxyAdmin, events.RoleTeam, events.RoleInternalUser}

func validRBACRole(r string) bool { return slices.Contains(rbacRoles, r) }

func (f *File) validateJWT(v *validator) {
	g := &f.GeneralSettings
	validateJWTAuth(v, "general_settings.litellm_jwtauth", &g.LiteLLMJWTAuth)
	validateRolePermissions(v, "general_settings.role_permissions", g.RolePermissions)
	// Values given in environment_variables are checked here, where they
	// have a line; values from the process environment are checked by
	// JWTSettings, the only place that reads them.
	if raw, ok := f.EnvironmentVariables[EnvJWTPublicKeyURL]; ok {
		checkKeyURLList(v, "environment_variables."+EnvJWTPublicKeyURL, raw)
	}
	for _, k := range []string{EnvJWTAudience, EnvJWTIssuer} {
		checkPadded(v, "environment_variables."+k, f.EnvironmentVariables[k])
	}
}

// validateJWTAuth checks litellm_jwtauth at path p.
func validateJWTAuth(v *validator, p string, a *events.JWTAuth) {
	at := func(field string) string { return p + "." + field }

	if strings.ContainsFunc(a.AdminJWTScope, isSpace) {
		v.add(at("admin_jwt_scope"), "must not contain whitespace (a token's scopes are separated by spaces, so it could never match)")
	}
	checkRoutes(v, at("admin_allowed_routes"), a.AdminAllowedRoutes)
	checkRoutes(v, at("team_allowed_routes"), a.TeamAllowedRoutes)
	checkRoutes(v, at("public_allowed_routes"), a.PublicAllowedRoutes)
	if len(a.PublicAllowedRoutes) > 0 {
		v.warn(at("public_allowed_routes"), "accepted and ignored, as in LiteLLM (which declares it but never reads it): it opens no route, so these routes still need a key or a JWT")
	}

	checkClaimPath(v, at("team_id_jwt_field"), a.TeamIDJWTField)
	checkClaimPaths(v, at("team_ids_jwt_field"), a.TeamIDsJWTField)
	checkPadded(v, at("team_id_default"), a.TeamIDDefault)
	checkClaimPath(v, at("user_id_jwt_field"), a.UserIDJWTField)
	checkClaimPath(v, at("user_email_jwt_field"), a.UserEmailJWTField)
	if d := a.UserAllowedEmailDomain; strings.Contains(d, "@") {
		// LiteLLM compares the text after the last "@" of the email.
		v.add(at("user_allowed_email_domain"), "must be a domain such as my-co.com, without \"@\"")
	} else {
		checkPadded(v, at("user_allowed_email_domain"), d)
	}
	checkClaimPath(v, at("org_id_jwt_field"), a.OrgIDJWTField)
	checkClaimPath(v, at("end_user_id_jwt_field"), a.EndUserIDJWTField)
	checkClaimPaths(v, at("scopes_jwt_field"), a.ScopesJWTField)

	nonNegative(v, at("public_key_ttl"), a.PublicKeyTTL)
	if a.PublicKeyStaleTTL != nil {
		nonNegative(v, at("public_key_stale_ttl"), *a.PublicKeyStaleTTL)
	}
	if l := a.LeewaySeconds; !(l >= 0 && l <= MaxLeewaySeconds) {
		v.add(at("leeway_seconds"), "must be between 0 and %d (seconds)", MaxLeewaySeconds)
	}

	// Roles.
	checkClaimPaths(v, at("user_roles_jwt_field"), a.UserRolesJWTField)
	if len(a.UserRolesJWTField) > 0 && len(a.UserAllowedRoles) == 0 {
		v.add(at("user_roles_jwt_field"), "user_allowed_roles must be provided if user_roles_jwt_field is set")
	}
	checkStrings(v, at("user_allowed_roles"), a.UserAllowedRoles)
	checkClaimPaths(v, at("roles_jwt_field"), a.RolesJWTField)
	checkClaimPath(v, at("object_id_jwt_field"), a.ObjectIDJWTField)
	if a.ObjectIDJWTField != "" && len(a.RoleMappings) == 0 {
		v.add(at("object_id_jwt_field"), "if object_id_jwt_field is set, role_mappings must also be set. Needed to infer if the caller is a user or team.")
	}
	roles := map[string]int{}
	for i, m := range a.RoleMappings {
		mp := at("role_mappings[" + strconv.Itoa(i) + "]")
		if m.Role == "" {
			v.add(mp+".role", "is required (the role as it appears in the token)")
		} else if j, dup := roles[m.Role]; dup {
			// The first mapping whose role the token has wins, so this
			// one could never apply.
			v.add(mp+".role", "%q is already mapped by role_mappings[%d]", m.Role, j)
		} else {
			roles[m.Role] = i
		}
		checkRBACRole(v, mp+".internal_role", m.InternalRole)
	}

	// Scopes. LiteLLM's own message for the first case reads backwards
	// ("scope_mappings must be set if enforce_scope_based_access is true").
	switch {
	case len(a.ScopeMappings) > 0 && !a.EnforceScopeBasedAccess:
		v.add(at("scope_mappings"), "scope_mappings are only enforced with enforce_scope_based_access: true")
	case len(a.ScopeMappings) == 0 && a.EnforceScopeBasedAccess:
		v.warn(at("enforce_scope_based_access"), "without scope_mappings no scope check runs (as in LiteLLM, which checks scopes only when both are set): every model is allowed as far as scopes go")
	}
	for i, m := range a.ScopeMappings {
		mp := at("scope_mappings[" + strconv.Itoa(i) + "]")
		if m.Scope == "" {
			v.add(mp+".scope", "is required")
		} else if strings.ContainsFunc(m.Scope, isSpace) {
			v.add(mp+".scope", "must not contain whitespace (a token's scopes are separated by spaces, so it could never match)")
		}
		checkStrings(v, mp+".models", m.Models)
		checkRoutes(v, mp+".routes", m.Routes)
	}

	// LiteLLM 2026 fields.
	checkClaimPath(v, at("team_alias_jwt_field"), a.TeamAliasJWTField)
	checkClaimPath(v, at("org_alias_jwt_field"), a.OrgAliasJWTField)
	for i, m := range a.JWTLiteLLMRoleMap {
		mp := at("jwt_litellm_role_map[" + strconv.Itoa(i) + "]")
		if m.JWTRole == "" {
			v.add(mp+".jwt_role", "is required (a token role, shell patterns * ? [..] allowed)")
		} else if _, err := path.Match(m.JWTRole, ""); err != nil {
			v.add(mp+".jwt_role", "%q is not a valid pattern: %v", m.JWTRole, err)
		}
		if !slices.Contains(events.LiteLLMUserRoles, m.LiteLLMRole) {
			v.add(mp+".litellm_role", "%q is not a user role: use one of %s", m.LiteLLMRole, strings.Join(events.LiteLLMUserRoles, ", "))
		}
	}
	if len(a.JWTLiteLLMRoleMap) > 0 && len(a.RolesJWTField) == 0 {
		v.add(at("jwt_litellm_role_map"), "needs roles_jwt_field: the token roles it maps are read from there")
	}
	if a.SyncUserRoleAndTeams && len(a.JWTLiteLLMRoleMap) == 0 && len(a.TeamIDsJWTField) == 0 {
		v.add(at("sync_user_role_and_teams"), "syncs nothing without jwt_litellm_role_map or team_ids_jwt_field")
	}
	if a.OIDCUserinfoEnabled {
		if !httpURL(a.OIDCUserinfoEndpoint) {
			v.add(at("oidc_userinfo_endpoint"), "must be an absolute http(s) URL when oidc_userinfo_enabled is true")
		}
	} else if a.OIDCUserinfoEndpoint != "" && !httpURL(a.OIDCUserinfoEndpoint) {
		v.add(at("oidc_userinfo_endpoint"), "must be an absolute http(s) URL")
	}
	if a.OIDCUserinfoCacheTTL != nil {
		nonNegative(v, at("oidc_userinfo_cache_ttl"), *a.OIDCUserinfoCacheTTL)
	}

	if a.CustomValidate != "" {
		if _, err := celrule.Compile(a.CustomValidate); err != nil {
			v.add(at("custom_validate"), "%s", err.Error())
		}
	}

	issuers := map[string]int{}
	for i := range a.Issuers {
		validateIssuer(v, at("issuers["+strconv.Itoa(i)+"]"), &a.Issuers[i], i, issuers)
	}
}

func validateIssuer(v *validator, p string, is *events.IssuerConfig, i int, seen map[string]int) {
	switch {
	case is.Issuer == "":
		v.add(p+".issuer", "is required (the exact \"iss\" of the provider's tokens)")
	case strings.TrimSpace(is.Issuer) != is.Issuer:
		v.add(p+".issuer", "must not start or end with whitespace")
	case !absoluteURL(is.Issuer):
		v.add(p+".issuer", "must be an absolute URL (the exact \"iss\" of the provider's tokens)")
	case is.JWKSURL == "" && !httpURL(is.Issuer):
		v.add(p+".issuer", "must be an http(s) URL unless jwks_url is set (keys are discovered at <issuer>/.well-known/openid-configuration)")
	}
	if is.Issuer != "" {
		if j, dup := seen[is.Issuer]; dup {
			v.add(p+".issuer", "%q is already configured by issuers[%d]", is.Issuer, j)
		} else {
			seen[is.Issuer] = i
		}
	}
	switch {
	case is.Audience == "" && !is.DisableAudienceValidation:
		v.add(p+".audience", "must configure audience or set disable_audience_validation: true")
	case is.Audience != "" && is.DisableAudienceValidation:
		v.add(p+".disable_audience_validation", "cannot set audience and disable_audience_validation: true together")
	default:
		checkPadded(v, p+".audience", is.Audience)
	}
	if is.JWKSURL != "" && !httpURL(is.JWKSURL) {
		v.add(p+".jwks_url", "must be an absolute http(s) URL (a JWKS or an OIDC discovery document)")
	}
	checkClaimPath(v, p+".team_id_jwt_field", is.TeamIDJWTField)
	checkClaimPaths(v, p+".team_ids_jwt_field", is.TeamIDsJWTField)
	checkClaimPath(v, p+".user_id_jwt_field", is.UserIDJWTField)
	checkClaimPath(v, p+".user_email_jwt_field", is.UserEmailJWTField)
	checkClaimPath(v, p+".org_id_jwt_field", is.OrgIDJWTField)
	checkClaimPath(v, p+".end_user_id_jwt_field", is.EndUserIDJWTField)
	checkClaimPaths(v, p+".roles_jwt_field", is.RolesJWTField)
}

// validateRolePermissions checks role_permissions at path p.
func validateRolePermissions(v *validator, p string, rps []events.RolePermission) {
	seen := map[string]int{}
	for i, rp := range rps {
		rpp := p + "[" + strconv.Itoa(i) + "]"
		if checkRBACRole(v, rpp+".role", rp.Role) {
			if j, dup := seen[rp.Role]; dup {
				v.add(rpp+".role", "%q is already configured by role_permissions[%d]", rp.Role, j)
			} else {
				seen[rp.Role] = i
			}
		}
		checkStrings(v, rpp+".models", rp.Models)
		checkRoutes(v, rpp+".routes", rp.Routes)
	}
}

func checkRBACRole(v *validator, path, role string) bool {
	switch {
	case role == "":
		v.add(path, "is required: one of %s", strings.Join(rbacRoles, ", "))
	case !validRBACRole(role):
		v.add(path, "%q is not an RBAC role: use one of %s", role, strings.Join(rbacRoles, ", "))
	default:
		return true
	}
	return false
}

// checkStrings checks the entries of a list of names (models, routes,
// roles).
func checkStrings(v *validator, path string, list []string) {
	for i, s := range list {
		ep := path + "[" + strconv.Itoa(i) + "]"
		if s == "" {
			v.add(ep, "must be a non-empty string")
		} else {
			checkPadded(v, ep, s)
		}
	}
}

// checkRoutes checks an allowed-routes list: every entry a route group
// name, a route or a "/prefix/*", so a typo is refused here rather than
// silently denying every route.
func checkRoutes(v *validator, path string, list []string) {
	for i, s := range list {
		ep := path + "[" + strconv.Itoa(i) + "]"
		if s == "" {
			v.add(ep, "must be a non-empty string")
		} else if err := jwtauth.CheckRouteItem(s); err != nil {
			v.add(ep, "%v", err)
		}
	}
}

func checkPadded(v *validator, path, s string) {
	if strings.TrimSpace(s) != s {
		v.add(path, "must not start or end with whitespace")
	}
}

func isSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\v'
}

// checkClaimPath checks one claim path; "" means unset.
func checkClaimPath(v *validator, path, p string) {
	if p == "" {
		return
	}
	if msg := claimPathError(p); msg != "" {
		v.add(path, "%s", msg)
	}
}

// checkClaimPaths checks a ClaimPaths field. Entries are indexed only when
// there are several, since a single path may have been written as a plain
// string.
func checkClaimPaths(v *validator, path string, ps events.ClaimPaths) {
	for i, p := range ps {
		pp := path
		if len(ps) > 1 {
			pp += "[" + strconv.Itoa(i) + "]"
		}
		if p == "" {
			v.add(pp, "must be a non-empty claim path")
			continue
		}
		checkClaimPath(v, pp, p)
	}
}

// claimPathError says what is wrong with a claim path, or returns "". A
// path is segments separated by dots, with "\." standing for a literal dot
// inside a segment (kubernetes\.io.namespace); every segment must be
// non-empty, and a backslash cannot end the path.
func claimPathError(p string) string {
	if strings.TrimSpace(p) != p {
		return "must not start or end with whitespace"
	}
	seg := 0 // bytes in the current segment
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			if i+1 == len(p) {
				return fmt.Sprintf(`claim path %q ends with a backslash (write "\." for a literal dot)`, p)
			}
			if p[i+1] == '.' {
				i++
			}
			seg++
		case '.':
			if seg == 0 {
				return fmt.Sprintf(`claim path %q has an empty segment (segments are separated by "."; write "\." for a literal dot)`, p)
			}
			seg = 0
		default:
			seg++
		}
	}
	if seg == 0 {
		return fmt.Sprintf(`claim path %q has an empty segment (segments are separated by "."; write "\." for a literal dot)`, p)
	}
	return ""
}

func absoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && u.Host != ""
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// SplitPublicKeyURLs splits a JWT_PUBLIC_KEY_URL value as LiteLLM does: on
// commas, entries trimmed, empty entries dropped.
func SplitPublicKeyURLs(s string) []string {
	var out []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// checkKeyURLList checks a JWT_PUBLIC_KEY_URL value; entries are numbered
// from 1 in messages, as the value is one string.
func checkKeyURLList(v *validator, path, raw string) {
	for i, u := range SplitPublicKeyURLs(raw) {
		if !httpURL(u) {
			v.add(path, "entry %d must be an absolute http(s) URL (a JWKS or an OIDC discovery document)", i+1)
		}
	}
}

// Warnings lists settings that are accepted, as LiteLLM accepts them, but
// have no effect or less effect than in LiteLLM. Each starts with the
// field path, and carries its line when the file was parsed. They are not
// errors because a LiteLLM config with them works there (and here) as
// written; `gatehouse check -strict` makes them errors.
func (f *File) Warnings() []string {
	var out []string
	for _, w := range f.notes {
		out = append(out, strings.TrimPrefix(w.Error(), "config: "))
	}
	for _, w := range f.jwtWarnings() {
		out = append(out, w.Msg)
	}
	return out
}

// jwtWarnings are the JWT settings without effect, found after decoding;
// Msg holds the whole text (path first), with no Path, as they have no
// line of their own.
func (f *File) jwtWarnings() []*FieldError {
	var out []*FieldError
	for _, s := range f.jwtWarningTexts() {
		out = append(out, &FieldError{Msg: s})
	}
	return out
}

func (f *File) jwtWarningTexts() []string {
	g := &f.GeneralSettings
	a := &g.LiteLLMJWTAuth
	const auth = "general_settings.litellm_jwtauth"
	var out []string
	if !g.EnableJWTAuth {
		if !reflect.ValueOf(*a).IsZero() {
			out = append(out, auth+": ignored because general_settings.enable_jwt_auth is not true")
		}
		if len(g.RolePermissions) > 0 {
			out = append(out, "general_settings.role_permissions: ignored because general_settings.enable_jwt_auth is not true")
		}
	}
	if len(a.UserAllowedRoles) > 0 && len(a.UserRolesJWTField) == 0 {
		out = append(out, auth+".user_allowed_roles: has no effect without user_roles_jwt_field (the claim holding the token's roles)")
	}
	if len(a.RoleMappings) > 0 && len(a.RolesJWTField) == 0 {
		out = append(out, auth+".role_mappings: has no effect without roles_jwt_field (the claim holding the token's roles)")
	}
	if len(g.RolePermissions) > 0 && !a.EnforceRBAC {
		out = append(out, "general_settings.role_permissions: only applied with litellm_jwtauth.enforce_rbac: true")
	}
	return out
}

// JWTSettings returns the settings event for the control plane to publish,
// or nil if JWT auth is not configured at all (no enable_jwt_auth and no
// litellm_jwtauth).
//
// JWT_PUBLIC_KEY_URL, JWT_AUDIENCE and JWT_ISSUER are read through getenv
// (os.Getenv when nil), falling back to the file's environment_variables:
// the process environment takes precedence, variable by variable, so that
// a deployment can override the file's value (the file typically carries
// JWT_AUDIENCE, the deployment JWT_PUBLIC_KEY_URL). An empty value counts
// as unset. ApplyEnvironment, by contrast, overwrites the process
// environment with the file's values; to keep this precedence, call
// JWTSettings with a getenv that reads the environment as it was before
// ApplyEnvironment ran.
//
// The whole file is validated first (like Models). The check that
// enable_jwt_auth has a key source (JWT_PUBLIC_KEY_URL or
// litellm_jwtauth.issuers) is made only here, not in Validate or Parse,
// because the URL may come from the process environment.
//
// Auth has LiteLLM's defaults applied (events.JWTAuth.WithDefaults), and
// the result shares no slices with f.
func (f *File) JWTSettings(getenv func(string) string, now time.Time) (*events.JWTSettings, error) {
	g := &f.GeneralSettings
	if !g.EnableJWTAuth && reflect.ValueOf(g.LiteLLMJWTAuth).IsZero() {
		return nil, nil
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	// With Parse's lines, so the key-source error points at
	// enable_jwt_auth like every other error of `gatehouse check`.
	v := &validator{lines: f.lines}
	// lookup returns a variable's value and the path to blame for it.
	lookup := func(k string) (string, string) {
		if s := getenv(k); s != "" {
			return s, k
		}
		return f.EnvironmentVariables[k], "environment_variables." + k
	}
	// A value from the process environment has no line in the file;
	// its errors must not borrow the document's.
	procEnv := &validator{}
	at := func(path string) *validator {
		if strings.HasPrefix(path, "environment_variables.") {
			return v
		}
		return procEnv
	}
	keyURLs, keyPath := lookup(EnvJWTPublicKeyURL)
	if keyPath == EnvJWTPublicKeyURL {
		// environment_variables was checked by Validate.
		checkKeyURLList(procEnv, keyPath, keyURLs)
	}
	aud, audPath := lookup(EnvJWTAudience)
	iss, issPath := lookup(EnvJWTIssuer)
	checkPadded(at(audPath), audPath, aud)
	checkPadded(at(issPath), issPath, iss)
	s := &events.JWTSettings{
		ID:              events.JWTSettingsID,
		Enabled:         g.EnableJWTAuth,
		PublicKeyURLs:   SplitPublicKeyURLs(keyURLs),
		Audience:        aud,
		Issuer:          iss,
		EnforceRBAC:     g.EnforceRBAC,
		Auth:            cloneAuth(g.LiteLLMJWTAuth.WithDefaults()),
		RolePermissions: cloneRolePermissions(g.RolePermissions),
		UpdatedAt:       now,
	}
	if s.Enabled && len(s.PublicKeyURLs) == 0 && len(s.Auth.Issuers) == 0 {
		v.add("general_settings.enable_jwt_auth", "enable_jwt_auth is set but no key source: set JWT_PUBLIC_KEY_URL or litellm_jwtauth.issuers")
	}
	v.errs = append(v.errs, procEnv.errs...)
	if err := v.err(); err != nil {
		return nil, err
	}
	return s, nil
}

// ValidateJWTSettings checks a settings object that arrives through the
// admin API (POST /jwt/settings) with the rules of config.yaml, so the two
// cannot drift apart. Paths are relative to the object, by its JSON names
// (litellm_jwtauth.issuers[0].audience), and errors have no "config: "
// prefix. The key-source rule names public_key_urls, the object's field
// for JWT_PUBLIC_KEY_URL. Defaults need not be applied first.
func ValidateJWTSettings(s *events.JWTSettings) error {
	v := &validator{bare: true}
	if s == nil {
		v.add("", "JWT settings are required")
		return v.err()
	}
	if s.ID != "" && s.ID != events.JWTSettingsID {
		v.add("id", "must be %q (there is one JWT settings object)", events.JWTSettingsID)
	}
	for i, u := range s.PublicKeyURLs {
		if !httpURL(u) || strings.TrimSpace(u) != u {
			v.add("public_key_urls["+strconv.Itoa(i)+"]", "must be an absolute http(s) URL (a JWKS or an OIDC discovery document)")
		}
	}
	checkPadded(v, "audience", s.Audience)
	checkPadded(v, "issuer", s.Issuer)
	validateJWTAuth(v, "litellm_jwtauth", &s.Auth)
	validateRolePermissions(v, "role_permissions", s.RolePermissions)
	if s.Enabled && len(s.PublicKeyURLs) == 0 && len(s.Auth.Issuers) == 0 {
		v.add("enable_jwt_auth", "enable_jwt_auth is set but no key source: set public_key_urls or litellm_jwtauth.issuers")
	}
	return v.err()
}

func cloneAuth(a events.JWTAuth) events.JWTAuth {
	a.AdminAllowedRoutes = slices.Clone(a.AdminAllowedRoutes)
	a.TeamIDsJWTField = slices.Clone(a.TeamIDsJWTField)
	a.TeamAllowedRoutes = slices.Clone(a.TeamAllowedRoutes)
	a.PublicAllowedRoutes = slices.Clone(a.PublicAllowedRoutes)
	a.UserRolesJWTField = slices.Clone(a.UserRolesJWTField)
	a.UserAllowedRoles = slices.Clone(a.UserAllowedRoles)
	a.RolesJWTField = slices.Clone(a.RolesJWTField)
	a.RoleMappings = slices.Clone(a.RoleMappings)
	a.ScopesJWTField = slices.Clone(a.ScopesJWTField)
	a.JWTLiteLLMRoleMap = slices.Clone(a.JWTLiteLLMRoleMap)
	if a.OIDCUserinfoCacheTTL != nil {
		v := *a.OIDCUserinfoCacheTTL
		a.OIDCUserinfoCacheTTL = &v
	}
	a.ScopeMappings = cloneEach(a.ScopeMappings, func(m *events.ScopeMapping) {
		m.Models = slices.Clone(m.Models)
		m.Routes = slices.Clone(m.Routes)
	})
	a.Issuers = cloneEach(a.Issuers, func(is *events.IssuerConfig) {
		is.TeamIDsJWTField = slices.Clone(is.TeamIDsJWTField)
		is.RolesJWTField = slices.Clone(is.RolesJWTField)
	})
	return a
}

func cloneRolePermissions(rps []events.RolePermission) []events.RolePermission {
	return cloneEach(rps, func(rp *events.RolePermission) {
		rp.Models = slices.Clone(rp.Models)
		rp.Routes = slices.Clone(rp.Routes)
	})
}

// cloneEach is a copy of s (nil stays nil) whose elements deep has given
// their own copies of what they point to.
func cloneEach[T any](s []T, deep func(*T)) []T {
	out := slices.Clone(s)
	for i := range out {
		deep(&out[i])
	}
	return out
}
