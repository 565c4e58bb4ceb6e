#!/bin/bash
# First login for a person granted through a group (login.firstLogin,
# issue 13; docs/security.md): a real sshd on Debian's stock stack with
# pam_k8s enabled by the real pam-auth-update and libnss_k8s installed, in
# a private mount namespace (tests/pam/pamlib.sh).  What an attacker
# would try, through the real programs:
#   - an undeclared person in the allowed group logs in on the first try
#     and then resolves everywhere, with the UID sshd was given;
#   - a person not granted is refused and leaves nothing behind;
#   - a planted authorized_keys for a pre-auth name is refused, and so is
#     a key for an account first login created;
#   - a UID collision at commit is refused;
#   - no other process (root's getent, a faked argv, a parent named sshd,
#     a user's own sshd) ever sees a pre-auth entry;
#   - the first prompt is the same for every name.
set -u
cd "$(dirname "$0")/../.." || exit 2
. tests/pam/pamlib.sh
pk_enter_ns "$@"
[ -x /usr/sbin/sshd ] && command -v ssh >/dev/null || pk_skip "openssh not installed"
[ -x "$PK_ASKPASS" ] || pk_skip "$PK_ASKPASS not built"
pk_setup
pk_idp_start
pk_system_install
export PK_HOME=/tmp PK_CONFIG_FILE=/etc/k8s-auth/config.yaml PK_RUNDIR=/run/k8s-auth PK_DECLARED="carol"
LOGIN_CFG='login:
  firstLogin: true
  allowedGroups: ["oidc:team-people"]'
pk_write_config "$LOGIN_CFG"
pk_debian_stack || exit 1
"$PK_CLI" sync >/dev/null || exit 1
pw="local-pw-$RANDOM$RANDOM"
pk_etc_append /etc/passwd "localbob:x:1500:1500:Local Bob:/tmp:/bin/bash"
pk_etc_append /etc/group "localbob:x:1500:"
pk_etc_append /etc/shadow "localbob:$(openssl passwd -6 "$pw"):19000:0:99999:7:::"
pk_sshd_start || exit 1
pk_authorize_key root
RAW=$PK_REPO/tests/pam/raw-askpass.sh
PRE=/run/k8s-auth/preauth
export K8S_ASKPASS_COMMAND="cat $T/next-token"
next_token() { printf '%s\n' "$1" >"$T/next-token"; }
# the UID the store's allocator gives NAME first (store-format.md)
slot_uid() { "$PK_PY" -c "import hashlib,sys; print(200000 + int.from_bytes(hashlib.sha256(sys.argv[1].encode()).digest()[:8], 'big') % 800000)" "$1"; }
# any PAM call sweeps served records of processes that are gone
sweep() { PK_SSH_AUTH=publickey pk_ssh root true; }
served_files() { ls -A "$PRE" 2>/dev/null | grep -v '^policy$'; }
no_trace() { # NAME: not in the store, not resolvable, no served record
	! getent passwd "$1" >/dev/null && ! "$PK_CLI" store list 2>/dev/null | grep -qw "$1" &&
		[ -z "$(served_files)" ]
}

pk_check "the mode is on: root-only policy file" \
	eval '[ "$(stat -c "%U %a" "$PRE")" = "root 700" ] && [ "$(stat -c "%U %a" "$PRE/policy")" = "root 600" ]'
pk_check "k8s-auth status: first login is on" eval '"$PK_CLI" status 2>/dev/null | grep -q "^ok  *firstLogin: on"'

# ---- first login, then everywhere
pk_check "before: dana resolves nowhere (root's getent)" eval '! getent passwd dana'
tok=$(pk_oidc_token dana --groups team-people)
next_token "$tok"
pk_mark_log
pk_ssh dana 'id -u; id -un; echo "HOME=$HOME"'
want=$(slot_uid dana)
if [ "$PK_RC" = 0 ]; then pk_ok "undeclared dana (group team-people) logs in on the first try (${PK_MS} ms)"
else pk_fail "dana's first login: rc=$PK_RC $(tail -n 3 <<<"$PK_OUT") $(pk_new_log | grep pam_k8s | tail -n 3)"; fi
pk_check "the session ran with the UID the store committed ($want)" \
	eval '[ "$(sed -n 1p <<<"$PK_OUT")" = "$want" ] && [ "$(getent passwd dana | cut -d: -f3)" = "$want" ]'
pk_check "dana resolves everywhere now: root, nobody, by uid" \
	eval 'getent passwd dana >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups getent passwd dana >/dev/null && [ "$(getent passwd "$want" | cut -d: -f1)" = dana ]'
pk_check "sshd did not take dana for an invalid user" eval '! grep -q "Invalid user dana" "$T/sshd.log"'
next_token "$tok"
pk_ssh dana id -un
pk_check "dana logs in again with a token" test "$PK_RC" = 0
pk_authorize_key dana
pk_mark_log
PK_SSH_AUTH=publickey pk_ssh dana id -un
pk_check "a key for an account first login created is refused (only a token shows the group still holds)" \
	eval '[ "$PK_RC" != 0 ] && pk_new_log | grep "account refused" | grep -qF "token login required"'

# ---- not granted: refused, no trace
next_token "$(pk_oidc_token gina --groups team-other)"
pk_mark_log
pk_ssh gina id
pk_check "gina (not in an allowed group) refused" \
	eval '[ "$PK_RC" != 0 ] && pk_new_log | grep "auth refused" | grep -qF "not in an allowed group"'
sweep
pk_check "gina left no trace (store, NSS, served records)" no_trace gina

# ---- a planted authorized_keys for a pre-auth name
pk_authorize_key mallory
pk_mark_log
PK_SSH_AUTH=publickey pk_ssh mallory id
# Debian's common-account runs pam_unix first: the pre-auth entry's "x"
# with no shadow entry stops it there ...
pk_check "planted authorized_keys for pre-auth name mallory: refused in account (pam_unix: \"x\", no shadow)" \
	eval '[ "$PK_RC" != 0 ] && pk_new_log | grep -qF "could not obtain user info (mallory)"'
# ... and with pam_k8s's account line first, pam_k8s refuses it itself
cp /etc/pam.d/common-account "$T/common-account.orig"
{ echo "account required pam_k8s.so"; cat "$T/common-account.orig"; } >/etc/pam.d/common-account
pk_mark_log
PK_SSH_AUTH=publickey pk_ssh mallory id
pk_check "planted authorized_keys for mallory, pam_k8s's account line first: refused by pam_k8s" \
	eval '[ "$PK_RC" != 0 ] && pk_new_log | grep "account refused" | grep -qF "pre-authentication name without a token login"'
cat "$T/common-account.orig" >/etc/pam.d/common-account
sweep
pk_check "mallory left no trace" no_trace mallory

# ---- UID collision at commit: another source holds the UID sshd was given
fu=$(slot_uid frank)
echo "squatter:x:$fu:$fu::/:/usr/sbin/nologin" >>/etc/passwd
next_token "$(pk_oidc_token frank --groups team-people)"
pk_mark_log
pk_ssh frank id
pk_check "UID collision at commit ($fu taken by another source): refused" \
	eval '[ "$PK_RC" != 0 ] && pk_new_log | grep "auth refused" | grep -qF "pre-authentication entry differs from the store"'
sweep
pk_check "frank left no trace" no_trace frank

# ---- nobody else sees a pre-auth entry.  While an sshd connection for
# "hana" waits at its prompt (sshd has resolved her), ask from elsewhere.
cat >"$T/slow-askpass" <<EOF
#!/bin/bash
: >"$T/at-prompt"
while [ ! -e "$T/go-on" ]; do sleep 0.05; done
exit 1
EOF
chmod 755 "$T/slow-askpass"
rm -f "$T/at-prompt" "$T/go-on"
(PK_SSH_ASKPASS=$T/slow-askpass pk_ssh hana id) &
sshpid=$!
for ((i = 0; i < 200; i++)); do [ -e "$T/at-prompt" ] && break; sleep 0.05; done
pk_check "sshd resolved hana before authentication (served record)" \
	eval 'grep -qs " hana " "$PRE"/p.*'
pk_check "root's getent does not see hana" eval '! getent passwd hana'
pk_check "nobody's getent does not see hana" \
	eval '! setpriv --reuid=65534 --regid=65534 --clear-groups getent passwd hana'
pk_check "argv[0] \"sshd\" (root) does not see hana" eval '! bash -c "exec -a sshd getent passwd hana"'
pk_check "a child of a process named \"sshd: [accepted]\" (authd's check) does not see hana" \
	eval '! bash -c "exec -a \"sshd: [accepted]\" bash -c \"getent passwd hana\""'
pk_check "no uid lookup or enumeration shows hana" \
	eval '! getent passwd "$(slot_uid hana)" && ! getent passwd | grep -q "^hana:"'
pk_check "nobody cannot read the served records or the policy" \
	eval '! setpriv --reuid=65534 --regid=65534 --clear-groups ls "$PRE" 2>/dev/null'
: >"$T/go-on"
wait "$sshpid"
sweep
pk_check "hana left no trace" no_trace hana

# a user's own sshd (not root) never gets a pre-auth answer
mkdir -p "$T/usshd"
cp "$T/ssh/host_ed25519" "$T/usshd/hk"
uport=$(pk_free_port)
cat >"$T/usshd/cfg" <<EOF
Port $uport
ListenAddress 127.0.0.1
HostKey $T/usshd/hk
PidFile $T/usshd/pid
UsePAM no
KbdInteractiveAuthentication no
PasswordAuthentication no
StrictModes no
LogLevel VERBOSE
EOF
chown -R nobody "$T/usshd"
setpriv --reuid=65534 --regid=65534 --clear-groups /usr/sbin/sshd -D -f "$T/usshd/cfg" -E "$T/usshd/log" &
upid=$!
PK_BG_PIDS+=("$upid")
for ((i = 0; i < 100; i++)); do (exec 3<>"/dev/tcp/127.0.0.1/$uport") 2>/dev/null && break; sleep 0.05; done
echo "[127.0.0.1]:$uport $(cut -d' ' -f1,2 "$T/ssh/host_ed25519.pub")" >>"$T/ssh/known_hosts"
PK_SSH_AUTH=publickey PK_SSH_PORT=$uport pk_ssh ivan true
for ((i = 0; i < 40; i++)); do grep -q "ivan" "$T/usshd/log" 2>/dev/null && break; sleep 0.05; done
pk_check "a user's own sshd: ivan is an invalid user there, and nothing was recorded" \
	eval 'grep -q "Invalid user ivan" "$T/usshd/log" && ! grep -qs " ivan " "$PRE"/p.*'
kill "$upid" 2>/dev/null

# ---- enumeration: every name gets the same first prompt
cat >"$T/log-askpass" <<EOF
#!/bin/bash
p=\${1-}
printf '%s\n' "\${p#\(*) }" >>"$T/prompts"
case \$p in *[Pp]assword:*) echo wrong ;; *) echo ;; esac
EOF
chmod 755 "$T/log-askpass"
prompts_for() {
	rm -f "$T/prompts"
	PK_SSH_ASKPASS=$T/log-askpass PK_SSH_OPTS="-o NumberOfPasswordPrompts=1" pk_ssh "$1" true
	sed 's/[0-9]//g' "$T/prompts" 2>/dev/null | tr '\n' '|'
}
p_store=$(prompts_for carol)
p_local=$(prompts_for localbob)
p_none=$(prompts_for nosuchname)
pk_check "same prompts for a store account, a local account and no account ($p_none)" \
	eval '[ -n "$p_none" ] && [ "$p_store" = "$p_none" ] && [ "$p_local" = "$p_none" ]'
PK_SSH_ASKPASS=$RAW RAW_PASSWORD=$pw pk_ssh localbob id -un
pk_check "local account by password still logs in (Enter at the token prompt)" \
	test "$PK_RC" = 0 -a "$(tail -n 1 <<<"$PK_OUT")" = localbob
sweep
pk_check "no served records left" test -z "$(served_files)"

# ---- OpenSSH 9.8 and later run each connection in a program sshd executes
# (Debian: /usr/lib/openssh/sshd-session; 10.0 adds sshd-auth).  Debian 12
# ships 9.2, so the same binary is installed at that path (a copy: its own
# inode) and sshd run from there: that is what the process serving a
# connection looks like to NSS and to the helper.
sshd_from() { # BINARY: restart sshd (same config and port) from BINARY
	kill "$PK_SSHD_PID" 2>/dev/null
	wait "$PK_SSHD_PID" 2>/dev/null
	mapfile -t _pk_env < <(pk_san_env)
	env "${_pk_env[@]}" "$1" -D -f "$T/ssh/sshd_config" -E "$T/sshd.log" &
	PK_SSHD_PID=$!
	PK_BG_PIDS+=("$PK_SSHD_PID")
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$PK_SSH_PORT") 2>/dev/null && break
		sleep 0.05
	done
}
SESSION=/usr/lib/openssh/sshd-session
mount -t tmpfs -o mode=0755 sshd-session "$(dirname "$SESSION")" || pk_fail "tmpfs on $(dirname "$SESSION")"
install -m 0755 -o root -g root /usr/sbin/sshd "$SESSION" || pk_fail "installing $SESSION"
sshd_from "$SESSION"
tok=$(pk_oidc_token erin --groups team-people)
next_token "$tok"
pk_mark_log
pk_ssh erin 'id -u'
want=$(slot_uid erin)
pk_check "sshd-session: undeclared erin logs in on the first try with the UID the store committed ($want)" \
	eval '[ "$PK_RC" = 0 ] && [ "$(tail -n 1 <<<"$PK_OUT")" = "$want" ] && [ "$(getent passwd erin | cut -d: -f3)" = "$want" ]'
pk_check "sshd-session: sshd did not take erin for an invalid user" eval '! grep -q "Invalid user erin" "$T/sshd.log"'
# not weakened: the same program, writable by a group, is not root's sshd
chmod 0775 "$SESSION"
sshd_from "$SESSION"
next_token "$(pk_oidc_token ivo --groups team-people)"
pk_ssh ivo id -u
pk_check "a group-writable sshd-session is not served: ivo is an invalid user" \
	eval '[ "$PK_RC" != 0 ] && grep -q "Invalid user ivo" "$T/sshd.log"'
sweep
pk_check "ivo left no trace" no_trace ivo
sshd_from /usr/sbin/sshd
umount "$(dirname "$SESSION")"

# ---- the policy is sshd's stack's: a stack with another config= (here
# with first login off, as a sudo or su stack may be) leaves it alone
sed '/firstLogin/d' "$PK_CONFIG_FILE" >"$T/other.yaml"
chmod 644 "$T/other.yaml"
pk_stack other-config "auth required MOD config=$T/other.yaml" "account required MOD config=$T/other.yaml"
before=$(cat "$PRE/policy")
pk_pam other-config carol acct_mgmt </dev/null
pk_check "a PAM call with another config= (first login off) leaves sshd's policy as it was" \
	eval '[ -n "$before" ] && [ "$(cat "$PRE/policy" 2>/dev/null)" = "$before" ]'
tok=$(pk_oidc_token jules --groups team-people)
next_token "$tok"
pk_ssh jules id -un
pk_check "and the next first login over ssh works (jules)" test "$PK_RC" = 0 -a "$(tail -n 1 <<<"$PK_OUT")" = jules

# ---- turning the mode off removes the policy at the next PAM call
pk_write_config 'login:
  allowedGroups: ["oidc:team-people"]'
sweep
pk_check "mode off: policy file gone" test ! -e "$PRE/policy"
pk_check "k8s-auth status: nothing left of first login" eval '! "$PK_CLI" status 2>/dev/null | grep -q firstLogin'
pk_authorize_key olga
PK_SSH_AUTH=publickey pk_ssh olga id
pk_check "mode off: olga is an invalid user to sshd again" \
	eval '[ "$PK_RC" != 0 ] && grep -q "Invalid user olga" "$T/sshd.log"'

pk_done
