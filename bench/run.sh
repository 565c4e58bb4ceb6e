#!/bin/sh
# `make bench`: run every bench/b_*.sh; each prints its own figures.
set -u
cd "$(dirname "$0")/.." || exit 2
for b in bench/b_*.sh; do
	[ -f "$b" ] || continue
	echo "=== $(basename "$b" .sh)"
	sh "$b" || echo "bench $(basename "$b") failed"
done
