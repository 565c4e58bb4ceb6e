#!/bin/bash
# valgrind memcheck on libnss_k8s.so.2 as every process uses it: through
# glibc, installed in a private mount namespace (tests/integration/
# nss_lib.bash), with a base and a delta in the store.  Passes only with
# zero errors, zero leaks of any kind (still-reachable included), and no
# descriptor left open.  The checked process resolves through "k8s" alone:
# glibc's own nss_files keeps a block it never frees, which is not ours.
. "$(dirname "$0")/integration/nss_lib.bash"

command -v valgrind >/dev/null || skip "valgrind not installed"
nss_install "files k8s"
CFG=$TEST_TMP/config.yaml
nss_config "$CFG" "  declared: [dana]"
nss_cli --config "$CFG" sync >/dev/null || fail "sync"
nss_helper login "$CFG" alice tokenreview:uid:a alice@example.com sudo k8s-web:t k8s-ops k8s-x:t ||
	fail "login alice"
nss_helper synced "$CFG" sam k8s-ops || fail "synced sam"
sed -i -E 's/^(passwd|group):.*/\1: k8s/' "$TEST_TMP/nsswitch.new"
cat "$TEST_TMP/nsswitch.new" >/etc/nsswitch.conf

cc -std=gnu11 -O1 -g -Wall -Wextra -Werror -pthread -o "$TEST_TMP/vg" "$REPO/tests/valgrind-nss.c" ||
	fail "build valgrind-nss.c"
LOG=$TEST_TMP/valgrind.log
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
	--track-fds=yes --error-exitcode=99 --log-file="$LOG" \
	"$TEST_TMP/vg" "$TEST_TMP/nss_helper login $CFG late tokenreview:uid:l late@example.com k8s-web:t"
rc=$?
grep -E "ERROR SUMMARY|in use at exit|definitely|indirectly|possibly|still reachable|FILE DESCRIPTORS" "$LOG"
[ "$rc" = 0 ] || { cat "$LOG" >&2; fail "valgrind: exit $rc"; }
grep -q "ERROR SUMMARY: 0 errors" "$LOG" || fail "memcheck errors"
grep -q "in use at exit: 0 bytes in 0 blocks" "$LOG" || { cat "$LOG" >&2; fail "memory in use at exit"; }
# Every descriptor open at exit must be one the process was started with.
opened=$(awk '/Open (file|AF_UNIX socket) descriptor/ {fd = $0; getline; if ($0 !~ /inherited from parent/) print fd}' "$LOG")
[ -z "$opened" ] || { cat "$LOG" >&2; fail "descriptors left open: $opened"; }
ok "memcheck: 0 errors, 0 bytes in use at exit, no descriptor left open"

# First login's pre-authentication path: a private /run with the policy
# naming as sshd what /proc/self/exe is under valgrind: its tool binary
# (root-owned, as the real sshd is).
mount -t tmpfs -o mode=0755 vgrun /run || fail "private /run"
mkdir -m 0700 -p /run/k8s-auth/preauth
tool=$(ls /usr/libexec/valgrind/memcheck-*-linux /usr/lib/*/valgrind/memcheck-*-linux 2>/dev/null | head -n 1)
[ -n "$tool" ] || fail "valgrind's memcheck tool binary not found"
printf 'k8s-preauth-policy 1 200000 999999 200000 999999 %s /bin/bash /home/%%u\n' "$tool" \
	>/run/k8s-auth/preauth/policy
chmod 0600 /run/k8s-auth/preauth/policy
# records of a process that is gone: the served lookup sweeps them
sh -c 'exit 0' & dead=$!
wait "$dead"
printf 'k8s-preauth-served 1 1 gone 200001 200001 /home/gone /bin/bash\n' >"/run/k8s-auth/preauth/p.$dead"
: >"/run/k8s-auth/preauth/.p.$dead.tmp"
chmod 0600 "/run/k8s-auth/preauth/p.$dead" "/run/k8s-auth/preauth/.p.$dead.tmp"
LOG2=$TEST_TMP/valgrind-preauth.log
VG_PREAUTH=firstperson valgrind --tool=memcheck --leak-check=full --show-leak-kinds=all \
	--errors-for-leak-kinds=all --track-fds=yes --error-exitcode=99 --log-file="$LOG2" "$TEST_TMP/vg"
rc=$?
grep -E "ERROR SUMMARY|in use at exit|FILE DESCRIPTORS" "$LOG2"
[ "$rc" = 0 ] || { cat "$LOG2" >&2; fail "valgrind (pre-auth): exit $rc"; }
grep -q "ERROR SUMMARY: 0 errors" "$LOG2" && grep -q "in use at exit: 0 bytes in 0 blocks" "$LOG2" ||
	fail "memcheck errors (pre-auth)"
opened=$(awk '/Open (file|AF_UNIX socket) descriptor/ {fd = $0; getline; if ($0 !~ /inherited from parent/) print fd}' "$LOG2")
[ -z "$opened" ] || { cat "$LOG2" >&2; fail "descriptors left open (pre-auth): $opened"; }
grep -qs " firstperson " /run/k8s-auth/preauth/p.* || fail "the pre-auth path did not run (no served record)"
[ ! -e "/run/k8s-auth/preauth/p.$dead" ] && [ ! -e "/run/k8s-auth/preauth/.p.$dead.tmp" ] ||
	fail "the record of a dead process was not swept"
ok "memcheck, pre-auth path: 0 errors, 0 bytes in use at exit, no descriptor left open, served record written, a dead process's swept"
echo "valgrind-nss: passed"
