#!/bin/bash
# The token typed at sudo's own prompt: a sudoers rule that wants a
# password (no NOPASSWD) makes sudo run common-auth, where pam_k8s asks for
# the token.  sudo 1.9.13 drops any answer of 512 bytes or more, so the
# token goes through `sudo -A` with SUDO_ASKPASS=k8s-ssh-askpass and
# K8S_ASKPASS_CHUNK small enough (docs/pam.md, "sudo"): tokens of 511, 512,
# 1023, 1024, 4095 and 4096 bytes, each valid, all get in framed through
# the real setuid sudo.  Refused, never accepted: an unframed answer of a
# cut length (511), framed answers sudo dropped (the helper's default
# chunk), a client that cut a framed answer and did not follow the
# offsets, pieces of two tokens.  A prompt that is not pam_k8s's grammar
# (another prompt= text, pam_unix's password prompt) gets no answer and
# fetches no token.  Whom the helper mints for under sudo: this host
# (gethostname(), here "pamtest" in a UTS namespace, pam_k8s's %h), since
# its parent is the real setuid sudo; with the K8S_ASKPASS_AUDIENCE=
# host-login:%h recipe too (the prompt has no "(user@host) " prefix); a
# stack naming another audience, the apiserver's own, gets nothing, and a
# process merely called sudo is not sudo.  Private mount and UTS
# namespaces (tests/pam/pamlib.sh).
. "$(dirname "$0")/../pam/pamlib.sh"
PK_NS_HOSTNAME=pamtest  # PK_AUD is host-login:pamtest: this host's %h
pk_begin -s sudo pamtester setpriv askpass setuid
pk_etc_append /etc/hosts "127.0.1.1 pamtest"  # sudo resolves its host name
export PK_CONFIG_FILE=/etc/k8s-auth/config.yaml PK_RUNDIR=/run/k8s-auth PK_HOME=/tmp
pk_write_config
pk_debian_stack || exit 1
"$PK_CLI" sync >/dev/null || exit 1
mkdir -p "$T/sudoers.d"
cat >"$T/sudoers.d/k8s" <<'EOF'
Defaults lecture=never, passwd_tries=1
%k8s-ops ALL=(ALL:ALL) ALL
EOF
chmod 440 "$T/sudoers.d/k8s"
mount --bind "$T/sudoers.d" /etc/sudoers.d

# erin logs in once (the store learns her mapped group k8s-ops), so the
# %k8s-ops rule applies to her from then on through libnss_k8s
pk_pam login erin authenticate <<<"$(pk_oidc_token erin --groups team-ops)"
pk_check "erin logs in once with an oidc:team-ops token" test "$PK_RC" = 0 || echo "$PK_OUT"
EUID_=$(id -u erin) EGID_=$(id -g erin)
pk_check "erin is in k8s-ops (store, NSS)" eval 'id -nG erin | grep -qw k8s-ops'

# Everything erin's askpass touches is hers: the token file, its cache, the
# spy's log (prompt and byte count of each answer; never the answer).
U=$T/erin
mkdir -m 0700 "$U" "$U/cache"
chown -R "$EUID_:$EGID_" "$U"
# The helper is exec'ed (its parent stays sudo, whose pid keys the helper's
# cache between prompts); a reader between it and sudo logs each answer's
# length (0: the helper refused, exit 1 and nothing on stdout).
cat >"$T/spy" <<'EOF'
#!/bin/bash
exec "$SPY_BIN" "$@" > >(out=$(cat); printf '%s\t%s\n' "$1" "${#out}" >>"$SPY_LOG"
	[ -z "$out" ] || printf '%s\n' "$out")
EOF
cat >"$T/token-cmd" <<EOF
#!/bin/sh
# K8S_ASKPASS_COMMAND: leaves a trace when the helper fetches a token
touch "$U/fetched"
exec cat "$U/token"
EOF
chmod 755 "$T/spy" "$T/token-cmd"

# as_erin TOKEN [ENV...]: erin runs `sudo -A -k id -u` (never a cached
# timestamp) with the token behind her askpass.  PK_OUT, PK_RC.
as_erin() {
	printf '%s\n' "$1" >"$U/token"
	chown "$EUID_:$EGID_" "$U/token"
	chmod 600 "$U/token"
	rm -f "$U/spy.log" "$U/fetched"
	shift
	PK_OUT=$(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LANG=C \
		SUDO_ASKPASS="$T/spy" K8S_ASKPASS_COMMAND="$T/token-cmd" \
		K8S_ASKPASS_CACHE_DIR="$U/cache" K8S_ASKPASS_CHUNK=400 RAW_ASKPASS_BIN="$PK_ASKPASS" \
		XDG_CONFIG_HOME="$U/xdg" \
		SPY_BIN="$PK_ASKPASS" SPY_LOG="$U/spy.log" "$@" \
		setpriv --reuid="$EUID_" --regid="$EGID_" --init-groups \
		sudo -A -k id -u </dev/null 2>&1)
	PK_RC=$?
}
prompts() { grep -c . "$U/spy.log" 2>/dev/null || echo 0; }
refused_as() { # REASON: sudo failed, ran nothing, and pam_k8s logged REASON
	[ "$PK_RC" != 0 ] && ! grep -qx 0 <<<"$PK_OUT" &&
		pk_new_log | grep -F 'auth refused' | grep -F 'user="erin"' | grep -qF "reason=\"$1"
}

# ---- every size gets in framed, through sudo's own prompt
for n in 511 512 1023 1024 4095 4096; do
	t=$(pk_oidc_token erin --groups team-ops --alg ES256 --size "$n")
	if [ "${#t}" != "$n" ]; then
		pk_fail "minting a $n-byte token (got ${#t})"
		continue
	fi
	pk_mark_log
	as_erin "$t"
	want=$(((n + 399) / 400))
	if [ "$PK_RC" = 0 ] && [ "$(tail -n 1 <<<"$PK_OUT")" = 0 ] && [ "$(prompts)" = "$want" ] &&
		! awk -F '\t' '$2 == 0 || $2 >= 512 { bad = 1 } END { exit !bad }' "$U/spy.log"; then
		pk_ok "$n-byte token through sudo -A: accepted in $want answers, each < 512 bytes"
	else
		pk_fail "$n-byte token through sudo -A: rc=$PK_RC prompts=$(prompts) $PK_OUT $(cat "$U/spy.log" 2>/dev/null) $(pk_new_log | tail -n 3)"
	fi
	pk_check "$n bytes: the last answer emptied the helper's cache" test -z "$(ls -A "$U/cache")"
	pk_check "$n bytes: token never logged" pk_no_leak "$t"
done
pk_check "sudo passed pam_k8s's first and continuation prompts as they are" \
	eval 'head -n 2 "$U/spy.log" | cut -f 1 | diff -q - <(printf "%s\n" \
		"Kubernetes token (audience $PK_AUD): " \
		"Kubernetes token (audience $PK_AUD) continued at byte 400 of 4096: ") >/dev/null'

t4096=$t
# and with SUDO_ASKPASS naming the helper itself, as docs/pam.md says
as_erin "$t4096" SUDO_ASKPASS="$PK_ASKPASS"
pk_check "4096 bytes, SUDO_ASKPASS=k8s-ssh-askpass K8S_ASKPASS_CHUNK=400: accepted" \
	test "$PK_RC" = 0 -a "$(tail -n 1 <<<"$PK_OUT")" = 0 || echo "$PK_OUT"
as_erin "$t4096" SUDO_ASKPASS="$PK_ASKPASS" K8S_ASKPASS_AUDIENCE='host-login:%h'
pk_check "4096 bytes, K8S_ASKPASS_AUDIENCE=host-login:%h (%h = this host under sudo): accepted" \
	test "$PK_RC" = 0 -a "$(tail -n 1 <<<"$PK_OUT")" = 0 || echo "$PK_OUT"

# ---- unframed at a cut length: refused (the same kind of token got in framed above)
t511=$(pk_oidc_token erin --groups team-ops --alg ES256 --size 511)
pk_mark_log
as_erin "$t511" SPY_BIN="$PK_REPO/tests/pam/raw-askpass.sh" RAW_MODE=unframed RAW_TOKEN_FILE="$U/token"
pk_check "511 bytes unframed through sudo: refused (cut length)" refused_as "token may have been cut by the client" ||
	echo "$PK_OUT"

# ---- sudo's own limit, unframed: 510 bytes pass, 512 are dropped (no answer)
for n in 510 512; do
	t=$(pk_oidc_token erin --groups team-ops --alg ES256 --size "$n")
	pk_mark_log
	as_erin "$t" SPY_BIN="$PK_REPO/tests/pam/raw-askpass.sh" RAW_MODE=unframed RAW_TOKEN_FILE="$U/token"
	if [ $n = 510 ]; then
		pk_check "510 bytes unframed through sudo: accepted" test "$PK_RC" = 0 -a "$(tail -n 1 <<<"$PK_OUT")" = 0
	else
		pk_check "512 bytes unframed: sudo dropped the answer, refused" refused_as "no answer" || echo "$PK_OUT"
	fi
done

# ---- framed answers of 512+ bytes: sudo drops them; refused, never accepted
pk_mark_log
as_erin "$t4096" K8S_ASKPASS_CHUNK=960
pk_check "4096 bytes in the helper's default 960-byte chunks: sudo dropped them, refused" \
	refused_as "no answer" || echo "$PK_OUT"

# ---- a client that cut a framed answer, or mixed two tokens
# CUT_MODE=cut: every answer cut to CUT_AT bytes, continuations at the
# offsets the client meant (400, 800, ...), not the one asked for.
# CUT_MODE=mix: the first answer from CUT_TOKEN, the rest from CUT_TOKEN2
# (same length) at the offsets asked for.
cat >"$T/cutter" <<'EOF'
#!/bin/bash
case $1 in
"Kubernetes token (audience "*"): ")
	"$RAW_ASKPASS_BIN" --frame 400 <"$CUT_TOKEN" | head -n 1 | cut -c "1-$CUT_AT"
	echo 1 >"$CUT_STATE" ;;
*" continued at byte "*)
	n=$(cat "$CUT_STATE")
	echo $((n + 1)) >"$CUT_STATE"
	if [ "$CUT_MODE" = cut ]; then
		"$RAW_ASKPASS_BIN" --frame 400 <"$CUT_TOKEN" | sed -n "$((n + 1))p" | cut -c "1-$CUT_AT"
	else
		off=${1##* continued at byte }
		"$RAW_ASKPASS_BIN" --frame 400 <"$CUT_TOKEN2" | grep -m1 "^${off%% of *}:"
	fi ;;
*) exit 1 ;;
esac
EOF
chmod 755 "$T/cutter"
t4096b=$(pk_oidc_token erin --groups team-ops --alg ES256 --size 4096)
printf '%s\n' "$t4096" >"$U/token1"
printf '%s\n' "$t4096b" >"$U/token2"
chown "$EUID_:$EGID_" "$U/token1" "$U/token2"
cutenv=(SPY_BIN="$T/cutter" CUT_TOKEN="$U/token1" CUT_TOKEN2="$U/token2" CUT_STATE="$U/cut-state")
pk_mark_log
as_erin "$t4096" "${cutenv[@]}" CUT_MODE=cut CUT_AT=300
pk_check "framed answers cut to 300 bytes, offsets not followed: refused (chunk out of place)" \
	refused_as "token chunk out of place" || echo "$PK_OUT"
pk_mark_log
as_erin "$t4096" "${cutenv[@]}" CUT_MODE=mix CUT_AT=500
pk_check "first piece of one token, the rest of another: refused (digest mismatch)" \
	refused_as "token digest mismatch" || echo "$PK_OUT"

# ---- prompts that are not pam_k8s's grammar: no answer, no token fetched
hostile() { # DESC PAM-AUTH-LINE
	pk_stack sudo "auth requisite $2" "account required pam_permit.so" "session required pam_permit.so"
	pk_mark_log
	as_erin "$t512"
	if [ "$PK_RC" != 0 ] && ! grep -qx 0 <<<"$PK_OUT" && [ "$(prompts)" -ge 1 ] &&
		awk -F '\t' '$2 != 0 { bad = 1 } END { exit bad }' "$U/spy.log" && [ ! -e "$U/fetched" ]; then
		pk_ok "hostile prompt ($1): the helper answered nothing, fetched no token; sudo refused"
	else
		pk_fail "hostile prompt ($1): rc=$PK_RC $PK_OUT $(cat "$U/spy.log" 2>/dev/null) fetched=$([ -e "$U/fetched" ] && echo yes)"
	fi
}
t512=$(pk_oidc_token erin --groups team-ops --alg ES256 --size 512)
cp /etc/pam.d/sudo "$T/sudo.pam"
hostile "one character more" "pam_k8s.so [prompt=Kubernetes token (audience %a):: ]"
hostile "another text" "pam_k8s.so [prompt=Enter your Kubernetes token for %a: ]"
hostile "a continuation with no first prompt" "pam_k8s.so [prompt=Kubernetes token (audience %a) continued at byte 0 of 512: ]"
hostile "pam_unix's password prompt" "pam_unix.so"
hostile "another host's audience (host-login:prod-db)" \
	"pam_k8s.so [prompt=Kubernetes token (audience host-login:prod-db): ]"
hostile "the apiserver's own audience" \
	"pam_k8s.so [prompt=Kubernetes token (audience https://kubernetes.default.svc.cluster.local): ]"
hostile "a forged (erin@prod-db) prefix" \
	"pam_k8s.so [prompt=(erin@prod-db) Kubernetes token (audience host-login:prod-db): ]"
cat "$T/sudo.pam" >/etc/pam.d/sudo
as_erin "$t512"
pk_check "the stock stack again: the same token gets in" test "$PK_RC" = 0 -a "$(tail -n 1 <<<"$PK_OUT")" = 0

# ---- a process called sudo that is not the setuid sudo: not trusted as sudo
cp /bin/bash "$U/sudo"
chown "$EUID_:$EGID_" "$U/sudo"
rm -f "$U/fetched"
PK_OUT=$(env -i PATH=/usr/bin:/bin K8S_ASKPASS_COMMAND="$T/token-cmd" K8S_ASKPASS_CACHE_DIR="$U/cache" \
	XDG_CONFIG_HOME="$U/xdg" setpriv --reuid="$EUID_" --regid="$EGID_" --init-groups \
	"$U/sudo" -c "$PK_ASKPASS 'Kubernetes token (audience $PK_AUD): '; echo rc=\$?" 2>&1)
pk_check "the helper run by a copy of bash called sudo (not setuid root): refused, no token fetched" \
	eval '[[ $PK_OUT == *"run by sudo (pid "*"), neither ssh nor sudo"*"rc=1" ]] && [ ! -e "$U/fetched" ]' ||
	echo "$PK_OUT"
pk_done
