#!/bin/bash
# libcurl is loaded on first network use (dlopen, common/http.c), so the
# packages' shlibs dependencies cannot see it: a host without libcurl.so.4
# must get a clear "unavailable" (exit 3, the library named), never a
# crash.  The same for Nettle (libhogweed.so.6, loaded by the first JWKS
# parse, common/nettle_lazy.c): a JWT is refused with the library named,
# and the JWKS cache is not taken for corrupt.  Here libcurl.so.4 is hidden by a bind mount of /dev/null over it
# in a private mount namespace, and k8s-auth check asks a TokenReview.
# (debian/control names libcurl4 in k8s-auth's Depends; t_guide.sh installs
# the packages on a root that has no libcurl before.)
set -u
cd "$(dirname "$0")/../.." || exit 2
if [ -z "${T_NOCURL_NS:-}" ]; then
	[ "$(id -u)" = 0 ] || { echo "skip: needs root (mount namespace)"; exit 77; }
	T_NOCURL_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
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
# TokenReview above, which needs libcurl)
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
tok=$(fc_mint --sa ops/alice --aud host-login:test --ttl 600) || fail "mint"
idtok=$(fc_idp_mint --alg RS256) || fail "idp mint"
out=$("$BIN" check --config "$TEST_TMP/config.yaml" <<<"$tok" 2>/dev/null)
assert_eq "$(jq -r .authenticated <<<"$out")" true "with libcurl: accepted"
out=$("$BIN" check --config "$TEST_TMP/config.yaml" <<<"$idtok" 2>/dev/null)
assert_eq "$(jq -r .authenticated <<<"$out")" true "with Nettle: the ID token accepted (and its JWKS cached)"

hide_lib libhogweed.so.6 || fail "no libhogweed.so.6 in ldconfig -p"
out=$("$BIN" check --config "$TEST_TMP/config.yaml" <<<"$idtok" 2>"$TEST_TMP/err")
rc=$?
assert_eq "$rc" 3 "without libhogweed.so.6: exit 3 (unavailable), not a crash"
assert_eq "$(jq -r .authenticated <<<"$out")" false "the ID token refused"
assert_contains "$(jq -r .detail <<<"$out")" "cannot load libhogweed.so.6 (Debian package libhogweed6)" \
	"the detail names the library and its package"
# (Debian's libcurl needs libhogweed too, through librtmp: no TokenReview here)
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
out=$("$BIN" check --config "$TEST_TMP/jwtonly.yaml" <<<"$jwktok" 2>"$TEST_TMP/err")
rc=$?
assert_eq "$rc" 3 "a jwk header without libhogweed.so.6: exit 3 (unavailable)"
assert_contains "$(jq -r .detail <<<"$out")" "cannot load libhogweed.so.6 (Debian package libhogweed6)" \
	"a jwk header without libhogweed.so.6: the detail names the library"
unhide_lib libhogweed.so.6
out=$("$BIN" check --config "$TEST_TMP/jwtonly.yaml" <<<"$jwktok" 2>/dev/null)
assert_eq "$(jq -r .authenticated <<<"$out")" true "with Nettle: the token with a jwk header accepted"

# An x5c header's certificates are parsed by a libcrypto dlopen()ed for
# that token (common/x509lazy.c): without libcrypto.so.3, the same
# "unavailable" with the library named.  (The JWKS is in the cache: no
# libcurl, which needs libcrypto, is loaded.)
der=$(sed '/-----/d' "$FC_CA" | tr -d '\n')
x5ctok=$(fc_idp_mint --alg RS256 --header-extra "{\"x5c\": [\"$der\"]}") || fail "idp mint with an x5c header"
out=$("$BIN" check --config "$TEST_TMP/jwtonly.yaml" <<<"$x5ctok" 2>/dev/null)
assert_eq "$(jq -r .authenticated <<<"$out")" true "with libcrypto: the token with an x5c header accepted"
hide_lib libcrypto.so.3 || fail "no libcrypto.so.3 in ldconfig -p"
out=$("$BIN" check --config "$TEST_TMP/jwtonly.yaml" <<<"$x5ctok" 2>"$TEST_TMP/err")
rc=$?
assert_eq "$rc" 3 "an x5c header without libcrypto.so.3: exit 3 (unavailable), not a crash"
assert_eq "$(jq -r .authenticated <<<"$out")" false "an x5c header without libcrypto.so.3: refused"
assert_contains "$(jq -r .detail <<<"$out")" "cannot load libcrypto.so.3 (Debian package libssl3)" \
	"an x5c header without libcrypto.so.3: the detail names the library and its package"
unhide_lib libcrypto.so.3

hide_lib libcurl.so.4 || skip "no libcurl.so.4 in ldconfig -p"
out=$("$BIN" check --config "$TEST_TMP/config.yaml" <<<"$tok" 2>"$TEST_TMP/err")
rc=$?
assert_eq "$rc" 3 "without libcurl.so.4: exit 3 (unavailable), not a crash"
assert_eq "$(jq -r .authenticated <<<"$out")" false "refused"
assert_contains "$(jq -r .detail <<<"$out")" "cannot load libcurl.so.4 (Debian package libcurl4)" "the detail names the library and its package"
