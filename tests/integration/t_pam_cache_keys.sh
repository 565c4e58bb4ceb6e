#!/bin/bash
# Issue 10.1 through the real PAM stack (pamtester): the caches answer only
# for the configuration that filled them.  Two configurations for two
# clusters (two tests/fakecluster instances) share one cacheDir and the
# same audience: a token cluster A accepted (and the review cache holds)
# is sent to cluster B by B's configuration, and B refuses it.  A JWT
# login whose issuer cannot be reached is served from stale keys only with
# a warning in the log.  Runs in a private mount namespace
# (tests/pam/pamlib.sh).
. "$(dirname "$0")/../pam/pamlib.sh"
pk_begin pamtester
A_DIR=$T/idp

# Cluster B: a second fake cluster of its own (own CA, keys, reviewer).
pk_cluster_start "$T/idp2"
reviews_of() { # DIR: TokenReviews that cluster has answered
	"$PK_PY" - "$1/requests.json" <<'EOF'
import json, sys
try:
    print(json.load(open(sys.argv[1])).get("/apis/authentication.k8s.io/v1/tokenreviews", 0))
except FileNotFoundError:
    print(0)
EOF
}

export PK_CACHE_TTL=2m
mkdir -p "$T/store-b"
PK_CONFIG_FILE=$T/a.yaml pk_write_config
PK_CONFIG_FILE=$T/b.yaml PK_STORE=$T/store-b pk_write_config
sed -i "s#kubeconfig: $A_DIR/kubeconfig#kubeconfig: $T/idp2/kubeconfig#" "$T/b.yaml"
pk_check "config B differs from A only in its cluster and store" \
	test "$(diff "$T/a.yaml" "$T/b.yaml" | grep -c '^[<>]')" = 4
PK_CONFIG_FILE=$T/a.yaml pk_stack k8s-a "auth required MOD CFG"
PK_CONFIG_FILE=$T/b.yaml pk_stack k8s-b "auth required MOD CFG"
UID_A=7c2e0e52-8a7b-4c1d-9e2f-0000000000a1

# ---- review cache: A's answer is not B's
tok=$(pk_sa_token alice "$UID_A")
pk_pam k8s-a ops.alice authenticate <<<"$tok"
pk_check "cluster A: token accepted" test "$PK_RC" = 0
pk_check "cluster A reviewed it once" test "$(reviews_of "$A_DIR")" = 1
pk_pam k8s-a ops.alice authenticate <<<"$tok"
pk_check "cluster A again: from the review cache (no second review)" \
	test "$PK_RC" = 0 -a "$(reviews_of "$A_DIR")" = 1
pk_check "the review cache holds the entry" test -n "$(ls -A "$T/cache/reviews")"
b0=$(reviews_of "$T/idp2")
pk_mark_log
pk_pam k8s-b ops.alice authenticate <<<"$tok"
pk_check "cluster B: A's token refused (cache entry of A not used)" test "$PK_RC" != 0
pk_check "cluster B was asked" test "$(reviews_of "$T/idp2")" = $((b0 + 1))
pk_check "cluster B: refusal logged as the apiserver's" \
	grep -qE 'auth refused.*reason="token rejected by the apiserver( \(no jwt issuer matched\))?"' <<<"$(pk_new_log)"
pk_pam k8s-a ops.alice authenticate <<<"$tok"
pk_check "cluster A still answers from its entry" test "$PK_RC" = 0
pk_check "...without asking A" test "$(reviews_of "$A_DIR")" = 1

# A changed kubeconfig (another reviewer, same cluster): not answered from the cache.
cp "$A_DIR/kubeconfig-cert" "$T/kubeconfig-a-cert"
chmod 600 "$T/kubeconfig-a-cert"
sed -i "s#kubeconfig: $A_DIR/kubeconfig\$#kubeconfig: $T/kubeconfig-a-cert#" "$T/a.yaml"
pk_pam k8s-a ops.alice authenticate <<<"$tok"
pk_check "another reviewer for A: accepted after asking A again" \
	test "$PK_RC" = 0 -a "$(reviews_of "$A_DIR")" = 2

# A configuration change that refuses the kubeconfig (insecure-skip-tls-verify
# no longer allowed) is not masked by an entry made while it was allowed.
sed 's/^\( *\)certificate-authority-data: .*/\1insecure-skip-tls-verify: true/' "$A_DIR/kubeconfig" >"$T/kubeconfig-a-insecure"
chmod 600 "$T/kubeconfig-a-insecure"
sed -i -e "s#kubeconfig: $T/kubeconfig-a-cert\$#kubeconfig: $T/kubeconfig-a-insecure#" \
	-e 's/^tokenReview:$/tokenReview:\n  allowInsecureSkipTLSVerify: true/' "$T/a.yaml"
pk_pam k8s-a ops.alice authenticate <<<"$tok"
pk_check "insecure kubeconfig, allowed: accepted (A asked, entry made)" \
	test "$PK_RC" = 0 -a "$(reviews_of "$A_DIR")" = 3
sed -i '/^  allowInsecureSkipTLSVerify: true$/d' "$T/a.yaml"
pk_mark_log
pk_pam k8s-a ops.alice authenticate <<<"$tok"
pk_check "insecure no longer allowed: refused, not answered from the entry" test "$PK_RC" != 0
pk_check "...as a configuration error" grep -q 'reason="insecure TLS not allowed"' <<<"$(pk_new_log)"
pk_check "...without asking A" test "$(reviews_of "$A_DIR")" = 3
pk_check "token never logged or stored" pk_no_leak "$tok"
pk_check "no cache file holds the token" bash -c '! grep -rqF -- "${1##*.}" "$2"' _ "$tok" "$T/cache"

# ---- issuer keys: stale keys serve an OIDC login only with a warning in the log
otok=$(pk_oidc_token carol)
pk_mark_log
pk_pam k8s-a carol authenticate <<<"$otok"
pk_check "OIDC login (keys fetched)" test "$PK_RC" = 0
pk_check "fresh keys: no warning logged" bash -c '! grep -q "token warning" <<<"$1"' _ "$(pk_new_log)"
t=$(($(date +%s) - 7200))
for f in "$T"/cache/jwks/*.json; do
	jq --argjson t "$t" '.fetched_at = $t | .attempted_at = $t' "$f" >"$f.new" && chmod 600 "$f.new" && mv -f "$f.new" "$f"
done
printf '%s\n' '{"mode": "status", "code": 503, "paths": ["/idp"]}' >"$A_DIR/fault.json"
pk_mark_log
pk_pam k8s-a carol authenticate <<<"$otok"
pk_check "issuer down, keys 2 h old: login still accepted" test "$PK_RC" = 0
line=$(pk_new_log | grep 'token warning')
pk_check "...with a warning logged" grep -qF "user=\"carol\" warning=\"issuer $PK_ISS: using cached keys fetched" <<<"$line"
pk_check "...naming why the refresh failed" grep -qF "HTTP 503" <<<"$line"
rm -f "$A_DIR/fault.json"
pk_check "OIDC token never logged" pk_no_leak "$otok"

pk_done
