package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/policy"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata")

// report renders what `gatehouse check` prints for a document: every
// warning and error with its line, then the verdict.
func report(data []byte) string {
	f, warns, err := Check(data)
	if err == nil {
		err = f.Preflight(func(string) string { return "" })
	}
	var b strings.Builder
	for _, w := range warns {
		b.WriteString("warning: " + strings.TrimPrefix(w.Error(), "config: ") + "\n")
	}
	for _, e := range Problems(err) {
		b.WriteString("error: " + strings.TrimPrefix(e.Error(), "config: ") + "\n")
	}
	if err == nil {
		b.WriteString("starts\n")
	} else {
		b.WriteString("refused\n")
	}
	return b.String()
}

const okModel = `model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: os.environ/OPENAI_API_KEY
`

// TestLiteLLMSettings covers every LiteLLM setting the issue names, one
// case each: accepted with a warning, read as an alias, implemented, or
// refused with what would silently not happen. The golden file holds the
// exact report.
func TestLiteLLMSettings(t *testing.T) {
	cases := []struct {
		name, yaml string
		starts     bool
	}{
		// Ignored, with a warning.
		{"ignored_database", okModel + "general_settings:\n  database_url: os.environ/DATABASE_URL\n  store_model_in_db: true\n  proxy_batch_write_at: 60\n  database_connection_pool_limit: 10\n  disable_spend_logs: false\n  allow_requests_on_db_unavailable: true\n", true},
		// load_balancing.md: the Redis pool of router_settings.
		{"ignored_router_cache_params", okModel + "router_settings:\n  redis_host: redis\n  cache_params:\n    type: redis\n    max_connections: 100\n", true},
		{"ignored_redis", okModel + "router_settings:\n  redis_host: os.environ/REDIS_HOST\n  redis_port: os.environ/REDIS_PORT\n  redis_password: os.environ/REDIS_PASSWORD\n", true},
		{"ignored_cache", okModel + "litellm_settings:\n  cache: true\n  cache_params:\n    type: redis\n    ttl: 600\n", true},
		{"ignored_logging", okModel + "litellm_settings:\n  drop_params: true\n  set_verbose: true\n  json_logs: true\n  telemetry: false\n", true},
		{"callbacks_prometheus", okModel + "litellm_settings:\n  callbacks: [\"prometheus\"]\n", true},
		{"callbacks_empty", okModel + "litellm_settings:\n  callbacks: []\n  success_callback: []\n", true},
		{"callbacks_langfuse", okModel + "litellm_settings:\n  success_callback: [\"langfuse\"]\n  failure_callback: [\"sentry\", \"prometheus\"]\n", true},
		{"ignored_alerting_health", okModel + "general_settings:\n  alerting: [\"slack\"]\n  alerting_threshold: 300\n  background_health_checks: true\n  health_check_interval: 300\n", true},
		{"ignored_model_info_metadata", okModel + "    model_info:\n      supports_vision: true\n      mode: chat\n", true},
		{"other_routing_strategy", okModel + "router_settings:\n  routing_strategy: usage-based-routing-v2\n", true},
		{"context_window_fallbacks", okModel + "  - model_name: gpt-4o-mini\n    litellm_params:\n      model: openai/gpt-4o-mini\nlitellm_settings:\n  context_window_fallbacks: [{\"gpt-4o-mini\": [\"gpt-4o\"]}]\n", true},
		{"max_end_user_budget", okModel + "litellm_settings:\n  max_end_user_budget: 0.01\n", true},
		{"ignored_callback_params", okModel + "litellm_settings:\n  success_callback: [\"s3\"]\n  s3_callback_params:\n    s3_bucket_name: logs-bucket-litellm\n    s3_region_name: us-west-2\n", true},
		{"ignored_deployment_settings", okModel + "      drop_params: true\n      num_retries: 2\n      max_retries: 3\n", true},
		{"internal_user_budget_duration", okModel + "litellm_settings:\n  max_internal_user_budget: 10\n  internal_user_budget_duration: 1mo\n", true},
		{"refused_guard_callbacks", okModel + "litellm_settings:\n  callbacks: [\"prometheus\", \"lakera_prompt_injection\"]\n", false},
		{"refused_include", "include:\n  - model_config.yaml\n" + okModel, false},
		{"refused_cost_per_second", okModel + "      input_cost_per_second: 0.0001\n", false},
		{"key_generation_settings", okModel + "litellm_settings:\n  key_generation_settings:\n    team_key_generation:\n      allowed_team_member_roles: [\"admin\"]\n    personal_key_generation:\n      allowed_user_roles: [\"proxy_admin\"]\n", true},
		{"documented_litellm_settings", okModel + "litellm_settings:\n  store_audit_logs: true\n  log_raw_request_response: true\n  enable_redis_auth_cache: true\n  mcp_aliases: {\"github\": \"github_mcp\"}\n  disable_add_transform_inline_image_block: true\n  use_chat_completions_url_for_anthropic_messages: true\n  disable_hf_tokenizer_download: true\n  enable_key_alias_format_validation: true\n  disable_copilot_system_to_assistant: true\n", true},
		{"documented_general_settings", okModel + "general_settings:\n  disable_spend_updates: true\n  disable_responses_id_security: true\n  user_mcp_management_mode: restricted\n  use_client_credentials_pass_through_routes: true\n  allow_user_auth: true\n  litellm_license: os.environ/LITELLM_LICENSE\n  oauth2_config_mappings: {}\n  disable_model_info_refresh: true\n  coordination_redis: {host: redis}\n", true},
		{"documented_router_settings", okModel + "router_settings:\n  default_priority: 1\n  caching_groups: [[\"gpt-4o\", \"gpt-4o-mini\"]]\n  deployment_affinity_ttl_seconds: 60\n  ignore_invalid_deployments: true\n  stream_timeout: 10\n", true},
		{"callback_settings_top_level", okModel + "callback_settings:\n  otel:\n    message_logging: false\n", true},
		{"default_max_internal_user_budget", okModel + "litellm_settings:\n  default_max_internal_user_budget: 5\n", true},
		{"refused_forced_models", okModel + "general_settings:\n  completion_model: gpt-4o\n  embedding_model: text-embedding-3-small\n", false},
		{"refused_python_hooks", okModel + "litellm_settings:\n  post_call_rules: post_call_rules.my_custom_rule\n  custom_provider_map:\n    - provider: my-custom-llm\n      custom_handler: custom_handler.my_custom_llm\n", false},
		{"deployment_fields_ignored", okModel + "      configurable_clientside_auth_params: [\"api_base\"]\n      litellm_trace_id: t\n      keepalive_seconds: 30\n      use_chat_completions_api: true\n      metadata: {a: 1}\n", true},
		{"deployment_fields_refused", okModel + "      order: 1\n      tag_regex: [\"^foo\"]\n      cooldown_time: 10\n      itpm: 1000\n      otpm: 1000\n      mock_timeout: true\n      use_litellm_proxy: true\n      default_api_key_tpm_limit: 100\n      input_cost_per_token_above_128k_tokens: 0.1\n      output_cost_per_reasoning_token: 0.1\n      aws_profile_name: p\n      aws_web_identity_token: t\n      aws_sts_endpoint: https://sts\n      aws_external_id: x\n", false},
		{"deployment_window_limits", okModel + "    rph: 10\n    tph: 100\n    rpd: 100\n    tpd: 1000\n", false},
		{"deployment_request_defaults", okModel + "      top_k: 40\n      thinking: {type: enabled, budget_tokens: 1024}\n      extra_body: {guided_json: {type: object}}\n      headers: {X-Team: a}\n      response_format: {type: json_object}\n      user: svc\n", true},
		{"deployment_request_defaults_anthropic", "model_list:\n  - model_name: claude\n    litellm_params:\n      model: anthropic/claude-3-5-sonnet-20241022\n      top_k: 40\n      thinking: {type: enabled, budget_tokens: 1024}\n      response_format: {type: json_object}\n      user: svc\n", false},
		{"deployment_extra_body_reserved", okModel + "      extra_body: {stream: true, model: other}\n", false},
		{"default_team_settings", okModel + "litellm_settings:\n  default_team_settings:\n    - team_id: team-1\n      success_callback: [\"langfuse\"]\n", true},
		// LiteLLM's team_budgets.md puts a budget there: not a logging
		// setting, so not ignored.
		{"refused_default_team_settings_budget", okModel + "litellm_settings:\n  default_team_settings:\n    - team_id: team-1\n      success_callback: [\"langfuse\"]\n    - team_id: \"default-settings\"\n      max_budget: 100.0\n", false},

		// Aliases.
		{"alias_litellm_router", okModel + "litellm_settings:\n  num_retries: 3\n  allowed_fails: 2\n  cooldown_time: 30\n  fallbacks: [{\"gpt-4o\": [\"gpt-4o\"]}]\n", true},
		{"alias_router_timeout_cooldowns", okModel + "router_settings:\n  timeout: 30\n  disable_cooldowns: true\n", true},
		{"alias_rpm_tpm_entry", okModel + "    rpm: 100\n    tpm: 10000\n", true},
		{"alias_jwt_okta", okModel + "general_settings:\n  enable_jwt_auth: true\n  litellm_jwtauth:\n    public_key_url: https://dev-123.okta.com/oauth2/default/v1/keys\n    issuer: https://dev-123.okta.com/oauth2/default\n    audience: api://default\n    user_id_jwt_field: sub\n", true},
		{"alias_base_model_provider", "model_list:\n  - model_name: my-llama\n    litellm_params:\n      model: meta-llama/Llama-3-8b\n      custom_llm_provider: hosted_vllm\n      api_base: http://vllm:8000/v1\n      base_model: gpt-4o-mini\n", true},
		{"alias_azure_env", "environment_variables:\n  AZURE_API_BASE: https://my.openai.azure.com\n  AZURE_API_VERSION: 2024-06-01\nmodel_list:\n  - model_name: gpt-4\n    litellm_params:\n      model: azure/gpt-4-deploy\n      api_key: os.environ/AZURE_API_KEY\n", true},
		// Set in both litellm_settings and router_settings: router_settings
		// wins, as LiteLLM documents, with a warning naming both lines.
		{"alias_conflict", okModel + "litellm_settings:\n  num_retries: 3\nrouter_settings:\n  num_retries: 2\n", true},
		{"alias_conflict_router_first", okModel + "router_settings:\n  timeout: 30\n  fallbacks: [{\"gpt-4o\": [\"gpt-4o\"]}]\nlitellm_settings:\n  request_timeout: 10\n  fallbacks: []\n", true},
		{"alias_conflict_cooldowns", okModel + "router_settings:\n  cooldown_time: 30\n  disable_cooldowns: true\n", true},
		// Other aliases set twice stay an error.
		{"alias_conflict_deployment", okModel + "      rpm: 50\n    rpm: 100\n", false},

		// Implemented.
		{"default_params", okModel + "      temperature: 0.2\n      max_tokens: 256\n      seed: 7\n      top_p: 0.9\n      stop: [\"END\"]\n", true},
		{"mock_response", "model_list:\n  - model_name: fake\n    litellm_params:\n      model: openai/gpt-4o\n      mock_response: hello from the mock\n", true},
		{"model_group_alias", okModel + "router_settings:\n  model_group_alias: {\"gpt-4\": \"gpt-4o\", \"gpt-4-hidden\": {\"model\": \"gpt-4o\", \"hidden\": true}}\n", true},
		{"model_group_alias_unknown", okModel + "router_settings:\n  model_group_alias: {\"gpt-4\": \"gpt-5\"}\n", false},
		{"tag_routing", okModel + "      tags: [\"free\", \"default\"]\nrouter_settings:\n  enable_tag_filtering: true\n", true},
		// LiteLLM's tag_routing.md sets true, its default; false asks for
		// matching all of a request's tags, which gatehouse does not do.
		{"tag_match_any", okModel + "      tags: [\"free\"]\nrouter_settings:\n  enable_tag_filtering: true\n  tag_filtering_match_any: true\n", true},
		{"refused_tag_match_all", okModel + "      tags: [\"free\"]\nrouter_settings:\n  enable_tag_filtering: true\n  tag_filtering_match_any: false\n", false},
		{"key_params", okModel + "litellm_settings:\n  default_key_generate_params:\n    max_budget: 1.5\n    models: [\"gpt-4o\"]\n    duration:\n    metadata: {\"setting\": \"default\"}\n  upperbound_key_generate_params:\n    max_budget: 100\n    budget_duration: 10d\n    duration: 30d\n    max_parallel_requests: 1000\n    tpm_limit: 1000\n    rpm_limit: 1000\n", true},
		{"user_params", okModel + "litellm_settings:\n  max_internal_user_budget: 10\n  default_internal_user_params:\n    user_role: internal_user\n    max_budget: 5\n    budget_duration: 30d\n    models: [\"gpt-4o\"]\n", true},
		{"key_params_bad", okModel + "litellm_settings:\n  upperbound_key_generate_params:\n    duration: forever\n    models: [\"gpt-4o\"]\n", false},

		// Refused.
		{"refused_custom_auth", okModel + "general_settings:\n  custom_auth: custom_auth.user_api_key_auth\n", false},
		{"refused_timezone", okModel + "litellm_settings:\n  timezone: Asia/Tokyo\n", false},
		{"timezone_utc", okModel + "litellm_settings:\n  timezone: UTC\n", true},
		// LiteLLM's defaults written out (null, false) turn nothing on:
		// a warning, not a refusal. Anything else stays refused, an empty
		// enforce_user_param: true too.
		{"refused_settings_off", okModel + "litellm_settings:\n  max_budget: null\n  budget_duration:\ngeneral_settings:\n  enable_oauth2_auth: False\n  custom_auth: null\n  enforce_user_param: false\n", true},
		{"refused_settings_on", okModel + "litellm_settings:\n  max_budget: 0\ngeneral_settings:\n  enforce_user_param: true\n", false},
		// litellm_jwtauth fields of LiteLLM 2026 that gatehouse does not
		// implement: each named with what would not happen.
		{"jwtauth_unsupported", okModel + "general_settings:\n  enable_jwt_auth: true\n  litellm_jwtauth:\n    upsert_sso_user_to_team: true\n    agent_id_jwt_field: azp\n    routing_overrides:\n      - iss: https://idp.example\n        path: oauth2\n    virtual_key_claim_field: client_id\n    virtual_key_mapping_cache_ttl: 300\n", false},
		// LiteLLM's token_auth.md sets enable_jwt_auth in config.yaml and
		// JWT_PUBLIC_KEY_URL in the shell: without the variable, the
		// refusal points at enable_jwt_auth's line.
		{"jwt_no_key_source", okModel + "general_settings:\n  master_key: sk-1234\n  enable_jwt_auth: True\n", false},
		{"jwtauth_sso_only", okModel + "general_settings:\n  enable_jwt_auth: true\n  litellm_jwtauth:\n    user_id_jwt_field: sub\n    upsert_sso_user_to_team: true\nenvironment_variables:\n  JWT_PUBLIC_KEY_URL: https://idp.example/keys\n", true},
		{"refused_guardrails", okModel + "guardrails:\n  - guardrail_name: aporia\n    litellm_params:\n      guardrail: aporia\n      mode: during_call\n", false},
		{"refused_pass_through", okModel + "general_settings:\n  pass_through_endpoints:\n    - path: /v1/rerank\n      target: https://api.cohere.com/v1/rerank\n", false},
		{"refused_python_callback", okModel + "litellm_settings:\n  callbacks: custom_callbacks.proxy_handler_instance\n", false},
		{"refused_providers", okModel + "  - model_name: claude-bedrock\n    litellm_params:\n      model: bedrock/anthropic.claude-3-sonnet\n      aws_region_name: us-east-1\n  - model_name: hf\n    litellm_params:\n      model: huggingface/bigcode/starcoder\n  - model_name: gemini\n    litellm_params:\n      model: gemini/gemini-1.5-pro\n      api_key: os.environ/GEMINI_API_KEY\n  - model_name: vertex\n    litellm_params:\n      model: vertex_ai/gemini-pro\n      vertex_project: p\n", false},
		// Providers LiteLLM infers (get_llm_provider).
		{"provider_inference", "model_list:\n  - model_name: claude-bedrock\n    litellm_params:\n      model: anthropic.claude-3-sonnet-20240229-v1:0\n      aws_region_name: us-east-1\n  - model_name: llama\n    litellm_params:\n      model: us.meta.llama3-2-90b-instruct-v1:0\n  - model_name: instruct\n    litellm_params:\n      model: text-completion-openai/gpt-3.5-turbo-instruct\n  - model_name: \"*\"\n    litellm_params:\n      model: \"*\"\n", true},
		{"embeddings", okModel + "  - model_name: embed\n    litellm_params:\n      model: openai/text-embedding-3-small\n  - model_name: embed2\n    litellm_params:\n      model: azure/my-embedding\n      api_base: https://x.openai.azure.com\n    model_info:\n      mode: embedding\n", true},
		{"refused_embeddings_provider", okModel + "  - model_name: embed\n    litellm_params:\n      model: bedrock/amazon.titan-embed-text-v2:0\n      aws_region_name: us-east-1\n    model_info:\n      mode: embedding\n", false},
		{"refused_images", okModel + "  - model_name: img\n    litellm_params:\n      model: openai/dall-e-3\n  - model_name: img2\n    litellm_params:\n      model: azure/my-dalle\n      api_base: https://x.openai.azure.com\n    model_info:\n      mode: image_generation\n", false},
		// LiteLLM's auto routers and providers the edge has no client
		// for: one reason per deployment, not an unknown field each.
		{"refused_auto_router", okModel + "  - model_name: router\n    litellm_params:\n      model: auto_router/adaptive_router\n      adaptive_router_config:\n        available_models: [\"gpt-4o\"]\n", false},
		{"refused_unknown_provider", okModel + "  - model_name: oci-llama\n    litellm_params:\n      model: oci/meta.llama-3.3-70b-instruct\n      oci_region: us-ashburn-1\n", false},
		// Settings of LiteLLM example and test configs.
		{"general_settings_examples", okModel + "general_settings:\n  host: 127.0.0.1\n  port: 4000\n  use_sidecar: true\n  sidecar_port: 8787\n  team_metadata_validation_timeout: 5\n", true},
		// config_settings.md's spelling of service_callback.
		{"ignored_service_callbacks", okModel + "litellm_settings:\n  service_callbacks: [\"datadog\", \"prometheus\"]\n", true},
		// model_management.md: a team model and its team limits.
		{"refused_team_model", okModel + "    model_info:\n      my_custom_key: my_custom_value\n      team_id: team-123\n      team_model_rpm_limit: 60\n      team_model_tpm_limit: 120000\n", false},
		{"refused_team_metadata_validate", okModel + "general_settings:\n  custom_team_metadata_validate: team_metadata_validator_e2e.validate_team_metadata\n  team_metadata_validation_error_message: Contact FinOps.\n  reject_metadata_tags: true\n", false},
		{"refused_self_hosted_without_base", "model_list:\n  - model_name: llama\n    litellm_params:\n      model: hosted_vllm/llama-3\n", false},
		// Settings of LiteLLM's own configs (testdata/litellm).
		{"deployment_id_same", "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: azure/gpt-4o\n      api_base: https://x.openai.azure.com\n      deployment_id: gpt-4o\n", true},
		{"deployment_id_differs", "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: azure/gpt-4o\n      api_base: https://x.openai.azure.com\n      deployment_id: gpt-4o-prod\n", true},
		{"deployment_id_bad", "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: azure/gpt-4o\n      api_base: https://x.openai.azure.com\n      deployment_id: [a]\n", false},
		{"user_role_env_unset", okModel + "litellm_settings:\n  default_internal_user_params:\n    user_role: os.environ/GATEHOUSE_TEST_UNSET_USER_ROLE\n", true},
		{"user_role_env_file", okModel + "environment_variables:\n  GATEHOUSE_TEST_USER_ROLE: internal_user_viewer\nlitellm_settings:\n  default_internal_user_params:\n    user_role: os.environ/GATEHOUSE_TEST_USER_ROLE\n", true},
		{"user_role_env_bad", okModel + "environment_variables:\n  GATEHOUSE_TEST_USER_ROLE: superuser\nlitellm_settings:\n  default_internal_user_params:\n    user_role: os.environ/GATEHOUSE_TEST_USER_ROLE\n", false},
		{"model_cost_map_reload_config", okModel + "general_settings:\n  model_cost_map_reload_config:\n    interval_hours: 24\n    force_reload: false\n", true},
		{"reject_clientside_metadata_tags", okModel + "general_settings:\n  reject_clientside_metadata_tags: true\n", true},
		{"reject_metadata_tags_alias", okModel + "general_settings:\n  reject_metadata_tags: true\n", true},
		{"reject_metadata_tags_both", okModel + "general_settings:\n  reject_clientside_metadata_tags: false\n  reject_metadata_tags: true\n", true},
		{"refused_dynamic_rate_limiter_v3", okModel + "litellm_settings:\n  callbacks: [\"dynamic_rate_limiter_v3\"]\n  priority_reservation:\n    prod: 0.9\n    dev: 0.1\n  priority_reservation_settings:\n    default_priority: 0\n", false},
		{"refused_tag_rate_limiter", okModel + "litellm_settings:\n  callbacks: [\"tag_rate_limiter\"]\n", false},
		{"refused_request_hooks", okModel + "litellm_settings:\n  callbacks: [\"vector_store_pre_call_hook\"]\n  success_callback: [\"compression_interception\"]\n", false},
		{"alias_vertex_ai_project", "model_list:\n  - model_name: claude-vertex\n    litellm_params:\n      model: vertex_ai/claude-haiku-4-5\n      vertex_ai_project: my-project\n      vertex_ai_location: us-east5\n", true},
		// general_settings.allowed_ips (LiteLLM's _check_valid_ip): IP
		// addresses and CIDR ranges; a typo is refused naming its line,
		// not read as an address no client has; [] refuses everyone, as
		// in LiteLLM, with a warning; null is unset.
		{"allowed_ips", okModel + "general_settings:\n  allowed_ips: [\"10.0.0.1\", \"192.168.0.0/16\", \"::1\"]\n  use_x_forwarded_for: true\n", true},
		{"allowed_ips_bad", okModel + "general_settings:\n  allowed_ips:\n    - 10.0.0.1\n    - 10.0.0/8\n    - office-vpn\n    - 10.0.0.0/33\n", false},
		{"allowed_ips_empty", okModel + "general_settings:\n  allowed_ips: []\n", true},
		{"allowed_ips_null", okModel + "general_settings:\n  allowed_ips: null\n  use_x_forwarded_for: false\n", true},
		{"free_key_optimization", okModel + "router_settings:\n  routing_strategy: free-key-optimization\n", true},

		// Typos.
		{"typo_did_you_mean", okModel + "litellm_settings:\n  num_retires: 3\n  drop_parms: true\n", false},
		{"typo_wrong_section", okModel + "litellm_settings:\n  routing_strategy: least-busy\n  enable_tag_filtering: true\n", false},
		{"typo_same_kind_only", okModel + "general_settings:\n  enable_jwt_auth: true\n  litellm_jwtauth:\n    public_key_urls: https://idp/keys\n    public_key_tll: 600\n", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := report([]byte(tc.yaml))
			if starts := strings.HasSuffix(got, "starts\n"); starts != tc.starts {
				t.Errorf("starts = %v, want %v:\n%s", starts, tc.starts, got)
			}
			golden(t, filepath.Join("testdata", "settings", tc.name+".golden"), got)
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// TestProviderInference: the deployments of provider_inference get the
// provider LiteLLM infers.
func TestProviderInference(t *testing.T) {
	f := mustParse(t, "model_list:\n  - model_name: a\n    litellm_params:\n      model: anthropic.claude-3-sonnet-20240229-v1:0\n  - model_name: b\n    litellm_params:\n      model: text-completion-openai/gpt-3.5-turbo-instruct\n  - model_name: \"*\"\n    litellm_params:\n      model: \"*\"\n  - model_name: c\n    litellm_params:\n      model: anthropic.claude-3-haiku\n      custom_llm_provider: bedrock\n")
	want := []string{"bedrock/anthropic.claude-3-sonnet-20240229-v1:0", "openai/gpt-3.5-turbo-instruct", "openai/*", "bedrock/anthropic.claude-3-haiku"}
	for i, e := range f.ModelList {
		if e.LiteLLMParams.Model != want[i] {
			t.Errorf("model_list[%d].model = %q, want %q", i, e.LiteLLMParams.Model, want[i])
		}
	}
	if m := f.ModelList[1].ModelInfo.Mode; m != "completion" {
		t.Errorf("text-completion-openai mode = %q, want completion", m)
	}
	// Not Bedrock ids: a model name with a dot, an unknown family.
	for _, m := range []string{"anthropic.", "foo.bar", "openai/anthropic.claude"} {
		if bedrockID(m) {
			t.Errorf("%q read as a Bedrock id", m)
		}
	}
}

// TestRouterSettingsWin: a setting in both sections takes router_settings'
// value, whichever comes first in the file.
func TestRouterSettingsWin(t *testing.T) {
	for _, doc := range []string{
		okModel + "litellm_settings:\n  num_retries: 3\n  request_timeout: 10\n  cooldown_time: 9\nrouter_settings:\n  num_retries: 5\n  timeout: 30\n  disable_cooldowns: true\n",
		okModel + "router_settings:\n  num_retries: 5\n  timeout: 30\n  disable_cooldowns: true\nlitellm_settings:\n  num_retries: 3\n  request_timeout: 10\n  cooldown_time: 9\n",
	} {
		f, warns, err := Check([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if len(warns) != 3 {
			t.Errorf("%d warnings, want one per setting given twice: %v", len(warns), warns)
		}
		ev, err := f.RoutingSettingsEvent(time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := ev.Retries(); n != 5 || ev.Cooldown() != 0 || f.LiteLLMSettings.RequestTimeout != 30 {
			t.Errorf("retries %d, cooldown %v, timeout %v; want router_settings' 5, 0, 30", n, ev.Cooldown(), f.LiteLLMSettings.RequestTimeout)
		}
	}
}

// TestRouterStreamTimeout: router_settings.stream_timeout is the
// stream_timeout of deployments that set none, and not a routing event of
// its own.
func TestRouterStreamTimeout(t *testing.T) {
	f := mustParse(t, okModel+"  - model_name: own\n    litellm_params:\n      model: openai/gpt-4o\n      stream_timeout: 3\nrouter_settings:\n  stream_timeout: 10\n")
	ms, err := f.Models(time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].LiteLLMParams.StreamTimeout != 10 || ms[1].LiteLLMParams.StreamTimeout != 3 {
		t.Errorf("stream_timeout = %v, %v; want the default 10 and the deployment's own 3", ms[0].LiteLLMParams.StreamTimeout, ms[1].LiteLLMParams.StreamTimeout)
	}
	if ev, err := f.RoutingSettingsEvent(time.Unix(0, 0)); err != nil || ev != nil {
		t.Errorf("routing event %+v, %v; want none", ev, err)
	}
	parseFails(t, okModel+"router_settings:\n  stream_timeout: -1\n", "router_settings.stream_timeout: must be")
	f = mustParse(t, okModel+"litellm_settings:\n  default_max_internal_user_budget: 5\n")
	if b := f.LiteLLMSettings.MaxInternalUserBudget; b == nil || *b != 5 {
		t.Errorf("max_internal_user_budget = %v, want default_max_internal_user_budget 5", b)
	}
	f = mustParse(t, okModel+"litellm_settings:\n  default_max_internal_user_budget: 5\n  max_internal_user_budget: 7\n")
	if b := f.LiteLLMSettings.MaxInternalUserBudget; b == nil || *b != 7 {
		t.Errorf("max_internal_user_budget = %v, want its own 7", b)
	}
}

// TestDeploymentFieldAliases: litellm_params.headers are extra_headers,
// OpenAI request parameters become extra_body defaults, and a typo of a
// litellm_params field is still an error with its line and the real name.
func TestDeploymentFieldAliases(t *testing.T) {
	f := mustParse(t, okModel+"      headers: {X-Team: a}\n      tool_choice: auto\n      extra_body: {guided_choice: [a, b]}\n      vertex_ai_location: eu\n")
	p := f.ModelList[0].LiteLLMParams
	if p.ExtraHeaders["X-Team"] != "a" || p.ExtraBody["tool_choice"] != "auto" || p.ExtraBody["guided_choice"] == nil || p.VertexLocation != "eu" {
		t.Errorf("params %+v", p)
	}
	parseFails(t, okModel+"      tool_choice: auto\n      extra_body: {tool_choice: none}\n", "model_list[0].litellm_params.tool_choice: is set in extra_body too (line 7); keep one (line 6)")
	parseFails(t, okModel+"      headers: {a: b}\n      extra_headers: {c: d}\n", "extra_headers, which is set too")
	// custom_user_agent is the User-Agent header, whichever of headers
	// and extra_headers holds the others.
	for _, hs := range []string{"", "      headers: {X-Team: a}\n", "      extra_headers: {X-Team: a}\n"} {
		f = mustParse(t, okModel+"      custom_user_agent: Claude Code/1.0\n"+hs)
		if h := f.ModelList[0].LiteLLMParams.ExtraHeaders; h["User-Agent"] != "Claude Code/1.0" || (hs != "" && h["X-Team"] != "a") {
			t.Errorf("%q: extra_headers %v", hs, h)
		}
	}
	parseFails(t, okModel+"      custom_user_agent: a\n      extra_headers: {user-agent: b}\n", "model_list[0].litellm_params.custom_user_agent: is sent as the User-Agent header, which extra_headers sets too (line 7); keep one (line 6)")
	parseFails(t, okModel+"      top_kk: 3\n", `model_list[0].litellm_params: unknown field "top_kk" (line 6); did you mean "top_k"?`)
}

// TestLiteLLMSettingsAreNotFields keeps the classification table and the
// File's fields apart: a key that is a field would never be classified.
func TestLiteLLMSettingsAreNotFields(t *testing.T) {
	for k := range litellmSettings {
		typ := fileType
		segs := strings.Split(strings.ReplaceAll(k, "[]", ""), ".")
		for i, s := range segs {
			fs := knownFields(typ)
			ft, ok := fs.types[s]
			if i == len(segs)-1 {
				if ok {
					t.Errorf("%s is a field of %s", k, typ)
				}
				break
			}
			if !ok {
				t.Errorf("%s: %s is not a field of %s", k, s, typ)
				break
			}
			for ft.Kind() == reflect.Slice || ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			typ = ft
		}
	}
}

// TestAliasesReachTheirTarget checks that an alias sets what the real key
// sets.
func TestAliasesReachTheirTarget(t *testing.T) {
	f := mustParse(t, okModel+"    rpm: 100\nlitellm_settings:\n  num_retries: 3\n  request_timeout: 30\nrouter_settings:\n  disable_cooldowns: true\n  model_group_alias: {\"gpt-4\": \"gpt-4o\"}\n")
	if f.ModelList[0].LiteLLMParams.RPM != 100 {
		t.Errorf("rpm = %d", f.ModelList[0].LiteLLMParams.RPM)
	}
	ev, err := f.RoutingSettingsEvent(time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := ev.Retries(); n != 3 || ev.Cooldown() != 0 || ev.AliasFor("gpt-4") != "gpt-4o" {
		t.Errorf("router settings %+v", ev)
	}
	ms, err := f.Models(time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].LiteLLMParams.Timeout != 30 {
		t.Errorf("timeout = %v, want request_timeout 30", ms[0].LiteLLMParams.Timeout)
	}
}

// TestLiteLLMConfigs loads configs shaped like LiteLLM's own (its example
// configs, proxy_server_config.yaml, the docs' config blocks). Each says
// on its first line whether it starts or is refused, and why. None that
// starts may carry a deployment that fails on every request.
func TestLiteLLMConfigs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "litellm", "*.yaml"))
	if err != nil || len(files) < 60 {
		t.Fatalf("want at least 60 configs, got %d (%v)", len(files), err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// The leading comments name the file's origin in LiteLLM
			// and what gatehouse does with it.
			var expect string
			ok := false
			for _, line := range strings.Split(string(data), "\n") {
				if !strings.HasPrefix(line, "#") {
					break
				}
				if expect, ok = strings.CutPrefix(line, "# expect: "); ok {
					break
				}
			}
			if !ok {
				t.Fatalf("the leading comments must hold # expect: starts | refused: <reason>")
			}
			f, warns, err := Check(data)
			if err == nil {
				err = f.Preflight(func(string) string { return "" })
			}
			if reason, refused := strings.CutPrefix(expect, "refused: "); refused {
				if err == nil || !strings.Contains(err.Error(), reason) {
					t.Fatalf("want refused with %q, got %v", reason, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("want it to start: %v", err)
			}
			for _, w := range warns {
				t.Logf("warning: %v", w)
			}
			ms, err := f.Models(time.Unix(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				p := m.LiteLLMParams
				prov, _ := policy.SplitProvider(p.Model)
				if p.MockResponse != "" {
					continue
				}
				if !policy.CanServe(prov) {
					t.Errorf("deployment %s: provider %q cannot be served", m.ModelName, prov)
				}
				if policy.NeedsAPIBase(prov) && p.APIBase == "" && prov != policy.ProviderAzure {
					t.Errorf("deployment %s: no api_base", m.ModelName)
				}
				if !policy.ServedMode(m.ModelInfo.Mode) {
					t.Errorf("deployment %s: mode %s", m.ModelName, m.ModelInfo.Mode)
				}
			}
		})
	}
}

// TestLiteLLMSettingsTable renders the classification table, so that a
// change to it shows in review (and docs/litellm.md can be checked
// against it).
func TestLiteLLMSettingsTable(t *testing.T) {
	keys := make([]string, 0, len(litellmSettings))
	for k := range litellmSettings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, kind := range []settingKind{alias, ignored, refused, 0} {
		for _, k := range keys {
			s := litellmSettings[k]
			if s.kind != kind {
				continue
			}
			switch {
			case s.judge != nil && strings.HasSuffix(k, ".tag_filtering_match_any"):
				b.WriteString("by value  " + k + ": ignored (true, LiteLLM's default: any tag matches) or refused (false: all tags must match)\n")
			case s.judge != nil && strings.HasSuffix(k, ".timezone"):
				b.WriteString("by value  " + k + ": ignored (UTC) or refused (any other timezone)\n")
			case s.judge != nil && strings.HasSuffix(k, ".default_team_settings"):
				b.WriteString("by value  " + k + ": ignored (per-team logging callbacks) or refused (an entry with a budget or limit)\n")
			case s.judge != nil:
				b.WriteString("by value  " + k + ": ignored (observability integrations; prometheus is /metrics; [] is nothing) or refused (Python objects, guardrail callbacks)\n")
			case kind == alias && s.to != "":
				b.WriteString("alias     " + k + " -> " + s.to + "\n")
			case kind == alias:
				b.WriteString("alias     " + k + " (rewritten)\n")
			case kind == ignored:
				b.WriteString("ignored   " + k + ": " + s.why + "\n")
			case kind == refused:
				b.WriteString("refused   " + k + ": " + s.why + "\n")
			}
		}
	}
	golden(t, filepath.Join("testdata", "settings", "table.golden"), b.String())
}

// TestLiteLLMSettingsParse checks litellm_settings.txt (read at init)
// and that its format refuses what it cannot mean.
func TestLiteLLMSettingsParse(t *testing.T) {
	if _, err := parseSettings(litellmSettingsText); err != nil {
		t.Fatal(err)
	}
	// The file names the variables by value; the code by constant.
	for k, env := range map[string]string{
		"general_settings.litellm_jwtauth.public_key_url": EnvJWTPublicKeyURL,
		"general_settings.litellm_jwtauth.issuer":         EnvJWTIssuer,
		"general_settings.litellm_jwtauth.audience":       EnvJWTAudience,
	} {
		if got := litellmSettings[k].to; got != "environment_variables."+env {
			t.Errorf("%s -> %q, want environment_variables.%s", k, got, env)
		}
	}
	if s := litellmSettings["general_settings.database_url"]; s.kind != ignored || s.why != whyDB {
		t.Errorf("database_url = %+v, want ignored with whyDB", s)
	}
	for _, bad := range []string{
		"a.b: no section",
		"[ignored]\na.b",
		"[ignored]\na b: space in the path",
		"[ignored]\na.b: x\na.b: y",
		"[ignored]\na.b: {nosuch}",
		"[judged]\na.b: judged by nosuch",
		"[judged]\na.b: callbacks",
		"[alias]\na.b: rewritten by nosuch",
		"[nosuch]\na.b: c",
	} {
		if _, err := parseSettings(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestRewrittenTreeParses covers documents that classify empties or
// rewrites, which used to be written back to text and read again: a key
// with a comment whose mapping was emptied came back as "key: # c\n{}",
// which yaml.v3 cannot read ("could not find expected ':'", at a line of
// the rewritten text). The first cases are the audit's smallest triggers
// (m2, m6, m8, m9, m10); LiteLLM's docs' first example has the first.
func TestRewrittenTreeParses(t *testing.T) {
	const entry = "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      api_key: k\n"
	cases := []struct {
		name, yaml string
		check      func(t *testing.T, f *File)
	}{
		{"m2_ignored_under_commented_key", entry + "\nlitellm_settings: # c\n  drop_params: True\n", nil},
		{"m6_alias_under_commented_key", entry + "litellm_settings: # c\n  num_retries: 2\n", func(t *testing.T, f *File) {
			if f.RoutingSettings.NumRetries == nil || *f.RoutingSettings.NumRetries != 2 {
				t.Errorf("num_retries = %v, want 2", f.RoutingSettings.NumRetries)
			}
		}},
		{"m8_router_settings", entry + "router_settings: # c\n  redis_host: x\n", nil},
		{"m9_general_settings", entry + "general_settings: # c\n  database_url: x\n", nil},
		{"m10_model_info", entry + "    model_info: # c\n      version: 2\n", nil},
		{"comments_everywhere", "# head\n" + entry + "litellm_settings: # c\n  # a head comment\n  drop_params: True # line\n  success_callback: [\"langfuse\"] # c2\n  # foot\ngeneral_settings: # g\n  database_url: x # d\n", nil},
		{"anchor_on_dropped_key", "router_settings:\n  redis_host: &h x\nmodel_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      api_key: *h\n", func(t *testing.T, f *File) {
			if got := f.ModelList[0].LiteLLMParams.APIKey; got != "x" {
				t.Errorf("api_key = %q, want the anchored x", got)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, _, err := Check([]byte(tc.yaml))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tc.check != nil {
				tc.check(t, f)
			}
		})
	}
	// An error found after the rewrite still names the user's line.
	_, err := Parse([]byte(entry + "      timeout: 0\nlitellm_settings: # c\n  drop_params: True\n  num_retries: -1\n"))
	if err == nil || !strings.Contains(err.Error(), "(line 9)") {
		t.Errorf("error %v, want it at the user's line 9", err)
	}
}

// TestNumbersFromEnvironment: os.environ/VAR in a number (LiteLLM resolves
// it at load, for any value) and max_retries as a string (LiteLLM converts
// it). Strings keep their references for the edges to resolve.
func TestNumbersFromEnvironment(t *testing.T) {
	t.Setenv("GH_TEST_T", "5")
	t.Setenv("GH_TEST_ST", "2.5")
	t.Setenv("GH_TEST_BAD", "soon")
	f := mustParse(t, "environment_variables:\n  GH_TEST_RPM: \"100\"\n"+okModel+
		"      timeout: os.environ/GH_TEST_T\n      stream_timeout: os.environ/GH_TEST_ST\n      max_retries: \"3\"\n      rpm: os.environ/GH_TEST_RPM\n"+
		"litellm_settings:\n  request_timeout: os.environ/GH_TEST_T\n")
	p := f.ModelList[0].LiteLLMParams
	if p.Timeout != 5 || p.StreamTimeout != 2.5 || p.MaxRetries == nil || *p.MaxRetries != 3 || p.RPM != 100 || f.LiteLLMSettings.RequestTimeout != 5 {
		t.Errorf("params %+v, request_timeout %v", p, f.LiteLLMSettings.RequestTimeout)
	}
	if p.APIKey != "os.environ/OPENAI_API_KEY" {
		t.Errorf("api_key = %q, want the reference kept", p.APIKey)
	}
	parseFails(t, okModel+"      timeout: os.environ/GH_TEST_UNSET_VAR\n", "model_list[0].litellm_params.timeout: os.environ/GH_TEST_UNSET_VAR is not set")
	parseFails(t, okModel+"      timeout: os.environ/GH_TEST_BAD\n", `model_list[0].litellm_params.timeout: expected a number, got os.environ/GH_TEST_BAD, which is "soon" (line 6)`)
	parseFails(t, okModel+"      rpm: os.environ/GH_TEST_ST\n", `model_list[0].litellm_params.rpm: expected an integer, got "2.5" (line 6)`)
	// Only max_retries is converted from a string, as in LiteLLM.
	parseFails(t, okModel+"      stream_timeout: \"10\"\n", `stream_timeout: expected a number, got "10"`)
	parseFails(t, okModel+"      max_retries: \"three\"\n", `max_retries: expected an integer, got "three"`)
}

// TestOrganizationList: LiteLLM's list of organizations is refused with
// the reason and what to write instead, not as a type error.
func TestOrganizationList(t *testing.T) {
	parseFails(t, "model_list:\n  - model_name: \"*\"\n    litellm_params:\n      model: openai/*\n      organization: [org-1, org-2]\n",
		"model_list[0].litellm_params.organization: a list of organizations (which LiteLLM splits into one deployment each) is not supported; write one model_list entry per organization, each with its own organization (line 5)")
}

// TestDuplicateKeyIsOneError: a repeated key is one error; the rest of
// its mapping is still read (yaml.v3 would drop the whole mapping and
// report its other fields as missing).
func TestDuplicateKeyIsOneError(t *testing.T) {
	_, err := Parse([]byte("model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      api_key: k\n      api_key: k2\n"))
	want := "config: model_list[0].litellm_params.api_key: set twice, first at line 5 (line 6)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want only %s", err, want)
	}
}

// TestEnvWarnings: check reports, with their lines, the os.environ/
// references run warns about at start.
func TestEnvWarnings(t *testing.T) {
	f := mustParse(t, "environment_variables:\n  FROM_FILE: x\nmodel_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      api_key: os.environ/NOPE_NOT_SET\n      api_base: os.environ/FROM_FILE\n      organization: os.environ/SET_HERE\n")
	ws := f.EnvWarnings(func(k string) string {
		if k == "SET_HERE" {
			return "org"
		}
		return ""
	})
	if len(ws) != 1 || ws[0].Line != 7 || ws[0].Path != "model_list[0].litellm_params.api_key" || !strings.Contains(ws[0].Msg, "os.environ/NOPE_NOT_SET, which is not set") {
		t.Errorf("warnings %v, want one for api_key at line 7", ws)
	}
}

// TestSyntaxErrorLines: a YAML syntax error is a FieldError at the line
// to fix (check prints FILE:LINE), and a tab in the indentation is named.
func TestSyntaxErrorLines(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		line      int
		msg       string
	}{
		// LiteLLM's own proxy_config.yaml: a key indented unlike its
		// siblings after a flow mapping; yaml.v3 reports line 1.
		{"indentation", "general_settings:\n master_key: sk-1234\n alert_to_webhook_url: {\n    \"a\": [\n      \"b\",\n    ],\n  }\n  key_management_system: \"azure_key_vault\"\n", 8,
			"YAML syntax error: did not find expected key (the YAML parser reports line 1)"},
		{"tab", "model_list:\n  - model_name: a\n    litellm_params:\n\tmodel: openai/x\n", 4,
			"YAML syntax error: a tab character indents this line; YAML indents with spaces only"},
		{"unterminated quote", "model_list:\n  - model_name: a\n    litellm_params:\n      model: openai/x\n      api_key: \"unterminated\n", 5,
			"YAML syntax error: found unexpected end of stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Line != tc.line || fe.Msg != tc.msg {
				t.Errorf("got %#v (%v), want line %d: %s", fe, err, tc.line, tc.msg)
			}
		})
	}
}

// TestBadLineIsBounded: finding the line to fix parses a prefix per line,
// so it stops once that is too much work (the 4 s this case took) and
// keeps yaml.v3's line; a config of usual size still gets the exact line.
func TestBadLineIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("model_list:\n")
	for i := range 500 {
		fmt.Fprintf(&b, "  - model_name: m%d\n    litellm_params:\n      model: openai/x%d\n", i, i)
	}
	b.WriteString("  - model_name: a\n   bad\n")
	small := b.String()
	for i := range 480 {
		fmt.Fprintf(&b, "  - model_name: n%d\n    litellm_params:\n      model: openai/x%d\n", i, i)
	}
	if got := badLine([]byte(b.String())); got != 0 {
		t.Errorf("badLine of a large file = %d, want 0 (over budget)", got)
	}
	if got := badLine([]byte(small)); got != 1503 {
		t.Errorf("badLine = %d, want 1503", got)
	}
}

// TestLiteLLMConfigSettings: what the corpus configs' settings become,
// beyond starting.
func TestLiteLLMConfigSettings(t *testing.T) {
	load := func(name string) *File {
		t.Helper()
		data, err := os.ReadFile(filepath.Join("testdata", "litellm", name))
		if err != nil {
			t.Fatal(err)
		}
		f, _, err := Check(data)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	// deployment_id names the Azure deployment called.
	ms, err := load("tests_config_with_env_vars.yaml").Models(time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got := ms[0].LiteLLMParams.Model; got != "azure/gpt-4o-mini" {
		t.Errorf("deployment_id: model %q, want azure/gpt-4o-mini", got)
	}
	f := mustParse(t, okModel+"  - model_name: prod\n    litellm_params:\n      model: azure/gpt-4o\n      api_base: https://x.openai.azure.com\n      deployment_id: gpt-4o-prod\n")
	if ms, _ := f.Models(time.Unix(0, 0)); ms[1].LiteLLMParams.Model != "azure/gpt-4o-prod" {
		t.Errorf("deployment_id differing from model: model %q, want azure/gpt-4o-prod", ms[1].LiteLLMParams.Model)
	}
	// reject_clientside_metadata_tags, and its first name, reach edges in
	// the router settings event, also without router_settings.
	for _, name := range []string{"example_reject_clientside_metadata_tags_config.yaml", "example_reject_metadata_tags_config.yaml"} {
		ev, err := load(name).RoutingSettingsEvent(time.Unix(0, 0))
		if err != nil || ev == nil || !ev.RejectClientsideMetadataTags {
			t.Errorf("%s: routing event %+v (%v), want reject_clientside_metadata_tags", name, ev, err)
		}
	}
	if ev, _ := mustParse(t, okModel+"general_settings:\n  reject_clientside_metadata_tags: false\n  reject_metadata_tags: true\n").RoutingSettingsEvent(time.Unix(0, 0)); ev != nil {
		t.Errorf("reject_clientside_metadata_tags: false set next to the old name: event %+v, want none", ev)
	}
	// allowed_ips and use_x_forwarded_for reach edges and the admin API
	// in the router settings event: unset stays nil, [] stays empty (no
	// address allowed).
	for _, tc := range []struct {
		yaml string
		want *[]string
		xff  bool
	}{
		{"general_settings:\n  allowed_ips: [\"10.0.0.1\", \"10.1.0.0/16\"]\n", &[]string{"10.0.0.1", "10.1.0.0/16"}, false},
		{"general_settings:\n  allowed_ips: []\n", &[]string{}, false},
		{"general_settings:\n  use_x_forwarded_for: true\n", nil, true},
	} {
		ev, err := mustParse(t, okModel+tc.yaml).RoutingSettingsEvent(time.Unix(0, 0))
		if err != nil || ev == nil || !reflect.DeepEqual(ev.AllowedIPs, tc.want) || ev.UseXForwardedFor != tc.xff {
			t.Errorf("%q: routing event %+v (%v), want allowed_ips %v, use_x_forwarded_for %v", tc.yaml, ev, err, tc.want, tc.xff)
		}
	}
	if ev, _ := mustParse(t, okModel+"general_settings:\n  allowed_ips: null\n").RoutingSettingsEvent(time.Unix(0, 0)); ev != nil {
		t.Errorf("allowed_ips: null: event %+v, want none", ev)
	}
	// vertex_ai_project and vertex_ai_location are LiteLLM's other names
	// of vertex_project and vertex_location.
	f = mustParse(t, "model_list:\n  - model_name: c\n    litellm_params:\n      model: vertex_ai/claude-haiku-4-5\n      vertex_ai_project: my-project\n      vertex_ai_location: us-east5\n")
	if ms, _ := f.Models(time.Unix(0, 0)); ms[0].LiteLLMParams.VertexProject != "my-project" || ms[0].LiteLLMParams.VertexLocation != "us-east5" {
		t.Errorf("vertex_ai_project/location: %+v", ms[0].LiteLLMParams)
	}
	// A user_role given as os.environ/VAR is the variable's value.
	f = mustParse(t, okModel+"environment_variables:\n  GATEHOUSE_TEST_USER_ROLE: internal_user_viewer\nlitellm_settings:\n  default_internal_user_params:\n    user_role: os.environ/GATEHOUSE_TEST_USER_ROLE\n")
	if u := f.UserDefaults(); u == nil || u.UserRole != "internal_user_viewer" {
		t.Errorf("user_role from the environment: %+v", u)
	}
	t.Setenv("GATEHOUSE_TEST_USER_ROLE", "proxy_admin_viewer")
	if u := mustParse(t, okModel+"litellm_settings:\n  default_internal_user_params:\n    user_role: os.environ/GATEHOUSE_TEST_USER_ROLE\n").UserDefaults(); u == nil || u.UserRole != "proxy_admin_viewer" {
		t.Errorf("user_role from the process environment: %+v", u)
	}
}
