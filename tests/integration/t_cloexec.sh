#!/bin/bash
# Every descriptor pam_k8s.so (inside sshd, su, sudo, any PAM application,
# threaded ones included) and k8s-auth create must be close-on-exec: a
# program or another thread that forks and executes something while one is
# open would hand it on (a review-cache directory, the store's lock, the
# TCP connection to the apiserver).  The real module runs in one process
# (tests/pam/pam_drive.c: auth with TokenReview and the review cache, an
# OIDC login fetching the JWKS, account, session), then the CLI (check,
# sync, forget, users, groups) and k8s-ssh-askpass (which forks and runs
# the token command), all under `strace -ff -k`; fd_audit.py fails on any
# descriptor created without close-on-exec whose first caller outside libc
# is our code, and on any TCP socket without it.
. "$(dirname "$0")/../pam/pamlib.sh"
pk_begin -s strace
export PK_HOME=/tmp PK_DECLARED="ops.alice, carol" PK_CACHE_TTL=2m
pk_write_config
"$PK_CLI" --config "$T/config.yaml" sync >/dev/null || exit 1
gcc -std=gnu11 -g -O1 -Wall -Wextra -Werror -o "$T/pam_drive" tests/pam/pam_drive.c \
	-lpam -ldl -Wl,--no-as-needed -lcrypt || exit 1
strace -k true 2>&1 | grep -q "^ > " || pk_skip "this strace cannot print stacks (-k)"
pk_stack drive "auth required MOD CFG" "account required MOD CFG" "session required MOD CFG"

OURS="(pam_k8s\\.so|/k8s-auth|/k8s-ssh-askpass)\\("
CALLS=open,openat,creat,socket,socketpair,accept,accept4,pipe,pipe2,dup,dup2,dup3,fcntl
CALLS=$CALLS,memfd_create,eventfd,eventfd2,epoll_create,epoll_create1,inotify_init,inotify_init1
CALLS=$CALLS,signalfd,signalfd4,timerfd_create
audit() { # DESC CMD...: CMD under strace, then the audit
	local desc=$1 out
	shift
	rm -rf "$T/st" && mkdir "$T/st"
	# -ff: one file per thread, so no call is split by another's;
	# (-e status=successful with -k breaks strace 6.1 across fork)
	strace -ff -k -qq -e trace="$CALLS" -o "$T/st/s" "$@" >"$T/cmd.out" 2>"$T/cmd.err" <"$T/stdin"
	local rc=$?
	out=$(cat "$T"/st/s.* | "$PK_PY" tests/integration/fd_audit.py "$OURS")
	local arc=$?
	[ -z "${FD_AUDIT_VERBOSE:-}" ] || head -n -1 <<<"$out"
	echo "$desc: $(tail -n 1 <<<"$out")"
	if [ "$arc" != 0 ]; then
		pk_fail "$desc"
		head -n 40 <<<"$out"
	else
		pk_ok "$desc (exit $rc)"
	fi
}
UID_A=6e1d2e52-8a7b-4c1d-9e2f-00000000000a
tok=$(pk_sa_token alice "$UID_A" --pod p --node n)
otok=$(pk_oidc_token carol --groups team-db)
printf '%s\n' "$tok" "$tok" >"$T/answers"
: >"$T/stdin"
audit "pam_k8s: SA token twice (TokenReview, review cache), account, session" \
	"$T/pam_drive" /etc/pam.d drive ops.alice "$T/answers" auth,acct,setcred,open,close 2 "$PK_MOD"
grep -q "auth Success" "$T/cmd.out" || pk_fail "the SA login did not succeed: $(head -c 300 "$T/cmd.out")"
printf '%s\n' "$otok" >"$T/answers"
audit "pam_k8s: OIDC token (discovery, JWKS, key cache), account, session" \
	"$T/pam_drive" /etc/pam.d drive carol "$T/answers" auth,acct,open,close 1 "$PK_MOD"
grep -q "auth Success" "$T/cmd.out" || pk_fail "the OIDC login did not succeed: $(head -c 300 "$T/cmd.out")"
printf '%s\n' "$tok" >"$T/stdin"
audit "k8s-auth check (TokenReview)" "$PK_CLI" check --config "$T/config.yaml" --user ops.alice
printf '%s\n' "$otok" >"$T/stdin"
audit "k8s-auth check (jwt)" "$PK_CLI" check --config "$T/config.yaml"
: >"$T/stdin"
audit "k8s-auth sync" "$PK_CLI" --config "$T/config.yaml" sync
audit "k8s-auth forget" "$PK_CLI" --config "$T/config.yaml" forget carol
audit "k8s-auth users" "$PK_CLI" --config "$T/config.yaml" users
audit "k8s-auth groups" "$PK_CLI" --config "$T/config.yaml" groups
# k8s-ssh-askpass forks and executes the token command: nothing of its own
# may be open across that exec but the pipe it reads.
printf '%s\n' "$tok" >"$T/tokfile"
printf '#!/bin/sh\nexec cat %s\n' "$T/tokfile" >"$T/tokcmd"
chmod 755 "$T/tokcmd"
mkdir -m 0700 "$T/apcache"
# (run by strace, neither ssh nor sudo: the host is named for it)
K8S_ASKPASS_CACHE_DIR=$T/apcache K8S_ASKPASS_COMMAND=$T/tokcmd K8S_ASKPASS_HOST=${PK_AUD#host-login:} \
	audit "k8s-ssh-askpass: first prompt, token command" "$PK_ASKPASS" \
	"(ops.alice@web-1) Kubernetes token (audience $PK_AUD): "
grep -q "^k8s1:" "$T/cmd.out" || pk_fail "askpass did not answer: $(cat "$T/cmd.err")"
pk_done
