#!/bin/sh
# Differential test of the CEL vectors against @bufbuild/cel (an independent
# CEL evaluator, on Debian's Node).  The package is installed once with npm
# into $CEL_ORACLE_CACHE (default /var/cache/pam-k8s-test/cel-oracle); no
# npm or no network there is a failure, not a skip.  Prints one summary line.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=${CEL_ORACLE_CACHE:-/var/cache/pam-k8s-test/cel-oracle}
version=0.6.1
if [ ! -f "$cache/node_modules/@bufbuild/cel/package.json" ] ||
   ! grep -q "\"version\": \"$version\"" "$cache/node_modules/@bufbuild/cel/package.json"; then
	mkdir -p "$cache"
	(cd "$cache" && npm install --no-audit --no-fund --silent "@bufbuild/cel@$version") ||
		{ echo "cel-oracle: FAILED: npm install @bufbuild/cel@$version" >&2; exit 1; }
fi
CEL_ORACLE_MODULES=$cache/node_modules exec python3 "$here/oracle.py"
