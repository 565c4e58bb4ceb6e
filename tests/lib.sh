# shellcheck shell=bash
# Small library for tests/integration/t_*.sh.  Source it from the test's main
# shell (not from a $(...) subshell):
#
#   . "$(dirname "$0")/../lib.sh"
#   fc_start                  # a fresh fake cluster (tests/fakecluster)
#   tok=$(fc_mint --sa ops/alice --aud host-login:test)
#
# Generic helpers
#   REPO              the repository root
#   TEST_TMP          a private temp dir (mktemp -d), removed at exit
#   fail MSG          print "FAIL: MSG" and exit 1
#   skip MSG          print "skip: MSG" and exit 77 (run-integration.sh: skipped)
#   ok MSG            print "ok - MSG"
#   assert_eq GOT WANT MSG          fail unless GOT = WANT
#   assert_contains HAYSTACK NEEDLE MSG   fail unless NEEDLE is in HAYSTACK
#   on_exit CMD       run CMD (a string, eval'd) at exit, before the fake
#                     cluster stops; do not replace the EXIT trap yourself
#   PY                Debian's python3 (the one with jwcrypto/cryptography)
#
# Fake cluster (tests/fakecluster/README.md has the whole contract)
#   fc_start [SERVE ARGS]   init a fresh cluster dir, start the server in the
#                     background, wait until it answers (<= 10 s).  Exports
#                     FC_DIR (the cluster dir), FC_URL (https://127.0.0.1:PORT,
#                     also the service-account issuer), FC_CA (CA file),
#                     FC_IDP (FC_URL/idp, the OIDC issuer), FC_PID, and
#                     FC_HDR_REVIEWER, FC_HDR_FORBIDDEN, FC_HDR_ADMIN: files
#                     holding an "Authorization: Bearer ..." line for
#                     `curl -H @FILE` (keeps the token out of argv).
#                     Kubeconfigs: $FC_DIR/kubeconfig{,-tokenfile,-cert,-forbidden,-admin}.
#                     The server dies at exit, and with this shell if it is killed.
#   check_begin       the preamble of the k8s-auth check tests: BIN is the
#                     built k8s-auth (K8S_BUILD, default build/; fail when it
#                     is not built), then fc_start
#   fc_stop           stop the server (FC_DIR stays until exit)
#   fc_mint ARGS      fakecluster.py mint --dir $FC_DIR ARGS: prints a token
#   fc_idp_mint ARGS  fakecluster.py idp-mint --dir $FC_DIR ARGS: prints a token
#   fc ARGS           fakecluster.py ARGS --dir $FC_DIR (e.g. fc sa delete ops/alice)
#   fc_fault JSON     every following request gets this fault (see README)
#   fc_fault_clear    back to normal
#   fc_requests [PATH]  requests the server has seen for PATH (exact path),
#                     or in total without PATH; `fc_requests _connections`
#                     counts TCP connections (even those whose TLS failed)
#   fc_review TOKEN [AUD...]  POST a TokenReview as the reviewer with curl,
#                     print the response body (for tests of the fake itself)

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${K8S_PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3
FC_PY=$REPO/tests/fakecluster/fakecluster.py
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/k8stest.XXXXXX") || exit 2
_LIB_EXIT_CMDS=()
FC_PID=

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

skip() {
	echo "skip: $*"
	exit 77
}

ok() {
	echo "ok - $*"
}

assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-values differ}: got '$1', want '$2'"
	ok "${3:-equal}"
}

assert_contains() {
	case "$1" in
	*"$2"*) ok "${3:-contains $2}" ;;
	*) fail "${3:-missing text}: '$2' not in '$(printf '%.300s' "$1")'" ;;
	esac
}

on_exit() {
	_LIB_EXIT_CMDS+=("$1")
}

# No `exit` in here: bash keeps the script's exit status through an EXIT
# trap, and a trap that others extend (tests/kube/kubelib.sh appends
# "; kube_stop") must run to its end.
_lib_cleanup() {
	local c
	for c in "${_LIB_EXIT_CMDS[@]}"; do
		eval "$c" || true
	done
	fc_stop
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "kept $TEST_TMP" >&2
	else
		rm -rf "$TEST_TMP"
	fi
}
trap _lib_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fc() {
	"$PY" "$FC_PY" "$@" --dir "$FC_DIR"
}

fc_start() {
	local i
	FC_DIR=$(mktemp -d "$TEST_TMP/fc.XXXXXX") || fail "fc_start: mktemp"
	"$PY" "$FC_PY" init --dir "$FC_DIR" || fail "fc_start: init failed"
	"$PY" "$FC_PY" serve --dir "$FC_DIR" --die-with-parent --lifetime 3600 "$@" \
		>>"$FC_DIR/serve.out" 2>&1 &
	FC_PID=$!
	for ((i = 0; i < 200; i++)); do
		if [ -s "$FC_DIR/url" ]; then
			FC_URL=$(cat "$FC_DIR/url")
			FC_CA=$FC_DIR/ca.crt
			FC_IDP=$FC_URL/idp
			_fc_headers
			export FC_DIR FC_URL FC_CA FC_IDP FC_PID FC_HDR_REVIEWER FC_HDR_FORBIDDEN FC_HDR_ADMIN
			return 0
		fi
		kill -0 "$FC_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$FC_DIR/serve.out" >&2
	fail "fc_start: server not ready"
}

check_begin() {
	BIN=$REPO/${K8S_BUILD:-build}/k8s-auth
	[ -x "$BIN" ] || fail "build/k8s-auth not built"
	fc_start
}

_fc_headers() {
	local who
	for who in reviewer forbidden admin; do
		(umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$FC_DIR/$who-token")" >"$FC_DIR/$who.hdr")
	done
	FC_HDR_REVIEWER=$FC_DIR/reviewer.hdr
	FC_HDR_FORBIDDEN=$FC_DIR/forbidden.hdr
	FC_HDR_ADMIN=$FC_DIR/admin.hdr
}

fc_stop() {
	local i
	[ -n "$FC_PID" ] || return 0
	kill -TERM "$FC_PID" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$FC_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$FC_PID" 2>/dev/null
	wait "$FC_PID" 2>/dev/null
	FC_PID=
	return 0
}

fc_mint() {
	"$PY" "$FC_PY" mint --dir "$FC_DIR" "$@"
}

fc_idp_mint() {
	"$PY" "$FC_PY" idp-mint --dir "$FC_DIR" "$@"
}

fc_fault() {
	printf '%s\n' "$1" >"$FC_DIR/fault.json.tmp" && mv -f "$FC_DIR/fault.json.tmp" "$FC_DIR/fault.json"
}

fc_fault_clear() {
	rm -f "$FC_DIR/fault.json"
}

fc_requests() {
	"$PY" - "$FC_DIR/requests.json" "${1-}" <<'EOF'
import json, sys
try:
    counts = json.load(open(sys.argv[1]))
except FileNotFoundError:
    counts = {}
print(counts.get(sys.argv[2], 0) if sys.argv[2] else
      sum(v for k, v in counts.items() if k.startswith("/")))
EOF
}

fc_review() {
	local token=$1 auds
	shift
	auds=$("$PY" -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@")
	printf '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"%s","audiences":%s}}' \
		"$token" "$auds" |
		curl -sS -m 10 --cacert "$FC_CA" -H @"$FC_HDR_REVIEWER" \
			-H 'Content-Type: application/json' --data-binary @- "$FC_URL/apis/authentication.k8s.io/v1/tokenreviews"
}

# check_token TOKEN WANT [ARGS...]: `k8s-auth check --config $cfg ARGS`
# with TOKEN on stdin; OUT (stdout), ERR (stderr), RC.  Fails the test when
# the exit code is not WANT, the output is not one JSON object, or the
# token appears anywhere in what check printed.
check_token() {
	local tok=$1 want=$2
	shift 2
	OUT=$("$BIN" check --config "$cfg" "$@" <<<"$tok" 2>"$TEST_TMP/err")
	RC=$?
	ERR=$(cat "$TEST_TMP/err")
	if [ -n "$tok" ]; then
		case "$OUT$ERR" in *"$tok"*) fail "the token appears in check's output" ;; esac
	fi
	echo "$OUT" | jq -e . >/dev/null || fail "check did not print one JSON object: $OUT $ERR"
	[ "$RC" = "$want" ] || fail "exit $RC, want $want: $OUT $ERR"
}
# field JQ: a field of check's last output.
field() { echo "$OUT" | jq -r "$1"; }
