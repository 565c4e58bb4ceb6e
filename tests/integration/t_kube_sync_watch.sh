#!/bin/bash
# `k8s-auth sync --watch` against the real kube-apiserver (tests/kube):
# a watching store and a store the one-shot sync writes after every change
# of the same cluster stay identical (`k8s-auth users` and `groups`, uids,
# gids, sources, members) through RoleBindings, ClusterRoleBindings, Group
# subjects standing for a namespace's ServiceAccounts, Roles whose rules
# grant (sync.rules), ServiceAccounts created and deleted, a binding's
# roleRef losing its grant; docs/flowcontrol-v1beta1.yaml applied and
# the reviewer's TokenReviews and lists classified by its FlowSchemas (the
# apiserver's X-Kubernetes-PF-FlowSchema-UID answer header); then
# revocation latency: a RoleBinding deleted
# in the API until the watching store dropped the account, 20 times
# (median and worst printed; each must be under 5 s).  The watcher exits
# on SIGTERM with a summary of its requests.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh
. tests/kube/kubelib.sh
. tests/kube/synclib.sh
BIN=$REPO/build/k8s-auth
[ -x "$BIN" ] || skip "build/k8s-auth not built"
if [ -z "${KUBE_APISERVER:-}" ]; then
	KUBE_APISERVER=$(tests/kube/build-apiserver.sh 2>/dev/null) || skip "no kube-apiserver binary"
	export KUBE_APISERVER
fi
kube_start >"$TEST_TMP/kube.log" 2>&1 || fail "kube_start: $(tail -n 5 "$TEST_TMP/kube.log")"
WATCH_PID=
cleanup_watch() { [ -z "$WATCH_PID" ] || kill "$WATCH_PID" 2>/dev/null; }
trap 'cat "$TEST_TMP/watch.out" "$TEST_TMP/watch.err" >&2; cleanup_watch; kube_stop >/dev/null 2>&1' EXIT

ks_apply docs/rbac-reviewer.yaml || fail "reviewer RBAC"
ks_apply_json '{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
  "metadata": {"name": "host-login"},
  "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["view"]}]}' || fail "host-login"
kube_api POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"dev"}}' >/dev/null ||
	fail "namespace dev"

# API Priority and Fairness: the shipped objects, and which schema the
# apiserver puts the reviewer's requests in.
python3 -c 'import json, sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d:
        print(json.dumps(d))' docs/flowcontrol-v1beta1.yaml >"$TEST_TMP/apf.jsonl" || fail "reading the APF manifest"
declare -A FS_UID
while read -r obj; do
	kind=$(jq -r .kind <<<"$obj") name=$(jq -r .metadata.name <<<"$obj")
	case $kind in
	FlowSchema) col=flowschemas ;;
	PriorityLevelConfiguration) col=prioritylevelconfigurations ;;
	*) fail "unexpected $kind in the APF manifest" ;;
	esac
	out=$(kube_api POST "/apis/flowcontrol.apiserver.k8s.io/v1beta1/$col" "$obj") || fail "applying $kind $name: $out"
	[ "$kind" = FlowSchema ] && FS_UID[$name]=$(jq -r .metadata.uid <<<"$out")
done <"$TEST_TMP/apf.jsonl"
REVIEWER_TOKEN=$(sed -n 's/^    token: //p' "$KUBE_DIR/kubeconfig")
[ -n "$REVIEWER_TOKEN" ] || fail "no reviewer token"
pf_schema() { # METHOD PATH [BODY]: the FlowSchema UID the apiserver answered with
	curl -sS -m 20 -o /dev/null -D - --cacert "$KUBE_DIR/pki/ca.crt" -X "$1" \
		-H "Authorization: Bearer $REVIEWER_TOKEN" -H 'Content-Type: application/json' \
		${3:+--data-binary "$3"} "$KUBE_URL$2" | tr -d '\r' |
		sed -n 's/^[Xx]-[Kk]ubernetes-[Pp][Ff]-[Ff]low[Ss]chema-[Uu][Ii][Dd]: //p'
}
tr_body='{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"not-a-token"}}'
for _ in $(seq 50); do # the APF controller picks new objects up within a second or so
	[ "$(pf_schema POST /apis/authentication.k8s.io/v1/tokenreviews "$tr_body")" = "${FS_UID[k8s-auth-login]}" ] && break
	sleep 0.2
done
assert_eq "$(pf_schema POST /apis/authentication.k8s.io/v1/tokenreviews "$tr_body")" "${FS_UID[k8s-auth-login]}" \
	"APF: the reviewer's TokenReview is in FlowSchema k8s-auth-login"
sar_body='{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"x","resourceAttributes":{"verb":"login","resource":"nodes"}}}'
assert_eq "$(pf_schema POST /apis/authorization.k8s.io/v1/subjectaccessreviews "$sar_body")" "${FS_UID[k8s-auth-login]}" \
	"APF: its SubjectAccessReview too"
assert_eq "$(pf_schema GET "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?limit=500&resourceVersion=0")" \
	"${FS_UID[k8s-auth-sync]}" "APF: its list of ClusterRoleBindings is in FlowSchema k8s-auth-sync"
assert_eq "$(pf_schema GET "/api/v1/namespaces/ops/serviceaccounts?limit=500")" "${FS_UID[k8s-auth-sync]}" \
	"APF: its list of ServiceAccounts too"
for n in alice bob carol; do kube_create_sa ops "$n" >/dev/null || fail "sa $n"; done
kube_create_sa dev dora >/dev/null || fail "sa dora"

write_config() { # FILE STORE
	cat >"$1" <<EOF
tokenReview:
  kubeconfig: $KUBE_DIR/kubeconfig
  audiences: ["host-login:watch"]
accounts:
  users:
  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)\$'
    local: '\1.\2'
  - match: '^([a-z][a-z0-9_-]*)@example\.com\$'
    local: 'u-\1'
  uidRange: [200000, 999999]
  gidRange: [200000, 999999]
  groups:
  - match: '^system:serviceaccounts:(ops|dev)\$'
    local: 'k8s-\1'
  - match: '^oidc:(.*)\$'
    local: 'oidc-\1'
sync:
  namespaces: [ops, dev]
  clusterRoles: [host-login]
  rules: [{verb: login, group: pam-k8s.io, resource: hosts}]
  timeout: 10s
store: $2
EOF
	chmod 644 "$1"
}
W=$TEST_TMP/watch.yaml O=$TEST_TMP/oneshot.yaml
write_config "$W" "$TEST_TMP/store-watch"
write_config "$O" "$TEST_TMP/store-oneshot"

"$BIN" --config "$W" sync --watch >"$TEST_TMP/watch.out" 2>"$TEST_TMP/watch.err" &
WATCH_PID=$!
for _ in $(seq 100); do grep -q '^watch: .* watching' "$TEST_TMP/watch.out" && break; sleep 0.1; done
grep -q '^watch: .* watching' "$TEST_TMP/watch.out" || fail "--watch did not start: $(cat "$TEST_TMP/watch.err")"

listing() { "$BIN" --config "$1" users && "$BIN" --config "$1" groups; }
# same STEP: the one-shot sync, then the watching store must list the
# same within 10 s
same() {
	local step=$1 i a b
	"$BIN" --config "$O" sync >"$TEST_TMP/oneshot.out" 2>&1 || fail "$step: one-shot sync: $(cat "$TEST_TMP/oneshot.out")"
	b=$(listing "$O") || fail "$step: listing the one-shot store"
	for i in $(seq 100); do
		a=$(listing "$W" 2>/dev/null) && [ "$a" = "$b" ] && break
		sleep 0.1
	done
	if [ "$a" != "$b" ]; then
		diff <(echo "$a") <(echo "$b") | head -n 20
		fail "$step: the watching store differs from the one-shot sync's"
	fi
	echo "ok: $step ($(grep -c . <<<"$b") lines alike)"
}

same "nothing bound"
ks_rolebinding ops login ClusterRole host-login sa:ops/alice user:erin@example.com || fail rb
same "a RoleBinding (ServiceAccount and User)"
ks_clusterrolebinding login-frank host-login user:frank@example.com group:oidc:admins || fail crb
same "a ClusterRoleBinding with a Group subject"
ks_rolebinding dev login ClusterRole host-login group:system:serviceaccounts:dev || fail rb-dev
same "a Group subject standing for a namespace's ServiceAccounts"
kube_create_sa dev eve >/dev/null || fail "sa eve"
same "a ServiceAccount created in that namespace"
kube_delete_sa dev dora || fail "delete dora"
same "a ServiceAccount deleted"
ks_apply_json '{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
  "metadata": {"name": "hosts", "namespace": "ops"},
  "rules": [{"apiGroups": ["pam-k8s.io"], "resources": ["hosts"], "verbs": ["login"]}]}' || fail role
ks_rolebinding ops by-rule Role hosts sa:ops/bob || fail rb-rule
same "a Role whose rules grant, bound"
ks_apply_json '{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
  "metadata": {"name": "hosts", "namespace": "ops"},
  "rules": [{"apiGroups": ["pam-k8s.io"], "resources": ["hosts"], "verbs": ["get"]}]}' || fail role2
same "the Role changed to grant nothing"
ks_rolebinding ops login ClusterRole host-login sa:ops/carol || fail rb2
same "a RoleBinding's subjects replaced"
ks_delete "$KS_RBAC/clusterrolebindings/login-frank" || fail "delete crb"
same "a ClusterRoleBinding deleted"
grep -q '^+ account ops.alice' "$TEST_TMP/watch.out" || fail "the watcher printed no diff"

# Revocation latency: RoleBinding deleted in the API -> account gone from
# the watching store (the watcher's batch line carries the commit time).
lat=()
for i in $(seq 20); do
	ks_rolebinding ops "lat" ClusterRole host-login "user:lat$i@example.com" || fail "lat rb $i"
	for _ in $(seq 100); do "$BIN" --config "$W" users 2>/dev/null | grep -q "^u-lat$i " && break; sleep 0.05; done
	"$BIN" --config "$W" users | grep -q "^u-lat$i " || fail "u-lat$i never came"
	n=$(wc -l <"$TEST_TMP/watch.out")
	t0=$(date +%s.%N)
	ks_delete "$KS_RBAC/namespaces/ops/rolebindings/lat" || fail "delete lat $i"
	t1=
	for _ in $(seq 200); do
		t1=$(tail -n +"$((n + 1))" "$TEST_TMP/watch.out" | awk -v u="u-lat$i" '
			$1 == "-" && $2 == "account" && $3 == u { seen = 1 }
			seen && /^watch: batch / { print $5; exit }')
		[ -n "$t1" ] && break
		sleep 0.02
	done
	[ -n "$t1" ] || fail "u-lat$i was not removed"
	lat+=("$(awk -v a="$t0" -v b="${t1%;}" 'BEGIN { printf "%.3f", b - a }')")
done
sorted=$(printf '%s\n' "${lat[@]}" | sort -n)
median=$(sed -n 10p <<<"$sorted") worst=$(tail -n 1 <<<"$sorted")
echo "revocation latency (RoleBinding deleted -> store commit), 20 runs: median ${median} s, worst ${worst} s"
echo "  all: $(tr '\n' ' ' <<<"$sorted")"
awk -v w="$worst" 'BEGIN { exit !(w < 5) }' || fail "revocation took ${worst} s"
same "after the latency runs"

kill -TERM "$WATCH_PID"
wait "$WATCH_PID"
assert_eq $? 0 "--watch exits 0 on SIGTERM"
WATCH_PID=

# sync.serviceAccountLabel: only ServiceAccounts carrying the label key
# are read (labelSelector) for serviceAccounts: true and Group subjects,
# by the one-shot sync and by --watch alike.
cp "$TEST_TMP/watch.out" "$TEST_TMP/watch1.out"
for f in "$W" "$O"; do
	sed -i 's#^  timeout: 10s#  serviceAccountLabel: pam-k8s.io/host-login\n  timeout: 10s#' "$f"
	sed -i 's#store-\(watch\|oneshot\)$#store-\1-label#' "$f"
done
grep -q serviceAccountLabel "$W" || fail "label config"
"$BIN" --config "$W" sync --watch >"$TEST_TMP/watch.out" 2>"$TEST_TMP/watch.err" &
WATCH_PID=$!
for _ in $(seq 100); do grep -q '^watch: .* watching' "$TEST_TMP/watch.out" && break; sleep 0.1; done
grep -q '^watch: .* watching' "$TEST_TMP/watch.out" || fail "--watch (label) did not start: $(cat "$TEST_TMP/watch.err")"
same "serviceAccountLabel, no ServiceAccount labelled"
"$BIN" --config "$O" users | grep -q '^dev\.eve ' && fail "an unlabelled ServiceAccount was synced"
sa=$(kube_api GET /api/v1/namespaces/dev/serviceaccounts/eve | jq -c '.metadata.labels["pam-k8s.io/host-login"] = ""') &&
	kube_api PUT /api/v1/namespaces/dev/serviceaccounts/eve "$sa" >/dev/null || fail "labelling eve"
same "serviceAccountLabel, one ServiceAccount labelled"
"$BIN" --config "$O" users | grep -q '^dev\.eve ' || fail "the labelled ServiceAccount was not synced"
kill -TERM "$WATCH_PID"
wait "$WATCH_PID"
assert_eq $? 0 "--watch (label) exits 0 on SIGTERM"
WATCH_PID=
grep '^watch: stopped' "$TEST_TMP/watch.out" || fail "no summary"
if grep -v -e 'left out' "$TEST_TMP/watch.err" | grep -q .; then
	cat "$TEST_TMP/watch.err"
	fail "the watcher complained"
fi
echo "t_kube_sync_watch: all passed"
