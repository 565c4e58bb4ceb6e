#!/bin/bash
# The first sync of a large fleet's worth of accounts, without the
# apiserver (the store side of a sync: collision checks, id allocation,
# commit): N declared accounts (default 100,000) into an empty store, median
# of RUNS (default 3) runs, and a second run that changes nothing.
# Before/after in one run: BEFORE=/path/to/old/k8s-auth (e.g. built from
# main with `git archive main | tar -x -C DIR && make -C DIR build/k8s-auth`).
#   N=100000 RUNS=3 BEFORE=/tmp/old/build/k8s-auth bench/b_sync_declared.sh
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
cd "$(dirname "$0")/.." || exit 2
N=${N:-100000}
RUNS=${RUNS:-3}
BIN=${K8S_AUTH_BIN:-$PWD/build/k8s-auth}
[ -x "$BIN" ] || { echo "b_sync_declared: $BIN not built"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$N" "$work" <<'PY'
import sys
n, work = int(sys.argv[1]), sys.argv[2]
with open(work + "/config.yaml", "w") as f:
    f.write("accounts:\n  uidRange: [200000, 4000000]\n  gidRange: [200000, 4000000]\n")
    # flow style: 100,000 names fit the 1 MB config limit
    f.write("  declared: [" + ",".join("d%05d" % i for i in range(n)) + "]\n")
    f.write("store: %s/store\n" % work)
PY
chmod 644 "$work/config.yaml"
echo "nsswitch: $(grep -E '^(passwd|group):' /etc/nsswitch.conf | tr -s ' \t' ' ' | paste -sd';')"

# one LABEL BIN: RUNS first syncs into an empty store (median), then one
# that changes nothing
one() {
	local label=$1 bin=$2 i t times=()
	for ((i = 0; i < RUNS; i++)); do
		rm -rf "$work/store"
		/usr/bin/time -f "%e %M" -o "$work/time" "$bin" --config "$work/config.yaml" sync \
			>"$work/out" 2>"$work/err" || { echo "b_sync_declared: $label failed: $(tail -n 2 "$work/err")"; exit 1; }
		read -r t rss <"$work/time"
		times+=("$t")
	done
	printf '%-7s first sync of %d declared accounts: median %6.2f s of %d (%s), max RSS %d MB\n' \
		"$label" "$N" "$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p")" "$RUNS" \
		"${times[*]}" $((rss / 1024))
	"$bin" --config "$work/config.yaml" users >"$work/$label.users" 2>&1
	/usr/bin/time -f "%e" -o "$work/time" "$bin" --config "$work/config.yaml" sync >"$work/out" 2>&1
	printf '%-7s second sync (no change): %6.2f s  %s\n' "$label" "$(cat "$work/time")" "$(tail -n 1 "$work/out")"
}
[ -n "${BEFORE:-}" ] && one before "$BEFORE"
one after "$BIN"
if [ -n "${BEFORE:-}" ]; then
	cmp -s "$work/before.users" "$work/after.users" &&
		echo "stores: identical (k8s-auth users: every account, uid, gid, sources)" ||
		{ echo "stores: DIFFER"; diff "$work/before.users" "$work/after.users" | head -n 10; }
fi
