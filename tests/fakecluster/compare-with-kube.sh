#!/bin/bash
# The same requests to a real kube-apiserver (tests/kube, Debian 1.20.2) and
# to fakecluster; every answer is normalised (issuer URL -> ISSUER, UUIDs ->
# UID, tokens dropped, managedFields dropped) and the two must be equal.
# Not part of `make check` (it needs the real apiserver: ~10 s to start,
# a 5 min build the first time):
#
#   tests/fakecluster/compare-with-kube.sh      # exit 0 same, 1 different, 77 no apiserver
#
# Tokens for the real cluster that TokenRequest will not mint (expired, nbf,
# legacy, foreign key) are made with `fakecluster.py mint --key` and the real
# cluster's signing key, so this also checks that mint's tokens pass a real
# apiserver.
# shellcheck disable=SC2016,SC2119 # jq programs in single quotes; fc_start takes no args here
set -u
shopt -s lastpipe
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh
. tests/kube/kubelib.sh

command -v jq >/dev/null || skip "jq missing"
printf 'static-token-0123456789,static-user,uid-42,"grp1,grp2"\n' >"$TEST_TMP/static.csv"
cat >"$TEST_TMP/apiserver" <<EOF
#!/bin/sh
exec "$("$REPO/tests/kube/build-apiserver.sh" 2>/dev/null || echo /nonexistent)" --token-auth-file="$TEST_TMP/static.csv" "\$@"
EOF
chmod +x "$TEST_TMP/apiserver"
KUBE_APISERVER=$TEST_TMP/apiserver kube_start || skip "no kube-apiserver"
fc_start
printf 'static-token-0123456789,static-user,uid-42,"grp1,grp2"\n' >>"$FC_DIR/static-tokens.csv"
MINTDIR=$TEST_TMP/mint     # a scratch state for minting tokens for the real cluster
"$PY" "$FC_PY" init --dir "$MINTDIR" >/dev/null || fail "init mint dir"
printf 'Authorization: Bearer %s\n' "$KUBE_REVIEWER_TOKEN" >"$TEST_TMP/kube-reviewer.hdr"
printf 'Authorization: Bearer not-a-valid-token\n' >"$TEST_TMP/bad.hdr"
printf 'Authorization: Bearer static-token-0123456789\n' >"$TEST_TMP/static.hdr"

# Backend switch: B=kube or B=fake sets URL CA HDR_REVIEWER ADMIN(curl args).
use() {
	B=$1
	if [ "$B" = kube ]; then
		URL=$KUBE_URL CA=$KUBE_CA HDR_REVIEWER=$TEST_TMP/kube-reviewer.hdr
		ADMIN=(--cert "$KUBE_DIR/pki/admin.crt" --key "$KUBE_DIR/pki/admin.key")
	else
		URL=$FC_URL CA=$FC_CA HDR_REVIEWER=$FC_HDR_REVIEWER
		ADMIN=(-H @"$FC_HDR_ADMIN")
	fi
}

norm() { # normalise the body in $TEST_TMP/body with status $1
	jq -c --arg iss "$URL" --argjson code "$1" '
		def n: walk(if type == "string" then
			(gsub($iss; "ISSUER") | gsub("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"; "UID")
			 | gsub("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"; "TIME")) else . end);
		{code: $code} + (del(.metadata.managedFields, .metadata.resourceVersion, .keys[]?.n, .keys[]?.kid)
		 | if (.spec | type) == "object" then del(.spec.token) else . end
		 | if (.status | type) == "object" then del(.status.token) else . end | n)' \
		"$TEST_TMP/body" 2>/dev/null || echo "{\"code\":$1,\"raw\":$(jq -Rs . <"$TEST_TMP/body")}"
}

call() { # METHOD PATH [curl args]: prints the normalised answer
	local m=$1 p=$2 c
	shift 2
	c=$(curl -sS -m 20 --cacert "$CA" -o "$TEST_TMP/body" -w '%{http_code}' -X "$m" "$@" "$URL$p")
	norm "$c"
}

review() { # HDR TOKEN AUDS-JSON
	printf '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"%s","audiences":%s}}' "$2" "$3" |
		call POST /apis/authentication.k8s.io/v1/tokenreviews -H @"$1" -H 'Content-Type: application/json' --data-binary @-
}

ssar() { # HDR|admin SPEC-JSON: a SelfSubjectAccessReview
	local body="{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SelfSubjectAccessReview\",\"spec\":$2}"
	if [ "$1" = admin ]; then
		call POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews "${ADMIN[@]}" -H 'Content-Type: application/json' --data-binary "$body"
	else
		call POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews -H @"$1" -H 'Content-Type: application/json' --data-binary "$body"
	fi
}

admin() { # METHOD PATH [JSON]
	if [ $# -gt 2 ]; then
		call "$1" "$2" "${ADMIN[@]}" -H 'Content-Type: application/json' --data-binary "$3"
	else
		call "$1" "$2" "${ADMIN[@]}"
	fi
}

mint_api() { # NS NAME SPEC-JSON: a TokenRequest token
	curl -sS -m 20 --cacert "$CA" "${ADMIN[@]}" -H 'Content-Type: application/json' \
		--data-binary "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\",\"spec\":$3}" \
		"$URL/api/v1/namespaces/$1/serviceaccounts/$2/token" | jq -r .status.token
}

mint_key() { # NS NAME UID [mint args]: a token signed with the backend's key
	local ns=$1 name=$2 uid=$3
	shift 3
	if [ "$B" = kube ]; then
		"$PY" "$FC_PY" mint --dir "$MINTDIR" --key "$KUBE_DIR/pki/sa.key" --sa "$ns/$name" --uid "$uid" "$@"
	else
		fc_mint --sa "$ns/$name" --uid "$uid" "$@"
	fi
}

scenario() {
	local now uid tok tok0 leg ptok tok2
	now=$(date +%s)
	admin POST /api/v1/namespaces/ops/serviceaccounts '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"alice"}}'
	uid=$(curl -sS --cacert "$CA" "${ADMIN[@]}" "$URL/api/v1/namespaces/ops/serviceaccounts/alice" | jq -r .metadata.uid)
	admin POST /api/v1/namespaces/ops/serviceaccounts '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"alice"}}'
	admin GET /api/v1/namespaces/ops/serviceaccounts/nobody
	tok=$(mint_api ops alice '{"audiences":["x"]}')
	tok0=$(mint_api ops alice '{}')
	echo "# good, spec [x z]";           review "$HDR_REVIEWER" "$tok" '["x","z"]'
	echo "# apiserver audience, no spec"; review "$HDR_REVIEWER" "$tok0" null
	echo "# apiserver audience, []";      review "$HDR_REVIEWER" "$tok0" '[]'
	echo "# wrong audience";              review "$HDR_REVIEWER" "$tok" '["y"]'
	echo "# two token audiences, wrong";  review "$HDR_REVIEWER" "$(mint_api ops alice '{"audiences":["a","b"]}')" '["y","z"]'
	echo "# garbage";                     review "$HDR_REVIEWER" not-a-token '["x"]'
	echo "# garbage, no audiences";       review "$HDR_REVIEWER" not-a-token null
	echo "# foreign key";                 review "$HDR_REVIEWER" "$(mint_key ops alice "$uid" --aud x --iss "$URL" --key "$TEST_TMP/foreign.key")" '["x"]'
	echo "# unknown issuer";              review "$HDR_REVIEWER" "$(mint_key ops alice "$uid" --aud x --iss https://other.example)" '["x"]'
	echo "# expired 120 s";               review "$HDR_REVIEWER" "$(mint_key ops alice "$uid" --aud x --iss "$URL" --iat $((now - 3600)) --exp $((now - 120)))" '["x"]'
	echo "# expired 20 s (leeway)";       review "$HDR_REVIEWER" "$(mint_key ops alice "$uid" --aud x --iss "$URL" --iat $((now - 3600)) --exp $((now - 20)))" '["x"]'
	echo "# nbf +10 min";                 review "$HDR_REVIEWER" "$(mint_key ops alice "$uid" --aud x --iss "$URL" --iat $((now + 600)))" '["x"]'
	echo "# no exp";                      review "$HDR_REVIEWER" "$(mint_key ops alice "$uid" --aud x --iss "$URL" --no-exp)" '["x"]'
	echo "# wrong uid claim";             review "$HDR_REVIEWER" "$(mint_key ops alice 00000000-0000-0000-0000-000000000000 --aud x --iss "$URL")" '["x"]'
	leg=$(mint_key ops alice "$uid" --legacy --secret alice-token-abcde)
	echo "# legacy, no Secret";           [ "$B" = fake ] && fc secret delete ops/alice-token-abcde; review "$HDR_REVIEWER" "$leg" null
	if [ "$B" = kube ]; then
		admin POST /api/v1/namespaces/ops/secrets "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"alice-token-abcde\",\"annotations\":{\"kubernetes.io/service-account.name\":\"alice\",\"kubernetes.io/service-account.uid\":\"$uid\"}},\"type\":\"kubernetes.io/service-account-token\",\"data\":{\"token\":\"$(printf %s "$leg" | base64 -w0)\"}}" >/dev/null
	else
		leg=$(mint_key ops alice "$uid" --legacy --secret alice-token-abcde)
	fi
	echo "# legacy with Secret";          review "$HDR_REVIEWER" "$leg" null
	echo "# legacy, audience x";          review "$HDR_REVIEWER" "$leg" '["x"]'
	echo "# legacy, apiserver audience";  review "$HDR_REVIEWER" "$leg" "[\"$URL\"]"
	echo "# static, no audiences";        review "$HDR_REVIEWER" static-token-0123456789 null
	echo "# static, audience x";          review "$HDR_REVIEWER" static-token-0123456789 '["x"]'
	echo "# static, apiserver + x";       review "$HDR_REVIEWER" static-token-0123456789 "[\"$URL\",\"x\"]"
	echo "# empty token";                 review "$HDR_REVIEWER" "" '["x"]'
	echo "# bad bearer";                  review "$TEST_TMP/bad.hdr" "$tok" '["x"]'
	echo "# bad JSON"
	call POST /apis/authentication.k8s.io/v1/tokenreviews -H @"$HDR_REVIEWER" -H 'Content-Type: application/json' --data-binary '{"spec":1'
	echo "# wrong kind"
	call POST /apis/authentication.k8s.io/v1/tokenreviews -H @"$HDR_REVIEWER" -H 'Content-Type: application/json' --data-binary '{"apiVersion":"v1","kind":"Pod"}'
	echo "# v1beta1 in a v1 URL"
	call POST /apis/authentication.k8s.io/v1/tokenreviews -H @"$HDR_REVIEWER" -H 'Content-Type: application/json' \
		--data-binary '{"apiVersion":"authentication.k8s.io/v1beta1","kind":"TokenReview","spec":{"token":"abc"}}'
	echo "# no kind";                     call POST /apis/authentication.k8s.io/v1/tokenreviews -H @"$HDR_REVIEWER" -H 'Content-Type: application/json' --data-binary '{"spec":{"token":"abc"}}'
	echo "# reviewer GETs tokenreviews";  call GET /apis/authentication.k8s.io/v1/tokenreviews -H @"$HDR_REVIEWER"
	echo "# discovery";                   call GET /.well-known/openid-configuration
	echo "# jwks";                        call GET /openid/v1/jwks
	echo "# TokenRequest 60 s";           admin POST /api/v1/namespaces/ops/serviceaccounts/alice/token '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":60}}'
	echo "# TokenRequest missing SA";     admin POST /api/v1/namespaces/ops/serviceaccounts/nobody/token '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{}}'
	echo "# TokenRequest";                admin POST /api/v1/namespaces/ops/serviceaccounts/alice/token '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"audiences":["x"]}}'
	if [ "$B" = kube ]; then
		curl -sS --cacert "$CA" "${ADMIN[@]}" -H 'Content-Type: application/json' -o /dev/null \
			--data-binary '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"serviceAccountName":"alice","automountServiceAccountToken":false,"containers":[{"name":"c","image":"x"}]}}' \
			"$URL/api/v1/namespaces/ops/pods"
	fi
	curl -sS --cacert "$CA" "${ADMIN[@]}" -H 'Content-Type: application/json' \
		--data-binary '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"audiences":["x"],"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"web"}}}' \
		"$URL/api/v1/namespaces/ops/serviceaccounts/alice/token" >"$TEST_TMP/tr.json"
	ptok=$(jq -r .status.token "$TEST_TMP/tr.json")
	echo "# pod-bound";                   review "$HDR_REVIEWER" "$ptok" '["x"]'
	echo "# TokenRequest, pod uid differs"
	admin POST /api/v1/namespaces/ops/serviceaccounts/alice/token '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"audiences":["x"],"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"web","uid":"1234"}}}'
	curl -sS --cacert "$CA" "${ADMIN[@]}" -X DELETE -H 'Content-Type: application/json' -o /dev/null \
		--data-binary '{"gracePeriodSeconds":0}' "$URL/api/v1/namespaces/ops/pods/web"
	[ "$B" = kube ] && sleep 11   # the apiserver's 10 s cache of the successful pod-bound review
	echo "# pod deleted";                 review "$HDR_REVIEWER" "$ptok" '["x"]'
	tok2=$(mint_api ops alice '{"audiences":["y"]}')
	curl -sS --cacert "$CA" "${ADMIN[@]}" -X DELETE -o /dev/null "$URL/api/v1/namespaces/ops/serviceaccounts/alice"
	echo "# ServiceAccount deleted";      review "$HDR_REVIEWER" "$tok2" '["y"]'
	admin POST /api/v1/namespaces/ops/serviceaccounts '{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"alice"}}' >/dev/null
	echo "# ServiceAccount recreated";    review "$HDR_REVIEWER" "$tok2" '["y"]'
	echo "# SSAR reviewer create tokenreviews"
	ssar "$HDR_REVIEWER" '{"resourceAttributes":{"verb":"create","group":"authentication.k8s.io","resource":"tokenreviews"}}'
	echo "# SSAR reviewer create subjectaccessreviews"
	ssar "$HDR_REVIEWER" '{"resourceAttributes":{"verb":"create","group":"authorization.k8s.io","resource":"subjectaccessreviews"}}'
	echo "# SSAR reviewer create selfsubjectaccessreviews (basic-user)"
	ssar "$HDR_REVIEWER" '{"resourceAttributes":{"verb":"create","group":"authorization.k8s.io","resource":"selfsubjectaccessreviews"}}'
	echo "# SSAR reviewer list pods in ops"
	ssar "$HDR_REVIEWER" '{"resourceAttributes":{"namespace":"ops","verb":"list","resource":"pods"}}'
	echo "# SSAR reviewer tokenreviews/status"
	ssar "$HDR_REVIEWER" '{"resourceAttributes":{"verb":"create","group":"authentication.k8s.io","resource":"tokenreviews","subresource":"status"}}'
	echo "# SSAR static user create tokenreviews"
	ssar "$TEST_TMP/static.hdr" '{"resourceAttributes":{"verb":"create","group":"authentication.k8s.io","resource":"tokenreviews"}}'
	echo "# SSAR admin create tokenreviews"
	ssar admin '{"resourceAttributes":{"verb":"create","group":"authentication.k8s.io","resource":"tokenreviews"}}'
	echo "# SSAR bad bearer"
	ssar "$TEST_TMP/bad.hdr" '{"resourceAttributes":{"verb":"create","group":"authentication.k8s.io","resource":"tokenreviews"}}'
	echo "# SSAR no attributes";          ssar "$HDR_REVIEWER" '{}'
	echo "# SSAR both attributes"
	ssar "$HDR_REVIEWER" '{"resourceAttributes":{"verb":"get","resource":"pods"},"nonResourceAttributes":{"path":"/healthz","verb":"get"}}'
	echo "# SSAR reviewer GETs";          call GET /apis/authorization.k8s.io/v1/selfsubjectaccessreviews -H @"$HDR_REVIEWER"
	echo "# unknown path";                admin GET /api/v1/nothing
	echo "# delete missing SA";           call DELETE /api/v1/namespaces/ops/serviceaccounts/nobody "${ADMIN[@]}"
}

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TEST_TMP/foreign.key" 2>/dev/null
use kube
scenario >"$TEST_TMP/kube.out"
use fake
scenario >"$TEST_TMP/fake.out"
if diff -u "$TEST_TMP/kube.out" "$TEST_TMP/fake.out" >"$TEST_TMP/diff"; then
	echo "compare-with-kube: $(grep -c '^#' "$TEST_TMP/kube.out") scenarios, answers identical"
	exit 0
fi
cat "$TEST_TMP/diff"
echo "compare-with-kube: answers differ (- real apiserver, + fake)"
exit 1
