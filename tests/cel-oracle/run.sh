#!/bin/sh
# Differential test of the CEL vectors against @bufbuild/cel, an independent
# CEL evaluator, on the machine's Node (Debian 12: nodejs 18, npm 9; installed
# by tests/install-deps.sh).  A tier of `make check`.
#
# The oracle's packages are installed once per machine with `npm ci` from
# npm/package-lock.json (exact versions and sha512 hashes, no install
# scripts) into $CEL_ORACLE_CACHE (default /var/cache/pam-k8s-test/cel-oracle),
# again only when the lock file changes.  No node, no npm or a failed install
# is a failure, not a skip.  oracle.py compares every vector
# (allow.txt: the known differences, each with its reason); this script also
# checks that it compared at least as many vectors as tests/data/cel holds.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
data=${CEL_ORACLE_DATA:-$here/../data/cel}
cache=${CEL_ORACLE_CACHE:-/var/cache/pam-k8s-test/cel-oracle}
lock=$here/npm/package-lock.json

fail() { echo "cel-oracle: FAILED: $*" >&2; exit 1; }

command -v node >/dev/null || fail "no node (apt-get install nodejs npm; tests/install-deps.sh)"
command -v npm >/dev/null || fail "no npm (apt-get install npm; tests/install-deps.sh)"
key=$(sha256sum "$lock" | cut -c1-64)

mkdir -p "$(dirname "$cache")" || fail "cannot create $(dirname "$cache")"
exec 9>"$cache.lock"
flock 9
if [ "$(cat "$cache/installed" 2>/dev/null)" != "$key" ]; then
	echo "cel-oracle: installing the oracle's npm packages into $cache (once per lock file)"
	tmp=$cache.new.$$
	rm -rf "$cache".new.*  # an interrupted install (we hold the lock)
	mkdir -p "$tmp"
	cp "$here/npm/package.json" "$lock" "$tmp/"
	start=$(date +%s)
	# npm's download cache and logs beside the cache, kept only on failure
	(cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --no-update-notifier \
		--cache "$cache.npm" --loglevel=error) ||
		{ rm -rf "$tmp"; fail "npm ci (the npm registry unreachable? npm's log: $cache.npm/_logs)"; }
	rm -rf "$cache.npm"
	echo "$key" >"$tmp/installed"
	if ! { rm -rf "$cache" && mv "$tmp" "$cache"; }; then fail "caching $cache"; fi
	echo "cel-oracle: installed in $(( $(date +%s) - start )) s"
fi
flock -u 9
exec 9>&-

# Vectors in the files, counted here independently of oracle.py.
want=$(cat "$data"/*.txt | awk '$0 != "" && !/^#/ { n++ } END { print n + 0 }')
[ "$want" -gt 0 ] || fail "no vectors in $data"
out=$(CEL_ORACLE_MODULES=$cache/node_modules CEL_ORACLE_DATA=$data python3 "$here/oracle.py") && rc=0 || rc=$?
printf '%s\n' "$out"
got=$(printf '%s\n' "$out" | sed -n 's/^cel-oracle: \([0-9][0-9]*\) vectors compared:.*/\1/p')
[ "$rc" = 0 ] || fail "oracle.py exited with $rc"
[ -n "$got" ] || fail "no summary line from oracle.py"
[ "$got" -ge "$want" ] || fail "$got vectors compared, $want in $data"
echo "cel-oracle: node $(node --version), @bufbuild/cel $(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$cache/node_modules/@bufbuild/cel/package.json")"
