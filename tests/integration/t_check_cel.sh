#!/bin/bash
# k8s-auth check with the cluster's own AuthenticationConfiguration (a
# file, apiserver.config.k8s.io/v1, CEL rules and mappings), against the
# local identity provider: the host's audiences replace the file's (a token
# for the cluster's audience is refused), the issue's expressions map and
# validate as the apiserver would, an evaluation error or a failed rule
# refuses with the rule's message, and a broken file never loads.
. "$(dirname "$0")/../lib.sh"
BIN=$REPO/${K8S_BUILD:-build}/k8s-auth
[ -x "$BIN" ] || fail "build/k8s-auth not built"
fc_start

cfg=$TEST_TMP/config.yaml
authn=$TEST_TMP/authentication-config.yaml
write_authn() { # $1: apiVersion suffix, $2: extra claimValidationRules lines
	cat > "$authn" <<EOC
apiVersion: apiserver.config.k8s.io/${1:-v1}
kind: AuthenticationConfiguration
jwt:
- issuer:
    url: $FC_IDP
    audiences: [kubernetes, my-cluster]
    audienceMatchPolicy: MatchAny
    egressSelectorType: controlplane
    certificateAuthority: |
$(sed 's/^/      /' "$FC_CA")
  claimValidationRules:
  - expression: 'claims.exp - claims.iat <= 3600'
    message: token lifetime is more than an hour
  - expression: 'claims.?email_verified.orValue(true) == true'
    message: email not verified
$2
  claimMappings:
    username:
      expression: "claims.email_verified == true ? claims.email : ''"
    groups:
      expression: "dyn(claims.?groups.orValue([])).filter(g, g.startsWith('team-')).map(g, 'oidc:' + g)"
    uid:
      expression: claims.sub
    extra:
    - key: example.com/repository
      valueExpression: "claims.?repository_id.hasValue() ? ['oidc:github:repo:' + claims.repository_id] : []"
  userValidationRules:
  - expression: "!user.username.startsWith('system:')"
    message: no system usernames
  - expression: "user.groups.all(g, !g.startsWith('oidc:team-root'))"
    message: team-root may not log in to hosts
  - expression: "user.groups.all(g, !g.startsWith('system:'))"
    message: no system groups
anonymous:
  enabled: false
EOC
	chmod 644 "$authn"
}
write_config() {
	cat > "$cfg" <<EOC
authenticationConfiguration:
  file: $authn
  audiences: ["k8s-auth"]
accounts:
  users:
  - match: '^([a-z][a-z0-9_-]*)@example\.com\$'
    local: '\1'
  declared: [alice, bob]
  groups:
  - match: '^oidc:team-(.*)\$'
    local: 'k8s-\1'
store: $TEST_TMP/store
cacheDir: $TEST_TMP/cache
EOC
}
write_authn
write_config

check() { check_token "$@"; }

check "$(fc_idp_mint --alg ES256 --claims '{"groups":["team-ops","other"],"repository_id":"4567"}')" 0 --user alice
assert_eq "$(field .method)" jwt "method jwt"
assert_eq "$(field .username)" alice@example.com "username from the CEL expression"
assert_eq "$(field .uid)" CgVhbGljZRIFbG9jYWw "uid from the CEL expression"
# system:authenticated comes after the userValidationRules, as in the
# apiserver: the rule refusing system: groups does not see it.
assert_eq "$(field '.groups|join(",")')" "oidc:team-ops,system:authenticated" \
	"groups filtered and prefixed by CEL, then system:authenticated"
assert_eq "$(field '.extra["example.com/repository"]|join(",")')" "oidc:github:repo:4567" "extra from valueExpression"
assert_eq "$(field '[.local_groups[]|.name]|join(",")')" "k8s-ops" "CEL groups map to local groups"

check "$(fc_idp_mint --alg ES256)" 0 --user alice
assert_eq "$(field '.extra|has("example.com/repository")')" false "an empty extra value leaves the key out"
check "$(fc_idp_mint --alg ES256 --claims '{"groups":["other"]}')" 0 --user alice
assert_eq "$(field '.groups|join(",")')" "system:authenticated" "no mapped groups: system:authenticated alone"

# The file's audiences are the cluster's: a token for them is refused.
check "$(fc_idp_mint --alg ES256 --claims '{"aud":"kubernetes"}')" 1 --user alice
assert_eq "$(field .reason)" "wrong audience" "the cluster's own audience does not open the host"
check "$(fc_idp_mint --alg ES256 --claims '{"aud":"my-cluster"}')" 1 --user alice
assert_eq "$(field .reason)" "wrong audience" "no audience of the file opens the host"

# claimValidationRules expressions, with their messages.
check "$(fc_idp_mint --alg ES256 --ttl 7200)" 1 --user alice
assert_eq "$(field .reason)" "claim validation failed" "lifetime rule refuses a 2 h token"
grep -q "token lifetime is more than an hour" <<<"$OUT$ERR" || fail "the rule's message is not reported: $OUT $ERR"
ok "the rule's message is reported"
# The username expression runs first (the apiserver's order): its '' is refused.
check "$(fc_idp_mint --alg ES256 --claims '{"email_verified":"yes"}')" 1 --user alice
assert_eq "$(field .reason)" "empty username" "email_verified that is not true: empty username refused"
check "$(fc_idp_mint --alg ES256 --claims '{"email_verified":null}')" 1 --user alice
assert_eq "$(field .reason)" "bad username claim" "an evaluation error (no such key) refuses"
grep -q "no such key: email_verified" <<<"$OUT$ERR" || fail "the evaluation error is not reported: $OUT $ERR"
ok "the evaluation error is reported"

# userValidationRules on the mapped user.
check "$(fc_idp_mint --alg ES256 --claims '{"groups":["team-root"]}')" 1 --user alice
assert_eq "$(field .reason)" "user validation failed" "userValidationRules refuse"
grep -q "team-root may not log in to hosts" <<<"$OUT$ERR" || fail "user rule message missing: $OUT $ERR"
check "$(fc_idp_mint --alg ES256 --claims '{"email":"system:x@example.com"}')" 1 --user alice
assert_eq "$(field .reason)" "user validation failed" "system: usernames refused by the rule"

# v1beta1 reads the same.
write_authn v1beta1
check "$(fc_idp_mint --alg ES256)" 0 --user alice
ok "apiserver.config.k8s.io/v1beta1 accepted"

# k8s-auth status reports the file, its notes, the CEL and egressSelectorType.
ST=$("$BIN" status --config "$cfg" 2>&1)
for want in "config.authenticationConfiguration: $authn (apiserver.config.k8s.io/v1beta1): 1 JWT authenticator, their audiences replaced by \[k8s-auth\]" \
	"config.authenticationConfiguration: $authn: anonymous: ignored" \
	"config.jwt\[0\]: $FC_IDP: 9 CEL expressions compiled" \
	"config.jwt\[0\]: $FC_IDP: egressSelectorType controlplane accepted; it has no meaning on a host"; do
	grep -q "$want" <<<"$ST" || fail "status lacks '$want': $ST"
done
ok "k8s-auth status reports the file, the ignored section, the CEL and egressSelectorType"

# A file that does not validate never loads: exit 2, naming file and path.
write_authn v1 "  - expression: 'claims.sub'"
check "$(fc_idp_mint --alg ES256)" 2 --user alice
grep -q "$authn: jwt\[0\].claimValidationRules\[2\].expression: must evaluate to bool" <<<"$ERR$OUT" \
	|| fail "no error naming the file and the rule: $OUT $ERR"
ok "a non-bool validation rule is a configuration error naming file and path"
write_authn v1 "  - expression: 'claims.sub.matches(\"\\\\bx\")'"
check "$(fc_idp_mint --alg ES256)" 2 --user alice
grep -q "regular expression: word boundaries" <<<"$ERR$OUT" || fail "unsupported regex not named: $OUT $ERR"
ok "an unsupported regular expression is refused at load, by name"
write_authn
chmod 666 "$authn"
check "$(fc_idp_mint --alg ES256)" 2 --user alice
grep -q "writable by group or others" <<<"$ERR$OUT" || fail "a world-writable file loaded: $OUT $ERR"
ok "a file others may write is refused"
chmod 644 "$authn"

# Host audiences equal to the cluster's are refused, as for jwt:.
sed -i 's/audiences: \["k8s-auth"\]/audiences: ["kubernetes.default.svc"]/' "$cfg"
check "$(fc_idp_mint --alg ES256)" 2 --user alice
grep -q "authenticationConfiguration.audiences\[0\]" <<<"$ERR$OUT" || fail "cluster audience accepted: $OUT $ERR"
ok "authenticationConfiguration.audiences refuses the cluster's in-cluster names"
