#!/bin/bash
# Real sudo (setuid, the stock /etc/pam.d/sudo plus pam_k8s's revalidate
# line, written as the guide writes it so that removing the packages cannot
# break sudo) inside real ssh logins: %group NOPASSWD rules work for mapped
# groups (an existing group, sudo, and a store-defined one, k8s-ops); a
# non-member is refused; sudo re-validates the session's token every time
# (TokenReview without the cache, or the JWT's expiry offline), so a
# deleted service account or an expired token stops sudo inside a session
# that is still open; a key login has no token and gets no sudo; local
# users' sudo is untouched.  The cluster is tests/fakecluster; the same
# story against a real kube-apiserver is t_sudo_kube.sh.
. "$(dirname "$0")/../pam/pamlib.sh"
pk_begin -s sshd sudo askpass setuid
export PK_HOME=/tmp PK_CONFIG_FILE=/etc/k8s-auth/config.yaml PK_RUNDIR=/run/k8s-auth PK_DECLARED="ops.alice, ops.bob, carol, erin"
export PK_CACHE_TTL=2m
pk_write_config
pk_debian_stack || exit 1
"$PK_CLI" sync >/dev/null || exit 1
# sudo's stack: re-validate the caller's token before common-account
awk '/^@include common-account/ { print "-account [success=ok new_authtok_reqd=ok ignore=ignore module_unknown=ignore default=bad] pam_k8s.so revalidate" } { print }' \
	/etc/pam.d/sudo >"$T/sudo.pam" && cat "$T/sudo.pam" >/etc/pam.d/sudo
mkdir -p "$T/sudoers.d"
cat >"$T/sudoers.d/k8s" <<'EOF'
Defaults lecture=never
%sudo ALL=(ALL:ALL) NOPASSWD: ALL
%k8s-ops ALL=(ALL:ALL) NOPASSWD: ALL
EOF
chmod 440 "$T/sudoers.d/k8s"
mount --bind "$T/sudoers.d" /etc/sudoers.d
pk_etc_append /etc/passwd "localbob:x:1500:1500:Local Bob:/tmp:/bin/bash"
pk_etc_append /etc/group "localbob:x:1500:"
pk_etc_append /etc/shadow "localbob:*:19000:0:99999:7:::"
pk_sshd_start || exit 1
mkdir -m 1777 "$T/shared"
pk_authorize_key ops.bob
pk_authorize_key localbob
UID_A=5b1d2e52-8a7b-4c1d-9e2f-00000000000a
UID_B=5b1d2e52-8a7b-4c1d-9e2f-00000000000b
export K8S_ASKPASS_COMMAND="cat $T/next-token"
next_token() { printf '%s\n' "$1" >"$T/next-token"; }

# sudo_in_session USER TOKEN ACTION [LATER]: log in, run `sudo -n id -u`,
# let the test do ACTION while the session stays open, run LATER (default:
# sudo again).  Prints the remote output; PK_RC is ssh's.
sudo_in_session() {
	local user=$1 action=$3 later=${4:-sudo -n id -u} i
	next_token "$2"
	rm -f "$T/shared/go" "$T/shared/first"
	{
		pk_ssh "$user" "sudo -n id -u; touch $T/shared/first; i=0; while [ ! -e $T/shared/go ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done; $later"
		printf '%s\n' "$PK_OUT"
	} &
	local pid=$!
	for ((i = 0; i < 200; i++)); do
		[ -e "$T/shared/first" ] && break
		sleep 0.1
	done
	eval "$action"
	touch "$T/shared/go"
	wait "$pid"
}

# ---- a mapped existing group (oidc:platform-admins -> sudo)
groups=platform-admins,team-db
next_token "$(pk_oidc_token carol --groups "$groups")"
pk_ssh carol 'id; sudo -n id -u'
pk_check "carol (platform-admins -> sudo): \`sudo -n id -u\` prints 0" \
	test "$PK_RC" = 0 -a "$(tail -n 1 <<<"$PK_OUT")" = 0
pk_check "carol's id lists sudo and k8s-db" eval 'grep -q "27(sudo)" <<<"$PK_OUT" && grep -q "(k8s-db)" <<<"$PK_OUT"'

# ---- a non-member
next_token "$(pk_oidc_token erin --groups team-web)"
pk_ssh erin 'sudo -n id -u'
pk_check "erin (no mapped sudo group): refused" test "$PK_RC" != 0 -a "$(tail -n 1 <<<"$PK_OUT")" != 0

# ---- a store-defined group through TokenReview (system:serviceaccounts:ops -> k8s-ops)
next_token "$(pk_sa_token alice "$UID_A")"
pk_ssh ops.alice 'id; sudo -n id -u'
pk_check "ops.alice (k8s-ops): \`sudo -n id -u\` prints 0" \
	test "$PK_RC" = 0 -a "$(tail -n 1 <<<"$PK_OUT")" = 0

# ---- the service account is deleted while ops.alice is logged in
pk_mark_log
tokA=$(pk_sa_token alice "$UID_A")
reviews=$(pk_reviews)
out=$(sudo_in_session ops.alice "$tokA" 'pk_fc sa delete ops/alice')
pk_check "before the deletion: sudo works" test "$(head -n 1 <<<"$out")" = 0
pk_check "after the deletion, same session: sudo refused" test "$(tail -n 1 <<<"$out")" != 0
pk_check "logged: revalidation refused by the apiserver" \
	eval 'pk_new_log | grep -F "revalidation refused" | grep -qF "user=\"ops.alice\""'
# the review cache (cacheTTL 2m here) held the login's answer; each sudo asked again
pk_check "every sudo asked the apiserver (login + 2 sudo = 3 reviews)" \
	test "$(pk_reviews)" = $((reviews + 3))
pk_sa_ensure alice "$UID_A"

# ---- the same revocation, with sudo started by a caller who chose limits
# and a signal mask to break the module: RLIMIT_FSIZE 0, RLIMIT_NOFILE 4,
# every signal blocked.  Refused every time (the helper cannot start, or
# it asks the cluster and is told no): never a pass because something failed.
printf '%s\n' '#!/usr/bin/python3' 'import os, resource, signal' \
	'signal.pthread_sigmask(signal.SIG_BLOCK, set(range(1, signal.NSIG)) - {signal.SIGKILL, signal.SIGSTOP})' \
	'resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))' 'resource.setrlimit(resource.RLIMIT_NOFILE, (4, 4))' \
	'os.execv("/usr/bin/sudo", ["sudo", "-n", "id", "-u"])' >"$T/shared/hostile-sudo"
chmod 755 "$T/shared/hostile-sudo"
out=$(sudo_in_session ops.alice "$(pk_sa_token alice "$UID_A")" 'pk_fc sa delete ops/alice' \
	"for i in 1 2 3 4 5; do $T/shared/hostile-sudo 2>/dev/null; echo \"rc=\$?\"; done")
pk_check "hostile limits: sudo worked before the deletion" test "$(head -n 1 <<<"$out")" = 0
pk_check "hostile limits, SA deleted: refused 5 times out of 5" \
	test "$(grep -c '^rc=[1-9]' <<<"$out")" = 5 -a "$(grep -cx 0 <<<"$out")" = 1 || echo "$out"
pk_sa_ensure alice "$UID_A"

# ---- an OIDC token that expires while the session is open (offline re-check);
# 20 s: the login before the first sudo must fit in it on a loaded machine
out=$(sudo_in_session carol "$(pk_oidc_token carol --groups platform-admins --lifetime 20)" 'sleep 21')
pk_check "OIDC token valid: sudo works" test "$(head -n 1 <<<"$out")" = 0
pk_check "OIDC token expired, same session: sudo refused" test "$(tail -n 1 <<<"$out")" != 0

out=$(sudo_in_session carol "$(pk_oidc_token carol --groups platform-admins --lifetime 600)" ':')
pk_check "carol again, fresh token: sudo works twice" \
	test "$(head -n 1 <<<"$out")" = 0 -a "$(tail -n 1 <<<"$out")" = 0

# ---- a key login has no token: no sudo through k8s groups
next_token "$(pk_sa_token bob "$UID_B")"
pk_ssh ops.bob 'id -u'
pk_check "ops.bob logs in once with a token (store learns k8s-ops)" test "$PK_RC" = 0
PK_SSH_AUTH=publickey pk_ssh ops.bob 'id; sudo -n id -u'
pk_check "ops.bob by key: id shows k8s-ops (store, NSS)" grep -q "(k8s-ops)" <<<"$PK_OUT" || echo "$PK_OUT"
pk_check "ops.bob by key: sudo refused (no token to re-validate)" test "$(tail -n 1 <<<"$PK_OUT")" != 0

# ---- local users: untouched (sudo group membership from /etc/group)
mkdir -p "$T/etcfiles"
sed 's/^\(sudo:x:27:.*\)$/\1,localbob/; s/^sudo:x:27:,localbob$/sudo:x:27:localbob/' /etc/group >"$T/group2"
cat "$T/group2" >"$T/etcfiles/_etc_group"
PK_SSH_AUTH=publickey pk_ssh localbob 'sudo -n id -u'
pk_check "localbob (local, in sudo): sudo works with pam_k8s in the stack" \
	test "$PK_RC" = 0 -a "$(tail -n 1 <<<"$PK_OUT")" = 0 || echo "$PK_OUT"

for ((i = 0; i < 40; i++)); do [ -z "$(pk_state_files /run/k8s-auth)" ] && break; sleep 0.05; done
pk_check "no session state left after all logouts" test -z "$(pk_state_files /run/k8s-auth)"
pk_done
