#!/bin/bash
# Issue 10.1 through `k8s-auth check`: the issuer-key (discovery/JWKS)
# cache answers only for the configuration that filled it, and stale keys
# never serve silently.  Removing certificateAuthority makes check stop
# accepting at once (the cached keys were fetched under the old trust);
# keys served because a refetch failed come with a warning on stderr (and
# "warning" in the JSON), only within jwtOptions.maxStaleness.  (check
# never reads the review cache; the review cache's keys are shown through
# PAM in t_pam_cache_keys.sh.)
. "$(dirname "$0")/../lib.sh"
check_begin

cfg=$TEST_TMP/config.yaml
write_config() { # $1: with_ca|no_ca, $2: extra top-level YAML
	{
		cat <<EOC
jwt:
- issuer:
    url: $FC_IDP
    audiences: ["k8s-auth"]
EOC
		if [ "$1" = with_ca ]; then
			echo "    certificateAuthority: |"
			sed 's/^/      /' "$FC_CA"
		fi
		cat <<EOC
  claimMappings:
    username: {claim: email, prefix: ""}
accounts:
  users:
  - match: '^([a-z][a-z0-9_-]*)@example\.com\$'
    local: '\1'
store: $TEST_TMP/store
cacheDir: $TEST_TMP/cache
${2-}
EOC
	} >"$cfg"
	chmod 644 "$cfg"
}

check() { check_token "$@"; }
jwks_fetches() { fc_requests /idp/keys; }
# age_cache SECONDS: every cached key set was fetched (and last tried) that long ago
age_cache() {
	local f t
	t=$(($(date +%s) - $1))
	for f in "$TEST_TMP"/cache/jwks/*.json; do
		jq --argjson t "$t" '.fetched_at = $t | .attempted_at = $t' "$f" >"$f.new" &&
			chmod 600 "$f.new" && mv -f "$f.new" "$f" || fail "cannot age $f"
	done
}

tok=$(fc_idp_mint --alg ES256)

# ---- certificateAuthority removed: the cached keys do not serve
write_config with_ca
check "$tok" 0
assert_eq "$(jwks_fetches)" 1 "keys fetched once under the CA"
check "$tok" 0
assert_eq "$(jwks_fetches)" 1 "then served from the cache"
write_config no_ca
check "$tok" 3
assert_contains "$ERR" "TLS verification failed" "without the CA: the issuer is asked, and not trusted"
assert_eq "$(field .authenticated)" false "not accepted from keys cached under the old CA"
assert_eq "$(jwks_fetches)" 1 "no keys fetched without the CA"
write_config with_ca
check "$tok" 0
assert_eq "$(jwks_fetches)" 1 "the CA back: its cached keys serve again"
assert_eq "$(field .warning)" null "fresh keys: no warning"
case "$ERR" in *warning*) fail "fresh keys: a warning on stderr: $ERR" ;; esac
ok "fresh keys: nothing on stderr"

# ---- the issuer down, keys older than their hour: stale, said out loud
age_cache 7200
fc_fault '{"mode": "status", "code": 503, "paths": ["/idp"]}'
check "$tok" 0
assert_contains "$ERR" "k8s-auth: warning: issuer $FC_IDP: using cached keys fetched" \
	"stale keys: warning on stderr"
assert_contains "$ERR" "HTTP 503" "the warning says why the refresh failed"
assert_contains "$(field .warning)" "using cached keys fetched" "stale keys: warning in the JSON"
assert_eq "$(jwks_fetches)" 1 "the refetch failed at discovery"
# beyond jwtOptions.maxStaleness: refused as unavailable
write_config with_ca "jwtOptions: {maxStaleness: 1h}"
age_cache 7200
check "$tok" 3
assert_contains "$ERR" "beyond jwtOptions.maxStaleness" "keys older than maxStaleness are not used"
# the CA removed while the issuer is down: no stale keys of the old trust either
write_config no_ca
check "$tok" 3
assert_eq "$(field .authenticated)" false "no CA, issuer down: not accepted"
fc_fault_clear
write_config with_ca
check "$tok" 0
assert_contains "$ERR" "the last attempt, " "within 10 s of a failed refresh: stale keys, not another request"
assert_eq "$(jwks_fetches)" 1 "...and no request"
age_cache 7200
check "$tok" 0
assert_eq "$(jwks_fetches)" 2 "the issuer back: keys refetched"
assert_eq "$(field .warning)" null "fresh again: no warning"
echo "all ok"
