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
pk_sshd_start || exit 1
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

pk_done
