#!/bin/bash
# A PAM caller that is not root (a screen locker checking its own user):
# the helper runs with the caller's ids and reads only what the caller may.
# Such a caller may run niced (nice 5 here): it cannot lower its own
# niceness, so neither can the helper it starts, which must start anyway.
# First login's pre-authentication records (/run/k8s-auth/preauth, root
# only) are served to root's sshd alone: such a caller never had one, and
# an unreadable directory must not turn its account phase into a refusal.
# Private mount namespace (tests/pam/pamlib.sh).
. "$(dirname "$0")/../pam/pamlib.sh"
pk_begin pamtester setpriv
pk_write_config
pk_stack k8s-acct "account required MOD CFG" "account required pam_permit.so"
# the caller may read the configuration and what it names
chmod -R a+rX "$T"
mkdir -p /run/k8s-auth/preauth
chmod 700 /run/k8s-auth/preauth
pk_mark_log
out=$(nice -n 5 setpriv --reuid=65534 --regid=65534 --clear-groups pamtester -v k8s-acct nobody acct_mgmt 2>&1)
rc=$?
pk_check "non-root caller, pre-auth directory present: the account phase is not refused (rc $rc)" \
	eval '[ "$rc" = 0 ] && ! pk_new_log | grep -q "pre-authentication"' ||
	{ echo "$out"; pk_new_log | grep pam_k8s | tail -n 3; }
pk_check "niced non-root caller: the helper started and answered" \
	eval '! pk_new_log | grep -q "k8s-auth-helper failed"' || pk_new_log | grep pam_k8s | tail -n 3
pk_done
