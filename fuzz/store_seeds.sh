#!/bin/bash
# Regenerate fuzz/corpus/fuzz_store: real stores written by the store's own
# writer (through tests/integration/nss_helper.c and k8s-auth), each seed
# "u32 base length, base, delta" (and a -resealed twin with the length's
# top bit set, see fuzz_store.c).  Usage: fuzz/store_seeds.sh [BUILD_DIR]
set -eu
cd "$(dirname "$0")/.."
B=$(cd "${1:-build}" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
out=fuzz/corpus/fuzz_store
mkdir -p "$out"
cc -std=gnu11 -O1 -D_GNU_SOURCE -Icommon $(pkg-config --cflags jansson) -o "$T/h" \
	tests/integration/nss_helper.c "$B/libk8scommon.a" $(pkg-config --libs jansson yaml-0.1 libssl libcrypto)
cat >"$T/c.yaml" <<YAML
accounts:
  uidRange: [200000, 999999]
  gidRange: [200000, 999999]
  declared: [dana, {name: erin, uid: 250000}]
  groups:
  - match: '^oidc:ops\$'
    local: k8s-ops
store: $T/s
YAML
seed() {
	python3 - "$T/s/identities.db" "$T/s/identities.delta" "$out/$1" <<'PY'
import struct, sys
base = open(sys.argv[1], "rb").read()
try:
    delta = open(sys.argv[2], "rb").read()
except FileNotFoundError:
    delta = b""
open(sys.argv[3], "wb").write(struct.pack("<I", len(base)) + base + delta)
# the same with the target's "re-seal checksums" bit
open(sys.argv[3] + "-resealed", "wb").write(struct.pack("<I", len(base) | 0x80000000) + base + delta)
PY
}
"$B/k8s-auth" --config "$T/c.yaml" sync >/dev/null
seed declared
"$T/h" login "$T/c.yaml" alice tokenreview:uid:a alice@example.com k8s-web:t k8s-ops sudo 2>/dev/null
seed login
"$T/h" login "$T/c.yaml" bob tokenreview:uid:b 'bob:x,y' k8s-web:t 2>/dev/null
"$B/k8s-auth" --config "$T/c.yaml" forget dana >/dev/null
"$B/k8s-auth" --config "$T/c.yaml" forget alice >/dev/null
"$T/h" synced "$T/c.yaml" sam k8s-ops 2>/dev/null
seed delta-tombstones
ls -la "$out"
