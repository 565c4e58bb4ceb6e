#!/bin/bash
# pam_k8s in Debian's stock stacks: pam-auth-update enables the profile
# (debian/pam-configs/k8s) next to pam_unix in common-auth,
# common-account and common-session; then the stock `login` stack through
# pamtester, the real setuid `su` run by an unprivileged user, an
# allowExisting local account (token, or an empty answer and its local
# password), root and local users with the cluster unreachable, and
# pam_unix's account check on the store's passwd entries.
. "$(dirname "$0")/../pam/pamlib.sh"
pk_begin -s pamtester
mount -t tmpfs pklog /var/log  # pam_lastlog and friends write here
export PK_HOME=/tmp PK_CONFIG_FILE=/etc/k8s-auth/config.yaml PK_RUNDIR=/run/k8s-auth \
	PK_DECLARED="ops.alice, carol"
pk_write_config
printf '%s\n' '/^  declared:/i\' '  allowExisting: [deploy]' >"$T/allow.sed"
sed -f "$T/allow.sed" /etc/k8s-auth/config.yaml >"$T/cfg" && cat "$T/cfg" >/etc/k8s-auth/config.yaml
pk_debian_stack || exit 1
"$PK_CLI" sync >/dev/null || exit 1
pw="deploy-pw-$RANDOM$RANDOM"
pk_etc_append /etc/passwd "deploy:x:1600:1600:Deploy:/tmp:/bin/bash"
pk_etc_append /etc/group "deploy:x:1600:"
pk_etc_append /etc/shadow "deploy:$(openssl passwd -6 "$pw"):19000:0:99999:7:::"
UID_A=9c2d2e52-8a7b-4c1d-9e2f-00000000000a

pk_check "common-auth: pam_k8s before pam_unix, dying on a refusal" \
	grep -qE '^auth[[:space:]]+\[success=2 ignore=ignore default=die\][[:space:]]+pam_k8s.so' /etc/pam.d/common-auth
pk_check "common-account: pam_k8s required after pam_unix" \
	grep -qE '^account[[:space:]]+required[[:space:]]+pam_k8s.so' /etc/pam.d/common-account
pk_check "common-session: pam_k8s optional; not in the non-interactive one" \
	eval 'grep -q pam_k8s.so /etc/pam.d/common-session && ! grep -q pam_k8s.so /etc/pam.d/common-session-noninteractive'

# ---- the stock login stack (pam_faildelay, pam_nologin, pam_loginuid, ...)
ALL=(authenticate acct_mgmt open_session close_session)
tok=$(pk_sa_token alice "$UID_A")
pk_mark_log
pk_pam login ops.alice "${ALL[@]}" <<<"$tok"
pk_check "login stack: ops.alice with a token (auth, pam_unix + pam_k8s account, session)" test "$PK_RC" = 0 ||
	echo "$PK_OUT"
pk_check "login stack: pam_unix account accepted the store's passwd entry" \
	eval '! pk_new_log | grep -q "pam_unix(login:account)"'
pk_check "login stack: one audit line" test "$(pk_new_log | grep -c 'login:session): login user="ops.alice"')" = 1
pk_pam login ops.alice authenticate <<<"$(pk_sa_token alice "$UID_A" --aud host-login:other)"
pk_check "login stack: wrong-audience token refused" test "$PK_RC" != 0
pk_check "login stack: no password prompt after a refused token" eval '! grep -q "Password:" <<<"$PK_OUT"'
pk_pam login ops.alice authenticate < <(printf '\n\n')
pk_check "login stack: an empty answer falls to pam_unix, which cannot open a store account" \
	eval '[ "$PK_RC" != 0 ] && grep -q "Password:" <<<"$PK_OUT"'

# ---- allowExisting: a local account a token may open, that keeps its password
otok=$(pk_oidc_token deploy --groups team-web)
pk_pam login deploy "${ALL[@]}" <<<"$otok"
pk_check "deploy (allowExisting) with a token" test "$PK_RC" = 0 || echo "$PK_OUT"
pk_pam login deploy authenticate acct_mgmt < <(printf '\n%s\n' "$pw")
pk_check "deploy: empty token answer, then its local password" test "$PK_RC" = 0 || echo "$PK_OUT"
pk_pam login carol authenticate <<<"$(pk_oidc_token deploy)"
pk_check "deploy's token does not open carol" test "$PK_RC" != 0

# ---- real su, run by an unprivileged user (setuid: no sanitizer preload)
SU=1
ldd "$PK_MOD" | grep -q libasan && SU=0 && echo "info: su cases skipped (sanitized module, setuid su)"
pk_su() { # USER CMD: su as nobody, answers on stdin
	PK_OUT=$(setpriv --reuid=65534 --regid=65534 --clear-groups su -s /bin/sh -c "$2" "$1" 2>&1)
	PK_RC=$?
}
if [ $SU = 1 ]; then
pk_su ops.alice 'id -un' <<<"$tok"
pk_check "su ops.alice (by nobody) with a token" eval '[ "$PK_RC" = 0 ] && tail -n 1 <<<"$PK_OUT" | grep -q ": ops.alice$"' ||
	echo "$PK_OUT"
pk_su ops.alice 'id -un' <<<"$otok"
pk_check "su ops.alice with deploy's token: refused" test "$PK_RC" != 0
pk_su deploy 'id -un' < <(printf '\n%s\n' "$pw")
pk_check "su deploy with its local password" eval '[ "$PK_RC" = 0 ] && tail -n 1 <<<"$PK_OUT" | grep -q ": deploy$"' ||
	echo "$PK_OUT"
fi

# ---- throttling: the pam_faillock stack of docs/pam.md
pk_stack k8s-faillock \
	"auth requisite pam_faillock.so preauth deny=3 unlock_time=600" \
	"auth [success=2 ignore=ignore default=1] pam_k8s.so" \
	"auth [success=1 default=ignore] pam_unix.so nullok try_first_pass" \
	"auth [default=die] pam_faillock.so authfail deny=3 unlock_time=600" \
	"auth required pam_faillock.so authsucc deny=3 unlock_time=600" \
	"account required pam_faillock.so"
pk_pam k8s-faillock carol authenticate acct_mgmt <<<"$(pk_oidc_token carol)"
pk_check "faillock stack: a good token logs in" test "$PK_RC" = 0 || echo "$PK_OUT"
for i in 1 2 3; do
	pk_pam k8s-faillock carol authenticate <<<"$(pk_oidc_token carol --aud host-login:other)"
done
pk_pam k8s-faillock carol authenticate <<<"$(pk_oidc_token carol)"
pk_check "faillock stack: after 3 refused tokens, even a good one is turned away" test "$PK_RC" != 0
pk_check "faillock stack: the lock-out happens before any prompt" eval '! grep -q "Kubernetes token" <<<"$PK_OUT"'
pk_pam k8s-faillock ops.alice authenticate <<<"$tok"
pk_check "faillock stack: other users unaffected" test "$PK_RC" = 0

# ---- cluster unreachable: the token users cannot get in, nobody else notices
kill "${PK_BG_PIDS[1]}"
wait "${PK_BG_PIDS[1]}" 2>/dev/null
pk_pam login ops.alice authenticate <<<"$tok"
pk_check "apiserver down: ops.alice refused" test "$PK_RC" != 0
pk_pam login root acct_mgmt open_session close_session </dev/null
pk_check "apiserver down: root's account and session steps pass" test "$PK_RC" = 0
pk_pam login deploy authenticate acct_mgmt < <(printf '\n%s\n' "$pw")
pk_check "apiserver down: deploy by local password" test "$PK_RC" = 0
if [ $SU = 1 ]; then
	pk_su deploy 'id -un' < <(printf '\n%s\n' "$pw")
	pk_check "apiserver down: su deploy by local password" test "$PK_RC" = 0
fi
pk_pam su root authenticate acct_mgmt open_session close_session </dev/null
pk_check "apiserver down: root's su (pam_rootok) unaffected" test "$PK_RC" = 0
pk_done
