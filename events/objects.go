package events

import "time"

// The object payloads. Field names follow LiteLLM's API bodies so that a
// LiteLLM user reads the same words in events, API responses and config.
// New fields go at the end of a struct and must have a zero value that means
// "as before".

// Tombstone is the payload of every *.deleted event.
type Tombstone struct {
	ID string `json:"id"`
}

// Model is one deployment: a (model_name, litellm_params) pair from
// config.yaml's model_list or from /model/new. Several deployments may share
// a model_name (a model group).
type Model struct {
	// ID is model_info.id: stable across restarts (derived from the content
	// for config models that do not set one).
	ID            string      `json:"id"`
	ModelName     string      `json:"model_name"`
	LiteLLMParams ModelParams `json:"litellm_params"`
	ModelInfo     ModelInfo   `json:"model_info"`
	// Source is "config" for deployments loaded from config.yaml and "api"
	// for those created through /model/new. Config deployments missing from
	// the config at the next start are deleted; API ones are not.
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ModelParams is litellm_params. Secrets may be given as "os.environ/VAR":
// the reference travels in the event and each edge resolves it from its own
// environment, so provider keys need not live in the stream.
type ModelParams struct {
	Model              string  `json:"model" yaml:"model"`
	APIBase            string  `json:"api_base,omitempty" yaml:"api_base"`
	APIKey             string  `json:"api_key,omitempty" yaml:"api_key"`
	APIVersion         string  `json:"api_version,omitempty" yaml:"api_version"`
	Organization       string  `json:"organization,omitempty" yaml:"organization"`
	Timeout            float64 `json:"timeout,omitempty" yaml:"timeout"`
	StreamTimeout      float64 `json:"stream_timeout,omitempty" yaml:"stream_timeout"`
	MaxRetries         *int    `json:"max_retries,omitempty" yaml:"max_retries"`
	RPM                int64   `json:"rpm,omitempty" yaml:"rpm"`
	TPM                int64   `json:"tpm,omitempty" yaml:"tpm"`
	MockResponse       string  `json:"mock_response,omitempty" yaml:"mock_response"`
	InputCostPerToken  float64 `json:"input_cost_per_token,omitempty" yaml:"input_cost_per_token"`
	OutputCostPerToken float64 `json:"output_cost_per_token,omitempty" yaml:"output_cost_per_token"`
	// Cache prices (LiteLLM's keys): prompt tokens read from and written
	// to the provider's prompt cache, USD per token.
	CacheReadInputTokenCost     float64           `json:"cache_read_input_token_cost,omitempty" yaml:"cache_read_input_token_cost"`
	CacheCreationInputTokenCost float64           `json:"cache_creation_input_token_cost,omitempty" yaml:"cache_creation_input_token_cost"`
	ExtraHeaders                map[string]string `json:"extra_headers,omitempty" yaml:"extra_headers"`
	// Weight is the deployment's share of its model group's traffic under
	// simple-shuffle (LiteLLM's litellm_params.weight).
	Weight float64 `json:"weight,omitempty" yaml:"weight"`
	// Tags select this deployment for requests that carry one of them
	// when router_settings.enable_tag_filtering is on ("default": also
	// for requests without tags).
	Tags []string `json:"tags,omitempty" yaml:"tags"`
	// Default request parameters (LiteLLM's litellm_params
	// temperature, max_tokens, ...): sent to the provider unless the
	// request sets the parameter itself.
	Temperature         *float64 `json:"temperature,omitempty" yaml:"temperature"`
	TopP                *float64 `json:"top_p,omitempty" yaml:"top_p"`
	MaxTokens           *int64   `json:"max_tokens,omitempty" yaml:"max_tokens"`
	MaxCompletionTokens *int64   `json:"max_completion_tokens,omitempty" yaml:"max_completion_tokens"`
	Seed                *int64   `json:"seed,omitempty" yaml:"seed"`
	FrequencyPenalty    *float64 `json:"frequency_penalty,omitempty" yaml:"frequency_penalty"`
	PresencePenalty     *float64 `json:"presence_penalty,omitempty" yaml:"presence_penalty"`
	Stop                []string `json:"stop,omitempty" yaml:"stop"`
	ReasoningEffort     string   `json:"reasoning_effort,omitempty" yaml:"reasoning_effort"`
	TopK                *int64   `json:"top_k,omitempty" yaml:"top_k"`
	// Thinking is Anthropic-style extended thinking ({"type": "enabled",
	// "budget_tokens": N}), a default like the others.
	Thinking map[string]any `json:"thinking,omitempty" yaml:"thinking"`
	// ExtraBody are further top-level body parameters sent to the
	// provider (LiteLLM's extra_body), each a default the request's own
	// value overrides.
	ExtraBody map[string]any `json:"extra_body,omitempty" yaml:"extra_body"`
	// Cloud provider credentials and placement (bedrock/, vertex_ai/).
	// Like api_key, the secret ones are published as written: an
	// os.environ/ reference stays a reference and is resolved at the edge.
	AWSAccessKeyID            string `json:"aws_access_key_id,omitempty" yaml:"aws_access_key_id"`
	AWSSecretAccessKey        string `json:"aws_secret_access_key,omitempty" yaml:"aws_secret_access_key"`
	AWSSessionToken           string `json:"aws_session_token,omitempty" yaml:"aws_session_token"`
	AWSRegionName             string `json:"aws_region_name,omitempty" yaml:"aws_region_name"`
	AWSRoleName               string `json:"aws_role_name,omitempty" yaml:"aws_role_name"`
	AWSSessionName            string `json:"aws_session_name,omitempty" yaml:"aws_session_name"`
	AWSBedrockRuntimeEndpoint string `json:"aws_bedrock_runtime_endpoint,omitempty" yaml:"aws_bedrock_runtime_endpoint"`
	VertexProject             string `json:"vertex_project,omitempty" yaml:"vertex_project"`
	VertexLocation            string `json:"vertex_location,omitempty" yaml:"vertex_location"`
	// VertexCredentials is a service-account JSON document, a path to
	// one, or an os.environ/ reference to either.
	VertexCredentials string `json:"vertex_credentials,omitempty" yaml:"vertex_credentials"`
}

// ModelInfo is model_info.
type ModelInfo struct {
	ID                 string   `json:"id,omitempty" yaml:"id"`
	AccessGroups       []string `json:"access_groups,omitempty" yaml:"access_groups"`
	Mode               string   `json:"mode,omitempty" yaml:"mode"`
	BaseModel          string   `json:"base_model,omitempty" yaml:"base_model"`
	MaxTokens          int64    `json:"max_tokens,omitempty" yaml:"max_tokens"`
	MaxInputTokens     int64    `json:"max_input_tokens,omitempty" yaml:"max_input_tokens"`
	MaxOutputTokens    int64    `json:"max_output_tokens,omitempty" yaml:"max_output_tokens"`
	InputCostPerToken  float64  `json:"input_cost_per_token,omitempty" yaml:"input_cost_per_token"`
	OutputCostPerToken float64  `json:"output_cost_per_token,omitempty" yaml:"output_cost_per_token"`
	// Cache prices, as in LiteLLMParams (model_info wins).
	CacheReadInputTokenCost     float64 `json:"cache_read_input_token_cost,omitempty" yaml:"cache_read_input_token_cost"`
	CacheCreationInputTokenCost float64 `json:"cache_creation_input_token_cost,omitempty" yaml:"cache_creation_input_token_cost"`
	Description                 string  `json:"description,omitempty" yaml:"description"`
}

// Key is a virtual key. Token is the hex sha256 of the plaintext key, which
// is shown once by /key/generate and stored nowhere.
type Key struct {
	Token          string   `json:"token"`
	KeyName        string   `json:"key_name"` // masked: "sk-...abcd"
	KeyAlias       string   `json:"key_alias,omitempty"`
	Models         []string `json:"models"`
	TeamID         string   `json:"team_id,omitempty"`
	UserID         string   `json:"user_id,omitempty"`
	OrganizationID string   `json:"organization_id,omitempty"`
	Blocked        bool     `json:"blocked"`
	// Expires is nil for a key that never expires.
	Expires             *time.Time        `json:"expires"`
	MaxBudget           *float64          `json:"max_budget"`
	BudgetDuration      string            `json:"budget_duration,omitempty"`
	TPMLimit            *int64            `json:"tpm_limit"`
	RPMLimit            *int64            `json:"rpm_limit"`
	MaxParallelRequests *int64            `json:"max_parallel_requests"`
	Aliases             map[string]string `json:"aliases,omitempty"`
	Metadata            map[string]any    `json:"metadata,omitempty"`
	// AllowedRoutes restricts the routes the key may call (route group
	// names, routes, "/prefix/*"); empty: no restriction beyond the
	// caller's role.
	AllowedRoutes []string `json:"allowed_routes,omitempty"`
	// AllowedIPs are LiteLLM's allowed_ips: the client addresses (IPs or
	// CIDR ranges) the key may be used from on the edge; empty: any.
	AllowedIPs []string `json:"allowed_ips,omitempty"`
	// AccessGroupIDs are LiteLLM's access_group_ids: access groups whose
	// models the key may call besides its models (a fallback: an empty
	// models list already allows every model).
	AccessGroupIDs []string `json:"access_group_ids,omitempty"`
	// RegeneratedFrom is the token this key replaced (/key/regenerate). An
	// edge applying the new key removes the old one in the same step, so
	// there is no moment where both or neither work.
	RegeneratedFrom string `json:"regenerated_from,omitempty"`
	// PreviousTokenExpires (LiteLLM's previous_token_expires) is when the
	// token this key replaced stops: /key/regenerate's grace_period. Until
	// then every edge takes that token as this key; nil: it stopped when
	// this key started. Only its hash is kept (RegeneratedFrom).
	PreviousTokenExpires *time.Time `json:"previous_token_expires,omitempty"`
	CreatedBy            string     `json:"created_by,omitempty"`
	CreatedAt            time.Time  `json:"created_at"`
	UpdatedAt            time.Time  `json:"updated_at"`
	BudgetFlag
}

// BudgetFlag is the budget tracker's verdict on an object with a budget
// (key, team, user, org, end user), kept last in each so its JSON fields
// stay last.
type BudgetFlag struct {
	// BudgetExceeded is set by the budget tracker when the spend of the
	// current budget window reached MaxBudget, and cleared when the window
	// resets; every edge refuses the object's requests while it is set.
	BudgetExceeded bool `json:"budget_exceeded,omitempty"`
	// BudgetResetAt is when the current budget window ends (nil: the
	// budget never resets).
	BudgetResetAt *time.Time `json:"budget_reset_at,omitempty"`
}

// Member is one entry of a team's members_with_roles.
type Member struct {
	UserID    string `json:"user_id,omitempty"`
	UserEmail string `json:"user_email,omitempty"`
	Role      string `json:"role"` // "admin" | "user"
	// MaxBudgetInTeam is the member's budget within the team (LiteLLM's
	// max_budget_in_team, a budget row of its team membership): the
	// member's requests in this team are refused once their spend in the
	// team reaches it. nil: no budget of its own.
	MaxBudgetInTeam *float64 `json:"max_budget_in_team,omitempty"`
	// BudgetID names the membership's budget (LiteLLM's budget_id): the
	// budget tracker keeps the membership's spend under it (kind
	// KindTeamMember). It is set with the first budget and kept while
	// the user stays a member, so a member removed and added again starts
	// from zero, as LiteLLM deletes the membership row.
	BudgetID string `json:"budget_id,omitempty"`
	// RPMLimit and TPMLimit limit the member's traffic within the team
	// (LiteLLM's rpm_limit/tpm_limit of its membership's budget row),
	// counted across all edges; nil: the team's team_member_rpm_limit /
	// team_member_tpm_limit, if any.
	RPMLimit *int64 `json:"rpm_limit,omitempty"`
	TPMLimit *int64 `json:"tpm_limit,omitempty"`
	BudgetFlag
}

// MemberDefaults are a team's limits for each of its members that does
// not set its own (LiteLLM's team_member_budget, team_member_budget_duration,
// team_member_rpm_limit, team_member_tpm_limit: the team's default
// member budget row, and team_member_key_duration).
type MemberDefaults struct {
	TeamMemberBudget         *float64 `json:"team_member_budget,omitempty"`
	TeamMemberBudgetDuration string   `json:"team_member_budget_duration,omitempty"`
	TeamMemberRPMLimit       *int64   `json:"team_member_rpm_limit,omitempty"`
	TeamMemberTPMLimit       *int64   `json:"team_member_tpm_limit,omitempty"`
	// TeamMemberKeyDuration is the duration of a key generated for the
	// team for a user without a duration of its own.
	TeamMemberKeyDuration string `json:"team_member_key_duration,omitempty"`
	// TeamMemberBudgetID names the default budget row (LiteLLM's
	// metadata.team_member_budget_id), set with the first default.
	TeamMemberBudgetID string `json:"team_member_budget_id,omitempty"`
}

// Team groups keys and users; its models bound what its keys may call.
type Team struct {
	TeamID           string         `json:"team_id"`
	TeamAlias        string         `json:"team_alias,omitempty"`
	OrganizationID   string         `json:"organization_id,omitempty"`
	Models           []string       `json:"models"` // empty: all models
	Blocked          bool           `json:"blocked"`
	MembersWithRoles []Member       `json:"members_with_roles"`
	MaxBudget        *float64       `json:"max_budget"`
	BudgetDuration   string         `json:"budget_duration,omitempty"`
	TPMLimit         *int64         `json:"tpm_limit"`
	RPMLimit         *int64         `json:"rpm_limit"`
	Metadata         map[string]any `json:"metadata,omitempty"`
	// TeamMemberPermissions is LiteLLM's team_member_permissions: the key
	// management routes a member who is not the team's admin may call on
	// the team's keys (none: LiteLLM's defaults, /key/info and /key/health).
	TeamMemberPermissions []string `json:"team_member_permissions,omitempty"`
	// AccessGroupIDs are LiteLLM's access_group_ids, as on a key.
	AccessGroupIDs []string `json:"access_group_ids,omitempty"`
	// ModelAliases is LiteLLM's team model_aliases: a name the team's
	// callers may ask for and the model group it stands for.
	ModelAliases map[string]string `json:"model_aliases,omitempty"`
	MemberDefaults
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	BudgetFlag
}

// User is an internal user.
type User struct {
	UserID         string         `json:"user_id"`
	UserEmail      string         `json:"user_email,omitempty"`
	UserAlias      string         `json:"user_alias,omitempty"`
	UserRole       string         `json:"user_role"`
	Models         []string       `json:"models"`
	Teams          []string       `json:"teams"`
	OrganizationID string         `json:"organization_id,omitempty"`
	MaxBudget      *float64       `json:"max_budget"`
	BudgetDuration string         `json:"budget_duration,omitempty"`
	TPMLimit       *int64         `json:"tpm_limit"`
	RPMLimit       *int64         `json:"rpm_limit"`
	Metadata       map[string]any `json:"metadata,omitempty"`
	CreatedAt      time.Time      `json:"created_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
	BudgetFlag
}

// AccessGroup is a named set of model names (wildcards allowed). Groups are
// also formed implicitly by model_info.access_groups on deployments; a key,
// team or user that lists a group name in its models may call its members.
type AccessGroup struct {
	AccessGroupID string   `json:"access_group_id"`
	Models        []string `json:"models"`
	// ModelIDs are deployments (model_info.id) in the group by id, not by
	// name: LiteLLM 2026's model_ids, which put one deployment of a model
	// group in an access group without its siblings.
	ModelIDs    []string  `json:"model_ids,omitempty"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}
