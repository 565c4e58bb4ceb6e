#!/bin/bash
# The fake cluster's own contract test: tests/fakecluster answers the way
# kube-apiserver does (TokenReview, TokenRequest, OIDC discovery), checked
# from outside with curl, openssl and jwcrypto only, none of our C code.
# shellcheck disable=SC2016,SC2119 # jq programs in single quotes; fc_start takes no args here
set -u
shopt -s lastpipe # req at the end of a pipeline sets CODE in this shell
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh

for need in curl openssl jq; do
	command -v $need >/dev/null || skip "$need not installed (tests/install-deps.sh)"
done
"$PY" -c 'import jwcrypto, cryptography' 2>/dev/null || skip "python3-jwcrypto/cryptography missing"

N=0
pass() { N=$((N + 1)); ok "$@"; }
OUT=$TEST_TMP/out.json
TR=/apis/authentication.k8s.io/v1/tokenreviews

# req METHOD PATH [curl args...]: CODE=status, body in $OUT (body on stdin
# when the args say --data-binary @-).
req() {
	local method=$1 p=$2
	shift 2
	CODE=$(curl -sS -m 20 --cacert "$FC_CA" -o "$OUT" -w '%{http_code}' -X "$method" "$@" "$FC_URL$p") ||
		CODE="curl-failed:$?"
}

# review HDRFILE TOKEN [AUD...]: a TokenReview as HDRFILE's caller.
review() {
	local hdr=$1 token=$2 auds
	shift 2
	auds=$(jq -cn '$ARGS.positional' --args "$@")
	printf '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"%s","audiences":%s}}' \
		"$token" "$auds" | req POST $TR -H @"$hdr" -H 'Content-Type: application/json' --data-binary @-
}

b64url_d() {
	"$PY" -c 'import base64, sys; s = sys.argv[1]; sys.stdout.buffer.write(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))' "$1"
}

expect() { # DESC JQ [jq args]: the last body satisfies JQ
	local desc=$1 f=$2
	shift 2
	jq -e "$f" "$@" "$OUT" >/dev/null 2>&1 || fail "$desc: jq '$f' false on $(head -c 600 "$OUT")"
	pass "$desc"
}

code() { # DESC WANT
	[ "$CODE" = "$2" ] || fail "$1: HTTP $CODE, want $2; body: $(head -c 400 "$OUT")"
}

is_status() { # DESC CODE REASON
	code "$1" "$2"
	expect "$1" '.kind == "Status" and .apiVersion == "v1" and .status == "Failure" and .code == $c and .reason == $r' \
		--argjson c "$2" --arg r "$3"
}

not_authenticated() { # DESC ERROR-SUBSTRING
	code "$1" 201
	expect "$1" '.kind == "TokenReview" and (.status.authenticated // false) == false and (.status.error | contains($e))' \
		--arg e "$2"
}

t0=$(date +%s%N)
fc_start
pass "fc_start ready in $((($(date +%s%N) - t0) / 1000000)) ms at $FC_URL"
[ "$(stat -c %a "$FC_DIR")" = 700 ] || fail "cluster dir mode $(stat -c %a "$FC_DIR")"
for f in ca.key server.key sa.key reviewer.key reviewer-token forbidden-token admin-token \
	static-tokens.csv kubeconfig kubeconfig-tokenfile kubeconfig-cert kubeconfig-forbidden \
	idp-rs256.key idp-ps256.key idp-es256.key idp-es384.key idp-eddsa.key; do
	[ "$(stat -c %a "$FC_DIR/$f")" = 600 ] || fail "$f mode $(stat -c %a "$FC_DIR/$f"), want 600"
done
pass "directory 0700, secrets 0600"

# ---------------------------------------------------------------- kubeconfigs
for k in kubeconfig kubeconfig-tokenfile kubeconfig-cert kubeconfig-forbidden; do
	kc=$FC_DIR/$k
	grep -qx 'apiVersion: v1' "$kc" && grep -qx 'kind: Config' "$kc" &&
		grep -qx 'current-context: fakecluster' "$kc" && grep -qx "    server: $FC_URL" "$kc" ||
		fail "$k: not a kubectl-style kubeconfig for $FC_URL"
	ca=$(sed -n 's/^    certificate-authority-data: //p' "$kc" | base64 -d)
	[ "$ca" = "$(cat "$FC_CA")" ] || fail "$k: certificate-authority-data is not the CA"
done
grep -qx "    tokenFile: $FC_DIR/reviewer-token" "$FC_DIR/kubeconfig-tokenfile" || fail "tokenFile path"
grep -q '^    client-key-data: ' "$FC_DIR/kubeconfig-cert" || fail "client-key-data"
pass "kubeconfigs: kubectl layout, server, CA data, token/tokenFile/client cert"

# ---------------------------------------------------------------- TLS
openssl verify -CAfile "$FC_CA" "$FC_DIR/server.crt" >/dev/null || fail "server cert not from CA"
openssl x509 -in "$FC_DIR/server.crt" -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1' ||
	fail "server cert lacks IP:127.0.0.1"
openssl x509 -in "$FC_DIR/reviewer.crt" -noout -subject | grep -q 'CN = system:serviceaccount:kube-system:k8s-auth-reviewer' ||
	fail "reviewer cert CN"
echo | openssl s_client -connect "${FC_URL#https://}" -CAfile "$FC_CA" -verify_return_error -tls1_2 \
	>/dev/null 2>&1 || fail "TLS 1.2 handshake"
if echo | openssl s_client -connect "${FC_URL#https://}" -CAfile "$FC_CA" -tls1_1 >/dev/null 2>&1; then
	fail "TLS 1.1 accepted"
fi
pass "TLS: CA-signed cert for 127.0.0.1, TLS 1.2 ok, TLS 1.1 refused"

# ---------------------------------------------------------------- reviewer authn/authz
tok=$(fc_mint --sa ops/alice --aud host-login:test) || fail "mint"
printf '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"%s"}}' "$tok" |
	req POST $TR -H 'Content-Type: application/json' --data-binary @-
is_status "no credentials: 401" 401 Unauthorized
expect "401 body is the apiserver's" '.message == "Unauthorized" and .metadata == {}'
printf 'Authorization: Bearer not-the-reviewer\n' >"$TEST_TMP/wrong.hdr"
review "$TEST_TMP/wrong.hdr" "$tok" host-login:test
is_status "wrong bearer: 401" 401 Unauthorized
review "$FC_HDR_FORBIDDEN" "$tok" host-login:test
is_status "forbidden reviewer: 403" 403 Forbidden
expect "403 message as RBAC words it" \
	'.message == "tokenreviews.authentication.k8s.io is forbidden: User \"system:serviceaccount:kube-system:powerless\" cannot create resource \"tokenreviews\" in API group \"authentication.k8s.io\" at the cluster scope"'
req GET $TR -H @"$FC_HDR_REVIEWER"
is_status "GET tokenreviews: 403 (list)" 403 Forbidden

# ---------------------------------------------------------------- SelfSubjectAccessReview
SSAR=/apis/authorization.k8s.io/v1/selfsubjectaccessreviews
ssar() { # HDRFILE VERB GROUP RESOURCE
	printf '{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"verb":"%s","group":"%s","resource":"%s"}}}' \
		"$2" "$3" "$4" | req POST $SSAR -H @"$1" -H 'Content-Type: application/json' --data-binary @-
}
ssar "$FC_HDR_REVIEWER" create authentication.k8s.io tokenreviews
code "SSAR: 201" 201
expect "SSAR: the reviewer may create tokenreviews (docs/rbac-reviewer.yaml)" \
	'.kind == "SelfSubjectAccessReview" and .status.allowed == true and (.status.reason | test("ClusterRole \"k8s-auth-reviewer\"")) and .spec.resourceAttributes.resource == "tokenreviews"'
ssar "$FC_HDR_REVIEWER" create authorization.k8s.io subjectaccessreviews
expect "SSAR: ... and subjectaccessreviews" '.status.allowed == true'
ssar "$FC_HDR_REVIEWER" list "" pods
expect "SSAR: but not list pods (no reason)" '.status == {"allowed": false}'
ssar "$FC_HDR_FORBIDDEN" create authentication.k8s.io tokenreviews
expect "SSAR: the powerless reviewer may not create tokenreviews" '.status == {"allowed": false}'
ssar "$FC_HDR_FORBIDDEN" create authorization.k8s.io selfsubjectaccessreviews
expect "SSAR: every authenticated user may create selfsubjectaccessreviews (system:basic-user)" \
	'.status.allowed == true and (.status.reason | test("system:basic-user"))'
ssar "$FC_HDR_ADMIN" create authentication.k8s.io tokenreviews
expect "SSAR: system:masters may do anything" '.status == {"allowed": true}'
ssar "$TEST_TMP/wrong.hdr" create authentication.k8s.io tokenreviews
is_status "SSAR: wrong bearer: 401" 401 Unauthorized
printf '{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{}}' |
	req POST $SSAR -H @"$FC_HDR_REVIEWER" -H 'Content-Type: application/json' --data-binary @-
is_status "SSAR: no attributes: 422" 422 Invalid
req GET $SSAR -H @"$FC_HDR_REVIEWER"
is_status "GET selfsubjectaccessreviews: 403 (list)" 403 Forbidden

# ---------------------------------------------------------------- reviews
review "$FC_HDR_REVIEWER" "$tok" host-login:test other
code "valid token" 201
uid=$(fc sa get ops/alice) || fail "sa get"
expect "authenticated with the apiserver's user info" \
	'.kind == "TokenReview" and .apiVersion == "authentication.k8s.io/v1" and .metadata == {creationTimestamp: null}
	 and .status.authenticated == true and .status.user.username == "system:serviceaccount:ops:alice"
	 and .status.user.uid == $uid
	 and .status.user.groups == ["system:serviceaccounts", "system:serviceaccounts:ops", "system:authenticated"]
	 and .status.audiences == ["host-login:test"] and (.status | has("error") | not)
	 and (.status.user | has("extra") | not)' --arg uid "$uid"
expect "spec echoed, token included" '.spec.token == $t and .spec.audiences == ["host-login:test", "other"]' --arg t "$tok"

review "$FC_HDR_REVIEWER" "$tok" other
not_authenticated "wrong audience" '[invalid bearer token, token audiences ["host-login:test"] is invalid for the target audiences ["other"]]'
expect "refusal: user {} and no authenticated member (omitempty)" '.status.user == {} and (.status | has("authenticated") | not)'

review "$FC_HDR_REVIEWER" "$tok"
not_authenticated "no spec.audiences means the apiserver's own" "is invalid for the target audiences [\"$FC_URL\"]"

tok_api=$(fc_mint --sa ops/alice) || fail "mint"
review "$FC_HDR_REVIEWER" "$tok_api"
code "token for the apiserver audience" 201
expect "...accepted with audiences [issuer]" '.status.authenticated and .status.audiences == [$u]' --arg u "$FC_URL"

now=$(date +%s)
review "$FC_HDR_REVIEWER" "$(fc_mint --sa ops/alice --aud a --iat $((now - 4000)) --exp $((now - 120)))" a
not_authenticated "expired 2 min ago" '[invalid bearer token, Token has expired.]'
review "$FC_HDR_REVIEWER" "$(fc_mint --sa ops/alice --aud a --iat $((now - 4000)) --exp $((now - 20)))" a
expect "expired 20 s ago: inside the apiserver's 60 s leeway" '.status.authenticated == true'
review "$FC_HDR_REVIEWER" "$(fc_mint --sa ops/alice --aud a --iat $((now + 600)) --nbf $((now + 600)))" a
not_authenticated "not valid before 10 min from now" 'Token could not be validated.'
review "$FC_HDR_REVIEWER" "$(fc_mint --sa ops/alice --aud a --no-exp)" a
not_authenticated "no exp: refused as expired (go-jose reads a missing exp as time zero)" "[invalid bearer token, Token has expired.]"

review "$FC_HDR_REVIEWER" "not-a-kubernetes-token" host-login:test
not_authenticated "garbage" 'invalid bearer token'
expect "garbage: exactly 'invalid bearer token'" '.status.error == "invalid bearer token"'

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TEST_TMP/foreign.key" 2>/dev/null
review "$FC_HDR_REVIEWER" "$(fc_mint --sa ops/alice --aud a --key "$TEST_TMP/foreign.key")" a
not_authenticated "signed by a foreign key" 'error in cryptographic primitive'
review "$FC_HDR_REVIEWER" "$(fc_mint --sa ops/alice --aud a --iss https://elsewhere.example)" a
expect "unknown issuer: plain invalid bearer token" '.status.error == "invalid bearer token"'
forged=$(fc_mint --sa ops/alice --aud a | "$PY" -c '
import base64, json, sys
h, p, s = sys.stdin.read().strip().split(".")
c = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
c["sub"] = "system:serviceaccount:kube-system:admin"
print(h + "." + base64.urlsafe_b64encode(json.dumps(c).encode()).rstrip(b"=").decode() + "." + s)')
review "$FC_HDR_REVIEWER" "$forged" a
not_authenticated "payload edited after signing" 'error in cryptographic primitive'

req POST $TR -H @"$FC_HDR_REVIEWER" -H 'Content-Type: application/json' --data-binary '{nope'
is_status "bad JSON: 400" 400 BadRequest
req POST $TR -H @"$FC_HDR_REVIEWER" -H 'Content-Type: application/json' --data-binary '{"apiVersion":"v1","kind":"Pod"}'
is_status "wrong kind: 400" 400 BadRequest
req POST $TR -H @"$FC_HDR_REVIEWER" -H 'Content-Type: application/json' \
	--data-binary '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{}}'
is_status "empty token: 400" 400 BadRequest
expect "empty token message" '.message == "token is required for TokenReview in authentication"'

# client certificate instead of a bearer token
printf '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"%s","audiences":["host-login:test"]}}' "$tok" |
	req POST $TR --cert "$FC_DIR/reviewer.crt" --key "$FC_DIR/reviewer.key" -H 'Content-Type: application/json' --data-binary @-
code "client-cert reviewer" 201
expect "client-cert reviewer gets the verdict" '.status.authenticated == true'

# deleted and recreated ServiceAccount
tok_old=$(fc_mint --sa ops/carol --aud a) || fail "mint carol"
fc sa delete ops/carol || fail "sa delete"
review "$FC_HDR_REVIEWER" "$tok_old" a
not_authenticated "deleted ServiceAccount" '[invalid bearer token, serviceaccounts "carol" not found]'
uid2=$(fc sa create ops/carol) || fail "sa create"
review "$FC_HDR_REVIEWER" "$tok_old" a
not_authenticated "recreated ServiceAccount (new uid)" "ServiceAccount UID ($uid2) does not match claim"

# pod-bound token, then the pod goes away
ptok=$(fc_mint --sa ops/alice --aud a --pod web-0) || fail "mint pod"
review "$FC_HDR_REVIEWER" "$ptok" a
expect "pod-bound: pod name and uid in extra" \
	'.status.authenticated and .status.user.extra["authentication.kubernetes.io/pod-name"] == ["web-0"]
	 and (.status.user.extra["authentication.kubernetes.io/pod-uid"] | length) == 1'
fc pod delete ops/web-0 || fail "pod delete"
review "$FC_HDR_REVIEWER" "$ptok" a
not_authenticated "bound pod deleted" 'Token has been invalidated'
jtok=$(fc_mint --sa ops/alice --aud a --jti jti-123 --pod web-1 --node node-a) || fail "mint jti"
review "$FC_HDR_REVIEWER" "$jtok" a
expect "jti and node: credential-id and node-name in extra" \
	'.status.user.extra["authentication.kubernetes.io/credential-id"] == ["JTI=jti-123"]
	 and .status.user.extra["authentication.kubernetes.io/node-name"] == ["node-a"]'

# legacy secret-based token
ltok=$(fc_mint --sa ops/alice --legacy --secret alice-token-x1) || fail "mint legacy"
review "$FC_HDR_REVIEWER" "$ltok"
expect "legacy token, no audiences asked: the apiserver's own" \
	'.status.authenticated and .status.audiences == [$u] and .status.user.username == "system:serviceaccount:ops:alice"' --arg u "$FC_URL"
review "$FC_HDR_REVIEWER" "$ltok" host-login:test
not_authenticated "legacy token for another audience" "token audiences [\"$FC_URL\"] is invalid for the target audiences [\"host-login:test\"]"
fc secret delete ops/alice-token-x1 || fail "secret delete"
review "$FC_HDR_REVIEWER" "$ltok"
not_authenticated "legacy token whose secret is gone" 'Token has been invalidated'

# static token file
printf 'static-secret-0123456789,jane,uid-jane,"ops,dev"\n' >>"$FC_DIR/static-tokens.csv"
review "$FC_HDR_REVIEWER" static-secret-0123456789
expect "static token" '.status.authenticated and .status.user == {username: "jane", uid: "uid-jane", groups: ["ops", "dev", "system:authenticated"]}'
review "$FC_HDR_REVIEWER" static-secret-0123456789 host-login:test
expect "static token, foreign audience: not authenticated" '.status.error == "invalid bearer token"'
btok=$(fc bootstrap-token) || fail "bootstrap-token"
review "$FC_HDR_REVIEWER" "$btok"
expect "bootstrap token" '.status.authenticated and (.status.user.username | startswith("system:bootstrap:"))'

# ---------------------------------------------------------------- discovery, JWKS, kid
req GET /.well-known/openid-configuration
code "discovery anonymous" 200
expect "discovery document" '. == {issuer: $u, jwks_uri: ($u + "/openid/v1/jwks"), response_types_supported: ["id_token"],
	subject_types_supported: ["public"], id_token_signing_alg_values_supported: ["RS256"]}' --arg u "$FC_URL"
req GET /openid/v1/jwks
code "jwks anonymous" 200
cp "$OUT" "$TEST_TMP/jwks.json"
req GET /openid/v1/jwks -H 'Accept: application/json'
code "jwks refuses Accept: application/json alone, as the apiserver (406)" 406
req GET /openid/v1/jwks
kid=$(openssl pkey -pubin -in "$FC_DIR/sa.pub" -outform DER | openssl dgst -sha256 -binary | basenc --base64url | tr -d '=')
expect "JWKS: one RSA key, kid = base64url(SHA-256(DER SPKI))" \
	'.keys | length == 1 and .[0].kty == "RSA" and .[0].use == "sig" and .[0].alg == "RS256" and .[0].kid == $k' --arg k "$kid"
hdr=$(b64url_d "${tok%%.*}")
[ "$(jq -c . <<<"$hdr" 2>/dev/null)" = "{\"alg\":\"RS256\",\"kid\":\"$kid\"}" ] || fail "token header $hdr"
pass "token header {alg: RS256, kid} as the apiserver writes it"
# openssl: the JWKS modulus is sa.pub's, and sa.pub verifies the signature
mod_jwks=$(jq -r '.keys[0].n' "$TEST_TMP/jwks.json" | "$PY" -c '
import base64, sys; s = sys.stdin.read().strip(); print(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)).hex().upper())')
mod_pem=$(openssl rsa -pubin -in "$FC_DIR/sa.pub" -noout -modulus | sed 's/^Modulus=//')
[ "$mod_jwks" = "$mod_pem" ] || fail "JWKS modulus differs from sa.pub"
printf '%s' "${tok%.*}" >"$TEST_TMP/signed"
b64url_d "${tok##*.}" >"$TEST_TMP/sig"
openssl dgst -sha256 -verify "$FC_DIR/sa.pub" -signature "$TEST_TMP/sig" "$TEST_TMP/signed" >/dev/null ||
	fail "openssl does not verify the token with sa.pub"
pass "openssl: JWKS modulus = sa.pub, signature verifies"
printf '%s' "$tok" >"$TEST_TMP/tok"
"$PY" - "$TEST_TMP/jwks.json" "$FC_URL" "$TEST_TMP/tok" <<'EOF' || fail "jwcrypto could not verify the token with the JWKS"
import json, sys, time
from jwcrypto import jwk, jwt
keys = jwk.JWKSet.from_json(open(sys.argv[1]).read())
t = jwt.JWT(jwt=open(sys.argv[3]).read().strip(), key=keys, algs=["RS256"])
c = json.loads(t.claims)
now = time.time()
assert c["iss"] == sys.argv[2] and c["aud"] == ["host-login:test"], c
assert c["sub"] == "system:serviceaccount:ops:alice" and c["nbf"] == c["iat"] and c["iat"] <= now < c["exp"], c
assert set(c) == {"aud", "exp", "iat", "iss", "kubernetes.io", "nbf", "sub"}, c
assert set(c["kubernetes.io"]) == {"namespace", "serviceaccount"}, c
EOF
pass "jwcrypto: JWKS verifies the token, claims shaped like the apiserver's"

# ---------------------------------------------------------------- admin API: ServiceAccounts, TokenRequest
req POST /api/v1/namespaces/ops/serviceaccounts -H @"$FC_HDR_ADMIN" -H 'Content-Type: application/json' \
	--data-binary '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"bob"}}'
code "create ServiceAccount" 201
expect "ServiceAccount object" '.kind == "ServiceAccount" and .metadata.name == "bob" and .metadata.namespace == "ops" and (.metadata.uid | length) == 36'
bob_uid=$(jq -r .metadata.uid "$OUT")
req POST /api/v1/namespaces/ops/serviceaccounts -H @"$FC_HDR_ADMIN" -H 'Content-Type: application/json' \
	--data-binary '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"bob"}}'
is_status "create twice: 409" 409 AlreadyExists
req GET /api/v1/namespaces/ops/serviceaccounts/bob -H @"$FC_HDR_ADMIN"
expect "get ServiceAccount" '.metadata.uid == $u' --arg u "$bob_uid"
req GET /api/v1/namespaces/ops/serviceaccounts/bob -H @"$FC_HDR_REVIEWER"
is_status "reviewer may not read ServiceAccounts" 403 Forbidden
req POST /api/v1/namespaces/ops/serviceaccounts/bob/token -H @"$FC_HDR_ADMIN" -H 'Content-Type: application/json' \
	--data-binary '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"audiences":["host-login:test"],"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"job-1"}}}'
code "TokenRequest" 201
expect "TokenRequest answer" '.kind == "TokenRequest" and .spec.expirationSeconds == 3600 and .spec.boundObjectRef.name == "job-1"
	and (.status.token | length) > 500 and (.status.expirationTimestamp | test("^[0-9-]+T[0-9:]+Z$"))'
btok=$(jq -r .status.token "$OUT")
review "$FC_HDR_REVIEWER" "$btok" host-login:test
expect "TokenRequest token reviews as bob, bound to job-1" \
	'.status.user.uid == $u and .status.user.extra["authentication.kubernetes.io/pod-name"] == ["job-1"]' --arg u "$bob_uid"
req POST /api/v1/namespaces/ops/serviceaccounts/bob/token -H @"$FC_HDR_ADMIN" -H 'Content-Type: application/json' \
	--data-binary '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":60}}'
is_status "expirationSeconds below 600: 422" 422 Invalid
req POST /api/v1/namespaces/ops/serviceaccounts/nobody/token -H @"$FC_HDR_ADMIN" -H 'Content-Type: application/json' \
	--data-binary '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{}}'
is_status "TokenRequest for a missing ServiceAccount: 404" 404 NotFound
expect "404 message" '.message == "serviceaccounts \"nobody\" not found"'
req DELETE /api/v1/namespaces/ops/pods/job-1 -H @"$FC_HDR_ADMIN"
code "delete pod" 200
review "$FC_HDR_REVIEWER" "$btok" host-login:test
not_authenticated "pod deleted through the API" 'Token has been invalidated'
req DELETE /api/v1/namespaces/ops/serviceaccounts/bob -H @"$FC_HDR_ADMIN"
code "delete ServiceAccount" 200
req GET /api/v1/namespaces/ops/serviceaccounts/bob -H @"$FC_HDR_ADMIN"
is_status "deleted ServiceAccount: 404" 404 NotFound

# ---------------------------------------------------------------- OIDC identity provider
req GET /idp/.well-known/openid-configuration
code "IdP discovery" 200
expect "IdP issuer and jwks_uri" '.issuer == $i and .jwks_uri == ($i + "/keys")' --arg i "$FC_IDP"
req GET /idp/keys
cp "$OUT" "$TEST_TMP/idp.json"
expect "IdP keys: RS256 PS256 ES256 ES384 EdDSA, distinct kids" \
	'[.keys[].alg] == ["RS256","PS256","ES256","ES384","EdDSA"] and ([.keys[].kid] | unique | length) == 5'
for alg in RS256 PS256 ES256 ES384 EdDSA; do
	itok=$(fc_idp_mint --alg $alg --claims '{"aud":"host-login:test"}') || fail "idp-mint $alg"
	printf '%s' "$itok" >"$TEST_TMP/tok"
	"$PY" - "$TEST_TMP/idp.json" "$FC_IDP" $alg "$TEST_TMP/tok" <<'EOF' || fail "jwcrypto rejects the $alg ID token"
import json, sys
from jwcrypto import jwk, jwt
keys = jwk.JWKSet.from_json(open(sys.argv[1]).read())
t = jwt.JWT(jwt=open(sys.argv[4]).read().strip(), key=keys, algs=[sys.argv[3]])
c = json.loads(t.claims)
h = json.loads(t.token.objects["protected"])
assert h["alg"] == sys.argv[3] and c["iss"] == sys.argv[2] and c["aud"] == "host-login:test", (h, c)
assert c["email_verified"] is True and c["groups"] == ["team-ops"] and c["exp"] > c["iat"], c
EOF
done
pass "ID tokens of every IdP alg verify against /idp/keys (jwcrypto)"
big=$(fc_idp_mint --alg ES256 --groups 150) || fail "idp-mint groups"
[ ${#big} -ge 2800 ] && [ ${#big} -le 4096 ] || fail "150 groups make a ${#big}-byte token"
pass "--groups 150 makes a ${#big}-byte ID token"
itok=$(fc_idp_mint --alg RS256 --kid unknown-kid --claims '{"exp":null}' --header-extra '{"typ":null}') || fail "idp-mint kid"
"$PY" -c 'import base64, json, sys
h, p, _ = sys.argv[1].split(".")
d = lambda s: json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
assert d(h) == {"alg": "RS256", "kid": "unknown-kid"} and "exp" not in d(p)' "$itok" || fail "--kid/--claims null/--header-extra"
pass "idp-mint --kid, null removes a claim or header member"

# ---------------------------------------------------------------- faults
n_before=$(fc_requests $TR)
fc_fault '{"mode": "delay", "seconds": 1.5}'
t0=$(date +%s%N)
review "$FC_HDR_REVIEWER" "$tok" host-login:test
ms=$((($(date +%s%N) - t0) / 1000000))
code "delay: still answers" 201
[ $ms -ge 1400 ] || fail "delay: answered after ${ms} ms"
pass "delay 1.5 s: answered after ${ms} ms"
for c in 500 503 429; do
	fc_fault "{\"mode\": \"status\", \"code\": $c}"
	review "$FC_HDR_REVIEWER" "$tok" host-login:test
	[ "$CODE" = $c ] && jq -e '.kind == "Status" and .code == '$c "$OUT" >/dev/null || fail "status $c: got $CODE"
done
pass "status faults 500, 503, 429 with Status bodies"
fc_fault '{"mode": "huge"}'
review "$FC_HDR_REVIEWER" "$tok" host-login:test
code "huge: 201" 201
[ "$(stat -c %s "$OUT")" -ge $((5 * 1024 * 1024)) ] || fail "huge: only $(stat -c %s "$OUT") bytes"
expect "huge: a well-formed 5 MiB TokenReview" '.kind == "TokenReview" and .status.authenticated == true'
fc_fault '{"mode": "malformed"}'
review "$FC_HDR_REVIEWER" "$tok" host-login:test
code "malformed: 201" 201
if jq . "$OUT" >/dev/null 2>&1; then fail "malformed: body parses"; fi
pass "malformed: 201 with invalid JSON"
fc_fault '{"mode": "wrong-kind"}'
review "$FC_HDR_REVIEWER" "$tok" host-login:test
code "wrong-kind: 201" 201
expect "wrong-kind: valid JSON, not a TokenReview" '.kind != "TokenReview" and .apiVersion != "authentication.k8s.io/v1"'
fc_fault '{"mode": "redirect"}'
review "$FC_HDR_REVIEWER" "$tok" host-login:test
code "redirect: 302" 302
loc=$(curl -sS -m 5 --cacert "$FC_CA" -o /dev/null -w '%{redirect_url}' -X POST "$FC_URL$TR")
[ "$loc" = "$FC_URL/redirected$TR" ] || fail "redirect location '$loc'"
pass "redirect: 302 to $loc"
fc_fault '{"mode": "empty-audiences"}'
review "$FC_HDR_REVIEWER" "$tok" host-login:test
expect "empty-audiences: authenticated with audiences []" '.status.authenticated == true and .status.audiences == []'
fc_fault '{"mode": "clock", "offset": -600}'
date_of() { curl -sS -m 5 --cacert "$FC_CA" -o /dev/null -D - "$FC_URL/healthz" | tr -d '\r' | sed -n 's/^[Dd]ate: //p'; }
d=$(date -d "$(date_of)" +%s) || fail "clock: no Date header"
now=$(date +%s)
[ $((now - d)) -ge 595 ] && [ $((now - d)) -le 605 ] || fail "clock: Date $d is not 600 s behind $now"
req GET /healthz
code "clock: the answer is otherwise normal" 200
pass "clock: Date header 600 s behind"
fc_fault '{"mode": "drop"}'
review "$FC_HDR_REVIEWER" "$tok" host-login:test
case $CODE in curl-failed:52 | curl-failed:56 | curl-failed:35) ;; *) fail "drop: got $CODE" ;; esac
pass "drop: connection closed without an answer ($CODE)"
fc_fault '{"mode": "status", "code": 500, "paths": ["/openid/"]}'
req GET /.well-known/openid-configuration
code "fault limited by paths: other paths unaffected" 200
req GET /openid/v1/jwks
code "fault limited by paths: matching path" 500
pass "paths limits the fault"
fc_fault '{"mode": "status", "code": 503, "times": 2}'
codes=""
for i in 1 2 3; do req GET /openid/v1/jwks; codes="$codes $CODE"; done
[ "$codes" = " 503 503 200" ] || fail "times=2 gave$codes"
pass "times limits the fault to the first N requests"
fc_fault_clear
review "$FC_HDR_REVIEWER" "$tok" host-login:test
expect "fault cleared" '.status.authenticated == true'
n_after=$(fc_requests $TR)
[ $((n_after - n_before)) = 12 ] || fail "requests.json counted $((n_after - n_before)) tokenreviews, want 12"
[ "$(fc_requests /nowhere)" = 0 ] || fail "requests for an unseen path"
pass "requests.json counts per path"
fc_fault '{"mode": "no-audiences"}'
review "$FC_HDR_REVIEWER" "$tok" host-login:test
expect "no-audiences: authenticated, no status.audiences" '.status.authenticated == true and (.status | has("audiences") | not)'
fc_fault '{"mode": "wrong-audiences", "audiences": ["zzz"]}'
review "$FC_HDR_REVIEWER" "$tok" host-login:test
expect "wrong-audiences: status.audiences as configured" '.status.authenticated == true and .status.audiences == ["zzz"]'
fc_fault '{"mode": "status", "code": 503, "retry-after": 7}'
ra=$(curl -sS -m 5 --cacert "$FC_CA" -o /dev/null -D - "$FC_URL/healthz" | tr -d '\r' | sed -n 's/^[Rr]etry-[Aa]fter: //p')
assert_eq "$ra" 7 "status fault with retry-after"
fc_fault 'this is { not json'
review "$FC_HDR_REVIEWER" "$tok" host-login:test
expect "unreadable fault.json is ignored" '.status.authenticated == true'
fc_fault_clear
c0=$(fc_requests _connections)
n0=$(fc_requests)
if curl -sS -m 5 "$FC_URL/healthz" >/dev/null 2>&1; then fail "curl trusted the test CA without --cacert"; fi
[ "$(fc_requests _connections)" = $((c0 + 1)) ] && [ "$(fc_requests)" = "$n0" ] ||
	fail "a failed handshake: connections $c0 -> $(fc_requests _connections), requests $n0 -> $(fc_requests)"
pass "a failed TLS handshake counts as a connection, not a request"

# ---------------------------------------------------------------- robustness
exec 7<>/dev/tcp/127.0.0.1/"${FC_URL##*:}" # a client that connects and says nothing
t0=$(date +%s%N)
review "$FC_HDR_REVIEWER" "$tok" host-login:test
code "answer while a silent client holds a connection" 201
exec 7>&-
pids=()
for i in $(seq 1 12); do
	(review "$FC_HDR_REVIEWER" "$tok" host-login:test && [ "$CODE" = 201 ]) &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "parallel review $p failed"; done
pass "12 parallel reviews all 201 ($((($(date +%s%N) - t0) / 1000000)) ms)"

# ---------------------------------------------------------------- nothing secret in the log
for secret in "$tok" "$ptok" "$ltok" "$btok" "$(cat "$FC_DIR/reviewer-token")" "$(cat "$FC_DIR/admin-token")" \
	"$(cat "$FC_DIR/forbidden-token")" static-secret-0123456789; do
	if grep -qF -- "$secret" "$FC_DIR/server.log"; then fail "server.log holds a token"; fi
done
grep -qiE 'authorization *:|bearer' "$FC_DIR/server.log" && fail "server.log mentions an Authorization header"
pass "server.log: no tokens, no Authorization headers ($(wc -l <"$FC_DIR/server.log") lines)"

fc_stop
if curl -sS -m 3 --cacert "$FC_CA" "$FC_URL/healthz" >/dev/null 2>&1; then fail "server still up after fc_stop"; fi
pass "fc_stop stops the server"
echo "t_fakecluster: $N passed, 0 failed"
