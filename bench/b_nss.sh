#!/bin/sh
# NSS figures (issue 4): getpwnam/getpwuid/getgrnam/getgrgid/initgroups for
# the LAST of n accounts (n = 1k, 10k, 100k), median of 7 runs, through
# glibc, side by side for libnss_k8s alone, nss_files (the same accounts
# appended to a copy of /etc/passwd,/etc/group), libnss-extrausers, and
# "files k8s"; then a login's store update and a compaction at 100k.
# Everything runs in private mount namespaces: the host is not touched.
# BENCH_BUILD: build directory (default build); BENCH_SIZES: "1000 10000 100000".
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u
cd "$(dirname "$0")/.." || exit 2
B=$(cd "${BENCH_BUILD:-build}" && pwd) || exit 2
SIZES=${BENCH_SIZES:-"1000 10000 100000"}
[ "$(id -u)" = 0 ] || { echo "b_nss: needs root (private mount namespaces)"; exit 0; }
[ -f "$B/libnss_k8s.so.2" ] || { echo "b_nss: $B/libnss_k8s.so.2 not built"; exit 1; }
if ldd "$B/libnss_k8s.so.2" | grep -q libasan; then
	echo "b_nss: $B is a sanitizer build"; exit 1
fi
EXTRA=$(ls /usr/lib/libnss_extrausers.so.2 /usr/lib/*/libnss_extrausers.so.2 2>/dev/null | head -n 1)
T=$(mktemp -d /tmp/b_nss.XXXXXX) || exit 2
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT
BENCH=$T/nss_bench
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -Icommon $(pkg-config --cflags jansson) \
	-o "$BENCH" bench/nss_bench.c "$B/libk8scommon.a" \
	$(pkg-config --libs jansson libcurl yaml-0.1 libssl libcrypto) || exit 1
LIBDIR=$(readlink -f /lib/x86_64-linux-gnu)
mkdir -p "$T/libx" "$T/varlib/k8s-auth" "$T/varlib/extrausers"
cp "$B/libnss_k8s.so.2" "$T/libx/"

# in_ns N SERVICES CMD...: run CMD with the module installed, the store of
# size N at the compiled-in path, nsswitch "passwd/group: SERVICES", and
# for "files" the generated passwd/group over /etc's.
in_ns() {
	local n=$1 services=$2
	shift 2
	N=$n SERVICES=$services unshare --mount --propagation private bash -c '
		set -e
		mount -t overlay bnsslib -o "lowerdir=$T/libx:$LIBDIR" "$LIBDIR"
		[ -d /var/lib/k8s-auth ] && [ -d /var/lib/extrausers ] ||
			mount -t overlay bnssvar -o "lowerdir=$T/varlib:/var/lib" /var/lib
		if [ -d "$T/n$N/store" ]; then
			mount --bind "$T/n$N/store" /var/lib/k8s-auth
			mount --bind "$T/n$N/only" /var/lib/extrausers
		fi
		sed -E "s/^(passwd|group):.*/\1: $SERVICES/" /etc/nsswitch.conf >"$T/nsswitch.$$"
		mount --bind "$T/nsswitch.$$" /etc/nsswitch.conf
		if [ "$SERVICES" = files ] && [ -f "$T/n$N/passwd" ]; then
			mount --bind "$T/n$N/passwd" /etc/passwd
			mount --bind "$T/n$N/group" /etc/group
		fi
		exec "$@"' bash "$@"
}
export T LIBDIR

median_of() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

declare -A R
for n in $SIZES; do
	d=$T/n$n
	mkdir -p "$d/only"
	start=$(date +%s)
	# Generation through the writer; "files" alone for its NSS checks (fast).
	in_ns 0 files "$BENCH" gen "$d" "$n" || { echo "b_nss: gen $n failed"; exit 1; }
	echo "generated $n accounts in $(( $(date +%s) - start )) s ($(du -h "$d/store/identities.db" | cut -f1) store)" >&2
	# extrausers reads only the accounts (no host lines)
	tail -n "$n" "$d/passwd" >"$d/only/passwd"
	grep -E '^(u[0-9]+|k8s-team[0-9]+):' "$d/group" >"$d/only/group"
	last=$(printf 'u%07d' $((n - 1)))
	uid=$(in_ns "$n" k8s getent passwd "$last" | cut -d: -f3)
	[ -n "$uid" ] || { echo "b_nss: $last not resolvable"; exit 1; }
	gid=$(in_ns "$n" k8s getent group "$last" | cut -d: -f3)
	out=$(in_ns "$n" k8s "$BENCH" direct "$last" "$uid" "$last" "$gid" 20000) ||
		{ echo "b_nss: direct calls failed at $n: $out"; exit 1; }
	while read -r op ns; do
		R["direct,$n,$op"]=$ns
	done <<<"$out"
	for svc in k8s files extrausers "files k8s"; do
		[ "$svc" != extrausers ] || [ -n "$EXTRA" ] || continue
		case "$svc" in
		files | extrausers) iter=$(( 2000000 / n )); [ "$iter" -ge 10 ] || iter=10 ;;
		*) iter=20000 ;;
		esac
		out=$(in_ns "$n" "$svc" "$BENCH" lookup "$last" "$uid" "$last" "$gid" "$iter") ||
			{ echo "b_nss: lookups failed for $svc at $n: $out"; exit 1; }
		while read -r op ns; do
			R["$svc,$n,$op"]=$ns
		done <<<"$out"
	done
done

fmt() {
	awk -v ns="$1" 'BEGIN { if (ns == "") print "-"; else if (ns >= 1000000) printf "%.1f ms", ns / 1e6;
		else if (ns >= 1000) printf "%.1f us", ns / 1e3; else printf "%d ns", ns }'
}
echo
echo "NSS lookups for the last of n accounts (median of 7 runs, through glibc; extrausers and files also"
echo "hold the same accounts; \"files k8s\" = the host's /etc/passwd, then libnss_k8s)"
printf '%-12s %-11s' "service" "n"
for op in getpwnam getpwuid getgrnam getgrgid initgroups; do printf ' %11s' "$op"; done
echo
for svc in k8s files extrausers "files k8s" direct; do
	for n in $SIZES; do
		[ -n "${R["$svc,$n,getpwnam"]:-}" ] || continue
		printf '%-12s %-11s' "$svc" "$n"
		for op in getpwnam getpwuid getgrnam getgrgid initgroups; do
			printf ' %11s' "$(fmt "${R["$svc,$n,$op"]:-}")"
		done
		echo
	done
done

echo "(direct = the _nss_k8s_* functions called straight, without glibc's NSS layer, which itself"
echo " stat()s /etc/nsswitch.conf on every call: one stat() here takes $(fmt "${R["direct,$n,stat"]:-}"))"

big=$(echo "$SIZES" | tr ' ' '\n' | sort -n | tail -n 1)
echo
echo "store update at login, $big accounts (open+lock, record a new account with a group, commit a delta"
echo "with fsync), median of 9; then a compaction (what k8s-auth sync does), through \"files k8s\":"
in_ns "$big" "files k8s" "$BENCH" update "$T/n$big" 9
in_ns "$big" "files k8s" "$BENCH" compact "$T/n$big"
