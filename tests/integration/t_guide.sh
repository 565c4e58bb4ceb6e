#!/bin/bash
# The operator's guide, followed literally: the code blocks of
# docs/guide.md marked <!-- guide-test: NAME --> run as they are printed, in
# a throwaway Debian root of the host's suite (tests/debian/debianlib.sh:
# the cached minbase root plus sudo, openssh-server, Debian's kubectl 1.20
# and jq), with the packages of this tree (built once per tree state, shared
# with t_debian_packages.sh).  The cluster is tests/fakecluster (its URL and
# CA replace the guide's example ones; nothing else is edited).  The host
# is called web-1 (a private UTS namespace), as in the guide.
#   install (apt install ./*.deb) -> kubeconfig, config.yaml -> sync ->
#   a token minted with the guide's kubectl 1.20 form -> k8s-auth check ->
#   pam-auth-update --enable k8s -> getent/id -> Debian's stock sshd: the
#   symptom the troubleshooting table gives -> the sshd drop-in: ssh logins
#   with a service-account token and an OIDC token through k8s-ssh-askpass
#   -> the sudoers rules and the sudo line: sudo in those sessions -> a rule
#   that wants a password: a pasted token is dropped by sudo, the guide's
#   recipe gets in -> k8s-auth status -> the removal commands: local admin's
#   sudo still works, nothing of ours left.
set -u
cd "$(dirname "$0")/../.." || exit 2
if [ -z "${T_GUIDE_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "skip: needs root (chroot, mounts)"; exit 77; }
	T_GUIDE_NS=1 exec unshare --mount --uts --propagation private bash "$0" "$@"
fi
. tests/lib.sh
. tests/guidelib.sh
. tests/debian/debianlib.sh
command -v jq >/dev/null || skip "jq not installed (tests/install-deps.sh)"
if [ -n "${T_GUIDE_DEBUG:-}" ]; then  # keep the root for a look: its path, then a pause
	eval "_t_guide_fail() $(declare -f fail | tail -n +2)"
	fail() { echo "FAIL: $*; root kept for 15 min: ${DEB_ROOT:-}" >&2; sleep 900; _t_guide_fail "$@"; }
fi
hostname web-1 || fail "hostname web-1"
t0=$SECONDS
lap() { echo "time: $1 $((SECONDS - t0))s"; }

deb_init
deb_build
lap build
deb_root_unpack "$DEB_WORK/root" guide
R=$DEB_ROOT
lap root
mount --rbind /dev "$R/dev" || fail "bind /dev"
mkdir -p "$R/run/sshd" && chmod 755 "$R/run/sshd"
printf '127.0.1.1\tweb-1\n' >>"$R/etc/hosts"

# block NAME [DIR]: the guide's block NAME run by bash (-e, pipefail) as
# root in the root, in DIR (default /root), on the caller's stdin; prints
# stdout and stderr.
block() {
	local name=$1 dir=${2:-/root} code
	code=$(guide_block "$name") || fail "no block $name in docs/guide.md"
	printf '%s\n' "$code" >"$R/tmp/guide-$name.sh"
	in_root env HOME=/root bash -c "cd '$dir' && exec bash -eo pipefail /tmp/guide-$name.sh" 2>&1
}
# file_block NAME: a block whose first line is "# /path ...": written to
# that path in the root, as printed.  Prints the path.
file_block() {
	local code path
	code=$(guide_block "$1") || fail "no block $1 in docs/guide.md"
	path=$(sed -n '1s/^# \(\/[^ ]*\).*/\1/p' <<<"$code")
	[ -n "$path" ] || fail "block $1 does not start with '# /path'"
	mkdir -p "$R${path%/*}" && printf '%s\n' "$code" >"$R$path" || fail "writing $path"
	echo "$path"
}

# ---- the cluster: ServiceAccount ops/alice; the user's kubectl in the root
fc_start
fc sa create ops/alice >/dev/null || fail "fc sa create ops/alice"
mkdir -p "$R/root/.kube" && cp "$FC_DIR/kubeconfig-admin" "$R/root/.kube/config"

# ---- Packages
mkdir -p "$R/root/debs" && cp "$DEB_DIR"/*.deb "$R/root/debs/"
yes | block install /root/debs >"$DEB_WORK/install.log" || { tail -n 30 "$DEB_WORK/install.log"; fail "guide: apt install ./*.deb"; }
for p in $DEB_PKGS; do
	[ "$(in_root dpkg-query -W -f='${db:Status-Abbrev}' "$p")" = "ii " ] || fail "$p not installed"
done
ok "guide: apt install ./libpam-k8s_*.deb ./libnss-k8s_*.deb ./k8s-auth_*.deb (offline: dependencies from the cached archives)"
lap install

# ---- kubeconfig and configuration: the guide's, with this cluster's URL and CA
guide_block kubeconfig | sed -e "s#https://api.prod.example.com:6443#$FC_URL#" \
	-e "s#LS0tLS1CRUdJTi\.\.\.#$(base64 -w0 "$FC_CA")#" >"$R/etc/k8s-auth/kubeconfig" || fail "kubeconfig block"
grep -q "$FC_URL" "$R/etc/k8s-auth/kubeconfig" && ! grep -q 'LS0tLS1CRUdJTi\.\.\.' "$R/etc/k8s-auth/kubeconfig" ||
	fail "the guide's kubeconfig no longer has the example server and CA this test replaces"
tokfile=$(sed -n 's/^ *tokenFile: *\([^ ]*\).*/\1/p' "$R/etc/k8s-auth/kubeconfig")
[ -n "$tokfile" ] || fail "the guide's kubeconfig has no tokenFile"
(umask 077 && cp "$FC_DIR/reviewer-token" "$R$tokfile") && chmod 600 "$R/etc/k8s-auth/kubeconfig" || fail "reviewer token"
ca_yaml=$(sed 's/^/      /' "$FC_CA")
guide_block config | awk -v url="$FC_IDP" -v ca="$ca_yaml" '
	/url: https:\/\/login\.example\.com/ { sub(/https:\/\/login\.example\.com/, url); print; print "    certificateAuthority: |"; print ca; next }
	{ print }' >"$R/etc/k8s-auth/config.yaml" || fail "config block"
grep -q "$FC_IDP" "$R/etc/k8s-auth/config.yaml" || fail "the guide's config has no issuer https://login.example.com to replace"
ok "kubeconfig and config.yaml: the guide's blocks, with the test cluster's URL, CA and issuer"

out=$(block sync </dev/null) || fail "guide block sync: $out"
assert_contains "$out" "ops.alice:*:" "guide: k8s-auth sync --dry-run && k8s-auth sync; getent passwd ops.alice"

# ---- a token, minted on the host with Debian 12's kubectl (1.20: the --raw form)
assert_contains "$(in_root kubectl version --client 2>&1)" 'GitVersion:"v1.20.' "the root's kubectl is Debian 12's 1.20"
block mint-raw /root </dev/null >"$R/root/token" 2>"$DEB_WORK/mint.err" || fail "guide block mint-raw: $(cat "$R/root/token" "$DEB_WORK/mint.err")"
out=$(block check /root </dev/null) || fail "guide block check: $out"
assert_eq "$(sed '$d' <<<"$out" | jq -r '.authenticated, .local_user' | tr '\n' ' ')$(tail -n 1 <<<"$out")" \
	"true ops.alice exit 0" "guide: k8s-auth check --user ops.alice < token (a token from the guide's mint-raw block)"
lap check

# ---- PAM and NSS
out=$(block pam-enable </dev/null) || fail "guide block pam-enable: $out"
grep -Eq '^auth.*pam_k8s\.so' "$R/etc/pam.d/common-auth" || fail "pam-auth-update --enable k8s: no pam_k8s in common-auth"
in_root pam-auth-update --enable mkhomedir || fail "pam-auth-update --enable mkhomedir (the guide's home directories)"
out=$(block nss-check </dev/null) || fail "guide block nss-check: $out"
assert_contains "$out" "uid=" "guide: getent passwd ops.alice; id ops.alice; k8s-auth users; k8s-auth groups"

# ---- sshd: Debian's stock configuration first, then the guide's drop-in
SSHD_PID=
SSHD_PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sshd_start() {
	[ -z "$SSHD_PID" ] || { kill "$SSHD_PID"; wait "$SSHD_PID" 2>/dev/null; }
	# chroot execs env, which execs sshd: $! is sshd (in_root, a function,
	# would put a subshell in between)
	chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
		/usr/sbin/sshd -D -p "$SSHD_PORT" -o ListenAddress=127.0.0.1 -E /var/log/sshd.log &
	SSHD_PID=$!
	for ((i = 0; i < 100; i++)); do
		kill -0 "$SSHD_PID" 2>/dev/null || break
		(exec 3<>"/dev/tcp/127.0.0.1/$SSHD_PORT") 2>/dev/null && return 0
		sleep 0.05
	done
	fail "sshd did not start: $(tail -n 5 "$R/var/log/sshd.log")"
}
on_exit '[ -z "$SSHD_PID" ] || kill "$SSHD_PID" 2>/dev/null'
printf 'Host web-1\n    HostName 127.0.0.1\n    Port %s\n    StrictHostKeyChecking no\n    UserKnownHostsFile /dev/null\n    LogLevel ERROR\n' "$SSHD_PORT" \
	>"$R/etc/ssh/ssh_config.d/t-guide.conf"
# ssh_token USER TOKENFILE CMD: ssh USER@web-1 with k8s-ssh-askpass answering
# from TOKENFILE (the guide's client side, for a token in a file)
ssh_token() {
	local u=$1 f=$2
	shift 2
	in_root env HOME=/root SSH_ASKPASS=k8s-ssh-askpass SSH_ASKPASS_REQUIRE=force DISPLAY= K8S_ASKPASS_TOKEN_FILE="$f" \
		K8S_ASKPASS_CACHE_DIR=/root/.askpass-cache setsid -w ssh -o ConnectTimeout=10 "$u@web-1" "$@" 2>&1
}
mkdir -p -m 700 "$R/root/.askpass-cache"
grep -Eq '^KbdInteractiveAuthentication no' "$R/etc/ssh/sshd_config" && grep -Eq '^UsePAM yes' "$R/etc/ssh/sshd_config" ||
	fail "Debian's stock sshd_config is not what the guide describes: $(grep -E 'Kbd|UsePAM|Password' "$R/etc/ssh/sshd_config")"
sshd_start
out=$(ssh_token ops.alice /root/token id </dev/null)
assert_contains "$out" "k8s-ssh-askpass: not a pam_k8s prompt: refusing" "stock sshd: a password prompt, which k8s-ssh-askpass refuses"
assert_contains "$out" "Permission denied (publickey,password)" "stock sshd: the guide's troubleshooting symptom"
# what the guide says of that prompt: a token answered there does reach
# pam_k8s (sshd logs "Accepted password"), within ssh's 1023 bytes
printf '#!/bin/sh\ncase "$1" in *"password: ") cat /root/token ;; *) exit 1 ;; esac\n' >"$R/root/paste-token" && chmod 755 "$R/root/paste-token"
[ "$(wc -c <"$R/root/token")" -lt 1024 ] || fail "the SA token is 1024 bytes or more"
out=$(in_root env HOME=/root SSH_ASKPASS=/root/paste-token SSH_ASKPASS_REQUIRE=force DISPLAY= \
	setsid -w ssh -o ConnectTimeout=10 -o NumberOfPasswordPrompts=1 ops.alice@web-1 id -un </dev/null 2>&1)
assert_eq "$out" ops.alice "stock sshd: a token of $(wc -c <"$R/root/token") bytes answered at the password prompt logs in"
grep -q 'Accepted password for ops.alice' "$R/var/log/sshd.log" || fail "sshd did not log 'Accepted password' for it"
path=$(file_block sshd)
assert_eq "$path" /etc/ssh/sshd_config.d/k8s.conf "guide: the sshd drop-in"
in_root /usr/sbin/sshd -T -p "$SSHD_PORT" | grep -E '^(usepam|kbdinteractiveauthentication) ' | sort | tr '\n' ' ' |
	grep -qx 'kbdinteractiveauthentication yes usepam yes ' || fail "sshd -T with the drop-in: $(in_root /usr/sbin/sshd -T | grep -E '^(usepam|kbdint)')"
ok "sshd -T | grep -E '^(usepam|kbdinteractiveauthentication) ': yes, yes (the table's check)"
sshd_start
out=$(ssh_token ops.alice /root/token id </dev/null) || fail "ssh ops.alice@web-1 with the SA token: $out"
assert_contains "$out" "uid=" "ssh with a service-account token (the guide's drop-in, k8s-ssh-askpass)"
assert_contains "$out" "(k8s-ops)" "ops.alice is in k8s-ops (system:serviceaccounts:ops)"
"$PY" "$FC_PY" idp-mint --dir "$FC_DIR" \
	--claims '{"aud": "host-login:web-1", "email": "alice@example.com", "groups": ["platform-admins"]}' >"$R/root/oidc" ||
	fail "idp-mint"
out=$(ssh_token alice /root/oidc id </dev/null) || fail "ssh alice@web-1 with the OIDC token: $out"
assert_contains "$out" "(sudo)" "ssh with an OIDC token: alice, in sudo (oidc:platform-admins)"
lap sshd

# ---- sudo: the guide's sudoers rules and pam line
path=$(file_block sudoers)
chmod 440 "$R$path" && in_root visudo -c >/dev/null || fail "visudo -c with the guide's $path"
line=$(guide_block sudo-pam)
awk -v line="$line" '/^@include[[:space:]]+common-account/ { print line } { print }' "$R/etc/pam.d/sudo" >"$DEB_WORK/sudo.pam" &&
	cat "$DEB_WORK/sudo.pam" >"$R/etc/pam.d/sudo" || fail "/etc/pam.d/sudo"
out=$(ssh_token ops.alice /root/token 'sudo -n id -u' </dev/null)
assert_eq "$(tail -n 1 <<<"$out")" 0 "sudo in an SA-token session (%k8s-ops NOPASSWD, re-validated)"
out=$(ssh_token alice /root/oidc 'sudo -n id -u' </dev/null)
assert_eq "$(tail -n 1 <<<"$out")" 0 "sudo in an OIDC-token session (%sudo NOPASSWD, re-validated)"
# a rule that wants a password: the token pasted at sudo's prompt is
# dropped; the guide's recipe gets in
sed -i 's/^%sudo\([[:space:]].*\)NOPASSWD: ALL/%sudo\1ALL/' "$R$path" && grep -q '^%sudo.*) *ALL' "$R$path" && in_root visudo -c >/dev/null ||
	fail "making %sudo want a password: $(grep '^%sudo' "$R$path")"
[ "$(wc -c <"$R/root/oidc")" -ge 512 ] || fail "the OIDC token is shorter than 512 bytes: no test of sudo's limit"
out=$(ssh_token alice /root/oidc 'sudo -S -p "" id -u' <"$R/root/oidc")
[ "$(tail -n 1 <<<"$out")" != 0 ] || fail "a token pasted at sudo's prompt got in?"
ok "a rule with a password: the token ($(wc -c <"$R/root/oidc") bytes) pasted at sudo's prompt does not get in"
code=$(guide_block sudo-token)
out=$(ssh_token alice /root/oidc "$code" <"$R/root/oidc") || fail "guide's sudo-token recipe: $out"
assert_eq "$(tail -n 1 <<<"$out")" 0 "guide: the pasted token through SUDO_ASKPASS=k8s-ssh-askpass gets sudo"
[ ! -e "$R/home/alice/.k8s-token" ] || fail "the recipe left the token file"
lap sudo

# ---- status
out=$(block status </dev/null)
assert_contains "$out" "exit 0" "guide: sudo k8s-auth status; echo \"exit \$?\" (all ok or warnings)"
grep -E '^fail' <<<"$out" && fail "k8s-auth status: a check failed"
grep -E '^(ok|warn) ' <<<"$out" | sed 's/^/    /' | head -n 40

# ---- removal
cp "$R/etc/nsswitch.conf" "$DEB_WORK/nss.installed"
in_root useradd -m -G sudo localadmin || fail "useradd localadmin"
printf 'localadmin ALL=(ALL:ALL) NOPASSWD: ALL\n' >"$R/etc/sudoers.d/t-local" && chmod 440 "$R/etc/sudoers.d/t-local"
kill "$SSHD_PID"; wait "$SSHD_PID" 2>/dev/null; SSHD_PID=
yes | block remove >"$DEB_WORK/remove.log" || { tail -n 30 "$DEB_WORK/remove.log"; fail "guide block remove"; }
for p in $DEB_PKGS; do
	st=$(in_root dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)
	[ -z "$st" ] || [ "$st" = "un " ] || fail "$p still known to dpkg after purge: '$st'"
done
! grep -q '\bk8s\b' "$R/etc/nsswitch.conf" || fail "k8s left in nsswitch.conf"
! grep -q pam_k8s "$R"/etc/pam.d/common-* || fail "pam_k8s left in the common stacks"
left=$(cd "$R" && find etc var lib usr run -path var/cache/apt -prune -o -name '*k8s*' -print 2>/dev/null | grep -v '^etc/pam.d/sudo$')
[ -z "$left" ] || fail "left after the guide's removal: $left"
g=$(in_root id -g localadmin)
out=$(in_root setpriv --reuid=localadmin --regid="$g" --init-groups sudo -n id -u 2>&1)
assert_eq "$out" 0 "after removal: a local admin's sudo works (the guide's sudo line is skipped)"
ok "guide: removal leaves nothing of ours (the sudo line stays, harmless)"
lap total
