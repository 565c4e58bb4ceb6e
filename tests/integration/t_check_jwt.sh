#!/bin/bash
# k8s-auth check, offline path, end to end: OIDC ID tokens from the local
# identity provider verified against its discovery/JWKS (every algorithm),
# the apiserver's jwt-authenticator claim semantics, the JWKS cache when
# the issuer is down, and dispatch when both jwt and tokenReview are set.
. "$(dirname "$0")/../lib.sh"
check_begin

cfg=$TEST_TMP/config.yaml
write_config() { # $1: extra top-level YAML
	cat > "$cfg" <<EOC
jwt:
- issuer:
    url: $FC_IDP
    audiences: ["k8s-auth"]
    certificateAuthority: |
$(sed 's/^/      /' "$FC_CA")
  claimValidationRules:
  - claim: email
    requiredValue: ${REQUIRED_EMAIL:-alice@example.com}
  claimMappings:
    username: {claim: email, prefix: ""}
    groups: {claim: groups, prefix: "oidc:"}
    uid: {claim: sub}
accounts:
  users:
  - match: '^([a-z][a-z0-9_-]*)@example\.com\$'
    local: '\1'
  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)\$'
    local: '\1.\2'
  declared: [alice, bob]
  groups:
  - match: '^oidc:platform-admins\$'
    local: sudo
  - match: '^oidc:team-(.*)\$'
    local: 'k8s-\1'
store: $TEST_TMP/store
cacheDir: $TEST_TMP/cache
$1
EOC
}
write_config

check() { check_token "$@"; }
jwks_fetches() { fc_requests /idp/keys; }

for alg in ES256 RS256 PS256 ES384; do
	check "$(fc_idp_mint --alg $alg --claims '{"groups":["platform-admins","team-ops"]}')" 0 --user alice
	ok "$alg ID token accepted"
done
assert_eq "$(field .method)" jwt "method jwt"
assert_eq "$(field .issuer)" "$FC_IDP" "issuer"
assert_eq "$(field .username)" alice@example.com "username from the email claim, empty prefix"
assert_eq "$(field .uid)" CgVhbGljZRIFbG9jYWw "uid from sub"
assert_eq "$(field '.groups|join(",")')" "oidc:platform-admins,oidc:team-ops,system:authenticated" \
	"groups prefixed, then system:authenticated as the apiserver adds it"
assert_eq "$(field '[.local_groups[]|.name]|join(",")')" "sudo,k8s-ops" "groups mapped"
assert_eq "$(field '.local_groups[0].gid')" "$(getent group sudo | cut -d: -f3)" "literal group is the existing local sudo group"
assert_eq "$(jwks_fetches)" 1 "JWKS fetched once for four tokens (cached on disk)"
# The apiserver's JWT authenticator has never accepted EdDSA (the IdP
# publishes an Ed25519 key; a token it signs is still refused, no refetch).
check "$(fc_idp_mint --alg EdDSA)" 1 --user alice
assert_eq "$(field .reason)" "unsupported algorithm" "EdDSA ID token refused"
assert_eq "$(jwks_fetches)" 1 "no refetch for an algorithm nobody accepts"
[ "$(stat -c %a "$TEST_TMP/cache")" = 700 ] || fail "cache dir not 0700"
ok "cache dir 0700"

# credential-id: the apiserver's JWT authenticator (getExtra) sets
# extra authentication.kubernetes.io/credential-id = ["JTI=<jti>"] for a
# non-empty string jti, nothing for any other jti.
cid='.extra["authentication.kubernetes.io/credential-id"]'
check "$(fc_idp_mint --alg ES256 --claims '{"jti":"6f1c-a"}')" 0 --user alice
assert_eq "$(field "$cid|tojson")" '["JTI=6f1c-a"]' "jti becomes the credential id"
for j in '""' 'null' '5' '["a"]'; do
	check "$(fc_idp_mint --alg ES256 --claims "{\"jti\":$j}")" 0 --user alice
	assert_eq "$(field "$cid|tojson")" null "jti $j: no credential id"
done
check "$(fc_idp_mint --alg ES256)" 0 --user alice
assert_eq "$(field "$cid|tojson")" null "no jti: no credential id"

big=$(fc_idp_mint --alg ES256 --groups 170)
[ ${#big} -ge 3000 ] || fail "big token only ${#big} bytes"
check "$big" 0 --user alice
ok "${#big}-byte OIDC token accepted"

now=$(date +%s)
check "$(fc_idp_mint --alg ES256 --claims "{\"exp\": $((now - 1))}")" 1
assert_eq "$(field .reason)" "token expired" "expired refused"
# issue 14: times in UTC with how long ago, the host clock when it may be the cause
utc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
check "$(fc_idp_mint --alg ES256 --claims "{\"iat\": $((now - 14400)), \"exp\": $((now - 11520))}")" 1
case "$(field .detail)" in
"token expired at $(utc $((now - 11520))), 3h12m ago"|"token expired at $(utc $((now - 11520))), 3h12m ago"*) ;;
*) fail "expired 3h12m ago: $(field .detail)" ;; esac
case "$(field .detail)" in *"host clock"*) fail "host clock named for a token long expired: $(field .detail)" ;; esac
ok "expired: when, in UTC, and how long ago: $(field .detail)"
check "$(fc_idp_mint --alg ES256 --claims "{\"exp\": $((now - 1))}")" 1
case "$(field .detail)" in
"token expired at $(utc $((now - 1))), "*" ago; the host clock reads "*"k8s-auth status"*) ;;
*) fail "just expired: no host clock: $(field .detail)" ;; esac
ok "just expired: the host clock is named"
check "$(fc_idp_mint --alg ES256 --claims "{\"exp\": $now}")" 1
ok "exp == now refused (no leeway)"
check "$(fc_idp_mint --alg ES256 --claims "{\"nbf\": $((now + 300))}")" 1
assert_eq "$(field .reason)" "token not yet valid" "nbf 5 min ahead refused"
case "$(field .detail)" in
"token is valid from $(utc $((now + 300))), "*" from now, beyond the 60s clock leeway; the host clock reads "*) ;;
*) fail "nbf: $(field .detail)" ;; esac
ok "not yet valid: from when, and the host clock"
check "$(fc_idp_mint --alg ES256 --claims "{\"nbf\": $((now + 30))}")" 0
ok "nbf within 60 s accepted"
check "$(fc_idp_mint --alg ES256 --claims '{"aud":"someone-else"}')" 1
assert_eq "$(field .reason)" "wrong audience" "wrong audience refused"
assert_eq "$(field .detail)" "the token's aud is \"someone-else\"; expected \"k8s-auth\"" \
	"wrong audience: the token's aud and the expected one"
check "$(fc_idp_mint --alg ES256 --claims '{"aud":["x\"y\u001b[31m","b"]}')" 1
assert_eq "$(field .detail)" "the token's aud is [\"x?y?[31m\", \"b\"]; expected \"k8s-auth\"" \
	"wrong audience: the token's aud list, sanitised"
check "$(fc_idp_mint --alg ES256 --claims '{"aud":["someone-else","k8s-auth"]}')" 0
ok "audience list containing ours accepted"
check "$(fc_idp_mint --alg ES256 --claims '{"email_verified":false}')" 1
assert_eq "$(field .reason)" "email not verified" "email_verified false refused"
check "$(fc_idp_mint --alg ES256 --claims '{"email_verified":null}')" 0
ok "email_verified absent accepted (as the apiserver)"
check "$(fc_idp_mint --alg ES256 --claims '{"email":"bob@example.com"}')" 1
assert_eq "$(field .reason)" "claim validation failed" "claimValidationRules requiredValue enforced"
check "$(fc_idp_mint --alg ES256 --claims '{"iss":"https://evil.example.com/idp"}')" 1
assert_eq "$(field .reason)" "unknown issuer" "a JWT from an issuer no authenticator knows is refused"
assert_eq "$(field .detail)" "the token's iss \"https://evil.example.com/idp\" matches no jwt issuer; tokenReview is not configured" \
	"unknown issuer: the token's iss shown"
check "$(fc_idp_mint --alg ES256 --claims "{\"iss\":\"$FC_IDP/\"}")" 1
assert_eq "$(field .reason)" "unknown issuer" "issuer with a trailing slash is another issuer"
assert_eq "$(field .detail)" "the token's iss \"$FC_IDP/\" matches no jwt issuer; nearest: jwt issuer \"$FC_IDP\", which differs by a trailing slash; tokenReview is not configured" \
	"unknown issuer: the near miss named"
check "$(fc_idp_mint --alg ES256 --kid no-such-kid)" 1
assert_eq "$(field .reason)" "unknown signing key" "unknown kid refused"
check "$(fc_idp_mint --alg ES256 --header-extra '{"crit":["exp"]}')" 1
ok "crit header refused"
check "$(fc_idp_mint --alg ES256)" 1 --user bob
assert_eq "$(field .reason)" "token is for another user" "alice's token does not open bob"
good=$(fc_idp_mint --alg ES256)
tampered=$(echo "$good" | "$PY" -c '
import sys, base64, json
h, p, s = sys.stdin.read().strip().split(".")
c = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
c["email"] = "root@example.com"
p = base64.urlsafe_b64encode(json.dumps(c).encode()).decode().rstrip("=")
print(".".join([h, p, s]))')
check "$tampered" 1
assert_eq "$(field .reason)" "bad signature" "tampered payload refused"
# alg confusion: HS256 keyed with the RSA public key, made by jwcrypto.
hs=$("$PY" - "$FC_DIR" "$FC_IDP" <<'EOP'
import json, sys, time
from jwcrypto import jwk, jws
d, iss = sys.argv[1], sys.argv[2]
rsa = jwk.JWK.from_pem(open(d + "/idp-rs256.key", "rb").read())
pub = rsa.export_to_pem(private_key=False, password=None)
key = jwk.JWK(kty="oct", k=jwk.base64url_encode(pub))
now = int(time.time())
t = jws.JWS(json.dumps({"iss": iss, "sub": "x", "aud": "k8s-auth", "exp": now + 600, "iat": now,
                         "email": "alice@example.com", "email_verified": True}).encode())
t.add_signature(key, alg="HS256", protected=json.dumps({"alg": "HS256", "typ": "JWT"}))
print(t.serialize(compact=True))
EOP
) || fail "could not make the HS256 token"
check "$hs" 1
assert_eq "$(field .reason)" "unsupported algorithm" "HS256 keyed with the RSA public key refused"

# The issuer goes down: cached keys keep working; a cold cache is unavailable.
fc_stop
check "$good" 0 --user alice
ok "issuer down, cached JWKS still verifies"
rm -rf "$TEST_TMP/cache"
check "$good" 3
ok "issuer down, no cache -> unavailable: $(field .reason)"

# Both configured: a JWT from a configured issuer is verified locally,
# every other token goes to TokenReview.
fc_start
write_config "tokenReview:
  kubeconfig: $FC_DIR/kubeconfig
  audiences: [\"host-login:test\"]"
check "$(fc_idp_mint --alg ES256)" 0
assert_eq "$(field .method)" jwt "IdP token verified locally"
reviews=$(fc_requests /apis/authentication.k8s.io/v1/tokenreviews)
assert_eq "$reviews" 0 "no TokenReview for a configured issuer's JWT"
check "$(fc_mint --sa ops/alice --aud host-login:test --ttl 600)" 0
assert_eq "$(field .method)" tokenreview "service-account token goes to TokenReview"
# issue 14: a JWT from an issuer no authenticator names goes to TokenReview;
# refused there, the reason says no jwt issuer matched, and names a near miss.
http_iss="http://${FC_IDP#https://}"
check "$(fc_idp_mint --alg ES256 --claims "{\"iss\":\"$http_iss\"}")" 1
assert_eq "$(field .reason)" "token rejected by the apiserver (no jwt issuer matched)" \
	"near-miss issuer: refused by TokenReview, and the reason says no jwt issuer matched"
case "$(field .detail)" in
"the token's iss \"$http_iss\" matches no jwt issuer; nearest: jwt issuer \"$FC_IDP\", which differs by http instead of https; "*) ;;
*) fail "near-miss issuer: $(field .detail)" ;; esac
ok "near-miss issuer (http against https) named: $(field .detail)"
hostile=$(printf 'https://x.example/%0300d\\u001b]0;owned\\u0007' 0)
check "$(fc_idp_mint --alg ES256 --claims "{\"iss\":\"$hostile\"}")" 1
d=$(field .detail)
case "$d" in *$'\e'*|*$'\a'*) fail "control bytes of an untrusted iss reached the message" ;; esac
case "$d" in "the token's iss \"https://x.example/000"*"...\" matches no jwt issuer; "*) ;;
*) fail "hostile iss not bounded: $d" ;; esac
ok "an untrusted iss is bounded and sanitised in the message"

# issue 14.6: names from IdPs.  Alice.Smith@example.com becomes alice.smith
# only where a rule says lowercase: true; without it the name is refused.
lc_config() { # $1: the rule's lowercase line (or nothing)
	cat > "$cfg" <<EOC
jwt:
- issuer:
    url: $FC_IDP
    audiences: ["k8s-auth"]
    certificateAuthority: |
$(sed 's/^/      /' "$FC_CA")
  claimMappings:
    username: {claim: email, prefix: ""}
accounts:
  users:
  - match: '^([A-Za-z][A-Za-z0-9._-]*)@example\.com\$'
    local: '\1'
    $1
  declared: [alice.smith]
store: $TEST_TMP/store
cacheDir: $TEST_TMP/cache
EOC
}
lc_config ""
smith=$(fc_idp_mint --alg ES256 --claims '{"email":"Alice.Smith@example.com"}')
check "$smith" 1
assert_eq "$(field .reason)" "mapped name is not a valid local name" "Alice.Smith@example.com without lowercase: refused, nothing rewritten"
lc_config "lowercase: true"
check "$smith" 0
assert_eq "$(field .username)" "Alice.Smith@example.com" "lowercase: the cluster username is as the IdP wrote it"
assert_eq "$(field .local_user)" "alice.smith" "lowercase: true maps Alice.Smith@example.com to alice.smith"
check "$smith" 0 --user alice.smith
ok "lowercase: k8s-auth check --user alice.smith accepts her token (the helper's decision)"
check "$smith" 1 --user Alice.Smith
ok "lowercase: the capitalised name is not an account"
lc_config "lowercase: yes"
check "$smith" 2
assert_contains "$ERR" "accounts.users[0].lowercase: expected true or false" "lowercase: yes is a configuration error naming the key"
echo "all passed"
