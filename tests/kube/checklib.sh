# shellcheck shell=bash
# Running `k8s-auth check` against the real-apiserver tier and judging its
# answer.  Sourced by tests/integration/t_kube_*.sh after kubelib.sh.
#
#   kt_check DESC WANT_RC CFG [CLI ARGS...] <<<"$token"
#       runs `k8s-auth check --config CFG ARGS` with the token on stdin (never
#       argv), checks the exit code, that stdout is exactly one JSON object
#       and that the token shows up nowhere in stdout or stderr.
#       Leaves KT_OUT (stdout), KT_ERR (stderr), KT_RC for kt_expect.
#   kt_expect DESC JQ_FILTER [jq args...]
#       passes if `jq -e FILTER` is true on the last KT_OUT.
#   kt_done    prints the summary and exits 0 if nothing failed.
#
# K8S_AUTH_BIN selects the binary (default <repo>/build/k8s-auth).

KT_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
K8S_AUTH_BIN=${K8S_AUTH_BIN:-$KT_REPO/build/k8s-auth}
KT_PASS=0
KT_FAIL=0
KT_OUT=
KT_ERR=
KT_RC=

kt_ok() {
	KT_PASS=$((KT_PASS + 1))
	echo "ok   - $*"
}

kt_fail() {
	KT_FAIL=$((KT_FAIL + 1))
	echo "FAIL - $*"
}

# kt_skip REASON: exit 77 unless the tier is mandatory.
kt_skip() {
	echo "skip: $*"
	exit 77
}

kt_need_cli() {
	[ -x "$K8S_AUTH_BIN" ] || kt_skip "$K8S_AUTH_BIN not built"
}

# Start the cluster, or skip when no apiserver can be had at all (no deb-src,
# no network to Debian) - a cluster that exists but fails to start is a
# failure, not a skip.
kt_need_cluster() {
	if [ -z "${KUBE_APISERVER:-}" ]; then
		KUBE_APISERVER=$("$KT_REPO/tests/kube/build-apiserver.sh") ||
			kt_skip "no kube-apiserver binary (tests/kube/build-apiserver.sh failed)"
		export KUBE_APISERVER
	fi
	kube_start || {
		echo "FAIL - kube_start"
		exit 1
	}
}

# The token must never be echoed; its signature is the part that matters,
# and is long enough not to occur by chance.
_kt_leaks() {
	local token=$1 secret
	secret=${token##*.}
	[ ${#secret} -ge 16 ] || secret=$token
	[ ${#secret} -ge 8 ] || return 1
	grep -qF -- "$secret" "$KT_TMP_OUT" "$KT_TMP_ERR"
}

kt_check() {
	local desc=$1 want=$2 cfg=$3 token
	shift 3
	token=$(cat)
	KT_TMP_OUT=$(mktemp) KT_TMP_ERR=$(mktemp)
	printf '%s' "$token" | "$K8S_AUTH_BIN" check --config "$cfg" "$@" \
		>"$KT_TMP_OUT" 2>"$KT_TMP_ERR"
	KT_RC=$?
	KT_OUT=$(cat "$KT_TMP_OUT")
	KT_ERR=$(cat "$KT_TMP_ERR")
	if _kt_leaks "$token"; then
		kt_fail "$desc: the token appears in the output"
	elif [ "$KT_RC" != "$want" ]; then
		kt_fail "$desc: exit $KT_RC, want $want; stdout: $KT_OUT; stderr: ${KT_ERR:0:400}"
	elif ! jq -se 'length == 1 and (.[0] | type) == "object"' "$KT_TMP_OUT" >/dev/null 2>&1; then
		kt_fail "$desc: stdout is not one JSON object: $KT_OUT"
	else
		kt_ok "$desc (exit $KT_RC)"
	fi
	rm -f "$KT_TMP_OUT" "$KT_TMP_ERR"
	token=
}

kt_expect() {
	local desc=$1 filter=$2
	shift 2
	if jq -e "$@" "$filter" <<<"$KT_OUT" >/dev/null 2>&1; then
		kt_ok "  $desc"
	else
		kt_fail "  $desc: $filter is not true of $KT_OUT"
	fi
}

# A config file with the account mapping every kube test uses, the store and
# caches inside DIR, plus the given validation section(s) as YAML text.
kt_write_config() {
	local file=$1 dir=$2 section=$3
	mkdir -p "$dir/store" "$dir/cache" "$dir/run"
	chmod 0755 "$dir/store"
	chmod 0700 "$dir/cache" "$dir/run"
	cat >"$file" <<EOF
$section
accounts:
  users:
  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)\$'
    local: '\\1.\\2'
  declared: [ops.alice, ops.bob]
store: $dir/store
cacheDir: $dir/cache
runDir: $dir/run
EOF
}

kt_done() {
	echo "$KT_PASS passed, $KT_FAIL failed"
	[ "$KT_FAIL" = 0 ] && [ "$KT_PASS" -gt 0 ]
	exit $?
}
