#!/bin/bash
# pam_k8s in one long-lived process (tests/pam/pam_drive.c, the module kept
# loaded): every phase, repeated, on success and on every refusal path,
# and sudo's revalidate step in-process.  With a sanitized build
# (PK_BUILD=build-asan, `make SAN=1`) the driver is built with ASan+UBSan
# and LeakSanitizer checks for leaks at exit; otherwise this is a plain
# functional test of the same paths.
. "$(dirname "$0")/../pam/pamlib.sh"
pk_begin -s
export PK_HOME=/tmp PK_DECLARED="ops.alice, ops.bob, carol"
pk_write_config
"$PK_CLI" --config "$T/config.yaml" sync >/dev/null || exit 1
SAN=
if ldd "$PK_MOD" | grep -q libasan; then
	SAN="-fsanitize=address,undefined -fno-omit-frame-pointer"
	echo "info: sanitized module: ASan+UBSan+LSan"
fi
# shellcheck disable=SC2086
# libcrypt linked in: ASan's crypt() interceptor needs it loaded from the start
gcc -std=gnu11 -g -O1 -Wall -Wextra -Werror $SAN -o "$T/pam_drive" tests/pam/pam_drive.c \
	-lpam -ldl -Wl,--no-as-needed -lcrypt || exit 1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=exitcode=23
pk_stack drive "auth required MOD CFG" "account required MOD CFG" "session required MOD CFG"
pk_stack drive-sudo "account required MOD CFG revalidate"
pk_stack drive-broken "auth required MOD config=$T/missing.yaml" "account required MOD config=$T/missing.yaml"

# drive DESC "want lines" USER OPS REPEAT ANSWER...: the per-step results
# must be exactly the wanted ones, and the sanitizers silent.
drive() {
	local desc=$1 want=$2 user=$3 ops=$4 rep=$5 out
	shift 5
	printf '%s\n' "$@" >"$T/answers"
	out=$("$T/pam_drive" /etc/pam.d drive "$user" "$T/answers" "$ops" "$rep" "$PK_MOD" 2>"$T/drive.err")
	if grep -qE 'LeakSanitizer|AddressSanitizer|runtime error' "$T/drive.err"; then
		pk_fail "$desc: sanitizer report"
		head -n 40 "$T/drive.err"
	elif [ "$(tr '\n' '|' <<<"$out")" != "$want" ]; then
		pk_fail "$desc: got $(tr '\n' '|' <<<"$out"), want $want"
		tail -n 5 "$T/drive.err"
	else
		pk_ok "$desc"
	fi
}
OK="Success"
UID_A=6e1d2e52-8a7b-4c1d-9e2f-00000000000a
tok=$(pk_sa_token alice "$UID_A" --pod p --node n)
otok=$(pk_oidc_token carol --groups team-db)

drive "SA token: auth, acct, setcred, open, close x5" \
	"auth $OK|acct $OK|setcred $OK|open $OK|close $OK|" ops.alice auth,acct,setcred,open,close 5 "$tok"
drive "OIDC token framed in 300-byte pieces x3" "auth $OK|acct $OK|open $OK|close $OK|" \
	carol auth,acct,open,close 3 $("$PK_ASKPASS" --frame 300 <<<"$otok")
drive "another user's token x3" "auth Authentication failure|" ops.bob auth 3 "$tok"
drive "garbage and expired tokens" "auth Authentication failure|new Success|auth Authentication failure|" \
	ops.alice auth,new,auth 2 "garbage" "$(pk_sa_token alice "$UID_A" --iat-offset -900 --lifetime 600)"
drive "pieces of two tokens (digest mismatch)" "auth Authentication failure|" carol auth 2 \
	$("$PK_ASKPASS" --frame 300 <<<"$otok" | head -n 2) \
	$("$PK_ASKPASS" --frame 300 <<<"$(pk_oidc_token carol --groups team-db --lifetime 599)" | sed -n '3,$p')
drive "unframed answer at a cut length" "auth Authentication failure|" carol auth 2 \
	"$(pk_oidc_token carol --alg ES256 --size 1023)"
# a stack where every module ignores fails with PAM_PERM_DENIED
drive "empty answer: ignored" "auth Permission denied|" ops.alice auth 2 ""
drive "not a user pam_k8s handles" "auth Permission denied|acct Permission denied|open Permission denied|" \
	root auth,acct,open 2 "$tok"
drive "account without a token (store policy)" "acct $OK|" ops.bob acct 3
drive "broken config, a store user: unavailable" \
	"new:drive-broken $OK|auth Authentication service cannot retrieve authentication info|acct Permission denied|" \
	ops.alice new:drive-broken,auth,acct 2 "$tok"
drive "broken config, root: ignored" "new:drive-broken $OK|auth Permission denied|acct Permission denied|" \
	root new:drive-broken,auth,acct 2 "$tok"
# sudo in-process: a session with an audit id, then the revalidate step as the user
uid_alice=$(id -u ops.alice)
drive "sudo revalidate in the login's audit session" \
	"loginuid $OK|auth $OK|open $OK|new:drive-sudo $OK|ruid=$uid_alice $OK|acct $OK|" \
	ops.alice "loginuid,auth,open,new:drive-sudo,ruid=$uid_alice,acct" 1 "$tok"
(sleep 1; pk_fc sa delete ops/alice; touch "$T/deleted-now") &
deleter=$!
drive "sudo revalidate after the SA was deleted mid-session" \
	"loginuid $OK|auth $OK|open $OK|wait=$T/deleted-now $OK|new:drive-sudo $OK|ruid=$uid_alice $OK|acct Permission denied|" \
	ops.alice "loginuid,auth,open,wait=$T/deleted-now,new:drive-sudo,ruid=$uid_alice,acct" 1 "$tok"
wait "$deleter"
pk_sa_ensure alice "$UID_A"
kill "${PK_BG_PIDS[1]}"
wait "${PK_BG_PIDS[1]}" 2>/dev/null
drive "apiserver down x3" "auth Authentication service cannot retrieve authentication info|" ops.alice auth 3 "$tok"
pk_done
