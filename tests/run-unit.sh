#!/bin/sh
# Run every cmocka unit test binary in $1 (build dir).  Prints one summary
# line "unit[-asan]: N passed, N failed".
set -u
O=${1:-build}
label=unit
[ "$O" = build ] || label="unit-$(basename "$O")"
pass=0; fail=0; failed=""
export K8S_TEST_DATA="$(cd "$(dirname "$0")" && pwd)/data"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in "$O"/tests/test_*; do
	[ -x "$t" ] || continue
	if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed $(basename "$t")"; fi
done
[ -z "$failed" ] || echo "$label: FAILED:$failed"
echo "$label: $pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
