#!/bin/bash
# The Debian packages, as an administrator meets them: dpkg-buildpackage -b
# on a copy of the tree (unit tests included; built once per tree state and
# shared with t_guide.sh: tests/debian/debianlib.sh), lintian without errors, then
# install, configure, remove and purge in a throwaway Debian root where the
# maintainer scripts really run (debootstrap --variant=minbase from the
# host's own Debian mirror; the bootstrapped root is cached per suite under
# /var/cache/pam-k8s-test/).  Checks: nsswitch.conf gains "k8s" on the
# passwd and group lines only, once; the PAM profile stays off until
# `pam-auth-update --enable k8s`, then sits before pam_unix; modes and
# conffiles; postinst's `k8s-auth sync` makes declared accounts resolve
# through libnss_k8s; remove and purge leave nsswitch.conf and
# /etc/pam.d/common-* byte-identical to before.  sudo (the suite's package,
# fetched once with the host's apt into the archive cache) with a local admin
# in group sudo and the guide's pam_k8s line in /etc/pam.d/sudo: the admin's
# `sudo -n` works installed, removed and purged, and the line written with
# plain `required` (dash or not) breaks it once the module is gone ("Module is
# unknown").  Everything runs in a private mount namespace; the root is
# unmounted and removed at exit.
set -u
cd "$(dirname "$0")/../.." || exit 2
if [ -z "${T_DEBIAN_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "skip: needs root (chroot, mounts)"; exit 77; }
	T_DEBIAN_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
. tests/lib.sh

. tests/debian/debianlib.sh
command -v lintian >/dev/null || skip "lintian not installed (tests/install-deps.sh)"
deb_init
WORK=$DEB_WORK
ARCH=$DEB_ARCH
SUITE=$DEB_SUITE
CACHE=$DEB_CACHE
t0=$SECONDS
lap() { echo "time: $1 $((SECONDS - t0))s"; }

# ---------------------------------------------------------------- build
# once per tree state, shared with t_guide.sh (tests/debian/debianlib.sh)
deb_build
grep -E '^unit: [0-9]+ passed, 0 failed' "$DEB_DIR/build.log" >/dev/null || fail "dh_auto_test did not run the unit tests"
ok "dpkg-buildpackage -us -uc -b (unit tests ran in dh_auto_test)"
cp "$DEB_DIR"/*.deb "$DEB_DIR"/*.changes "$DEB_DIR"/*.buildinfo "$WORK/" 2>/dev/null
for p in libpam-k8s libnss-k8s k8s-auth; do
	[ -f "$(echo "$WORK"/${p}_*_"$ARCH".deb)" ] || fail "no $p package"
done
lap build

lintian --fail-on error --display-info --tag-display-limit 0 "$WORK"/pam-k8s_*_"$ARCH".changes >"$WORK/lintian.txt" 2>&1
lrc=$?
grep -E '^[EWI]:' "$WORK/lintian.txt" | sed 's/^/    lintian: /'
[ "$lrc" = 0 ] && ! grep -q '^E:' "$WORK/lintian.txt" || fail "lintian reports errors"
ok "lintian: no errors"
lap lintian

# ---------------------------------------------------------------- the root
deb_root_unpack "$WORK/root"
ROOT=$DEB_ROOT
lap unpack
archives=$CACHE/apt-archives-$SUITE-$ARCH
mkdir -p "$archives"
# sudo is not in minbase (its dependencies are): the host's apt fetches the
# suite's .deb once into the archive cache.
exec 9>"$CACHE/debootstrap-$SUITE.lock"
flock 9
if ! ls "$archives"/sudo_*_"$ARCH".deb >/dev/null 2>&1; then
	mkdir -p "$WORK/sudo-deb"
	(cd "$WORK/sudo-deb" && apt-get download "sudo:$ARCH") >"$WORK/sudo-download.log" 2>&1 &&
		mv "$WORK"/sudo-deb/sudo_*_"$ARCH".deb "$archives/" ||
		{ cat "$WORK/sudo-download.log"; skip "apt-get download sudo failed"; }
fi
flock -u 9
cp "$archives"/*.deb "$ROOT/var/cache/apt/archives/" 2>/dev/null

# sudo and a local admin, before the packages (the host an admin starts from)
sudo_deb=$(ls "$ROOT"/var/cache/apt/archives/sudo_*_"$ARCH".deb | sort -V | tail -n 1)
in_root dpkg -i "${sudo_deb#"$ROOT"}" >"$WORK/sudo.log" 2>&1 ||
	in_root apt-get install -f -y -q --no-install-recommends >>"$WORK/sudo.log" 2>&1 || { tail -n 30 "$WORK/sudo.log"; fail "installing sudo"; }
[ -u "$ROOT/usr/bin/sudo" ] || fail "sudo not installed setuid: $(ls -l "$ROOT/usr/bin/sudo" 2>&1)"
printf '127.0.1.1\t%s\n' "$(hostname)" >>"$ROOT/etc/hosts"  # no "unable to resolve host" noise
in_root useradd -m -G sudo localadmin || fail "useradd localadmin"
printf '%%sudo ALL=(ALL:ALL) NOPASSWD: ALL\nops.alice ALL=(ALL:ALL) NOPASSWD: ALL\n' >"$ROOT/etc/sudoers.d/t-debian" &&
	chmod 440 "$ROOT/etc/sudoers.d/t-debian" && in_root visudo -c >/dev/null || fail "sudoers.d/t-debian"
# sudo -n as USER, started by root through setpriv (real uid USER, its groups)
sudo_as() {
	local u=$1 g
	shift
	g=$(in_root id -g "$u") || { echo "no user $u"; return 2; }
	in_root setpriv --reuid="$u" --regid="$g" --init-groups sudo -n "$@" 2>&1
}
out=$(sudo_as localadmin id -un) && [ "$out" = root ] || fail "sudo -n as localadmin before the packages: $out"
ok "sudo $(in_root dpkg-query -W -f='${Version}' sudo) in the root: localadmin (group sudo, NOPASSWD) runs sudo -n"

mkdir -p "$WORK/before" "$ROOT/tmp/debs"
cp -p "$ROOT/etc/nsswitch.conf" "$ROOT"/etc/pam.d/common-* "$WORK/before/"
same_as_before() {
	local f
	cmp -s "$WORK/before/nsswitch.conf" "$ROOT/etc/nsswitch.conf" || { diff -u "$WORK/before/nsswitch.conf" "$ROOT/etc/nsswitch.conf"; return 1; }
	for f in "$WORK"/before/common-*; do
		cmp -s "$f" "$ROOT/etc/pam.d/${f##*/}" || { diff -u "$f" "$ROOT/etc/pam.d/${f##*/}"; return 1; }
	done
	[ "$(ls "$ROOT"/etc/pam.d/common-* | wc -l)" = "$(ls "$WORK"/before/common-* | wc -l)" ]
}

# ---------------------------------------------------------------- install
cp "$WORK"/libpam-k8s_*_"$ARCH".deb "$WORK"/libnss-k8s_*_"$ARCH".deb "$WORK"/k8s-auth_*_"$ARCH".deb "$ROOT/tmp/debs/"
in_root sh -c 'dpkg -i /tmp/debs/*.deb' >"$WORK/install.log" 2>&1  # fails on missing libraries
if ! in_root apt-get install -f -y -q --no-install-recommends >>"$WORK/install.log" 2>&1; then
	in_root apt-get update -q >>"$WORK/install.log" 2>&1
	in_root apt-get install -f -y -q --no-install-recommends >>"$WORK/install.log" 2>&1 ||
		{ tail -n 30 "$WORK/install.log"; fail "apt-get install -f"; }
fi
cp -n "$ROOT"/var/cache/apt/archives/*.deb "$archives/" 2>/dev/null
for p in libpam-k8s libnss-k8s k8s-auth; do
	[ "$(in_root dpkg-query -W -f='${db:Status-Abbrev}' "$p")" = "ii " ] || { tail -n 30 "$WORK/install.log"; fail "$p not installed"; }
done
ok "dpkg -i + apt-get install -f: the three packages are installed and configured"
lap install

# nsswitch.conf: exactly " k8s" appended to passwd and group, nothing else
sed -E '/^(passwd|group):/ s/ k8s$//' "$ROOT/etc/nsswitch.conf" >"$WORK/ns-stripped"
cmp -s "$WORK/ns-stripped" "$WORK/before/nsswitch.conf" || { diff -u "$WORK/before/nsswitch.conf" "$ROOT/etc/nsswitch.conf"; fail "nsswitch.conf changed beyond passwd/group"; }
grep -Eq '^passwd:.* k8s$' "$ROOT/etc/nsswitch.conf" && grep -Eq '^group:.* k8s$' "$ROOT/etc/nsswitch.conf" ||
	fail "k8s not on the passwd and group lines: $(grep -E '^(passwd|group):' "$ROOT/etc/nsswitch.conf")"
ok "nsswitch.conf: k8s last on passwd and group, no other line touched"
in_root sh -c 'dpkg -i /tmp/debs/libnss-k8s_*.deb' >"$WORK/reinstall.log" 2>&1 || { cat "$WORK/reinstall.log"; fail "reinstalling libnss-k8s"; }
[ "$(grep -Ec '^(passwd|group):.*\bk8s\b' "$ROOT/etc/nsswitch.conf")" = 2 ] && [ "$(grep -o '\bk8s\b' "$ROOT/etc/nsswitch.conf" | wc -l)" = 2 ] ||
	fail "reinstall added k8s again: $(grep -E '^(passwd|group):' "$ROOT/etc/nsswitch.conf")"
ok "nsswitch.conf: reinstalling does not add k8s twice"

for f in "$WORK"/before/common-*; do
	cmp -s "$f" "$ROOT/etc/pam.d/${f##*/}" || fail "${f##*/} changed by the install (the profile is Default: no)"
done
ok "pam: the profile is registered but not enabled (Default: no)"
[ -f "$ROOT/usr/share/pam-configs/k8s" ] || fail "no /usr/share/pam-configs/k8s"
in_root pam-auth-update --enable k8s || fail "pam-auth-update --enable k8s"
awk '/pam_k8s\.so/ { k = NR } /pam_unix\.so/ && !u { u = NR } END { exit !(k && u && k < u) }' "$ROOT/etc/pam.d/common-auth" ||
	{ cat "$ROOT/etc/pam.d/common-auth"; fail "common-auth: pam_k8s not before pam_unix"; }
grep -Eq '^auth[[:space:]]+\[success=[0-9]+ ignore=ignore default=die\][[:space:]]+pam_k8s\.so' "$ROOT/etc/pam.d/common-auth" ||
	fail "common-auth: unexpected pam_k8s line: $(grep pam_k8s "$ROOT/etc/pam.d/common-auth")"
grep -Eq '^account[[:space:]]+required[[:space:]]+pam_k8s\.so' "$ROOT/etc/pam.d/common-account" || fail "common-account lacks pam_k8s"
grep -Eq '^session[[:space:]]+optional[[:space:]]+pam_k8s\.so' "$ROOT/etc/pam.d/common-session" || fail "common-session lacks pam_k8s"
! grep -q pam_k8s "$ROOT/etc/pam.d/common-session-noninteractive" "$ROOT/etc/pam.d/common-password" ||
	fail "pam_k8s in common-session-noninteractive or common-password"
ok "pam-auth-update --enable k8s: pam_k8s before pam_unix in common-auth, in common-account and common-session"

# The guide's sudo line, exactly as docs/guide.md prints it; pam.md and
# pam_k8s(8) must say the same (spacing and a trailing comment aside).
SUDO_LINE=$(awk '/^```/ { code = !code; next } code && /pam_k8s\.so.*revalidate/ { print; exit }' docs/guide.md)
[ -n "$SUDO_LINE" ] || fail "no pam_k8s.so revalidate line in a code block of docs/guide.md"
squash() { sed 's/#.*//' | tr -s ' \t' '  ' | sed 's/^ //; s/ $//'; }
for f in docs/pam.md docs/man/pam_k8s.8.scd; do
	assert_eq "$(grep -E '^[[:space:]]*-?account[[:space:]].*pam_k8s\.so.*revalidate' "$f" | squash)" "$(squash <<<"$SUDO_LINE")" \
		"$f gives the guide's sudo line"
done
set_sudo_line() {  # the k8s line of /etc/pam.d/sudo becomes $1, before @include common-account
	awk -v line="$1" '/pam_k8s/ { next } /^@include[[:space:]]+common-account/ { print line } { print }' \
		"$ROOT/etc/pam.d/sudo" >"$WORK/pam.sudo" && cat "$WORK/pam.sudo" >"$ROOT/etc/pam.d/sudo" || fail "editing /etc/pam.d/sudo"
	[ "$(grep -Fx -c -- "$1" "$ROOT/etc/pam.d/sudo")" = 1 ] || fail "/etc/pam.d/sudo: $(cat "$ROOT/etc/pam.d/sudo")"
}
set_sudo_line "$SUDO_LINE"
awk -v line="$SUDO_LINE" '$0 == line { k = NR } /^@include[[:space:]]+common-account/ { a = NR } END { exit !(k && a == k + 1) }' "$ROOT/etc/pam.d/sudo" ||
	fail "the line is not right before @include common-account: $(cat "$ROOT/etc/pam.d/sudo")"
ok "/etc/pam.d/sudo: the guide's line before @include common-account: $SUDO_LINE"
out=$(sudo_as localadmin id -un) && [ "$out" = root ] || fail "sudo -n as localadmin, packages installed: $out"
ok "installed: localadmin's sudo -n works (pam_k8s ignores local accounts)"

# files, modes, conffiles, shared libraries
mode() { stat -c '%a %U:%G' "$ROOT$1" 2>/dev/null; }
assert_eq "$(mode /etc/k8s-auth)" "755 root:root" "/etc/k8s-auth 0755 root"
assert_eq "$(mode /etc/k8s-auth/config.yaml)" "644 root:root" "config.yaml 0644 root"
assert_eq "$(mode /var/lib/k8s-auth)" "755 root:root" "/var/lib/k8s-auth 0755 root"
assert_eq "$(mode /var/cache/k8s-auth)" "700 root:root" "/var/cache/k8s-auth 0700 root"
assert_contains "$(in_root dpkg-query -W -f='${Conffiles}' k8s-auth)" "/etc/k8s-auth/config.yaml" "config.yaml is a conffile"
assert_eq "$(mode /usr/libexec/k8s-auth/k8s-auth-helper)" "755 root:root" "the helper: /usr/libexec/k8s-auth/k8s-auth-helper 0755 root"
assert_eq "$(mode /usr/libexec/k8s-auth)" "755 root:root" "/usr/libexec/k8s-auth 0755 root"
assert_eq "$(readelf -d "$ROOT"/lib/*/security/pam_k8s.so | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')" \
	"libc.so.6 libpam.so.0 " "the installed pam_k8s.so needs libc and libpam only"
assert_contains "$(cat "$ROOT/usr/lib/tmpfiles.d/k8s-auth.conf")" "d /run/k8s-auth 0700 root root" "tmpfiles.d: /run/k8s-auth 0700"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
[ -f "$ROOT/lib/$multiarch/security/pam_k8s.so" ] && [ -f "$ROOT/lib/$multiarch/libnss_k8s.so.2" ] &&
	[ -x "$ROOT/usr/sbin/k8s-auth" ] && [ -x "$ROOT/usr/bin/k8s-ssh-askpass" ] || fail "installed paths"
in_root sh -c 'ldd /lib/*/security/pam_k8s.so /usr/sbin/k8s-auth /usr/libexec/k8s-auth/k8s-auth-helper /lib/*/libnss_k8s.so.2' | grep -q 'not found' &&
	fail "unresolved libraries: $(in_root sh -c 'ldd /lib/*/security/pam_k8s.so /usr/sbin/k8s-auth' | grep 'not found')"
for m in man8/pam_k8s.8 man8/nss_k8s.8 man8/k8s-auth.8 man5/k8s-auth.conf.5 man1/k8s-ssh-askpass.1; do
	[ -f "$ROOT/usr/share/man/$m.gz" ] || fail "no man page $m"
done
ok "module paths, libraries resolved by Depends, man pages"
# libssl is dlopen()ed: Depends must bring it, shlibs cannot
in_root sh -c 'ldconfig -p | grep -q "libssl\.so\.3 "' || fail "libssl.so.3 not installed with k8s-auth (Depends)"
ok "libssl.so.3 installed with k8s-auth (dlopen()ed: an explicit Depends)"
# every /usr/share/doc/k8s-auth/ file the man pages, the units, the shipped
# configuration and k8s-auth status name is there, uncompressed
named=$(cd "$ROOT" && { zcat usr/share/man/man*/*k8s*.gz; cat lib/systemd/system/k8s-auth-sync.* etc/k8s-auth/config.yaml; strings usr/sbin/k8s-auth; } 2>/dev/null |
	sed 's/\\-/-/g; s/\\&//g' | grep -o '/usr/share/doc/k8s-auth/[A-Za-z0-9._-]*[A-Za-z0-9]' | sort -u)
[ -n "$named" ] || fail "no /usr/share/doc/k8s-auth/ file named anywhere?"
for f in $named; do
	[ -f "$ROOT$f" ] || fail "$f is named by the installed files but missing (compressed? $(ls "$ROOT$f".gz 2>/dev/null))"
done
ok "the /usr/share/doc/k8s-auth files named by man pages, units, config.yaml and k8s-auth: $(echo $named | sed 's#/usr/share/doc/k8s-auth/##g')"
for f in /etc/apparmor.d/abstractions/nameservice.d/k8s:libnss-k8s /etc/apparmor.d/abstractions/authentication.d/k8s:libpam-k8s; do
	[ -f "$ROOT${f%%:*}" ] || fail "${f%%:*} not installed"
	assert_contains "$(in_root dpkg-query -W -f='${Conffiles}' "${f##*:}")" "${f%%:*}" "${f%%:*}: a conffile of ${f##*:}"
done
if [ -f systemd/k8s-auth-sync.timer ]; then
	[ -f "$ROOT/lib/systemd/system/k8s-auth-sync.service" ] && [ -f "$ROOT/lib/systemd/system/k8s-auth-sync.timer" ] ||
		fail "k8s-auth-sync.service/.timer not installed"
	[ ! -e "$ROOT/etc/systemd/system/timers.target.wants/k8s-auth-sync.timer" ] || fail "the sync timer was enabled by the install"
	ok "systemd: k8s-auth-sync.service and .timer shipped, the timer not enabled"
	[ -f "$ROOT/lib/systemd/system/k8s-auth-sync-watch.service" ] || fail "k8s-auth-sync-watch.service not installed"
	[ ! -e "$ROOT/etc/systemd/system/multi-user.target.wants/k8s-auth-sync-watch.service" ] ||
		fail "the watch service was enabled by the install"
	ok "systemd: k8s-auth-sync-watch.service shipped, not enabled"
fi
grep -q '^store /var/lib/k8s-auth: .*0 accounts' "$WORK/install.log" || { cat "$WORK/install.log"; fail "postinst did not run k8s-auth sync"; }
ok "postinst ran k8s-auth sync with the shipped configuration (no accounts: exit 0)"

# a declared account resolves through libnss_k8s after postinst's sync
cat >"$ROOT/etc/k8s-auth/config.yaml" <<'EOF'
accounts:
  declared: [ops.alice, {name: deploy.bot, uid: 201234}]
  groups:
  - match: '^oidc:ops$'
    local: k8s-ops
EOF
in_root dpkg-reconfigure k8s-auth >"$WORK/reconf.log" 2>&1 || { cat "$WORK/reconf.log"; fail "dpkg-reconfigure k8s-auth"; }
pw=$(in_root getent passwd ops.alice) || fail "getent passwd ops.alice: not found after postinst's sync"
assert_contains "$pw" "ops.alice:*:" "getent passwd ops.alice (through libnss_k8s)"
assert_eq "$(in_root getent passwd 201234 | cut -d: -f1,3,6,7)" "deploy.bot:201234:/home/deploy.bot:/bin/bash" "getent passwd by the pinned uid"
assert_contains "$(in_root getent group k8s-ops)" "k8s-ops:*:" "getent group k8s-ops (a literal accounts.groups target the store defines)"
assert_contains "$(in_root id deploy.bot)" "uid=201234(deploy.bot)" "id deploy.bot"
assert_contains "$(in_root k8s-auth users)" "deploy.bot" "k8s-auth users lists the declared accounts"
lap checks

# The shipped profile in a real setuid su run by an unprivileged user: a
# local account is never asked for a token; a declared account is, and a
# refused token (bootstrap-shaped: refused before any network call) falls
# through to pam_unix and fails.
su_as_nobody() { in_root setpriv --reuid=65534 --regid=65534 --clear-groups su "$1" -c 'echo; id -un' 2>&1; }
in_root useradd -m localbob && printf 'localbob:%s\n' 'Local-pw-42' | in_root chpasswd || fail "useradd localbob"
out=$(printf 'Local-pw-42\n' | su_as_nobody localbob)
[ "$(tail -n 1 <<<"$out")" = localbob ] && ! grep -q 'Kubernetes token' <<<"$out" ||
	fail "local account through the k8s profile: $out"
ok "su to a local account: password only, no token prompt"
out=$(printf 'abcdef.0123456789abcdef\nwrong\n' | su_as_nobody ops.alice)
grep -q 'Kubernetes token (audience' <<<"$out" && grep -q 'Kubernetes token refused' <<<"$out" &&
	! grep -qx ops.alice <<<"$out" || fail "declared account, refused token: $out"
ok "su to a declared account: token prompt; a refused token does not log in"

# The shipped profile ends the attempt on a refused token (default=die):
# no password prompt follows for an account whose password field is `*`.
out=$(printf 'abcdef.0123456789abcdef\nwrong\n' | su_as_nobody ops.alice)
grep -q 'Password' <<<"$out" && fail "a refused token fell through to a password prompt: $out"
ok "refused token ends the attempt: no password prompt after it"

# The guide's line still refuses: ops.alice (declared, a NOPASSWD rule,
# never logged in with a token, so no token session) passes common-account's
# policy without a token, and is refused by the revalidate line.
sed -i '/pam_k8s/d' "$ROOT/etc/pam.d/sudo"
out=$(sudo_as ops.alice id -un) && [ "$out" = root ] || fail "sudo as ops.alice without the revalidate line: $out"
set_sudo_line "$SUDO_LINE"
out=$(sudo_as ops.alice id -un) && fail "sudo as ops.alice without a token session passed the guide's line: $out"
assert_contains "$out" "sudo: PAM account management error: Permission denied" \
	"installed: ops.alice (no token session) gets sudo without the guide's line, is refused with it"
lap pam

# ---------------------------------------------------------------- remove, purge
in_root dpkg -r libpam-k8s libnss-k8s k8s-auth >"$WORK/remove.log" 2>&1 || { cat "$WORK/remove.log"; fail "dpkg -r"; }
same_as_before || fail "nsswitch.conf or /etc/pam.d/common-* differ from before the install, after remove"
ok "remove: nsswitch.conf and /etc/pam.d/common-* byte-identical to before"
[ -f "$ROOT/var/lib/k8s-auth/identities.db" ] || fail "remove (not purge) dropped the identity store"
in_root getent passwd ops.alice >/dev/null && fail "ops.alice still resolves after libnss-k8s was removed"
ok "remove keeps the store; accounts no longer resolve"

# sudo after remove: the guide's line is skipped; the plain `required` line,
# with or without the leading "-", breaks sudo for everyone.
[ ! -e "$ROOT/lib/$multiarch/security/pam_k8s.so" ] || fail "pam_k8s.so still there after remove"
grep -Fxq -- "$SUDO_LINE" "$ROOT/etc/pam.d/sudo" || fail "remove touched /etc/pam.d/sudo"
out=$(sudo_as localadmin id -un)
[ "$out" = root ] || fail "removed: sudo -n as localadmin with the guide's line: $out"
ok "removed: localadmin's sudo -n works with the guide's line, nothing printed (no \"Module is unknown\")"
for bad in 'account required pam_k8s.so revalidate' '-account required pam_k8s.so revalidate'; do
	set_sudo_line "$bad"
	out=$(sudo_as localadmin id -un) && fail "removed: sudo -n passed with \"$bad\": $out"
	assert_contains "$out" "sudo: PAM account management error: Module is unknown" "removed: \"$bad\" breaks sudo for the local admin"
done
set_sudo_line "$SUDO_LINE"
out=$(sudo_as localadmin id -un) && [ "$out" = root ] || fail "removed: the guide's line restored, sudo -n: $out"
ok "removed: the guide's line restored, sudo -n works again"
in_root dpkg -P libpam-k8s libnss-k8s k8s-auth >"$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log"; fail "dpkg -P"; }
same_as_before || fail "nsswitch.conf or /etc/pam.d/common-* differ from before the install, after purge"
for d in /etc/k8s-auth /var/lib/k8s-auth /var/cache/k8s-auth /usr/share/pam-configs/k8s; do
	[ ! -e "$ROOT$d" ] || fail "$d left after purge"
done
ls "$ROOT"/etc/nsswitch.conf.nss.* >/dev/null 2>&1 && fail "dh_installnss marker left in /etc"
left=$(cd "$ROOT" && find etc var lib usr run -path var/cache/apt -prune -o -name '*k8s*' -print 2>/dev/null)
[ -z "$left" ] || fail "files left after purge: $left"
ok "purge: nsswitch.conf and /etc/pam.d/common-* byte-identical; /etc/k8s-auth, store and cache gone"
grep -Fxq -- "$SUDO_LINE" "$ROOT/etc/pam.d/sudo" || fail "purge touched /etc/pam.d/sudo"
out=$(sudo_as localadmin id -un)
[ "$out" = root ] || fail "purged: sudo -n as localadmin with the guide's line: $out"
ok "purged: localadmin's sudo -n works with the guide's line, nothing printed"
lap total
