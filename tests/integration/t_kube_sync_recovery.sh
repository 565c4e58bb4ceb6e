#!/bin/bash
# `k8s-auth sync --watch` recovering from what an apiserver does to a
# watcher, against the real kube-apiserver (tests/kube).  After each, the
# watching store must equal the store a one-shot sync writes from the same
# cluster (`k8s-auth users` and `groups`: names, uids, gids, sources,
# members), and the fault must be seen to have happened:
#
#  1. 410 in an open watch: an ERROR event with a 410 Status where a change
#     was (the history compacted away; tests/kube/faultproxy.py, a TLS
#     proxy in front of the apiserver, injects it and refuses that history
#     from then on): the collection is listed again.
#  2. an expired resourceVersion on reconnect, from the real apiserver: the
#     watcher is stopped (SIGSTOP), its connections cut, the proxy switched
#     to a second apiserver on the same etcd (a restart: a fresh watch
#     cache), bindings and ServiceAccounts changed; on SIGCONT the second
#     apiserver answers the old resourceVersions with its own 410.
#  3. 429 with Retry-After on a watch reconnect: no request for that
#     collection before Retry-After has passed, none later than
#     Retry-After + 1.5 s (the jitter) + 1 s of slack.
#  4. 429 with Retry-After on the relist after a 410, likewise (the list's
#     own retry: Retry-After plus up to 1 s).
#  5. a list over the 16 MiB single-answer limit (common/kubeapi.h,
#     K8S_KUBEAPI_MAX_BODY: the resourceVersion=0 answer refused as too
#     large is read again page by page from etcd, limit=500 and continue):
#     700 ServiceAccounts of 26 KB each, 18 MB in one answer; for the
#     one-shot sync, the watcher's first list and its relist after a 410.
#  6. a server that stalls while its host answers TCP: heartbeat
#     bookmarks, then silence on an open connection: the stream is
#     dropped after three heartbeat intervals (at least 20 s) and reopened.
# The watcher exits 0 on SIGTERM and says nothing on stderr but the
# expected recovery lines.
#
# K8S_BUILD=build-asan runs the ASan+UBSan build (a leak or a report at
# exit fails "exits 0").  K8S_WATCH_WRAP runs the watcher under a tool
# (tests/valgrind-watch.sh: memcheck, helgrind); it must exit 0 too, and
# K8S_SLACK (seconds, default 1) widens the timing bounds' upper end.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh
. tests/kube/kubelib.sh
. tests/kube/synclib.sh
BIN=$REPO/${K8S_BUILD:-build}/k8s-auth
[ -x "$BIN" ] || skip "build/k8s-auth not built"
if [ -z "${KUBE_APISERVER:-}" ]; then
	KUBE_APISERVER=$(tests/kube/build-apiserver.sh 2>/dev/null) || skip "no kube-apiserver binary"
	export KUBE_APISERVER
fi
kube_start >"$TEST_TMP/kube.log" 2>&1 || fail "kube_start: $(tail -n 5 "$TEST_TMP/kube.log")"
WATCH_PID='' FP_PID=''
cleanup() {
	[ -z "$WATCH_PID" ] || { kill -CONT "$WATCH_PID"; kill "$WATCH_PID"; } 2>/dev/null
	[ -z "$FP_PID" ] || kill "$FP_PID" 2>/dev/null
}
trap 'rm -rf "$REPO/build/logs/t_kube_sync_recovery.fp"; cp -r "$FP" "$REPO/build/logs/t_kube_sync_recovery.fp"; tail -n 40 "$TEST_TMP/watch.out" "$TEST_TMP/watch.err" >&2; cleanup; kube_stop >/dev/null 2>&1' EXIT

ks_apply docs/rbac-reviewer.yaml || fail "reviewer RBAC"
ks_apply_json '{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
  "metadata": {"name": "host-login"},
  "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["view"]}]}' || fail "host-login"
kube_api POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"big"}}' >/dev/null ||
	fail "namespace big"
for n in alice bob; do kube_create_sa ops "$n" >/dev/null || fail "sa $n"; done

# The fault proxy, in front of the apiserver.
FP=$TEST_TMP/fp
mkdir -p "$FP"
echo "$KUBE_URL" >"$FP/upstream"
/usr/bin/python3 tests/kube/faultproxy.py "$FP" "$KUBE_DIR" 2>"$TEST_TMP/fp.err" &
FP_PID=$!
for _ in $(seq 100); do [ -s "$FP/port" ] && break; sleep 0.05; done
[ -s "$FP/port" ] || fail "faultproxy did not start: $(cat "$TEST_TMP/fp.err")"
kube_write_kubeconfig "$TEST_TMP/proxy.kubeconfig" "$KUBE_REVIEWER_TOKEN" "https://127.0.0.1:$(cat "$FP/port")"
faults() { printf '{"rules": [%s]}\n' "$(IFS=,; echo "$*")" >"$FP/faults.json.tmp" && mv "$FP/faults.json.tmp" "$FP/faults.json"; }

write_config() { # FILE STORE KUBECONFIG
	cat >"$1" <<EOF
tokenReview:
  kubeconfig: $3
  audiences: ["host-login:recovery"]
accounts:
  users:
  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)\$'
    local: '\1.\2'
  - match: '^([a-z][a-z0-9_-]*)@example\.com\$'
    local: 'u-\1'
  uidRange: [200000, 999999]
  gidRange: [200000, 999999]
  groups:
  - match: '^system:serviceaccounts:(ops|big)\$'
    local: 'k8s-\1'
sync:
  namespaces: [ops, big]
  clusterRoles: [host-login]
  timeout: 20s
store: $2
EOF
	chmod 644 "$1"
}
W=$TEST_TMP/watch.yaml O=$TEST_TMP/oneshot.yaml
write_config "$W" "$TEST_TMP/store-watch" "$TEST_TMP/proxy.kubeconfig"
write_config "$O" "$TEST_TMP/store-oneshot" "$KUBE_DIR/kubeconfig"

start_watch() {
	${K8S_WATCH_WRAP:-} "$BIN" --config "$W" sync --watch >"$TEST_TMP/watch.out" 2>"$TEST_TMP/watch.err" &
	WATCH_PID=$!
	for _ in $(seq 300); do grep -q '^watch: .* watching' "$TEST_TMP/watch.out" && break; sleep 0.1; done
	grep -q '^watch: .* watching' "$TEST_TMP/watch.out" || fail "--watch did not start: $(cat "$TEST_TMP/watch.err")"
}
stop_watch() {
	kill -TERM "$WATCH_PID"
	wait "$WATCH_PID"
	assert_eq $? 0 "--watch exits 0 on SIGTERM"
	WATCH_PID=
	cat "$TEST_TMP/watch.err" >>"$TEST_TMP/watch-all.err"
}
listing() { "$BIN" --config "$1" users && "$BIN" --config "$1" groups; }
# same STEP [SECONDS]: the one-shot sync, then the watching store must list
# the same within SECONDS (default 20)
same() {
	local step=$1 secs=${2:-20} i a b
	"$BIN" --config "$O" sync >"$TEST_TMP/oneshot.out" 2>&1 || fail "$step: one-shot sync: $(cat "$TEST_TMP/oneshot.out")"
	b=$(listing "$O") || fail "$step: listing the one-shot store"
	for i in $(seq $((secs * 10))); do
		a=$(listing "$W" 2>/dev/null) && [ "$a" = "$b" ] && break
		sleep 0.1
	done
	if [ "$a" != "$b" ]; then
		diff <(echo "$a") <(echo "$b") | head -n 20
		fail "$step: the watching store differs from the one-shot sync's"
	fi
	echo "ok: $step ($(grep -c . <<<"$b") lines alike)"
}
relists() { grep '^watch: batch ' "$TEST_TMP/watch.out" | tail -n 1 | sed -n 's/.* \([0-9]*\) relists.*/\1/p'; }
# log_times PATH KIND: the proxy's request times for that collection, one a line
log_times() { jq -r --arg p "$1" --arg k "$2" 'select(.path == $p and .kind == $k) | .t' "$FP/log.jsonl"; }
# gaps_within MIN MAX TIMES...: every gap between consecutive times in [MIN, MAX]
gaps_within() {
	local min=$1 max=$2
	shift 2
	awk -v min="$min" -v max="$max" 'NR > 1 { d = $1 - p; printf "%.2f ", d; if (d < min || d > max) bad = 1 }
		{ p = $1 } END { print ""; exit bad }' <<<"$(printf '%s\n' "$@")"
}

RB_OPS=$KS_RBAC/namespaces/ops/rolebindings
SA_OPS=/api/v1/namespaces/ops/serviceaccounts

start_watch
same "start"

# 1. 410 in an open watch.
n0=$(wc -l <"$TEST_TMP/watch.out")
faults '{"id": "gone1", "path": "'"$RB_OPS"'", "do": "gone"}'
ks_rolebinding ops login ClusterRole host-login sa:ops/alice user:erin@example.com || fail rb
same "410 ERROR event in an open watch (the change it hid is listed)"
[ -n "$(jq -c --arg p "$RB_OPS" 'select(.path == $p and .fault == "gone")' "$FP/log.jsonl")" ] ||
	fail "the proxy injected no 410"
[ "$(jq -r --arg p "$RB_OPS" 'select(.path == $p and .kind == "list") | .query' "$FP/log.jsonl" |
	grep -cv 'resourceVersion=0')" -ge 1 ] || fail "no consistent relist of $RB_OPS after the 410"
tail -n +"$((n0 + 1))" "$TEST_TMP/watch.out" | grep -q '^+ account ops.alice' || fail "no batch added ops.alice"
faults

# 2. An expired resourceVersion on reconnect, from a restarted apiserver.
kill -STOP "$WATCH_PID"
kube_api POST /api/v1/namespaces/kube-system/configmaps \
	'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bump"},"data":{"a":"b"}}' >/dev/null || fail configmap
kube_start_another_apiserver b --service-account-issuer="$KUBE_URL" --api-audiences="$KUBE_URL" >>"$TEST_TMP/kube.log" 2>&1 || fail "second apiserver: $(tail -n 5 "$TEST_TMP/kube.log")"
# shellcheck disable=SC2154 # set by kube_start_another_apiserver (printf -v)
echo "$KUBE_URL_b" >"$FP/upstream"
kill -USR2 "$FP_PID"
ks_rolebinding ops login ClusterRole host-login sa:ops/bob user:erin@example.com || fail rb2
ks_clusterrolebinding login-frank host-login user:frank@example.com || fail crb
kube_create_sa ops carol >/dev/null || fail "sa carol"
ks_rolebinding ops carol ClusterRole host-login sa:ops/carol || fail rb-carol
kube_delete_sa ops alice || fail "delete alice"
l0=$(wc -l <"$FP/log.jsonl")
kill -CONT "$WATCH_PID"
same "410 on reconnect (a restarted apiserver, resourceVersions older than its watch cache)" 30
[ -n "$(tail -n +"$((l0 + 1))" "$FP/log.jsonl" | jq -c 'select(.event == "ERROR" and .code == 410 and .fault == null)')" ] ||
	fail "the second apiserver answered no 410 (the test did not produce the condition)"
echo "  the apiserver's own 410s: $(tail -n +"$((l0 + 1))" "$FP/log.jsonl" | jq -r 'select(.event == "ERROR" and .fault == null) | .path' | sort -u | tr '\n' ' ')"

# 3. 429 with Retry-After on a watch reconnect.  Every ServiceAccount of
# ops is granted (a Group subject), so the one created while its watch is
# refused reaches the store only through that watch.
ks_rolebinding ops all ClusterRole host-login group:system:serviceaccounts:ops || fail rb-all
same "all of ops granted"
l0=$(wc -l <"$FP/log.jsonl")
faults '{"id": "w429", "path": "'"$SA_OPS"'", "kind": "watch", "do": "status", "code": 429, "retry_after": 3, "times": 2}'
kill -USR2 "$FP_PID"
kube_create_sa ops dave >/dev/null || fail "sa dave"
sa_watches() { tail -n +"$((l0 + 1))" "$FP/log.jsonl" | jq -r --arg p "$SA_OPS" 'select(.path == $p and .kind == "watch") | .'"$1"; }
for _ in $(seq 150); do [ "$(sa_watches t | wc -l)" -ge 3 ] && break; sleep 0.1; done
same "429 on a watch reconnect" 30
"$BIN" --config "$W" users | grep -q '^ops\.dave ' || fail "ops.dave not synced"
mapfile -t ts < <(sa_watches t)
[ "${#ts[@]}" -ge 3 ] || fail "expected 2 refused and 1 accepted watch of $SA_OPS, saw ${#ts[@]}"
[ "$(sa_watches status | head -n 3 | tr '\n' ' ')" = "429 429 200 " ] ||
	fail "the watch requests were not answered 429 429 200"
SLACK=${K8S_SLACK:-1}
max=$(awk -v s="$SLACK" 'BEGIN { print 3 + 1.5 + s }')
g=$(gaps_within 3.0 "$max" "${ts[@]:0:3}") || fail "watch after 429 (Retry-After: 3): gaps $g s, want 3 to $max"
echo "  watch requests after 429 with Retry-After: 3: gaps $g s"

# 4. 429 with Retry-After on the relist after a 410.
l0=$(wc -l <"$FP/log.jsonl")
faults '{"id": "gone2", "path": "'"$RB_OPS"'", "do": "gone"}' \
	'{"id": "l429", "path": "'"$RB_OPS"'", "kind": "list", "do": "status", "code": 429, "retry_after": 2, "times": 2}'
ks_delete "$RB_OPS/all" || fail "delete rb all"
rb_lists() { tail -n +"$((l0 + 1))" "$FP/log.jsonl" | jq -r --arg p "$RB_OPS" 'select(.path == $p and .kind == "list") | .'"$1"; }
for _ in $(seq 150); do [ "$(rb_lists t | wc -l)" -ge 3 ] && break; sleep 0.1; done
same "429 on the relist after a 410" 30
"$BIN" --config "$W" users | grep -q '^ops\.dave ' && fail "ops.dave still synced"
[ "$(rb_lists status | head -n 3 | tr '\n' ' ')" = "429 429 200 " ] || fail "the lists were not answered 429 429 200: $(rb_lists status | tr "\n" " ") $(rb_lists query | tr "\n" " ")"
mapfile -t ts < <(rb_lists t)
[ "${#ts[@]}" -ge 3 ] || fail "expected 2 refused and 1 accepted list of $RB_OPS, saw ${#ts[@]}"
max=$(awk -v s="$SLACK" 'BEGIN { print 2 + 1 + s }')
g=$(gaps_within 2.0 "$max" "${ts[@]:0:3}") || fail "list after 429 (Retry-After: 2): gaps $g s, want 2 to $max"
echo "  list requests after 429 with Retry-After: 2: gaps $g s"
faults

# 6. A server that stalls while its host still answers TCP (keepalive sees
# nothing): heartbeat bookmarks (apiservers since about 1.27 send one a
# minute; the proxy, one a second), then silence on an open connection.
# The watcher drops the stream after three heartbeat intervals of silence,
# at least 20 s (K8S_WATCH_STALL_MIN_MS), and reopens it; a change made
# meanwhile reaches the store.
l0=$(wc -l <"$FP/log.jsonl")
faults '{"id": "stall1", "path": "'"$RB_OPS"'", "kind": "watch", "do": "stall", "beats": 3, "every": 1}'
kill -USR2 "$FP_PID"
rb_log() { tail -n +"$((l0 + 1))" "$FP/log.jsonl" | jq -r --arg p "$RB_OPS" "select(.path == \$p and $1) | .t"; }
for _ in $(seq 150); do [ -n "$(rb_log '.event == "silent"')" ] && break; sleep 0.1; done
t_silent=$(rb_log '.event == "silent"')
[ -n "$t_silent" ] || fail "the stalled stream never went silent"
ks_rolebinding ops stalled ClusterRole host-login user:sven@example.com || fail rb-stalled
same "a stalled watch (heartbeats, then silence) is dropped and reopened" 45
"$BIN" --config "$W" users | grep -q '^u-sven ' || fail "u-sven not synced"
t_next=$(rb_log '.kind == "watch" and .fault == null' | head -n 1)
[ -n "$t_next" ] || fail "no watch of $RB_OPS after the stall"
max=$(awk -v s="$SLACK" 'BEGIN { print 20 + 4 + s }')
g=$(gaps_within 18 "$max" "$t_silent" "$t_next") || fail "stalled stream reopened after $g s, want 18 to $max"
echo "  the stalled stream was reopened $g s after the server went silent"
faults
stop_watch

# 5. A list over the single-answer limit: paged from etcd instead.
made=$(/usr/bin/python3 tests/kube/bulk.py "$KUBE_DIR" "$KUBE_URL" sas big sa 700 26000) || fail "bulk: $made"
echo "  $made"
ks_rolebinding big all ClusterRole host-login group:system:serviceaccounts:big || fail rb-big
l0=$(wc -l <"$FP/log.jsonl")
start_watch
same "a list over 16 MiB (700 ServiceAccounts of 26 KB)" 60
SA_BIG=/api/v1/namespaces/big/serviceaccounts
q=$(tail -n +"$((l0 + 1))" "$FP/log.jsonl" | jq -r --arg p "$SA_BIG" 'select(.path == $p and .kind == "list") | .query')
echo "  the watcher's lists of $SA_BIG: $(tr '\n' ' ' <<<"$q")"
grep -q 'resourceVersion=0' <<<"$q" || fail "the first list did not ask the watch cache"
grep -q 'continue=' <<<"$q" || fail "no paged list after the too-large answer"
[ "$(grep -vc 'resourceVersion=0' <<<"$q")" = 2 ] || fail "expected 2 pages of 500"
size=$(curl -sS -m 60 --cacert "$KUBE_DIR/pki/ca.crt" --cert "$KUBE_DIR/pki/admin.crt" --key "$KUBE_DIR/pki/admin.key" \
	"$KUBE_URL$SA_BIG?limit=500&resourceVersion=0" | wc -c)
[ "$size" -gt $((16 << 20)) ] || fail "the list is only $size bytes: not over the limit"
echo "  one answer would be $size bytes"
# and the relist after a 410 (a consistent list, paged from the start)
l0=$(wc -l <"$FP/log.jsonl")
faults '{"id": "gone3", "path": "'"$SA_BIG"'", "do": "gone"}'
kube_delete_sa big sa-00007 || fail "delete big/sa-00007"
same "the relist of the large collection after a 410" 60
[ "$(tail -n +"$((l0 + 1))" "$FP/log.jsonl" | jq -r --arg p "$SA_BIG" 'select(.path == $p and .kind == "list") | .query' | grep -c 'continue=')" -ge 1 ] ||
	fail "the relist was not paged"
faults
stop_watch

# expected: the cut connections, the injected 429s, the stall (a 410 is no complaint)
if grep -v -e 'left out' -e 'answer cut short: .*the connection ended inside the answer' \
	-e 'HTTP 429: injected by faultproxy' -e 'stream stalled: .*nothing from the server for too long' \
	"$TEST_TMP/watch-all.err" | grep -q .; then
	cat "$TEST_TMP/watch-all.err"
	fail "the watcher complained"
fi
echo "t_kube_sync_recovery: all passed"
