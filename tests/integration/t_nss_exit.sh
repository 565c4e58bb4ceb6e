#!/bin/bash
# A threaded program that calls exit() while another of its threads is in
# a lookup through glibc (getpwnam_r, getgrnam_r, getgrouplist: libnss_k8s
# every time) must exit cleanly: the module's exit-time code must not pull
# the store out from under that thread.  RUNS runs (default 300) of
# nss_helper exit-race; every one must exit 0 (a crash is SIGSEGV/SIGBUS).
. "$(dirname "$0")/nss_lib.bash"

RUNS=${RUNS:-300}
nss_install "files k8s"
CFG=$TEST_TMP/config.yaml
nss_config "$CFG"
for i in $(seq 0 19); do
	nss_helper login "$CFG" "user$i" "tokenreview:uid:u$i" "user$i" k8s-all:t k8s-ops 2>/dev/null ||
		fail "login user$i"
done
nss_helper exit-race user7 k8s-all || fail "exit-race does not even run once (rc $?)"

crashes=0 other=0 codes=""
start=$(date +%s)
for i in $(seq 1 "$RUNS"); do
	"$TEST_TMP/nss_helper" exit-race user7 k8s-all 2>/dev/null
	rc=$?
	case $rc in
	0) ;;
	13[0-9] | 14[0-9]) crashes=$((crashes + 1)); codes="$codes $rc" ;;
	*) other=$((other + 1)); codes="$codes $rc" ;;
	esac
	[ $(($(date +%s) - start)) -lt 120 ] || fail "$i runs took over 120 s"
done
echo "$RUNS runs in $(($(date +%s) - start)) s: $crashes killed by a signal, $other other failures (exit codes:$codes)"
assert_eq "$crashes" 0 "no run crashes at exit"
assert_eq "$other" 0 "no run fails otherwise"
echo "t_nss_exit: all passed"
