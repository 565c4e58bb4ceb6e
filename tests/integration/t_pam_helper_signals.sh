#!/bin/bash
# A user who makes the helper fail on purpose gets a refusal, never a pass
# (the attacks of issue 9's review, through the real setuid sudo):
#   - localadm, an allowExisting account the compiled-in store does not
#     know yet, with no token session: sudo's `revalidate` line refuses;
#   - the same with sudo stopped by its own user (SIGSTOP) while the helper
#     works, past the module's deadline (timeout=3): an answer that is
#     there is still read, and a missing one is a refusal;
#   - SIGKILL sent to the helper the instant it appears (tests/pam/killer.c):
#     it is born with real uid 0, so the user cannot signal it;
#   - a store user under the same attacks: refused.
# Private mount namespace (tests/pam/pamlib.sh).
. "$(dirname "$0")/../pam/pamlib.sh"
pk_begin -s sudo setpriv setuid
export PK_CONFIG_FILE=/etc/k8s-auth/config.yaml PK_RUNDIR=/run/k8s-auth PK_HOME=/tmp
pk_write_config "$(printf 'login:\n  allowRoot: false\n')"
sed -i 's/^  declared:/  allowExisting: [localadm]\n  declared:/' /etc/k8s-auth/config.yaml
pk_debian_stack || exit 1
"$PK_CLI" sync >/dev/null || exit 1
awk '/^@include common-account/ { print "-account [success=ok new_authtok_reqd=ok ignore=ignore module_unknown=ignore default=bad] pam_k8s.so revalidate timeout=3" } { print }' \
	/etc/pam.d/sudo >"$T/sudo.pam" && cat "$T/sudo.pam" >/etc/pam.d/sudo
pk_etc_append /etc/passwd "localadm:x:1600:1600:Local admin:/tmp:/bin/bash"
pk_etc_append /etc/group "localadm:x:1600:"
pk_etc_append /etc/shadow "localadm:*:19000:0:99999:7:::"
mkdir -p "$T/sudoers.d"
printf 'Defaults lecture=never\nlocaladm ALL=(ALL:ALL) NOPASSWD: ALL\nops.bob ALL=(ALL:ALL) NOPASSWD: ALL\n' >"$T/sudoers.d/k8s"
chmod 440 "$T/sudoers.d/k8s"
mount --bind "$T/sudoers.d" /etc/sudoers.d
for t in killer stopper; do
	gcc -O1 -o "$T/$t" "tests/pam/$t.c" || { pk_fail "$t builds"; pk_done; }
done
as() { local u=$1; shift; env -i PATH=/usr/bin:/bin setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --init-groups "$@"; }

grep -q localadm /etc/k8s-auth/config.yaml || pk_fail "config names localadm in allowExisting"
out=$(as localadm /usr/bin/sudo -n id -u 2>&1)
pk_check "localadm (allowExisting, no token session): sudo refused" test "$out" != 0 || echo "$out"
pk_mark_log
start=$(date +%s)
out=$(as localadm "$T/stopper" 5 /usr/bin/sudo -n id -u 2>&1)
pk_check "localadm, sudo stopped 5 s past the 3 s deadline while its helper runs: refused" \
	eval '! grep -qx 0 <<<"$out"' || echo "$out"
pk_new_log | grep -F "pam_k8s" | tail -n 2
for u in localadm ops.bob; do
	passes=0
	for i in 1 2 3 4 5 6 7 8 9 10; do
		out=$(as "$u" "$T/killer" /usr/bin/sudo -n id -u 2>&1)
		! grep -qx 0 <<<"$out" || passes=$((passes + 1))
	done
	pk_check "$u: helper SIGKILLed the instant it appears, 10 tries: never a pass ($passes passed)" test "$passes" = 0
done
pk_check "the kill never reached the helper (born with real uid 0)" eval '! as localadm "$T/killer" /usr/bin/sudo -n id -u 2>&1 | grep -q "kill: delivered"'
out=$(as ops.bob "$T/stopper" 5 /usr/bin/sudo -n id -u 2>&1)
pk_check "ops.bob (store user), sudo stopped past the deadline: refused" eval '! grep -qx 0 <<<"$out"'
pk_done
