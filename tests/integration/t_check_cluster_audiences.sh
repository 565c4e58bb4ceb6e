#!/bin/bash
# Issue 10.4 through `k8s-auth check`: a configuration whose audiences the
# cluster accepts for itself (its in-cluster names, its apiserver URL, a
# configured issuer's URL) is refused at load with exit 2 and a message
# saying why and what to use instead; with policy.allowClusterAudiences:
# true it loads, and every use warns on stderr (and in the JSON) -- the
# danger shown: the apiserver-audience token any pod holds then logs in.
. "$(dirname "$0")/../lib.sh"
check_begin

cfg=$TEST_TMP/config.yaml
write_config() { # $1: tokenReview audiences (YAML list), $2: extra top-level YAML
	cat >"$cfg" <<EOC
tokenReview:
  kubeconfig: ${KUBECONFIG_FILE:-$FC_DIR/kubeconfig}
  audiences: $1
  cacheTTL: 0
accounts:
  users:
  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)\$'
    local: '\1.\2'
store: $TEST_TMP/store
cacheDir: $TEST_TMP/cache
${2-}
EOC
	chmod 644 "$cfg"
}
check() { check_token "$@"; }
reviews() { fc_requests /apis/authentication.k8s.io/v1/tokenreviews; }

# What kubectl create token and a pod's projected API token carry: the
# apiserver's own audience (the fake's default: its URL, the SA issuer).
api_tok=$(fc_mint --sa ops/alice --ttl 600)
host_tok=$(fc_mint --sa ops/alice --aud host-login:test --ttl 600)

for aud in https://kubernetes.default.svc kubernetes.default.svc.cluster.local \
	HTTPS://Kubernetes.Default.Svc.Cluster.Local/ kubernetes kubernetes.default; do
	write_config "[\"host-login:test\", \"$aud\"]"
	check "$host_tok" 2
	assert_contains "$ERR" "$cfg: tokenReview.audiences[1]: \"$aud\" is the apiserver's in-cluster name, an audience the cluster accepts for itself" \
		"$aud refused at load"
done
assert_contains "$ERR" "use an audience of this host's own, such as \"host-login:%h\"" "the message says what to use instead"
assert_contains "$ERR" "policy.allowClusterAudiences" "...and how to override"
assert_eq "$(field .authenticated)" false "JSON says not authenticated"

# The apiserver's URL, as the kubeconfig names it (compared at load: root reads it).
for aud in "$FC_URL" "$FC_URL/" "${FC_URL#https://}"; do
	write_config "[\"$aud\"]"
	before=$(reviews)
	check "$api_tok" 2
	assert_contains "$ERR" "tokenReview.audiences[0]: \"$aud\" is the apiserver's URL (the server of $FC_DIR/kubeconfig)" \
		"the apiserver URL $aud refused"
	assert_eq "$(reviews)" "$before" "...before any TokenReview"
done

# A configured issuer's URL (a service-account issuer's default audience), in jwt audiences.
write_config '["host-login:test"]' "jwt:
- issuer:
    url: $FC_URL
    audiences: [\"$FC_URL\"]
    certificateAuthority: |
$(sed 's/^/      /' "$FC_CA")
  claimMappings:
    username: {claim: sub, prefix: \"\"}"
check "$api_tok" 2
assert_contains "$ERR" "jwt[0].issuer.audiences[0]: \"$FC_URL\" is the URL of the issuer of jwt[0]" \
	"the SA issuer's own URL refused as a jwt audience"

# A host audience is fine, and needs no warning.
write_config '["host-login:test", "host-login:%h"]'
check "$host_tok" 0
assert_eq "$(field .warning)" null "host audiences: no warning"
check "$api_tok" 1
ok "the apiserver-audience token is refused with host audiences"

# policy.allowClusterAudiences: true -- loads, warns at every use.
write_config "[\"host-login:test\", \"$FC_URL\"]" "policy: {allowClusterAudiences: true}"
check "$api_tok" 0
assert_contains "$ERR" "k8s-auth: warning: tokenReview.audiences[1] \"$FC_URL\" is the apiserver's URL" \
	"allowClusterAudiences: warning on stderr"
assert_contains "$ERR" "policy.allowClusterAudiences lets every token minted for the cluster's API" "...saying what it allows"
assert_contains "$(field .warning)" "policy.allowClusterAudiences" "...and in the JSON"
ok "with allowClusterAudiences the apiserver-audience token (any pod's) logs in"
check "$host_tok" 0
assert_contains "$ERR" "k8s-auth: warning:" "every use warns, a host-audience token too"
check "garbage.token.here" 1
assert_contains "$ERR" "k8s-auth: warning:" "...a refused token too"
echo "all ok"
