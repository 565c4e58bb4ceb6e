#!/bin/bash
# `k8s-auth sync --watch` under valgrind through t_kube_sync_recovery.sh's
# sequence (changes, cut connections, 410s, 429s, a list over 16 MiB,
# SIGTERM): memcheck (no error, no leak of any kind but what
# OpenSSL's process-wide state keeps), then helgrind (the watch threads and
# the batch loop share the collections).  Each tool's exit code is the
# watcher's; the test checks it is 0 (--error-exitcode), and its log is
# kept in build/logs/valgrind-watch-TOOL.log.
#   tests/valgrind-watch.sh [memcheck|helgrind]...   (default: both)
set -u
cd "$(dirname "$0")/.." || exit 2
command -v valgrind >/dev/null || { echo "valgrind not installed"; exit 77; }
logdir=${K8S_LOGDIR:-build/logs}
mkdir -p "$logdir"
tools=("$@")
[ ${#tools[@]} -gt 0 ] || tools=(memcheck helgrind)
rc=0
for tool in "${tools[@]}"; do
	log=$PWD/$logdir/valgrind-watch-$tool.log
	rm -f "$log".*
	# shellcheck disable=SC2054 # valgrind's lists are comma-separated
	case $tool in
	memcheck) opts=(--tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect,possible
		--errors-for-leak-kinds=definite,indirect,possible --track-fds=no) ;;
	helgrind) opts=(--tool=helgrind --history-level=approx) ;;
	drd) opts=(--tool=drd) ;;
	*) echo "unknown tool $tool"; exit 2 ;;
	esac
	K8S_WATCH_WRAP="valgrind ${opts[*]} --error-exitcode=99 --suppressions=$PWD/tests/valgrind-watch.supp --log-file=$log.%p" \
		K8S_SLACK=${K8S_SLACK:-6} K8S_LOGDIR=$logdir/$tool tests/run-integration.sh tests/integration/t_kube_sync_recovery.sh
	r=$?
	grep -h "ERROR SUMMARY" "$log".*
	[ "$r" = 0 ] || rc=1
done
exit $rc
