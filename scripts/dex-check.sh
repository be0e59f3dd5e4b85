#!/usr/bin/env bash
# dex-check.sh: checks gatehouse against a real Dex (https://dexidp.io), as
# an operator would: tokens from Dex's own token endpoint, sent to a
# running gatehouse. Nothing is built or downloaded here; the test suite
# cannot install Dex (no internet), so this runs by hand:
#
#   1. Dex v2.35+ with scripts/dex/config.yaml:
#        dex serve scripts/dex/config.yaml
#      or  docker run --rm -p 5556:5556 -v "$PWD/scripts/dex:/cfg" \
#            ghcr.io/dexidp/dex:v2.41.1 dex serve /cfg/config.yaml
#   2. gatehouse with its built-in config:   make run
#   3. scripts/dex-check.sh
#
# Environment (defaults in brackets):
#   DEX_ISSUER   [http://127.0.0.1:5556/dex]
#   EDGE_URL     [http://127.0.0.1:4000]   an edge
#   CONTROL_URL  [http://127.0.0.1:4001]   the control plane
#   MASTER_KEY   [sk-1234]
#   DEX_RESTART  optional command that restarts Dex (with the in-memory
#                storage of scripts/dex/config.yaml a restart is a key
#                rotation); enables the rotation check. Example:
#                DEX_RESTART='docker restart dex'
# Needs curl and jq. Exit status: the number of failed checks (0 = all
# hold). It changes gatehouse's JWT settings and creates the team
# "authors" and the users kilgore@kilgore.trout and admin@example.com:
# point it at a throwaway gatehouse.
set -u -o pipefail

DEX_ISSUER=${DEX_ISSUER:-http://127.0.0.1:5556/dex}
EDGE_URL=${EDGE_URL:-http://127.0.0.1:4000}
CONTROL_URL=${CONTROL_URL:-http://127.0.0.1:4001}
MASTER_KEY=${MASTER_KEY:-sk-1234}
REDIRECT=http://127.0.0.1:5555/callback
PASS=0 FAIL=0

for tool in curl jq; do
	command -v "$tool" >/dev/null || { echo "dex-check: $tool is required" >&2; exit 100; }
done

ok() { PASS=$((PASS + 1)); printf 'ok    %s\n' "$1"; }
bad() { FAIL=$((FAIL + 1)); printf 'FAIL  %s%s\n' "$1" "${2:+: $2}"; }
check() { # name, expected, actual
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "got $3, want $2"; fi
}

# status METHOD URL BEARER [JSON]: prints the HTTP status; the body goes to $BODY.
BODY=$(mktemp)
trap 'rm -f "$BODY" "$JAR" "$HDRS"' EXIT
JAR=$(mktemp)
HDRS=$(mktemp)
status() {
	local args=(-s -o "$BODY" -D "$HDRS" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $3")
	[ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' --data "$4")
	curl "${args[@]}" "$2"
}
admin() { status "$1" "$CONTROL_URL$2" "$MASTER_KEY" "${3:-}" >/dev/null; }
chat() { status POST "$EDGE_URL/v1/chat/completions" "$1" "{\"model\":\"$2\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"; }
claims() { # the payload of a JWT, as JSON
	local p
	p=$(cut -d. -f2 <<<"$1" | tr '_-' '/+')
	while [ $(( ${#p} % 4 )) -ne 0 ]; do p="$p="; done
	base64 -d <<<"$p" 2>/dev/null
}
urlencode() { jq -rn --arg s "$1" '$s|@uri'; }
# eventually NAME CMD...: retries CMD for up to 10 s (upserts are asynchronous).
eventually() {
	local name=$1
	shift
	for _ in $(seq 1 40); do
		if "$@"; then ok "$name"; return; fi
		sleep 0.25
	done
	bad "$name" "not within 10 s"
}

# mock_token SCOPES: a token for Kilgore Trout (groups: authors) through
# the authorization-code flow of Dex's mockCallback connector, following
# Dex's redirects without a browser.
mock_token() {
	local url loc code
	url="$DEX_ISSUER/auth/mock?client_id=gatehouse&redirect_uri=$(urlencode "$REDIRECT")&response_type=code&scope=$(urlencode "$1")&state=dexcheck"
	: >"$JAR"
	for _ in $(seq 1 10); do
		loc=$(curl -s -o /dev/null -b "$JAR" -c "$JAR" -w '%{redirect_url}' "$url")
		case "$loc" in
		"$REDIRECT"*) code=$(sed -n 's/.*[?&]code=\([^&]*\).*/\1/p' <<<"$loc"); break ;;
		"") echo "dex-check: the login stopped at $url (is the mockCallback connector configured?)" >&2; return 1 ;;
		esac
		url=$loc
	done
	curl -s -u gatehouse:gatehouse-secret -d grant_type=authorization_code --data-urlencode "code=${code:-}" \
		--data-urlencode "redirect_uri=$REDIRECT" "$DEX_ISSUER/token" | jq -r '.id_token // empty'
}

# password_token CLIENT SECRET: a token for the static user admin@example.com
# (password grant; scripts/dex/config.yaml sets passwordConnector: local).
password_token() {
	curl -s -u "$1:$2" -d grant_type=password -d username=admin@example.com -d password=password \
		--data-urlencode 'scope=openid email profile groups' "$DEX_ISSUER/token" | jq -r '.id_token // empty'
}

jwt_settings() { # [extra litellm_jwtauth fields as JSON]; prints the status
	local extra=${1:-}
	[ -n "$extra" ] || extra='{}'
	status POST "$CONTROL_URL/jwt/settings" "$MASTER_KEY" "$(jq -nc --arg iss "$DEX_ISSUER" --argjson extra "$extra" '{
		enable_jwt_auth: true,
		public_key_urls: [$iss + "/.well-known/openid-configuration"],
		issuer: $iss, audience: "gatehouse",
		litellm_jwtauth: ({team_ids_jwt_field: "groups", user_email_jwt_field: "email", user_id_upsert: true} + $extra)}')"
}

echo "Dex $DEX_ISSUER, edge $EDGE_URL, control $CONTROL_URL"

# --- Dex itself
disc=$(curl -sf "$DEX_ISSUER/.well-known/openid-configuration") || { echo "dex-check: no Dex at $DEX_ISSUER" >&2; exit 100; }
check "discovery issuer is DEX_ISSUER" "$DEX_ISSUER" "$(jq -r .issuer <<<"$disc")"
jwks_uri=$(jq -r .jwks_uri <<<"$disc")
check "jwks_uri is <issuer>/keys" "$DEX_ISSUER/keys" "$jwks_uri"
nkeys=$(curl -s "$jwks_uri" | jq '.keys | length')
[ "${nkeys:-0}" -ge 1 ] && ok "JWKS has $nkeys key(s)" || bad "JWKS has keys" "$nkeys"
cc=$(curl -s -D - -o /dev/null "$jwks_uri" | tr -d '\r' | sed -n 's/^[Cc]ache-[Cc]ontrol: //p')
[ -n "$cc" ] && ok "JWKS Cache-Control: $cc (gatehouse refreshes after max-age, at least 1 min)" || bad "JWKS sends Cache-Control"

# --- gatehouse setup
admin POST /team/delete '{"team_ids":["authors"]}'
admin POST /user/delete '{"user_ids":["kilgore@kilgore.trout","admin@example.com"]}'
check "team authors created" 200 "$(status POST "$CONTROL_URL/team/new" "$MASTER_KEY" '{"team_id":"authors","models":["gpt-4o"]}')"
check "JWT settings accepted" 200 "$(jwt_settings)"

# --- a user with groups (mockCallback connector)
tok=$(mock_token 'openid email profile groups')
[ -n "$tok" ] && ok "token from Dex (authorization code, mock connector)" || { bad "token from Dex"; exit "$FAIL"; }
c=$(claims "$tok")
check "aud is the client that asked (gatehouse)" gatehouse "$(jq -r 'if (.aud|type)=="array" then .aud[0] else .aud end' <<<"$c")"
check "groups claim (scope groups)" authors "$(jq -r '.groups[0] // "none"' <<<"$c")"
check "email claim (scope email)" kilgore@kilgore.trout "$(jq -r .email <<<"$c")"
sub=$(jq -r .sub <<<"$c")
[ "$sub" != kilgore@kilgore.trout ] && ok "sub is opaque ($sub): user id comes from the email" || bad "sub is opaque" "$sub"
check "team member: team model" 200 "$(chat "$tok" gpt-4o)"
check "team member: model outside the team" 403 "$(chat "$tok" claude-3-5-sonnet)"
user_has_team() { admin GET '/user/info?user_id=kilgore@kilgore.trout' && jq -e '.user_info.teams | index("authors")' "$BODY" >/dev/null; }
eventually "/user/info lists the team joined through the token" user_has_team
team_has_user() { admin GET '/team/info?team_id=authors' && jq -e '.team_info.members_with_roles | map(.user_id) | index("kilgore@kilgore.trout")' "$BODY" >/dev/null; }
eventually "/team/info lists the user" team_has_user

# --- tokens that must be refused
tampered=$(cut -d. -f1 <<<"$tok").$(claims "$tok" | jq -c '.groups=["admins"]' | base64 -w0 | tr '+/' '-_' | tr -d '=').$(cut -d. -f3 <<<"$tok")
check "tampered payload: 401" 401 "$(chat "$tampered" gpt-4o)"
madeup=$(printf '{"alg":"RS256","kid":"made-up-%s"}' "$RANDOM" | base64 -w0 | tr '+/' '-_' | tr -d '=').$(cut -d. -f2-3 <<<"$tok")
check "made-up kid: 401 (after one JWKS lookup)" 401 "$(chat "$madeup" gpt-4o)"
check "the real token still works after the made-up kid" 200 "$(chat "$tok" gpt-4o)"
other=$(curl -s -u other-app:other-secret -d grant_type=password -d username=admin@example.com -d password=password \
	--data-urlencode 'scope=openid email' "$DEX_ISSUER/token" | jq -r '.id_token // empty')
if [ -n "$other" ]; then
	check "token of another client (aud other-app): 401" 401 "$(chat "$other" gpt-4o)"
else
	bad "token for other-app (password grant)"
fi

# --- a token requested without the groups scope
nogroups=$(mock_token 'openid email')
check "no groups scope: no groups claim" none "$(claims "$nogroups" | jq -r '.groups[0] // "none"')"
check "no groups scope: served as a team-less user (wider access, documented)" 200 "$(chat "$nogroups" claude-3-5-sonnet)"
check "JWT settings with enforce_team_based_model_access" 200 "$(jwt_settings '{"enforce_team_based_model_access": true}')"
check "enforce_team_based_model_access: no groups scope refused" 403 "$(chat "$nogroups" claude-3-5-sonnet)"
check "enforce_team_based_model_access: member still served" 200 "$(chat "$tok" gpt-4o)"
check "JWT settings back" 200 "$(jwt_settings)"

# --- an admin: a stored proxy_admin user (Dex sends no roles)
adm=$(password_token gatehouse gatehouse-secret)
[ -n "$adm" ] && ok "token for the static user (password grant)" || bad "token for the static user"
check "before it is stored as admin: /key/list refused" 403 "$(status GET "$EDGE_URL/key/list" "$adm" | sed 's/401/403/')"
admin POST /user/new '{"user_id":"admin@example.com","user_email":"admin@example.com","user_role":"proxy_admin","auto_create_key":false}'
admin POST /user/update '{"user_id":"admin@example.com","user_role":"proxy_admin"}'
check "stored proxy_admin: /key/list" 200 "$(status GET "$EDGE_URL/key/list" "$adm")"
check "stored proxy_admin: any model" 200 "$(chat "$adm" claude-3-5-sonnet)"

# --- metrics
m=$(curl -s "$EDGE_URL/metrics")
grep -q '^gatehouse_jwks_keys{url="' <<<"$m" && ok "metric gatehouse_jwks_keys" || bad "metric gatehouse_jwks_keys"
grep -q '^gatehouse_jwks_unknown_kid_fetches_total ' <<<"$m" && ok "metric gatehouse_jwks_unknown_kid_fetches_total" || bad "metric gatehouse_jwks_unknown_kid_fetches_total"

# --- rotation: Dex restarted with in-memory storage has new keys
if [ -n "${DEX_RESTART:-}" ]; then
	sh -c "$DEX_RESTART" >/dev/null
	for _ in $(seq 1 60); do curl -sf "$DEX_ISSUER/.well-known/openid-configuration" >/dev/null && break; sleep 0.5; done
	fresh=$(mock_token 'openid email profile groups')
	check "after a Dex restart: the first token with the new key" 200 "$(chat "$fresh" gpt-4o)"
else
	echo "skip  rotation (set DEX_RESTART to a command that restarts Dex)"
fi

echo "dex-check: $PASS passed, $FAIL failed"
exit "$FAIL"
