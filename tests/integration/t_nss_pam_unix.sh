#!/bin/bash
# Debian's stock common-account (pam_unix) accepts a store account: its
# passwd entry says "*", so pam_unix needs no shadow entry.  The same stack
# refuses a files account whose "x" points at a shadow entry that is not
# there, which shows the check is real.
. "$(dirname "$0")/nss_lib.bash"

command -v pamtester >/dev/null || skip "pamtester not installed"
[ -f /etc/pam.d/common-account ] || skip "no /etc/pam.d/common-account"
nss_etc_file /etc/passwd
echo "noshadow:x:4242:4242::/nonexistent:/bin/sh" >>/etc/passwd
nss_install "files k8s"
cp -a /etc/pam.d "$TEST_TMP/pam.d"
mount --bind "$TEST_TMP/pam.d" /etc/pam.d || fail "bind /etc/pam.d"
printf 'account include common-account\n' >/etc/pam.d/k8s-nss-test
CFG=$TEST_TMP/config.yaml
nss_config "$CFG"
nss_helper login "$CFG" alice tokenreview:uid:a alice@example.com || fail "login alice"

assert_eq "$(getent passwd alice | cut -d: -f2)" "*" "the store's password field"
getent shadow alice >/dev/null
assert_eq $? 2 "and there is no shadow entry"
pamtester k8s-nss-test alice acct_mgmt >"$TEST_TMP/out" 2>&1 ||
	fail "pam_unix account refused a store account: $(cat "$TEST_TMP/out")"
ok "common-account (pam_unix) accepts the store account, as root"
setpriv --reuid=65534 --regid=65534 --clear-groups pamtester k8s-nss-test alice acct_mgmt \
	>"$TEST_TMP/out" 2>&1 || fail "as nobody: $(cat "$TEST_TMP/out")"
ok "and for an unprivileged caller"
if pamtester k8s-nss-test noshadow acct_mgmt >"$TEST_TMP/out" 2>&1; then
	fail "pam_unix accepted an 'x' account without a shadow entry: the check proves nothing"
fi
ok "the same stack refuses 'x' without a shadow entry"
pamtester k8s-nss-test nosuchuser acct_mgmt >/dev/null 2>&1 && fail "unknown user accepted"
ok "and an unknown user"
echo "t_nss_pam_unix: all passed"
