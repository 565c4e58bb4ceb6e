# shellcheck shell=bash
# Shared setup for pam_k8s's integration tests (t_pam_*, t_sshd_*, t_sudo_*,
# t_askpass_*).  Everything happens in a private mount namespace, so the
# host's /etc/pam.d, /etc/nsswitch.conf, /etc/sudoers, /dev/log, library
# directory and identity store are never touched:
#
#   . "$(dirname "$0")/../pam/pamlib.sh"
#   pk_begin [-s] [-n] NEED...  # the preamble every t_*.sh shares: set -u, cd to
#                          # the repository, then the four steps below; skips
#                          # (exit 77) unless every NEED is there (pk_need);
#                          # -s: pk_system_install too; -n: no fake cluster
#   pk_enter_ns "$@"       # re-executes the test under `unshare -m` (root only;
#                          # with PK_NS_HOSTNAME set, also `--uts` with that host name)
#   pk_setup               # temp dir $T, private /dev with a /dev/log -> $T/syslog,
#                          # private copy of /etc/pam.d
#   pk_idp_start           # tests/fakecluster in $T/idp: TokenReview + OIDC IdP
#   pk_sa_token / pk_oidc_token / pk_mint   # tokens signed by the fake's keys
#   pk_write_config        # $T/config.yaml (tokenReview + jwt + accounts)
#   pk_stack NAME LINES    # /etc/pam.d/NAME (MOD = the module under test)
#   pk_pam NAME USER OPS... <<<"answers"   # pamtester; output in PK_OUT, rc in PK_RC
#   pk_ok / pk_fail / pk_check DESC CMD... / pk_done
#
# PK_BUILD selects the build directory (default <repo>/build).

PK_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PK_BUILD=$(cd "${PK_BUILD:-$PK_REPO/build}" 2>/dev/null && pwd || echo "${PK_BUILD:-$PK_REPO/build}")
PK_MOD=$PK_BUILD/pam_k8s.so
PK_HELPER=$PK_BUILD/k8s-auth-helper
# the module runs its helper from this compiled-in path only (checked:
# root-owned, not group/world-writable); pk_setup puts the build's there
PK_HELPER_PATH=/usr/libexec/k8s-auth/k8s-auth-helper
PK_CLI=$PK_BUILD/k8s-auth
PK_ASKPASS=$PK_BUILD/k8s-ssh-askpass
PK_PY=/usr/bin/python3
PK_AUD=host-login:pamtest
PK_FC_PY=$PK_REPO/tests/fakecluster/fakecluster.py
# EKS-style pod-bound tokens (a long issuer, jti, pod and node) are
# 1.15-1.2 KB; the fake's issuer is short, so its SA tokens are padded
PK_SA_SIZE=1180
PK_PASS=0
PK_FAIL=0
PK_BG_PIDS=()
# The test and its arguments, for pk_enter_ns's re-execution (whatever
# directory pk_begin moves to).
_PK_SELF=$(readlink -f "$0" 2>/dev/null || echo "$0")
_PK_ARGS=("$@")

pk_ok() {
	PK_PASS=$((PK_PASS + 1))
	echo "ok   - $*"
}

pk_fail() {
	PK_FAIL=$((PK_FAIL + 1))
	echo "FAIL - $*"
}

pk_skip() {
	echo "skip: $*"
	exit 77
}

# pk_check DESC CMD...: pass when CMD succeeds (returns 1 on a failure).
pk_check() {
	local desc=$1
	shift
	if "$@"; then pk_ok "$desc"; else pk_fail "$desc"; return 1; fi
}

pk_done() {
	echo "pam tests: $PK_PASS passed, $PK_FAIL failed"
	[ "$PK_FAIL" = 0 ] && [ "$PK_PASS" -gt 0 ]
	exit $?
}

pk_enter_ns() {
	if [ "${PK_IN_NS:-}" = 1 ]; then
		[ -z "${PK_NS_HOSTNAME:-}" ] || hostname "$PK_NS_HOSTNAME" || exit 2
		return 0
	fi
	[ "$(id -u)" = 0 ] || pk_skip "needs root (private mount namespace)"
	command -v unshare >/dev/null || pk_skip "unshare not found"
	[ -f "$PK_MOD" ] || pk_skip "$PK_MOD not built"
	# PK_NS_HOSTNAME: a UTS namespace too, with that host name
	PK_IN_NS=1 exec unshare --mount --propagation private ${PK_NS_HOSTNAME:+--uts} bash "$_PK_SELF" "$@"
}

# pk_need NEED...: skip the test (exit 77) unless each is there.  NEED: a
# command; sshd (the OpenSSH server and client); sudo, su (installed
# setuid); askpass (the built k8s-ssh-askpass); setuid (a module the setuid
# su and sudo can load: not built with a sanitizer, whose runtime they
# cannot preload).
pk_need() {
	local n
	for n in "$@"; do
		case $n in
		sshd) [ -x /usr/sbin/sshd ] && command -v ssh >/dev/null || pk_skip "openssh not installed" ;;
		sudo) [ -u /usr/bin/sudo ] || pk_skip "sudo not installed setuid" ;;
		su) [ -u /bin/su ] || pk_skip "su not installed setuid" ;;
		askpass) [ -x "$PK_ASKPASS" ] || pk_skip "$PK_ASKPASS not built" ;;
		setuid) ! ldd "$PK_MOD" | grep -q libasan ||
			pk_skip "su and sudo are setuid: they cannot preload a sanitizer runtime" ;;
		*) command -v "$n" >/dev/null || pk_skip "$n not installed" ;;
		esac
	done
}

# pk_begin [-s] [-n] NEED...: see the top of this file.
pk_begin() {
	local system=0 idp=1
	while [ $# -gt 0 ]; do
		case $1 in
		-s) system=1 ;;
		-n) idp=0 ;;
		*) break ;;
		esac
		shift
	done
	set -u
	cd "$PK_REPO" || exit 2
	pk_enter_ns "${_PK_ARGS[@]}"
	pk_need "$@"
	pk_setup
	[ "$idp" = 0 ] || pk_idp_start
	[ "$system" = 0 ] || pk_system_install
}

_pk_cleanup() {
	local p
	for p in "${PK_BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PK_BG_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	if [ -n "${T:-}" ] && [ -d "$T" ] && [ "${PK_KEEP:-0}" != 1 ]; then
		rm -rf "$T"
	fi
}

# A /dev of our own: the host's device nodes bound in, and /dev/log a
# socket of syslogd.py writing $T/syslog.
_pk_private_dev() {
	local n
	mkdir -p "$T/hostdev"
	mount --bind /dev "$T/hostdev"
	mount -t tmpfs -o mode=0755,size=4m pktmpdev /dev
	for n in null zero full random urandom tty; do
		touch "/dev/$n"
		mount --bind "$T/hostdev/$n" "/dev/$n"
	done
	mkdir -p /dev/pts /dev/shm
	mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
	ln -s pts/ptmx /dev/ptmx
	mount -t tmpfs -o mode=1777 shm /dev/shm
	ln -s /proc/self/fd /dev/fd
	ln -s /proc/self/fd/0 /dev/stdin
	ln -s /proc/self/fd/1 /dev/stdout
	ln -s /proc/self/fd/2 /dev/stderr
	umount "$T/hostdev"
}

# Start a helper whose life ends with ours: its stdin is a pipe we hold.
# pk_bg READYFILE CMD...: waits for a READY line in READYFILE.
pk_bg() {
	local ready=$1 i
	shift
	exec {_pk_fd}> >("$@" >"$ready" 2>&1)
	PK_BG_PIDS+=($!)
	for ((i = 0; i < 200; i++)); do
		grep -q READY "$ready" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "helper did not start: $*" >&2
	cat "$ready" >&2
	return 1
}

pk_setup() {
	T=$(mktemp -d /tmp/pamtest.XXXXXX)
	chmod 755 "$T"
	trap _pk_cleanup EXIT
	mkdir -p "$T/run" "$T/cache" "$T/store" "$T/etc"
	chmod 700 "$T/run" "$T/cache"
	_pk_private_dev
	: >"$T/syslog"
	pk_bg "$T/syslogd.out" "$PK_PY" "$PK_REPO/tests/pam/syslogd.py" /dev/log "$T/syslog" || exit 1
	# /etc: the host's, read-only, with an /etc/k8s-auth of our own; the
	# files a test changes are bound over it from $T.
	mkdir -p "$T/etcx/k8s-auth" "$T/k8s-auth"
	mount -t overlay pketc -o "lowerdir=$T/etcx:/etc" /etc
	mount --bind "$T/k8s-auth" /etc/k8s-auth
	cp -a /etc/pam.d "$T/pam.d"
	mount --bind "$T/pam.d" /etc/pam.d
	# /run: private (sshd's /run/sshd, sudo's timestamps, /run/k8s-auth)
	mount -t tmpfs -o mode=0755 pkrun /run
	mkdir -m 0755 /run/sshd
	pk_helper_install "$PK_HELPER"
}

# pk_helper_install FILE: FILE becomes the helper at its compiled-in path,
# /usr/libexec/k8s-auth/k8s-auth-helper (an overlay over /usr/libexec whose
# top layer is ours, root-owned 0755 all the way down).  Again to swap it.
pk_helper_install() {
	local src=$1
	if [ -z "${_pk_libexec:-}" ]; then
		_pk_libexec=$T/libexecx
		mkdir -p "$_pk_libexec/k8s-auth"
		chmod 0755 "$_pk_libexec" "$_pk_libexec/k8s-auth"
		: >"$_pk_libexec/k8s-auth/k8s-auth-helper"
		mount -t overlay pklibexec -o "lowerdir=$_pk_libexec:/usr/libexec" /usr/libexec
	fi
	[ -e "$src" ] || { echo "no helper at $src" >&2; return 1; }
	rm -f "$T/helper.bin"
	install -m 0755 "$src" "$T/helper.bin"
	umount "$PK_HELPER_PATH" 2>/dev/null || true
	mount --bind "$T/helper.bin" "$PK_HELPER_PATH"
}

# pk_etc_file PATH [SED_SCRIPT]: a private writable copy of PATH (edited
# by sed when given), bound over it.  Rewrite it later with `cat > PATH`,
# never with sed -i (a rename cannot replace a mount point).
pk_etc_file() {
	local f=$1 copy
	copy=$T/etcfiles/${f//\//_}
	mkdir -p "$T/etcfiles"
	cp -a "$f" "$copy"
	[ $# -lt 2 ] || sed -i -E "$2" "$copy"
	mount --bind "$copy" "$f"
}

# The system as a package would leave it: libnss_k8s.so.2 and
# security/pam_k8s.so in the library directory (an overlay over the
# host's), "k8s" in nsswitch.conf, the store at its compiled-in place.
pk_system_install() {
	local libdir
	libdir=$(readlink -f /lib/x86_64-linux-gnu)
	mkdir -p "$T/libx/security"
	# every process loads the NSS module: it must not need a sanitizer runtime
	PK_NSS_SO=${PK_NSS_SO:-$PK_BUILD/libnss_k8s.so.2}
	if ldd "$PK_NSS_SO" | grep -q libasan; then
		PK_NSS_SO=$PK_REPO/build/libnss_k8s.so.2
	fi
	[ -f "$PK_NSS_SO" ] || pk_skip "no uninstrumented libnss_k8s.so.2 (set PK_NSS_SO)"
	cp "$PK_NSS_SO" "$T/libx/"
	cp "$PK_MOD" "$T/libx/security/pam_k8s.so"
	mount -t overlay pklib -o "lowerdir=$T/libx:$libdir" "$libdir"
	pk_etc_file /etc/nsswitch.conf 's/^(passwd|group):( +)(.*)$/\1:\2\3 k8s/' 
	pk_private_store
}

# The store directory the NSS module reads is compiled in; give the
# namespace one that is ours (an empty overlay entry, then a bind mount).
pk_private_store() {
	if [ ! -d /var/lib/k8s-auth ]; then
		mkdir -p "$T/varlib/k8s-auth"
		mount -t overlay pkvarlib -o "lowerdir=$T/varlib:/var/lib" /var/lib
	fi
	mount --bind "$T/store" /var/lib/k8s-auth
	PK_STORE=/var/lib/k8s-auth
}

# The cluster: tests/fakecluster (its README is the contract) in $T/idp,
# serving on a free port.  PK_URL is the apiserver (and service-account
# issuer), PK_ISS the OIDC issuer (PK_URL/idp); $T/idp/kubeconfig holds the
# reviewer's token.  The server, PK_IDP_PID, is one of PK_BG_PIDS (killed
# at exit; PK_BG_PIDS[1] right after pk_setup) and dies with this shell
# anyway (--die-with-parent).
pk_idp_start() {
	pk_cluster_start "$T/idp"
	PK_IDP_PID=${PK_BG_PIDS[${#PK_BG_PIDS[@]} - 1]}
	PK_URL=$(cat "$T/idp/url")
	PK_ISS=$PK_URL/idp
}

# pk_cluster_start DIR: a fake cluster of its own (own CA, keys, reviewer)
# in DIR, its URL in DIR/url; its server joins PK_BG_PIDS.
pk_cluster_start() {
	local dir=$1 pid i
	"$PK_PY" "$PK_FC_PY" init --dir "$dir" >"$dir.out" 2>&1 || {
		cat "$dir.out" >&2
		exit 1
	}
	"$PK_PY" "$PK_FC_PY" serve --dir "$dir" --die-with-parent --lifetime 3600 >>"$dir.out" 2>&1 &
	pid=$!
	PK_BG_PIDS+=("$pid")
	for ((i = 0; i < 200; i++)); do
		[ -s "$dir/url" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	[ -s "$dir/url" ] || {
		echo "fake cluster did not start" >&2
		cat "$dir.out" >&2
		exit 1
	}
}

# pk_fc ARGS...: tests/fakecluster/fakecluster.py ARGS on $T/idp
# (e.g. pk_fc sa delete ops/alice).
pk_fc() {
	"$PK_PY" "$PK_FC_PY" "$@" --dir "$T/idp"
}

# pk_reviews: how many TokenReviews the cluster has answered so far.  The
# fake counts requests per path and never logs a token: compare counts
# before and after a step to prove what was, or was not, sent.
pk_reviews() {
	"$PK_PY" - "$T/idp/requests.json" <<'EOF'
import json, sys
try:
    counts = json.load(open(sys.argv[1]))
except FileNotFoundError:
    counts = {}
print(counts.get("/apis/authentication.k8s.io/v1/tokenreviews", 0))
EOF
}

# pk_write_config [EXTRA_YAML]: tokenReview against the test issuer, jwt
# for OIDC tokens from it, the SPEC's mapping rules, temp store/run/cache.
pk_write_config() {
	local extra=${1-} file=${PK_CONFIG_FILE:-$T/config.yaml}
	{
		cat <<EOF
tokenReview:
  kubeconfig: $T/idp/kubeconfig
  audiences: ["$PK_AUD"]
  timeout: ${PK_TIMEOUT:-2s}
  cacheTTL: ${PK_CACHE_TTL:-0}
jwt:
- issuer:
    url: $PK_ISS
    audiences: ["$PK_AUD"]
    certificateAuthority: |
$(sed 's/^/      /' "$T/idp/ca.crt")
  claimMappings:
    username: {claim: email, prefix: ""}
    groups: {claim: groups, prefix: "oidc:"}
    uid: {claim: sub}
policy:
  maxTokenLifetime: 24h
accounts:
  users:
  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)\$'
    local: '\\1.\\2'
  - match: '^([a-z][a-z0-9_-]*)@example\\.com\$'
    local: '\\1'
  declared: [${PK_DECLARED:-ops.alice, ops.bob, ops.dave, carol, erin}]
  home: ${PK_HOME:-/home/%u}
  groups:
  - match: '^oidc:platform-admins\$'
    local: sudo
  - match: '^oidc:team-(.*)\$'
    local: 'k8s-\\1'
  - match: '^system:serviceaccounts:ops\$'
    local: k8s-ops
store: ${PK_STORE:-$T/store}
cacheDir: $T/cache
runDir: ${PK_RUNDIR:-$T/run}
EOF
		printf '%s\n' "$extra"
	} >"$file"
	chmod 644 "$file"
}

# pk_mint ARGS...: a token signed with the fake cluster's keys by its CLI.
# ARGS: --sub S --aud A1[,A2...] [--lifetime S (600)] [--iat-offset S]
# [--iss URL] [--alg RS256|ES256] [--size N (exact length)] [--email E]
# [--groups G1,G2...].  With --sa-uid UID a service-account token as
# TokenRequest makes it (with a jti), --sub system:serviceaccount:NS:NAME,
# claiming that ServiceAccount uid, [--pod P] [--node N]; else an OIDC ID
# token from the IdP (iss PK_ISS).  A later option replaces an earlier one.
pk_mint() {
	local sub='' aud='' life=600 off=0 iss='' alg=RS256 size='' email='' groups=- sauid='' pod='' node='' jti=''
	local a ref
	local -a args
	while [ $# -gt 0 ]; do
		case $1 in
		--sub) sub=$2 ;; --aud) aud=$2 ;; --lifetime) life=$2 ;; --iat-offset) off=$2 ;;
		--iss) iss=$2 ;; --alg) alg=$2 ;; --size) size=$2 ;; --email) email=$2 ;;
		--groups) groups=$2 ;; --sa-uid) sauid=$2 ;; --pod) pod=$2 ;; --node) node=$2 ;;
		--jti) jti=$2 ;;
		*) echo "pk_mint: unknown option $1" >&2; return 2 ;;
		esac
		shift 2
	done
	args=(--ttl "$life" ${iss:+--iss "$iss"} ${size:+--size "$size"})
	if [ -n "$sauid" ]; then
		[ "$alg" = RS256 ] || { echo "pk_mint: service-account tokens are RS256" >&2; return 2; }
		ref=${sub#system:serviceaccount:}
		for a in ${aud//,/ }; do args+=(--aud "$a"); done
		pk_fc mint --sa "${ref%%:*}/${ref#*:}" --uid "$sauid" --jti --iat "$(($(date +%s) + off))" \
			${pod:+--pod "$pod"} ${node:+--node "$node"} "${args[@]}"
	else
		a=$("$PK_PY" - "$sub" "$aud" "$off" "$life" "$email" "$groups" "$jti" <<'EOF'
import json, sys, time
sub, aud, off, life, email, groups, jti = sys.argv[1:]
iat = int(time.time()) + int(off)
c = {"sub": sub, "aud": aud.split(","), "iat": iat, "exp": iat + int(life),
     "name": None, "email": email or None, "email_verified": True if email else None,
     "groups": None if groups == "-" else [g for g in groups.split(",") if g]}
if jti:
    c["jti"] = jti
print(json.dumps(c))
EOF
)
		pk_fc idp-mint --alg "$alg" --claims "$a" "${args[@]}"
	fi
}

# pk_sa_ensure NAME UID: ServiceAccount ops/NAME exists with this uid
# (deleted and created again when it had another: a recreated account).
pk_sa_ensure() {
	local cur
	cur=$(pk_fc sa get "ops/$1" 2>/dev/null)
	[ "$cur" != "$2" ] || return 0
	[ -z "$cur" ] || pk_fc sa delete "ops/$1" || return 1
	pk_fc sa create "ops/$1" --uid "$2" >/dev/null
}

# pk_sa_token NAME UID [pk_mint ARGS]: a token of ops/NAME, whose
# ServiceAccount has uid UID (pk_sa_ensure), PK_SA_SIZE bytes long.
pk_sa_token() {
	local name=$1 uid=$2
	shift 2
	pk_sa_ensure "$name" "$uid" || return 1
	pk_mint --sub "system:serviceaccount:ops:$name" --aud "$PK_AUD" --sa-uid "$uid" --size "$PK_SA_SIZE" "$@"
}

# OIDC token for NAME@example.com.
pk_oidc_token() {
	local name=$1
	shift
	pk_mint --sub "idp|$name" --email "$name@example.com" --aud "$PK_AUD" "$@"
}

# pk_stack NAME LINE...: /etc/pam.d/NAME; "MOD" in a line is the module
# under test, "CFG" its config argument.
pk_stack() {
	local name=$1 line
	shift
	: >"/etc/pam.d/$name"
	for line in "$@"; do
		line=${line//MOD/$PK_MOD}
		line=${line//CFG/config=${PK_CONFIG_FILE:-$T/config.yaml}}
		printf '%s\n' "$line" >>"/etc/pam.d/$name"
	done
}

# A module built with SAN=1 needs the sanitizer runtimes preloaded into
# the (uninstrumented) application that loads it.
pk_san_env() {
	if [ -z "${PK_PRELOAD+x}" ]; then
		PK_PRELOAD=
		if ldd "$PK_MOD" 2>/dev/null | grep -q libasan; then
			# libcrypt too: ASan's crypt() interceptor finds no real crypt when
			# pam_unix dlopens libcrypt later, and jumps to address 0
			PK_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
			PK_PRELOAD="$PK_PRELOAD:$(readlink -f /lib/x86_64-linux-gnu/libcrypt.so.1)"
		fi
	fi
	if [ -n "$PK_PRELOAD" ]; then
		echo "LD_PRELOAD=$PK_PRELOAD"
		echo "ASAN_OPTIONS=${PK_ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}"
		echo "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
	fi
}

# pk_pam SERVICE USER OPS... < answers: pamtester; PK_OUT, PK_RC.
pk_pam() {
	local svc=$1 user=$2
	shift 2
	mapfile -t _pk_env < <(pk_san_env)
	PK_OUT=$(env "${_pk_env[@]}" pamtester -v "$svc" "$user" "$@" 2>&1)
	PK_RC=$?
}

# Datagrams are processed in order: once a marker sent now is in the
# file, everything logged before it is too.
pk_log_sync() {
	local m="pamlib-sync-$RANDOM$RANDOM" i
	logger -u /dev/log -t pamlib -- "$m" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		grep -qF -- "$m" "$T/syslog" && return 0
		sleep 0.02
	done
}

pk_log_has() {
	pk_log_sync
	grep -q -- "$1" "$T/syslog"
}

# The token must appear nowhere: syslog, run dir listing, store.
pk_no_leak() {
	local tok=$1 sig=${1##*.}
	[ ${#sig} -ge 40 ] || sig=$tok
	pk_log_sync
	! grep -rqF -- "$sig" "$T/syslog" "$T/store" 2>/dev/null
}

pk_mark_log() {
	pk_log_sync
	PK_LOG_MARK=$(wc -l <"$T/syslog")
}

# Lines logged since pk_mark_log.
pk_new_log() {
	pk_log_sync
	tail -n +"$((${PK_LOG_MARK:-0} + 1))" "$T/syslog"
}

# pk_etc_append PATH LINE...: private copy of PATH with lines appended.
pk_etc_append() {
	local f=$1 copy
	shift
	copy=$T/etcfiles/${f//\//_}
	mkdir -p "$T/etcfiles"
	cp -a "$f" "$copy"
	printf '%s\n' "$@" >>"$copy"
	mount --bind "$copy" "$f"
}

# Debian's stock stacks with pam_k8s's pam-auth-update profile enabled, by
# the real pam-auth-update (private /usr/share/pam-configs, /var/lib/pam).
pk_debian_stack() {
	cp -a /usr/share/pam-configs "$T/pam-configs"
	cp "$PK_REPO/debian/pam-configs/k8s" "$T/pam-configs/k8s"
	mount --bind "$T/pam-configs" /usr/share/pam-configs
	cp -a /var/lib/pam "$T/varlibpam"
	mount --bind "$T/varlibpam" /var/lib/pam
	DEBIAN_FRONTEND=noninteractive pam-auth-update --enable k8s >/dev/null 2>&1 || {
		echo "pam-auth-update failed" >&2
		return 1
	}
	grep -q pam_k8s.so /etc/pam.d/common-auth
}

pk_free_port() {
	"$PK_PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A real sshd on a loopback port: its own config and host key,
# keyboard-interactive through PAM, passwords off, keys for
# $T/ssh/authorized_keys/USER.  PK_SSH_PORT, PK_SSHD_PID.
pk_sshd_start() {
	local i
	mkdir -p "$T/ssh/authorized_keys"
	chmod 755 "$T/ssh" "$T/ssh/authorized_keys"  # sshd reads the keys as the user
	ssh-keygen -q -t ed25519 -N '' -C host -f "$T/ssh/host_ed25519"
	ssh-keygen -q -t ed25519 -N '' -C client -f "$T/ssh/id_client"
	PK_SSH_PORT=$(pk_free_port)
	cat >"$T/ssh/sshd_config" <<EOF
Port $PK_SSH_PORT
ListenAddress 127.0.0.1
HostKey $T/ssh/host_ed25519
PidFile $T/ssh/sshd.pid
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile $T/ssh/authorized_keys/%u
StrictModes no
PermitRootLogin yes
UseDNS no
PrintMotd no
LogLevel ${PK_SSHD_LOGLEVEL:-VERBOSE}
${PK_SSHD_EXTRA:-}
EOF
	/usr/sbin/sshd -t -f "$T/ssh/sshd_config" || return 1
	mapfile -t _pk_env < <(pk_san_env)
	env "${_pk_env[@]}" /usr/sbin/sshd -D -f "$T/ssh/sshd_config" -E "$T/sshd.log" &
	PK_SSHD_PID=$!
	PK_BG_PIDS+=("$PK_SSHD_PID")
	for ((i = 0; i < 100; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$PK_SSH_PORT") 2>/dev/null && break
		sleep 0.05
	done
	echo "[127.0.0.1]:$PK_SSH_PORT $(cut -d' ' -f1,2 "$T/ssh/host_ed25519.pub")" >"$T/ssh/known_hosts"
	# The client's config: the names tests connect by (the host parts of
	# their audiences, as a user's ~/.ssh/config would alias them) all
	# lead to this sshd.  k8s-ssh-askpass mints for the name typed or the
	# HostName, so each test connects by the name its audience uses.
	cat >"$T/ssh/config" <<EOF
Host ${PK_SSH_ALIASES:-pamtest web-1 kube}
    HostName 127.0.0.1
EOF
	mkdir -p "$T/askpass-cache"
	chmod 700 "$T/askpass-cache"
}

# pk_authorize_key USER: the client key may log in as USER.
pk_authorize_key() {
	cp "$T/ssh/id_client.pub" "$T/ssh/authorized_keys/$1"
	chmod 644 "$T/ssh/authorized_keys/$1"
}

# pk_ssh USER CMD...: the stock ssh client, keyboard-interactive only,
# prompts answered by $PK_SSH_ASKPASS (default k8s-ssh-askpass), to
# USER@$PK_SSH_HOST (default pamtest, an alias of 127.0.0.1 in $T/ssh/config).
# PK_OUT (stdout+stderr), PK_RC, PK_MS (wall time).  PK_SSH_OPTS adds options.
pk_ssh() {
	local user=$1 start
	shift
	start=$(date +%s%N)
	# shellcheck disable=SC2086 # PK_SSH_OPTS is a list of options
	PK_OUT=$(SSH_ASKPASS=${PK_SSH_ASKPASS:-$PK_ASKPASS} SSH_ASKPASS_REQUIRE=force DISPLAY= \
		K8S_ASKPASS_CACHE_DIR=$T/askpass-cache RAW_ASKPASS_BIN=$PK_ASKPASS \
		setsid -w ssh -F "$T/ssh/config" -p "$PK_SSH_PORT" -i "$T/ssh/id_client" \
		-o UserKnownHostsFile="$T/ssh/known_hosts" -o StrictHostKeyChecking=yes \
		-o PreferredAuthentications="${PK_SSH_AUTH:-keyboard-interactive}" \
		-o NumberOfPasswordPrompts=1 -o ConnectTimeout=10 -o LogLevel=ERROR \
		${PK_SSH_OPTS:-} -T "$user@${PK_SSH_HOST:-pamtest}" "$@" </dev/null 2>&1)
	PK_RC=$?
	PK_MS=$((($(date +%s%N) - start) / 1000000))
}

# pk_state_files DIR: the login state files in a run directory (auth.*,
# sess.*, temp files), not the sweep stamp .gc.
pk_state_files() {
	ls -A "$1" 2>/dev/null | grep -v '^\.gc$'
}
