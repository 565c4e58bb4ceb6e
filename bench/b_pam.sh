#!/bin/sh
# In-process pam_authenticate latency (median, p99) on three paths -- JWT
# with a warm JWKS cache, TokenReview, review-cache hit -- single thread and
# 8 threads at once (errors must be 0; throughput), next to the engine's
# own k8s_validate_token on the same token: the difference is what the
# module adds (config load, mapping, store read, store write with fsync,
# login state file).  For the raw signature cost see b_jwt.sh.
#
# Cluster: tests/fakecluster (TLS on loopback, a Python TokenReview
# endpoint: its per-request cost is part of the TokenReview figure).  Runs
# as root (the module writes the store); store, runDir and cacheDir are in
# a temp dir, the stack file is passed with pam_start_confdir: nothing of
# the host's is touched.
#
# BEFORE=DIR (a build of an earlier commit, e.g. a git worktree's build/)
# runs every row for that module too, alternating with this one, in one
# run on the same machine: the figures side by side.  A module built with
# privilege separation starts k8s-auth-helper from its compiled-in path:
# the script re-runs itself in a private mount namespace with this build's
# helper bound there.  To compare two helpers, build BEFORE with another
# LIBEXECDIR under /usr/libexec (make LIBEXECDIR=/usr/libexec/k8s-auth-before):
# its helper is bound at that path beside this one.
set -eu
cd "$(dirname "$0")/.."
O=${O:-build}
BEFORE=${BEFORE:-}
if [ -x "$O/k8s-auth-helper" ] && [ -z "${B_PAM_NS:-}" ] && [ "$(id -u)" = 0 ]; then
	B_PAM_NS=1 exec unshare --mount --propagation private sh "$0" "$@"
fi
if [ -n "${B_PAM_NS:-}" ]; then
	HX=$(mktemp -d)
	mkdir -p "$HX/lower/k8s-auth"
	chmod 755 "$HX" "$HX/lower" "$HX/lower/k8s-auth"
	install -m 0755 "$O/k8s-auth-helper" "$HX/lower/k8s-auth/k8s-auth-helper"
	if [ -n "$BEFORE" ] && [ -x "$BEFORE/k8s-auth-helper" ]; then
		bh=$(strings "$BEFORE/pam_k8s.so" | grep -m1 '^/usr/libexec/[A-Za-z0-9_.-]*/k8s-auth-helper$' || true)
		case $bh in
		'' | /usr/libexec/k8s-auth/k8s-auth-helper) ;;
		*)	bd=${bh#/usr/libexec/}; bd=${bd%/k8s-auth-helper}
			mkdir -p "$HX/lower/$bd"; chmod 755 "$HX/lower/$bd"
			install -m 0755 "$BEFORE/k8s-auth-helper" "$HX/lower/$bd/k8s-auth-helper" ;;
		esac
	fi
	mount -t overlay b_pam_libexec -o "lowerdir=$HX/lower:/usr/libexec" /usr/libexec
fi
PY=${K8S_PYTHON:-/usr/bin/python3}
N=${PAM_BENCH_N:-400}
[ "$(id -u)" = 0 ] || { echo "b_pam: needs root (the module writes the identity store); skipped"; exit 0; }

mkvar() { make -s --no-print-directory O="$O" --eval "print-var: ; @echo \$($1)" print-var; }
make -s --no-print-directory O="$O" "$O/libk8scommon.a" "$O/pam_k8s.so"
CFLAGS=$(mkvar CFLAGS)
LDFLAGS=$(mkvar LDFLAGS)
LIBS=$(mkvar PKG_LIBS)
mkdir -p "$O/bench"
# shellcheck disable=SC2086
cc $CFLAGS -o "$O/bench/pam_bench" bench/pam_bench.c "$O/libk8scommon.a" $LDFLAGS $LIBS -lpam -ldl -lpthread
cc -O2 -o "$O/bench/mod_mem" bench/mod_mem.c -ldl
# the floor under a helper per PAM call: spawn-and-wait of a program that
# does nothing, linked with nothing, and of the same linked (and loading at
# start, as the helper does) with the helper's libraries
echo 'int main(void) { return 0; }' >"$O/bench/nothing.c"
cc -O2 -o "$O/bench/nothing" "$O/bench/nothing.c" $LDFLAGS
# shellcheck disable=SC2086
cc -O2 -o "$O/bench/nothing-libs" "$O/bench/nothing.c" $LDFLAGS -Wl,--no-as-needed -ljansson -lyaml -lnettle -lhogweed -lgmp
MOD=$(cd "$O" && pwd)/pam_k8s.so
MODS="$MOD"
[ -z "$BEFORE" ] || MODS="$(cd "$BEFORE" && pwd)/pam_k8s.so $MOD"

W=$(mktemp -d)
FC=tests/fakecluster/fakecluster.py
"$PY" $FC init --dir "$W/idp" >"$W/idp.out" 2>&1 || { cat "$W/idp.out"; exit 1; }
"$PY" $FC serve --dir "$W/idp" --die-with-parent >>"$W/idp.out" 2>&1 &
FC_PID=$!
trap 'kill $FC_PID; wait; rm -rf "$W"' EXIT
i=0
while [ ! -s "$W/idp/url" ]; do
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "b_pam: cluster did not start"; cat "$W/idp.out"; exit 1; }
	sleep 0.05
done
URL=$(cat "$W/idp/url")/idp
# runDir is a tmpfs in production (/run); the store and cache are not.
RUN=$W/run
[ -d /dev/shm ] && RUN=$(mktemp -d /dev/shm/b_pam.XXXXXX)
trap 'kill $FC_PID; wait; rm -rf "$W" "$RUN"' EXIT
mkdir -p "$W/store" "$RUN" "$W/cache" "$W/pam.d"
chmod 700 "$RUN" "$W/cache"
config() { # FILE CACHE_TTL
	cat >"$1" <<EOF
tokenReview:
  kubeconfig: $W/idp/kubeconfig
  audiences: ["host-login:bench"]
  timeout: 5s
  cacheTTL: $2
jwt:
- issuer:
    url: $URL
    audiences: ["host-login:bench"]
    certificateAuthority: |
$(sed 's/^/      /' "$W/idp/ca.crt")
  claimMappings:
    username: {claim: email, prefix: ""}
    groups: {claim: groups, prefix: "oidc:"}
    uid: {claim: sub}
accounts:
  users:
  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)\$'
    local: '\1.\2'
  - match: '^([a-z][a-z0-9_-]*)@example\\.com\$'
    local: '\1'
  declared: [ops.alice, carol]
  groups:
  - match: '^oidc:team-(.*)\$'
    local: 'k8s-\1'
  - match: '^system:serviceaccounts:ops\$'
    local: k8s-ops
store: $W/store
cacheDir: $W/cache
runDir: $RUN
EOF
	chmod 644 "$1"
}
config "$W/nocache.yaml" 0
config "$W/cache.yaml" 2m
k=0
for m in $MODS; do
	k=$((k + 1))
	echo "auth required $m config=$W/nocache.yaml" >"$W/pam.d/bench$k"
	echo "auth required $m config=$W/cache.yaml" >"$W/pam.d/bench$k-cache"
done
"$PY" $FC idp-mint --dir "$W/idp" --ttl 3600 --claims \
	'{"sub":"idp|carol","email":"carol@example.com","aud":["host-login:bench"],"groups":["team-db","team-web"]}' \
	>"$W/oidc.jwt"
"$PY" $FC mint --dir "$W/idp" --sa ops/alice --aud host-login:bench --pod web-1 --node node-1 --jti \
	--ttl 3600 >"$W/sa.jwt"

run() { # LABEL THREADS SERVICE USER TOKEN: one row per module
	k=0
	for m in $MODS; do
		k=$((k + 1))
		tag=""
		[ -z "$BEFORE" ] || { [ "$m" = "$MOD" ] && tag=" [after]" || tag=" [before]"; }
		printf '%-44s %s\n' "$1$tag" \
			"$("$O/bench/pam_bench" pam "$W/pam.d" "$3$k${6:-}" "$4" "$W/$5" "$N" "$2" "$m" || true)"
	done
}
echo "pam_authenticate, $N calls per row (JWT RS256; TokenReview over TLS to a local Python endpoint):"
printf '%-44s %s\n' "engine only: k8s_validate_token, JWT warm" \
	"$("$O/bench/pam_bench" engine "$W/nocache.yaml" "$W/oidc.jwt" "$N" || true)"
run "pam_authenticate, JWT, warm JWKS cache" 1 bench carol oidc.jwt
run "pam_authenticate, TokenReview" 1 bench ops.alice sa.jwt
run "pam_authenticate, review-cache hit" 1 bench ops.alice sa.jwt -cache
# the same, the person answering the prompt 100 ms after it (a paste):
# the helper pays TLS's one-time costs meanwhile (cli/helper_main.c)
N_SAVE=$N; N=$((N / 4))
export PAM_BENCH_TYPING_MS=100
run "TokenReview, answered after 100 ms" 1 bench ops.alice sa.jwt
run "review-cache hit, answered after 100 ms" 1 bench ops.alice sa.jwt -cache
unset PAM_BENCH_TYPING_MS; N=$N_SAVE
run "8 threads, JWT" 8 bench carol oidc.jwt
run "8 threads, TokenReview" 8 bench ops.alice sa.jwt
run "8 threads, review-cache hit" 8 bench ops.alice sa.jwt -cache
# sshd, su and sudo are a fresh process per login: each pays for loading
# the module (and, before privilege separation, OpenSSL, libcurl and
# their ~30 libraries, and their initialisation) once per login.  pamtester
# per login, the stack in a private /etc/pam.d (namespace only).
if [ -n "${B_PAM_NS:-}" ] && command -v pamtester >/dev/null; then
	mount --bind "$W/pam.d" /etc/pam.d
	for row in "JWT, warm JWKS cache:bench:carol:oidc.jwt" "review-cache hit:bench:ops.alice:sa.jwt:-cache"; do
		IFS=: read -r label svc user tok suffix <<EOF
$row
EOF
		k=0
		for m in $MODS; do
			k=$((k + 1))
			tag=""
			[ -z "$BEFORE" ] || { [ "$m" = "$MOD" ] && tag=" [after]" || tag=" [before]"; }
			printf '%-44s %s\n' "fresh process per login, $label$tag" "$("$PY" - "$svc$k$suffix" "$user" "$W/$tok" "${PAM_BENCH_FRESH_N:-100}" <<'PY'
import statistics, subprocess, sys, time
svc, user, tokf, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
tok = open(tokf, "rb").read()
lat, errors = [], 0
for i in range(n + 1):
    t0 = time.monotonic()
    r = subprocess.run(["pamtester", svc, user, "authenticate"], input=tok, capture_output=True)
    dt = (time.monotonic() - t0) * 1e6
    if r.returncode != 0:
        errors += 1
    if i > 0:
        lat.append(dt)
lat.sort()
print("n=%d errors=%d median_us=%d p99_us=%d" % (n, errors, statistics.median(lat), lat[int(0.99 * (len(lat) - 1))]))
PY
)"
		done
	done
	umount /etc/pam.d
fi
for m in $MODS; do
	printf '%-44s %s\n' "loading $(basename "$(dirname "$m")")/pam_k8s.so into a process" "$("$O/bench/mod_mem" "$m")"
done
for p in nothing nothing-libs; do
	printf '%-44s %s\n' "spawn and wait: $p" "$("$O/bench/pam_bench" spawn "$O/bench/$p" "$N" || true)"
done
echo "(each pam_authenticate loads the config, validates, maps, reads the store, commits the login"
echo " to the store with fsync and writes the login state; TokenReview rows include the Python"
echo " endpoint's TLS handshake and GIL, which dominate their 8-thread p99)"
