#!/bin/bash
# Issue 14.3 through the real PAM stack (pamtester, the helper's syslog
# lines): messages that say what to fix.  A broken configuration: the log
# line names the user and the file and key, the person at the prompt hears
# only the generic "could not be verified now" (a user who is not the
# store's hears nothing).  An expired token, a wrong audience and a JWT
# whose issuer nearly matches a jwt issuer (sent to TokenReview, refused):
# the log line says when, which audience, which issuer, never the token.
# Private mount namespace (tests/pam/pamlib.sh).
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/pam/pamlib.sh
pk_enter_ns "$@"
command -v pamtester >/dev/null || pk_skip "pamtester not installed"
pk_setup
pk_idp_start
pk_private_store
pk_write_config
pk_stack k8s-test "auth required MOD CFG"
UID_A=5a1c0e52-8a7b-4c1d-9e2f-0000000000a1
utc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
refusal() { pk_new_log | grep 'auth refused user="carol"'; }

# ---- refusals: the log line says what to fix
now=$(date +%s)
tok=$(pk_oidc_token carol --iat-offset -14400 --lifetime 2880)
pk_mark_log
pk_pam k8s-test carol authenticate <<<"$tok"
pk_check "expired OIDC token refused" test "$PK_RC" != 0
pk_check "...the person hears the generic refusal" grep -qF "Kubernetes token refused." <<<"$PK_OUT"
line=$(refusal)
pk_check "...the log says when it expired, in UTC, and how long ago: $line" \
	grep -qE "reason=\"token expired\" detail=\"token expired at $(utc $((now - 11520)) | cut -c1-15)[0-9:]+Z, 3h1[12]m ago\"" <<<"$line"
pk_check "...token never logged" pk_no_leak "$tok"

tok=$(pk_oidc_token carol --aud someone-else)
pk_mark_log
pk_pam k8s-test carol authenticate <<<"$tok"
line=$(refusal)
pk_check "wrong audience: the log shows the token's aud and the expected one: $line" \
	grep -qF "reason=\"wrong audience\" detail=\"the token's aud is [\\x22someone-else\\x22]; expected \\x22$PK_AUD\\x22\"" <<<"$line"

tok=$(pk_oidc_token carol --iss "$PK_ISS/")
pk_mark_log
pk_pam k8s-test carol authenticate <<<"$tok"
pk_check "issuer with a trailing slash: refused" test "$PK_RC" != 0
line=$(refusal)
pk_check "...the log says no jwt issuer matched and names the near miss: $line" \
	grep -qF "reason=\"token rejected by the apiserver (no jwt issuer matched)\" detail=\"the token's iss \\x22$PK_ISS/\\x22 matches no jwt issuer; nearest: jwt issuer \\x22$PK_ISS\\x22, which differs by a trailing slash; status.error: " <<<"$line"
pk_check "...token never logged" pk_no_leak "$tok"

# ---- a broken configuration
tok=$(pk_sa_token alice "$UID_A")
pk_pam k8s-test ops.alice authenticate <<<"$tok"
pk_check "ops.alice logs in (and is now in the store)" test "$PK_RC" = 0
pk_write_config "sesion: {}"
pk_mark_log
pk_pam k8s-test ops.alice authenticate <<<"$tok"
pk_check "broken configuration: ops.alice refused" test "$PK_RC" != 0
pk_check "...hears the generic message: $PK_OUT" grep -qF "Kubernetes token could not be verified now." <<<"$PK_OUT"
pk_check "...and nothing of the configuration" eval '! grep -qE "sesion|config.yaml|unknown key" <<<"$PK_OUT"'
pk_check "...the log names the user, the file and the key" \
	grep -qF "configuration unusable (configuration error): $T/config.yaml: sesion: unknown key; user=\"ops.alice\" (a store user: refused until the configuration is fixed; k8s-auth status shows every problem)" \
	<<<"$(pk_new_log)"
pk_mark_log
pk_pam k8s-test nobody authenticate </dev/null
pk_check "broken configuration: a user not the store's hears nothing from pam_k8s" \
	eval '! grep -qF "Kubernetes token" <<<"$PK_OUT"'
pk_check "...and the log says it was left to the other modules" \
	grep -qF "sesion: unknown key; user=\"nobody\" (not a store user: left to the other modules)" <<<"$(pk_new_log)"
pk_done
