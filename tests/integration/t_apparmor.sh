#!/bin/bash
# The AppArmor drop-ins the packages ship (debian/apparmor/, placed where
# debian/*.install puts them): a profile that includes
# abstractions/nameservice, and one that includes abstractions/
# authentication, from a copy of this host's /etc/apparmor.d (Debian's
# apparmor package) plus the drop-ins, compile with apparmor_parser (no
# kernel needed: -Q -K), and the preprocessed policy (-p) grants read on
# the three store files to both, and exec of the helper (PUx, with read:
# the module opens it before running it) to the authentication one; no
# write anywhere under the store, no other exec mode for the helper.
# Without the drop-ins neither grant is there (what confined programs had
# before).  The test machines run without AppArmor in the kernel.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh
command -v apparmor_parser >/dev/null || skip "apparmor_parser not installed (apparmor; tests/install-deps.sh)"
[ -f /etc/apparmor.d/abstractions/nameservice ] && [ -d /etc/apparmor.d/abi ] || skip "no /etc/apparmor.d from the apparmor package"

AA=$TEST_TMP/aa
mkdir -p "$AA" && cp -r /etc/apparmor.d/abi /etc/apparmor.d/tunables /etc/apparmor.d/abstractions "$AA/" || fail "copying /etc/apparmor.d"
rm -rf "$AA"/abstractions/nameservice.d "$AA"/abstractions/authentication.d  # only ours below
profile() {  # NAME ABSTRACTION: a minimal profile using it
	printf 'abi <abi/3.0>,\ninclude <tunables/global>\nprofile %s /usr/bin/%s {\n  include <abstractions/base>\n  include <abstractions/%s>\n}\n' \
		"$1" "$1" "$2" >"$TEST_TMP/$1"
}
profile t-nss nameservice
profile t-pam authentication
# rules NAME: the preprocessed profile's rules (comments and blank lines
# dropped, one space between words); fails when it does not compile
rules() {
	apparmor_parser --base "$AA" -Q -K -S "$TEST_TMP/$1" >/dev/null 2>"$TEST_TMP/$1.err" ||
		fail "$1 does not compile: $(grep -v 'Cache read/write disabled' "$TEST_TMP/$1.err")"
	apparmor_parser --base "$AA" -p "$TEST_TMP/$1" 2>/dev/null | sed 's/#.*//' | tr -s ' \t' '  ' | sed 's/^ //; s/ $//' | grep -v '^$'
}
STORE_R="/var/lib/k8s-auth/identities.db r,
/var/lib/k8s-auth/identities.delta r,
/var/lib/k8s-auth/identities.stamp r,"
HELPER=/usr/libexec/k8s-auth/k8s-auth-helper

# Before: the stock abstractions grant neither.
for p in t-nss t-pam; do
	r=$(rules $p)
	grep -q 'k8s' <<<"$r" && fail "$p: the stock abstraction already mentions k8s: $(grep k8s <<<"$r")"
done
ok "without the drop-ins: both profiles compile, nothing about the store or the helper"

# The drop-ins, where the packages install them.
n=0
while read -r src dest; do
	case $src in debian/apparmor/*) ;; *) continue ;; esac
	[ -f "$src" ] || fail "$src listed in debian/*.install but missing"
	case $dest in etc/apparmor.d/abstractions/*.d) ;; *) fail "$src installed to $dest, not an abstractions/*.d directory" ;; esac
	mkdir -p "$AA/${dest#etc/apparmor.d/}" && cp "$src" "$AA/${dest#etc/apparmor.d/}/" || fail "placing $src"
	n=$((n + 1))
done < <(cat debian/libnss-k8s.install debian/libpam-k8s.install)
assert_eq "$n" 2 "two drop-ins installed by libnss-k8s and libpam-k8s"
grep -q '^debian/apparmor/nameservice.d/k8s etc/apparmor.d/abstractions/nameservice.d$' debian/libnss-k8s.install &&
	grep -q '^debian/apparmor/authentication.d/k8s etc/apparmor.d/abstractions/authentication.d$' debian/libpam-k8s.install ||
	fail "nameservice.d must come with libnss-k8s, authentication.d with libpam-k8s"

nss=$(rules t-nss)
assert_eq "$(grep -F -f <(printf '%s\n' "$STORE_R") <<<"$nss" | sort -u)" "$(sort <<<"$STORE_R")" \
	"nameservice: read on identities.db, .delta, .stamp"
grep -F "$HELPER" <<<"$nss" && fail "nameservice grants something on the helper"
pam=$(rules t-pam)
assert_eq "$(grep -F -f <(printf '%s\n' "$STORE_R") <<<"$pam" | sort -u)" "$(sort <<<"$STORE_R")" \
	"authentication: read on the store files (which users pam_k8s handles)"
assert_eq "$(grep -F "$HELPER" <<<"$pam")" "$HELPER rPUx," "authentication: the helper: read and PUx exec, nothing else"
for r in "$nss" "$pam"; do
	grep -E 'k8s' <<<"$r" | grep -vxF -f <(printf '%s\n%s rPUx,\n' "$STORE_R" "$HELPER") &&
		fail "a rule beyond read on the store and the helper's exec"
done
ok "no write on the store; nothing on the config, kubeconfig, caches or /run/k8s-auth"
