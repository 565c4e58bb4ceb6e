#!/bin/bash
# The apiserver with many hosts watching (issue 13): N_HOSTS simulated hosts
# (bench/watchers.py: the requests `k8s-auth sync --watch` makes, 5 lists
# with resourceVersion=0 then 5 watches each) against the real
# kube-apiserver tier, with docs/flowcontrol-v1beta1.yaml applied.
# Figures: apiserver CPU seconds and resident memory (before, during the
# hosts' first sync, idle with every watch open), and a login's
# TokenReview latency (median and worst of TR_N) idle, while the hosts
# sync, and with every watch open.
#   N_HOSTS=200 N_SA=1000 N_RB=100 N_CR=50 IDLE=60 bench/b_watchers.sh
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
cd "$(dirname "$0")/.." || exit 2
N_HOSTS=${N_HOSTS:-200}
N_SA=${N_SA:-1000}
N_RB=${N_RB:-100}
N_CR=${N_CR:-50}
IDLE=${IDLE:-60}
TR_N=${TR_N:-20}
. tests/kube/kubelib.sh
. tests/kube/synclib.sh
KUBE_APISERVER=${KUBE_APISERVER:-$(tests/kube/build-apiserver.sh 2>/dev/null)} || {
	echo "b_watchers: no kube-apiserver"; exit 1; }
export KUBE_APISERVER
kube_start >/dev/null 2>&1 || { echo "b_watchers: kube_start failed"; exit 1; }
work=$(mktemp -d)
SIM=
trap '[ -z "$SIM" ] || kill "$SIM"; rm -rf "$work"; kube_stop >/dev/null 2>&1' EXIT
ks_apply docs/rbac-reviewer.yaml || exit 1
python3 -c 'import json, sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d:
        print(json.dumps(d))' docs/flowcontrol-v1beta1.yaml | while read -r obj; do
	case $(jq -r .kind <<<"$obj") in
	FlowSchema) kube_api POST /apis/flowcontrol.apiserver.k8s.io/v1beta1/flowschemas "$obj" >/dev/null ;;
	*) kube_api POST /apis/flowcontrol.apiserver.k8s.io/v1beta1/prioritylevelconfigurations "$obj" >/dev/null ;;
	esac || exit 1
done
kube_api POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bulk"}}' >/dev/null
ks_apply_json '{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
  "metadata": {"name": "host-login"}, "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["login"]}]}'
echo "ServiceAccounts: $(python3 tests/kube/bulk.py "$KUBE_DIR" "$KUBE_URL" sas bulk sa "$N_SA")" || exit 1
echo "RoleBindings:    $(python3 tests/kube/bulk.py "$KUBE_DIR" "$KUBE_URL" rolebindings bulk rb "$N_RB" host-login sa "$N_SA")" || exit 1
echo "ClusterRoles:    $(python3 tests/kube/bulk.py "$KUBE_DIR" "$KUBE_URL" clusterroles noise "$N_CR")" || exit 1
sed -n 's/^    token: //p' "$KUBE_DIR/kubeconfig" >"$work/reviewer"
kube_create_sa ops alice >/dev/null || exit 1
kube_mint ops alice host-login:bench >"$work/login" || exit 1
jq -cn --rawfile t "$work/login" '{apiVersion: "authentication.k8s.io/v1", kind: "TokenReview",
  spec: {token: ($t | rtrimstr("\n")), audiences: ["host-login:bench"]}}' >"$work/tr.json"

cpu() { awk '{ print ($14 + $15) / 100 }' "/proc/$KUBE_APISERVER_PID/stat"; }
rss() { awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$KUBE_APISERVER_PID/status"; }
# tr LABEL: TR_N TokenReviews as the reviewer, one at a time (a login's)
tr() {
	local i t all=()
	for ((i = 0; i < TR_N; i++)); do
		t=$(curl -sS -m 20 -o "$work/tr.out" -w '%{time_total}' --cacert "$KUBE_DIR/pki/ca.crt" \
			-H "Authorization: Bearer $(cat "$work/reviewer")" -H 'Content-Type: application/json' \
			--data-binary @"$work/tr.json" "$KUBE_URL/apis/authentication.k8s.io/v1/tokenreviews")
		jq -e .status.authenticated "$work/tr.out" >/dev/null || { echo "TokenReview failed: $(head -c 300 "$work/tr.out")"; exit 1; }
		all+=("$t")
	done
	printf '%s\n' "${all[@]}" | sort -n | awk -v l="$1" '{ v[NR] = $1 } END {
		printf "TokenReview latency, %-28s median %5.1f ms, worst %6.1f ms (%d)\n", l, 1000 * v[int((NR + 1) / 2)], 1000 * v[NR], NR }'
}
sleep 5
c0=$(cpu)
sleep "$IDLE"
c1=$(cpu)
echo "apiserver idle, no hosts:       CPU $(awk -v a="$c0" -v b="$c1" -v w="$IDLE" 'BEGIN { printf "%.2f s in %d s", b - a, w }'), RSS $(rss) MB"
tr "idle, no hosts:"
c0=$(cpu)
t0=$(date +%s.%N)
python3 bench/watchers.py "$KUBE_DIR" "$KUBE_URL" "$work/reviewer" "$N_HOSTS" >"$work/sim.out" 2>"$work/sim.err" &
SIM=$!
tr "while $N_HOSTS hosts sync:"
for _ in $(seq 1200); do grep -q ready "$work/sim.out" && break; kill -0 "$SIM" 2>/dev/null || break; sleep 0.5; done
grep -q ready "$work/sim.out" || { echo "simulated hosts failed: $(tail -n 3 "$work/sim.err")"; exit 1; }
c1=$(cpu)
echo "$N_HOSTS hosts' first sync:     CPU $(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f s", b - a }'), all watching after $(awk '{ print $2 }' "$work/sim.out") s, RSS $(rss) MB"
sleep 5
c0=$(cpu)
sleep "$IDLE"
c1=$(cpu)
echo "$N_HOSTS hosts watching, idle:  CPU $(awk -v a="$c0" -v b="$c1" -v w="$IDLE" 'BEGIN { printf "%.2f s in %d s", b - a, w }'), RSS $(rss) MB, $((N_HOSTS * 5)) watches"
tr "$N_HOSTS hosts watching:"
