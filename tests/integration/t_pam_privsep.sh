#!/bin/bash
# Privilege separation (docs/security.md), attacked as an unprivileged
# local user and through the real setuid su and sudo:
#   - every environment variable a library in the old module read (libcurl,
#     OpenSSL, proxies, HOME's .curlrc/.netrc), pam_k8s's own, TZ and odd
#     locales, with umask 000: no file appears, no listener of the
#     attacker's is contacted, the legitimate config is the one used, and
#     the outcome is the same as without the variable; the review counter
#     shows the module did reach the apiserver each time (su's auth, then
#     sudo's re-validation inside the su session);
#   - a helper that hangs, crashes, exits without answering, answers
#     garbage, answers twice, is missing, not root-owned, or group- or
#     world-writable: the store's user is refused within the deadline with
#     a syslog line naming the failure; root still passes the same stack;
#   - pam_k8s.so needs libc and libpam only;
#   - `k8s-auth check --user` and the module give the same verdict on one
#     corpus of tokens and users.
# Private mount namespace (tests/pam/pamlib.sh).
. "$(dirname "$0")/../pam/pamlib.sh"
pk_begin -s sudo su pamtester setpriv setuid
export PK_CONFIG_FILE=/etc/k8s-auth/config.yaml PK_RUNDIR=/run/k8s-auth PK_HOME=/tmp
pk_write_config
pk_debian_stack || exit 1
"$PK_CLI" sync >/dev/null || exit 1
pk_etc_append /etc/passwd "mallory:x:1500:1500:Mallory:/tmp:/bin/bash"
pk_etc_append /etc/group "mallory:x:1500:"
pk_etc_append /etc/shadow "mallory:*:19000:0:99999:7:::"
mkdir -p "$T/sudoers.d"
printf 'Defaults lecture=never\nops.alice ALL=(ALL:ALL) NOPASSWD: ALL\n' >"$T/sudoers.d/k8s"
chmod 440 "$T/sudoers.d/k8s"
mount --bind "$T/sudoers.d" /etc/sudoers.d
UID_A=6c1d2e52-8a7b-4c1d-9e2f-00000000000a

# ---- the attacker's listener (counts connections) and files
LPORT=$(pk_free_port)
: >"$T/listener.count"
pk_bg "$T/listener.out" "$PK_PY" -c "
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $LPORT)); s.listen(64); print('READY', flush=True)
threading.Thread(target=lambda: (sys.stdin.read(), __import__('os')._exit(0)), daemon=True).start()
n = 0
while True:
    c, _ = s.accept(); n += 1
    open('$T/listener.count', 'w').write(str(n)); c.close()
" || exit 1
E=$T/evil
mkdir -p "$E/store" "$E/certs" "$E/modules"
chmod 0777 "$E" "$E/store" "$E/certs" "$E/modules"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$E/ca.key" -out "$E/ca.pem" -days 1 -subj /CN=evil 2>/dev/null
cp "$E/ca.pem" "$E/certs/"
cat >"$E/openssl.cnf" <<'EOF'
openssl_conf = evil
[evil]
ssl_conf = evil_ssl
[evil_ssl]
system_default = evil_defaults
[evil_defaults]
CipherString = NULL
MinProtocol = TLSv1.3
MaxProtocol = TLSv1.2
EOF
printf 'proxy = "http://127.0.0.1:%s"\ninsecure\n' "$LPORT" >"$E/.curlrc"
printf 'machine 127.0.0.1 login evil password evil\n' >"$E/.netrc"
# a config that would accept anything from the attacker's "apiserver"
sed "s#server: .*#server: https://127.0.0.1:$LPORT#" "$T/idp/kubeconfig" >"$E/kubeconfig"
sed -e "s#kubeconfig: .*#kubeconfig: $E/kubeconfig#" -e "s#store: .*#store: $E/store#" \
	/etc/k8s-auth/config.yaml >"$E/config.yaml"
chmod -R a+rwX "$E"
listing() { find "$E" /etc/k8s-auth /etc/ld.so.preload -newer "$T/mark" 2>/dev/null | sort; }

# as_mallory VAR=VALUE...: mallory (umask 000, the variables set) runs
# `su ops.alice` with the session's token on stdin, and in that session
# `sudo -n id -u`.  PK_OUT, PK_RC.
as_mallory() {
	PK_OUT=$(printf '%s\n' "$tok" | env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LANG=C "$@" \
		setpriv --reuid=1500 --regid=1500 --clear-groups \
		sh -c 'umask 000; exec su ops.alice -c "id -u; sudo -n id -u"' 2>&1)
	PK_RC=$?
}

tok=$(pk_sa_token alice "$UID_A")
AUID=$(id -u ops.alice)
touch "$T/mark"
sleep 1
r0=$(pk_reviews)
as_mallory
pk_check "control: mallory su's to ops.alice with the token, and sudo works in that session" \
	eval '[ "$PK_RC" = 0 ] && grep -qE "(^|: )$AUID\$" <<<"$PK_OUT" && grep -qx 0 <<<"$PK_OUT"' || echo "$PK_OUT"
pk_check "control: su's auth and sudo's re-validation both asked the apiserver (2 reviews: $r0 -> $(pk_reviews))" \
	test "$(pk_reviews)" = $((r0 + 2))

cases=(
	"SSLKEYLOGFILE=$E/keylog"
	"CURL_SSL_BACKEND=gnutls"
	"CURL_CA_BUNDLE=$E/ca.pem"
	"SSL_CERT_FILE=$E/ca.pem"
	"SSL_CERT_DIR=$E/certs"
	"OPENSSL_CONF=$E/openssl.cnf"
	"OPENSSL_MODULES=$E/modules"
	"HOME=$E"
	"CURL_HOME=$E"
	"http_proxy=http://127.0.0.1:$LPORT"
	"HTTPS_PROXY=http://127.0.0.1:$LPORT"
	"https_proxy=http://127.0.0.1:$LPORT"
	"ALL_PROXY=http://127.0.0.1:$LPORT"
	"NO_PROXY=nothing.invalid"
	"K8S_AUTH_CONFIG=$E/config.yaml"
	"K8S_AUTH_STORE=$E/store"
	"TZ=:$E/zone"
	"LANG=tr_TR.UTF-8"
	"LC_ALL=xx_YY.bogus"
)
for c in "${cases[@]}"; do
	r0=$(pk_reviews)
	touch "$T/mark"
	sleep 1
	as_mallory "$c"
	pk_check "$c: same outcome (su and sudo as without it)" \
		eval '[ "$PK_RC" = 0 ] && grep -qE "(^|: )$AUID\$" <<<"$PK_OUT" && grep -qx 0 <<<"$PK_OUT"' || echo "$PK_OUT"
	pk_check "$c: the legitimate apiserver was asked (2 reviews)" test "$(pk_reviews)" = $((r0 + 2))
	new=$(listing)
	pk_check "$c: no file appeared" test -z "$new" || echo "$new"
	pk_check "$c: the attacker's listener was never contacted" test ! -s "$T/listener.count"
done
pk_check "no keylog anywhere" test ! -e "$E/keylog"
pk_check "the attacker's store was never written" test -z "$(ls -A "$E/store")"

# ---- helpers that fail: refused for the store's user, root untouched
pk_stack k8s-fail "auth [success=done ignore=ignore default=die] MOD CFG timeout=3" "auth required pam_permit.so" \
	"account required MOD CFG timeout=3"
cat >"$T/fake.c" <<'EOF'
/* A helper that misbehaves in one way (MODE).  Reads requests as the
 * module sends them and answers (or not) per MODE. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static int rd(unsigned char *b, size_t n) { size_t g = 0; ssize_t r;
	while (g < n) { r = read(0, b + g, n - g); if (r <= 0) return -1; g += (size_t)r; } return 0; }
static void field(unsigned char **p, char tag, const char *v) { size_t n = strlen(v);
	*(*p)++ = (unsigned char)tag; *(*p)++ = 0; *(*p)++ = 0; *(*p)++ = (unsigned char)(n >> 8);
	*(*p)++ = (unsigned char)n; memcpy(*p, v, n); *p += n; }
static size_t answer(unsigned char *out, int type, const char *seq, int root) {
	unsigned char *p = out + 12; size_t n;
	field(&p, 'q', seq); field(&p, 'v', root ? "1" : "0"); field(&p, 'a', "host-login:pamtest");
	if (type == 2) field(&p, 'h', "auth.0123456789abcdef");
	n = (size_t)(p - out - 12);
	memcpy(out, "K8H\1", 4); out[4] = (unsigned char)(0x80 | type); out[5] = out[6] = out[7] = 0;
	out[8] = 0; out[9] = 0; out[10] = (unsigned char)(n >> 8); out[11] = (unsigned char)n;
	return n + 12; }
int main(void) {
	unsigned char h[12], *body, out[512]; char seq[8]; size_t n;
	int k = 0, root;
	for (;;) {
		if (rd(h, 12)) return 0;
		n = (size_t)h[8] << 24 | (size_t)h[9] << 16 | (size_t)h[10] << 8 | h[11];
		body = malloc(n + 1); if (body == NULL || rd(body, n)) return 0;
		snprintf(seq, sizeof(seq), "%d", ++k);
		body[n] = 0;
		root = memmem(body, n, "u\0\0\0\4root", 9) != NULL; /* says: not ours */
		switch (MODE) {
		case 0: pause(); break;                                   /* hang */
		case 1: raise(SIGSEGV); break;                            /* crash */
		case 2: return 0;                                         /* exit, no answer */
		case 3: write(1, "HTTP/1.1 200 OK\r\n\r\nyes", 22); return 0; /* garbage */
		case 4: n = answer(out, h[4], seq, root); write(1, out, n); write(1, out, n); break; /* twice */
		case 5: n = answer(out, h[4], seq, root); write(1, out, n); if (h[4] == 2) return 3; break; /* ok, then fails */
		}
		free(body);
	}
}
EOF
modes=("hangs" "crashes" "exits without answering" "answers garbage" "answers twice" "answers yes, then exits 3")
for i in "${!modes[@]}"; do
	gcc -O1 -DMODE="$i" -o "$T/fake$i" "$T/fake.c" 2>/dev/null || { pk_fail "fake helper $i builds"; continue; }
done
tok=$(pk_sa_token alice "$UID_A")
failing() { # DESC: the installed helper is broken in way DESC
	local desc=$1 start ms
	pk_mark_log
	start=$(date +%s%N)
	pk_pam k8s-fail ops.alice authenticate <<<"$tok"
	ms=$((($(date +%s%N) - start) / 1000000))
	pk_check "helper $desc: ops.alice refused" test "$PK_RC" != 0
	pk_check "helper $desc: within the deadline (3 s) + 1 s (took $ms ms)" test "$ms" -lt 4000
	pk_check "helper $desc: syslog names the failure" eval 'pk_new_log | grep -q "k8s-auth-helper failed: "' || pk_new_log | tail -n 3
	pk_pam k8s-fail root authenticate </dev/null
	pk_check "helper $desc: root still passes the stack" test "$PK_RC" = 0
}
for i in "${!modes[@]}"; do
	[ -x "$T/fake$i" ] || continue
	pk_helper_install "$T/fake$i"
	failing "${modes[$i]}"
done
pk_helper_install "$PK_HELPER"
pk_pam k8s-fail ops.alice authenticate <<<"$tok"
pk_check "the real helper back: ops.alice logs in" test "$PK_RC" = 0 || echo "$PK_OUT"
# the installed file itself gone, or made unsafe
mkdir -p "$T/empty"
mount --bind "$T/empty" /usr/libexec/k8s-auth
failing "missing"
umount /usr/libexec/k8s-auth
chown 1500 "$T/helper.bin"
failing "not root-owned"
chown 0 "$T/helper.bin"
chmod 0775 "$T/helper.bin"
failing "group-writable"
chmod 0757 "$T/helper.bin"
failing "world-writable"
chmod 0755 "$T/helper.bin"
chmod 0777 "$_pk_libexec/k8s-auth"
failing "in a world-writable directory"
chmod 0755 "$_pk_libexec/k8s-auth"
pk_pam k8s-fail ops.alice authenticate <<<"$tok"
pk_check "a safe helper again: ops.alice logs in" test "$PK_RC" = 0 || echo "$PK_OUT"

# ---- what the helper is given, when the caller chose everything it could:
# a helper that reports its own process state (then fails: ops.alice is
# refused), started by su run by mallory with umask 000, nice 19,
# SCHED_IDLE, linux32 personality, one CPU, an idle I/O class, OOM score
# 1000, RLIMIT_CORE unlimited and RLIMIT_FSIZE 1 MiB, every signal blocked
# and SIGTERM, SIGCHLD, SIGPIPE ignored, an extra descriptor open and
# hostile variables set.
cat >"$T/report.c" <<'EOF'
#define _GNU_SOURCE
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
extern char **environ;
int main(void) {
	FILE *f = fopen(REPORT, "w");
	struct rlimit rl; struct sigaction sa; sigset_t m; cpu_set_t cs; DIR *d; struct dirent *de;
	uid_t r, e, s; gid_t gr, ge, gs; char cwd[256]; int i, nfd = 0, ign = 0, blocked = 0;
	mode_t um = umask(0);
	if (f == NULL) return 1;
	for (i = 0; environ[i] != NULL; i++) fprintf(f, "env %s\n", environ[i]);
	if ((d = opendir("/proc/self/fd")) != NULL) { while ((de = readdir(d)) != NULL) if (de->d_name[0] != '.') nfd++; closedir(d); }
	fprintf(f, "fds %d\n", nfd - 2);   /* the opendir and the report file */
	getrlimit(RLIMIT_CORE, &rl); fprintf(f, "core %llu\n", (unsigned long long)rl.rlim_cur);
	getrlimit(RLIMIT_FSIZE, &rl); fprintf(f, "fsize_inf %d\n", rl.rlim_cur == RLIM_INFINITY);
	getrlimit(RLIMIT_NOFILE, &rl); fprintf(f, "nofile %llu\n", (unsigned long long)rl.rlim_cur);
	fprintf(f, "umask %03o\n", um);
	getresuid(&r, &e, &s); getresgid(&gr, &ge, &gs);
	fprintf(f, "ids %d %d %d %d %d %d groups %d\n", r, e, s, gr, ge, gs, getgroups(0, NULL));
	fprintf(f, "nice %d\n", getpriority(PRIO_PROCESS, 0));
	fprintf(f, "personality %d\n", personality(0xffffffff));
	fprintf(f, "policy %d\n", sched_getscheduler(0));
	sched_getaffinity(0, sizeof(cs), &cs); fprintf(f, "cpus %d of %ld\n", CPU_COUNT(&cs), sysconf(_SC_NPROCESSORS_ONLN));
	fprintf(f, "ioprio_class %ld\n", syscall(SYS_ioprio_get, 1, 0) >> 13);
	fprintf(f, "nnp %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	fprintf(f, "pgrp_is_self %d\n", getpgrp() == getpid());
	fprintf(f, "cwd %s\n", getcwd(cwd, sizeof(cwd)) ? cwd : "?");
	sigprocmask(SIG_SETMASK, NULL, &m);
	for (i = 1; i < 32; i++) { if (sigismember(&m, i)) blocked++; sigaction(i, NULL, &sa); if (sa.sa_handler == SIG_IGN) ign++; }
	fprintf(f, "blocked %d ignored %d\n", blocked, ign);
	{ FILE *o = fopen("/proc/self/oom_score_adj", "r"); int v = -1; if (o) { if (fscanf(o, "%d", &v) != 1) v = -1; fclose(o); } fprintf(f, "oom %d\n", v); }
	fclose(f);
	return 3;
}
EOF
if gcc -O1 -DREPORT="\"$T/report.txt\"" -o "$T/report" "$T/report.c" 2>"$T/report.err"; then
	pk_helper_install "$T/report"
	cat >"$T/hostile.py" <<'EOF'
import os, resource, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, set(range(1, signal.NSIG)) - {signal.SIGKILL, signal.SIGSTOP})
for s in (signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
os.nice(19)
os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
os.sched_setaffinity(0, {0})
open("/proc/self/oom_score_adj", "w").write("1000")
fd = os.open("/etc/hostname", os.O_RDONLY)   # left open across the exec
os.umask(0)
os.execv("/usr/bin/setarch", ["setarch", "linux32", "ionice", "-c3", "su", "ops.alice", "-c", "true"])
EOF
	rm -f "$T/report.txt"
	printf '%s\n' "$tok" | env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$E" LANG=C \
		SSLKEYLOGFILE="$E/keylog" LD_PRELOAD=/nonexistent.so K8S_AUTH_CONFIG="$E/config.yaml" \
		setpriv --reuid=1500 --regid=1500 --clear-groups "$PK_PY" "$T/hostile.py" >/dev/null 2>&1
	r=$(cat "$T/report.txt" 2>/dev/null)
	pk_check "hostile caller: the helper ran and reported" test -n "$r"
	want() { pk_check "hostile caller: helper's $1" grep -qx -- "$2" <<<"$r" || grep "^${1%% *}" <<<"$r"; }
	want "environment: PATH only" "env PATH=/usr/sbin:/usr/bin:/sbin:/bin"
	pk_check "hostile caller: helper's environment has nothing else" test "$(grep -c '^env ' <<<"$r")" = 1
	want "descriptors: 0, 1, 2 only" "fds 3"
	want "RLIMIT_CORE 0" "core 0"
	# raising a hard limit the caller lowered needs CAP_SYS_RESOURCE, which
	# root in some containers lacks: then the helper keeps the caller's
	if "$PK_PY" -c 'import resource as r; r.setrlimit(r.RLIMIT_FSIZE, (1 << 20, 1 << 20)); r.setrlimit(r.RLIMIT_FSIZE, (r.RLIM_INFINITY, r.RLIM_INFINITY))' 2>/dev/null; then
		want "RLIMIT_FSIZE unlimited" "fsize_inf 1"
	else
		want "RLIMIT_FSIZE as the caller's hard limit (no CAP_SYS_RESOURCE here)" "fsize_inf 0"
	fi
	want "RLIMIT_NOFILE 1024" "nofile 1024"
	want "umask 077" "umask 077"
	want "ids: all root, no groups" "ids 0 0 0 0 0 0 groups 0"
	want "nice 0" "nice 0"
	want "personality PER_LINUX" "personality 0"
	want "policy SCHED_OTHER" "policy 0"
	want "every CPU" "cpus $(nproc) of $(nproc)"
	want "I/O class best-effort" "ioprio_class 2"
	want "OOM score 0" "oom 0"
	want "no new privileges" "nnp 1"
	want "own process group" "pgrp_is_self 1"
	want "working directory /" "cwd /"
	want "no signal blocked or ignored" "blocked 0 ignored 0"
	pk_helper_install "$PK_HELPER"
else
	pk_fail "report helper builds: $(cat "$T/report.err")"
fi

# ---- what pam_k8s.so links and exports
exports=$(nm -D --defined-only "$PK_MOD" | awk '{print $3}' | sort | tr '\n' ' ')
pk_check "pam_k8s.so exports the six pam_sm_* entry points and nothing else" \
	test "$exports" = "pam_sm_acct_mgmt pam_sm_authenticate pam_sm_chauthtok pam_sm_close_session pam_sm_open_session pam_sm_setcred "
needed=$(readelf -d "$PK_MOD" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
pk_check "pam_k8s.so NEEDs libc and libpam only ($needed)" test "$needed" = "libc.so.6 libpam.so.0 "

# ---- check and the module agree on one corpus
pk_stack k8s-agree "auth required MOD CFG"
tokA=$(pk_sa_token alice "$UID_A")
carol=$(pk_oidc_token carol --groups platform-admins)
declare -A corpus=(
	[sa]=$tokA
	[oidc]=$carol
	["leading blank"]=" $tokA"
	["trailing blanks"]="$tokA  "
	[expired]=$(pk_oidc_token carol --lifetime 60 --iat-offset -600)
	["other audience"]=$(pk_mint --sub "idp|carol" --email carol@example.com --aud host-login:elsewhere)
	[bootstrap]="abcdef.0123456789abcdef"
	[garbage]="not a token"
	["cut length 511"]=$(printf 'x%.0s' $(seq 511))
)
agree=0 total=0
for name in "${!corpus[@]}"; do
	for user in ops.alice carol ops.carol root; do
		t=${corpus[$name]}
		"$PK_CLI" check --user "$user" <<<"$t" >/dev/null 2>&1
		c=$?
		pk_pam k8s-agree "$user" authenticate <<<"$t"
		total=$((total + 1))
		if { [ "$c" = 0 ] && [ "$PK_RC" = 0 ]; } || { [ "$c" != 0 ] && [ "$PK_RC" != 0 ]; }; then
			agree=$((agree + 1))
		else
			echo "disagree: $name as $user: check exit $c, module rc $PK_RC"
		fi
	done
done
pk_check "check and the module agree on all $total (token, user) pairs ($agree agree)" test "$agree" = "$total"
pk_done
