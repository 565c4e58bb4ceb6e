#!/bin/sh
# Run every fuzz target for $1 seconds (default 30) from its seed corpus
# fuzz/corpus/<name>/ (a scratch copy, so the tree is not modified).
set -u
secs=${1:-30}
cd "$(dirname "$0")/.." || exit 2
fail=0; pass=0
for t in build-fuzz/fuzz_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	work=$(mktemp -d)
	[ ! -d "fuzz/corpus/$name" ] || cp -r "fuzz/corpus/$name/." "$work/"
	if "$t" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=0 "$work" > "build-fuzz/$name.log" 2>&1; then
		pass=$((pass + 1)); echo "PASS $name ($(grep -c . "build-fuzz/$name.log") log lines)"
	else
		fail=$((fail + 1)); echo "FAIL $name"; tail -n 40 "build-fuzz/$name.log"
	fi
	rm -rf "$work"
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
