#!/bin/bash
# A token typed at sudo's own prompt is held to what sudo's re-validation
# demands (issue 9's review, finding 1): `group=` on sudo's account line,
# and login.sudoSubjectAccessReview.  The same token in a token session
# (re-validation) and at sudo's prompt (sudo -A) give the same answer.
# Private mount namespace (tests/pam/pamlib.sh).
. "$(dirname "$0")/../pam/pamlib.sh"
pk_begin -s sudo setpriv setuid
export PK_CONFIG_FILE=/etc/k8s-auth/config.yaml PK_RUNDIR=/run/k8s-auth PK_HOME=/tmp
pk_write_config
pk_debian_stack || exit 1
"$PK_CLI" sync >/dev/null || exit 1
cp /etc/pam.d/sudo "$T/sudo.orig"
sudo_line() { # ARGS: sudo's account line gets these arguments
	awk -v a="$*" '/^@include common-account/ { print "-account [success=ok new_authtok_reqd=ok ignore=ignore module_unknown=ignore default=bad] pam_k8s.so revalidate " a } { print }' \
		"$T/sudo.orig" >/etc/pam.d/sudo
}
mkdir -p "$T/sudoers.d"
printf '%s\n' 'Defaults lecture=never, passwd_tries=1' '%k8s-ops ALL=(ALL:ALL) NOPASSWD: /usr/bin/whoami' \
	'%k8s-ops ALL=(ALL:ALL) /usr/bin/id' >"$T/sudoers.d/k8s"
chmod 440 "$T/sudoers.d/k8s"
mount --bind "$T/sudoers.d" /etc/sudoers.d
sars() { "$PK_PY" -c 'import json,sys; print(json.load(open(sys.argv[1])).get("/apis/authorization.k8s.io/v1/subjectaccessreviews",0))' "$T/idp/requests.json" 2>/dev/null || echo 0; }
tok=$(pk_oidc_token erin --groups team-ops --alg ES256 --size 500)
pk_pam login erin authenticate <<<"$tok"
pk_check "erin logs in once (the store learns k8s-ops)" test "$PK_RC" = 0
EU=$(id -u erin) EG=$(id -g erin)
printf '#!/bin/sh\ncat %s/tok\n' "$T" >"$T/ask"
printf '%s\n' "$tok" >"$T/tok"
chmod 755 "$T/ask"
chmod 644 "$T/tok"
at_prompt() { env -i PATH=/usr/bin:/bin SUDO_ASKPASS="$T/ask" setpriv --reuid="$EU" --regid="$EG" --init-groups \
	sudo -A -k id -u </dev/null 2>&1; }
in_session() { printf '%s\n' "$tok" | env -i PATH=/usr/bin:/bin setpriv --reuid="$EU" --regid="$EG" --init-groups \
	su erin -c 'sudo -n whoami' 2>&1; }

sudo_line
pk_check "control: the token at sudo's prompt gets erin root" eval 'at_prompt | grep -qx 0'
out=$(in_session); pk_check "control: in a token session, sudo -n works" grep -qE '(^|: )root$' <<<"$out" || { echo "$out"; tail -5 $T/syslog; }

sudo_line group=sudo
out=$(in_session)
pk_check "group=sudo, token session: refused (k8s-ops is not sudo)" eval '! grep -qE "(^|: )root\$" <<<"$out"' 
pk_mark_log
pk_check "group=sudo, token at sudo's prompt: refused too" eval '! at_prompt | grep -qx 0'
pk_check "...saying which group is missing" eval 'pk_new_log | grep -q "not in a required group"'

sudo_line
sed -i 's/^login:$/login:\n  sudoSubjectAccessReview: {verb: sudo, group: pam-k8s.io, resource: hosts, name: "%h"}/' /etc/k8s-auth/config.yaml
grep -q sudoSubjectAccessReview /etc/k8s-auth/config.yaml ||
	printf 'login:\n  sudoSubjectAccessReview: {verb: sudo, group: pam-k8s.io, resource: hosts, name: "%%h"}\n' >>/etc/k8s-auth/config.yaml
s0=$(sars)
# the fake cluster has no SubjectAccessReview endpoint: every review is
# unanswered, which refuses; what matters is that it is asked
pk_check "sudoSubjectAccessReview, token at sudo's prompt: refused" eval '! at_prompt | grep -qx 0'
pk_check "...and the SubjectAccessReview was asked" test "$(sars)" -gt "$s0"
pk_done
