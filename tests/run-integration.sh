#!/bin/bash
# Run the integration tests tests/integration/t_*.sh (or those named).
# Each test exits 0 pass, 77 skip, anything else fail.  A skip is reported
# as a skip, never as a pass; in CI (CI=true) a skip is a failure.
set -u
cd "$(dirname "$0")/.." || exit 2
pass=0; fail=0; skip=0; failed=""
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(tests/integration/t_*.sh)
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	logdir=${K8S_LOGDIR:-build/logs}
	log=$logdir/$name.log
	mkdir -p "$logdir"
	start=$(date +%s)
	bash "$t" > "$log" 2>&1
	rc=$?
	dur=$(( $(date +%s) - start ))
	if [ $rc = 0 ]; then
		pass=$((pass + 1)); echo "PASS $name (${dur}s)"
	elif [ $rc = 77 ] && [ "${CI:-}" != true ]; then
		skip=$((skip + 1)); echo "SKIP $name: $(tail -n 1 "$log")"
	else
		fail=$((fail + 1)); failed="$failed $name"; echo "FAIL $name (rc=$rc, ${dur}s); last lines of $log:"
		tail -n 30 "$log" | sed 's/^/    /'
	fi
done
echo "integration: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
