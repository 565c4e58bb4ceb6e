#!/bin/bash
# k8s-ssh-askpass against servers that want something else: the stock ssh
# client talks to a real sshd whose PAM stack asks for a password, shows a
# lookalike of pam_k8s's prompt, or names another host's audience.  The
# helper must answer none of them and never even fetch a token; with the
# honest stack the same client logs in.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/pam/pamlib.sh
pk_enter_ns "$@"
[ -x /usr/sbin/sshd ] && command -v ssh >/dev/null || pk_skip "openssh not installed"
[ -x "$PK_ASKPASS" ] || pk_skip "$PK_ASKPASS not built"
pk_setup
pk_idp_start
pk_system_install
PK_AUD=host-login:127.0.0.1  # what the honest host asks for: the name ssh connects to
export PK_HOME=/tmp PK_CONFIG_FILE=/etc/k8s-auth/config.yaml PK_RUNDIR=/run/k8s-auth PK_DECLARED="ops.alice"
pk_write_config
"$PK_CLI" sync >/dev/null || exit 1
pk_sshd_start || exit 1
tok=$(pk_sa_token alice 1d2e3f40-0000-4000-8000-00000000000a)
printf '%s\n' '#!/bin/sh' "touch $T/fetched" "cat $T/token" >"$T/cmd"
chmod 755 "$T/cmd"
printf '%s\n' "$tok" >"$T/token"
export K8S_ASKPASS_COMMAND="$T/cmd %a" K8S_ASKPASS_AUDIENCE='host-login:%h'

# sshd's stack, auth part replaced
sshd_auth() {
	{
		printf '%s\n' "$@"
		grep -v '^@include common-auth' "$T/pam.d.orig/sshd"
	} >/etc/pam.d/sshd
}
cp -a /etc/pam.d "$T/pam.d.orig"

hostile() { # DESC AUTH-LINES...
	local desc=$1
	shift
	sshd_auth "$@"
	rm -f "$T/fetched"
	pk_mark_log
	reviews=$(pk_reviews)
	pk_ssh ops.alice id
	if [ "$PK_RC" = 0 ]; then
		pk_fail "$desc: logged in"
	elif [ -e "$T/fetched" ]; then
		pk_fail "$desc: the helper fetched a token"
	elif [ "$(pk_reviews)" != "$reviews" ]; then
		pk_fail "$desc: a token reached the server"
	else
		pk_ok "$desc: nothing answered, no token fetched"
	fi
}

hostile "a password prompt (pam_unix)" "auth required pam_unix.so"
hostile "a lookalike prompt (no trailing space)" \
	"auth required $PK_MOD config=$PK_CONFIG_FILE [prompt=Kubernetes token (audience %a):]"
hostile "a lookalike prompt (extra text)" \
	"auth required $PK_MOD config=$PK_CONFIG_FILE [prompt=Kubernetes token (audience %a): Password: ]"
hostile "another host's audience (host-login:prod-db)" \
	"auth required $PK_MOD config=$PK_CONFIG_FILE [prompt=Kubernetes token (audience host-login:prod-db): ]"

sshd_auth "auth required $PK_MOD config=$PK_CONFIG_FILE"
rm -f "$T/fetched"
pk_ssh ops.alice id -un
pk_check "the honest stack: the same client logs in" \
	eval '[ "$PK_RC" = 0 ] && [ -e "$T/fetched" ] && [ "$(tail -n 1 <<<"$PK_OUT")" = ops.alice ]' || echo "$PK_OUT"
pk_done
