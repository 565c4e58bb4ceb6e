#!/bin/bash
# Everything `make check` runs, after the normal build.  Prints each tier's
# time, and ends with one line "check: N passed, N failed" counting the tiers.
set -u
cd "$(dirname "$0")/.." || exit 2
pass=0; fail=0; failed=""; times=""
run() {
	local name=$1 start rc
	shift
	echo "=== $name"
	start=$(date +%s)
	"$@"
	rc=$?
	times="$times $name=$(( $(date +%s) - start ))s"
	echo "=== $name: $(( $(date +%s) - start )) s"
	if [ "$rc" = 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed $name"; fi
}
run unit tests/run-unit.sh build
# the CEL vectors against an independent evaluator (@bufbuild/cel on Node)
run cel-oracle tests/cel-oracle/run.sh
run integration tests/run-integration.sh
run asan make --no-print-directory asan
# The in-process integration tests again, on the ASan+UBSan build: the CLI
# (leak check at exit), pam_k8s.so loaded by pamtester and sshd, and the
# helper it starts (built with the sanitizers too: a leak or a sanitizer
# report makes it exit non-zero, which the module counts as a failure).
# Setuid programs (su, sudo) run only on the normal build: ld.so drops the
# preload the sanitizer runtime needs there.
run asan-integration env K8S_BUILD=build-asan PK_BUILD=build-asan NSS_BUILD=build \
	K8S_LOGDIR=build-asan/logs tests/run-integration.sh \
	tests/integration/t_check_tokenreview.sh tests/integration/t_check_jwt.sh \
	tests/integration/t_pam_core.sh tests/integration/t_pam_leaks.sh tests/integration/t_sshd_login.sh \
	tests/integration/t_kube_sync_recovery.sh
[ ! -x tests/valgrind-nss.sh ] || run valgrind-nss tests/valgrind-nss.sh
# a smoke run of every fuzz target (make fuzz runs them longer)
[ ! -f fuzz/fuzz.mk ] || run fuzz make --no-print-directory fuzz FUZZ_SECS=10
echo "check: tier times:$times"
[ -z "$failed" ] || echo "check: FAILED:$failed"
echo "check: $pass passed, $fail failed"
[ "$fail" = 0 ]
