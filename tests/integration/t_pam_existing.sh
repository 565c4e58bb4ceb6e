#!/bin/bash
# An accounts.allowExisting account (in /etc/passwd, not the store) opened
# by a token through Debian's stock login stack: the first login binds it
# to the identity and records its mapped groups, which `id` then shows
# through libnss_k8s's initgroups (files serves the passwd entry, once);
# another identity under the same name (a recreated service account) is
# refused with "identity binding mismatch" until `k8s-auth forget`; sync
# keeps the record; forget takes the groups away.  sudo sees the group
# (`sudo -l -U`: a %k8s-ops rule applies to the account).
. "$(dirname "$0")/../pam/pamlib.sh"
pk_begin -s pamtester
export PK_HOME=/tmp PK_CONFIG_FILE=/etc/k8s-auth/config.yaml PK_RUNDIR=/run/k8s-auth PK_DECLARED="carol"
pk_write_config
printf '%s\n' '/^  declared:/i\' '  allowExisting: [ops.deploy]' >"$T/allow.sed"
sed -f "$T/allow.sed" /etc/k8s-auth/config.yaml >"$T/cfg" && cat "$T/cfg" >/etc/k8s-auth/config.yaml
pk_debian_stack || exit 1
"$PK_CLI" sync >/dev/null || exit 1
pk_etc_append /etc/passwd "ops.deploy:x:1600:1600:Deploy:/tmp:/bin/bash"
pk_etc_append /etc/group "ops.deploy:x:1600:"
pk_etc_append /etc/shadow "ops.deploy:*:19000:0:99999:7:::"
UID_A=7e2d2e52-8a7b-4c1d-9e2f-00000000000a
UID_B=7e2d2e52-8a7b-4c1d-9e2f-00000000000b
in_group() { id -nG ops.deploy | tr ' ' '\n' | grep -qx "$1"; }
mkdir -p "$T/sudoers.d"
printf '%s\n' 'Defaults lecture=never' '%k8s-ops ALL=(ALL:ALL) NOPASSWD: /usr/bin/id' >"$T/sudoers.d/k8s"
chmod 440 "$T/sudoers.d/k8s"
mount --bind "$T/sudoers.d" /etc/sudoers.d
sudo_rule() { sudo -l -U ops.deploy 2>&1 | grep -q "NOPASSWD: /usr/bin/id"; }

pk_check "before any login: ops.deploy is not in k8s-ops" eval '! in_group k8s-ops'
pk_check "before any login: no sudo rule for ops.deploy" eval '! sudo_rule'
tok_a=$(pk_sa_token deploy "$UID_A")
pk_pam login ops.deploy authenticate acct_mgmt open_session close_session <<<"$tok_a"
pk_check "identity A opens ops.deploy (allowExisting)" test "$PK_RC" = 0 || echo "$PK_OUT"
pk_check "id: the mapped group is recorded (initgroups through k8s)" in_group k8s-ops ||
	id ops.deploy
pk_check "id: the account's own groups stay" in_group ops.deploy
pk_check "sudo -l -U: the %k8s-ops rule applies" sudo_rule
pk_check "getent passwd ops.deploy: the files entry alone" \
	test "$(getent passwd ops.deploy)" = "ops.deploy:x:1600:1600:Deploy:/tmp:/bin/bash"
pk_check "getent passwd (enumeration): ops.deploy once" \
	test "$(getent passwd | grep -c '^ops\.deploy:')" = 1
pk_check "getent group ops.deploy: files only (no private group from k8s)" \
	test "$(getent group ops.deploy)" = "ops.deploy:x:1600:"
pk_check "getent group k8s-ops lists ops.deploy" eval 'getent group k8s-ops | grep -q "[:,]ops\.deploy\(,\|$\)"'
pk_check "k8s-auth users: source existing, bound to A" \
	eval '"$PK_CLI" users | grep "^ops\.deploy " | grep -q existing'

"$PK_CLI" sync >/dev/null
pk_check "sync keeps the record" in_group k8s-ops

pk_pam login ops.deploy authenticate <<<"$tok_a"
pk_check "identity A again" test "$PK_RC" = 0 || echo "$PK_OUT"

# the service account deleted and created again: same name, another uid
tok_b=$(pk_sa_token deploy "$UID_B")
pk_mark_log
pk_pam login ops.deploy authenticate <<<"$tok_b"
pk_check "identity B under the same name: refused" test "$PK_RC" != 0
pk_check "syslog: identity binding mismatch" eval 'pk_new_log | grep -q "identity binding mismatch"'
pk_check "the token is in no log and not in the store" pk_no_leak "$tok_b"

pk_check "k8s-auth forget ops.deploy" "$PK_CLI" forget ops.deploy
pk_check "after forget: the mapped group is gone" eval '! in_group k8s-ops'
pk_check "after forget: no sudo rule" eval '! sudo_rule'
pk_pam login ops.deploy authenticate acct_mgmt <<<"$tok_b"
pk_check "after forget: identity B opens ops.deploy" test "$PK_RC" = 0 || echo "$PK_OUT"
pk_check "B's login records the group again" in_group k8s-ops
pk_pam login ops.deploy authenticate <<<"$tok_a"
pk_check "now identity A is the one refused" test "$PK_RC" != 0
pk_done
