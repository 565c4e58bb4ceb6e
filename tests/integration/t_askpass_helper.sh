#!/bin/bash
# k8s-ssh-askpass on its own, invoked the way ssh invokes it (prompt in
# argv[1], answer on stdout): exact prompt grammar or exit 1 with nothing
# on stdout (and no token fetched); framed answers that reassemble to the
# token; the per-ssh cache (0600 in a private 0700 directory, gone after
# the last chunk, never someone else's directory); command sources run
# without a shell with %a/%h/%u; the aud claim must name the prompt's
# audience; whom it mints for: run by this shell (neither ssh nor sudo) it
# refuses unless K8S_ASKPASS_HOST names the host, and then only
# host-login:<that host> (or its short name) by default, whatever the
# prompt's "(user@host) " prefix says; K8S_ASKPASS_AUDIENCE and
# askpass.conf (Host blocks, Audience, ShortNames; refused when others may
# write it or it is malformed) change the rule.  (The real ssh and sudo
# parents: t_askpass_hostile.sh, t_sudo_prompt.sh.)
# Tokens come from tests/fakecluster's minting (pk_mint), no server needed.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/pam/pamlib.sh
[ -x "$PK_ASKPASS" ] || pk_skip "$PK_ASKPASS not built"
T=$(mktemp -d /tmp/askpass.XXXXXX)
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT
# the cluster's keys and an issuer URL are all `mint` needs; no server
pk_fc init >/dev/null || exit 1
echo https://issuer.test >"$T/idp/url"
AUD=host-login:web-1
P1="(alice@web-1) Kubernetes token (audience $AUD): "
pcont() { echo "(alice@web-1) Kubernetes token (audience $AUD) continued at byte $1 of $2: "; }
tok=$(pk_mint --sub system:serviceaccount:ops:alice --aud "$AUD" --sa-uid u1 --size 3000)
printf '%s\n' "$tok" >"$T/token"
export K8S_ASKPASS_CACHE_DIR=$T/cache K8S_ASKPASS_TOKEN_FILE=$T/token XDG_CONFIG_HOME=$T/xdgconf
unset K8S_ASKPASS_COMMAND K8S_ASKPASS_AUDIENCE SSH_ASKPASS_PROMPT K8S_ASKPASS_CHUNK
unset K8S_ASKPASS_HOST K8S_ASKPASS_CONFIG

# ap PROMPT: run the helper; AP_OUT, AP_RC.  Run from this shell, not a
# $(...) subshell, so every call has the same parent, as under one ssh.
ap() {
	"$PK_ASKPASS" "$@" >"$T/stdout" 2>"$T/stderr"
	AP_RC=$?
	AP_OUT=$(cat "$T/stdout")
}
refused() { [ "$AP_RC" = 1 ] && [ -z "$AP_OUT" ]; }
said() { grep -qF -- "$1" "$T/stderr"; }

# ---- run by neither ssh nor sudo: refused unless K8S_ASKPASS_HOST names the host
printf '%s\n' '#!/bin/sh' "touch $T/ran" "cat $T/token" >"$T/cmd"
chmod 755 "$T/cmd"
K8S_ASKPASS_COMMAND="$T/cmd" ap "$P1"
pk_check "run by a shell, no K8S_ASKPASS_HOST: refused, token command not run" \
	eval 'refused && [ ! -e "$T/ran" ] && said "run by bash (pid $$), neither ssh nor sudo, and K8S_ASKPASS_HOST is unset: refusing"'
rm -f "$T/ran"
export K8S_ASKPASS_HOST=web-1

# ---- the whole token through the protocol, as the server would ask
ap "$P1"
pk_check "first prompt: answered" test "$AP_RC" = 0
first=$AP_OUT
pk_check "first answer: k8s1:<len>:<digest>: and < 1000 bytes" \
	eval '[[ $first == "k8s1:3000:$(printf %s "$tok" | sha256sum | cut -c1-16):"* ]] && [ ${#first} -lt 1000 ]'
pk_check "cache: one 0600 file in a 0700 directory" \
	eval '[ "$(stat -c %a "$T/cache")" = 700 ] && [ "$(stat -c %a "$T/cache"/*)" = 600 ] && [ "$(ls "$T/cache" | wc -l)" = 1 ]'
got=${first#k8s1:*:*:}
while [ ${#got} -lt 3000 ]; do
	ap "$(pcont ${#got} 3000)"
	[ "$AP_RC" = 0 ] && [[ $AP_OUT == "${#got}:"* ]] || break
	got=$got${AP_OUT#*:}
done
pk_check "continuations reassemble the token" test "$got" = "$tok"
pk_check "cache removed after the last chunk" test -z "$(ls -A "$T/cache")"
ap "$(pcont 960 3000)"
pk_check "a continuation with nothing cached: refused" refused

# ---- prompts that are not pam_k8s's
for p in "Password: " "(alice@web-1) Password: " "alice@web-1's password: " \
	"Enter passphrase for key '/home/a/.ssh/id_ed25519': " \
	"Are you sure you want to continue connecting (yes/no/[fingerprint])? " \
	"(alice@web-1) Kubernetes token (audience $AUD):" \
	"(alice@web-1) Kubernetes token (audience $AUD): Password: " \
	"(alice@web-1) Kubernetes Token (audience $AUD): " \
	"(alice@web-1) Kubernetes token (audience $AUD x): " \
	"Kubernetes token (audience $AUD)\nPassword: "; do
	K8S_ASKPASS_COMMAND="$T/cmd" ap "$p"
	pk_check "refused: \"$p\"" refused
done
pk_check "the token command never ran for any of them" test ! -e "$T/ran"
SSH_ASKPASS_PROMPT=confirm ap "$P1"
pk_check "refused: SSH_ASKPASS_PROMPT=confirm (host key / agent confirmations)" refused
ap "$P1" extra
pk_check "refused: extra arguments" refused

# ---- token sources
K8S_ASKPASS_COMMAND="$T/cmd" ap "$P1"
pk_check "command source: answered, command ran" eval '[ "$AP_RC" = 0 ] && [ -e "$T/ran" ] && [ "$AP_OUT" = "$first" ]'
rm -f "$T/cache"/*
printf '%s\n' '#!/bin/sh' 'printf "%s\n" "$@" >'"$T/args" "cat $T/token" >"$T/argcmd"
chmod 755 "$T/argcmd"
K8S_ASKPASS_COMMAND="$T/argcmd --audience %a --host %h --user %u \$(touch $T/shell) 100%%" \
	ap "(mallory@prod-db) Kubernetes token (audience $AUD): "
pk_check "command: %a %h %u %% expanded (%h, %u not the prompt's prefix), no shell" \
	eval '[ "$AP_RC" = 0 ] && [ "$(tr "\n" " " <"$T/args")" = "--audience $AUD --host web-1 --user $(id -un) \$(touch $T/shell) 100% " ] && [ ! -e "$T/shell" ]'
rm -f "$T/cache"/*
K8S_ASKPASS_COMMAND="/bin/false" ap "$P1"
pk_check "command failing: refused" refused
pk_check "...saying how it ended, in words (issue 14)" said "K8S_ASKPASS_COMMAND /bin/false exited with status 1"
printf '%s\n' '#!/bin/sh' 'kill -9 $$' >"$T/killed"
chmod 755 "$T/killed"
K8S_ASKPASS_COMMAND="$T/killed" ap "$P1"
pk_check "command killed by a signal: refused, saying which" \
	eval 'refused && said "K8S_ASKPASS_COMMAND $T/killed killed by signal 9 (Killed)"'
K8S_ASKPASS_COMMAND="$T/no-such-command" ap "$P1"
pk_check "command not found: refused, saying so" \
	eval 'refused && said "K8S_ASKPASS_COMMAND $T/no-such-command exited with status 127 (not found, or could not be run)"'
K8S_ASKPASS_COMMAND="/bin/echo not-a-jwt" ap "$P1"
pk_check "command printing a non-JWT: refused" refused
K8S_ASKPASS_TOKEN_FILE=$T/missing ap "$P1"
pk_check "missing token file: refused" refused
(unset K8S_ASKPASS_TOKEN_FILE; ap "$P1"; refused) && pk_ok "no token source: refused" || pk_fail "no token source: refused"
pk_mint --sub x --aud host-login:web-2 >"$T/other"
K8S_ASKPASS_TOKEN_FILE=$T/other ap "$P1"
pk_check "token minted for another audience: not sent" refused
pk_mint --sub x --aud "host-login:web-2,$AUD" >"$T/multi"
K8S_ASKPASS_TOKEN_FILE=$T/multi ap "$P1"
pk_check "token whose aud list includes the audience: sent" test "$AP_RC" = 0
rm -f "$T/cache"/*
head -c 20000 /dev/zero | tr '\0' a >"$T/huge"
K8S_ASKPASS_TOKEN_FILE=$T/huge ap "$P1"
pk_check "a 20000-byte 'token': refused" refused

# ---- whom it mints for: the host named by K8S_ASKPASS_HOST, never the prompt
pk_mint --sub x --aud host-login:prod-db >"$T/prod"
pk_mint --sub x --aud https://kubernetes.default.svc.cluster.local >"$T/api"
pk_mint --sub x --aud host-login:web-2 >"$T/web2"
pk_mint --sub x --aud host-login:web-1.example.com >"$T/fqdn"
pk_mint --sub x --aud host-login:pamtest >"$T/pamtest"
mintfor() { # TOKEN-FILE PROMPT-AUDIENCE [PREFIX]: the command mints it, and leaves a mark
	printf '%s\n' '#!/bin/sh' "touch $T/ran" "cat $1" >"$T/mint"
	chmod 755 "$T/mint"
	rm -f "$T/ran" "$T/cache"/*
	K8S_ASKPASS_COMMAND="$T/mint" ap "${3-}Kubernetes token (audience $2): "
}
minted_not() { refused && [ ! -e "$T/ran" ]; }
mintfor "$T/prod" host-login:prod-db "(alice@prod-db) "
pk_check "default rule, K8S_ASKPASS_HOST=web-1: host-login:prod-db with a (alice@prod-db) prefix: refused, nothing minted" \
	eval 'minted_not && said "refusing to mint a token for audience host-login:prod-db: for K8S_ASKPASS_HOST=web-1 only host-login:web-1 (from the default host-login:%h)"'
mintfor "$T/api" https://kubernetes.default.svc.cluster.local
pk_check "default rule: the apiserver's own audience: refused, nothing minted" minted_not
mintfor "$T/token" "$AUD"
pk_check "default rule: host-login:web-1, no prefix: answered" test "$AP_RC" = 0
mintfor "$T/token" "$AUD" "(alice@web-2) "
pk_check "default rule: host-login:web-1 whatever the prefix says (alice@web-2): answered" test "$AP_RC" = 0
K8S_ASKPASS_HOST=web-2 mintfor "$T/token" "$AUD" "(alice@web-1) "
pk_check "K8S_ASKPASS_HOST=web-2, the server asks for web-1's audience with a (alice@web-1) prefix: refused" minted_not
K8S_ASKPASS_HOST=web-1.example.com mintfor "$T/token" "$AUD"
pk_check "K8S_ASKPASS_HOST=web-1.example.com: its short name host-login:web-1 counts" test "$AP_RC" = 0
K8S_ASKPASS_HOST=web-1.example.com mintfor "$T/fqdn" host-login:web-1.example.com
pk_check "K8S_ASKPASS_HOST=web-1.example.com: host-login:web-1.example.com counts" test "$AP_RC" = 0
K8S_ASKPASS_HOST='web-*' mintfor "$T/token" "$AUD"
pk_check "K8S_ASKPASS_HOST=web-* (not a host name): refused" minted_not
K8S_ASKPASS_AUDIENCE='host-login:%h' mintfor "$T/token" "$AUD" "(alice@web-1) "
pk_check "K8S_ASKPASS_AUDIENCE=host-login:%h, host web-1: answered" test "$AP_RC" = 0
K8S_ASKPASS_AUDIENCE='host-login:%h' mintfor "$T/web2" host-login:web-2 "(alice@web-2) "
pk_check "K8S_ASKPASS_AUDIENCE=host-login:%h, host web-1, forged (alice@web-2) prefix asking web-2's: refused" minted_not
K8S_ASKPASS_AUDIENCE='other,host-login:web-*' mintfor "$T/web2" host-login:web-2
pk_check "K8S_ASKPASS_AUDIENCE globs: answered" test "$AP_RC" = 0

# ---- askpass.conf ($XDG_CONFIG_HOME/k8s-auth/askpass.conf, or K8S_ASKPASS_CONFIG)
mkdir -p -m 0700 "$T/xdgconf/k8s-auth"
CONF=$T/xdgconf/k8s-auth/askpass.conf
printf '%s\n' '# test' 'Host db-* web-1' '    Audience host-login:pamtest' 'Host *.example.com' '    ShortNames no' >"$CONF"
mintfor "$T/pamtest" host-login:pamtest
pk_check "askpass.conf Host web-1 / Audience host-login:pamtest: answered" test "$AP_RC" = 0
mintfor "$T/token" "$AUD"
pk_check "askpass.conf: its Audience replaces host-login:%h for web-1" minted_not
K8S_ASKPASS_HOST=web-2 mintfor "$T/pamtest" host-login:pamtest
pk_check "askpass.conf: not for another host (web-2)" minted_not
K8S_ASKPASS_HOST=web-1.example.com mintfor "$T/token" "$AUD"
pk_check "askpass.conf ShortNames no: web-1.example.com's short name no longer counts" minted_not
K8S_ASKPASS_AUDIENCE=host-login:web-2 mintfor "$T/web2" host-login:web-2
pk_check "K8S_ASKPASS_AUDIENCE wins over askpass.conf" test "$AP_RC" = 0
chmod 622 "$CONF"
mintfor "$T/pamtest" host-login:pamtest
pk_check "askpass.conf others may write: refused" eval 'minted_not && said "writable by others: refusing"'
chmod 600 "$CONF"
printf '%s\n' 'Host web-1' '    Audiences host-login:pamtest' >"$CONF"
mintfor "$T/pamtest" host-login:pamtest
pk_check "a malformed askpass.conf: refused, naming the line" \
	eval 'minted_not && said "$CONF: line 2: unknown keyword Audiences: refusing"'
rm -f "$CONF"
K8S_ASKPASS_CONFIG=$T/missing.conf mintfor "$T/token" "$AUD"
pk_check "K8S_ASKPASS_CONFIG naming a missing file: refused" minted_not
rm -f "$T/cache"/*

# ---- the cache directory must be the user's own and private
mkdir -m 0777 "$T/open"
K8S_ASKPASS_CACHE_DIR=$T/open ap "$P1"
pk_check "a group/world-writable cache dir: refused" refused
mkdir -m 0700 "$T/theirs"
chown 65534 "$T/theirs"
K8S_ASKPASS_CACHE_DIR=$T/theirs ap "$P1"
pk_check "a cache dir owned by someone else: refused" refused
ln -s "$T/cache" "$T/link"
K8S_ASKPASS_CACHE_DIR=$T/link ap "$P1"
pk_check "a symlinked cache dir: refused" refused
mkdir -m 0700 "$T/xdg"
(unset K8S_ASKPASS_CACHE_DIR; XDG_RUNTIME_DIR=$T/xdg ap "$P1"; [ "$AP_RC" = 0 ] && [ -d "$T/xdg/k8s-ssh-askpass" ]) &&
	pk_ok "default cache: \$XDG_RUNTIME_DIR/k8s-ssh-askpass" || pk_fail "default cache: \$XDG_RUNTIME_DIR/k8s-ssh-askpass"

# ---- a short token: one framed answer, nothing cached
short=$(pk_mint --sub s --aud "$AUD" --alg ES256)
printf '%s' "$short" >"$T/short"
K8S_ASKPASS_TOKEN_FILE=$T/short ap "$P1"
pk_check "short token: one framed answer, complete" \
	eval '[ "$AP_RC" = 0 ] && [ "$AP_OUT" = "k8s1:${#short}:$(printf %s "$short" | sha256sum | cut -c1-16):$short" ]'
pk_check "short token: nothing cached" test -z "$(ls -A "$T/cache")"
pk_check "no token in the helper's stderr" eval '! grep -qF "${tok##*.}" "$T/stderr"'

# ---- an answer that cannot be written is a failure, never exit 0
"$PK_ASKPASS" --frame 400 <"$T/token" >"$T/framed"
rc=$?
pk_check "--frame: exit 0 and the pieces when stdout takes them" \
	eval '[ $rc = 0 ] && [ "$(wc -l <"$T/framed")" = 8 ]'
for chunk in 400 8000; do
	"$PK_ASKPASS" --frame $chunk <"$T/token" >/dev/full 2>"$T/stderr"
	pk_check "--frame $chunk to a full device (/dev/full): exit 1" test $? = 1
	"$PK_ASKPASS" --frame $chunk <"$T/token" >&- 2>"$T/stderr"
	pk_check "--frame $chunk with stdout closed: exit 1" test $? = 1
done
pk_check "no token in the helper's stderr" eval '! grep -qF "${tok##*.}" "$T/stderr"'
"$PK_ASKPASS" "$P1" >/dev/full 2>/dev/null
pk_check "first prompt, answer to /dev/full: exit 1" test $? = 1
"$PK_ASKPASS" "$P1" >&- 2>/dev/null
pk_check "first prompt, stdout closed: exit 1" test $? = 1
pk_check "no token left cached by the answers that could not be written" test -z "$(ls -A "$T/cache")"
pk_done
