#!/bin/bash
# The differential tier: the real kube-apiserver 1.20 --oidc-* authenticator
# against `k8s-auth check` with the equivalent jwt: configuration, on
# hundreds of tokens from an independent issuer (tests/kube/oidc_diff.py).
# Three apiservers on one etcd, one per flag set (username claim sub with
# the default "issuer#" prefix / email / another claim; group prefixes;
# required claims; all nine RS/PS/ES algorithms).  Fails on any difference
# not on tests/kube/oidc_diff_allow.json (each entry tied to a line of
# docs/design.md), or when a class has fewer cases than it should.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/kube/kubelib.sh
. tests/kube/checklib.sh

kt_need_cli
DIFF=tests/kube/oidc_diff.py
IDP=$(mktemp -d "${TMPDIR:-/tmp}/oidc-diff.XXXXXX") || exit 2
setpriv --pdeathsig TERM -- "$DIFF" serve --dir "$IDP" >"$IDP/serve.log" 2>&1 &
IDP_PID=$!
trap 'kill $IDP_PID 2>/dev/null; wait $IDP_PID 2>/dev/null; rm -rf "$IDP"' EXIT
for ((i = 0; i < 300; i++)); do
	[ -s "$IDP/url" ] && break
	kill -0 $IDP_PID 2>/dev/null || break
	sleep 0.1
done
[ -s "$IDP/url" ] || { cat "$IDP/serve.log"; echo "FAIL - issuer did not start"; exit 1; }
echo "info: issuer at $(cat "$IDP/url")"

mapfile -t KUBE_APISERVER_EXTRA < <("$DIFF" flags --dir "$IDP" --set a)
kt_need_cluster
api=(--api "a=$KUBE_URL")
for s in b c; do
	mapfile -t flags < <("$DIFF" flags --dir "$IDP" --set $s)
	kube_start_another_apiserver $s "${flags[@]}" || { echo "FAIL - apiserver for set $s"; exit 1; }
	v=KUBE_URL_$s
	api+=(--api "$s=${!v}")
done
echo "info: apiservers up (first in ${KUBE_START_SECONDS}s)"
nice -n 5 "$DIFF" run --dir "$IDP" "${api[@]}" --ca "$KUBE_DIR/pki/ca.crt" \
	--admin-cert "$KUBE_DIR/pki/admin.crt" --admin-key "$KUBE_DIR/pki/admin.key" \
	--k8s-auth "$K8S_AUTH_BIN"
rc=$?
if [ $rc = 0 ]; then echo "ok   - differential tier"; else echo "FAIL - differential tier"; fi
exit $rc
