#!/bin/bash
# k8s-auth check, offline path, end to end: OIDC ID tokens from the local
# identity provider verified against its discovery/JWKS (every algorithm),
# the apiserver's jwt-authenticator claim semantics, the JWKS cache when
# the issuer is down, and dispatch when both jwt and tokenReview are set.
. "$(dirname "$0")/../lib.sh"
BIN=$REPO/${K8S_BUILD:-build}/k8s-auth
[ -x "$BIN" ] || fail "build/k8s-auth not built"
fc_start

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
assert_eq "$(field '.groups|join(",")')" "oidc:platform-admins,oidc:team-ops" "groups prefixed"
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

big=$(fc_idp_mint --alg ES256 --groups 170)
[ ${#big} -ge 3000 ] || fail "big token only ${#big} bytes"
check "$big" 0 --user alice
ok "${#big}-byte OIDC token accepted"

now=$(date +%s)
check "$(fc_idp_mint --alg ES256 --claims "{\"exp\": $((now - 1))}")" 1
assert_eq "$(field .reason)" "token expired" "expired refused"
check "$(fc_idp_mint --alg ES256 --claims "{\"exp\": $now}")" 1
ok "exp == now refused (no leeway)"
check "$(fc_idp_mint --alg ES256 --claims "{\"nbf\": $((now + 300))}")" 1
assert_eq "$(field .reason)" "token not yet valid" "nbf 5 min ahead refused"
check "$(fc_idp_mint --alg ES256 --claims "{\"nbf\": $((now + 30))}")" 0
ok "nbf within 60 s accepted"
check "$(fc_idp_mint --alg ES256 --claims '{"aud":"someone-else"}')" 1
assert_eq "$(field .reason)" "wrong audience" "wrong audience refused"
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
echo "all passed"
