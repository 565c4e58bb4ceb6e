# shellcheck shell=bash
# Shared setup for the NSS tests (t_nss_*.sh, tests/valgrind-nss.sh).
# Source it FIRST, before anything else: it re-executes the test in a
# private mount namespace (root only), then sources tests/lib.sh.  Inside,
# the host is never touched:
#
#   nss_install [SERVICES]  libnss_k8s.so.2 from $NSS_BUILD in an overlay over
#                       the library directory; nsswitch.conf (a private copy
#                       bound over it) with "passwd: SERVICES", "group:
#                       SERVICES" (default "files k8s"); an empty store dir of
#                       ours bound over the compiled-in /var/lib/k8s-auth.
#   nss_etc_file PATH   a private writable copy of PATH bound over it
#   nss_config FILE [EXTRA_ACCOUNTS_YAML]   a config.yaml with store: the default
#   nss_helper ARGS     tests/integration/nss_helper.c (built on first use)
#   nss_cli ARGS        $NSS_BUILD/k8s-auth
#   uid_of NAME [MIN MAX]   the uid the allocator wants for NAME (Python's hashlib,
#                       not our code)
#
# NSS_BUILD: the build directory (default <repo>/build); its libnss_k8s.so.2
# must not be sanitizer-instrumented (every process loads it).

if [ "${NSS_IN_NS:-}" != 1 ]; then
	[ "$(id -u)" = 0 ] || { echo "skip: needs root (private mount namespace)"; exit 77; }
	command -v unshare >/dev/null || { echo "skip: unshare not found"; exit 77; }
	NSS_IN_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi

. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

NSS_BUILD=$(cd "${NSS_BUILD:-$REPO/build}" && pwd) || fail "no build directory"
NSS_SO=$NSS_BUILD/libnss_k8s.so.2
NSS_STORE=/var/lib/k8s-auth
chmod 755 "$TEST_TMP"

nss_etc_file() {
	local f=$1 copy
	copy=$TEST_TMP/etc/${f//\//_}
	mkdir -p "$TEST_TMP/etc"
	cp -a "$f" "$copy"
	mount --bind "$copy" "$f" || fail "bind $f"
}

nss_install() {
	local services=${1:-files k8s} libdir
	[ -f "$NSS_SO" ] || skip "$NSS_SO not built"
	! ldd "$NSS_SO" | grep -q libasan || fail "$NSS_SO is ASan-instrumented; set NSS_BUILD"
	libdir=$(readlink -f /lib/x86_64-linux-gnu)
	mkdir -p "$TEST_TMP/libx"
	cp "$NSS_SO" "$TEST_TMP/libx/"
	mount -t overlay nsslib -o "lowerdir=$TEST_TMP/libx:$libdir" "$libdir" || fail "overlay $libdir"
	nss_etc_file /etc/nsswitch.conf
	sed -E "s/^(passwd|group):.*/\1: $services/" /etc/nsswitch.conf >"$TEST_TMP/nsswitch.new"
	cat "$TEST_TMP/nsswitch.new" >/etc/nsswitch.conf
	# The compiled-in store directory: ours, over an overlay entry when
	# the host has none.
	if [ ! -d "$NSS_STORE" ]; then
		mkdir -p "$TEST_TMP/varlib/k8s-auth"
		mount -t overlay nssvarlib -o "lowerdir=$TEST_TMP/varlib:/var/lib" /var/lib || fail "overlay /var/lib"
	fi
	mkdir -p "$TEST_TMP/store"
	mount --bind "$TEST_TMP/store" "$NSS_STORE" || fail "bind store"
}

nss_config() {
	local file=$1 extra=${2-}
	cat >"$file" <<EOF
accounts:
  users:
  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)\$'
    local: '\1.\2'
  - match: '^([a-z][a-z0-9_-]*)@example\.com\$'
    local: '\1'
  uidRange: [200000, 999999]
  gidRange: [200000, 999999]
  home: /home/%u
  shell: /bin/bash
  groups:
  - match: '^oidc:admins\$'
    local: sudo
  - match: '^oidc:ops\$'
    local: k8s-ops
  - match: '^oidc:team-(.*)\$'
    local: 'k8s-\1'
$extra
store: $NSS_STORE
EOF
}

nss_helper() {
	if [ ! -x "$TEST_TMP/nss_helper" ]; then
		# shellcheck disable=SC2046
		cc -std=gnu11 -O2 -pthread -D_GNU_SOURCE -Wall -Wextra -Werror -I"$REPO/common" \
			$(pkg-config --cflags jansson) -o "$TEST_TMP/nss_helper" \
			"$REPO/tests/integration/nss_helper.c" "$NSS_BUILD/libk8scommon.a" \
			$(pkg-config --libs jansson yaml-0.1 libssl libcrypto) || fail "build nss_helper"
	fi
	"$TEST_TMP/nss_helper" "$@"
}

nss_cli() {
	"$NSS_BUILD/k8s-auth" "$@"
}

uid_of() {
	"$PY" -c 'import hashlib, sys
n, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
print(lo + int.from_bytes(hashlib.sha256(n.encode()).digest()[:8], "big") % (hi - lo + 1))' \
		"$1" "${2:-200000}" "${3:-999999}"
}
