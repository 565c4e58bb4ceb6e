#!/bin/bash
# `serviceAccounts:` (the apiserver's service-account authenticator,
# offline) against a real kube-apiserver: for bound tokens the apiserver
# mints (plain and pod-bound), `k8s-auth check` offline gives exactly the
# identity TokenReview gives, field by field; a token with the wrong
# audience, none, an expired one, or one signed by another key is refused
# by both; login.allowedGroups and a SubjectAccessReview (granted to
# system:authenticated only) decide alike on both.  What 1.20 does not
# mint (jti, node claims) is tested on tokens signed here with the
# cluster's own service-account key, against the
# TokenReview answer the Kubernetes documentation shows for such a token.
# And the price, as documented: a deleted service account's token still
# validates offline.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/kube/kubelib.sh
. tests/kube/checklib.sh
. tests/kube/synclib.sh

kt_need_cli
kt_need_cluster

T=$KUBE_DIR/sa
mkdir -p "$T"
AUD=host-login:test
TAMPER=tests/kube/jwt_tamper.py
KEY=$KUBE_DIR/pki/sa.key

curl -sf -m 5 --cacert "$KUBE_CA" "$KUBE_URL/.well-known/openid-configuration" >"$T/disc.json" ||
	{ echo "FAIL - the apiserver does not serve its discovery document anonymously"; exit 1; }
echo "info: discovery: $(jq -c . "$T/disc.json")"

TR=$T/tr.yaml
kt_write_config "$TR" "$T/tr" "tokenReview:
  kubeconfig: $KUBE_DIR/kubeconfig
  audiences: [\"$AUD\"]
  cacheTTL: 0"
sa_section() { # extra lines after the section
	cat <<EOF
serviceAccounts:
  issuer: $KUBE_URL
  audiences: ["$AUD"]
  certificateAuthority: |
$(sed 's/^/    /' "$KUBE_CA")
$*
EOF
}
SA=$T/sa.yaml
kt_write_config "$SA" "$T/sa" "$(sa_section)"

# What both must agree on: the user (username, uid, groups, extra), its
# expiry, and what it maps to here.
view='{username, uid, groups, extra, expires_at, local_user, local_groups}'

same_identity() { # DESC TOKEN
	local desc=$1 tok=$2 a b
	kt_check "$desc: TokenReview" 0 "$TR" <<<"$tok"
	kt_expect "method tokenreview" '.method == "tokenreview"'
	a=$(jq -S "$view" <<<"$KT_OUT")
	kt_check "$desc: offline" 0 "$SA" <<<"$tok"
	kt_expect "method serviceaccount, issuer the cluster's" '.method == "serviceaccount" and .issuer == $i' \
		--arg i "$KUBE_URL"
	b=$(jq -S "$view" <<<"$KT_OUT")
	if [ "$a" = "$b" ]; then
		kt_ok "  $desc: the same identity, field by field: $(jq -c '{username, uid, groups, extra}' <<<"$b")"
	else
		kt_fail "  $desc: identities differ: TokenReview $a; offline $b"
	fi
}

both_refuse() { # DESC TOKEN
	kt_check "$1: TokenReview refuses" 1 "$TR" <<<"$2"
	kt_check "$1: offline refuses" 1 "$SA" <<<"$2"
	kt_expect "with a reason" '.authenticated == false and (.reason | length) > 0'
	echo "info:   offline: $(jq -c '{reason, detail}' <<<"$KT_OUT")"
}

# jwt_tamper.py (its own interpreter: /usr/bin/python3 with jwcrypto); an
# empty answer would be refused for nothing: stop instead
tamper() {
	local out
	out=$("$TAMPER" "$@") && [ -n "$out" ] || { echo "FAIL - jwt_tamper.py $1 failed" >&2; kill $$; exit 1; }
	printf '%s\n' "$out"
}

uid=$(kube_create_sa ops alice) || exit 1

# ---- bound tokens the apiserver mints
tok=$(kube_mint ops alice "$AUD") || exit 1
same_identity "bound token for $AUD" "$tok"
kt_expect "groups end with system:authenticated" \
	'.groups == ["system:serviceaccounts", "system:serviceaccounts:ops", "system:authenticated"]'
kt_expect "uid is the ServiceAccount's" '.uid == $u' --arg u "$uid"
kt_expect "no credential id (1.20 mints no jti)" '.extra == {}'

tok_multi=$(kube_mint ops alice "other,$AUD") || exit 1
same_identity "bound token with two audiences" "$tok_multi"

# pod-bound: a Pod object (never scheduled) and a token bound to it
pod=$(kube_api POST /api/v1/namespaces/ops/pods "$(jq -cn '{apiVersion: "v1", kind: "Pod",
	metadata: {name: "web-1"}, spec: {serviceAccountName: "alice",
	automountServiceAccountToken: false, containers: [{name: "c", image: "busybox"}]}}')") ||
	{ echo "FAIL - creating pod ops/web-1: $pod"; exit 1; }
pod_uid=$(jq -r .metadata.uid <<<"$pod")
ptok=$(kube_api POST /api/v1/namespaces/ops/serviceaccounts/alice/token "$(jq -cn --arg a "$AUD" \
	--arg u "$pod_uid" '{apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest",
	spec: {audiences: [$a], expirationSeconds: 600,
	boundObjectRef: {kind: "Pod", apiVersion: "v1", name: "web-1", uid: $u}}}')" | jq -er .status.token) ||
	{ echo "FAIL - TokenRequest bound to the pod"; exit 1; }
same_identity "pod-bound token" "$ptok"
kt_expect "pod extras" '.extra == {"authentication.kubernetes.io/pod-name": ["web-1"],
	"authentication.kubernetes.io/pod-uid": [$p]}' --arg p "$pod_uid"

# ---- mapping, login.allowedGroups and SubjectAccessReview see one user
# whichever said yes.  The RBAC grant names only system:authenticated: the
# offline identity must carry it into the review as TokenReview's does.
role=$(jq -cn '{apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role",
	metadata: {name: "host-login", namespace: "ops"},
	rules: [{apiGroups: ["pam-k8s.io"], resources: ["hosts"], verbs: ["login"], resourceNames: ["sa-test"]}]}')
ks_apply_json "$role" && ks_rolebinding ops host-login Role host-login group:system:authenticated || exit 1
sar_config() { # FILE ALLOWED-GROUP [offline]
	kt_write_config "$1" "${1%.yaml}" "tokenReview:
  kubeconfig: $KUBE_DIR/kubeconfig
  audiences: [\"$AUD\"]
  cacheTTL: 0
$([ -z "${3:-}" ] || sa_section)
login:
  allowedGroups: [\"$2\"]
  subjectAccessReview: {namespace: ops, group: pam-k8s.io, resource: hosts, verb: login, name: sa-test}"
}
TR_SAVE=$TR SA_SAVE=$SA
for g in system:serviceaccounts:ops system:authenticated; do
	sar_config "$T/tr-sar.yaml" "$g"
	sar_config "$T/sa-sar.yaml" "$g" offline
	TR=$T/tr-sar.yaml SA=$T/sa-sar.yaml
	same_identity "allowedGroups [$g], SubjectAccessReview granted to system:authenticated" "$ptok"
	TR=$TR_SAVE SA=$SA_SAVE
done
sar_config "$T/sa-sar.yaml" system:serviceaccounts:other offline
kt_check "allowedGroups of another namespace, offline" 1 "$T/sa-sar.yaml" <<<"$ptok"
kt_expect "validated offline, refused by allowedGroups" '.method == "serviceaccount" and .authenticated == false'
sar_config "$T/tr-sar.yaml" system:serviceaccounts:other
kt_check "allowedGroups of another namespace, TokenReview" 1 "$T/tr-sar.yaml" <<<"$ptok"
sar_config "$T/tr-sar.yaml" system:authenticated
sar_config "$T/sa-sar.yaml" system:authenticated offline
ks_delete /apis/rbac.authorization.k8s.io/v1/namespaces/ops/rolebindings/host-login || exit 1
deadline=$((SECONDS + 20))
while printf '%s' "$ptok" | "$K8S_AUTH_BIN" check --config "$T/tr-sar.yaml" >/dev/null 2>&1 &&
	[ $SECONDS -lt $deadline ]; do
	sleep 1
done
kt_check "grant revoked: TokenReview path refused by the review" 1 "$T/tr-sar.yaml" <<<"$ptok"
echo "info:   TokenReview path: $(jq -c '{reason, detail}' <<<"$KT_OUT")"
kt_check "grant revoked: offline path refused by the review" 1 "$T/sa-sar.yaml" <<<"$ptok"
echo "info:   offline: $(jq -c '{method, reason, detail}' <<<"$KT_OUT")"
kt_expect "the offline identity was validated, then refused by the review" '.method == "serviceaccount"'

# ---- refused by both
both_refuse "audience 'other' only" "$(kube_mint ops alice other)"
both_refuse "the apiserver's own audience (no aud for the host)" "$(kube_mint ops alice "")"
now=$(date +%s)
both_refuse "expired 2 min ago (beyond the apiserver's 60 s leeway)" \
	"$(tamper resign "$KEY" "{\"iat\": $((now - 800)), \"nbf\": $((now - 800)), \"exp\": $((now - 120))}" <<<"$tok")"
both_refuse "signed by another key" "$(tamper foreign-key <<<"$tok")"
both_refuse "payload changed" "$(tamper payload <<<"$tok")"
both_refuse "HS256 keyed with the public key" "$(tamper hs256-pubkey "$KUBE_DIR/pki/sa.pub" <<<"$tok")"
both_refuse "iat 10 min ahead" \
	"$(tamper resign "$KEY" "{\"iat\": $((now + 600)), \"nbf\": $now, \"exp\": $((now + 1200))}" <<<"$tok")"

# The control for the re-signing: the same claims, re-signed unchanged,
# are accepted by both (so the refusals above are for what changed).
same_identity "re-signed with the cluster key, claims unchanged" "$(tamper resign "$KEY" '{}' <<<"$tok")"

# ---- what 1.20 does not mint: the TokenReview answer of the Kubernetes
# documentation (service-accounts-admin, "Manual TokenReview": a pod-bound
# token with node claims and a jti), reproduced offline from a token with
# those claims, signed with this cluster's key.
doc_claims=$(jq -cn --arg a "$AUD" --argjson now "$now" '{aud: [$a], iat: $now, nbf: $now, exp: ($now + 600),
	jti: "7ee52be0-9045-4653-aa5e-0da57b8dccdc", sub: "system:serviceaccount:default:my-sa",
	"kubernetes.io": {namespace: "default",
		node: {name: "kind-control-plane", uid: "497e9d9a-47aa-4930-b0f6-9f2fb574c8c6"},
		pod: {name: "test-pod", uid: "e87dbbd6-3d7e-45db-aafb-72b24627dff5"},
		serviceaccount: {name: "my-sa", uid: "f8b4161b-2e2b-11e9-86b7-2afc33b31a7e"}}}')
dtok=$(tamper resign "$KEY" "$doc_claims" <<<"$tok")
kt_check "documented pod+node-bound token with a jti, offline" 0 "$SA" <<<"$dtok"
kt_expect "the documented user, field by field" '{username, uid, groups, extra} == {
	username: "system:serviceaccount:default:my-sa", uid: "f8b4161b-2e2b-11e9-86b7-2afc33b31a7e",
	groups: ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"],
	extra: {"authentication.kubernetes.io/credential-id": ["JTI=7ee52be0-9045-4653-aa5e-0da57b8dccdc"],
		"authentication.kubernetes.io/node-name": ["kind-control-plane"],
		"authentication.kubernetes.io/node-uid": ["497e9d9a-47aa-4930-b0f6-9f2fb574c8c6"],
		"authentication.kubernetes.io/pod-name": ["test-pod"],
		"authentication.kubernetes.io/pod-uid": ["e87dbbd6-3d7e-45db-aafb-72b24627dff5"]}}'

# a node-bound token (ServiceAccountTokenNodeBinding; claims.go: node only)
ntok=$(tamper resign "$KEY" "$(jq -c '.["kubernetes.io"] |= del(.pod) | .jti = "node-jti-1"' <<<"$doc_claims")" <<<"$tok")
kt_check "node-bound token, offline" 0 "$SA" <<<"$ntok"
kt_expect "node extras and credential id, no pod" '.extra == {
	"authentication.kubernetes.io/credential-id": ["JTI=node-jti-1"],
	"authentication.kubernetes.io/node-name": ["kind-control-plane"],
	"authentication.kubernetes.io/node-uid": ["497e9d9a-47aa-4930-b0f6-9f2fb574c8c6"]}'
# a jti of another type is refused (go cannot decode it into the string ID)
jtok=$(tamper resign "$KEY" "$(jq -c '.jti = 5' <<<"$doc_claims")" <<<"$tok")
kt_check "jti a number, offline" 1 "$SA" <<<"$jtok"
# no kubernetes.io claim: not a service-account token
xtok=$(tamper resign "$KEY" "$(jq -c '.["kubernetes.io"] = null' <<<"$doc_claims")" <<<"$tok")
kt_check "no kubernetes.io claim, offline" 1 "$SA" <<<"$xtok"
kt_expect "not a service-account token" '.reason == "invalid service-account token"'
# a namespace that could make the username ambiguous
ctok=$(tamper resign "$KEY" "$(jq -c '.["kubernetes.io"].namespace = "a:b"' <<<"$doc_claims")" <<<"$tok")
kt_check "namespace with a colon, offline" 1 "$SA" <<<"$ctok"

# an issuer that nearly matches is named in the refusal
itok=$(tamper resign "$KEY" "{\"iss\": \"$KUBE_URL/\"}" <<<"$tok")
kt_check "iss with a trailing slash, offline only" 1 "$SA" <<<"$itok"
kt_expect "unknown issuer, nearest the serviceAccounts issuer" \
	'.reason == "unknown issuer" and (.detail | test("nearest: serviceAccounts issuer"))'

# ---- legacy secret-based tokens are never validated offline
ltok=$(tamper resign "$KEY" "$(jq -cn '{iss: "kubernetes/serviceaccount", aud: null, exp: null,
	iat: null, nbf: null, "kubernetes.io": null, sub: "system:serviceaccount:ops:alice",
	"kubernetes.io/serviceaccount/namespace": "ops",
	"kubernetes.io/serviceaccount/secret.name": "alice-token-x",
	"kubernetes.io/serviceaccount/service-account.name": "alice",
	"kubernetes.io/serviceaccount/service-account.uid": "u"}')" <<<"$tok")
LEG=$T/legacy.yaml
kt_write_config "$LEG" "$T/legacy" "$(sa_section)
policy:
  allowLegacyServiceAccountTokens: true"
kt_check "legacy token, offline only, legacy tokens allowed by policy" 1 "$LEG" <<<"$ltok"
kt_expect "refused as legacy, naming the way out" \
	'.reason == "legacy service-account token" and (.detail | test("tokenReview"))'

# ---- the price: no existence check
kube_delete_sa ops alice || exit 1
deadline=$((SECONDS + 30))
while printf '%s' "$tok" | "$K8S_AUTH_BIN" check --config "$TR" >/dev/null 2>&1 && [ $SECONDS -lt $deadline ]; do
	sleep 1
done
kt_check "deleted ServiceAccount: TokenReview refuses" 1 "$TR" <<<"$tok"
kt_check "deleted ServiceAccount: offline still accepts (docs/security.md)" 0 "$SA" <<<"$tok"

# ---- configuration: the service-account issuer is no jwt issuer
BAD=$T/bad.yaml
kt_write_config "$BAD" "$T/bad" "$(sa_section)
jwt:
- issuer:
    url: $KUBE_URL
    audiences: [\"$AUD\"]
  claimMappings:
    username: {claim: sub, prefix: \"\"}"
kt_check "serviceAccounts.issuer also a jwt issuer" 2 "$BAD" <<<"$tok"
grep -q "serviceAccounts.issuer: .*also the issuer of jwt\[0\]" <<<"$KT_OUT$KT_ERR" &&
	kt_ok "  the error names both and the rule" || kt_fail "  no clear error: $KT_OUT $KT_ERR"
kt_write_config "$BAD" "$T/bad" "$(sa_section | sed "s|\"$AUD\"|\"$KUBE_URL\"|")"
kt_check "the issuer as host audience" 2 "$BAD" <<<"$tok"
grep -q "serviceAccounts.audiences\[0\]: .*service-account issuer" <<<"$KT_OUT$KT_ERR" &&
	kt_ok "  refused as the cluster's own audience" || kt_fail "  not refused clearly: $KT_OUT $KT_ERR"

# ---- k8s-auth status reports the section and fetches its keys
st=$("$K8S_AUTH_BIN" status --config "$SA" 2>&1)
if grep -q "config.serviceAccounts: $KUBE_URL" <<<"$st" &&
	grep -q "serviceAccounts: $KUBE_URL: discovery and JWKS fetched now: 1 usable key from $KUBE_URL/openid/v1/jwks" <<<"$st"; then
	kt_ok "k8s-auth status reports serviceAccounts and its keys"
else
	kt_fail "k8s-auth status: $(grep -i serviceaccounts <<<"$st")"
fi

kt_done
