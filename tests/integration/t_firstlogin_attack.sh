#!/bin/bash
# login.firstLogin attacked by a remote, unauthenticated client (issue 13
# part 1 review), through a real sshd on Debian's stock stack (as in
# t_sshd_firstlogin.sh).
#   - served records must not pile up: libnss_k8s writes p.PID for every
#     sshd process it answers a pre-auth lookup for, as soon as the client
#     names a user.  A client that names a fresh user and leaves before any
#     PAM call (no keyboard-interactive; pam_k8s's sweep runs only in
#     non-auth PAM calls) must not leave a record per connection: /run is a
#     tmpfs with an inode limit (systemd: nr_inodes=800k, size=20%) that
#     sshd, logind and every daemon share.
#   - a passwd service after k8s (sss, ldap, winbind: their packages append
#     themselves to nsswitch.conf as libnss-k8s does, so they land after
#     k8s when installed later) must keep its users: libnss_k8s answering
#     sshd first with a pre-auth entry would hide them, and pam_k8s's
#     account refuses a pre-auth name without a token (all of them locked
#     out).  "files" after k8s stands in for such a service here.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/pam/pamlib.sh
pk_enter_ns "$@"
[ -x /usr/sbin/sshd ] && command -v ssh >/dev/null || pk_skip "openssh not installed"
pk_setup
pk_idp_start
pk_system_install
export PK_HOME=/tmp PK_CONFIG_FILE=/etc/k8s-auth/config.yaml PK_RUNDIR=/run/k8s-auth PK_DECLARED="carol"
pk_write_config 'login:
  firstLogin: true
  allowedGroups: ["oidc:team-people"]'
pk_debian_stack || exit 1
"$PK_CLI" sync >/dev/null || exit 1
pw="local-pw-$RANDOM$RANDOM"
pk_etc_append /etc/passwd "localbob:x:1500:1500:Local Bob:/tmp:/bin/bash"
pk_etc_append /etc/group "localbob:x:1500:"
pk_etc_append /etc/shadow "localbob:$(openssl passwd -6 "$pw"):19000:0:99999:7:::"
pk_sshd_start || exit 1
RAW=$PK_REPO/tests/pam/raw-askpass.sh
PRE=/run/k8s-auth/preauth
served_files() { ls -A "$PRE" 2>/dev/null | grep -v '^policy$'; }

pk_check "the mode is on" test -f "$PRE/policy"
# 30 connections, each naming a new user and leaving after the key is
# refused: sshd resolved the name (pre-auth entry served), no PAM call ran
n=30
for ((i = 0; i < n; i++)); do
	PK_SSH_AUTH=publickey pk_ssh "flood$i-$RANDOM" true
done
left=$(served_files | wc -l)
pk_check "after $n abandoned connections: served records of dead sshd processes are swept without any PAM call ($left left)" \
	test "$left" -le 2
pk_check "the last connection's record is there (records are written, and only dead ones swept)" \
	eval 'grep -qs " flood$((n - 1))-" "$PRE"/p.*'

# ---- a passwd service after k8s
"$PK_CLI" status >"$T/status0" 2>&1
pk_check "control: status has no nsswitch complaint with k8s last" eval '! grep -q firstLogin.nsswitch "$T/status0"'
sed -E 's/^passwd:.*/passwd:         k8s files/' /etc/nsswitch.conf >"$T/nss"
cat "$T/nss" >/etc/nsswitch.conf
pk_mark_log
PK_SSH_ASKPASS=$RAW RAW_PASSWORD=$pw pk_ssh localbob id -u
pk_check "localbob, known to the service after k8s, logs in by password as uid 1500" \
	test "$PK_RC" = 0 -a "$(tail -n 1 <<<"$PK_OUT")" = 1500 ||
	{ echo "$PK_OUT"; pk_new_log | grep -E "pam_k8s|sshd" | tail -n 3; }
pk_check "no pre-auth record for localbob" eval '! grep -qs " localbob " "$PRE"/p.*'
pk_check "k8s-auth status: first login needs k8s last on passwd:" \
	eval '"$PK_CLI" status 2>&1 | grep -q "firstLogin.nsswitch"'

pk_done
