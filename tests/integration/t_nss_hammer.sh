#!/bin/bash
# 4 reader processes hammer lookups through glibc (getpwnam_r, getpwuid_r,
# getgrgid_r, getgrnam_r, getgrouplist, getpwent) while a writer commits
# 1000 times (a delta each time, a compaction every 100th): zero errors,
# zero torn or wrong answers (nss_helper.c read-loop says what it checks).
. "$(dirname "$0")/nss_lib.bash"

nss_install "files k8s"
CFG=$TEST_TMP/config.yaml
nss_config "$CFG"
for i in $(seq 0 49); do
	nss_helper login "$CFG" "stable$i" tokenreview:uid:stable "stable$i" k8s-all:t 2>/dev/null ||
		fail "login stable$i"
done
nss_helper login "$CFG" flip tokenreview:uid:flip flip k8s-even:t || fail "login flip"
# anchor keeps both groups alive whichever one flip is in
nss_helper synced "$CFG" anchor k8s-even:t k8s-odd:t || fail "synced anchor"

STOP=$TEST_TMP/stop
pids=()
for r in 1 2 3 4; do
	nss_helper read-loop "$STOP" >"$TEST_TMP/reader$r.out" 2>&1 &
	pids+=($!)
done
sleep 0.5
start=$(date +%s.%N)
nss_helper write-loop "$CFG" 1000 >"$TEST_TMP/writer.out" 2>&1
wrc=$?
end=$(date +%s.%N)
touch "$STOP"
fails=0
for r in 1 2 3 4; do
	wait "${pids[$((r - 1))]}" || fails=$((fails + 1))
	echo "reader $r: $(tail -n 1 "$TEST_TMP/reader$r.out")"
done
cat "$TEST_TMP/writer.out"
[ "$wrc" = 0 ] || fail "the writer failed"
assert_eq "$(tail -n 1 "$TEST_TMP/writer.out")" "commits 1000" "1000 commits"
if [ "$fails" != 0 ]; then
	head -n 20 "$TEST_TMP"/reader*.out >&2
	fail "$fails reader(s) saw errors"
fi
total=$(cat "$TEST_TMP"/reader*.out | awk '/^lookups/ {n += $2; e += $4} END {print n, e}')
assert_eq "${total#* }" 0 "zero errors and torn answers in ${total% *} lookups"
[ "${total% *}" -gt 10000 ] || fail "the readers did too little to mean anything"
echo "writer: 1000 commits in $(echo "$end - $start" | bc) s"
echo "t_nss_hammer: all passed"
