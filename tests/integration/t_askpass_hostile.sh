#!/bin/bash
# k8s-ssh-askpass against servers that want something else: the stock ssh
# client talks to a real sshd whose PAM stack asks for a password, shows a
# lookalike of pam_k8s's prompt, or names an audience that is not the
# host's: another host's, the apiserver's own, the client machine's own
# (as if the helper ran under sudo), with a forged "(user@host) " prefix
# to an old client that adds none.  The helper must answer none of them
# and never even run its token command (it leaves a marker file); the
# host comes from the ssh process that runs the helper, never from the
# prompt.  With the honest stack the same client logs in by its ssh
# config alias (Host web-1 / HostName 127.0.0.1), with the default rule
# and with the K8S_ASKPASS_AUDIENCE='host-login:%h' recipe; by address
# only with an askpass.conf entry for it.
. "$(dirname "$0")/../pam/pamlib.sh"
PK_NS_HOSTNAME=client-box  # this machine, as the helper sees it under sudo
pk_begin -s sshd askpass
PK_AUD=host-login:web-1  # what the honest host asks for: its name
PK_SSH_HOST=web-1        # and the client's ssh config alias for it (HostName 127.0.0.1)
export PK_HOME=/tmp PK_CONFIG_FILE=/etc/k8s-auth/config.yaml PK_RUNDIR=/run/k8s-auth PK_DECLARED="ops.alice"
pk_write_config
"$PK_CLI" sync >/dev/null || exit 1
pk_sshd_start || exit 1
tok=$(pk_sa_token alice 1d2e3f40-0000-4000-8000-00000000000a)
printf '%s\n' '#!/bin/sh' "touch $T/fetched" "cat $T/token" >"$T/cmd"
chmod 755 "$T/cmd"
printf '%s\n' "$tok" >"$T/token"
# the default: no K8S_ASKPASS_AUDIENCE, no askpass.conf (XDG_CONFIG_HOME is ours)
export K8S_ASKPASS_COMMAND="$T/cmd %a" XDG_CONFIG_HOME=$T/xdg
unset K8S_ASKPASS_AUDIENCE K8S_ASKPASS_HOST K8S_ASKPASS_CONFIG
mkdir -p "$T/xdg/k8s-auth"
# An ssh client older than 8.x shows the server's prompt without the
# "(user@host) " prefix: the helper exec'd (so ssh stays its parent) with
# the prefix the real client added taken off.
printf '%s\n' '#!/bin/bash' 'exec "$RAW_ASKPASS_BIN" "${1#\(*) }"' >"$T/old-client"
chmod 755 "$T/old-client"

# sshd's stack, auth part replaced
sshd_auth() {
	{
		printf '%s\n' "$@"
		grep -v '^@include common-auth' "$T/pam.d.orig/sshd"
	} >/etc/pam.d/sshd
}
cp -a /etc/pam.d "$T/pam.d.orig"
k8s_prompt() { echo "auth required $PK_MOD config=$PK_CONFIG_FILE [prompt=$1]"; }

hostile() { # DESC EXPECTED-STDERR AUTH-LINES...
	local desc=$1 want=$2
	shift 2
	sshd_auth "$@"
	rm -f "$T/fetched"
	reviews=$(pk_reviews)
	pk_ssh ops.alice id
	if [ "$PK_RC" = 0 ]; then
		pk_fail "$desc: logged in"
	elif [ -e "$T/fetched" ]; then
		pk_fail "$desc: the helper ran the token command"
	elif [ "$(pk_reviews)" != "$reviews" ]; then
		pk_fail "$desc: a token reached the server"
	elif ! grep -qF -- "$want" <<<"$PK_OUT"; then
		pk_fail "$desc: refused, but the helper did not say \"$want\": $PK_OUT"
	else
		pk_ok "$desc: nothing answered, no token minted"
	fi
}
honest() { # DESC: the stock stack, the client logs in
	sshd_auth "auth required $PK_MOD config=$PK_CONFIG_FILE"
	rm -f "$T/fetched"
	pk_ssh ops.alice id -un
	pk_check "$1" eval '[ "$PK_RC" = 0 ] && [ -e "$T/fetched" ] && [ "$(tail -n 1 <<<"$PK_OUT")" = ops.alice ]' ||
		echo "$PK_OUT"
}

NOT="not a pam_k8s prompt"
MINT="refusing to mint a token for audience"
hostile "a password prompt (pam_unix)" "$NOT" "auth required pam_unix.so"
hostile "a lookalike prompt (no trailing space)" "$NOT" "$(k8s_prompt 'Kubernetes token (audience %a):')"
hostile "a lookalike prompt (extra text)" "$NOT" "$(k8s_prompt 'Kubernetes token (audience %a): Password: ')"

# ---- audiences that are not web-1's, with no configuration at all
hostile "another host's audience (host-login:prod-db)" \
	"$MINT host-login:prod-db: for ssh to web-1 (HostName 127.0.0.1) only host-login:web-1, host-login:127.0.0.1 (from the default host-login:%h)" \
	"$(k8s_prompt 'Kubernetes token (audience host-login:prod-db): ')"
hostile "the apiserver's own audience" "$MINT https://kubernetes.default.svc.cluster.local:" \
	"$(k8s_prompt 'Kubernetes token (audience https://kubernetes.default.svc.cluster.local): ')"
hostile "the client machine's own audience (host-login:client-box)" "$MINT host-login:client-box:" \
	"$(k8s_prompt 'Kubernetes token (audience host-login:client-box): ')"
hostile "a look-alike of web-1's audience (host-login:web-1.evil.example)" "$MINT host-login:web-1.evil.example:" \
	"$(k8s_prompt 'Kubernetes token (audience host-login:web-1.evil.example): ')"

# ---- an old client that adds no prefix: the server writes one itself
PK_SSH_ASKPASS=$T/old-client hostile "old client, forged (ops.alice@prod-db) prefix, default rule" \
	"$MINT host-login:prod-db:" "$(k8s_prompt '(ops.alice@prod-db) Kubernetes token (audience host-login:prod-db): ')"
K8S_ASKPASS_AUDIENCE='host-login:%h' PK_SSH_ASKPASS=$T/old-client \
	hostile "old client, forged (ops.alice@prod-db) prefix, K8S_ASKPASS_AUDIENCE=host-login:%h" \
	"$MINT host-login:prod-db:" "$(k8s_prompt '(ops.alice@prod-db) Kubernetes token (audience host-login:prod-db): ')"
PK_SSH_ASKPASS=$T/old-client hostile "old client, no prefix: not taken for sudo (host-login:client-box)" \
	"$MINT host-login:client-box:" "$(k8s_prompt 'Kubernetes token (audience host-login:client-box): ')"

# ---- the honest host
honest "by the ssh config alias web-1 (HostName 127.0.0.1), default rule: logs in"
K8S_ASKPASS_AUDIENCE='host-login:%h' honest "by the alias, K8S_ASKPASS_AUDIENCE=host-login:%h (the guide's recipe): logs in"
PK_SSH_ASKPASS=$T/old-client K8S_ASKPASS_AUDIENCE='host-login:%h' \
	honest "by the alias, old client (no prefix), K8S_ASKPASS_AUDIENCE=host-login:%h: logs in"
PK_SSH_HOST=127.0.0.1 hostile "by address, web-1's own stack: the helper cannot tell it is web-1" \
	"$MINT host-login:web-1: for ssh to 127.0.0.1 only host-login:127.0.0.1" \
	"auth required $PK_MOD config=$PK_CONFIG_FILE"
printf '%s\n' '# the box at 127.0.0.1 is web-1' 'Host 127.0.0.1' '    Audience host-login:web-1' \
	>"$T/xdg/k8s-auth/askpass.conf"
PK_SSH_HOST=127.0.0.1 honest "by address, with askpass.conf Host 127.0.0.1 / Audience host-login:web-1: logs in"
chmod 666 "$T/xdg/k8s-auth/askpass.conf"
PK_SSH_HOST=127.0.0.1 hostile "an askpass.conf others may write: refused" "writable by others: refusing" \
	"auth required $PK_MOD config=$PK_CONFIG_FILE"
pk_done
