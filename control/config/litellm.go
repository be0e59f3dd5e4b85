package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/policy"
)

// LiteLLM's config.yaml has many settings that gatehouse's design makes
// irrelevant (a database, Redis, a response cache), some it implements
// under another key, and a few it does not implement at all. Each such
// setting is classified here, so that a LiteLLM config is read honestly:
//
//   - ignored: accepted with one warning saying why it does not matter
//     here and what replaces it;
//   - alias: moved to the key gatehouse implements it under, before the
//     strict walk, so it is validated like the real key;
//   - refused: an error saying what would silently not happen if it were
//     accepted (a custom auth hook not running, a guardrail not checking).
//
// Anything else unknown stays an error with a did-you-mean (strict.go).
// The classification runs on the YAML tree before the walk, so lines and
// paths in messages are the ones the user wrote.

type settingKind int

const (
	ignored settingKind = iota + 1
	alias
	refused
)

// setting is the treatment of one LiteLLM key, by path pattern (list
// indices written as []).
type setting struct {
	kind settingKind
	// why: for ignored, why it does not matter and what replaces it; for
	// refused, what would silently not happen; for alias, an optional
	// warning when the alias is not exact.
	why string
	// to is an alias's target path pattern; its [] take the indices of
	// the source path.
	to string
	// judge, if set, decides from the value (callbacks: "prometheus" is
	// ignored, a Python module path is refused).
	judge func(v *yaml.Node) (settingKind, string)
	// rewrite, if set, implements an alias that is not a plain move: it
	// edits parent (the mapping holding the key) and reports an error
	// message, or "".
	rewrite func(parent, key, val *yaml.Node) string
}

const (
	whyDB          = "gatehouse has no database: keys, teams, users and deployments are events in NATS JetStream, spend rows go to ClickHouse (gatehouse sink)"
	whyRedis       = "gatehouse does not use Redis: cooldowns and least-busy counts are per edge, cross-edge rate limits and budgets go through NATS JetStream"
	whyHealth      = "gatehouse runs no background health checks: a failing deployment is cooled down by the router (allowed_fails, cooldown_time); edges serve /health/liveliness and /health/readiness"
	whyAlerting    = "gatehouse sends no Slack/email/webhook alerts: alert on its Prometheus /metrics (upstream errors, budget and spend series)"
	whyLogging     = "logging is set on the command line (-log-level, -log-format json|text), not in config.yaml"
	whyNoPrompts   = "gatehouse never logs or stores prompts and responses"
	whyUI          = "gatehouse has no admin UI; use the admin API or gatewayctl"
	whyObservation = "spend rows are in ClickHouse (/spend/logs), metrics on /metrics, one JSON access-log line per request on stderr"
)

// litellmSettings classifies LiteLLM keys that are not fields of File.
// TestLiteLLMSettingsAreNotFields keeps the two apart.
var litellmSettings = map[string]setting{
	// Database and its write path.
	"general_settings.database_url":                          {kind: ignored, why: whyDB},
	"general_settings.database_connection_pool_limit":        {kind: ignored, why: whyDB},
	"general_settings.database_connection_timeout":           {kind: ignored, why: whyDB},
	"general_settings.database_args":                         {kind: ignored, why: whyDB},
	"general_settings.store_model_in_db":                     {kind: ignored, why: "deployments added with /model/new are events already and survive restarts"},
	"general_settings.store_prompts_in_spend_logs":           {kind: ignored, why: whyNoPrompts},
	"general_settings.proxy_batch_write_at":                  {kind: ignored, why: "spend events leave each edge in batches of up to 256 events or 2 ms, off the request path"},
	"general_settings.disable_spend_logs":                    {kind: ignored, why: "every request becomes a spend row (tokens and cost, never the prompt); budgets are enforced from them"},
	"general_settings.allow_requests_on_db_unavailable":      {kind: ignored, why: "edges authorize from an in-memory snapshot, so no request waits on a store"},
	"general_settings.disable_adding_master_key_hash_to_db":  {kind: ignored, why: whyDB},
	"general_settings.maximum_spend_logs_retention_period":   {kind: ignored, why: "spend rows are kept in ClickHouse; retention is a ClickHouse matter (docs/spend.md)"},
	"general_settings.maximum_spend_logs_retention_interval": {kind: ignored, why: "spend rows are kept in ClickHouse; retention is a ClickHouse matter (docs/spend.md)"},
	"general_settings.proxy_budget_rescheduler_min_time":     {kind: ignored, why: "budget windows are reset by the control plane's budget tracker"},
	"general_settings.proxy_budget_rescheduler_max_time":     {kind: ignored, why: "budget windows are reset by the control plane's budget tracker"},
	"general_settings.disable_reset_budget":                  {kind: ignored, why: "budget windows are reset by the control plane's budget tracker"},
	"general_settings.use_redis_transaction_buffer":          {kind: ignored, why: whyRedis},
	"general_settings.disable_prisma_schema_update":          {kind: ignored, why: whyDB},

	// Health checks.
	"general_settings.background_health_checks":    {kind: ignored, why: whyHealth},
	"general_settings.health_check_interval":       {kind: ignored, why: whyHealth},
	"general_settings.health_check_details":        {kind: ignored, why: whyHealth},
	"general_settings.use_shared_health_check":     {kind: ignored, why: whyHealth},
	"general_settings.health_check_concurrency":    {kind: ignored, why: whyHealth},
	"model_list[].model_info.health_check_model":   {kind: ignored, why: whyHealth},
	"model_list[].model_info.health_check_timeout": {kind: ignored, why: whyHealth},

	// Alerting and observability integrations.
	"general_settings.alerting":                      {kind: ignored, why: whyAlerting},
	"general_settings.alerting_threshold":            {kind: ignored, why: whyAlerting},
	"general_settings.alert_types":                   {kind: ignored, why: whyAlerting},
	"general_settings.alert_to_webhook_url":          {kind: ignored, why: whyAlerting},
	"general_settings.alerting_args":                 {kind: ignored, why: whyAlerting},
	"general_settings.spend_report_frequency":        {kind: ignored, why: whyAlerting},
	"general_settings.otel":                          {kind: ignored, why: "gatehouse exports no OpenTelemetry traces: " + whyObservation},
	"litellm_settings.callbacks":                     {judge: judgeCallbacks},
	"litellm_settings.success_callback":              {judge: judgeCallbacks},
	"litellm_settings.failure_callback":              {judge: judgeCallbacks},
	"litellm_settings.service_callback":              {judge: judgeCallbacks},
	"litellm_settings.callback_settings":             {kind: ignored, why: "settings of observability callbacks, which gatehouse does not run: " + whyObservation},
	"litellm_settings.langfuse_default_tags":         {kind: ignored, why: "gatehouse has no Langfuse integration: " + whyObservation},
	"litellm_settings.set_verbose":                   {kind: ignored, why: whyLogging},
	"litellm_settings.json_logs":                     {kind: ignored, why: whyLogging},
	"general_settings.json_logs":                     {kind: ignored, why: whyLogging},
	"litellm_settings.telemetry":                     {kind: ignored, why: "gatehouse sends no telemetry"},
	"litellm_settings.turn_off_message_logging":      {kind: ignored, why: whyNoPrompts},
	"litellm_settings.redact_messages_in_exceptions": {kind: ignored, why: whyNoPrompts},
	"litellm_settings.redact_user_api_key_info":      {kind: ignored, why: "keys are logged and stored only as sha256 hashes"},
	"general_settings.ui_access_mode":                {kind: ignored, why: whyUI},
	"general_settings.ui_username":                   {kind: ignored, why: whyUI},
	"general_settings.ui_password":                   {kind: ignored, why: whyUI},

	// Caching, Redis.
	"litellm_settings.cache":          {kind: ignored, why: "gatehouse has no response cache: every request goes to the provider (and is billed)"},
	"litellm_settings.cache_params":   {kind: ignored, why: "gatehouse has no response cache: every request goes to the provider (and is billed)"},
	"router_settings.redis_host":      {kind: ignored, why: whyRedis},
	"router_settings.redis_port":      {kind: ignored, why: whyRedis},
	"router_settings.redis_password":  {kind: ignored, why: whyRedis},
	"router_settings.redis_url":       {kind: ignored, why: whyRedis},
	"router_settings.redis_db":        {kind: ignored, why: whyRedis},
	"router_settings.cache_responses": {kind: ignored, why: "gatehouse has no response cache: every request goes to the provider (and is billed)"},
	"router_settings.cache_kwargs":    {kind: ignored, why: "gatehouse has no response cache: every request goes to the provider (and is billed)"},
	"router_settings.client_ttl":      {kind: ignored, why: "upstream connections are pooled by each edge"},

	// Request handling that differs harmlessly.
	"litellm_settings.drop_params":                    {kind: ignored, why: "parameters are forwarded as sent to OpenAI-compatible providers; for Anthropic a parameter it cannot honour is a 400 naming it, not dropped"},
	"litellm_settings.modify_params":                  {kind: ignored, why: "messages are forwarded as sent; Anthropic requests are translated without modifying them"},
	"litellm_settings.ssl_verify":                     {kind: ignored, why: "TLS certificates of providers are always verified against the system roots"},
	"litellm_settings.force_ipv4":                     {kind: ignored, why: "the system resolver decides the address family"},
	"litellm_settings.enable_json_schema_validation":  {kind: ignored, why: "responses are forwarded as the provider sent them"},
	"router_settings.enable_pre_call_checks":          {kind: ignored, why: "prompts are not pre-checked against model_info.max_input_tokens; a prompt too long for the model is refused by the provider"},
	"router_settings.optional_pre_call_checks":        {kind: ignored, why: "prompts are not pre-checked; the provider refuses what it cannot serve"},
	"router_settings.retry_policy":                    {kind: ignored, why: "retries are not counted per error type: router_settings.num_retries applies to every retryable failure (connect error, timeout, 429, 5xx)"},
	"router_settings.allowed_fails_policy":            {kind: ignored, why: "failures are not counted per error type: router_settings.allowed_fails applies to every failure"},
	"router_settings.debug_level":                     {kind: ignored, why: whyLogging},
	"router_settings.set_verbose":                     {kind: ignored, why: whyLogging},
	"router_settings.routing_strategy_args":           {kind: ignored, why: "only simple-shuffle and least-busy are implemented; they take no arguments"},
	"model_list[].litellm_params.region_name":         {kind: ignored, why: "deployments are not filtered by region"},
	"model_list[].litellm_params.use_in_pass_through": {kind: ignored, why: "gatehouse has no pass-through endpoints"},

	"general_settings.disable_error_logs":                                {kind: ignored, why: "failed requests are spend rows with their status, never with the prompt"},
	"general_settings.default_team_disabled":                             {kind: ignored, why: "only the proxy admin can create teams in gatehouse, which is stricter"},
	"general_settings.enforced_params":                                   {kind: refused, why: "requests without these parameters would not be refused"},
	"general_settings.service_account_settings":                          {kind: refused, why: "service-account keys would not be required to send the enforced parameters"},
	"general_settings.reject_clientside_metadata_tags":                   {kind: refused, why: "tags sent by clients would not be rejected (with enable_tag_filtering they pick deployments)"},
	"general_settings.max_response_size_mb":                              {kind: ignored, why: "responses are streamed through, not buffered, so their size is not limited"},
	"general_settings.forward_openai_org_id":                             {kind: ignored, why: "the deployment's organization is sent, not the client's"},
	"general_settings.forward_client_headers_to_llm_api":                 {kind: ignored, why: "only the request body, x-request-id and the deployment's extra_headers reach the provider"},
	"general_settings.user_api_key_cache_ttl":                            {kind: ignored, why: "edges hold every key in memory and apply changes as they are committed, so there is no cache to expire"},
	"general_settings.use_x_forwarded_for":                               {kind: ignored, why: "client addresses are not used for decisions"},
	"general_settings.disable_retry_on_max_parallel_request_limit_error": {kind: ignored, why: "a request over a parallel limit is refused, never retried"},
	"general_settings.infer_model_from_keys":                             {kind: ignored, why: "the model comes from the request"},
	"general_settings.supported_db_objects":                              {kind: ignored, why: whyDB},
	"general_settings.proxy_batch_polling_interval":                      {kind: ignored, why: whyDB},
	"general_settings.disable_master_key_return":                         {kind: ignored, why: "the master key is never returned by any route"},
	"general_settings.enable_public_model_hub":                           {kind: ignored, why: whyUI},
	"general_settings.allow_client_side_credentials":                     {kind: ignored, why: "clients cannot send provider credentials; requests always use the deployment's own"},
	"litellm_settings.enable_preview_features":                           {kind: ignored, why: "no preview features to enable"},
	"litellm_settings.return_response_headers":                           {kind: ignored, why: "provider response headers are not forwarded"},
	"litellm_settings.disable_end_user_cost_tracking":                    {kind: ignored, why: "end-user spend is always recorded: end-user budgets need it"},
	"litellm_settings.disable_end_user_cost_tracking_prometheus_only":    {kind: ignored, why: "end users are never a metrics label"},
	"litellm_settings.enable_loadbalancing_on_batch_endpoints":           {kind: ignored, why: "gatehouse has no batch endpoints"},
	"litellm_settings.global_disable_no_log_param":                       {kind: ignored, why: whyNoPrompts},
	"litellm_settings.public_model_groups":                               {kind: ignored, why: whyUI},
	"litellm_settings.prometheus_initialize_budget_metrics":              {kind: ignored, why: "budget metrics are on /metrics when budgets exist"},
	"litellm_settings.default_redis_batch_cache_expiry":                  {kind: ignored, why: whyRedis},
	"litellm_settings.extra_spend_tag_headers":                           {kind: ignored, why: "spend rows are not tagged from headers"},
	"router_settings.max_fallbacks":                                      {kind: ignored, why: "every group listed under fallbacks is tried, in order"},
	"router_settings.retry_after":                                        {kind: ignored, why: "retries go to another deployment at once"},
	"router_settings.polling_interval":                                   {kind: ignored, why: "gatehouse does not poll"},
	"router_settings.tag_filtering_match_any":                            {kind: ignored, why: "a request's tags always match any deployment tag"},
	"model_list[].litellm_params.drop_params":                            {kind: ignored, why: "parameters are forwarded as sent to OpenAI-compatible providers; for Anthropic a parameter it cannot honour is a 400 naming it, not dropped"},
	"model_list[].litellm_params.num_retries":                            {kind: ignored, why: "retries are set for all groups by router_settings.num_retries"},
	"model_list[].litellm_params.merge_reasoning_content_in_choices":     {kind: ignored, why: "responses are forwarded as the provider sent them"},

	// Aliases: settings gatehouse implements under another key.
	"litellm_settings.internal_user_budget_duration":  {kind: alias, to: "litellm_settings.default_internal_user_params.budget_duration"},
	"litellm_settings.num_retries":                    {kind: alias, to: "router_settings.num_retries"},
	"litellm_settings.fallbacks":                      {kind: alias, to: "router_settings.fallbacks"},
	"litellm_settings.allowed_fails":                  {kind: alias, to: "router_settings.allowed_fails"},
	"litellm_settings.cooldown_time":                  {kind: alias, to: "router_settings.cooldown_time"},
	"router_settings.timeout":                         {kind: alias, to: "litellm_settings.request_timeout"},
	"router_settings.disable_cooldowns":               {kind: alias, rewrite: rewriteDisableCooldowns},
	"litellm_settings.context_window_fallbacks":       {kind: alias, to: "router_settings.context_window_fallbacks"},
	"model_list[].rpm":                                {kind: alias, to: "model_list[].litellm_params.rpm"},
	"model_list[].tpm":                                {kind: alias, to: "model_list[].litellm_params.tpm"},
	"model_list[].litellm_params.base_model":          {kind: alias, to: "model_list[].model_info.base_model"},
	"model_list[].litellm_params.custom_llm_provider": {kind: alias, rewrite: rewriteCustomProvider},
	"general_settings.litellm_jwtauth.public_key_url": {kind: alias, to: "environment_variables." + EnvJWTPublicKeyURL},
	"general_settings.litellm_jwtauth.issuer":         {kind: alias, to: "environment_variables." + EnvJWTIssuer},
	"general_settings.litellm_jwtauth.audience":       {kind: alias, to: "environment_variables." + EnvJWTAudience},

	// Refused: accepting these would silently change security, spend or
	// routing.
	"general_settings.custom_auth":                       {kind: refused, why: "the Python function would not run, so requests would be authorized by virtual keys and JWTs only"},
	"general_settings.custom_key_generate":               {kind: refused, why: "the Python function would not run, so /key/generate would not apply its checks"},
	"general_settings.custom_sso":                        {kind: refused, why: "the Python SSO handler would not run"},
	"general_settings.pass_through_endpoints":            {kind: refused, why: "the endpoints would not exist: requests to them would get 404 instead of reaching the target"},
	"general_settings.enable_oauth2_auth":                {kind: refused, why: "OAuth2 token introspection would not run; use enable_jwt_auth with the provider's JWKS"},
	"general_settings.enable_oauth2_proxy_auth":          {kind: refused, why: "identities from an OAuth2 proxy's headers would not be read"},
	"general_settings.allowed_ips":                       {kind: refused, why: "requests from other IP addresses would not be refused"},
	"general_settings.allowed_routes":                    {kind: refused, why: "routes outside the list would not be refused"},
	"general_settings.admin_only_routes":                 {kind: refused, why: "these routes would not be restricted to admins beyond gatehouse's own rules"},
	"general_settings.public_routes":                     {kind: refused, why: "these routes would not be opened without a key (use litellm_jwtauth.public_allowed_routes for JWT setups)"},
	"general_settings.enforce_user_param":                {kind: refused, why: "requests without a \"user\" field would not be refused"},
	"general_settings.global_max_parallel_requests":      {kind: refused, why: "the proxy-wide limit on parallel requests would not be enforced"},
	"general_settings.max_parallel_requests":             {kind: refused, why: "the proxy-wide limit on parallel requests would not be enforced"},
	"general_settings.key_management_system":             {kind: refused, why: "secrets would not be read from the key management system, so os.environ/ references would not resolve from it"},
	"general_settings.key_management_settings":           {kind: refused, why: "secrets would not be read from the key management system"},
	"general_settings.use_google_kms":                    {kind: refused, why: "secrets would not be decrypted with Google KMS"},
	"general_settings.use_azure_key_vault":               {kind: refused, why: "secrets would not be read from Azure Key Vault"},
	"general_settings.litellm_key_header_name":           {kind: refused, why: "keys sent in that header would not be read: clients would get 401"},
	"general_settings.user_header_name":                  {kind: refused, why: "the end user would not be read from that header, so end-user spend and budgets would not apply"},
	"general_settings.enable_key_rotation":               {kind: refused, why: "keys would not be rotated automatically"},
	"general_settings.guardrails":                        {kind: refused, why: "requests would reach the model without the guardrails' checks"},
	"guardrails":                                         {kind: refused, why: "requests would reach the model without the guardrails' checks"},
	"litellm_settings.guardrails":                        {kind: refused, why: "requests would reach the model without the guardrails' checks"},
	"litellm_settings.max_budget":                        {kind: refused, why: "the proxy-wide budget would not be enforced; set max_budget on teams or keys"},
	"litellm_settings.budget_duration":                   {kind: refused, why: "the proxy-wide budget would not be reset; set budget_duration on teams or keys"},
	"litellm_settings.content_policy_fallbacks":          {kind: refused, why: "a request refused by a provider's content policy would not fall back to the listed groups"},
	"litellm_settings.default_fallbacks":                 {kind: refused, why: "a failed request of a group without its own fallbacks would not fall back; list each group under router_settings.fallbacks"},
	"router_settings.default_fallbacks":                  {kind: refused, why: "a failed request of a group without its own fallbacks would not fall back; list each group under router_settings.fallbacks"},
	"router_settings.content_policy_fallbacks":           {kind: refused, why: "a request refused by a provider's content policy would not fall back to the listed groups"},
	"router_settings.provider_budget_config":             {kind: refused, why: "the per-provider budgets would not be enforced"},
	"router_settings.model_group_retry_policy":           {kind: refused, why: "per-group retry counts would not apply"},
	"router_settings.pre_call_checks":                    {kind: refused, why: "the checks would not run"},
	"litellm_settings.default_team_settings":             {kind: ignored, why: "per-team logging callbacks are not run: " + whyObservation},
	"litellm_settings.max_internal_user_budget_duration": {kind: refused, why: "internal users' budgets would not be reset"},
	"model_list[].litellm_params.max_budget":             {kind: refused, why: "the deployment's budget would not be enforced"},
	"model_list[].litellm_params.budget_duration":        {kind: refused, why: "the deployment's budget would not be enforced"},
	"model_list[].litellm_params.max_parallel_requests":  {kind: refused, why: "the deployment's parallel-request limit would not be enforced"},
	"model_list[].litellm_params.guardrails":             {kind: refused, why: "requests would reach the model without the guardrails' checks"},
	"include":                                            {kind: refused, why: "the included files would not be read, so their models and settings would be missing"},
	"litellm_settings.default_team_params":               {kind: refused, why: "teams created by JWT team_id_upsert would not get these budgets and limits"},
	"litellm_settings.presidio_ad_hoc_recognizers":       {kind: refused, why: "PII would not be masked"},
	"litellm_settings.output_parse_pii":                  {kind: refused, why: "PII would not be masked"},
	"litellm_settings.enable_azure_ad_token_refresh":     {kind: refused, why: "Entra ID tokens would not be fetched, so Azure requests would go out without credentials"},
	"router_settings.default_max_parallel_requests":      {kind: refused, why: "the per-deployment parallel-request limit would not be enforced"},
	"router_settings.default_litellm_params":             {kind: refused, why: "the parameters would not be applied to every deployment; set them on each deployment's litellm_params"},
	"model_list[].litellm_params.input_cost_per_second":  {kind: refused, why: "requests would be recorded with cost 0: gatehouse prices tokens only"},
	"model_list[].litellm_params.output_cost_per_second": {kind: refused, why: "requests would be recorded with cost 0: gatehouse prices tokens only"},
	"model_list[].litellm_params.tenant_id":              {kind: refused, why: "Entra ID tokens would not be fetched, so requests would go out without credentials; use api_key"},
	"model_list[].litellm_params.client_id":              {kind: refused, why: "Entra ID tokens would not be fetched, so requests would go out without credentials; use api_key"},
	"model_list[].litellm_params.client_secret":          {kind: refused, why: "Entra ID tokens would not be fetched, so requests would go out without credentials; use api_key"},
	"model_list[].litellm_params.azure_ad_token":         {kind: refused, why: "the Entra ID token would not be sent, so requests would go out without credentials; use api_key"},
	"model_list[].litellm_params.additional_drop_params": {kind: refused, why: "the parameters would reach the provider instead of being dropped"},
	"mcp_servers":     {kind: refused, why: "gatehouse has no MCP gateway: the servers would not be reachable"},
	"credential_list": {kind: refused, why: "litellm_credential_name references would not resolve; give api_key as os.environ/VAR"},
	"model_list[].litellm_params.litellm_credential_name": {kind: refused, why: "the credential would not be resolved, so requests would go out without a key; give api_key as os.environ/VAR"},
	"vector_store_registry":                               {kind: refused, why: "gatehouse has no vector store endpoints"},
	"files_settings":                                      {kind: refused, why: "gatehouse has no files endpoints"},
	"finetune_settings":                                   {kind: refused, why: "gatehouse has no fine-tuning endpoints"},
	"assistant_settings":                                  {kind: refused, why: "gatehouse has no assistants endpoints"},
}

// observability are the callbacks gatehouse has a replacement for.
var observability = map[string]string{
	"prometheus": "gatehouse serves Prometheus metrics on /metrics (edge and control plane)",
}

// guardCallbacks are LiteLLM callbacks that check or change requests;
// not running them would let through what they stop.
var guardCallbacks = map[string]string{
	"lakera_prompt_injection": "prompt injections would not be blocked",
	"detect_prompt_injection": "prompt injections would not be blocked",
	"hide_secrets":            "secrets in prompts would reach the provider",
	"presidio":                "PII would not be masked",
	"llamaguard_moderations":  "requests would not be moderated",
	"llmguard_moderations":    "requests would not be moderated",
	"google_text_moderation":  "requests would not be moderated",
	"openai_moderations":      "requests would not be moderated",
	"aporia":                  "requests would reach the model without the guardrail's checks",
	"bedrock_guardrails":      "requests would reach the model without the guardrail's checks",
	"dynamic_rate_limiter":    "the dynamic rate limits would not be enforced",
	"max_budget_limiter":      "the budget limits of the callback would not be enforced",
}

func judgeCallbacks(v *yaml.Node) (settingKind, string) {
	var names []string
	switch v = deref(v); v.Kind {
	case yaml.ScalarNode:
		if !isNull(v) && v.Value != "" {
			names = []string{v.Value}
		}
	case yaml.SequenceNode:
		for _, c := range v.Content {
			if c = deref(c); c.Kind == yaml.ScalarNode {
				names = append(names, c.Value)
			}
		}
	default:
		return ignored, "callbacks are not run: " + whyObservation
	}
	if len(names) == 0 {
		return 0, "" // callbacks: [] asks for nothing
	}
	var whys []string
	for _, n := range names {
		if strings.Contains(n, ".") {
			// A Python object (custom_callbacks.proxy_handler_instance):
			// its hooks may reject or modify requests, which gatehouse
			// would not do.
			return refused, fmt.Sprintf("the Python callback %s would not run, so its hooks would not log, modify or reject requests", n)
		}
		if why, ok := guardCallbacks[n]; ok {
			return refused, fmt.Sprintf("the %s callback would not run: %s", n, why)
		}
		if r, ok := observability[n]; ok {
			whys = append(whys, r)
		} else {
			whys = append(whys, fmt.Sprintf("gatehouse has no %s integration", n))
		}
	}
	why := strings.Join(whys, "; ")
	if len(whys) != 1 || names[0] != "prometheus" {
		why += ": " + whyObservation
	}
	return ignored, why
}

// rewriteDisableCooldowns makes router_settings.disable_cooldowns: true
// into cooldown_time: 0, which the router treats as "no cooldown".
func rewriteDisableCooldowns(parent, key, val *yaml.Node) string {
	var on bool
	if err := deref(val).Decode(&on); err != nil {
		return "expected true or false"
	}
	if !on {
		return ""
	}
	if k, _ := lookup(parent, "cooldown_time"); k != nil {
		return fmt.Sprintf("disable_cooldowns: true means cooldown_time: 0, but cooldown_time is set too (line %d); keep one", k.Line)
	}
	parent.Content = append(parent.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "cooldown_time", Line: key.Line, Column: key.Column},
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "0", Line: val.Line, Column: val.Column})
	return ""
}

// rewriteCustomProvider puts custom_llm_provider in front of the model
// name, the form gatehouse reads the provider from.
func rewriteCustomProvider(parent, key, val *yaml.Node) string {
	v := deref(val)
	if v.Kind != yaml.ScalarNode {
		return "expected a string"
	}
	p := v.Value
	if !policy.IsKnownProvider(p) {
		return fmt.Sprintf("%q is not a provider gatehouse knows", p)
	}
	_, m := lookup(parent, "model")
	if m == nil || deref(m).Kind != yaml.ScalarNode {
		return "" // the walk reports the missing model
	}
	m = deref(m)
	if prov, _ := policy.SplitProvider(m.Value); strings.HasPrefix(m.Value, prov+"/") {
		if prov != p {
			return fmt.Sprintf("says %s but litellm_params.model %q names provider %s", p, m.Value, prov)
		}
		return ""
	}
	m.Value = p + "/" + m.Value
	return ""
}

func lookup(m *yaml.Node, name string) (key, val *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := deref(m.Content[i]); k.Kind == yaml.ScalarNode && k.Value == name {
			return k, m.Content[i+1]
		}
	}
	return nil, nil
}

// pattern turns "model_list[3].rpm" into "model_list[].rpm".
func pattern(path string) string {
	if !strings.Contains(path, "[") {
		return path
	}
	var b strings.Builder
	skip := false
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '[':
			skip = true
			b.WriteByte(c)
		case c == ']':
			skip = false
			b.WriteByte(c)
		case !skip:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// fillIndices puts the indices of from ("model_list[3].rpm") into the []
// of to ("model_list[].litellm_params.rpm").
func fillIndices(to, from string) string {
	var idx []string
	for rest := from; ; {
		i := strings.IndexByte(rest, '[')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], ']')
		idx = append(idx, rest[i+1:i+j])
		rest = rest[i+j+1:]
	}
	for _, n := range idx {
		to = strings.Replace(to, "[]", "["+n+"]", 1)
	}
	return to
}

// classify applies litellmSettings to the tree: ignored keys are removed
// with a warning, aliases moved to their target, refused keys removed with
// an error. It runs before the walk. Only keys that are not File fields at
// their place are looked up, so a real field is never reclassified.
func (w *walker) classify(root *yaml.Node) {
	if root.Kind != yaml.MappingNode {
		return
	}
	w.classifyMapping(root, root, fileType, "", map[*yaml.Node]bool{})
}

func (w *walker) classifyMapping(root, n *yaml.Node, t reflect.Type, path string, seen map[*yaml.Node]bool) {
	if seen[n] {
		return
	}
	seen[n] = true
	var fields *fieldSet
	if t != nil {
		fields = knownFields(t)
	}
	for i := 0; i+1 < len(n.Content); {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode || (k.Value == "<<" && k.ShortTag() == "!!merge") {
			i += 2
			continue
		}
		sub := joinPath(path, k.Value)
		if fields != nil {
			if ft, ok := fields.types[k.Value]; ok {
				w.classifyChild(root, v, ft, sub, seen)
				i += 2
				continue
			}
		}
		s, ok := litellmSettings[pattern(sub)]
		if !ok && path == "litellm_settings" && (strings.HasSuffix(k.Value, "_callback_params") || strings.HasPrefix(k.Value, "langfuse_")) {
			// s3_callback_params, gcs_callback_params, ...: settings of
			// observability callbacks, which are not run.
			s, ok = setting{kind: ignored, why: "settings of an observability callback, which gatehouse does not run: " + whyObservation}, true
		}
		if !ok {
			if fields != nil && pattern(path) == "model_list[].model_info" && hintFor(path, fields, k.Value, v) == "" {
				// model_info is free-form metadata in LiteLLM
				// (supports_vision, ...); gatehouse reads the fields
				// above. A near miss of one of them stays an error.
				s, ok = setting{kind: ignored, why: "model_info metadata that gatehouse does not use"}, true
			}
		}
		if !ok {
			i += 2
			continue
		}
		kind, why := s.kind, s.why
		if s.judge != nil {
			kind, why = s.judge(v)
		}
		switch kind {
		case 0:
			w.drop(n, i)
			continue
		case ignored:
			w.warns = append(w.warns, &FieldError{Path: sub, Line: k.Line, Msg: "ignored: " + why})
			w.drop(n, i)
			continue
		case refused:
			w.errs = append(w.errs, &FieldError{Path: sub, Line: k.Line,
				Msg: fmt.Sprintf("LiteLLM setting %s is not supported by gatehouse: %s", k.Value, why)})
			w.drop(n, i)
			continue
		case alias:
			if s.rewrite != nil {
				if msg := s.rewrite(n, k, v); msg != "" {
					w.errs = append(w.errs, &FieldError{Path: sub, Line: k.Line, Msg: msg})
				}
				w.drop(n, i)
				continue
			}
			to := fillIndices(s.to, sub)
			if why != "" {
				w.warns = append(w.warns, &FieldError{Path: sub, Line: k.Line, Msg: why})
			}
			if msg := moveTo(root, to, k, v); msg != "" {
				w.errs = append(w.errs, &FieldError{Path: sub, Line: k.Line, Msg: msg})
			}
			w.drop(n, i)
			continue
		}
		i += 2
	}
}

func (w *walker) classifyChild(root, v *yaml.Node, t reflect.Type, path string, seen map[*yaml.Node]bool) {
	v = deref(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && v.Kind == yaml.MappingNode:
		w.classifyMapping(root, v, t, path, seen)
	case t.Kind() == reflect.Slice && v.Kind == yaml.SequenceNode:
		for i, c := range v.Content {
			sub := path + "[" + strconv.Itoa(i) + "]"
			if t.Elem() == modelEntryType && w.unservable(deref(c), sub) {
				continue
			}
			w.classifyChild(root, c, t.Elem(), sub, seen)
		}
	case path == "router_settings.model_group_alias" && v.Kind == yaml.MappingNode:
		// LiteLLM takes "alias: group" or "alias: {model: group,
		// hidden: true}"; the first becomes the second.
		for i := 1; i < len(v.Content); i += 2 {
			if c := deref(v.Content[i]); c.Kind == yaml.ScalarNode && !isNull(c) {
				w.rewrote = true
				v.Content[i] = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: c.Line, Column: c.Column,
					Content: []*yaml.Node{{Kind: yaml.ScalarNode, Tag: "!!str", Value: "model", Line: c.Line, Column: c.Column}, c}}
			}
		}
	}
}

func (w *walker) drop(n *yaml.Node, i int) {
	w.rewrote = true
	n.Content = append(n.Content[:i], n.Content[i+2:]...)
}

// moveTo puts key: val at the dotted path to (creating mappings on the
// way), unless something is there already.
func moveTo(root *yaml.Node, to string, key, val *yaml.Node) string {
	segs := splitPath(to)
	cur := root
	for i, s := range segs {
		last := i == len(segs)-1
		if s.index >= 0 {
			if cur.Kind != yaml.SequenceNode || s.index >= len(cur.Content) {
				return ""
			}
			cur = deref(cur.Content[s.index])
			continue
		}
		if cur.Kind != yaml.MappingNode {
			return "" // the walk reports the type error of the target
		}
		k, v := lookup(cur, s.name)
		if last {
			if k != nil && !isNull(deref(v)) {
				if a, b := deref(v), deref(val); a.Kind == yaml.ScalarNode && b.Kind == yaml.ScalarNode && a.Value == b.Value {
					return "" // the same value twice
				}
				return fmt.Sprintf("is LiteLLM's name for %s, which is set too (line %d); keep one", to, k.Line)
			}
			nk := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s.name, Line: key.Line, Column: key.Column}
			if k != nil {
				for j := 0; j+1 < len(cur.Content); j += 2 {
					if deref(cur.Content[j]) == k {
						cur.Content[j+1] = val
					}
				}
				return ""
			}
			cur.Content = append(cur.Content, nk, val)
			return ""
		}
		if k == nil || isNull(deref(v)) {
			nv := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: key.Line, Column: key.Column}
			if k == nil {
				cur.Content = append(cur.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s.name, Line: key.Line, Column: key.Column}, nv)
			} else {
				for j := 0; j+1 < len(cur.Content); j += 2 {
					if deref(cur.Content[j]) == k {
						cur.Content[j+1] = nv
					}
				}
			}
			cur = nv
			continue
		}
		cur = deref(v)
	}
	return ""
}

type seg struct {
	name  string
	index int // -1 for a name
}

func splitPath(p string) []seg {
	var out []seg
	for _, part := range strings.Split(p, ".") {
		name, rest, _ := strings.Cut(part, "[")
		out = append(out, seg{name: name, index: -1})
		for rest != "" {
			num, after, _ := strings.Cut(rest, "]")
			n, _ := strconv.Atoi(num)
			out = append(out, seg{index: n})
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return out
}

var modelEntryType = reflect.TypeOf(ModelEntry{})

// unservable reports (once, as an error naming the deployment) a
// model_list entry that would fail on every request: a provider the edge
// has no client for, or a mode the edge has no endpoint for (it serves
// chat, embedding and completion deployments). Its other fields are not
// walked, so the user reads one reason, not a list of unknown fields
// (aws_region_name, vertex_project, ...). A deployment with mock_response
// is servable whatever its provider: it never calls the provider.
func (w *walker) unservable(e *yaml.Node, path string) bool {
	if e.Kind != yaml.MappingNode {
		return false
	}
	str := func(m *yaml.Node, name string) string {
		if m == nil || deref(m).Kind != yaml.MappingNode {
			return ""
		}
		_, v := lookup(deref(m), name)
		if v == nil || deref(v).Kind != yaml.ScalarNode || isNull(deref(v)) {
			return ""
		}
		return deref(v).Value
	}
	_, params := lookup(e, "litellm_params")
	_, info := lookup(e, "model_info")
	name := str(e, "model_name")
	model := str(params, "model")
	if model == "" || str(params, "mock_response") != "" {
		return false
	}
	if p := str(params, "custom_llm_provider"); p != "" {
		// As rewriteCustomProvider will: unless the model names its
		// provider already.
		if prov, _ := policy.SplitProvider(model); !strings.HasPrefix(model, prov+"/") {
			model = p + "/" + model
		}
	}
	provider, upstream := policy.SplitProvider(model)
	why := ""
	switch mode := str(info, "mode"); {
	case !policy.ServedMode(mode):
		why = fmt.Sprintf("model_info.mode is %s; gatehouse serves chat, embedding and completion deployments only (/v1/chat/completions, /v1/embeddings, /v1/completions), so every request to it would fail", mode)
	case provider != "" && !modeServed(provider, mode):
		why = fmt.Sprintf("model_info.mode is %s, and gatehouse's edge has no %s API for provider %s (it serves them for OpenAI-compatible providers and azure/), so every request to it would fail", mode, mode, provider)
	case provider != "" && !policy.CanServe(provider):
		why = fmt.Sprintf("gatehouse's edge cannot call provider %s (it serves OpenAI-compatible providers, azure/, anthropic/, bedrock/, gemini/ and vertex_ai/), so every request to it would fail", provider)
	case provider == policy.ProviderOpenAI && !servedModel(upstream):
		why = fmt.Sprintf("%s is not a chat, embedding or completion model; gatehouse serves /v1/chat/completions, /v1/embeddings and /v1/completions only, so every request to it would fail", upstream)
	default:
		return false
	}
	line := e.Line
	w.errs = append(w.errs, &FieldError{Path: path, Line: line,
		Msg: fmt.Sprintf("deployment %q (litellm_params.model: %s) is not supported: %s", name, model, why)})
	w.bad = append(w.bad, path)
	w.skip(e)
	return true
}

// modeServed reports whether the edge calls provider's API for an
// embedding or completion deployment (chat: every provider it can call).
func modeServed(provider, mode string) bool {
	switch mode {
	case policy.ModeEmbedding:
		return policy.ProviderServes(provider, policy.EndpointEmbeddings)
	case policy.ModeCompletion:
		return policy.ProviderServes(provider, policy.EndpointCompletions)
	}
	return true
}

// servedModel rejects OpenAI model families served on endpoints the edge
// does not have (images, audio, moderation).
func servedModel(m string) bool {
	for _, p := range []string{"dall-e", "whisper", "tts-", "omni-moderation", "text-moderation", "gpt-image"} {
		if strings.HasPrefix(m, p) {
			return false
		}
	}
	return true
}

// skip makes the walk pass over n (its error was reported).
func (w *walker) skip(n *yaml.Node) {
	if w.skipped == nil {
		w.skipped = map[*yaml.Node]bool{}
	}
	w.skipped[n] = true
}
