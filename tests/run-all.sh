#!/bin/bash
# Everything `make check` runs, after the normal build.  Ends with one line
# "check: N passed, N failed" counting the suites.
set -u
cd "$(dirname "$0")/.." || exit 2
pass=0; fail=0; failed=""
run() {
	local name=$1; shift
	echo "=== $name"
	if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed $name"; fi
}
run unit tests/run-unit.sh build
run integration tests/run-integration.sh
run asan make --no-print-directory asan
[ ! -x tests/valgrind-nss.sh ] || run valgrind-nss tests/valgrind-nss.sh
[ ! -f fuzz/fuzz.mk ] || run fuzz make --no-print-directory fuzz
[ -z "$failed" ] || echo "check: FAILED:$failed"
echo "check: $pass passed, $fail failed"
[ "$fail" = 0 ]
