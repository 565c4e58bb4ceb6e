#!/bin/bash
# `k8s-auth sync` at scale against the real kube-apiserver tier: N_SA
# ServiceAccounts (serviceAccounts: true) and N_RB RoleBindings to the
# host-login ClusterRole (each naming one of those ServiceAccounts and one
# User of its own), plus N_CR unrelated ClusterRoles a `rules:` sync has to
# read.  Figures: object creation rate, first sync (empty store), idle
# sync, dry run, a one-binding change, max RSS, store size.
# BEFORE=/path/to/old/k8s-auth adds its first sync (empty store) and the
# store it wrote compared with ours, in the same run.
#   N_SA=10000 N_RB=1000 N_CR=200 bench/b_sync.sh
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
cd "$(dirname "$0")/.." || exit 2
N_SA=${N_SA:-10000}
N_RB=${N_RB:-1000}
N_CR=${N_CR:-200}
BIN=${K8S_AUTH_BIN:-$PWD/build/k8s-auth}
[ -x "$BIN" ] || { echo "b_sync: $BIN not built"; exit 1; }
. tests/kube/kubelib.sh
. tests/kube/synclib.sh
KUBE_APISERVER=${KUBE_APISERVER:-$(tests/kube/build-apiserver.sh 2>/dev/null)} || {
	echo "b_sync: no kube-apiserver (tests/kube/build-apiserver.sh)"
	exit 1
}
export KUBE_APISERVER
kube_start >/dev/null 2>&1 || { echo "b_sync: kube_start failed"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"; kube_stop >/dev/null 2>&1' EXIT

ks_apply docs/rbac-reviewer.yaml || exit 1
kube_api POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bulk"}}' >/dev/null
ks_apply_json '{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
  "metadata": {"name": "host-login"},
  "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["login"]}]}' || exit 1
echo "ServiceAccounts: $(python3 tests/kube/bulk.py "$KUBE_DIR" "$KUBE_URL" sas bulk sa "$N_SA")" || exit 1
echo "RoleBindings:    $(python3 tests/kube/bulk.py "$KUBE_DIR" "$KUBE_URL" rolebindings bulk rb "$N_RB" host-login sa "$N_SA")" || exit 1
echo "ClusterRoles:    $(python3 tests/kube/bulk.py "$KUBE_DIR" "$KUBE_URL" clusterroles noise "$N_CR")" || exit 1

cat >"$work/config.yaml" <<EOF
tokenReview:
  kubeconfig: $KUBE_DIR/kubeconfig
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
EOF
chmod 644 "$work/config.yaml"

# run LABEL ARGS...: wall time and max RSS of one sync
run() {
	local label=$1
	shift
	/usr/bin/time -f "%e %M" -o "$work/time" "${RUN_BIN:-$BIN}" --config "$work/config.yaml" sync "$@" \
		>"$work/out" 2>"$work/err" || { echo "b_sync: $label failed: $(tail -n 3 "$work/err")"; exit 1; }
	read -r secs rss <"$work/time"
	printf '%-28s %6.2f s  max RSS %4d MB  %s\n' "$label" "$secs" $((rss / 1024)) "$(tail -n 1 "$work/out")"
}
if [ -n "${BEFORE:-}" ]; then
	RUN_BIN=$BEFORE run "before: first sync, empty store"
	"$BIN" --config "$work/config.yaml" users >"$work/before.users"
	rm -rf "$work/store"
fi
run "dry run, empty store" --dry-run
run "first sync, empty store"
if [ -n "${BEFORE:-}" ]; then
	"$BIN" --config "$work/config.yaml" users | cmp -s - "$work/before.users" &&
		echo "stores before/after: identical (k8s-auth users)" || echo "stores before/after: DIFFER"
fi
grep '^cluster:' "$work/out"
echo "store: identities.db $(stat -c %s "$work/store/identities.db") bytes, identities.delta $(stat -c %s "$work/store/identities.delta" 2>/dev/null || echo 0) bytes"
run "second sync (no change)"
run "dry run (no change)" --dry-run
ks_delete "$KS_RBAC/namespaces/bulk/rolebindings/rb-00000"
run "one binding deleted"
grep -c '^[-+~]' "$work/out" | sed 's/^/  diff lines: /'
