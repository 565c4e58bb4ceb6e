#!/bin/bash
# `k8s-auth check` with online validation (TokenReview) against a real
# kube-apiserver: real bound service-account tokens, real audiences, real
# deletion, real reviewer-credential failures.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/kube/kubelib.sh
. tests/kube/checklib.sh

kt_need_cli
kt_need_cluster

T=$KUBE_DIR/tr
mkdir -p "$T"
AUD=host-login:test

# tokenReview config around a given kubeconfig.
review_config() {
	local cfg=$1 kubeconfig=$2 timeout=${3:-5s}
	kt_write_config "$cfg" "$T/$(basename "$cfg" .yaml)" "tokenReview:
  kubeconfig: $kubeconfig
  audiences: [\"$AUD\"]
  timeout: $timeout
  cacheTTL: 0"
}
CFG=$T/good.yaml
review_config "$CFG" "$KUBE_DIR/kubeconfig"

uid=$(kube_create_sa ops alice) || exit 1
tok=$(kube_mint ops alice "$AUD") || exit 1

kt_check "bound token for $AUD" 0 "$CFG" <<<"$tok"
kt_expect "authenticated" '.authenticated == true'
kt_expect "method tokenreview" '.method == "tokenreview"'
kt_expect "cluster username" '.username == "system:serviceaccount:ops:alice"'
kt_expect "uid is the ServiceAccount's" '.uid == $u' --arg u "$uid"
kt_expect "service-account groups" \
	'(.groups | index("system:serviceaccounts")) != null and (.groups | index("system:serviceaccounts:ops")) != null'
kt_expect "mapped local user" '.local_user == "ops.alice"'

kt_check "same token, --user ops.alice" 0 "$CFG" --user ops.alice <<<"$tok"
kt_expect "local user" '.local_user == "ops.alice"'
kt_check "same token, --user root" 1 "$CFG" --user root <<<"$tok"
kt_expect "refused with a reason" '.authenticated == false and (.reason | length) > 0'

tok2=$(kube_mint ops alice "other,$AUD") || exit 1
kt_check "token with several audiences, one of them $AUD" 0 "$CFG" <<<"$tok2"

tok_other=$(kube_mint ops alice other) || exit 1
kt_check "token for audience 'other'" 1 "$CFG" <<<"$tok_other"
kt_expect "refused with a reason" '.authenticated == false and (.reason | length) > 0'

tok_api=$(kube_mint ops alice "") || exit 1
kt_check "ordinary token (the apiserver's own audience)" 1 "$CFG" <<<"$tok_api"
kt_expect "refused" '.authenticated == false'

kt_check "garbage token" 1 "$CFG" <<<"not-a-kubernetes-token-at-all"
kt_check "reviewer's own token is not a login token" 1 "$CFG" <<<"$KUBE_REVIEWER_TOKEN"

# Deleting the account revokes its tokens.  The apiserver caches successful
# authentications for 10s and its informer lags a moment: poll.
kube_delete_sa ops alice || exit 1
deadline=$((SECONDS + 30))
while :; do
	rc=$(printf '%s' "$tok" | "$K8S_AUTH_BIN" check --config "$CFG" >/dev/null 2>&1; echo $?)
	[ "$rc" = 0 ] && [ $SECONDS -lt $deadline ] || break
	sleep 1
done
echo "info: refused $((SECONDS + 30 - deadline))s after the delete"
kt_check "token of a deleted ServiceAccount" 1 "$CFG" <<<"$tok"
kt_expect "refused" '.authenticated == false'

# Same name, new object: the old token names the old uid.
uid2=$(kube_create_sa ops alice) || exit 1
[ "$uid2" != "$uid" ] || kt_fail "recreated ServiceAccount kept its uid"
kt_check "old token after the ServiceAccount was recreated" 1 "$CFG" <<<"$tok"
tok3=$(kube_mint ops alice "$AUD") || exit 1
kt_check "new token of the recreated ServiceAccount" 0 "$CFG" <<<"$tok3"
kt_expect "new uid" '.uid == $u' --arg u "$uid2"

# Reviewer credentials the apiserver refuses: exit 3, not a verdict on the
# token.
kube_write_kubeconfig "$T/bad-token.kubeconfig" "this-is-not-a-valid-token"
review_config "$T/bad-token.yaml" "$T/bad-token.kubeconfig"
kt_check "reviewer token rejected (401)" 3 "$T/bad-token.yaml" <<<"$tok3"
kt_expect "not authenticated" '.authenticated == false'

kube_create_sa kube-system powerless >/dev/null || exit 1
weak=$(kube_mint kube-system powerless "" 3600) || exit 1
kube_write_kubeconfig "$T/forbidden.kubeconfig" "$weak"
weak=
review_config "$T/forbidden.yaml" "$T/forbidden.kubeconfig"
kt_check "reviewer without RBAC for tokenreviews (403)" 3 "$T/forbidden.yaml" <<<"$tok3"

# A CA that did not sign the apiserver's certificate: TLS failure.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other-ca.key" -out "$T/other-ca.crt" \
	-days 1 -subj /CN=other-ca >/dev/null 2>&1 || exit 1
kube_write_kubeconfig "$T/wrong-ca.kubeconfig" "$KUBE_REVIEWER_TOKEN" "$KUBE_URL" "$T/other-ca.crt"
review_config "$T/wrong-ca.yaml" "$T/wrong-ca.kubeconfig"
kt_check "apiserver certificate not from the configured CA" 3 "$T/wrong-ca.yaml" <<<"$tok3"

# A server that accepts the connection and never answers: the configured
# timeout must bound the whole request.
port=$(_kube_free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)' "$port" &
silent_pid=$!
sleep 0.3
kube_write_kubeconfig "$T/silent.kubeconfig" "$KUBE_REVIEWER_TOKEN" "https://127.0.0.1:$port"
review_config "$T/silent.yaml" "$T/silent.kubeconfig" 2s
t0=$SECONDS
kt_check "apiserver that never answers (timeout 2s)" 3 "$T/silent.yaml" <<<"$tok3"
took=$((SECONDS - t0))
if [ $took -le 6 ]; then kt_ok "  gave up after ${took}s"; else kt_fail "  took ${took}s for a 2s timeout"; fi
kill "$silent_pid" 2>/dev/null
wait "$silent_pid" 2>/dev/null

kube_stop_apiserver
kt_check "apiserver stopped" 3 "$CFG" <<<"$tok3"
kt_expect "not authenticated" '.authenticated == false'

kt_done
