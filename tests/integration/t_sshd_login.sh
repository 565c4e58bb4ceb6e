#!/bin/bash
# A real sshd (own config, loopback port, keyboard-interactive through PAM)
# on Debian's stock sshd stack with pam_k8s enabled by the real
# pam-auth-update, libnss_k8s resolving the accounts, and the stock ssh
# client with k8s-ssh-askpass as SSH_ASKPASS.  Logins with a 1.2 KB
# service-account token and a 3 KB OIDC token (remote `id` shows the
# mapped groups); refusals (another user's, expired, other audience,
# rebound, apiserver down/black-holed); boundary sizes framed and
# unframed; local accounts and root with the apiserver down.  All in a
# private mount namespace (tests/pam/pamlib.sh).
. "$(dirname "$0")/../pam/pamlib.sh"
pk_begin -s sshd askpass
export PK_HOME=/tmp PK_CONFIG_FILE=/etc/k8s-auth/config.yaml PK_RUNDIR=/run/k8s-auth PK_DECLARED="ops.alice, ops.bob, carol, erin"
pk_write_config
pk_debian_stack || exit 1
"$PK_CLI" sync >/dev/null || exit 1
# a local account with a password, for break-glass
pw="local-pw-$RANDOM$RANDOM"
pk_etc_append /etc/passwd "localbob:x:1500:1500:Local Bob:/tmp:/bin/bash"
pk_etc_append /etc/group "localbob:x:1500:"
pk_etc_append /etc/shadow "localbob:$(openssl passwd -6 "$pw"):19000:0:99999:7:::"
pk_sshd_start || exit 1
pk_authorize_key root
UID_A=7a0c2e52-8a7b-4c1d-9e2f-00000000000a
UID_A2=7a0c2e52-8a7b-4c1d-9e2f-0000000000a2
UID_B=7a0c2e52-8a7b-4c1d-9e2f-00000000000b
RAW=$PK_REPO/tests/pam/raw-askpass.sh
fp() { printf '%s' "$1" | sha256sum | cut -c1-16; }

# k8s-ssh-askpass gets its token from a command: here a file the test fills.
export K8S_ASKPASS_COMMAND="cat $T/next-token"
next_token() { printf '%s\n' "$1" >"$T/next-token"; }

# login_ok DESC USER TOKEN GREP...: ssh USER id succeeds and shows each GREP
login_ok() {
	local desc=$1 user=$2 g
	next_token "$3"
	shift 3
	pk_ssh "$user" id
	if [ "$PK_RC" != 0 ]; then
		pk_fail "$desc: rc=$PK_RC $(tail -n 3 <<<"$PK_OUT")"
		return 1
	fi
	for g in "$@"; do
		grep -qE -- "$g" <<<"$PK_OUT" || {
			pk_fail "$desc: id lacks $g: $PK_OUT"
			return 1
		}
	done
	pk_ok "$desc (${PK_MS} ms)"
}

# refused_raw DESC USER TOKEN [REASON]: a client that sends anything
# (tests/pam/raw-askpass.sh) is refused by the server.
refused_raw() {
	local desc=$1 user=$2 reason=${4-}
	printf '%s' "$3" >"$T/raw-token"
	pk_mark_log
	PK_SSH_ASKPASS=$RAW RAW_TOKEN_FILE=$T/raw-token pk_ssh "$user" id
	if [ "$PK_RC" = 0 ]; then
		pk_fail "$desc: logged in"
	elif [ -n "$reason" ] && ! pk_new_log | grep -F 'auth refused' | grep -qF "reason=\"$reason"; then
		pk_fail "$desc: refused, but not for \"$reason\": $(pk_new_log | grep -F pam_k8s | tail -n 2)"
	else
		pk_ok "$desc: refused${reason:+ ($reason)} (${PK_MS} ms)"
	fi
}

# ---- logins
tok=$(pk_sa_token alice "$UID_A" --pod payments-api-7d9f8b6c5-x2x4z \
	--node ip-10-0-12-34.eu-west-1.compute.internal)
pk_check "SA token is 1.0-1.3 KB (${#tok})" test "${#tok}" -ge 1000 -a "${#tok}" -le 1300
pk_mark_log
login_ok "ssh with a ${#tok}-byte SA token" ops.alice "$tok" '\(ops\.alice\)' '\(k8s-ops\)'
pk_check "sshd audit line names the SA, pod and rhost" \
	eval 'pk_new_log | grep "sshd:session): login user=\"ops.alice\"" | grep -F "token=\"$(fp "$tok")\"" | grep -F "pod=\"ops/payments-api" | grep -qF "rhost=\"127.0.0.1\""'
pk_check "token never logged, never in the store" pk_no_leak "$tok"
pk_check "sshd's own log has no token" eval '! grep -qF "${tok##*.}" "$T/sshd.log"'
for ((i = 0; i < 40; i++)); do [ -z "$(pk_state_files /run/k8s-auth)" ] && break; sleep 0.05; done
pk_check "session state removed at logout" test -z "$(pk_state_files /run/k8s-auth)"
pk_check "askpass cache empty after the login" test -z "$(ls -A "$T/askpass-cache")"

groups=platform-admins,team-db
for i in $(seq 1 85); do groups="$groups,org-unit-$i-readers"; done
otok=$(pk_oidc_token carol --groups "$groups")
pk_check "OIDC token is 2.8-3.5 KB (${#otok})" test "${#otok}" -ge 2800 -a "${#otok}" -le 3500
login_ok "ssh with a ${#otok}-byte OIDC token" carol "$otok" '\(carol\)' '27\(sudo\)' '\(k8s-db\)'

# ---- refusals (the client sends them; the server must say no)
refused_raw "alice's token for ops.bob" ops.bob "$tok" "token is for another user"
refused_raw "expired SA token" ops.alice "$(pk_sa_token alice "$UID_A" --iat-offset -1200 --lifetime 600)"
refused_raw "SA token for another audience" ops.alice \
	"$(pk_mint --sub system:serviceaccount:ops:alice --aud host-login:other --sa-uid "$UID_A")"
refused_raw "OIDC token for another audience" carol "$(pk_oidc_token carol --aud host-login:other)"
refused_raw "ops.alice after the SA was recreated (new uid)" ops.alice "$(pk_sa_token alice "$UID_A2")" \
	"identity binding mismatch"
# and k8s-ssh-askpass itself will not hand out a token minted for another audience
next_token "$(pk_mint --sub system:serviceaccount:ops:alice --aud host-login:other --sa-uid "$UID_A")"
reviews=$(pk_reviews)
pk_ssh ops.alice id
pk_check "askpass keeps a wrong-audience token to itself (no review)" \
	eval '[ "$PK_RC" != 0 ] && [ "$(pk_reviews)" = "$reviews" ]'

# ---- boundary sizes: k8s-ssh-askpass frames them all; unframed, ssh cuts
# at 1023 and the server never mistakes the cut for a token.
for n in 511 512 1023 1024 4095 4096; do
	t=$(pk_oidc_token erin --alg ES256 --size "$n")
	login_ok "$n-byte token via k8s-ssh-askpass" erin "$t" '\(erin\)'
	case $n in
	512) want=ok ;;
	*) want=refused ;;  # 511, 1023: cut lengths; longer: cut by ssh at 1023
	esac
	printf '%s' "$t" >"$T/raw-token"
	pk_mark_log
	PK_SSH_ASKPASS=$RAW RAW_MODE=unframed RAW_TOKEN_FILE=$T/raw-token pk_ssh erin id
	if [ $want = ok ]; then
		pk_check "$n bytes unframed: logs in" test "$PK_RC" = 0
	else
		pk_check "$n bytes unframed: refused as possibly cut" \
			eval '[ "$PK_RC" != 0 ] && pk_new_log | grep -qF "may have been cut by the client"'
	fi
done

# ---- break-glass: the apiserver black-holed, then down
pk_ssh_root() { PK_SSH_AUTH=publickey pk_ssh root id -u; }
pk_ssh_root
pk_check "root by key (apiserver up)" test "$PK_RC" = 0 -a "$(tail -n 1 <<<"$PK_OUT")" = 0
idp_port=${PK_URL##*:}
kill "${PK_BG_PIDS[1]}"
wait "${PK_BG_PIDS[1]}" 2>/dev/null
pk_bg "$T/hole.out" "$PK_PY" -c "
import os, socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $idp_port)); s.listen(16); print('READY', flush=True)
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
conns = []
while True:
    conns.append(s.accept()[0])
" || exit 1
tokb=$(pk_sa_token bob "$UID_B")
next_token "$tokb"
pk_mark_log
pk_ssh ops.bob id
pk_check "black-holed apiserver: ops.bob refused within timeout 2 s + 1 s (${PK_MS} ms for the whole ssh)" \
	test "$PK_RC" != 0 -a "$PK_MS" -lt 3000
pk_check "black-holed apiserver: logged as unavailable" \
	eval 'pk_new_log | grep -F "auth refused" | grep -qF "status=\"unavailable\""'
kill "${PK_BG_PIDS[-1]}"
wait "${PK_BG_PIDS[-1]}" 2>/dev/null
pk_ssh ops.bob id
pk_check "apiserver down: ops.bob refused (${PK_MS} ms)" test "$PK_RC" != 0 -a "$PK_MS" -lt 3000
pk_mark_log
login_ok "apiserver down: OIDC token still verified offline (cached JWKS)" carol "$otok" '\(carol\)' || pk_new_log | grep pam_k8s
pk_ssh_root
pk_check "apiserver down: root by key" test "$PK_RC" = 0 -a "$(tail -n 1 <<<"$PK_OUT")" = 0
PK_SSH_ASKPASS=$RAW RAW_PASSWORD=$pw pk_ssh localbob id -un
pk_check "apiserver down: local account by password (pam_unix)" \
	test "$PK_RC" = 0 -a "$(tail -n 1 <<<"$PK_OUT")" = localbob
PK_SSH_ASKPASS=$RAW RAW_PASSWORD=wrong pk_ssh localbob id -un
pk_check "local account, wrong password: refused" test "$PK_RC" != 0

pk_done
