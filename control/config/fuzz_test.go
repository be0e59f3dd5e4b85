package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParse checks that no input makes Parse panic, and that what Parse
// accepts the rest of the package accepts too.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob("testdata/valid/*.yaml")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, tc := range errorCases {
		f.Add([]byte(tc.in))
	}
	for _, tc := range jwtErrorCases {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte(fuzzJWTSeed))
	f.Add(Default())
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err != nil {
			if cfg != nil {
				t.Fatal("Parse returned both a File and an error")
			}
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Fatalf("error without the config: prefix: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate rejects: %v", err)
		}
		ms, err := cfg.Models(time.Unix(0, 0))
		if err != nil {
			t.Fatalf("Parse accepted what Models rejects: %v", err)
		}
		seen := map[string]bool{}
		for _, m := range ms {
			if seen[m.ID] {
				t.Fatalf("duplicate id %q", m.ID)
			}
			seen[m.ID] = true
		}
		_ = cfg.Warnings()
		keys := func(k string) string {
			if k == EnvJWTPublicKeyURL {
				return "https://keys.example.com/jwks"
			}
			return ""
		}
		s, err := cfg.JWTSettings(keys, time.Unix(0, 0))
		if err != nil {
			t.Fatalf("Parse accepted what JWTSettings rejects with a key URL set: %v", err)
		}
		if s != nil {
			if err := ValidateJWTSettings(s); err != nil {
				t.Fatalf("ValidateJWTSettings rejects what JWTSettings produced: %v", err)
			}
		}
	})
}

// fuzzJWTSeed uses every part of the JWT settings.
const fuzzJWTSeed = `general_settings:
  enable_jwt_auth: true
  enforce_rbac: true
  litellm_jwtauth:
    admin_jwt_scope: litellm-proxy-admin
    admin_allowed_routes: [management_routes, /v1/embeddings]
    team_id_jwt_field: client_id
    team_ids_jwt_field: groups
    team_allowed_routes: [openai_routes]
    user_id_jwt_field: sub
    user_email_jwt_field: email
    user_allowed_email_domain: my-co.com
    user_roles_jwt_field: "resource_access.litellm-test-client-id.roles, realm_access.roles"
    user_allowed_roles: [basic_user]
    roles_jwt_field: [roles, 'kubernetes\.io.roles']
    object_id_jwt_field: oid
    role_mappings:
      - {role: litellm.api.consumer, internal_role: team}
    enforce_scope_based_access: true
    scope_mappings:
      - {scope: litellm.api.consumer, models: [gpt-4o], routes: [/v1/chat/completions]}
    enforce_rbac: true
    public_key_ttl: 300
    public_key_stale_ttl: 0
    leeway_seconds: 5
    custom_validate: 'claims.tenant_id in ["my-unique-tenant"]'
    issuers:
      - issuer: https://idp.example.com
        audience: gatehouse
        jwks_url: https://idp.example.com/keys
        roles_jwt_field: [roles]
  role_permissions:
    - {role: team, models: [gpt-4o], routes: [/v1/chat/completions]}
environment_variables:
  JWT_AUDIENCE: api://gatehouse
  JWT_PUBLIC_KEY_URL: https://a.example.com/jwks,https://b.example.com/.well-known/openid-configuration
model_list:
  - model_name: gpt-4o
    litellm_params: {model: mock/gpt-4o}
`
