// Package config loads LiteLLM's proxy config.yaml, so that a LiteLLM user
// can point the gateway at the file they already have.
//
// Decoding is strict: a field this version does not understand is an error
// naming the field and its line, never silently ignored, because an ignored
// setting (a misspelt api_base, a rate limit under the wrong key) fails
// later and far from its cause. LiteLLM's own settings are each classified
// (litellm.go): ignored with a warning saying why, read as an alias of the
// key gatehouse implements, or refused with what would silently not happen;
// a deployment the edge cannot serve is refused by name. Check runs it all
// for `gatehouse check`.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
)

// Defaults LiteLLM applies when a setting is absent or zero; kept identical
// so a migrated config behaves the same.
const (
	DefaultMaxRequestSizeMB = 10
	DefaultRequestTimeout   = 600 * time.Second
)

// SourceConfig is events.Model.Source for deployments from config.yaml; the
// control plane deletes config deployments that vanish from the file.
const SourceConfig = "config"

// File is config.yaml. Field names are LiteLLM's.
type File struct {
	ModelList       []ModelEntry    `yaml:"model_list"`
	GeneralSettings GeneralSettings `yaml:"general_settings"`
	LiteLLMSettings LiteLLMSettings `yaml:"litellm_settings"`
	RoutingSettings RoutingSettings `yaml:"router_settings"`
	// EnvironmentVariables are set into the process environment by
	// ApplyEnvironment. LiteLLM does this at start; here it is a separate
	// step so that parsing a file has no side effects (tests, the admin
	// API's dry runs).
	EnvironmentVariables map[string]string `yaml:"environment_variables"`

	// notes are the warnings found while parsing (LiteLLM settings
	// accepted but ignored), with their lines.
	notes []*FieldError
	// lines are the lines of the field paths Parse saw, for warnings
	// found after parsing (EnvWarnings).
	lines map[string]int
}

// ModelEntry is one model_list item: a deployment. Several entries may share
// a model_name, forming a load-balanced group.
type ModelEntry struct {
	ModelName     string             `yaml:"model_name"`
	LiteLLMParams events.ModelParams `yaml:"litellm_params"`
	ModelInfo     events.ModelInfo   `yaml:"model_info"`
}

// GeneralSettings is general_settings.
type GeneralSettings struct {
	// MasterKey is a literal "sk-..." or an os.environ/VAR reference. It is
	// checked by File.MasterKey rather than Validate because a reference can
	// only be judged once resolved, and resolution needs the environment.
	MasterKey string `yaml:"master_key"`
	// MaxRequestSizeMB bounds request bodies, in MiB (LiteLLM's name and
	// unit); 0 means DefaultMaxRequestSizeMB.
	MaxRequestSizeMB float64 `yaml:"max_request_size_mb"`

	// EnableJWTAuth turns on JWT/OIDC auth: a bearer token shaped like a
	// JWT is verified against JWT_PUBLIC_KEY_URL or
	// litellm_jwtauth.issuers instead of being looked up as a key.
	EnableJWTAuth bool `yaml:"enable_jwt_auth"`
	// LiteLLMJWTAuth is litellm_jwtauth: claim mapping, RBAC and issuers.
	// It has no effect unless EnableJWTAuth is set (see Warnings).
	LiteLLMJWTAuth events.JWTAuth `yaml:"litellm_jwtauth"`
	// RolePermissions are per-RBAC-role model and route allowlists,
	// applied under litellm_jwtauth.enforce_rbac.
	RolePermissions []events.RolePermission `yaml:"role_permissions"`
	// EnforceRBAC requires a JWT to resolve to a user or team (LiteLLM
	// reads this one, not litellm_jwtauth.enforce_rbac, for that check).
	EnforceRBAC bool `yaml:"enforce_rbac"`
	// AllowUserTeamCreation lets an internal_user create standalone teams
	// (POST /team/new) within its own limits.
	AllowUserTeamCreation bool `yaml:"allow_user_team_creation"`
	// DisableAutoAddProxyAdminToTeams stops /team/new making the proxy
	// admin user that calls it an admin of the new team.
	DisableAutoAddProxyAdminToTeams bool `yaml:"disable_auto_add_proxy_admin_to_teams"`
	// RejectClientsideMetadataTags refuses LLM requests whose body
	// carries metadata.tags, so tags (which pick deployments under
	// enable_tag_filtering) come only from the key. It reaches edges in
	// the router settings event.
	RejectClientsideMetadataTags bool `yaml:"reject_clientside_metadata_tags"`
	// AllowedIPs refuses (403, before authentication) every request from
	// an address outside it, on edges and on the admin API; IP addresses
	// and CIDR ranges. Unset: no restriction; [] (as in LiteLLM): every
	// address refused. It reaches edges in the router settings event.
	AllowedIPs *[]string `yaml:"allowed_ips"`
	// UseXForwardedFor makes X-Forwarded-For's leftmost entry the client
	// address that allowed_ips and keys' allowed_ips are checked against,
	// as an edge's -use-x-forwarded-for does.
	UseXForwardedFor bool `yaml:"use_x_forwarded_for"`
}

// LiteLLMSettings is litellm_settings.
type LiteLLMSettings struct {
	// RequestTimeout is in seconds; 0 means DefaultRequestTimeout. A
	// deployment's litellm_params.timeout overrides it.
	RequestTimeout float64 `yaml:"request_timeout"`

	// DefaultKeyGenerateParams fill what a /key/generate body leaves out.
	DefaultKeyGenerateParams *KeyGenerateParams `yaml:"default_key_generate_params"`
	// UpperboundKeyGenerateParams bound every generated or updated key;
	// a generated key that leaves a bounded field out gets the bound.
	UpperboundKeyGenerateParams *KeyGenerateParams `yaml:"upperbound_key_generate_params"`
	// KeyGenerationSettings are LiteLLM's rules for who may generate
	// keys (read by KeyGeneration); they bind callers that are not admins.
	KeyGenerationSettings map[string]any `yaml:"key_generation_settings"`
	// MaxInternalUserBudget is the default max_budget of a new user.
	MaxInternalUserBudget *float64 `yaml:"max_internal_user_budget"`
	// DefaultInternalUserParams fill what a /user/new body leaves out.
	DefaultInternalUserParams *InternalUserParams `yaml:"default_internal_user_params"`
	// MaxEndUserBudget is the budget of an end user (the request's "user",
	// or the JWT's end_user_id_jwt_field) without a budget of its own.
	MaxEndUserBudget *float64 `yaml:"max_end_user_budget"`
}

// MaxRequestBytes is the request body limit in bytes, with LiteLLM's default
// applied.
func (g GeneralSettings) MaxRequestBytes() int64 {
	mb := g.MaxRequestSizeMB
	if !(mb > 0) || math.IsInf(mb, 1) {
		mb = DefaultMaxRequestSizeMB
	}
	b := math.Ceil(mb * (1 << 20))
	if b >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(b)
}

// Timeout is the default upstream request timeout, with LiteLLM's default
// applied.
func (s LiteLLMSettings) Timeout() time.Duration {
	t := s.RequestTimeout
	if !(t > 0) || t*float64(time.Second) >= math.MaxInt64 {
		return DefaultRequestTimeout
	}
	return time.Duration(t * float64(time.Second))
}

//go:embed example.yaml
var example []byte

// Default returns the built-in example config used by `make run`: mock
// models only, so a newcomer can curl a completion with no network and no
// provider account.
func Default() []byte { return bytes.Clone(example) }

// Load reads and parses a config file.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data)
}

// Models turns model_list into deployment events. Secrets stay as given:
// an os.environ/ reference is kept, not resolved, because each edge resolves
// it from its own environment and the key need not enter the event stream.
func (f *File) Models(now time.Time) ([]*events.Model, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	out := make([]*events.Model, 0, len(f.ModelList))
	for _, e := range f.ModelList {
		id := e.ID()
		m := &events.Model{
			ID:            id,
			ModelName:     e.ModelName,
			LiteLLMParams: cloneParams(e.LiteLLMParams),
			ModelInfo:     cloneInfo(e.ModelInfo),
			Source:        SourceConfig,
			CreatedAt:     now,
			UpdatedAt:     now,
		}
		m.ModelInfo.ID = id
		if m.LiteLLMParams.Timeout == 0 && f.LiteLLMSettings.RequestTimeout > 0 {
			// litellm_settings.request_timeout (router_settings.timeout)
			// is the default of every deployment's timeout; edges read
			// it from the deployment. Set after the id is derived, so
			// changing the default does not change ids.
			m.LiteLLMParams.Timeout = f.LiteLLMSettings.RequestTimeout
		}
		if m.LiteLLMParams.StreamTimeout == 0 && f.RoutingSettings.StreamTimeout > 0 {
			// router_settings.stream_timeout, likewise.
			m.LiteLLMParams.StreamTimeout = f.RoutingSettings.StreamTimeout
		}
		out = append(out, m)
	}
	return out, nil
}

// cloneParams and cloneInfo copy the reference-typed fields so an event can
// be modified without changing the File it came from.
func cloneParams(p events.ModelParams) events.ModelParams {
	if p.MaxRetries != nil {
		r := *p.MaxRetries
		p.MaxRetries = &r
	}
	p.Tags = slices.Clone(p.Tags)
	if p.TopK != nil {
		k := *p.TopK
		p.TopK = &k
	}
	p.Thinking = maps.Clone(p.Thinking)
	p.ExtraBody = maps.Clone(p.ExtraBody)
	p.Stop = slices.Clone(p.Stop)
	if p.ExtraHeaders != nil {
		h := make(map[string]string, len(p.ExtraHeaders))
		for k, v := range p.ExtraHeaders {
			h[k] = v
		}
		p.ExtraHeaders = h
	}
	return p
}

func cloneInfo(i events.ModelInfo) events.ModelInfo {
	if i.AccessGroups != nil {
		i.AccessGroups = append([]string(nil), i.AccessGroups...)
	}
	return i
}

// MasterKey resolves general_settings.master_key. An empty result with a nil
// error means no master key is configured. The key must start with "sk-"
// because LiteLLM requires it and clients copied from LiteLLM setups rely
// on the shape. Errors never contain the key.
func (f *File) MasterKey(env policy.Env) (string, error) {
	const path = "general_settings.master_key"
	raw := f.GeneralSettings.MasterKey
	if raw == "" {
		return "", nil
	}
	key, err := policy.ResolveSecret(raw, env)
	if err != nil {
		return "", &FieldError{Path: path, Line: f.lines[path], Msg: err.Error()}
	}
	if !strings.HasPrefix(key, "sk-") {
		msg := `must start with "sk-"`
		if raw != key {
			msg = fmt.Sprintf(`the value of %s must start with "sk-"`, raw)
		}
		return "", &FieldError{Path: path, Line: f.lines[path], Msg: msg}
	}
	return key, nil
}

// ApplyEnvironment sets environment_variables through setenv (os.Setenv when
// nil), in key order. Nothing is set unless every entry is valid, so a bad
// file does not leave the environment half-changed. Call it before
// MasterKey or anything else that resolves os.environ/ references, as
// LiteLLM does.
func (f *File) ApplyEnvironment(setenv func(k, v string) error) error {
	v := &validator{}
	f.validateEnvironment(v)
	if err := v.err(); err != nil {
		return err
	}
	if setenv == nil {
		setenv = os.Setenv
	}
	keys := slices.Sorted(maps.Keys(f.EnvironmentVariables))
	var errs []error
	for _, k := range keys {
		// The process environment wins: an operator's JWT_AUDIENCE or
		// provider key overrides the file's default.
		if v, set := os.LookupEnv(k); set && v != "" {
			continue
		}
		if err := setenv(k, f.EnvironmentVariables[k]); err != nil {
			errs = append(errs, &FieldError{Path: "environment_variables." + k, Msg: err.Error()})
		}
	}
	return errors.Join(errs...)
}
