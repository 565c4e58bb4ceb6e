#!/bin/bash
# `k8s-auth check` with offline validation (jwt:) of real bound
# service-account tokens: the real apiserver is the issuer, its OIDC
# discovery document and JWKS are the keys.  Run once with an RSA and once
# with an EC service-account signing key (RS256 and ES256 tokens).
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/kube/kubelib.sh
. tests/kube/checklib.sh

kt_need_cli
AUD=host-login:test
# Its shebang is Debian's python3, which has python3-jwcrypto.
TAMPER=tests/kube/jwt_tamper.py

# jwt config for issuer URL $2 trusting the CA in PEM file $3.
jwt_config() {
	local cfg=$1 url=$2 cafile=$3
	kt_write_config "$cfg" "$T/$(basename "$cfg" .yaml)" "jwt:
- issuer:
    url: $url
    audiences: [\"$AUD\"]
    certificateAuthority: |
$(sed 's/^/      /' "$cafile")
  claimMappings:
    username: {claim: sub, prefix: \"\"}"
}

run_suite() {
	local keytype=$1 tok mode alg
	export KUBE_SA_KEY=$keytype
	kt_need_cluster
	echo "--- service-account key: $keytype"
	T=$KUBE_DIR/jwt
	mkdir -p "$T"
	local CFG=$T/good.yaml
	jwt_config "$CFG" "$KUBE_URL" "$KUBE_CA"

	kube_create_sa ops alice >/dev/null || exit 1
	tok=$(kube_mint ops alice "$AUD") || exit 1
	alg=$(cut -d. -f1 <<<"$tok" | tr '_-' '/+' | base64 -d 2>/dev/null | jq -r .alg)
	echo "info: token alg $alg"

	kt_check "[$keytype] bound token for $AUD" 0 "$CFG" <<<"$tok"
	kt_expect "authenticated" '.authenticated == true'
	kt_expect "method jwt" '.method == "jwt"'
	kt_expect "issuer is the apiserver" '.issuer == $i' --arg i "$KUBE_URL"
	kt_expect "username from sub" '.username == "system:serviceaccount:ops:alice"'
	kt_expect "mapped local user" '.local_user == "ops.alice"'
	kt_check "[$keytype] same token, --user ops.alice" 0 "$CFG" --user ops.alice <<<"$tok"
	kt_check "[$keytype] same token, --user ops.bob" 1 "$CFG" --user ops.bob <<<"$tok"

	kt_check "[$keytype] token for audience 'other'" 1 "$CFG" <<<"$(kube_mint ops alice other)"
	kt_expect "refused with a reason" '.authenticated == false and (.reason | length) > 0'
	kt_check "[$keytype] token for the apiserver's own audience" 1 "$CFG" <<<"$(kube_mint ops alice "")"

	for mode in payload signature nosig alg-none foreign-key; do
		kt_check "[$keytype] tampered token: $mode" 1 "$CFG" <<<"$("$TAMPER" "$mode" <<<"$tok")"
		kt_expect "refused" '.authenticated == false'
	done
	kt_check "[$keytype] HS256 keyed with the issuer's public key" 1 "$CFG" \
		<<<"$("$TAMPER" hs256-pubkey "$KUBE_DIR/pki/sa.pub" <<<"$tok")"

	# The issuer must match exactly: a trailing slash is another issuer.
	jwt_config "$T/other-issuer.yaml" "$KUBE_URL/" "$KUBE_CA"
	kt_check "[$keytype] issuer no authenticator knows" 1 "$T/other-issuer.yaml" <<<"$tok"

	# Discovery over TLS the configured CA does not vouch for.
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other-ca.key" -out "$T/other-ca.crt" \
		-days 1 -subj /CN=other-ca >/dev/null 2>&1 || exit 1
	jwt_config "$T/wrong-ca.yaml" "$KUBE_URL" "$T/other-ca.crt"
	kt_check "[$keytype] issuer certificate not from the configured CA" 3 "$T/wrong-ca.yaml" <<<"$tok"

	# No keys cached (fresh cacheDir) and the issuer down: no verdict.
	kube_stop_apiserver
	jwt_config "$T/cold.yaml" "$KUBE_URL" "$KUBE_CA"
	kt_check "[$keytype] issuer down, nothing cached" 3 "$T/cold.yaml" <<<"$tok"
	tok=
	kube_stop
}

run_suite rsa
run_suite ec
kt_done
