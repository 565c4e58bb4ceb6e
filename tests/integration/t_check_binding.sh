#!/bin/bash
# k8s-auth check on identities the apiserver accepts but that bind
# awkwardly (issue 10): a JWT without `sub`, or with an empty one, whose
# username comes from another claim (email) and with no uid mapping is
# accepted (the binding is the issuer and the username); an identity whose
# binding would not fit the store (4096 bytes: a huge sub, a huge
# service-account uid through TokenReview) is refused, exit 1, with a
# reason that says so.  Never exit 3 "out of memory".
. "$(dirname "$0")/../lib.sh"
check_begin

cfg=$TEST_TMP/config.yaml
cat >"$cfg" <<EOC
jwt:
- issuer:
    url: $FC_IDP
    audiences: ["k8s-auth"]
    certificateAuthority: |
$(sed 's/^/      /' "$FC_CA")
  claimMappings:
    username: {claim: email, prefix: ""}
tokenReview:
  kubeconfig: $FC_DIR/kubeconfig
  audiences: ["host-login:test"]
accounts:
  users:
  - match: '^([a-z][a-z0-9_-]*)@example\.com\$'
    local: '\1'
  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)\$'
    local: '\1.\2'
  declared: [alice]
store: $TEST_TMP/store
cacheDir: $TEST_TMP/cache
EOC

check() { check_token "$@"; }

check "$(fc_idp_mint --claims '{"sub": null}')" 0 --user alice
assert_eq "$(field .local_user)" alice "JWT without sub, username from email: accepted"
check "$(fc_idp_mint --claims '{"sub": ""}')" 0 --user alice
ok "JWT with an empty sub: accepted"

long=$(printf '#%.0s' $(seq 1 1400))   # 4200 bytes once percent-encoded
check "$(fc_idp_mint --claims "{\"sub\": \"$long\"}")" 1 --user alice
assert_eq "$(field .reason)" "identity too long to record" "JWT whose sub binding exceeds 4096 bytes: refused"
assert_eq "$(field .username)" alice@example.com "the refusal still shows the username"
fits=$(printf 'a%.0s' $(seq 1 4000))
check "$(fc_idp_mint --claims "{\"sub\": \"$fits\"}")" 0 --user alice
ok "a 4000-byte sub fits"

fc sa create ops/big --uid "$(printf 'u%.0s' $(seq 1 5000))" >/dev/null || fail "sa create"
check "$(fc_mint --sa ops/big --aud host-login:test)" 1
assert_eq "$(field .reason)" "identity too long to record" "TokenReview: a 5000-byte uid is refused"
assert_eq "$(field .username)" system:serviceaccount:ops:big "the refusal still shows the username"
echo "t_check_binding: all passed"
