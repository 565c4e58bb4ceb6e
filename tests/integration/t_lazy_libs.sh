#!/bin/bash
# The helper and the CLI load three libraries on first use (dlopen, dl.h),
# so the packages' shlibs dependencies cannot see them: libssl.so.3 on the
# first HTTPS request (common/http.c), libhogweed.so.6 (Nettle) on the first
# JWKS parse (common/nettle_lazy.c), libcrypto.so.3 for an x5c header
# (common/x509lazy.c).  A host without one must get a clear "unavailable"
# (exit 3, the library and its package named), never a crash, and the JWKS
# cache is not taken for corrupt.  Each library is hidden by a bind mount
# of /dev/null over it in a private mount namespace.  (debian/control
# names them in k8s-auth's Depends; t_guide.sh installs the packages on a
# root that has none of them before.)
set -u
cd "$(dirname "$0")/../.." || exit 2
if [ -z "${T_LAZYLIBS_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "skip: needs root (mount namespace)"; exit 77; }
	T_LAZYLIBS_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
. tests/lib.sh
BIN=$REPO/${K8S_BUILD:-build}/k8s-auth
[ -x "$BIN" ] || fail "build/k8s-auth not built"
command -v jq >/dev/null || skip "jq not installed"
fc_start
cat >"$TEST_TMP/config.yaml" <<EOC
tokenReview:
  kubeconfig: $FC_DIR/kubeconfig
  audiences: ["host-login:test"]
accounts:
  users:
  - match: '^system:serviceaccount:([a-z0-9-]+):([a-z0-9.-]+)\$'
    local: '\1.\2'
  - match: '^([a-z][a-z0-9_-]*)@example\.com\$'
    local: '\1'
  declared: [alice]
store: $TEST_TMP/store
cacheDir: $TEST_TMP/cache
runDir: $TEST_TMP/run
EOC
cat >>"$TEST_TMP/config.yaml" <<EOC
jwt:
- issuer:
    url: $FC_IDP
    audiences: ["k8s-auth"]
    certificateAuthority: |
$(sed 's/^/      /' "$FC_CA")
  claimMappings:
    username: {claim: email, prefix: ""}
EOC
# The same issuer alone (a token the jwt path refuses would go on to the
# TokenReview above)
sed '/^tokenReview:/,/^  audiences:/d' "$TEST_TMP/config.yaml" >"$TEST_TMP/jwtonly.yaml"
# Every file ldconfig knows for SONAME under /dev/null (this namespace
# only); false when there is none.
hide_lib() {
	local lib n=0
	for lib in $(ldconfig -p | awk -v so="$1" '$1 == so { print $NF }'); do
		mount --bind /dev/null "$(readlink -f "$lib")" || fail "hiding $lib"
		n=$((n + 1))
	done
	[ "$n" -gt 0 ]
}
unhide_lib() {
	local lib
	for lib in $(ldconfig -p | awk -v so="$1" '$1 == so { print $NF }'); do
		umount "$(readlink -f "$lib")" || fail "unhiding $lib"
	done
}
# unavailable_without WHAT LIB PACKAGE CONFIG TOKEN: k8s-auth check, with
# LIB hidden, exits 3 (unavailable, not a crash), refuses, and names the
# library and its Debian package
unavailable_without() {
	local out rc
	out=$("$BIN" check --config "$4" <<<"$5" 2>"$TEST_TMP/err")
	rc=$?
	assert_eq "$rc" 3 "$1 without $2: exit 3 (unavailable), not a crash"
	assert_eq "$(jq -r .authenticated <<<"$out")" false "$1 without $2: refused"
	assert_contains "$(jq -r .detail <<<"$out")" "cannot load $2 (Debian package $3)" \
		"$1 without $2: the detail names the library and its package"
}
tok=$(fc_mint --sa ops/alice --aud host-login:test --ttl 600) || fail "mint"
idtok=$(fc_idp_mint --alg RS256) || fail "idp mint"
out=$("$BIN" check --config "$TEST_TMP/config.yaml" <<<"$tok" 2>/dev/null)
assert_eq "$(jq -r .authenticated <<<"$out")" true "TokenReview: accepted"
out=$("$BIN" check --config "$TEST_TMP/config.yaml" <<<"$idtok" 2>/dev/null)
assert_eq "$(jq -r .authenticated <<<"$out")" true "with Nettle: the ID token accepted (and its JWKS cached)"

hide_lib libhogweed.so.6 || fail "no libhogweed.so.6 in ldconfig -p"
unavailable_without "the ID token" libhogweed.so.6 libhogweed6 "$TEST_TMP/config.yaml" "$idtok"
# The network path needs no Nettle (libcurl did, through librtmp and GnuTLS)
out=$("$BIN" check --config "$TEST_TMP/config.yaml" <<<"$tok" 2>/dev/null)
assert_eq "$(jq -r .authenticated <<<"$out")" true "without libhogweed.so.6: a TokenReview still accepted"
assert_eq "$(find "$TEST_TMP/cache" -name '*.json' | wc -l)" 1 "the JWKS cache is kept: the host, not the file, was at fault"
# A header jwk (an EC one) is checked with Nettle too (go-jose parses it): the same
# answer, not "malformed token" (a verdict on the token for the host's fault).
ecjwk=$("$PY" -c '
import base64, json
from cryptography.hazmat.primitives.asymmetric import ec
n = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
b = lambda v: base64.urlsafe_b64encode(v.to_bytes(32, "big")).rstrip(b"=").decode()
print(json.dumps({"kty": "EC", "crv": "P-256", "x": b(n.x), "y": b(n.y)}))') || fail "EC key"
jwktok=$(fc_idp_mint --alg RS256 --header-extra "{\"jwk\": $ecjwk}") ||
	fail "idp mint with a jwk header"
unavailable_without "a jwk header" libhogweed.so.6 libhogweed6 "$TEST_TMP/jwtonly.yaml" "$jwktok"
unhide_lib libhogweed.so.6
out=$("$BIN" check --config "$TEST_TMP/jwtonly.yaml" <<<"$jwktok" 2>/dev/null)
assert_eq "$(jq -r .authenticated <<<"$out")" true "with Nettle: the token with a jwk header accepted"

# An x5c header's certificates are parsed by a libcrypto dlopen()ed for
# that token (common/x509lazy.c): without libcrypto.so.3, the same
# "unavailable" with the library named.  (The JWKS is in the cache: no
# HTTPS, which needs libcrypto, is made.)
der=$(sed '/-----/d' "$FC_CA" | tr -d '\n')
x5ctok=$(fc_idp_mint --alg RS256 --header-extra "{\"x5c\": [\"$der\"]}") || fail "idp mint with an x5c header"
out=$("$BIN" check --config "$TEST_TMP/jwtonly.yaml" <<<"$x5ctok" 2>/dev/null)
assert_eq "$(jq -r .authenticated <<<"$out")" true "with libcrypto: the token with an x5c header accepted"
hide_lib libcrypto.so.3 || fail "no libcrypto.so.3 in ldconfig -p"
unavailable_without "an x5c header" libcrypto.so.3 libssl3 "$TEST_TMP/jwtonly.yaml" "$x5ctok"
unhide_lib libcrypto.so.3

hide_lib libssl.so.3 || fail "no libssl.so.3 in ldconfig -p"
unavailable_without "a TokenReview" libssl.so.3 libssl3 "$TEST_TMP/config.yaml" "$tok"
