#!/bin/bash
# Steady-state cost per host against the real kube-apiserver tier: the
# timer's one-shot sync (every 5 minutes) against `k8s-auth sync --watch`,
# with nothing changing in the cluster.  A counting TCP proxy
# (bench/countproxy.py) sits between k8s-auth and the apiserver: requests
# (one per connection) and bytes on the wire, TLS included.
#   timer:  median of RUNS idle one-shot runs, times 12 an hour; with
#           BEFORE=/path/to/old/k8s-auth also the binary before this change
#           (paged lists without resourceVersion).
#   watch:  the first list, an idle WINDOW (default 300 s), then every
#           connection cut once to price a reconnect; per hour = idle
#           bytes scaled + reconnects, at the rate the watcher's renewal
#           period gives (it prints the range of timeoutSeconds it asks
#           for, and the apiserver ends a watch then: 3600 / the mean
#           renewals per collection an hour).  ROUNDS (default 1) repeats
#           the idle window and the cut; the medians are printed.
# Cluster as bench/b_sync.sh: N_SA ServiceAccounts, N_RB RoleBindings,
# N_CR ClusterRoles.
#   N_SA=10000 N_RB=1000 N_CR=200 WINDOW=300 RUNS=3 bench/b_sync_watch.sh
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
cd "$(dirname "$0")/.." || exit 2
N_SA=${N_SA:-10000}
N_RB=${N_RB:-1000}
N_CR=${N_CR:-200}
WINDOW=${WINDOW:-300}
ROUNDS=${ROUNDS:-1}
RUNS=${RUNS:-3}
BIN=${K8S_AUTH_BIN:-$PWD/build/k8s-auth}
[ -x "$BIN" ] || { echo "b_sync_watch: $BIN not built"; exit 1; }
. tests/kube/kubelib.sh
. tests/kube/synclib.sh
KUBE_APISERVER=${KUBE_APISERVER:-$(tests/kube/build-apiserver.sh 2>/dev/null)} || {
	echo "b_sync_watch: no kube-apiserver (tests/kube/build-apiserver.sh)"
	exit 1
}
export KUBE_APISERVER
kube_start >/dev/null 2>&1 || { echo "b_sync_watch: kube_start failed"; exit 1; }
work=$(mktemp -d)
PROXY_PID= WATCH_PID=
trap '[ -z "$WATCH_PID" ] || kill "$WATCH_PID"; [ -z "$PROXY_PID" ] || kill "$PROXY_PID"; rm -rf "$work"; kube_stop >/dev/null 2>&1' EXIT

ks_apply docs/rbac-reviewer.yaml || exit 1
kube_api POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bulk"}}' >/dev/null
ks_apply_json '{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
  "metadata": {"name": "host-login"},
  "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["login"]}]}' || exit 1
echo "ServiceAccounts: $(python3 tests/kube/bulk.py "$KUBE_DIR" "$KUBE_URL" sas bulk sa "$N_SA")" || exit 1
echo "RoleBindings:    $(python3 tests/kube/bulk.py "$KUBE_DIR" "$KUBE_URL" rolebindings bulk rb "$N_RB" host-login sa "$N_SA")" || exit 1
echo "ClusterRoles:    $(python3 tests/kube/bulk.py "$KUBE_DIR" "$KUBE_URL" clusterroles noise "$N_CR")" || exit 1

python3 bench/countproxy.py "$work/port" "${KUBE_URL##*:}" "$work/stats" &
PROXY_PID=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
sed "s#server: $KUBE_URL#server: https://127.0.0.1:$(cat "$work/port")#" "$KUBE_DIR/kubeconfig" >"$work/kubeconfig"
chmod 600 "$work/kubeconfig"
# stats: the counters since the last call ("connections up down")
stats() {
	rm -f "$work/stats"
	kill -USR1 "$PROXY_PID"
	for _ in $(seq 50); do [ -s "$work/stats" ] && break; sleep 0.05; done
	cat "$work/stats"
}

cat >"$work/config.yaml" <<EOC
tokenReview:
  kubeconfig: $work/kubeconfig
  audiences: ["host-login:bench"]
accounts:
  users:
  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)\$'
    local: '\1.\2'
  - match: '^([a-z][a-z0-9_-]*)@example\.com\$'
    local: 'u-\1'
  uidRange: [200000, 4000000]
  gidRange: [200000, 4000000]
  groups:
  - match: '^system:serviceaccounts:bulk\$'
    local: k8s-bulk
sync:
  namespaces: [bulk]
  serviceAccounts: true
  rules: [{verb: login, resource: nodes}]
  timeout: 30s
store: $work/store
EOC
chmod 644 "$work/config.yaml"

human() { numfmt --to=iec --suffix=B "$1"; }
# timer LABEL BIN: idle one-shot runs (store filled first)
timer() {
	local label=$1 bin=$2 i c u d all=()
	"$bin" --config "$work/config.yaml" sync >/dev/null 2>"$work/err" || { echo "timer $label: $(tail -n 2 "$work/err")"; exit 1; }
	for ((i = 0; i < RUNS; i++)); do
		stats >/dev/null
		"$bin" --config "$work/config.yaml" sync >/dev/null 2>"$work/err" || { echo "timer $label: $(tail -n 2 "$work/err")"; exit 1; }
		read -r c u d <<<"$(stats)"
		all+=("$((u + d)) $c")
	done
	read -r b c <<<"$(printf '%s\n' "${all[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")"
	printf '%-34s %5d requests %10s a run; per hour (12 runs): %6d requests %10s\n' \
		"timer, $label" "$c" "$(human "$b")" $((12 * c)) "$(human $((12 * b)))"
	eval "TIMER_B_$3=$((12 * b)) TIMER_C_$3=$((12 * c))"
}
[ -n "${BEFORE:-}" ] && timer "before (paged, no RV)" "$BEFORE" before
timer "after (resourceVersion=0)" "$BIN" after

stats >/dev/null
"$BIN" --config "$work/config.yaml" sync --watch >"$work/watch.out" 2>"$work/watch.err" &
WATCH_PID=$!
for _ in $(seq 600); do grep -q '^watch: .* watching' "$work/watch.out" && break; sleep 0.1; done
grep -q '^watch: .* watching' "$work/watch.out" || { echo "--watch did not start: $(cat "$work/watch.err")"; exit 1; }
sleep 2
read -r c u d <<<"$(stats)"
ncoll=$(sed -n 's/^watch: \([0-9]*\) collections.*/\1/p' "$work/watch.out")
printf '%-34s %5d requests %10s (%d collections)\n' "watch, start (lists + watches)" "$c" "$(human $((u + d)))" "$ncoll"
read -r tmin tmax <<<"$(sed -n 's/^watch: .*renewed after \([0-9]*\) to \([0-9]*\) s.*/\1 \2/p' "$work/watch.out")"
[ -n "$tmin" ] || { tmin=1800 tmax=3600; } # older builds: the apiserver's default, 30 to 60 minutes
period=$(( (tmin + tmax) / 2 ))
echo "watch renewal: timeoutSeconds $tmin to $tmax, mean $period s: $(awk -v p="$period" 'BEGIN { printf "%.2f", 3600 / p }') renewals per collection an hour"
idle=() cut=()
for ((round = 0; round < ROUNDS; round++)); do
	sleep "$WINDOW"
	read -r ic iu id <<<"$(stats)"
	printf '%-34s %5d requests %10s in %d s\n' "watch, idle" "$ic" "$(human $((iu + id)))" "$WINDOW"
	kill -USR2 "$PROXY_PID"
	sleep 5
	read -r rc ru rd <<<"$(stats)"
	printf '%-34s %5d requests %10s (all %d watches)\n' "watch, reconnect after a cut" "$rc" "$(human $((ru + rd)))" "$ncoll"
	idle+=("$((iu + id)) $ic") cut+=("$((ru + rd)) $rc")
done
grep -q 'relist' "$work/watch.err" && echo "  (a reconnect relisted: $(grep -c relist "$work/watch.err"))"
mid=$(((ROUNDS + 1) / 2))
read -r ib ic <<<"$(printf '%s\n' "${idle[@]}" | sort -n | sed -n "${mid}p")"
read -r rb rc <<<"$(printf '%s\n' "${cut[@]}" | sort -n | sed -n "${mid}p")"
[ "$ROUNDS" -gt 1 ] && printf '%-34s %5d requests %10s idle, %d requests %s a reconnect\n' "watch, medians of $ROUNDS" "$ic" "$(human "$ib")" "$rc" "$(human "$rb")"
# per hour: idle scaled, plus the renewals
wh_b=$(awk -v i="$ib" -v w="$WINDOW" -v r="$rb" -v p="$period" 'BEGIN { printf "%d", i * 3600 / w + r * 3600 / p }')
wh_c=$(awk -v i="$ic" -v w="$WINDOW" -v r="$rc" -v p="$period" 'BEGIN { printf "%.1f", i * 3600 / w + r * 3600 / p }')
printf '%-34s %5s requests %10s\n' "watch, per hour" "$wh_c" "$(human "$wh_b")"
awk -v b="$wh_b" -v c="$wh_c" -v tb="$TIMER_B_after" -v tc="$TIMER_C_after" \
	'BEGIN { printf "watch / timer (after):  requests %.2f%%, bytes %.3f%%\n", 100 * c / tc, 100 * b / tb }'
[ -n "${BEFORE:-}" ] && awk -v b="$wh_b" -v c="$wh_c" -v tb="$TIMER_B_before" -v tc="$TIMER_C_before" \
	'BEGIN { printf "watch / timer (before): requests %.2f%%, bytes %.3f%%\n", 100 * c / tc, 100 * b / tb }'
echo "watcher RSS: $(($(ps -o rss= -p "$WATCH_PID") / 1024)) MB"
kill -TERM "$WATCH_PID"
wait "$WATCH_PID"
WATCH_PID=
tail -n 1 "$work/watch.out"
